"""`TopologyTestDriver`: run a topology with no cluster, record by record, in event time.

As Kafka Streams' driver: every record piped in is processed at once through every
sub-topology (repartition topics included), in partition 0, and what the topology writes to
its output topics waits in queues for `create_output_topic(...).read_*()`.

```python
driver = TopologyTestDriver(builder.build(), {"default.value.serde": Serdes.Json()})
orders = driver.create_input_topic("orders", Serdes.String(), Serdes.Json())
orders.pipe_input("ORD-1", {"customer_id": "C1", "amount": 1500}, timestamp=0)
driver.create_output_topic("high-value-orders", Serdes.String(), Serdes.Json()).read_key_value()
```
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from kstream_nb.streams.errors import ErrorPolicy
from kstream_nb.streams.serdes import Serde, Serdes
from kstream_nb.streams.stores import KeyValueStore
from kstream_nb.streams.topology import Task, Topology

__all__ = ["TestInputTopic", "TestOutputTopic", "TestRecord", "TopologyTestDriver"]

TestRecord = tuple[Any, Any, int]  # key, value, timestamp


class TopologyTestDriver:
    """A topology's tasks without brokers; `close()` when done (a no-op kept for parity)."""

    __test__ = False  # not a pytest class

    def __init__(
        self, topology: Topology, config: Mapping[str, Any] | None = None, start_ms: int = 0
    ) -> None:
        config = dict(config or {})
        self.topology = topology
        self.application_id = str(config.get("application.id", "topology-test-driver"))
        key_serde = config.get("default.key.serde", Serdes.Bytes())
        value_serde = config.get("default.value.serde", Serdes.Bytes())
        self.errors = ErrorPolicy(config)
        self.wall_clock_ms = start_ms
        self._outputs: dict[str, deque[tuple[bytes | None, bytes | None, int]]] = {}
        self._offsets: dict[str, int] = {}
        self._defaults = (key_serde, value_serde)
        self.global_stores = {name: KeyValueStore(name) for name in topology.global_tables}
        self._global_topics = {
            topic: (name, ks, vs) for name, (topic, ks, vs) in topology.global_tables.items()
        }
        self.tasks = [
            Task(
                topology,
                sub,
                0,
                self._collect,
                topic_name=self._topic_name,
                default_serdes=(key_serde, value_serde),
                on_error=self.errors.for_tasks(self._dead_letter),
                global_stores=self.global_stores,
            )
            for sub in topology.subtopologies
        ]
        for task in self.tasks:
            task.wall_clock_ms = start_ms
        self._by_topic = {
            self._topic_name(topic): task for task in self.tasks for topic in task.sub.sources
        }

    def _topic_name(self, topic: str) -> str:
        internal = topic in self.topology.repartition_topics()
        return f"{self.application_id}-{topic}" if internal else topic

    @property
    def skipped(self) -> list[str]:
        """Records the error handlers let go: "topic-partition@offset: why"."""
        return self.errors.skipped

    def _dead_letter(self, topic: str, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        self._outputs.setdefault(topic, deque()).append((key, value, timestamp))

    def _collect(
        self,
        topic: str,
        key: Any,
        value: Any,
        timestamp: int,
        headers: tuple[tuple[str, bytes | None], ...],
        partition_key: bytes | None = None,
    ) -> None:
        if topic in self._by_topic:
            self._feed(topic, key, value, timestamp, headers)
        else:
            self._outputs.setdefault(topic, deque()).append((key, value, timestamp))

    def _feed(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        timestamp: int,
        headers: Iterable[tuple[str, bytes | None]] = (),
    ) -> None:
        if topic in self._global_topics:
            name, key_serde, value_serde = self._global_topics[topic]
            row_key = (key_serde or self._defaults[0]).deserialize(key)
            self.global_stores[name].put(
                row_key, (value_serde or self._defaults[1]).deserialize(value)
            )
            return
        task = self._by_topic.get(topic)
        if task is None:
            raise ValueError(
                f"the topology does not read {topic!r}; it reads "
                f"{', '.join(self.topology.source_topics(internal=False))}"
            )
        offset = self._offsets.get(topic, 0)
        self._offsets[topic] = offset + 1
        task.process(topic, offset, key, value, timestamp, headers)

    def pipe_raw(
        self, topic: str, key: bytes | None, value: bytes | None, timestamp: int | None = None
    ) -> None:
        """Feed one record as bytes (e.g. to test bad input)."""
        self._feed(topic, key, value, self.wall_clock_ms if timestamp is None else timestamp)

    def create_input_topic(
        self, topic: str, key_serde: Serde | None = None, value_serde: Serde | None = None
    ) -> TestInputTopic:
        return TestInputTopic(
            self, topic, key_serde or Serdes.Bytes(), value_serde or Serdes.Bytes()
        )

    def create_output_topic(
        self, topic: str, key_serde: Serde | None = None, value_serde: Serde | None = None
    ) -> TestOutputTopic:
        return TestOutputTopic(
            self, topic, key_serde or Serdes.Bytes(), value_serde or Serdes.Bytes()
        )

    def store(self, name: str) -> Any:
        """A state store by name (key-value or window), as the tasks hold it."""
        if name in self.global_stores:
            return self.global_stores[name]
        for task in self.tasks:
            if name in task.stores:
                return task.stores[name]
        raise KeyError(f"no store {name!r}; stores are {sorted(self.topology.stores)}")

    get_key_value_store = store
    get_window_store = store

    @property
    def dropped_late_records(self) -> int:
        return sum(t.dropped_late for t in self.tasks)

    def advance_wall_clock_time(self, duration_ms: int) -> None:
        """Move the driver's wall clock; wall-clock punctuations that fall due fire."""
        self.wall_clock_ms += duration_ms
        for task in self.tasks:
            task.advance_wall_clock(self.wall_clock_ms)

    def close(self) -> None:
        self._outputs.clear()

    def __enter__(self) -> TopologyTestDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TestInputTopic:
    __test__ = False

    def __init__(self, driver: TopologyTestDriver, topic: str, key: Serde, value: Serde) -> None:
        self.driver = driver
        self.topic = topic
        self.key_serde = key
        self.value_serde = value

    def pipe_input(self, key: Any, value: Any, timestamp: int | None = None) -> None:
        self.driver.pipe_raw(
            self.topic, self.key_serde.serialize(key), self.value_serde.serialize(value), timestamp
        )

    def pipe_value_list(self, values: Iterable[Any], timestamp: int | None = None) -> None:
        for value in values:
            self.pipe_input(None, value, timestamp)

    def pipe_key_value_list(
        self, pairs: Iterable[tuple[Any, Any]], timestamp: int | None = None
    ) -> None:
        for key, value in pairs:
            self.pipe_input(key, value, timestamp)


class TestOutputTopic:
    __test__ = False

    def __init__(self, driver: TopologyTestDriver, topic: str, key: Serde, value: Serde) -> None:
        self.driver = driver
        self.topic = topic
        self.key_serde = key
        self.value_serde = value

    def _queue(self) -> deque[tuple[bytes | None, bytes | None, int]]:
        return self.driver._outputs.setdefault(self.topic, deque())

    def read_record(self) -> TestRecord:
        queue = self._queue()
        if not queue:
            raise LookupError(f"no record waiting in {self.topic!r}")
        key, value, timestamp = queue.popleft()
        return self.key_serde.deserialize(key), self.value_serde.deserialize(value), timestamp

    def read_key_value(self) -> tuple[Any, Any]:
        key, value, _ = self.read_record()
        return key, value

    def read_value(self) -> Any:
        return self.read_record()[1]

    def read_records_to_list(self) -> list[TestRecord]:
        out = []
        while self._queue():
            out.append(self.read_record())
        return out

    def read_key_values_to_list(self) -> list[tuple[Any, Any]]:
        return [(k, v) for k, v, _ in self.read_records_to_list()]

    def read_values_to_list(self) -> list[Any]:
        return [v for _, v, _ in self.read_records_to_list()]

    def read_key_values_to_map(self) -> dict[Any, Any]:
        return dict(self.read_key_values_to_list())

    def is_empty(self) -> bool:
        return not self._queue()

    def get_queue_size(self) -> int:
        return len(self._queue())
