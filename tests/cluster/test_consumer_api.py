"""What consumers and admin clients ask of the cluster: fetch, list offsets, delete records."""

from __future__ import annotations

from kstream_nb.errors import ErrorCode
from kstream_nb.log import decode_records
from tests.cluster.conftest import MakeCluster

TOPIC = "orders"


def test_fetch_reads_below_the_high_watermark_and_reports_offsets(
    make_cluster: MakeCluster,
) -> None:
    cluster = make_cluster()
    cluster.create_topic(TOPIC, partitions=1, replication_factor=3)
    for i in range(5):
        cluster.produce(TOPIC, b"%d" % i)
    result = cluster.core.fetch(TOPIC, 0, 2)
    assert result.error == ErrorCode.NONE
    assert result.high_watermark == 5
    assert [r.offset for r in decode_records(result.records) if r.offset >= 2] == [2, 3, 4]
    assert cluster.core.fetch(TOPIC, 0, 5).records == b""
    assert cluster.core.fetch(TOPIC, 0, 6).error == ErrorCode.OFFSET_OUT_OF_RANGE
    assert cluster.core.fetch("nope", 0, 0).error == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION


def test_list_offsets_and_delete_records(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()
    cluster.create_topic(TOPIC, partitions=1, replication_factor=3)
    start = cluster.now_ms()
    for i in range(6):
        cluster.produce(TOPIC, b"%d" % i, timestamp=start + i * 1000)
    assert cluster.core.list_offsets(TOPIC, 0, -2)[:2] == (ErrorCode.NONE, 0)
    assert cluster.core.list_offsets(TOPIC, 0, -1)[:2] == (ErrorCode.NONE, 6)
    assert cluster.core.list_offsets(TOPIC, 0, start + 2500) == (ErrorCode.NONE, 3, start + 3000)
    assert cluster.core.list_offsets(TOPIC, 0, start + 99_000)[1] == -1
    assert cluster.core.delete_records(TOPIC, 0, 4) == (ErrorCode.NONE, 4)
    assert cluster.core.fetch(TOPIC, 0, 2).error == ErrorCode.OFFSET_OUT_OF_RANGE
    assert cluster.core.list_offsets(TOPIC, 0, -2)[1] == 4
    assert cluster.core.delete_records(TOPIC, 0, 9)[0] == ErrorCode.OFFSET_OUT_OF_RANGE
    cluster.advance("2s")  # followers learn the new log start from their fetches
    assert all(
        r.log_start_offset == 4 for r in cluster.describe().partition(TOPIC, 0).replica_states
    )


def test_topics_are_created_on_first_use_only_when_allowed(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(num_partitions=2)
    assert cluster.core.ensure_topic("auto")
    assert len([p for p in cluster.describe().partitions if p.topic == "auto"]) == 2
    strict = make_cluster(auto_create_topics_enable=False)
    assert not strict.core.ensure_topic("auto")
    assert strict.topics() == []
