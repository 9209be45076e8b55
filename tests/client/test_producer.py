"""Producer: what confluent-kafka users rely on, against a simulated in-kernel cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from kstream_nb import Cluster, KafkaError, KafkaException, Message, Producer
from tests.client.conftest import FAST_GROUPS

BOOTSTRAP = {"bootstrap.servers": "localhost:9092"}


def test_records_keep_their_order_per_partition_and_report_offsets(cluster: Cluster) -> None:
    producer = Producer({**BOOTSTRAP, "linger.ms": 5, "batch.num.messages": 7})
    delivered: list[tuple[int, int, bytes]] = []
    for i in range(60):
        producer.produce(
            "orders",
            value=b"%d" % i,
            key=b"k%d" % (i % 4),
            on_delivery=lambda err, msg: delivered.append(
                (msg.partition(), msg.offset(), msg.value())
            ),
        )
    assert len(producer) == 60
    assert producer.flush(10) == 0
    assert len(producer) == 0
    assert len(delivered) == 60
    for p in range(3):
        values = [int(r.value or b"") for r in cluster.read("orders", p)]
        assert values == sorted(values)  # send order is log order within a partition
        offsets = [o for part, o, _ in delivered if part == p]
        assert sorted(offsets) == list(range(len(values)))


def test_same_key_same_partition_and_murmur2_matches_the_java_client(cluster: Cluster) -> None:
    java = Producer({**BOOTSTRAP, "partitioner": "murmur2_random"})
    seen: dict[bytes, set[int]] = {}
    for i in range(30):
        key = b"customer-%d" % (i % 5)
        java.produce(
            "orders",
            value=b"x",
            key=key,
            on_delivery=lambda err, msg: seen.setdefault(msg.key(), set()).add(msg.partition()),
        )
    java.flush(10)
    assert all(len(parts) == 1 for parts in seen.values())
    # The Java client's DefaultPartitioner: murmur2(key) & 0x7fffffff % partitions.
    from kstream_nb.client.partitioner import murmur2

    assert {k: next(iter(v)) for k, v in seen.items()} == {k: murmur2(k, 3) for k in seen}


def test_str_is_utf8_and_other_types_are_refused(cluster: Cluster) -> None:
    producer = Producer(BOOTSTRAP)
    producer.produce("orders", value="héllo", key="ключ", partition=0)
    producer.flush(10)
    record = cluster.read("orders", 0)[-1]
    assert (record.key, record.value) == ("ключ".encode(), "héllo".encode())
    with pytest.raises(TypeError):
        producer.produce("orders", value=42)
    with pytest.raises(TypeError):
        producer.produce("orders", value=b"v", key=3.5)


def test_timestamps_are_given_ms_or_the_produce_time(cluster: Cluster) -> None:
    producer = Producer(BOOTSTRAP)
    before = cluster.now_ms()
    producer.produce("orders", value=b"now", partition=0)
    producer.produce("orders", value=b"given", partition=0, timestamp=1_700_000_000_123)
    with pytest.raises(TypeError, match="timestamp must be an int"):
        producer.produce("orders", value=b"v", partition=0, timestamp=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="int64"):
        producer.produce("orders", value=b"v", partition=0, timestamp=2**63)
    assert producer.flush(10) == 0
    now, given = cluster.read("orders", 0)[-2:]
    assert (now.value, given.value) == (b"now", b"given")
    assert before <= now.timestamp <= cluster.now_ms()
    assert given.timestamp == 1_700_000_000_123


def test_without_callbacks_records_carry_the_wall_clock_on_a_real_time_cluster(
    tmp_path: Path,
) -> None:
    """The encoder stamps records nobody waits to hear about; they still get the time of
    produce() (confluent-kafka's default CreateTime), not 0 and not the send time."""
    import time

    with Cluster.start(brokers=1, data_dir=tmp_path) as cluster:
        cluster.create_topic("orders", partitions=1, replication_factor=1)
        producer = Producer({"bootstrap.servers": cluster.bootstrap_servers, "linger.ms": 50})
        before = time.time_ns() // 1_000_000
        producer.produce("orders", value=b"v")
        after = time.time_ns() // 1_000_000
        assert producer.flush(10) == 0
        (record,) = cluster.read("orders", 0)
        assert before <= record.timestamp <= after


def test_unknown_config_and_bad_values_fail_at_construction(cluster: Cluster) -> None:
    with pytest.raises(KafkaException) as err:
        Producer({**BOOTSTRAP, "no.such.property": 1})
    assert err.value.args[0].code() == KafkaError._INVALID_ARG
    with pytest.raises(KafkaException):
        Producer({**BOOTSTRAP, "acks": "maybe"})
    with pytest.raises(KafkaException, match="no in-kernel cluster answers"):
        Producer({"bootstrap.servers": "kafka.example.com:9092"})


def test_an_oversized_record_is_refused_and_nothing_else_is_lost(cluster: Cluster) -> None:
    producer = Producer({**BOOTSTRAP, "message.max.bytes": 2000})
    producer.produce("orders", value=b"a", partition=0)
    with pytest.raises(KafkaException) as err:
        producer.produce("orders", value=b"x" * 5000, partition=0)
    assert err.value.args[0].code() == KafkaError.MSG_SIZE_TOO_LARGE
    producer.produce("orders", value=b"b", partition=0)
    producer.flush(10)
    assert [r.value for r in cluster.read("orders", 0)] == [b"a", b"b"]


def test_a_missing_topic_without_auto_creation_fails_through_the_callback(
    tmp_path: Path,
) -> None:
    config = {**FAST_GROUPS, "auto.create.topics.enable": "false"}
    with Cluster.start(brokers=1, simulated=True, data_dir=tmp_path, config=config):
        producer = Producer(BOOTSTRAP)
        errors: list[KafkaError | None] = []
        producer.produce("missing", value=b"v", on_delivery=lambda err, msg: errors.append(err))
        producer.flush(5)
        assert errors[0] is not None
        assert errors[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_topics_are_auto_created_when_the_broker_allows(cluster: Cluster) -> None:
    producer = Producer(BOOTSTRAP)
    producer.produce("created-on-first-use", value=b"v")
    assert producer.flush(10) == 0
    assert "created-on-first-use" in producer.list_topics().topics


def test_idempotent_producer_writes_each_record_once_through_leader_failover(
    tmp_path: Path,
) -> None:
    config = {**FAST_GROUPS, "broker.session.timeout.ms": 2000, "broker.heartbeat.interval.ms": 300}
    with Cluster.start(
        brokers=3, simulated=True, seed=3, data_dir=tmp_path, config=config
    ) as cluster:
        cluster.create_topic(
            "orders", partitions=1, replication_factor=3, config={"min.insync.replicas": 2}
        )
        producer = Producer(
            {**BOOTSTRAP, "enable.idempotence": True, "linger.ms": 1, "batch.num.messages": 5}
        )
        errors: list[KafkaError] = []
        for i in range(200):
            producer.produce(
                "orders", value=b"%d" % i, on_delivery=lambda err, msg: err and errors.append(err)
            )
            if i == 100:
                producer.poll(0.05)
                cluster.kill_broker(cluster.describe().partition("orders", 0).leader)
        assert producer.flush(60) == 0
        assert errors == []
        values = [int(r.value or b"") for r in cluster.read("orders", 0)]
        assert values == list(range(200))  # no duplicate, no gap, in order


def test_purge_reports_queued_messages(cluster: Cluster) -> None:
    producer = Producer({**BOOTSTRAP, "linger.ms": 10_000})
    errors: list[KafkaError | None] = []
    for _ in range(3):
        producer.produce(
            "orders", value=b"v", partition=1, on_delivery=lambda err, msg: errors.append(err)
        )
    producer.purge(in_flight=False)
    producer.poll(0)
    assert [e.code() for e in errors if e is not None] == [KafkaError._PURGE_QUEUE] * 3
    assert len(producer) == 0


def test_list_topics_describes_brokers_and_partitions(cluster: Cluster) -> None:
    meta = Producer(BOOTSTRAP).list_topics()
    assert sorted(meta.brokers) == [1, 2, 3]
    assert meta.brokers[1].port == 9092
    orders = meta.topics["orders"]
    assert sorted(orders.partitions) == [0, 1, 2]
    assert all(len(p.replicas) == 3 and p.leader in p.replicas for p in orders.partitions.values())


def test_poll_returns_as_soon_as_deliveries_happen_even_without_callbacks(
    cluster: Cluster,
) -> None:
    producer = Producer({**BOOTSTRAP, "linger.ms": 5})
    for _ in range(10):
        producer.produce("orders", value=b"v", partition=0)
    start = cluster.now_ms()
    assert producer.poll(10.0) == 10  # confluent-kafka counts callback-less deliveries too
    assert cluster.now_ms() - start < 1000
    assert len(producer) == 0


def test_delivery_timeout_and_latency_run_on_the_clusters_clock(cluster: Cluster) -> None:
    cluster.create_topic(
        "strict", partitions=1, replication_factor=3, config={"min.insync.replicas": 2}
    )
    partition = cluster.describe().partition("strict", 0)
    reports: list[tuple[KafkaError | None, Message]] = []
    producer = Producer({"bootstrap.servers": "localhost:9092", "acks": "all", "linger.ms": 20})
    producer.produce("strict", b"x", on_delivery=lambda e, m: reports.append((e, m)))
    assert producer.poll(5.0) == 1  # no flush(): it would send at once, without lingering
    # Simulated time: the record waited its 20 ms of linger, and the latency says so.
    latency = reports[0][1].latency()
    assert latency is not None
    assert 0.020 <= latency < 0.100
    for broker in partition.replicas:
        if broker != partition.leader:
            cluster.kill_broker(broker)
    cluster.advance("12s")  # two of three brokers dead: no controller, acks=all cannot complete
    late = Producer(
        {"bootstrap.servers": "localhost:9092", "acks": "all", "delivery.timeout.ms": 5000}
    )
    start = cluster.now_ms()
    late.produce("strict", b"y", on_delivery=lambda e, m: reports.append((e, m)))
    assert late.flush(60.0) == 0
    error = reports[-1][0]
    assert error is not None
    assert error.code() == KafkaError._MSG_TIMED_OUT
    assert 5000 <= cluster.now_ms() - start < 6000  # 5 s of simulated time, not of the wall


def test_acks_0_reports_no_offset(cluster: Cluster) -> None:
    reports: list[Message] = []
    producer = Producer({"bootstrap.servers": "localhost:9092", "acks": 0})
    producer.produce(
        "orders", b"fire and forget", partition=0, on_delivery=lambda e, m: reports.append(m)
    )
    assert producer.flush(5.0) == 0
    assert reports[0].error() is None
    assert reports[0].offset() is None
    cluster.advance("1s")  # the followers fetch it; the high watermark moves past it
    assert [r.value for r in cluster.read("orders", 0)] == [b"fire and forget"]


def test_a_seeded_cluster_repeats_the_producers_random_choices(tmp_path: Path) -> None:
    def keyless_partitions(run: int) -> list[int | None]:
        with Cluster.start(
            brokers=1, simulated=True, seed=7, data_dir=tmp_path / str(run)
        ) as cluster:
            cluster.create_topic("t", partitions=6, replication_factor=1)
            producer = Producer(
                {"bootstrap.servers": cluster.bootstrap_servers, "partitioner": "random"}
            )
            got: list[int | None] = []
            for i in range(20):  # "random" ignores keys: every record is a random pick
                producer.produce(
                    "t", b"v", key=b"%d" % i, on_delivery=lambda e, m: got.append(m.partition())
                )
            producer.flush(5.0)
            return got

    first = keyless_partitions(0)
    assert len(set(first)) > 1
    assert keyless_partitions(1) == first


def test_confluent_kafkas_top_level_constants_are_importable() -> None:
    import confluent_kafka

    import kstream_nb

    for name in (
        "OFFSET_BEGINNING",
        "OFFSET_END",
        "OFFSET_INVALID",
        "OFFSET_STORED",
        "TIMESTAMP_CREATE_TIME",
        "TIMESTAMP_LOG_APPEND_TIME",
        "TIMESTAMP_NOT_AVAILABLE",
    ):
        assert getattr(kstream_nb, name) == getattr(confluent_kafka, name), name


def test_a_full_queue_raises_buffer_error_until_poll_serves_reports(cluster: Cluster) -> None:
    """queue.buffering.max.messages bounds produced-but-unserved messages, as in librdkafka."""
    producer = Producer({**BOOTSTRAP, "queue.buffering.max.messages": 5, "linger.ms": 1})
    for i in range(5):
        producer.produce("orders", value=b"%d" % i, partition=0)
    with pytest.raises(BufferError, match="Queue full"):
        producer.produce("orders", value=b"refused", partition=0)
    assert len(producer) == 5  # the refused record is not queued
    producer.poll(1.0)  # deliveries without a callback leave the queue as they happen
    assert len(producer) == 0
    producer.produce("orders", value=b"5", partition=0)
    assert producer.flush(10) == 0
    assert [r.value for r in cluster.read("orders", 0)] == [b"%d" % i for i in range(6)]


def test_batch_size_closes_a_batch_before_the_record_that_would_overflow_it(
    cluster: Cluster,
) -> None:
    producer = Producer({**BOOTSTRAP, "batch.size": 1000, "linger.ms": 1000})
    for i in range(25):
        producer.produce("orders", value=bytes([i]) * 100, partition=2)
    assert producer.flush(10) == 0
    leader = cluster.describe().partition("orders", 2).leader
    batches = list(cluster.core.brokers[leader].partitions[("orders", 2)].log.batches())
    # librdkafka's estimate is 70 bytes of overhead a record: 170 each, 5 fit in 1000 bytes.
    assert [b.record_count for b in batches] == [5] * 5
    assert all(b.size <= 1000 for b in batches)
    assert [r.value for r in cluster.read("orders", 2)] == [bytes([i]) * 100 for i in range(25)]


@pytest.mark.parametrize("reports", [True, False], ids=["with-callbacks", "silent"])
def test_threads_producing_while_linger_seals_batches_lose_nothing(
    tmp_path: Path, reports: bool
) -> None:
    """Threads encode records into the same batch while the cluster's thread seals batches on
    linger.ms: every record is written once, each thread's order survives, and each delivery
    report names the offset and timestamp its record got. A tiny switch interval makes threads
    interleave inside produce() as often as possible."""
    import sys

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        _produce_from_threads(tmp_path, reports)
    finally:
        sys.setswitchinterval(interval)


def _produce_from_threads(tmp_path: Path, with_reports: bool) -> None:
    import threading

    with Cluster.start(brokers=3, data_dir=tmp_path, config=FAST_GROUPS) as cluster:
        cluster.create_topic("orders", partitions=1, replication_factor=3)
        producer = Producer(
            {"bootstrap.servers": cluster.bootstrap_servers, "linger.ms": 0, "acks": "all"}
        )
        reports: dict[int, tuple[bytes, int]] = {}

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            assert err is None
            offset = msg.offset()
            assert offset is not None
            assert offset not in reports
            reports[offset] = (msg.value() or b"", msg.timestamp()[1])

        def produce(name: bytes) -> None:
            callback = on_delivery if with_reports else None
            for i in range(3000):
                producer.produce("orders", value=b"%s-%d" % (name, i), on_delivery=callback)

        workers = [threading.Thread(target=produce, args=(b"t%d" % t,)) for t in range(3)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert producer.flush(60) == 0
        assert len(producer) == 0
        stored = cluster.read("orders", 0)
        assert [r.offset for r in stored] == list(range(9000))
        if with_reports:
            assert reports == {r.offset: (r.value, r.timestamp) for r in stored}
        values = [r.value or b"" for r in stored]
        for t in range(3):
            mine = [int(v.split(b"-")[1]) for v in values if v.startswith(b"t%d-" % t)]
            assert mine == list(range(3000))
