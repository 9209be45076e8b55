"""Kafka Streams' Processor API: your own processor in a topology, with state and punctuation.

```python
class Deduplicate(Processor):
    def init(self, context):
        self.context = context
        self.seen = context.get_state_store("seen")
        context.schedule(60_000, PunctuationType.WALL_CLOCK_TIME, self.report)

    def process(self, record):
        if self.seen.get(record.key) is None:
            self.seen.put(record.key, record.timestamp)
            self.context.forward(record)

builder.add_state_store("seen")
builder.stream("events").process(Deduplicate, "seen").to("unique-events")
```

Stream-time punctuation fires when the task's stream time reaches the next due time (once, at
most, per record); wall-clock punctuation when the cluster's clock does (checked between polls,
or by the test driver's `advance_wall_clock_time`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kstream_nb.streams.topology import Processor as EngineProcessor
from kstream_nb.streams.topology import PunctuationType, StreamRecord, Task

__all__ = ["Cancellable", "Processor", "ProcessorContext", "PunctuationType", "Record"]

Record = StreamRecord


@dataclass(eq=False)
class Cancellable:
    """A scheduled punctuation; `cancel()` stops it."""

    interval_ms: int
    kind: PunctuationType
    callback: Callable[[int], None]
    next_due: int | None
    cancelled: bool = field(default=False)

    def cancel(self) -> None:
        self.cancelled = True


class Processor:
    """Subclass and implement `process(record)`; `init(context)` and `close()` are optional."""

    def init(self, context: ProcessorContext) -> None:
        self.context = context

    def process(self, record: Record) -> None:
        raise NotImplementedError("a Processor implements process(record)")

    def close(self) -> None:
        return None


class ProcessorContext:
    """What a processor may do in its task: forward, reach stores, schedule punctuation."""

    def __init__(self, task: Task, node: EngineProcessor) -> None:
        self._task = task
        self._node = node

    @property
    def task_id(self) -> tuple[int, int]:
        return self._task.id

    @property
    def record_metadata(self) -> tuple[str, int, int]:
        """(topic, partition, offset) of the record being processed."""
        return self._task.current

    def current_stream_time_ms(self) -> int:
        return self._task.stream_time

    def forward(self, record: Record) -> None:
        self._node.forward(record)

    def get_state_store(self, name: str) -> Any:
        if name not in self._task.stores:
            raise KeyError(
                f"store {name!r} is not connected to this processor: add it with "
                "builder.add_state_store(name) and name it in stream.process(..., name)"
            )
        return self._task.stores[name]

    def schedule(
        self, interval_ms: int, kind: PunctuationType, callback: Callable[[int], None]
    ) -> Cancellable:
        if interval_ms < 1:
            raise ValueError(f"a punctuation interval must be at least 1 ms, got {interval_ms}")
        if kind is PunctuationType.WALL_CLOCK_TIME:
            due: int | None = self._task.wall_clock_ms + interval_ms
        else:
            seen = self._task.stream_time
            due = seen + interval_ms if seen >= 0 else None
        punctuator = Cancellable(interval_ms, kind, callback, due)
        self._task.punctuators.append(punctuator)
        return punctuator


class UserProcessorNode(EngineProcessor):
    """Runs a user's Processor inside the engine."""

    def __init__(self, supplier: Callable[[], Processor]) -> None:
        self.user = supplier()
        if not isinstance(self.user, Processor):
            raise TypeError(
                f"process() needs a Processor subclass (or a function returning one), got "
                f"{type(self.user).__name__}"
            )

    def init(self, task: Task, children: list[EngineProcessor]) -> None:
        super().init(task, children)
        self.user.init(ProcessorContext(task, self))

    def process(self, record: StreamRecord) -> None:
        self.user.process(record)
