"""KafkaStreams on the in-kernel cluster: the seed's topology end to end, state restored from
changelogs after a restart, nothing lost when a broker dies, and clear errors."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kstream_nb import Cluster, Consumer, Producer, TopicPartition
from kstream_nb.streams import Serdes, StreamsBuilder, TimeWindows
from kstream_nb.streams.kafka_streams import KafkaStreams, StreamsError
from tests.threads import no_thread_left_behind  # noqa: F401 -- autouse

CONFIG = {"offsets.topic.num.partitions": 3, "group.initial.rebalance.delay.ms": 0}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with Cluster.start(brokers=3, simulated=True, seed=3, data_dir=tmp_path, config=CONFIG) as c:
        c.create_topic("orders", partitions=3, replication_factor=3)
        c.create_topic("customers", partitions=3, replication_factor=3)
        yield c


def app_config(cluster: Cluster, app: str = "order-stream-processor") -> dict[str, Any]:
    return {
        "application.id": app,
        "bootstrap.servers": cluster.bootstrap_servers,
        "default.key.serde": Serdes.String(),
        "default.value.serde": Serdes.Json(),
    }


def produce(
    cluster: Cluster,
    topic: str,
    rows: list[tuple[str, Any]],
    after_ms: int = 0,
    partitioner: str = "consistent_random",
) -> None:
    """Rows 1 ms apart, from `after_ms` past the cluster's now (timestamp 0 would mean now)."""
    producer = Producer(
        {"bootstrap.servers": cluster.bootstrap_servers, "partitioner": partitioner}
    )
    start_ms = cluster.now_ms() + after_ms
    for i, (key, value) in enumerate(rows):
        producer.produce(topic, json.dumps(value).encode(), key.encode(), timestamp=start_ms + i)
    assert producer.flush(30) == 0


def read_all(cluster: Cluster, topic: str) -> list[tuple[str, Any]]:
    consumer = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": "check"})
    try:
        parts = sorted(cluster.core.image.topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        out = []
        for _ in range(20):
            batch = consumer.consume(1000, 0.5)
            out.extend(batch)
            if not batch and out:
                break
        rows = [((m.key() or b"").decode(), json.loads(m.value() or b"null")) for m in out]
        return sorted(rows, key=lambda kv: (kv[0], json.dumps(kv[1], sort_keys=True)))
    finally:
        consumer.close()


def latest(cluster: Cluster, topic: str) -> dict[str, Any]:
    """The newest value per key (a table's state), reading each partition in order."""
    consumer = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": "latest"})
    try:
        parts = sorted(cluster.core.image.topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        state: dict[str, Any] = {}
        for _ in range(20):
            batch = consumer.consume(1000, 0.5)
            for m in batch:
                state[(m.key() or b"").decode()] = json.loads(m.value() or b"null")
            if not batch and state:
                break
        return {k: v for k, v in state.items() if v is not None}
    finally:
        consumer.close()


def seed_topology() -> tuple[StreamsBuilder, str, str]:
    builder = StreamsBuilder()
    orders = builder.stream("orders")
    high_value_orders = orders.filter(lambda key, order: order["amount"] > 1000)
    by_customer = orders.group_by(lambda key, order: order["customer_id"]).count("by-customer")
    customers = builder.table("customers")
    enriched = orders.join(customers, lambda order, customer: {**order, "name": customer["name"]})
    per_hour = (
        orders.group_by_key().windowed_by(TimeWindows.of_size_with_no_grace("1h")).count("per-hour")
    )
    high_value_orders.to("high-value-orders")
    enriched.to("enriched-orders")
    assert by_customer.store_name == "by-customer"
    assert per_hour.store_name == "per-hour"
    return builder, "by-customer", "per-hour"


ORDERS = [
    ("CUST-1", {"order_id": "ORD-1", "customer_id": "CUST-1", "amount": 99.99}),
    ("CUST-2", {"order_id": "ORD-2", "customer_id": "CUST-2", "amount": 1500.0}),
    ("CUST-1", {"order_id": "ORD-3", "customer_id": "CUST-1", "amount": 42.0}),
    ("CUST-3", {"order_id": "ORD-4", "customer_id": "CUST-3", "amount": 2500.0}),
]


def test_the_seed_topology_runs_on_the_cluster(cluster: Cluster) -> None:
    for topic in ("high-value-orders", "enriched-orders"):
        cluster.create_topic(topic, partitions=3, replication_factor=3)
    produce(cluster, "customers", [("CUST-1", {"name": "Ada"}), ("CUST-2", {"name": "Grace"})])
    produce(cluster, "orders", ORDERS, after_ms=1_000)
    builder, by_customer, per_hour = seed_topology()
    with KafkaStreams(builder.build(), app_config(cluster)) as streams:
        streams.run(count=2 + 4 + 4)  # customers, orders, repartitioned orders
        assert streams.state == "RUNNING"
        assert dict(streams.store(by_customer).all()) == {"CUST-1": 2, "CUST-2": 1, "CUST-3": 1}
        assert streams.store(by_customer).get("CUST-1") == 2
        assert [n for _, n in streams.store(per_hour).fetch("CUST-1")] == [2]
    assert streams.state == "NOT_RUNNING"
    assert [k for k, _ in read_all(cluster, "high-value-orders")] == ["CUST-2", "CUST-3"]
    enriched = read_all(cluster, "enriched-orders")
    assert [(k, v["name"]) for k, v in enriched] == [
        ("CUST-1", "Ada"),
        ("CUST-1", "Ada"),
        ("CUST-2", "Grace"),
    ]
    topics = set(cluster.topics())
    assert "order-stream-processor-by-customer-changelog" in topics
    assert any(t.endswith("-repartition") for t in topics)


def count_topology() -> StreamsBuilder:
    builder = StreamsBuilder()
    builder.stream("orders").group_by(lambda k, o: o["customer_id"]).count("counts")
    return builder


def test_a_restarted_application_restores_its_counts_from_the_changelog(cluster: Cluster) -> None:
    produce(cluster, "orders", ORDERS)
    with KafkaStreams(count_topology().build(), app_config(cluster, "counter")) as first:
        first.run(count=8)
        before = dict(first.store("counts").all())
    assert before == {"CUST-1": 2, "CUST-2": 1, "CUST-3": 1}
    produce(cluster, "orders", ORDERS[:2], after_ms=10)
    with KafkaStreams(count_topology().build(), app_config(cluster, "counter")) as second:
        second.run(count=4)
        after = dict(second.store("counts").all())
    assert after == {"CUST-1": 3, "CUST-2": 2, "CUST-3": 1}  # restored, then continued


def test_no_count_is_lost_when_a_broker_dies(cluster: Cluster) -> None:
    rows = [(f"C{i % 5}", {"customer_id": f"C{i % 5}", "amount": i}) for i in range(60)]
    produce(cluster, "orders", rows[:30])
    with KafkaStreams(count_topology().build(), app_config(cluster, "survivor")) as streams:
        streams.run(count=60)
        cluster.kill_broker(2)
        produce(cluster, "orders", rows[30:], after_ms=100)
        streams.run(count=60, timeout=60)
        counts = dict(streams.store("counts").all())
    assert sum(counts.values()) >= 60  # at least once: nothing lost
    assert all(counts[f"C{i}"] >= 12 for i in range(5))


def test_bad_configurations_fail_clearly(cluster: Cluster) -> None:
    topology = count_topology().build()
    with pytest.raises(StreamsError, match="exactly_once_v2 needs transactions"):
        KafkaStreams(topology, {**app_config(cluster), "processing.guarantee": "exactly_once_v2"})
    with pytest.raises(StreamsError, match=r"application\.id is required"):
        KafkaStreams(topology, {"bootstrap.servers": cluster.bootstrap_servers})
    with pytest.raises(StreamsError, match="unknown streams config"):
        KafkaStreams(topology, {**app_config(cluster), "cache.max.bites": 1})
    with pytest.raises(StreamsError, match="use run"):
        KafkaStreams(topology, app_config(cluster)).start()
    builder = StreamsBuilder()
    builder.stream("nope").to("out")
    with pytest.raises(StreamsError, match="do not exist"):
        KafkaStreams(builder.build(), app_config(cluster)).run(count=1, timeout=1)
    cluster.create_topic("narrow", partitions=2, replication_factor=1)
    builder = StreamsBuilder()
    builder.stream("orders").join(builder.table("narrow"), lambda a, b: a).to("out")
    with pytest.raises(StreamsError, match="co-partitioned"):
        KafkaStreams(builder.build(), app_config(cluster)).run(count=1, timeout=1)


def test_undecodable_records_fail_the_app_or_are_skipped_with_their_position(
    cluster: Cluster,
) -> None:
    producer = Producer({"bootstrap.servers": cluster.bootstrap_servers})
    producer.produce("orders", b"{broken", b"k", partition=0)
    producer.produce("orders", b'{"customer_id": "C1"}', b"k", partition=0)
    producer.flush(10)
    config = {**app_config(cluster, "strict")}
    streams = KafkaStreams(count_topology().build(), config)
    with pytest.raises(StreamsError, match=r"orders-0@0"):
        streams.run(count=2)
    streams.close()
    cluster.create_topic("orders-dlq", partitions=1, replication_factor=3)
    lenient = {
        **app_config(cluster, "lenient"),
        "default.deserialization.exception.handler": "log_and_continue",
        "errors.dead.letter.queue.topic.name": "orders-dlq",
    }
    with KafkaStreams(count_topology().build(), lenient) as streams:
        streams.run(count=3)
        assert streams.skipped[0].startswith("orders-0@0:")
        assert dict(streams.store("counts").all()) == {"C1": 1}
    reader = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": "dlq"})
    try:
        reader.assign([TopicPartition("orders-dlq", 0, 0)])
        dead = reader.consume(10, 2.0)
    finally:
        reader.close()
    assert [(m.key(), m.value()) for m in dead] == [(b"k", b"{broken")]
    headers = dict(dead[0].headers() or [])
    assert headers["__streams.errors.topic"] == b"orders"
    assert headers["__streams.errors.offset"] == b"0"


def test_start_runs_in_the_background_on_a_real_time_cluster(tmp_path: Path) -> None:
    with Cluster.start(brokers=1, data_dir=tmp_path, config=CONFIG) as cluster:
        cluster.create_topic("orders", partitions=1, replication_factor=1)
        produce(cluster, "orders", ORDERS)
        streams = KafkaStreams(count_topology().build(), app_config(cluster, "live"))
        streams.start()
        try:
            deadline = time.monotonic() + 20
            while dict(streams.store("counts").all()).get("CUST-1") != 2:
                assert time.monotonic() < deadline, "the counts never arrived"
                assert streams.state == "RUNNING", streams.error
                time.sleep(0.05)
        finally:
            streams.close()
        assert streams.state == "NOT_RUNNING"


@pytest.mark.parametrize(("cache_bytes", "expected"), [(10 << 20, [3]), (0, [1, 2, 3])])
def test_the_record_cache_merges_updates_between_commits(
    cluster: Cluster, cache_bytes: int, expected: list[int]
) -> None:
    cluster.create_topic("counts", partitions=3, replication_factor=3)
    builder = StreamsBuilder()
    builder.stream("orders").group_by_key().count("c").to_stream().to(
        "counts", value_serde=Serdes.Long()
    )
    config = {
        **app_config(cluster, f"cache-{cache_bytes}"),
        "statestore.cache.max.bytes": cache_bytes,
    }
    produce(cluster, "orders", [("C1", {"n": i}) for i in range(3)])
    with KafkaStreams(builder.build(), config) as streams:
        streams.run(count=3)
        assert streams.store("c").get("C1") == 3  # queries see the cache too
    consumer = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": "read"})
    try:
        consumer.assign([TopicPartition("counts", p, 0) for p in range(3)])
        values = [Serdes.Long().deserialize(m.value()) for m in consumer.consume(100, 2.0)]
    finally:
        consumer.close()
    assert values == expected


def test_two_instances_of_one_application_share_the_partitions(cluster: Cluster) -> None:
    rows = [(f"C{i % 6}", {"customer_id": f"C{i % 6}"}) for i in range(60)]
    produce(cluster, "orders", rows[:30])
    first = KafkaStreams(count_topology().build(), app_config(cluster, "shared"))
    second = KafkaStreams(count_topology().build(), app_config(cluster, "shared"))
    try:
        for i in range(6):  # in simulated time each instance works when it is called
            first.run(timeout=0.5)
            second.run(timeout=0.5)
            if i == 2:
                produce(cluster, "orders", rows[30:], after_ms=100)
        assert first.tasks
        assert second.tasks
        assert not set(first.tasks) & set(second.tasks)  # each task runs in one place
        counts = {**dict(first.store("counts").all()), **dict(second.store("counts").all())}
        assert counts == {f"C{i}": 10 for i in range(6)}  # moved tasks kept their counts
    finally:
        first.close()
        second.close()


def test_a_global_table_is_read_whole_and_followed(cluster: Cluster) -> None:
    cluster.create_topic("products", partitions=2, replication_factor=3)  # not co-partitioned
    cluster.create_topic("named", partitions=3, replication_factor=3)
    produce(cluster, "products", [("p1", "Pen"), ("p2", "Ink")])
    builder = StreamsBuilder()
    products = builder.global_table("products")
    builder.stream("orders").join(
        products, lambda key, order: order["sku"], lambda order, name: name
    ).to("named")
    produce(cluster, "orders", [("C1", {"sku": "p1"}), ("C2", {"sku": "p2"})], after_ms=10)
    with KafkaStreams(builder.build(), app_config(cluster, "global")) as streams:
        streams.run(count=2)
        assert dict(streams.store(products.store_name).all()) == {"p1": "Pen", "p2": "Ink"}
        produce(cluster, "products", [("p3", "Pad")], after_ms=20)
        produce(cluster, "orders", [("C3", {"sku": "p3"})], after_ms=30)
        streams.run(count=1)
    assert sorted(v for _, v in read_all(cluster, "named")) == ["Ink", "Pad", "Pen"]


def test_a_foreign_key_join_across_differently_partitioned_topics(cluster: Cluster) -> None:
    cluster.create_topic("accounts", partitions=2, replication_factor=3)
    cluster.create_topic("order-rows", partitions=3, replication_factor=3)
    cluster.create_topic("named-orders", partitions=3, replication_factor=3)
    builder = StreamsBuilder()
    orders, accounts = builder.table("order-rows"), builder.table("accounts")
    orders.join(
        accounts, lambda o, a: f"{o['item']} for {a}", foreign_key=lambda o: o["acct"]
    ).to_stream().to("named-orders")
    # Kafka Streams finds rows by partitioning keys with murmur2, as the Java producer does; the
    # tables' topics must be written that way (librdkafka's default partitioner is not).
    produce(cluster, "accounts", [(f"A{i}", f"name-{i}") for i in range(4)], partitioner="murmur2")
    rows = [(f"O{i}", {"item": f"i{i}", "acct": f"A{i % 4}"}) for i in range(12)]
    produce(cluster, "order-rows", rows, after_ms=10, partitioner="murmur2")
    config = {**app_config(cluster, "fk"), "statestore.cache.max.bytes": 0}
    with KafkaStreams(builder.build(), config) as streams:
        for _ in range(10):
            streams.run(timeout=0.5)
    results = latest(cluster, "named-orders")
    assert results == {f"O{i}": f"i{i} for name-{i % 4}" for i in range(12)}
    topics = {t: len(cluster.topic(t).partitions) for t in cluster.topics() if t.startswith("fk-")}
    registration = next(t for t in topics if t.endswith("REGISTRATION-topic"))
    response = next(t for t in topics if t.endswith("RESPONSE-topic"))
    assert (topics[registration], topics[response]) == (2, 3)  # beside accounts, beside orders


def test_a_stream_stream_join_resumes_its_window_after_a_restart(cluster: Cluster) -> None:
    from kstream_nb.streams import JoinWindows

    cluster.create_topic("clicks", partitions=3, replication_factor=3)
    cluster.create_topic("joined", partitions=3, replication_factor=3)

    def topology() -> StreamsBuilder:
        builder = StreamsBuilder()
        builder.stream("orders").join(
            builder.stream("clicks"),
            lambda order, click: [order["n"], click["page"]],
            JoinWindows.of_time_difference_with_no_grace("1min"),
        ).to("joined")
        return builder

    produce(cluster, "orders", [("U1", {"n": 1})], partitioner="murmur2")
    with KafkaStreams(topology().build(), app_config(cluster, "joiner")) as first:
        first.run(count=1)  # the order waits in the join's store for a click
    produce(cluster, "clicks", [("U1", {"page": "/cart"})], after_ms=5, partitioner="murmur2")
    with KafkaStreams(topology().build(), app_config(cluster, "joiner")) as second:
        second.run(count=1)  # restored from the changelog, the order meets its click
    assert read_all(cluster, "joined") == [("U1", [1, "/cart"])]


def read_records(cluster: Cluster, topic: str) -> list[Any]:
    """Every message of `topic` (all partitions), in partition then offset order."""
    consumer = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": "records"})
    try:
        parts = sorted(cluster.core.image.topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        out: list[Any] = []
        for _ in range(20):
            batch = consumer.consume(1000, 0.5)
            out.extend(batch)
            if not batch and out:
                break
        return sorted(out, key=lambda m: (m.partition(), m.offset()))
    finally:
        consumer.close()


PAYMENT_ORDERS = [
    (f"CUST-{i % 3}", {"order_id": f"ORD-{i}", "customer_id": f"CUST-{i % 3}"}) for i in range(8)
]


@pytest.mark.parametrize("explicit", [False, True])
def test_a_stream_stream_join_after_select_key_repartitions_automatically(
    cluster: Cluster, explicit: bool
) -> None:
    from kstream_nb.streams import JoinWindows

    cluster.create_topic("payments", partitions=3, replication_factor=3)
    cluster.create_topic("paid-orders", partitions=3, replication_factor=3)
    produce(cluster, "orders", PAYMENT_ORDERS, partitioner="murmur2_random")
    payments = [(f"ORD-{i}", {"paid": i}) for i in range(8)]
    produce(cluster, "payments", payments, after_ms=5, partitioner="murmur2_random")
    builder = StreamsBuilder()
    orders = builder.stream("orders").select_key(lambda k, v: v["order_id"])
    if explicit:
        orders = orders.repartition()
    orders.join(
        builder.stream("payments"),
        lambda order, payment: [order["customer_id"], payment["paid"]],
        JoinWindows.of_time_difference_with_no_grace("10min"),
    ).to("paid-orders")
    topology = builder.build()
    with KafkaStreams(topology, app_config(cluster, "pay")) as streams:
        for _ in range(6):
            streams.run(timeout=0.5)
    assert read_all(cluster, "paid-orders") == sorted(
        (f"ORD-{i}", [f"CUST-{i % 3}", i]) for i in range(8)
    )
    (repartition,) = topology.repartition_topics()
    assert repartition in topology.describe()
    expected = "KSTREAM-REPARTITION-0000000002" if explicit else "KSTREAM-KEY-SELECT-0000000001"
    assert repartition == f"{expected}-repartition"
    assert f"pay-{repartition}" in cluster.topics()
    assert len(cluster.topic(f"pay-{repartition}").partitions) == 3


def test_a_stream_table_join_after_a_key_change_repartitions_the_stream(cluster: Cluster) -> None:
    cluster.create_topic("enriched", partitions=3, replication_factor=3)
    customers = [(f"CUST-{i}", {"name": f"name-{i}"}) for i in range(3)]
    produce(cluster, "customers", customers, partitioner="murmur2_random")
    by_order = [(v["order_id"], v) for _, v in PAYMENT_ORDERS]  # keyed by order, not customer
    produce(cluster, "orders", by_order, after_ms=10, partitioner="murmur2_random")
    builder = StreamsBuilder()
    builder.stream("orders").map(lambda k, v: (v["customer_id"], v["order_id"])).join(
        builder.table("customers"), lambda order, customer: [order, customer["name"]]
    ).to("enriched")
    with KafkaStreams(builder.build(), app_config(cluster, "enrich")) as streams:
        for _ in range(6):
            streams.run(timeout=0.5)
    assert read_all(cluster, "enriched") == sorted(
        (f"CUST-{i % 3}", [f"ORD-{i}", f"name-{i % 3}"]) for i in range(8)
    )
    assert "enrich-KSTREAM-MAP-0000000001-repartition" in cluster.topics()


def test_windowed_keys_go_to_the_partition_of_their_base_key(cluster: Cluster) -> None:
    from kstream_nb.client.partitioner import murmur2
    from kstream_nb.streams import Suppressed, windowed_serde

    hour = 3_600_000
    cluster.create_topic("hourly", partitions=3, replication_factor=3)
    cluster.create_topic("hourly-final", partitions=3, replication_factor=3)
    builder = StreamsBuilder()
    counts = (
        builder.stream("orders", timestamp_extractor=lambda order, ts: order["t"])
        .group_by(lambda k, order: order["customer_id"])
        .windowed_by(TimeWindows.of_size_with_no_grace("1h"))
        .count()
    )
    counts.to_stream().to("hourly", value_serde=Serdes.Long())  # the windowed serde, implied
    counts.suppress(Suppressed.until_window_closes()).to_stream().to(
        "hourly-final", windowed_serde(Serdes.String(), hour), Serdes.Long()
    )
    rows = [(f"O{i}", {"customer_id": f"CUST-{i % 4}", "t": i * 1000}) for i in range(8)]
    later = [(f"O{i}", {"customer_id": f"CUST-{i % 4}", "t": hour + i}) for i in range(8, 12)]
    config = {**app_config(cluster, "windowed"), "statestore.cache.max.bytes": 0}
    with KafkaStreams(builder.build(), config) as streams:
        for batch in (rows, later):  # the next hour's orders close the first hour
            produce(cluster, "orders", batch, partitioner="murmur2_random")
            for _ in range(3):
                streams.run(timeout=0.5)
    serde = windowed_serde(Serdes.String(), hour)
    for topic in ("hourly", "hourly-final"):
        records = read_records(cluster, topic)
        placed = {(serde.deserialize(m.key()).key, m.partition()) for m in records}
        assert placed == {(f"CUST-{i}", murmur2(f"CUST-{i}".encode(), 3)) for i in range(4)}
    final = [serde.deserialize(m.key()) for m in read_records(cluster, "hourly-final")]
    assert sorted((w.key, w.window.start) for w in final) == [(f"CUST-{i}", 0) for i in range(4)]


def test_more_than_max_poll_interval_between_runs_rejoins_and_loses_nothing(
    cluster: Cluster,
) -> None:
    rows = [(f"K{i}", {"customer_id": f"C{i % 3}"}) for i in range(9)]
    produce(cluster, "orders", rows)
    with KafkaStreams(count_topology().build(), app_config(cluster, "sleepy")) as streams:
        assert streams.run(count=18) == 18  # the orders, then their repartitioned copies
        cluster.advance("15min")  # max.poll.interval.ms (5 min) passes: the group moves on
        produce(cluster, "orders", rows[:3], after_ms=10)
        assert streams.run(count=6, timeout=60) == 6  # rejoined, restored, continued
        assert streams.state == "RUNNING"
        assert dict(streams.store("counts").all()) == {"C0": 4, "C1": 4, "C2": 4}
        cluster.advance("6min")
        produce(cluster, "orders", rows[3:6], after_ms=10)
        assert streams.run(count=6, timeout=60) == 6
        assert dict(streams.store("counts").all()) == {"C0": 5, "C1": 5, "C2": 5}


def test_run_timeout_is_simulated_time_on_a_simulated_cluster(cluster: Cluster) -> None:
    with KafkaStreams(count_topology().build(), app_config(cluster, "idle")) as streams:
        streams.run(timeout=2)  # joined the group, nothing to do
        moved = []
        for timeout, count in ((0.5, None), (0.5, None), (3, None), (2, 5), (0.25, 1)):
            before = cluster.now_ms()
            assert streams.run(count=count, timeout=timeout) == 0
            moved.append(cluster.now_ms() - before)
    # An idle run stops after a second of nothing to do (or timeout, if shorter); with a
    # count, at timeout. Polls never wait past it; the final commit takes a few ms.
    limits = [500, 500, 1000, 2000, 250]
    assert all(limit <= m <= limit + 20 for m, limit in zip(moved, limits, strict=True)), moved


def test_a_restarted_application_still_emits_the_final_results_it_was_holding(
    cluster: Cluster,
) -> None:
    from kstream_nb.streams import Suppressed, windowed_serde

    hour = 3_600_000
    cluster.create_topic("events", partitions=1, replication_factor=3)
    cluster.create_topic("final", partitions=1, replication_factor=3)

    def topology() -> StreamsBuilder:
        builder = StreamsBuilder()
        builder.stream(
            "events", timestamp_extractor=lambda v, ts: v["t"]
        ).group_by_key().windowed_by(TimeWindows.of_size_with_no_grace("1h")).count().suppress(
            Suppressed.until_window_closes()
        ).to_stream().to("final", value_serde=Serdes.Long())
        return builder

    def send(rows: list[tuple[str, int]]) -> None:
        producer = Producer({"bootstrap.servers": cluster.bootstrap_servers})
        for key, t in rows:
            producer.produce("events", json.dumps({"t": t}).encode(), key.encode())
        assert producer.flush(30) == 0

    send([("A", 1_000), ("B", 2_000), ("A", 3_000)])
    with KafkaStreams(topology().build(), app_config(cluster, "suppressor")) as first:
        first.run(count=3)  # the hour [0, 1h) is still open: its counts wait in the buffer
    assert read_records(cluster, "final") == []
    buffers = [t for t in cluster.topics() if "KTABLE-SUPPRESS-STATE-STORE" in t]
    assert buffers == ["suppressor-KTABLE-SUPPRESS-STATE-STORE-0000000004-changelog"]
    send([("A", hour + 1)])  # closes [0, 1h)
    with KafkaStreams(topology().build(), app_config(cluster, "suppressor")) as second:
        second.run(count=1)
    serde = windowed_serde(Serdes.String(), hour)
    final = [
        (serde.deserialize(m.key()), Serdes.Long().deserialize(m.value()))
        for m in read_records(cluster, "final")
    ]
    assert sorted((w.key, w.window.start, n) for w, n in final) == [("A", 0, 2), ("B", 0, 1)]


def windowed_count(windows: Any, store: str) -> StreamsBuilder:
    """orders grouped by key, counted per window into `store`."""
    builder = StreamsBuilder()
    builder.stream("orders").group_by_key().windowed_by(windows).count(store)
    return builder


def test_a_window_store_changelog_expires_and_restore_skips_expired_windows(
    cluster: Cluster,
) -> None:
    def hourly() -> StreamsBuilder:
        return windowed_count(TimeWindows.of_size_with_no_grace("1h"), "hourly")

    hour = 3_600_000
    produce(cluster, "orders", [("CUST-1", {"n": 1})], partitioner="murmur2_random")
    produce(
        cluster, "orders", [("CUST-1", {"n": 2})], after_ms=3 * hour, partitioner="murmur2_random"
    )
    with KafkaStreams(hourly().build(), app_config(cluster, "hours")) as first:
        first.run(count=2)
        assert len(first.store("hourly").fetch("CUST-1")) == 1  # the first hour expired
    config = cluster.topic_configs()["hours-hourly-changelog"]
    assert config["cleanup.policy"] == "compact,delete"
    assert config["retention.ms"] == str(hour + 24 * hour)  # retention + 1 day, as Kafka
    with KafkaStreams(hourly().build(), app_config(cluster, "hours")) as second:
        second.run(timeout=1.0)  # restores from the changelog; nothing new to process
        windows = second.store("hourly").fetch("CUST-1")
    # The changelog still holds the expired window's record; restoring skips it.
    assert [count for _, count in windows] == [1]


def test_a_restarted_sliding_window_count_continues_from_the_records_it_kept(
    cluster: Cluster,
) -> None:
    """Sliding windows are recomputed from the records of the last 2 x difference; those are
    logged, so a restart in the middle gives the same windows as one uninterrupted run."""
    from kstream_nb.streams import SlidingWindows

    def sliding() -> StreamsBuilder:
        return windowed_count(SlidingWindows.of_time_difference_with_no_grace("10s"), "recent")

    first_rows = [("CUST-1", {"n": i}) for i in range(3)]  # at +0, +1, +2 ms
    second_rows = [("CUST-1", {"n": i}) for i in range(3, 5)]  # at +5000, +5001 ms
    produce(cluster, "orders", first_rows, partitioner="murmur2_random")
    start = cluster.now_ms()
    with KafkaStreams(sliding().build(), app_config(cluster, "slide")) as first:
        first.run(count=3)
    produce(cluster, "orders", second_rows, after_ms=5000, partitioner="murmur2_random")
    with KafkaStreams(sliding().build(), app_config(cluster, "slide")) as second:
        second.run(count=2)
        restarted = sorted((w.start - start, n) for w, n in second.store("recent").fetch("CUST-1"))
    with KafkaStreams(sliding().build(), app_config(cluster, "slide-once")) as once:
        once.run(count=5)
        uninterrupted = sorted(
            (w.start - start, n) for w, n in once.store("recent").fetch("CUST-1")
        )
    assert restarted == uninterrupted
    assert max(n for _, n in restarted) == 5  # the window ending at the last record: all five


def test_the_record_cache_budget_is_shared_by_the_instances_tasks(cluster: Cluster) -> None:
    """statestore.cache.max.bytes bounds the whole instance, as in Kafka Streams: three tasks
    get a third each, not the whole budget each."""
    builder = StreamsBuilder()
    builder.stream("orders").group_by_key().count("counts")
    config = {**app_config(cluster, "budget"), "statestore.cache.max.bytes": 30_000}
    produce(cluster, "orders", [(f"CUST-{i}", {"n": i}) for i in range(30)])
    with KafkaStreams(builder.build(), config) as streams:
        streams.run(count=30)
        shares = [task.cache_entries for task in streams.tasks.values()]
    assert len(shares) == 3
    assert shares == [100, 100, 100]  # 30 000 bytes at ~100 bytes an entry, split three ways
