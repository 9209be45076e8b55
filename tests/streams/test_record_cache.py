"""The record cache (`statestore.cache.max.bytes`) as Kafka Streams' ThreadCache behaves."""

from __future__ import annotations

from typing import Any

from kstream_nb.streams import Processor, ProcessorContext, Record, Serdes, StreamsBuilder
from kstream_nb.streams.topology import Task


def two_counts() -> Any:
    builder = StreamsBuilder()
    orders = builder.stream("orders")
    orders.group_by_key().count("a").to_stream().to("out-a", value_serde=Serdes.Long())
    orders.group_by_key().count("b").to_stream().to("out-b", value_serde=Serdes.Long())
    return builder.build()


def test_an_overflowing_cache_flushes_only_its_store_in_last_update_order() -> None:
    topology = two_counts()
    (sub,) = topology.subtopologies
    out: list[tuple[str, str, int]] = []

    def collect(topic: str, key: Any, value: Any, *rest: Any) -> None:
        out.append((topic, key.decode(), Serdes.Long().deserialize(value)))

    task = Task(
        topology,
        sub,
        0,
        collect,
        default_serdes=(Serdes.String(), Serdes.String()),
        cache_entries=3,  # the task's budget, over both stores' caches
    )
    for offset, key in enumerate(["A", "B", "A", "C"]):
        task.process("orders", offset, key.encode(), b"x", 1000 + offset)
        if offset == 1:
            # the 4th entry went to b's cache: Kafka evicts from it, which flushes all of it
            assert out == [("out-b", "A", 1), ("out-b", "B", 1)]
            assert task.cached("a") == {"A": 1, "B": 1}
    # C's update of a overflowed a: its entries leave in the order of their last update
    assert out[2:] == [("out-a", "B", 1), ("out-a", "A", 2), ("out-a", "C", 1)]
    assert task.cached("b") == {"A": 2, "C": 1}
    task.flush()
    assert out[5:] == [("out-b", "A", 2), ("out-b", "C", 1)]
    assert task.store("a").get("A") == 2
    assert task.store("b").get("C") == 1


def test_while_a_cache_flushes_the_store_holds_all_its_updates() -> None:
    seen: list[tuple[str, Any]] = []

    class Peek(Processor):
        def init(self, context: ProcessorContext) -> None:
            self.counts = context.get_state_store("c")

        def process(self, record: Record) -> None:
            seen.append((record.key, self.counts.get("B")))  # B is forwarded after A

    builder = StreamsBuilder()
    builder.stream("orders").group_by_key().count("c").to_stream().process(Peek, "c")
    topology = builder.build()
    (sub,) = topology.subtopologies
    task = Task(
        topology,
        sub,
        0,
        lambda *record: None,
        default_serdes=(Serdes.String(), Serdes.String()),
        cache_entries=100,
    )
    task.process("orders", 0, b"A", b"x", 1000)
    task.process("orders", 1, b"B", b"x", 1001)
    assert seen == []  # both wait in the cache
    task.flush()
    # Kafka's cache keeps the flushed entries readable: A's reader already sees B's count
    assert seen == [("A", 1), ("B", 1)]


def test_an_aggregator_that_raises_leaves_the_cached_aggregate_as_it_was() -> None:
    """With a handler that logs and continues, a failing record changes nothing: the key's
    cached aggregate and its place in the flush order stay (the windowed path too)."""
    from kstream_nb.streams import TimeWindows

    def total(key: str, value: str, agg: int) -> int:
        if value == "bad":
            raise ValueError("cannot add 'bad'")
        return agg + int(value)

    builder = StreamsBuilder()
    orders = builder.stream("orders")
    orders.group_by_key().aggregate(lambda: 0, total, "sums").to_stream().to(
        "out", value_serde=Serdes.Long()
    )
    orders.group_by_key().windowed_by(TimeWindows.of_size_with_no_grace(1000)).aggregate(
        lambda: 0, total, "hourly"
    )
    topology = builder.build()
    (sub,) = topology.subtopologies
    out: list[tuple[str, int]] = []
    failures: list[tuple[bytes | None, bytes | None]] = []

    def collect(topic: str, key: Any, value: Any, *rest: Any) -> None:
        out.append((key.decode(), Serdes.Long().deserialize(value)))

    def on_error(task: Task, exc: Exception, key: Any, value: Any, timestamp: int) -> None:
        failures.append((key, value))

    task = Task(
        topology,
        sub,
        0,
        collect,
        default_serdes=(Serdes.String(), Serdes.String()),
        cache_entries=10,
        on_error=on_error,
    )
    for offset, (key, value) in enumerate([("A", "1"), ("B", "2"), ("A", "bad"), ("B", "3")]):
        task.process("orders", offset, key.encode(), value.encode(), 100 + offset)
    assert failures == [(b"A", b"bad")]
    assert task.cached("sums") == {"A": 1, "B": 5}
    assert task.cached("hourly") == {("A", 0): 1, ("B", 0): 5}
    task.flush()
    assert out == [("A", 1), ("B", 5)]  # A kept its place before B
