"""`topic.scan()`: a Polars LazyFrame that equals what a consumer reads, bounded by the high
watermark at the moment of the scan, reading only the files a filter can match."""

from __future__ import annotations

import datetime as dt
import gc
import json

import msgspec
import polars as pl
import pytest

from kstream_nb import Cluster, KafkaApiError
from kstream_nb.errors import ErrorCode, KStreamNbError
from kstream_nb.sql import bounds_of, scan_snapshot
from kstream_nb.sql.snapshot import SCAN_DIR
from tests.sql.conftest import SMALL_SEGMENTS, consumed, scanned


def produce_orders(cluster: Cluster, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        value = {"order_id": f"ORD-{i}", "customer_id": f"CUST-{i % 7}", "amount": i * 1.5}
        cluster.produce(
            "orders",
            json.dumps(value).encode(),
            key=f"ORD-{i}".encode(),
            partition=i % 3,
            headers=[("source", b"test")] if i % 5 == 0 else None,
        )


def test_a_scan_equals_what_a_consumer_reads(cluster: Cluster) -> None:
    produce_orders(cluster, 600)
    cluster.flush_twins()
    frame, snapshot = scan_snapshot(cluster, "orders")
    assert snapshot.twins, "small segments should have been sealed and twinned"
    assert snapshot.tails, "the active segments are decoded on demand"
    assert scanned(frame.collect().to_dicts()) == consumed(cluster, "orders")


def test_a_scan_is_a_snapshot_at_the_high_watermark_of_its_start(cluster: Cluster) -> None:
    produce_orders(cluster, 300)
    frame = cluster.topic("orders").scan()
    produce_orders(cluster, 300, start=300)  # producers keep writing; segments keep rolling
    cluster.flush_twins()
    assert frame.select(pl.len()).collect().item() == 300
    assert cluster.topic("orders").scan().select(pl.len()).collect().item() == 600


def test_records_above_the_high_watermark_are_never_visible(cluster: Cluster) -> None:
    produce_orders(cluster, 30)
    leader = cluster.topic("orders").partitions[0].leader
    followers = [b for b in cluster.broker_ids if b != leader]
    for broker in followers:
        cluster.isolate_broker(broker)
    for _ in range(5):  # acks=1: the leader appends, the followers cannot fetch
        cluster.produce("orders", b"{}", partition=0, acks=1, timeout="1s")
    state = cluster.describe().partition("orders", 0)
    replica = next(r for r in state.replica_states if r.broker_id == leader)
    hw = replica.high_watermark
    assert replica.log_end_offset == hw + 5
    rows = cluster.topic("orders").scan().filter(pl.col("partition") == 0).collect()
    assert rows["offset"].max() == hw - 1
    typed = cluster.topic("orders").scan(value_format="json").filter(pl.col("partition") == 0)
    assert typed.select(pl.col("amount").count()).collect().item() == hw
    cluster.heal()


def test_json_values_become_typed_columns(cluster: Cluster) -> None:
    produce_orders(cluster, 200)
    cluster.produce("orders", b"not json", partition=1)
    cluster.produce("orders", None, key=b"gone", partition=1)
    cluster.flush_twins()
    frame = cluster.topic("orders").scan(value_format="json").collect()
    assert frame.schema["amount"] == pl.Float64
    assert frame.schema["customer_id"] == pl.String
    bad = frame.filter(pl.col("value_error").is_not_null())
    assert bad["value"].to_list() == [b"not json"]
    assert bad["amount"].to_list() == [None]
    per_customer = frame.group_by("customer_id").agg(pl.len()).sort("customer_id")
    assert per_customer.filter(pl.col("customer_id") == "CUST-0")["len"].item() == len(
        range(0, 200, 7)
    )


def test_a_schema_fixes_the_types(cluster: Cluster) -> None:
    class Order(msgspec.Struct):
        order_id: str
        amount: float
        note: str | None = None

    produce_orders(cluster, 20)
    frame = cluster.topic("orders").scan(schema=Order).collect()
    assert {k: frame.schema[k] for k in ("order_id", "amount", "note")} == {
        "order_id": pl.String,
        "amount": pl.Float64,
        "note": pl.String,
    }
    assert "customer_id" not in frame.columns
    by_polars = cluster.topic("orders").scan(schema={"amount": pl.Int64}).collect()
    assert by_polars.schema["amount"] == pl.Int64
    with pytest.raises(KStreamNbError, match="schema"):
        cluster.topic("orders").scan(schema=[1, 2])  # type: ignore[arg-type]


def test_json_field_named_like_a_record_column_is_prefixed(cluster: Cluster) -> None:
    cluster.produce("orders", b'{"offset": 7, "timestamp": "x", "ok": true}', partition=0)
    frame = cluster.topic("orders").scan(value_format="json").collect()
    assert frame["value_offset"].to_list() == [7]
    assert frame["value_timestamp"].to_list() == ["x"]
    assert frame["offset"].to_list() == [0]


def test_a_filter_on_partition_and_recent_offsets_opens_only_the_files_it_needs(
    cluster: Cluster,
) -> None:
    produce_orders(cluster, 900)
    cluster.flush_twins()
    frame, snapshot = scan_snapshot(cluster, "orders")
    p1 = sorted((t for t in snapshot.twins if t.partition == 1), key=lambda t: t.first_offset)
    assert len(p1) >= 3
    since = p1[-1].first_offset + 1
    rows = frame.filter(pl.col("partition") == 1, pl.col("offset") >= since).collect()
    assert rows["offset"].to_list() == list(range(since, 300))
    assert snapshot.files_read == [f"1/{p1[-1].name}", f"1/{snapshot.tails[1].name}"]


def test_a_filter_on_recent_time_skips_old_files(cluster: Cluster) -> None:
    produce_orders(cluster, 300)
    cluster.advance("1h")
    cut = dt.datetime.fromtimestamp(cluster.now_ms() / 1000, tz=dt.UTC)
    produce_orders(cluster, 30, start=300)
    cluster.flush_twins()
    frame, snapshot = scan_snapshot(cluster, "orders")
    rows = frame.filter(pl.col("timestamp") >= cut).collect()
    assert rows.height == 30
    assert len(snapshot.files_read) <= 3 + 3  # per partition: the active tail, maybe one twin
    assert len(snapshot.files_read) < len(snapshot.twins) + len(snapshot.tails)


def test_an_unrecognised_filter_reads_everything_and_stays_correct(cluster: Cluster) -> None:
    produce_orders(cluster, 300)
    cluster.flush_twins()
    frame, snapshot = scan_snapshot(cluster, "orders")
    odd = frame.filter((pl.col("offset") % 2 == 1) | (pl.col("partition") == 5)).collect()
    assert odd.height == 150
    assert len(snapshot.files_read) == len(snapshot.twins) + len(snapshot.tails)


@pytest.mark.parametrize(
    ("expr", "partitions", "offset", "ts_lo"),
    [
        (pl.col("partition") == 1, {1}, None, None),
        (pl.col("partition").is_in([0, 2]), {0, 2}, None, None),
        ((pl.col("offset") >= 5) & (pl.col("offset") < 9), None, (5, 8), None),
        (pl.col("offset").is_between(3, 4), None, (3, 4), None),
        (pl.lit(10) < pl.col("offset"), None, (11, 2**63 - 1), None),
        (
            pl.col("timestamp") >= pl.lit(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
            None,
            None,
            1767225600000,
        ),
    ],
)
def test_filters_are_read_into_bounds(
    expr: pl.Expr, partitions: set[int] | None, offset: tuple[int, int] | None, ts_lo: int | None
) -> None:
    bounds = bounds_of(expr)
    assert bounds.partitions == partitions
    if offset is not None:
        assert bounds.offset == offset
    if ts_lo is not None:
        assert bounds.timestamp[0] == ts_lo


def test_or_and_functions_bound_nothing() -> None:
    either = (pl.col("partition") == 1) | (pl.col("offset") > 3)
    assert bounds_of(either).partitions is None
    udf = pl.col("offset").map_elements(lambda x: x, return_dtype=pl.Int64) > 3
    assert bounds_of(udf).offset == (-(2**63), 2**63 - 1)


def test_empty_topics_scan_to_an_empty_frame_with_the_schema(cluster: Cluster) -> None:
    frame = cluster.topic("orders").scan().collect()
    assert frame.height == 0
    assert frame.columns[:6] == [
        "partition",
        "offset",
        "timestamp",
        "timestamp_type",
        "key",
        "value",
    ]


def test_unknown_topics_and_formats_fail_clearly(cluster: Cluster) -> None:
    with pytest.raises(KafkaApiError, match="does not exist") as info:
        cluster.topic("nope").scan()
    assert info.value.code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    with pytest.raises(KStreamNbError, match="value_format"):
        cluster.topic("orders").scan(value_format="avro")  # type: ignore[arg-type]


def test_half_written_twins_are_never_read(cluster: Cluster) -> None:
    produce_orders(cluster, 300)
    leader = cluster.topic("orders").partitions[0].leader
    directory = cluster.data_dir / f"broker-{leader}" / "orders-0"
    (directory / "00000000000000000000.parquet.99.tmp").write_bytes(b"PAR1 half")
    frame = cluster.topic("orders").scan()
    assert frame.filter(pl.col("partition") == 0).select(pl.len()).collect().item() == 100


def test_a_scan_survives_retention_deleting_its_files(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with Cluster.start(
        brokers=1, simulated=True, seed=3, data_dir=tmp_path_factory.mktemp("c")
    ) as cluster:
        cluster.create_topic(
            "events",
            partitions=1,
            replication_factor=1,
            config={"segment.bytes": 2048, "retention.ms": 60_000},
        )
        for i in range(200):
            cluster.produce("events", f"event {i}".encode())
        cluster.flush_twins()
        frame = cluster.topic("events").scan()
        cluster.advance("10min")  # retention deletes every sealed segment and its twin
        assert cluster.topic("events").scan().select(pl.len()).collect().item() < 200
        assert frame.select(pl.len()).collect().item() == 200
        del frame
        gc.collect()
        assert not list((cluster.data_dir / SCAN_DIR).glob("*/*"))


def test_real_time_twins_are_written_in_the_background(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with Cluster.start(brokers=3, data_dir=tmp_path_factory.mktemp("rt")) as cluster:
        cluster.create_topic("orders", partitions=3, replication_factor=3, config=SMALL_SEGMENTS)
        produce_orders(cluster, 300)
        cluster.flush_twins(timeout="30s")
        frame, snapshot = scan_snapshot(cluster, "orders", value_format="json")
        assert len(snapshot.twins) >= 3
        rows = frame.collect()
        assert rows.height == 300
        assert rows["amount"].sum() == pytest.approx(sum(i * 1.5 for i in range(300)))
        assert cluster.sql("SELECT count(*) FROM orders").fetchall() == [(300,)]
    # the writer thread stopped with the cluster (the autouse fixture checks no thread is left)


def test_no_file_descriptor_outlives_the_cluster(tmp_path_factory: pytest.TempPathFactory) -> None:
    import os

    before = len(os.listdir("/proc/self/fd"))
    with Cluster.start(brokers=3, data_dir=tmp_path_factory.mktemp("fd")) as cluster:
        cluster.create_topic("orders", partitions=3, replication_factor=3, config=SMALL_SEGMENTS)
        produce_orders(cluster, 600)
        cluster.flush_twins(timeout="30s")
        assert cluster.topic("orders").scan().select(pl.len()).collect().item() == 600
        assert cluster.sql("SELECT count(*) FROM orders").fetchall() == [(600,)]
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) == before


def test_snapshot_folders_of_dead_processes_are_swept(cluster: Cluster) -> None:
    import subprocess
    import sys

    from kstream_nb.sql import snapshot as snapshot_module

    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    dead = cluster.data_dir / SCAN_DIR / f"orders.{int(ended.stdout)}.0"
    dead.mkdir(parents=True)
    (dead / "0-00000000000000000000.parquet").write_bytes(b"left behind")
    snapshot_module._swept.discard(cluster.data_dir / SCAN_DIR)
    cluster.topic("orders").scan()
    assert not dead.exists()


def test_a_query_right_after_a_leader_dies_waits_for_the_new_leader(cluster: Cluster) -> None:
    produce_orders(cluster, 30)
    leader = cluster.describe().partition("orders", 0).leader
    cluster.kill_broker(leader)
    start = cluster.now_ms()
    [(first,)] = cluster.sql("SELECT count(*) FROM orders").fetchall()
    waited = cluster.now_ms() - start
    # Like a consumer, the query waited for the controller to fence the dead broker
    # (broker.session.timeout.ms, 9 s by default) and elect a new leader, and no longer.
    assert 0 < waited <= 10_000
    assert cluster.describe().partition("orders", 0).leader not in (leader, -1)
    # A new leader's high watermark catches up once its followers fetch from it (as in Kafka),
    # and then every acknowledged record (acks=all) is there.
    assert first <= 30
    cluster.advance("1s")
    assert cluster.sql("SELECT count(*) FROM orders").fetchall() == [(30,)]


def test_a_partition_that_stays_offline_fails_the_query_clearly(cluster: Cluster) -> None:
    cluster.create_topic("single", partitions=1, replication_factor=1)
    cluster.kill_broker(cluster.describe().partition("single", 0).leader)
    start = cluster.now_ms()
    with pytest.raises(KafkaApiError, match="has had no leader for 30s") as failure:
        cluster.sql("SELECT count(*) FROM single")
    assert cluster.now_ms() - start == 30_000
    assert failure.value.code in (ErrorCode.LEADER_NOT_AVAILABLE, ErrorCode.NOT_LEADER_OR_FOLLOWER)
    for broker in cluster.describe().brokers:
        if broker.status != "down":
            cluster.kill_broker(broker.broker_id)
    with pytest.raises(KafkaApiError, match="no broker is running; restart one"):
        cluster.topic("orders").scan()


def test_twins_scheduled_while_the_cluster_closes_start_no_worker(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The loop thread may be inside `schedule()` when `stop()` closes the writer on the
    caller's thread: the late job is cancelled (descriptor closed), no new worker starts."""
    import os

    with Cluster.start(brokers=3, data_dir=tmp_path_factory.mktemp("race")) as cluster:
        cluster.create_topic("orders", partitions=3, replication_factor=1)
        produce_orders(cluster, 50)
        writer = cluster.twins
        leader_log = next(log for log in writer.leader_logs() if log.topic == "orders")
        before = len(os.listdir("/proc/self/fd"))
        writer.close()
        writer._warm(
            leader_log, now=True
        )  # what a schedule() that passed its check before close does
        assert writer._executor is None
        assert len(os.listdir("/proc/self/fd")) == before


def test_active_segments_are_decoded_ahead_once_writes_rest(cluster: Cluster) -> None:
    """Decoding ahead of queries is background work for topics someone queries: it waits for
    a segment to rest, unless so much piled up that a query would have a lot to decode."""
    from kstream_nb.log.decoded import DECODED
    from kstream_nb.runtime import twins

    cluster.create_topic("clicks", partitions=1, replication_factor=1)
    for _ in range(3):
        cluster.produce("clicks", bytes(100_000), partition=0)
    log = next(log for log in cluster.twins.leader_logs() if log.topic == "clicks")
    key = log.active_segment.cache_key()

    def decoded_after_schedule() -> int:
        cluster._call(cluster.twins.schedule)
        assert cluster.twins.wait_idle(30, cluster.twins.install)
        return DECODED.end_of(key)

    cluster.advance(f"{twins.WARM_IDLE_MS}ms")
    assert decoded_after_schedule() == 0  # never queried: no background work
    assert cluster.sql("SELECT count(*) FROM clicks").fetchall() == [(3,)]
    for _ in range(3):  # more than WARM_BYTES
        cluster.produce("clicks", bytes(100_000), partition=0)
    key = log.active_segment.cache_key()
    decoded = DECODED.end_of(key)
    assert decoded < log.active_segment.size
    assert decoded_after_schedule() == decoded  # just written: produce keeps the GIL
    cluster.advance(f"{twins.WARM_IDLE_MS}ms")
    assert decoded_after_schedule() == log.active_segment.size
    cluster.produce("clicks", bytes(100_000), partition=0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(twins, "WARM_BUSY_BYTES", 1)
        patch.setattr(twins, "WARM_BYTES", 1)
        assert decoded_after_schedule() == log.active_segment.size  # piled up: at once
