"""The DSL on the test driver: the seed's topology, stateless steps, aggregations, windows,
grace, late drops, suppress and stream-table joins, with Kafka Streams' documented results."""

from __future__ import annotations

from typing import Any

import pytest

from kstream_nb.streams import (
    Serde,
    Serdes,
    StreamsBuilder,
    StreamsError,
    Suppressed,
    TimeWindows,
    TopologyTestDriver,
    Window,
    Windowed,
)

CONFIG = {"default.key.serde": Serdes.String(), "default.value.serde": Serdes.Json()}
HOUR = 3_600_000


def seed_topology() -> tuple[StreamsBuilder, Any, Any, Any]:
    """The seed's Java topology, in Python."""
    builder = StreamsBuilder()
    orders = builder.stream("orders")
    high_value_orders = orders.filter(lambda key, order: order["amount"] > 1000)
    orders_by_customer = orders.group_by(lambda key, order: order["customer_id"]).count()
    customers = builder.table("customers")
    enriched_orders = orders.join(
        customers, lambda order, customer: {**order, "customer": customer}
    )
    orders_per_hour = (
        orders.group_by_key().windowed_by(TimeWindows.of_size_with_no_grace("1h")).count()
    )
    high_value_orders.to("high-value-orders")
    enriched_orders.to("enriched-orders")
    return builder, orders_by_customer, orders_per_hour, customers


def test_the_seed_topology_in_python() -> None:
    builder, by_customer, per_hour, _ = seed_topology()
    with TopologyTestDriver(builder.build(), CONFIG) as driver:
        customers = driver.create_input_topic("customers", Serdes.String(), Serdes.Json())
        orders = driver.create_input_topic("orders", Serdes.String(), Serdes.Json())
        customers.pipe_input("ORD-2", {"name": "Ada"}, timestamp=0)
        orders.pipe_input("ORD-1", {"customer_id": "CUST-1", "amount": 99.99}, timestamp=1_000)
        orders.pipe_input("ORD-2", {"customer_id": "CUST-2", "amount": 1500.0}, timestamp=2_000)
        orders.pipe_input("ORD-3", {"customer_id": "CUST-1", "amount": 42.0}, timestamp=HOUR + 1)

        high = driver.create_output_topic("high-value-orders", Serdes.String(), Serdes.Json())
        assert high.read_key_values_to_list() == [
            ("ORD-2", {"customer_id": "CUST-2", "amount": 1500.0})
        ]
        enriched = driver.create_output_topic("enriched-orders", Serdes.String(), Serdes.Json())
        assert enriched.read_key_values_to_list() == [
            ("ORD-2", {"customer_id": "CUST-2", "amount": 1500.0, "customer": {"name": "Ada"}})
        ]
        counts = driver.store(by_customer.store_name)
        assert dict(counts.all()) == {"CUST-1": 2, "CUST-2": 1}
        hourly = driver.store(per_hour.store_name)
        # A window store keeps windows for size + grace (1 h here) behind the newest window:
        # once the 01:00 window began, the 00:00 ones expired, as in Kafka Streams.
        assert [(k, w.start, n) for (k, w), n in hourly.all()] == [("ORD-3", HOUR, 1)]


def test_a_window_store_keeps_windows_for_its_retention() -> None:
    builder = StreamsBuilder()
    hourly = TimeWindows.of_size_and_grace("1h", "10min")
    default = builder.stream("orders").group_by_key().windowed_by(hourly).count("default")
    kept = builder.stream("more").group_by_key().windowed_by(hourly).count("kept", retention="1d")
    with pytest.raises(ValueError, match="shorter than the windows plus their grace"):
        builder.stream("x").group_by_key().windowed_by(hourly).count(retention="1h")
    with TopologyTestDriver(builder.build(), CONFIG) as driver:
        for topic in ("orders", "more"):
            sent = driver.create_input_topic(topic, Serdes.String(), Serdes.Json())
            for hour in range(4):
                sent.pipe_input("CUST-1", {"n": hour}, timestamp=hour * HOUR)
        # Retention 70 min behind the newest window start (03:00): windows starting from
        # 01:50:00.001 on are kept (Kafka's observedStreamTime - retention + 1), so 02:00 and
        # 03:00; 00:00 and 01:00 are gone.
        assert [w.start for w, _ in driver.store(default.store_name).fetch("CUST-1")] == [
            2 * HOUR,
            3 * HOUR,
        ]
        assert [w.start for w, _ in driver.store(kept.store_name).fetch("CUST-1")] == [
            0,
            HOUR,
            2 * HOUR,
            3 * HOUR,
        ]


def test_stateless_steps() -> None:
    builder = StreamsBuilder()
    words = builder.stream("lines").flat_map_values(lambda line: line.split())
    words.filter_not(lambda k, w: w == "the").map(lambda k, w: (w, len(w))).to(
        "lengths", value_serde=Serdes.Integer()
    )
    words.select_key(lambda k, w: w[0]).map_values(lambda k, w: f"{k}:{w}").to("initials")
    seen: list[str] = []
    words.peek(lambda k, w: seen.append(w)).foreach(lambda k, w: None)
    config = {"default.key.serde": Serdes.String(), "default.value.serde": Serdes.String()}
    with TopologyTestDriver(builder.build(), config) as driver:
        driver.create_input_topic("lines", Serdes.String(), Serdes.String()).pipe_input(
            None, "the quick fox"
        )
        lengths = driver.create_output_topic("lengths", Serdes.String(), Serdes.Integer())
        assert lengths.read_key_values_to_list() == [("quick", 5), ("fox", 3)]
        initials = driver.create_output_topic("initials", Serdes.String(), Serdes.String())
        assert initials.read_key_values_to_list() == [
            ("t", "t:the"),
            ("q", "q:quick"),
            ("f", "f:fox"),
        ]
    assert seen == ["the", "quick", "fox"]


def test_split_merge_and_a_topic_chosen_per_record() -> None:
    builder = StreamsBuilder()
    branches = (
        builder.stream("n")
        .split(prefix="n-")
        .branch(lambda k, v: v < 0, "negative")
        .branch(lambda k, v: v < 10, "small")
        .default_branch("large")
    )
    assert set(branches) == {"n-negative", "n-small", "n-large"}
    branches["n-negative"].merge(branches["n-large"]).to(lambda k, v: f"out-{v % 2}")
    config = {"default.key.serde": Serdes.String(), "default.value.serde": Serdes.Integer()}
    with TopologyTestDriver(builder.build(), config) as driver:
        driver.create_input_topic("n", Serdes.String(), Serdes.Integer()).pipe_value_list(
            [-3, 4, 11, 12]
        )
        even = driver.create_output_topic("out-0", Serdes.String(), Serdes.Integer())
        odd = driver.create_output_topic("out-1", Serdes.String(), Serdes.Integer())
        assert even.read_values_to_list() == [12]
        assert odd.read_values_to_list() == [-3, 11]


def test_group_by_goes_through_a_repartition_topic() -> None:
    builder = StreamsBuilder()
    builder.stream("orders").group_by(lambda k, o: o["customer_id"]).count().to_stream().to(
        "counts", value_serde=Serdes.Long()
    )
    topology = builder.build()
    assert len(topology.subtopologies) == 2
    assert topology.repartition_topics() == ["KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition"]
    assert "Sub-topology: 1" in topology.describe()
    with TopologyTestDriver(topology, CONFIG) as driver:
        orders = driver.create_input_topic("orders", Serdes.String(), Serdes.Json())
        for i, customer in enumerate(["C1", "C2", "C1"]):
            orders.pipe_input(f"O{i}", {"customer_id": customer}, timestamp=i)
        out = driver.create_output_topic("counts", Serdes.String(), Serdes.Long())
        assert out.read_key_values_to_list() == [("C1", 1), ("C2", 1), ("C1", 2)]


def test_reduce_aggregate_and_table_operations() -> None:
    builder = StreamsBuilder()
    grouped = builder.stream("sales").group_by_key()
    grouped.reduce(lambda a, b: a + b, materialized="totals")
    (
        grouped.aggregate(lambda: [], lambda k, v, agg: [*agg, v], materialized="history")
        .filter(lambda k, hist: len(hist) > 1)
        .map_values(lambda hist: sum(hist))
        .to_stream()
        .to("busy", value_serde=Serdes.Json())
    )
    config = {"default.key.serde": Serdes.String(), "default.value.serde": Serdes.Json()}
    with TopologyTestDriver(builder.build(), config) as driver:
        sales = driver.create_input_topic("sales", Serdes.String(), Serdes.Json())
        sales.pipe_key_value_list([("a", 1), ("b", 5), ("a", 2), ("a", None), (None, 9)])
        assert dict(driver.store("totals").all()) == {"a": 3, "b": 5}
        assert dict(driver.store("history").all()) == {"a": [1, 2], "b": [5]}
        busy = driver.create_output_topic("busy", Serdes.String(), Serdes.Json())
        assert busy.read_key_values_to_list() == [("a", 3)]


def test_tumbling_windows_grace_and_late_records() -> None:
    # Kafka Streams docs: a record is dropped once stream time passes window end + grace.
    builder = StreamsBuilder()
    windows = TimeWindows.of_size_and_grace(10_000, 5_000)
    table = builder.stream("clicks").group_by_key().windowed_by(windows).count()
    table.to_stream().to("counts", value_serde=Serdes.Long())
    config = {"default.key.serde": Serdes.String(), "default.value.serde": Serdes.String()}
    with TopologyTestDriver(builder.build(), config) as driver:
        clicks = driver.create_input_topic("clicks", Serdes.String(), Serdes.String())
        clicks.pipe_input("u", "a", timestamp=1_000)  # window [0, 10s)
        clicks.pipe_input("u", "b", timestamp=12_000)  # [10s, 20s); stream time 12 s
        clicks.pipe_input("u", "c", timestamp=9_000)  # late but within grace: counted
        clicks.pipe_input("u", "d", timestamp=15_000)  # stream time 15 s: [0,10s) closes
        clicks.pipe_input("u", "e", timestamp=2_000)  # past grace: dropped
        assert driver.dropped_late_records == 1
        store = driver.store(table.store_name)
        assert store.fetch("u") == [(Window(0, 10_000), 2), (Window(10_000, 20_000), 2)]
        out = driver.create_output_topic("counts", Serdes.String(), Serdes.Long())
        assert [v for _, v, _ in out.read_records_to_list()] == [1, 1, 2, 2]


def test_hopping_windows_cover_each_record_size_over_advance_times() -> None:
    windows = TimeWindows.of_size_with_no_grace("5min").advance_by("1min")
    assert [w.start for w in windows.windows_for(7 * 60_000)] == [m * 60_000 for m in range(3, 8)]
    assert windows.windows_for(0) == [Window(0, 300_000)]  # aligned to the epoch, never negative
    with pytest.raises(ValueError, match="advance"):
        TimeWindows.of_size_with_no_grace(1000).advance_by(2000)


def test_suppress_emits_only_final_results_when_windows_close() -> None:
    builder = StreamsBuilder()
    (
        builder.stream("clicks")
        .group_by_key()
        .windowed_by(TimeWindows.of_size_and_grace(10_000, 2_000))
        .count()
        .suppress(Suppressed.until_window_closes())
        .to_stream()
        .to("final", value_serde=Serdes.Long())
    )
    config = {"default.key.serde": Serdes.String(), "default.value.serde": Serdes.String()}
    with TopologyTestDriver(builder.build(), config) as driver:
        clicks = driver.create_input_topic("clicks", Serdes.String(), Serdes.String())
        for ts in (1_000, 3_000, 9_999, 11_000):
            clicks.pipe_input("u", "x", timestamp=ts)
        final = driver.create_output_topic("final", Serdes.String(), Serdes.Long())
        assert final.is_empty()  # stream time 11 s < end 10 s + grace 2 s
        clicks.pipe_input("v", "x", timestamp=12_000)  # now [0, 10 s) closes
        records = final.read_records_to_list()
        assert [v for _, v, _ in records] == [3]


def test_windowed_keys_are_written_with_kafkas_windowed_serde() -> None:
    from kstream_nb.streams import windowed_serde

    builder = StreamsBuilder()
    builder.stream("clicks").group_by_key().windowed_by(
        TimeWindows.of_size_with_no_grace(1000)
    ).count().to_stream().to("out", value_serde=Serdes.Long())
    config = {"default.key.serde": Serdes.String(), "default.value.serde": Serdes.String()}
    with TopologyTestDriver(builder.build(), config) as driver:
        driver.create_input_topic("clicks", Serdes.String(), Serdes.String()).pipe_input(
            "u", "x", timestamp=2500
        )
        out = driver.create_output_topic(
            "out", windowed_serde(Serdes.String(), 1000), Serdes.Long()
        )
        assert out.read_key_value() == (Windowed("u", Window(2000, 3000)), 1)


def test_left_join_and_table_updates() -> None:
    builder = StreamsBuilder()
    prices = builder.table("prices")
    builder.stream("orders").left_join(prices, lambda qty, price: [qty, price]).to("priced")
    with TopologyTestDriver(builder.build(), CONFIG) as driver:
        price_in = driver.create_input_topic("prices", Serdes.String(), Serdes.Json())
        orders = driver.create_input_topic("orders", Serdes.String(), Serdes.Json())
        orders.pipe_input("apple", 1)
        price_in.pipe_input("apple", 3)
        orders.pipe_input("apple", 2)
        price_in.pipe_input("apple", None)  # a tombstone deletes the row
        orders.pipe_input("apple", 5)
        out = driver.create_output_topic("priced", Serdes.String(), Serdes.Json())
        assert out.read_values_to_list() == [[1, None], [2, 3], [5, None]]


def test_bad_input_fails_or_is_logged_and_skipped_with_its_position() -> None:
    builder = StreamsBuilder()
    builder.stream("n", value_serde=Serdes.Json()).to("out")
    with (
        TopologyTestDriver(builder.build(), CONFIG) as driver,
        pytest.raises(StreamsError, match="cannot deserialize the record at n-0@0"),
    ):
        driver.pipe_raw("n", b"k", b"{not json")
    config = {**CONFIG, "default.deserialization.exception.handler": "log_and_continue"}
    with TopologyTestDriver(builder.build(), config) as driver:
        driver.pipe_raw("n", b"k", b"{not json")
        driver.pipe_raw("n", b"k", b"[1]")
        assert driver.skipped == [
            "n-0@0: json serde cannot deserialize b'{not json': "
            + driver.skipped[0].split(": ", 2)[2]
        ]
        assert driver.create_output_topic("out").get_queue_size() == 1


def test_a_key_that_is_not_utf8_is_reported_by_the_string_serde() -> None:
    """Sources decode str keys with `bytes.decode` (the serde's fast path for bytes); a bad
    key is still explained in the string serde's own words, and the serde itself still reads
    any buffer."""
    builder = StreamsBuilder()
    builder.stream("n", key_serde=Serdes.String()).to("out")
    config = {**CONFIG, "default.deserialization.exception.handler": "log_and_continue"}
    with TopologyTestDriver(builder.build(), config) as driver:
        driver.pipe_raw("n", b"\xff\xfe", b"1")
        driver.pipe_raw("n", "ключ".encode(), b"2")
        assert driver.skipped[0].startswith("n-0@0: string serde cannot deserialize b'\\xff\\xfe'")
        assert driver.create_output_topic("out", Serdes.String()).read_key_values_to_list() == [
            ("ключ", b"2")
        ]
    assert Serdes.String().deserialize(memoryview(b"abc")) == "abc"  # type: ignore[arg-type]
    assert Serdes.String().deserializer()(b"abc") == "abc"


def test_a_timestamp_extractor_gives_event_time_from_the_value() -> None:
    builder = StreamsBuilder()
    table = (
        builder.stream("orders", timestamp_extractor=lambda order, ts: order["created_ms"])
        .group_by_key()
        .windowed_by(TimeWindows.of_size_with_no_grace(HOUR))
        .count()
    )
    with TopologyTestDriver(builder.build(), CONFIG) as driver:
        orders = driver.create_input_topic("orders", Serdes.String(), Serdes.Json())
        orders.pipe_input("C1", {"created_ms": 2 * HOUR + 5}, timestamp=0)
        orders.pipe_input("C1", {"created_ms": 2 * HOUR + 9}, timestamp=HOUR * 50)
        assert driver.store(table.store_name).fetch("C1") == [(Window(2 * HOUR, 3 * HOUR), 2)]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("join", [["a", "x"]]),
        ("left_join", [["a", "x"], ["b", None]]),
        ("outer_join", [["a", "x"], ["b", None], [None, "y"]]),
    ],
)
def test_stream_stream_joins_within_a_window(kind: str, expected: list[list[Any]]) -> None:
    # Kafka Streams 3.x: a record with no partner is emitted with null only after its window
    # (here 10 s, no grace) has closed, never before a late match.
    from kstream_nb.streams import JoinWindows

    builder = StreamsBuilder()
    left, right = builder.stream("left"), builder.stream("right")
    windows = JoinWindows.of_time_difference_with_no_grace("10s")
    getattr(left, kind)(right, lambda a, b: [a, b], windows).to("joined")
    with TopologyTestDriver(builder.build(), CONFIG) as driver:
        lefts = driver.create_input_topic("left", Serdes.String(), Serdes.Json())
        rights = driver.create_input_topic("right", Serdes.String(), Serdes.Json())
        lefts.pipe_input("A", "a", timestamp=0)
        rights.pipe_input("A", "x", timestamp=5_000)  # within 10 s of "a"
        lefts.pipe_input("A", "b", timestamp=30_000)
        rights.pipe_input("A", "y", timestamp=50_000)  # 20 s after "b": no match; b's window closed
        lefts.pipe_input("A", "c", timestamp=70_000)  # y's window closed
        out = driver.create_output_topic("joined", Serdes.String(), Serdes.Json())
        records = out.read_records_to_list()
        assert [v for _, v, _ in records] == expected
        assert records[0][2] == 5_000  # a join result carries the later of the two timestamps


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("join", [[1, 10], None]),
        ("left_join", [[1, None], [1, 10], None]),
        ("outer_join", [[1, None], [1, 10], [None, 10], None]),
    ],
)
def test_table_table_joins(kind: str, expected: list[Any]) -> None:
    builder = StreamsBuilder()
    left, right = builder.table("left"), builder.table("right")
    getattr(left, kind)(right, lambda a, b: [a, b]).to_stream().to("joined")
    with TopologyTestDriver(builder.build(), CONFIG) as driver:
        lefts = driver.create_input_topic("left", Serdes.String(), Serdes.Json())
        rights = driver.create_input_topic("right", Serdes.String(), Serdes.Json())
        lefts.pipe_input("k", 1)
        rights.pipe_input("k", 10)
        lefts.pipe_input("k", None)  # the left row is deleted
        rights.pipe_input("k", None)
        out = driver.create_output_topic("joined", Serdes.String(), Serdes.Json())
        assert out.read_values_to_list() == expected


def test_joins_need_windows_and_stores() -> None:
    builder = StreamsBuilder()
    stream = builder.stream("s")
    with pytest.raises(ValueError, match="JoinWindows"):
        stream.join(builder.stream("t"), lambda a, b: a)
    derived = builder.table("t").filter(lambda k, v: True)
    with pytest.raises(ValueError, match="need a store"):
        derived.join(builder.table("u"), lambda a, b: a)


def test_session_windows_merge_and_drop_late_records() -> None:
    from kstream_nb.streams import SessionWindows

    minute = 60_000
    seen: list[tuple[str, int, int, Any]] = []
    builder = StreamsBuilder()
    (
        builder.stream("clicks")
        .group_by_key()
        .windowed_by(SessionWindows.of_inactivity_gap_and_grace("5min", "10min"))
        .count("sessions")
        .to_stream()
        .foreach(lambda k, v: seen.append((k.key, k.window.start, k.window.end, v)))
    )
    config = {"default.key.serde": Serdes.String(), "default.value.serde": Serdes.String()}
    with TopologyTestDriver(builder.build(), config) as driver:
        clicks = driver.create_input_topic("clicks", Serdes.String(), Serdes.String())
        clicks.pipe_input("alice", "x", timestamp=0)
        clicks.pipe_input("alice", "x", timestamp=6 * minute)  # more than 5 min later: new session
        clicks.pipe_input("bob", "x", timestamp=7 * minute)
        clicks.pipe_input("alice", "x", timestamp=3 * minute)  # bridges both sessions: one merge
        assert seen == [
            ("alice", 0, 0, 1),
            ("alice", 6 * minute, 6 * minute, 1),
            ("bob", 7 * minute, 7 * minute, 1),
            ("alice", 0, 0, None),  # the merged-away sessions are deleted...
            ("alice", 6 * minute, 6 * minute, None),
            ("alice", 0, 6 * minute, 3),  # ...and the merged session holds all three
        ]
        clicks.pipe_input("bob", "x", timestamp=30 * minute)  # stream time 30 min
        clicks.pipe_input("alice", "x", timestamp=2 * minute)  # session ends 6 min: past grace
        assert driver.dropped_late_records == 1
        assert driver.store("sessions").get("alice") == [[0, 6 * minute, 3]]


def test_session_results_are_written_with_kafkas_session_windowed_serde() -> None:
    from kstream_nb.streams import SessionWindow, SessionWindows, session_windowed_serde

    builder = StreamsBuilder()
    builder.stream("clicks").group_by_key().windowed_by(
        SessionWindows.of_inactivity_gap_with_no_grace(1000)
    ).count().to_stream().to("out", value_serde=Serdes.Long())
    config = {"default.key.serde": Serdes.String(), "default.value.serde": Serdes.String()}
    with TopologyTestDriver(builder.build(), config) as driver:
        clicks = driver.create_input_topic("clicks", Serdes.String(), Serdes.String())
        clicks.pipe_input("u", "x", timestamp=100)
        clicks.pipe_input("u", "x", timestamp=600)
        out = driver.create_output_topic(
            "out", session_windowed_serde(Serdes.String()), Serdes.Long()
        )
        assert out.read_key_values_to_list() == [
            (Windowed("u", SessionWindow(100, 100)), 1),
            (Windowed("u", SessionWindow(100, 100)), None),
            (Windowed("u", SessionWindow(100, 600)), 2),
        ]


def test_a_global_table_joins_by_any_key_without_co_partitioning() -> None:
    builder = StreamsBuilder()
    products = builder.global_table("products", Serdes.String(), Serdes.Json())
    orders = builder.stream("orders")
    orders.join(products, lambda key, order: order["sku"], lambda o, p: {**o, "name": p}).to(
        "named"
    )
    orders.left_join(products, lambda key, order: order["sku"], lambda o, p: [o["sku"], p]).to(
        "all"
    )
    assert "Global store" in builder.build().describe()
    with TopologyTestDriver(builder.build(), CONFIG) as driver:
        driver.create_input_topic("products", Serdes.String(), Serdes.Json()).pipe_input(
            "p1", "Pen"
        )
        orders_in = driver.create_input_topic("orders", Serdes.String(), Serdes.Json())
        orders_in.pipe_input("C1", {"sku": "p1"})
        orders_in.pipe_input("C2", {"sku": "p2"})
        named = driver.create_output_topic("named", Serdes.String(), Serdes.Json())
        assert named.read_key_values_to_list() == [("C1", {"sku": "p1", "name": "Pen"})]
        everything = driver.create_output_topic("all", Serdes.String(), Serdes.Json())
        assert everything.read_values_to_list() == [["p1", "Pen"], ["p2", None]]
        assert driver.store(products.store_name).get("p1") == "Pen"


def test_processing_errors_and_the_dead_letter_topic() -> None:
    builder = StreamsBuilder()
    builder.stream("n", value_serde=Serdes.Json()).map_values(lambda v: 100 // v).to("out")
    with (
        TopologyTestDriver(builder.build(), CONFIG) as driver,
        pytest.raises(StreamsError, match=r"cannot process the record at n-0@0: integer division"),
    ):
        driver.pipe_raw("n", b"k", b"0")
    config = {
        **CONFIG,
        "processing.exception.handler": "log_and_continue",
        "default.deserialization.exception.handler": "log_and_continue",
        "errors.dead.letter.queue.topic.name": "dlq",
    }
    with TopologyTestDriver(builder.build(), config) as driver:
        driver.pipe_raw("n", b"a", b"0")  # the function raises
        driver.pipe_raw("n", b"b", b"{bad")  # cannot be read
        driver.pipe_raw("n", b"c", b"4")
        assert driver.create_output_topic(
            "out", Serdes.String(), Serdes.Json()
        ).read_values_to_list() == [25]
        dead = driver.create_output_topic("dlq").read_key_values_to_list()
        assert dead == [(b"a", b"0"), (b"b", b"{bad")]  # as they came, bytes untouched
        assert [s.split(":")[0] for s in driver.skipped] == ["n-0@0", "n-0@1"]


def test_a_regrouped_table_adds_new_rows_and_subtracts_replaced_ones() -> None:
    builder = StreamsBuilder()
    regions = (
        builder.table("user-regions")
        .group_by(lambda user, region: (region, user))
        .count("users-per-region")
    )
    regions.to_stream().to("region-counts", value_serde=Serdes.Long())
    config = {"default.key.serde": Serdes.String(), "default.value.serde": Serdes.String()}
    with TopologyTestDriver(builder.build(), config) as driver:
        users = driver.create_input_topic("user-regions", Serdes.String(), Serdes.String())
        users.pipe_input("alice", "EU")
        users.pipe_input("bob", "EU")
        users.pipe_input("alice", "US")  # moves: EU loses her, US gains her
        users.pipe_input("bob", None)  # deleted: EU loses him
        out = driver.create_output_topic("region-counts", Serdes.String(), Serdes.Long())
        assert out.read_key_values_to_list() == [
            ("EU", 1),
            ("EU", 2),
            ("EU", 1),
            ("US", 1),
            ("EU", 0),
        ]
        assert dict(driver.store("users-per-region").all()) == {"EU": 0, "US": 1}


def test_a_topology_draws_itself_as_a_mermaid_graph() -> None:
    builder, *_ = seed_topology()
    graph = builder.build()._repr_markdown_()
    assert graph.startswith("```mermaid\nflowchart LR\n")
    assert graph.count("subgraph") == graph.count("\n  end") == 2
    assert '{{"orders"}}' in graph
    assert "KSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition" in graph
    assert "-.-" in graph  # processors are tied to their stores


def test_the_processor_api_with_state_and_both_punctuations() -> None:
    from kstream_nb.streams import Processor, ProcessorContext, PunctuationType, Record

    fired: list[tuple[str, int]] = []

    class Deduplicate(Processor):
        def init(self, context: ProcessorContext) -> None:
            self.context = context
            self.seen = context.get_state_store("seen")
            context.schedule(1000, PunctuationType.STREAM_TIME, lambda t: fired.append(("s", t)))
            context.schedule(
                5000, PunctuationType.WALL_CLOCK_TIME, lambda t: fired.append(("w", t))
            )

        def process(self, record: Record) -> None:
            if self.seen.get(record.key) is None:
                self.seen.put(record.key, record.timestamp)
                self.context.forward(record)

    builder = StreamsBuilder()
    builder.add_state_store("seen")
    builder.stream("events").process(Deduplicate, "seen").to("unique")
    with pytest.raises(ValueError, match="add_state_store"):
        builder.stream("x").process(Deduplicate, "missing")
    with TopologyTestDriver(builder.build(), CONFIG, start_ms=0) as driver:
        events = driver.create_input_topic("events", Serdes.String(), Serdes.Json())
        events.pipe_input("a", 1, timestamp=0)  # stream time starts: first due at 1000
        events.pipe_input("a", 2, timestamp=500)  # a duplicate key: dropped
        events.pipe_input("b", 3, timestamp=2500)  # due: fires once at 2500, next due 3000
        events.pipe_input("c", 4, timestamp=2600)
        driver.advance_wall_clock_time(4000)
        driver.advance_wall_clock_time(1000)  # wall clock 5000: due
        out = driver.create_output_topic("unique", Serdes.String(), Serdes.Json())
        assert out.read_key_values_to_list() == [("a", 1), ("b", 3), ("c", 4)]
        assert fired == [("s", 2500), ("w", 5000)]
        assert driver.store("seen").get("b") == 2500


def test_sliding_windows_hold_records_at_most_the_difference_apart() -> None:
    # KIP-450: each record makes the window ending at it and, if a record falls in it, the
    # one starting 1 ms after it; with a 10 s difference and records at 5 s, 8 s and 20 s:
    from kstream_nb.streams import SlidingWindows

    builder = StreamsBuilder()
    table = (
        builder.stream("clicks")
        .group_by_key()
        .windowed_by(SlidingWindows.of_time_difference_with_no_grace("10s"))
        .count("sliding")
    )
    assert table.store_name == "sliding"
    config = {"default.key.serde": Serdes.String(), "default.value.serde": Serdes.String()}
    with TopologyTestDriver(builder.build(), config) as driver:
        clicks = driver.create_input_topic("clicks", Serdes.String(), Serdes.String())
        for ts in (5_000, 8_000, 20_000):
            clicks.pipe_input("u", "x", timestamp=ts)
        windows = {(w.start, w.end): n for w, n in driver.store("sliding").fetch("u", -(10**9))}
        assert windows == {
            (-5_000, 5_000): 1,
            (-2_000, 8_000): 2,  # 5 s and 8 s are 3 s apart: one window holds both
            (5_001, 15_001): 1,  # from 1 ms after 5 s: only 8 s
            (10_000, 20_000): 1,  # 20 s is 12 s after 8 s: alone
        }  # no window right after 8 s or 20 s: none would hold a record
        clicks.pipe_input("u", "x", timestamp=1_000)  # stream time 20 s: its windows closed
        assert driver.dropped_late_records == 1


@pytest.mark.parametrize("kind", ["join", "left_join"])
def test_foreign_key_joins_follow_both_sides(kind: str) -> None:
    builder = StreamsBuilder()
    orders, customers = builder.table("orders"), builder.table("customers")
    joined = getattr(orders, kind)(
        customers,
        lambda order, customer: [order["item"], customer],
        foreign_key=lambda o: o["cust"],
    )
    joined.to_stream().to("orders-with-names")
    with TopologyTestDriver(builder.build(), CONFIG) as driver:
        order_in = driver.create_input_topic("orders", Serdes.String(), Serdes.Json())
        customer_in = driver.create_input_topic("customers", Serdes.String(), Serdes.Json())
        out = driver.create_output_topic("orders-with-names", Serdes.String(), Serdes.Json())
        customer_in.pipe_input("C1", "Ada")
        order_in.pipe_input("O1", {"item": "pen", "cust": "C1"})
        order_in.pipe_input("O2", {"item": "ink", "cust": "C2"})  # no such customer yet
        # As Kafka's resolver does, an inner join answers "no right row" with a tombstone.
        assert out.read_key_values_to_list() == (
            [("O1", ["pen", "Ada"]), ("O2", None)]
            if kind == "join"
            else [("O1", ["pen", "Ada"]), ("O2", ["ink", None])]
        )
        customer_in.pipe_input("C2", "Bob")  # the right side arrives: O2 joins now
        customer_in.pipe_input("C1", "Ada L.")  # a right row changes: its left rows follow
        order_in.pipe_input("O1", {"item": "pen", "cust": "C2"})  # the foreign key moves
        customer_in.pipe_input("C1", "Ada again")  # O1 no longer points at C1: nothing
        order_in.pipe_input("O2", None)  # a left row deleted: its result goes too
        assert out.read_key_values_to_list() == [
            ("O2", ["ink", "Bob"]),
            ("O1", ["pen", "Ada L."]),
            ("O1", ["pen", "Bob"]),
            ("O2", None),
        ]


def test_import_star_gives_every_name_in_all() -> None:
    import kstream_nb.streams as streams

    namespace: dict[str, Any] = {}
    exec("from kstream_nb.streams import *", namespace)  # what users type
    missing = [name for name in streams.__all__ if not hasattr(streams, name)]
    assert missing == []
    assert all(name in namespace for name in streams.__all__)
    assert namespace["SlidingWindowedKStream"].__name__ == "SlidingWindowedKStream"


def test_a_join_after_a_key_change_repartitions_first_as_kafka_describes_it() -> None:
    from kstream_nb.streams import JoinWindows

    builder = StreamsBuilder()
    orders = builder.stream("orders").select_key(lambda k, v: v["order_id"])
    orders.join(
        builder.stream("payments"),
        lambda order, payment: [order["order_id"], payment["paid"]],
        JoinWindows.of_time_difference_with_no_grace("10min"),
    ).to("paid-orders")
    topology = builder.build()
    assert topology.repartition_topics() == ["KSTREAM-KEY-SELECT-0000000001-repartition"]
    # Kafka Streams' names and layout: the null-key filter, then the sink; sink, filter and
    # source numbered in that order.
    assert topology.describe().startswith(
        "Topologies:\n"
        "   Sub-topology: 0\n"
        "    Source: KSTREAM-SOURCE-0000000000 (topics: [orders])\n"
        "      --> KSTREAM-KEY-SELECT-0000000001\n"
        "    Processor: KSTREAM-KEY-SELECT-0000000001 (stores: [])\n"
        "      --> KSTREAM-FILTER-0000000004\n"
        "      <-- KSTREAM-SOURCE-0000000000\n"
        "    Processor: KSTREAM-FILTER-0000000004 (stores: [])\n"
        "      --> KSTREAM-SINK-0000000003\n"
        "      <-- KSTREAM-KEY-SELECT-0000000001\n"
        "    Sink: KSTREAM-SINK-0000000003 (topic: KSTREAM-KEY-SELECT-0000000001-repartition)\n"
        "      <-- KSTREAM-FILTER-0000000004\n"
        "\n"
        "   Sub-topology: 1\n"
    )
    assert (
        "    Source: KSTREAM-SOURCE-0000000005 "
        "(topics: [KSTREAM-KEY-SELECT-0000000001-repartition])\n"
        "      --> KSTREAM-JOINTHIS-0000000007\n"
    ) in topology.describe()
    join_sub = next(s for s in topology.subtopologies if "payments" in s.sources)
    assert set(join_sub.sources) == {"payments", "KSTREAM-KEY-SELECT-0000000001-repartition"}
    with TopologyTestDriver(topology, CONFIG) as driver:
        driver.create_input_topic("orders", Serdes.String(), Serdes.Json()).pipe_input(
            "CUST-1", {"order_id": "ORD-1"}, timestamp=1
        )
        driver.create_input_topic("payments", Serdes.String(), Serdes.Json()).pipe_input(
            "ORD-1", {"paid": 5}, timestamp=2
        )
        out = driver.create_output_topic("paid-orders", Serdes.String(), Serdes.Json())
        assert out.read_key_values_to_list() == [("ORD-1", ["ORD-1", 5])]


def test_which_joins_repartition() -> None:
    from kstream_nb.streams import JoinWindows

    window = JoinWindows.of_time_difference_with_no_grace("1min")
    builder = StreamsBuilder()
    left = builder.stream("a").map(lambda k, v: (v, v))
    right = builder.stream("b").flat_map(lambda k, v: [(v, v)])
    left.join(right, lambda x, y: x, window).to("both")  # both sides re-keyed
    table = builder.table("t")
    builder.stream("c").select_key(lambda k, v: v).filter(lambda k, v: True).join(
        table, lambda x, y: x
    ).to("stream-table")
    builder.stream("d").map_values(lambda v: v).join(table, lambda x, y: x).to("same-key")
    builder.stream("e").process(lambda: None).join(table, lambda x, y: x).to("processed")
    builder.stream("f").select_key(lambda k, v: v).repartition().join(table, lambda x, y: x).to(
        "explicit"
    )
    assert builder.build().repartition_topics() == [
        "KSTREAM-MAP-0000000001-repartition",
        "KSTREAM-FLATMAP-0000000003-repartition",
        "KSTREAM-FILTER-0000000020-repartition",  # the filter after select_key: its last node
        "KSTREAM-PROCESSOR-0000000031-repartition",  # process() may change keys (Kafka 3.x)
        "KSTREAM-REPARTITION-0000000039-repartition",  # explicit: no second repartition
    ]


def test_a_re_keyed_stream_joined_twice_is_repartitioned_once() -> None:
    from kstream_nb.streams import JoinWindows

    builder = StreamsBuilder()
    rekeyed = builder.stream("orders").select_key(lambda k, v: v["id"])
    rekeyed.join(builder.table("a"), lambda x, y: [x["id"], y]).to("with-a")
    rekeyed.join(builder.table("b"), lambda x, y: [x["id"], y]).to("with-b")
    rekeyed.join(
        rekeyed, lambda x, y: [x["n"], y["n"]], JoinWindows.of_time_difference_with_no_grace(5)
    ).to("self")
    topology = builder.build()
    assert topology.repartition_topics() == ["KSTREAM-KEY-SELECT-0000000001-repartition"]
    with TopologyTestDriver(topology, CONFIG) as driver:
        driver.create_input_topic("a", Serdes.String(), Serdes.Json()).pipe_input("X", "A")
        driver.create_input_topic("b", Serdes.String(), Serdes.Json()).pipe_input("X", "B")
        orders = driver.create_input_topic("orders", Serdes.String(), Serdes.Json())
        orders.pipe_input("k", {"id": "X", "n": 1}, timestamp=10)
        for topic, expected in (("with-a", ["X", "A"]), ("with-b", ["X", "B"])):
            out = driver.create_output_topic(topic, Serdes.String(), Serdes.Json())
            assert out.read_key_values_to_list() == [("X", expected)]
        out = driver.create_output_topic("self", Serdes.String(), Serdes.Json())
        assert out.read_key_values_to_list() == [("X", [1, 1])]


def test_the_suppression_buffer_changelog_format_round_trips() -> None:
    from kstream_nb.streams.dsl import _BufferKeySerde, _BufferValueSerde
    from kstream_nb.streams.topology import Change
    from kstream_nb.streams.windows import SessionWindow

    session_keys = _BufferKeySerde(None, session=True).resolved(Serdes.String())
    key = Windowed("A", SessionWindow(5, 9))
    assert session_keys.deserialize(session_keys.serialize(key)) == key
    time_keys = _BufferKeySerde(Serdes.Integer(), session=False).resolved(Serdes.String())
    assert time_keys.deserialize(time_keys.serialize(Windowed(7, Window(0, 10)))) == Windowed(
        7, Window(0, 10)
    )
    values = _BufferValueSerde(None).resolved(Serdes.Long())
    entry = (Change(3, None), 123, (("h", b"x"), ("n", None)))
    assert values.deserialize(values.serialize(entry)) == entry


class _Upper(Serde):
    """A serde subclass that deserializes its own way (no functions handed to Serde)."""

    def __init__(self) -> None:
        super().__init__(lambda s: s.encode(), lambda b: b.decode(), "upper")

    def deserialize(self, data: bytes | None) -> Any:
        if data == b"bad":
            raise ValueError("upper refuses 'bad'")
        return None if data is None else data.decode().upper()


def test_a_source_uses_a_serde_subclasss_own_deserialize() -> None:
    builder = StreamsBuilder()
    builder.stream("n", value_serde=_Upper()).to("out", value_serde=Serdes.String())
    config = {**CONFIG, "default.deserialization.exception.handler": "log_and_continue"}
    with TopologyTestDriver(builder.build(), config) as driver:
        driver.pipe_raw("n", b"k", b"abc")
        driver.pipe_raw("n", b"k", b"bad")
        assert driver.create_output_topic(
            "out", value_serde=Serdes.String()
        ).read_values_to_list() == ["ABC"]
        assert len(driver.skipped) == 1
        assert "upper refuses 'bad'" in driver.skipped[0]


class _Shout(Serde):
    """A serde subclass that serializes its own way."""

    def __init__(self) -> None:
        super().__init__(lambda s: s.encode(), lambda b: b.decode(), "shout")

    def serialize(self, value: Any) -> bytes | None:
        return None if value is None else value.upper().encode()


def test_a_value_or_key_a_sink_cannot_serialize_is_explained_by_its_serde() -> None:
    """Sinks call the serdes' bare functions; a failure is still reported in the serde's own
    words, and a serde subclass's own `serialize` is used."""
    builder = StreamsBuilder()
    stream = builder.stream("n", key_serde=Serdes.String(), value_serde=Serdes.Json())
    stream.filter(lambda key, value: not isinstance(value, str)).to(
        "longs", value_serde=Serdes.Long()
    )
    stream.filter(lambda key, value: not isinstance(value, list)).select_key(
        lambda key, value: value
    ).to("keyed", key_serde=Serdes.String(), value_serde=_Shout())
    with (
        TopologyTestDriver(builder.build(), CONFIG) as driver,
        pytest.raises(StreamsError, match=r"n-0@0: long serde cannot serialize \[1\]"),
    ):
        driver.pipe_raw("n", b"k", b"[1]")
    config = {**CONFIG, "processing.exception.handler": "log_and_continue"}
    with TopologyTestDriver(builder.build(), config) as driver:
        driver.pipe_raw("n", b"k", b"7")  # Long writes 7; the str key serde cannot take 7
        driver.pipe_raw("n", b"k", b'"ab"')
        driver.pipe_raw("n", b"k", b"[1]")
        assert [s.split(": ")[1] for s in driver.skipped] == [
            "string serde cannot serialize 7",
            "long serde cannot serialize [1]",
        ]
        longs = driver.create_output_topic("longs", Serdes.String(), Serdes.Long())
        assert longs.read_key_values_to_list() == [("k", 7)]
        keyed = driver.create_output_topic("keyed", Serdes.String(), Serdes.String())
        assert keyed.read_key_values_to_list() == [("ab", "AB")]
