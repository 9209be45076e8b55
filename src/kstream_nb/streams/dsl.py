"""The Kafka Streams DSL in Python: `StreamsBuilder`, `KStream`, `KGroupedStream`, `KTable`.

```python
builder = StreamsBuilder()
orders = builder.stream("orders", value_serde=Serdes.Json())
orders.filter(lambda key, order: order["amount"] > 1000).to("high-value-orders")
per_customer = orders.group_by(lambda key, order: order["customer_id"]).count()
per_hour = orders.group_by_key().windowed_by(TimeWindows.of_size_with_no_grace("1h")).count()
topology = builder.build()
```

Methods and semantics follow Kafka Streams (names in snake_case). A key change before a
grouping goes through a repartition topic; aggregations keep their state in stores with
changelog topics. Every update of a KTable is forwarded (no record cache, as with
`statestore.cache.max.bytes=0`).
"""

from __future__ import annotations

import inspect
import itertools
import logging
import operator
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

import msgspec

from kstream_nb.clock import parse_duration_ms
from kstream_nb.streams.errors import DeserializationError
from kstream_nb.streams.serdes import Serde, Serdes, SerializationError
from kstream_nb.streams.stores import KeyValueStore, StoreSpec, WindowStore
from kstream_nb.streams.topology import Change, Node, Processor, StreamRecord, Task, Topology
from kstream_nb.streams.windows import (
    SessionWindow,
    SessionWindows,
    SlidingWindows,
    TimeWindows,
    Window,
    Windowed,
)

__all__ = [
    "ChangeSerde",
    "GlobalKTable",
    "KGroupedStream",
    "KGroupedTable",
    "KStream",
    "KTable",
    "SessionWindowedKStream",
    "SlidingWindowedKStream",
    "StreamsBuilder",
    "Suppressed",
    "TimeWindowedKStream",
    "WindowedSerde",
    "session_windowed_serde",
    "windowed_serde",
]

log = logging.getLogger(__name__)
_START = struct.Struct(">q")
# Internal topics and stores whose contents are the engine's own: msgpack of plain data.
_WIRE = Serde(msgspec.msgpack.encode, msgspec.msgpack.decode, "msgpack")


class WindowedSerde(Serde):
    """A serde of `Windowed` keys around the serde of their base key (`inner`), as Kafka's
    WindowedSerializer: the base key's bytes, then the window's (`window_bytes`). A sink
    writing with it partitions by the base key alone (Kafka's WindowedStreamPartitioner), so
    every window of a key lands in that key's partition."""

    def __init__(
        self,
        inner: Serde,
        window_bytes: Callable[[Window], bytes],
        deserialize: Callable[[bytes], Any],
        name: str,
    ) -> None:
        super().__init__(lambda key: self.serialize_parts(key)[0], deserialize, name)
        self.inner = inner
        self._inner_bytes = inner.serializer()
        self._window_bytes = window_bytes

    def serialize_parts(self, key: Windowed) -> tuple[bytes, bytes | None]:
        """The key's bytes and its base key's (what the partitioner hashes)."""
        base = key.key
        if base is not None:
            try:
                base = self._inner_bytes(base)
            except Exception:
                base = self.inner.serialize(base)  # raises the inner serde's own explanation
        return (base or b"") + self._window_bytes(key.window), base


def windowed_serde(inner: Serde, size_ms: int) -> WindowedSerde:
    """Kafka's TimeWindowedSerde: the key's bytes, then the window start as 8 bytes."""

    def deserialize(data: bytes) -> Windowed:
        start = _START.unpack(data[-8:])[0]
        return Windowed(inner.deserialize(bytes(data[:-8])), Window(start, start + size_ms))

    return WindowedSerde(
        inner, lambda window: _START.pack(window.start), deserialize, f"windowed<{inner.name}>"
    )


def session_windowed_serde(inner: Serde) -> WindowedSerde:
    """Kafka's SessionWindowedSerde: the key's bytes, then the session's end and start."""

    def deserialize(data: bytes) -> Windowed:
        end, start = _START.unpack(data[-16:-8])[0], _START.unpack(data[-8:])[0]
        return Windowed(inner.deserialize(bytes(data[:-16])), SessionWindow(start, end))

    return WindowedSerde(
        inner,
        lambda window: _START.pack(window.end) + _START.pack(window.start),
        deserialize,
        f"windowed-session<{inner.name}>",
    )


class ChangeSerde(Serde):
    """What a grouped table sends through its repartition topic: (1, value) to add, (0, value)
    to subtract; one flag byte, then the value's bytes. Without an inner serde, the task's
    default value serde is used."""

    def __init__(self, inner: Serde | None = None) -> None:
        self.inner = inner
        super().__init__(self._write, self._read, f"change<{inner.name if inner else 'default'}>")

    def _write(self, change: tuple[int, Any]) -> bytes:
        assert self.inner is not None
        return bytes([change[0]]) + (self.inner.serialize(change[1]) or b"")

    def _read(self, data: bytes) -> tuple[int, Any]:
        assert self.inner is not None
        return data[0], self.inner.deserialize(bytes(data[1:]))

    def resolved(self, default: Serde) -> ChangeSerde:
        return self if self.inner is not None else ChangeSerde(default)


def _value_serde(serde: Serde | None, default: Serde) -> Serde:
    if serde is None:
        return default
    return serde.resolved(default) if isinstance(serde, ChangeSerde) else serde


def _arity(fn: Callable[..., Any]) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional)


def _value_fn(fn: Callable[..., Any]) -> Callable[[Any, Any], Any]:
    """`fn(value)` or `fn(key, value)` (Kafka's ValueMapper / ValueMapperWithKey)."""
    if _arity(fn) >= 2:
        return fn
    return lambda key, value: fn(value)


# -- processors -------------------------------------------------------------------------------


class _Source(Processor):
    def __init__(
        self,
        key_serde: Serde | None,
        value_serde: Serde | None,
        timestamp_extractor: Callable[[Any, int], int] | None = None,
    ) -> None:
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.extractor = timestamp_extractor

    def init(self, task: Task, children: list[Processor]) -> None:
        super().init(task, children)
        defaults = task.default_serdes
        self._key_serde = self.key_serde or defaults[0]
        self._value_serde = _value_serde(self.value_serde, defaults[1])
        self._key_of = self._key_serde.deserializer()
        self._value_of = self._value_serde.deserializer()

    def process(self, record: StreamRecord) -> None:
        self.receive(record.key, record.value, record.timestamp, record.headers)

    def receive(
        self,
        raw_key: bytes | None,
        raw_value: bytes | None,
        timestamp: int,
        headers: tuple[tuple[str, bytes | None], ...],
    ) -> None:
        """Deserialize a record as fetched, advance stream time and forward the record."""
        try:
            key = None if raw_key is None else self._key_of(raw_key)
            value = None if raw_value is None else self._value_of(raw_value)
        except Exception as exc:
            raise self._deserialization_error(raw_key, raw_value, exc) from exc
        if self.extractor is not None:
            timestamp = int(self.extractor(value, timestamp))
            if timestamp < 0:
                raise ValueError(f"the timestamp extractor gave a negative timestamp {timestamp}")
        task = self.task
        if timestamp > task.stream_time:
            task.stream_time = timestamp
        self.forward(StreamRecord(key, value, timestamp, headers))

    def _deserialization_error(
        self, raw_key: bytes | None, raw_value: bytes | None, exc: Exception
    ) -> DeserializationError:
        """The serdes' own words for a failure of their bare functions."""
        try:
            self._key_serde.deserialize(raw_key)
            self._value_serde.deserialize(raw_value)
        except SerializationError as error:
            return DeserializationError(str(error))
        except Exception:  # a serde subclass's own error: the first one says it
            pass
        return DeserializationError(f"cannot deserialize the record: {exc!r}")


class _Step(Processor):
    """A stateless step: `fn(record)` gives the records to forward."""

    def __init__(self, fn: Callable[[StreamRecord], Iterable[StreamRecord]]) -> None:
        self.fn = fn

    def process(self, record: StreamRecord) -> None:
        for out in self.fn(record):
            self.forward(out)


class _ToStream(Processor):
    """A table's updates as a stream: each `Change`'s new value (None: a deletion)."""

    def process(self, record: StreamRecord) -> None:
        self.forward(StreamRecord(record.key, record.value.new, record.timestamp, record.headers))


class _Sink(Processor):
    def __init__(
        self,
        topic: str | Callable[[Any, Any], str],
        key_serde: Serde | None,
        value_serde: Serde | None,
        node: Node,
    ) -> None:
        self.topic = topic
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.node = node
        self._windowed: dict[str | int, WindowedSerde] = {}  # "session" or size -> key serde

    def _windowed_serde(self, kind: str | int) -> WindowedSerde:
        """The serde of a sink's windowed keys (`kind`: "session" or the windows' size): its
        own if it is windowed, else Kafka's windowed serde around its key serde."""
        own = self._own_key_serde
        if isinstance(own, WindowedSerde):
            made = own
        elif kind == "session":
            made = session_windowed_serde(own)
        else:
            made = windowed_serde(own, int(kind))
        self._windowed[kind] = made
        return made

    def init(self, task: Task, children: list[Processor]) -> None:
        super().init(task, children)
        defaults = task.default_serdes
        self._own_key_serde = self.key_serde or defaults[0]
        self._key_bytes = self._own_key_serde.serializer()
        self._value_serde = _value_serde(self.value_serde, defaults[1])
        self._value_bytes = self._value_serde.serializer()
        self._send = task.collector
        # A fixed topic's name, resolved once (an internal topic's carries the application id).
        fixed = self.topic if isinstance(self.topic, str) else None
        self._topic_name = task.topic_name(fixed) if fixed and self.node.internal else fixed

    def process(self, record: StreamRecord) -> None:
        key, value = record.key, record.value
        topic = self._topic_name
        if topic is None:
            topic = cast(Callable[[Any, Any], str], self.topic)(key, value)
        partition_key = None
        try:
            if isinstance(key, Windowed):
                window = key.window
                kind = "session" if isinstance(window, SessionWindow) else window.end - window.start
                serde = self._windowed.get(kind) or self._windowed_serde(kind)
                # Kafka's WindowedStreamPartitioner: murmur2 of the base key only.
                key, partition_key = serde.serialize_parts(key)
            elif key is not None:
                key = self._key_bytes(key)
            if value is not None:
                value = self._value_bytes(value)
        except SerializationError:
            raise
        except Exception as exc:
            raise self._serialization_error(record, exc) from exc
        self._send(topic, key, value, record.timestamp, record.headers, partition_key)

    def _serialization_error(self, record: StreamRecord, exc: Exception) -> SerializationError:
        """The serdes' own words for a failure of their bare functions."""
        try:
            if not isinstance(record.key, Windowed):
                self._own_key_serde.serialize(record.key)
            self._value_serde.serialize(record.value)
        except SerializationError as error:
            return error
        return SerializationError(f"cannot serialize the record: {exc!r}")


class _Aggregate(Processor):
    def __init__(
        self,
        store: str,
        initializer: Callable[[], Any],
        aggregator: Callable[[Any, Any, Any], Any],
    ) -> None:
        self.store_name = store
        self.initializer = initializer
        self.aggregator = aggregator

    def process(self, record: StreamRecord) -> None:
        if record.key is None or record.value is None:
            return  # Kafka Streams skips records with a null key or value when aggregating
        self.task.table_aggregate(
            self, self.store_name, record.key, record, self.initializer, self.aggregator
        )


class _WindowedAggregator(Processor):
    """What every windowed aggregation holds: its store, its windows and the user's functions."""

    def __init__(
        self,
        store: str,
        windows: Any,
        initializer: Callable[[], Any],
        aggregator: Callable[[Any, Any, Any], Any],
    ) -> None:
        self.store_name = store
        self.windows = windows
        self.initializer = initializer
        self.aggregator = aggregator


class _WindowAggregate(_WindowedAggregator):
    windows: TimeWindows

    def init(self, task: Task, children: list[Processor]) -> None:
        super().init(task, children)
        self._size, self._grace = self.windows.size_ms, self.windows.grace_ms
        self._tumbling = self.windows.advance_ms == self._size

    def process(self, record: StreamRecord) -> None:
        if record.key is None or record.value is None:
            return
        task = self.task
        close_time = task.stream_time - self._grace
        size = self._size
        timestamp = record.timestamp
        starts: Iterable[int] = (
            (timestamp - timestamp % size,)  # tumbling: one window, no range to build
            if self._tumbling
            else self.windows.starts_for(timestamp)
        )
        for start in starts:
            if start + size <= close_time:
                self._drop(start)
                continue
            task.table_aggregate(
                self,
                self.store_name,
                (record.key, start),
                record,
                self.initializer,
                self.aggregator,
                size,
            )

    def _drop(self, start: int) -> None:
        """A record for a closed window (its end + grace <= stream time) is dropped, counted."""
        self.task.dropped_late += 1
        log.debug(
            "dropped a late record for window %s (stream time %d)",
            Window(start, start + self._size),
            self.task.stream_time,
        )


class _SessionAggregate(_WindowedAggregator):
    """Kafka Streams' session aggregation: find the sessions within the gap of the record,
    merge them with it, forward a deletion for each merged-away session and the new session.
    Session results are forwarded at once (the record cache does not hold them)."""

    windows: SessionWindows

    def __init__(
        self,
        store: str,
        windows: SessionWindows,
        initializer: Callable[[], Any],
        aggregator: Callable[[Any, Any, Any], Any],
        merger: Callable[[Any, Any, Any], Any],
    ) -> None:
        super().__init__(store, windows, initializer, aggregator)
        self.merger = merger

    def process(self, record: StreamRecord) -> None:
        if record.key is None or record.value is None:
            return
        gap, t = self.windows.gap_ms, record.timestamp
        store = self.task.stores[self.store_name]
        sessions: list[list[Any]] = [list(s) for s in store.read(record.key) or []]
        near = [s for s in sessions if s[1] >= t - gap and s[0] <= t + gap]
        start = min([t, *(s[0] for s in near)])
        end = max([t, *(s[1] for s in near)])
        if end < self.task.stream_time - self.windows.grace_ms:
            self.task.dropped_late += 1
            return
        agg = self.initializer()
        for s in near:
            agg = self.merger(record.key, agg, s[2])
        agg = self.aggregator(record.key, record.value, agg)
        kept = [s for s in sessions if s not in near]
        store.write(record.key, sorted([*kept, [start, end, agg]], key=lambda s: s[0]))
        for s in near:
            gone = Windowed(record.key, SessionWindow(s[0], s[1]))
            self.forward(StreamRecord(gone, Change(None, s[2]), t, record.headers))
        new = Windowed(record.key, SessionWindow(start, end))
        self.forward(StreamRecord(new, Change(agg, None), t, record.headers))


class _SlidingAggregate(_WindowedAggregator):
    """Sliding windows by their definition: every window that a record's arrival creates or
    changes is recomputed from the records kept for the key (within difference + grace of
    stream time), and forwarded when its aggregate changed. Windows are [start, end], both
    ends inclusive, end - start == difference. The kept records live in a logged store of
    their own (`<store>-records`, msgpack like a join's buffer), so a restarted or reassigned
    task recomputes from the same records."""

    windows: SlidingWindows

    def process(self, record: StreamRecord) -> None:
        if record.key is None or record.value is None:
            return
        d, t = self.windows.difference_ms, record.timestamp
        close_time = self.task.stream_time - self.windows.grace_ms
        if t + d < close_time:  # even the window starting at t - ... has closed
            self.task.dropped_late += 1
            return
        buffer: KeyValueStore = self.task.store(sliding_records_store(self.store_name))
        kept = [r for r in buffer.read(record.key) or [] if r[0] + 2 * d >= close_time]
        kept.append([t, record.value])
        kept.sort(key=_AT)
        buffer.write(record.key, kept)
        starts = {t - d, t + 1}
        for ts, _ in kept:
            if ts - d <= t <= ts:
                starts.add(ts - d)
            if ts + 1 <= t <= ts + 1 + d:
                starts.add(ts + 1)
        store: WindowStore = self.task.store(self.store_name)
        for start in sorted(starts):
            end = start + d
            inside = [v for ts, v in kept if start <= ts <= end]
            if not inside or end < close_time:
                continue
            agg = self.initializer()
            for v in inside:
                agg = self.aggregator(record.key, v, agg)
            old = store.get(record.key, start)
            if old == agg:
                continue
            store.put(record.key, start, agg)
            out = Windowed(record.key, Window(start, end))
            self.forward(StreamRecord(out, Change(agg, old), t, record.headers))


def sliding_records_store(store: str) -> str:
    """The store of the records a sliding-window aggregation keeps next to its windows."""
    return f"{store}-records"


_AT = operator.itemgetter(0)


class _TableSource(Processor):
    def __init__(self, store: str) -> None:
        self.store_name = store

    def process(self, record: StreamRecord) -> None:
        if record.key is None:
            return
        old = self.task.table_get(self.store_name, record.key)
        self.task.table_put(self, self.store_name, record.key, record.value, old, record)


class _StreamTableJoin(Processor):
    def __init__(self, store: str, joiner: Callable[[Any, Any], Any], left: bool) -> None:
        self.store_name = store
        self.joiner = joiner
        self.left = left

    def process(self, record: StreamRecord) -> None:
        if record.key is None or record.value is None:
            return  # as in Kafka Streams: such stream records cannot join
        other = self.task.table_get(self.store_name, record.key)
        if other is None and not self.left:
            return
        self.forward(record.with_(value=self.joiner(record.value, other)))


class _StreamStreamJoin(Processor):
    """One side of a windowed stream-stream join (Kafka Streams 3.x semantics).

    Each record is kept for the window's span; it joins every record of the other side with the
    same key whose timestamp is within the window. For left and outer joins, a record that
    found no partner is emitted with None only once its window has closed (end + grace), so no
    spurious (value, None) result precedes a match. Both sides' records live in one logged
    store (key -> [side, timestamp, value, matched] entries), so a restarted task resumes them.
    """

    def __init__(
        self,
        side: int,
        store: str,
        windows: Any,
        joiner: Callable[[Any, Any], Any],
        outer: tuple[bool, bool],
    ) -> None:
        self.side = side
        self.store_name = store
        self.windows = windows
        self.joiner = joiner
        self.outer = outer  # (emit unmatched left, emit unmatched right)

    def _pair(self, side: int, value: Any, other: Any) -> Any:
        return self.joiner(value, other) if side == 0 else self.joiner(other, value)

    def process(self, record: StreamRecord) -> None:
        if record.key is None or record.value is None:
            return
        w, t = self.windows, record.timestamp
        lo, hi = (
            (t - w.before_ms, t + w.after_ms)
            if self.side == 0
            else (t - w.after_ms, t + w.before_ms)
        )
        store: KeyValueStore = self.task.store(self.store_name)
        entries = [list(e) for e in store.read(record.key) or []]
        entry = [self.side, t, record.value, False]
        for partner in entries:
            if partner[0] != self.side and lo <= partner[1] <= hi:
                partner[3] = entry[3] = True
                value = self._pair(self.side, record.value, partner[2])
                self.forward(StreamRecord(record.key, value, max(t, partner[1]), record.headers))
        entries.append(entry)
        store.write(record.key, entries)
        self._expire(store, self.task.stream_time)

    def _expire(self, store: KeyValueStore, stream_time: int) -> None:
        """Drop records whose window closed; emit the unmatched ones of outer sides."""
        due = self.task.shared.get(self.store_name)
        if due is not None and stream_time <= due:
            return  # nothing can have closed yet
        w = self.windows
        spans = (w.after_ms + w.grace_ms, w.before_ms + w.grace_ms)
        next_due: int | None = None
        for key, entries in list(store.all()):
            keep = []
            for side, ts, value, matched in entries:
                if ts + spans[side] < stream_time:
                    if self.outer[side] and not matched:
                        self.forward(StreamRecord(key, self._pair(side, value, None), ts))
                else:
                    keep.append([side, ts, value, matched])
                    close = ts + spans[side]
                    next_due = close if next_due is None else min(next_due, close)
            if len(keep) != len(entries):
                store.write(key, keep or None)
        self.task.shared[self.store_name] = next_due if next_due is not None else stream_time


class _TableTableJoin(Processor):
    """One side of a KTable-KTable join: recompute the joined row for the updated key."""

    def __init__(
        self, side: int, stores: tuple[str, str], joiner: Callable[[Any, Any], Any], mode: str
    ) -> None:
        self.side = side
        self.stores = stores
        self.joiner = joiner
        self.mode = mode

    def _join(self, left: Any, right: Any) -> Any:
        if self.mode == "inner" and (left is None or right is None):
            return None
        if self.mode == "left" and left is None:
            return None
        if left is None and right is None:
            return None
        return self.joiner(left, right)

    def process(self, record: StreamRecord) -> None:
        change: Change = record.value
        other = self.task.table_get(self.stores[1 - self.side], record.key)
        if self.side == 0:
            new, old = self._join(change.new, other), self._join(change.old, other)
        else:
            new, old = self._join(other, change.new), self._join(other, change.old)
        if new is None and old is None:
            return
        self.forward(record.with_(value=Change(new, old)))


class _GlobalJoin(Processor):
    """A stream joined with a global table through a key taken from each record."""

    def __init__(
        self,
        store: str,
        selector: Callable[[Any, Any], Any],
        joiner: Callable[[Any, Any], Any],
        left: bool,
    ) -> None:
        self.store_name = store
        self.selector = selector
        self.joiner = joiner
        self.left = left

    def process(self, record: StreamRecord) -> None:
        if record.value is None:
            return
        lookup = self.selector(record.key, record.value)
        other = None if lookup is None else self.task.global_stores[self.store_name].get(lookup)
        if other is None and not self.left:
            return
        self.forward(record.with_(value=self.joiner(record.value, other)))


class _TableRekey(Processor):
    """KTable.group_by: each update becomes a subtraction from its old group and an addition
    to its new one (Kafka Streams' KTableRepartitionMap)."""

    def __init__(self, selector: Callable[[Any, Any], tuple[Any, Any]]) -> None:
        self.selector = selector

    def process(self, record: StreamRecord) -> None:
        change: Change = record.value
        if change.old is not None:
            key, value = self.selector(record.key, change.old)
            self.forward(StreamRecord(key, (0, value), record.timestamp, record.headers))
        if change.new is not None:
            key, value = self.selector(record.key, change.new)
            self.forward(StreamRecord(key, (1, value), record.timestamp, record.headers))


class _TableAggregate(Processor):
    def __init__(
        self,
        store: str,
        initializer: Callable[[], Any],
        adder: Callable[[Any, Any, Any], Any],
        subtractor: Callable[[Any, Any, Any], Any],
    ) -> None:
        self.store_name = store
        self.initializer = initializer
        self.adder = adder
        self.subtractor = subtractor

    def process(self, record: StreamRecord) -> None:
        if record.key is None:
            return
        flag, value = record.value
        old = self.task.table_get(self.store_name, record.key)
        base = self.initializer() if old is None else old
        new = (
            self.adder(record.key, value, base)
            if flag
            else self.subtractor(record.key, value, base)
        )
        self.task.table_put(self, self.store_name, record.key, new, old, record.with_(value=None))


class _FkSubscribe(Processor):
    """Left side of a foreign-key join: (un)subscribe each left row to its right row's key."""

    def __init__(self, extract: Callable[[Any], Any]) -> None:
        self.extract = extract

    def process(self, record: StreamRecord) -> None:
        change: Change = record.value
        new_fk = None if change.new is None else self.extract(change.new)
        old_fk = None if change.old is None else self.extract(change.old)
        if old_fk is not None and old_fk != new_fk:
            self.forward(StreamRecord(old_fk, [0, record.key], record.timestamp))
        if new_fk is not None:
            self.forward(StreamRecord(new_fk, [1, record.key], record.timestamp))


class _FkLeftGone(Processor):
    """A left row deleted, or left without a foreign key: its join result is deleted."""

    def __init__(self, extract: Callable[[Any], Any]) -> None:
        self.extract = extract

    def process(self, record: StreamRecord) -> None:
        change: Change = record.value
        if change.old is not None and (change.new is None or self.extract(change.new) is None):
            self.forward(record.with_(value=Change(None, None)))


class _FkSubscriptions(Processor):
    """Right side: keep who subscribes to each right key, and answer with the right row."""

    def __init__(self, subscriptions: str, right: str) -> None:
        self.subscriptions = subscriptions
        self.right = right

    def process(self, record: StreamRecord) -> None:
        op, left_key = record.value
        store = self.task.stores[self.subscriptions]
        keys = list(store.read(record.key) or [])
        if op == 1:
            if left_key not in keys:
                store.write(record.key, [*keys, left_key])
            row = self.task.table_get(self.right, record.key)
            self.forward(StreamRecord(left_key, [record.key, row], record.timestamp))
        elif left_key in keys:
            rest = [k for k in keys if k != left_key]
            store.write(record.key, rest or None)


class _FkRightChange(Processor):
    """Right side: a right row changed, so every left row subscribed to it gets the news."""

    def __init__(self, subscriptions: str) -> None:
        self.subscriptions = subscriptions

    def process(self, record: StreamRecord) -> None:
        change: Change = record.value
        for left_key in self.task.stores[self.subscriptions].read(record.key) or []:
            self.forward(StreamRecord(left_key, [record.key, change.new], record.timestamp))


class _FkResolve(Processor):
    """Left side: join the answer with the left row, if the row still points at that key."""

    def __init__(
        self,
        left: str,
        extract: Callable[[Any], Any],
        joiner: Callable[[Any, Any], Any],
        outer: bool,
    ) -> None:
        self.left = left
        self.extract = extract
        self.joiner = joiner
        self.outer = outer

    def process(self, record: StreamRecord) -> None:
        fk, row = record.value
        value = self.task.table_get(self.left, record.key)
        if value is None or self.extract(value) != fk:
            return  # an answer for a subscription that has since changed
        if row is None and not self.outer:
            self.forward(record.with_(value=Change(None, None)))
            return
        self.forward(record.with_(value=Change(self.joiner(value, row), None)))


class _BufferKeySerde(Serde):
    """Keys of a suppression buffer's changelog: the windowed key as its base key's bytes
    (the table's key serde, else the default one), then the window's start and end."""

    def __init__(self, inner: Serde | None, session: bool) -> None:
        self.inner = inner
        self.session = session
        super().__init__(self._write, self._read, f"suppress-key<{inner.name if inner else ''}>")

    def _write(self, key: Windowed) -> bytes:
        assert self.inner is not None
        data = self.inner.serialize(key.key) or b""
        return data + _START.pack(key.window.start) + _START.pack(key.window.end)

    def _read(self, data: bytes) -> Windowed:
        assert self.inner is not None
        start, end = _START.unpack(data[-16:-8])[0], _START.unpack(data[-8:])[0]
        window = SessionWindow(start, end) if self.session else Window(start, end)
        return Windowed(self.inner.deserialize(bytes(data[:-16])), window)

    def resolved(self, default: Serde) -> Serde:
        return self if self.inner is not None else _BufferKeySerde(default, self.session)


class _BufferValueSerde(Serde):
    """Values of a suppression buffer's changelog, (Change(new, old), timestamp, headers):
    msgpack of [timestamp, new bytes, old bytes, headers], the values in the table's serde
    (else the default one), as Kafka's buffer keeps the serialized change and its context."""

    def __init__(self, inner: Serde | None) -> None:
        self.inner = inner
        name = f"suppress-value<{inner.name if inner else ''}>"
        super().__init__(self._write, self._read, name)

    def _write(self, entry: tuple[Change, int, tuple[tuple[str, bytes | None], ...]]) -> bytes:
        assert self.inner is not None
        change, timestamp, headers = entry
        new, old = self.inner.serialize(change.new), self.inner.serialize(change.old)
        return msgspec.msgpack.encode([timestamp, new, old, [list(h) for h in headers]])

    def _read(self, data: bytes) -> tuple[Change, int, tuple[tuple[str, bytes | None], ...]]:
        assert self.inner is not None
        timestamp, new, old, headers = msgspec.msgpack.decode(data)
        change = Change(self.inner.deserialize(new), self.inner.deserialize(old))
        return change, timestamp, tuple((str(k), v) for k, v in headers)

    def resolved(self, default: Serde) -> Serde:
        return self if self.inner is not None else _BufferValueSerde(default)


class _Suppress(Processor):
    """Hold each windowed result until its window closes (end + grace <= stream time).

    The buffer is a logged store (Kafka's in-memory time-ordered buffer with its changelog):
    windowed key -> (Change, timestamp, headers); an emitted entry is deleted (a tombstone in
    the changelog), so a restarted task gets back what was still waiting and emits it once
    its window closes."""

    def __init__(self, grace_ms: int, store: str) -> None:
        self.grace_ms = grace_ms
        self.store_name = store

    def process(self, record: StreamRecord) -> None:
        key = record.key
        if not isinstance(key, Windowed):
            raise TypeError("suppress(until_window_closes) needs a windowed KTable")
        buffer: KeyValueStore = self.task.store(self.store_name)
        change: Change = record.value
        previous = buffer.get(key)
        if previous is not None:  # keep the first old value, the latest new value
            change = Change(change.new, previous[0].old)
        buffer.put(key, (change, record.timestamp, record.headers))
        self._emit_closed(buffer)

    def _emit_closed(self, buffer: KeyValueStore) -> None:
        now = self.task.stream_time
        closed = [k for k, _ in buffer.items() if k.window.end + self.grace_ms <= now]
        for key in sorted(closed, key=lambda k: (k.window.start, str(k.key))):
            change, timestamp, headers = buffer.delete(key)
            self.forward(StreamRecord(key, change, timestamp, headers))


def _filter_change(
    predicate: Callable[[Any, Any], bool], negate: bool
) -> Callable[[StreamRecord], Iterable[StreamRecord]]:
    def step(record: StreamRecord) -> Iterable[StreamRecord]:
        change: Change = record.value

        def keep(value: Any) -> Any:
            if value is None:
                return None
            return value if predicate(record.key, value) != negate else None

        new, old = keep(change.new), keep(change.old)
        if new is None and old is None:
            return []
        return [record.with_(value=Change(new, old))]

    return step


# -- the DSL ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Suppressed:
    """`Suppressed.until_window_closes()`: only each window's final result."""

    kind: str

    @classmethod
    def until_window_closes(cls) -> Suppressed:
        return cls("until_window_closes")


class StreamsBuilder:
    """Builds a topology; node names are numbered as Kafka Streams numbers them."""

    def __init__(self) -> None:
        self._nodes: list[Node] = []
        self._stores: dict[str, StoreSpec] = {}
        self._globals: dict[str, tuple[str, Serde | None, Serde | None]] = {}
        self._counter = itertools.count()

    def _name(self, prefix: str) -> str:
        return f"{prefix}-{next(self._counter):010d}"

    def _add(self, node: Node, parent: Node | None = None) -> Node:
        self._nodes.append(node)
        if parent is not None:
            parent.add_child(node)
        return node

    def _source(
        self,
        topics: tuple[str, ...],
        key_serde: Serde | None,
        value_serde: Serde | None,
        *,
        internal: bool = False,
        name: str | None = None,
        timestamp_extractor: Callable[[Any, int], int] | None = None,
    ) -> Node:
        node = Node(
            name or self._name("KSTREAM-SOURCE"),
            "source",
            lambda: _Source(key_serde, value_serde, timestamp_extractor),
            topics=topics,
            key_serde=key_serde,
            value_serde=value_serde,
            internal=internal,
        )
        return self._add(node)

    def stream(
        self,
        topics: str | Iterable[str],
        key_serde: Serde | None = None,
        value_serde: Serde | None = None,
        timestamp_extractor: Callable[[Any, int], int] | None = None,
    ) -> KStream:
        """A stream of the records of `topics` (one name or several).

        `timestamp_extractor(value, record_timestamp)` gives a record's event time (default:
        the record's timestamp), e.g. `lambda order, ts: order["created_ms"]`.
        """
        names = (topics,) if isinstance(topics, str) else tuple(topics)
        if not names:
            raise ValueError("stream() needs at least one topic")
        source = self._source(
            names, key_serde, value_serde, timestamp_extractor=timestamp_extractor
        )
        return KStream(self, source, key_serde=key_serde, value_serde=value_serde)

    def table(
        self,
        topic: str,
        key_serde: Serde | None = None,
        value_serde: Serde | None = None,
        materialized: str | None = None,
    ) -> KTable:
        """A table of the latest value per key of `topic` (a null value deletes the key)."""
        source = self._source((topic,), key_serde, value_serde)
        store = materialized or f"{topic}-STATE-STORE-{next(self._counter):010d}"
        self._stores[store] = StoreSpec(store, "kv", key_serde, value_serde)
        node = self._add(
            Node(
                self._name("KTABLE-SOURCE"),
                "processor",
                lambda: _TableSource(store),
                stores=(store,),
            ),
            source,
        )
        return KTable(self, node, store)

    def add_state_store(
        self,
        name: str,
        key_serde: Serde | None = None,
        value_serde: Serde | None = None,
        logged: bool = True,
    ) -> StreamsBuilder:
        """A key-value store for processors of the Processor API (`stream.process(..., name)`),
        backed by a changelog unless `logged=False`."""
        if name in self._stores:
            raise ValueError(f"there is already a store named {name!r}")
        self._stores[name] = StoreSpec(name, "kv", key_serde, value_serde, logged)
        return self

    def global_table(
        self,
        topic: str,
        key_serde: Serde | None = None,
        value_serde: Serde | None = None,
        materialized: str | None = None,
    ) -> GlobalKTable:
        """A table of every partition of `topic`, whole in each task: join streams with it
        by any key (`stream.join(global_table, key_selector, joiner)`), no co-partitioning."""
        store = materialized or f"{topic}-STATE-STORE-{next(self._counter):010d}"
        self._globals[store] = (topic, key_serde, value_serde)
        return GlobalKTable(store, topic)

    def build(self) -> Topology:
        return Topology(list(self._nodes), dict(self._stores), dict(self._globals))


@dataclass(frozen=True, slots=True)
class GlobalKTable:
    """A global table: its store's name and its topic."""

    store_name: str
    topic: str


class KStream:
    """An unbounded stream of records; every method returns a new stream (or table).

    As in Kafka Streams, a stream knows whether its key was changed since it was read (then a
    grouping or a join first sends it through a repartition topic) and the serdes its keys
    and values are known to have (those of `builder.stream(...)`, until a step changes them).
    """

    def __init__(
        self,
        builder: StreamsBuilder,
        node: Node,
        *,
        repartition: bool = False,
        key_serde: Serde | None = None,
        value_serde: Serde | None = None,
    ) -> None:
        self._b = builder
        self._node = node
        self._needs_repartition = repartition
        self._key_serde = key_serde
        self._value_serde = value_serde
        self._joinable: KStream | None = None  # this stream repartitioned for joins, once made

    def _step(
        self,
        prefix: str,
        fn: Callable[[StreamRecord], Iterable[StreamRecord]],
        *,
        rekeyed: bool = False,
        new_values: bool = False,
    ) -> KStream:
        node = self._b._add(Node(self._b._name(prefix), "processor", lambda: _Step(fn)), self._node)
        return KStream(
            self._b,
            node,
            repartition=self._needs_repartition or rekeyed,
            key_serde=None if rekeyed else self._key_serde,
            value_serde=None if new_values else self._value_serde,
        )

    def _step_node(self, prefix: str, make: Callable[[], Processor]) -> Node:
        return self._b._add(Node(self._b._name(prefix), "processor", make), self._node)

    def filter(self, predicate: Callable[[Any, Any], bool]) -> KStream:
        return self._step("KSTREAM-FILTER", lambda r: [r] if predicate(r.key, r.value) else [])

    def filter_not(self, predicate: Callable[[Any, Any], bool]) -> KStream:
        return self._step("KSTREAM-FILTER", lambda r: [] if predicate(r.key, r.value) else [r])

    def map(self, mapper: Callable[[Any, Any], tuple[Any, Any]]) -> KStream:
        def step(r: StreamRecord) -> list[StreamRecord]:
            key, value = mapper(r.key, r.value)
            return [r.with_(key=key, value=value)]

        return self._step("KSTREAM-MAP", step, rekeyed=True, new_values=True)

    def map_values(self, mapper: Callable[..., Any]) -> KStream:
        """`mapper(value)` or `mapper(key, value)`; the key stays, so no repartition."""
        fn = _value_fn(mapper)
        return self._step(
            "KSTREAM-MAPVALUES", lambda r: [r.with_(value=fn(r.key, r.value))], new_values=True
        )

    def flat_map(self, mapper: Callable[[Any, Any], Iterable[tuple[Any, Any]]]) -> KStream:
        return self._step(
            "KSTREAM-FLATMAP",
            lambda r: [r.with_(key=k, value=v) for k, v in mapper(r.key, r.value)],
            rekeyed=True,
            new_values=True,
        )

    def flat_map_values(self, mapper: Callable[..., Iterable[Any]]) -> KStream:
        fn = _value_fn(mapper)
        return self._step(
            "KSTREAM-FLATMAPVALUES",
            lambda r: [r.with_(value=v) for v in fn(r.key, r.value)],
            new_values=True,
        )

    def select_key(self, mapper: Callable[[Any, Any], Any]) -> KStream:
        return self._step(
            "KSTREAM-KEY-SELECT", lambda r: [r.with_(key=mapper(r.key, r.value))], rekeyed=True
        )

    def peek(self, action: Callable[[Any, Any], None]) -> KStream:
        def step(r: StreamRecord) -> list[StreamRecord]:
            action(r.key, r.value)
            return [r]

        return self._step("KSTREAM-PEEK", step)

    def foreach(self, action: Callable[[Any, Any], None]) -> None:
        def step(r: StreamRecord) -> list[StreamRecord]:
            action(r.key, r.value)
            return []

        self._step("KSTREAM-FOREACH", step)

    def merge(self, other: KStream) -> KStream:
        node = self._b._add(
            Node(self._b._name("KSTREAM-MERGE"), "processor", lambda: _Step(lambda r: [r])),
            self._node,
        )
        other._node.add_child(node)
        same_keys = self._key_serde is other._key_serde
        same_values = self._value_serde is other._value_serde
        return KStream(
            self._b,
            node,
            repartition=self._needs_repartition or other._needs_repartition,
            key_serde=self._key_serde if same_keys else None,
            value_serde=self._value_serde if same_values else None,
        )

    def process(self, supplier: Callable[[], Any], *stores: str) -> KStream:
        """Run your own `Processor` (a subclass, or a function returning one per task) with
        the named stores; what it forwards is the new stream. It may have changed the keys,
        so, as in Kafka Streams, a grouping or join after it repartitions first."""
        from kstream_nb.streams.processor_api import UserProcessorNode

        unknown = [s for s in stores if s not in self._b._stores]
        if unknown:
            raise ValueError(
                f"no store {', '.join(unknown)}: add it first with builder.add_state_store(name)"
            )
        node = self._b._add(
            Node(
                self._b._name("KSTREAM-PROCESSOR"),
                "processor",
                lambda: UserProcessorNode(supplier),
                stores=tuple(stores),
            ),
            self._node,
        )
        return KStream(self._b, node, repartition=True)

    def split(self, prefix: str = "") -> BranchedKStream:
        return BranchedKStream(self, prefix)

    def to(
        self,
        topic: str | Callable[[Any, Any], str],
        key_serde: Serde | None = None,
        value_serde: Serde | None = None,
    ) -> None:
        """Write every record to `topic` (or the topic `topic(key, value)` names)."""
        node = Node(
            self._b._name("KSTREAM-SINK"),
            "sink",
            lambda: _Sink(topic, key_serde, value_serde, node),
            topics=(topic,) if isinstance(topic, str) else (),
            key_serde=key_serde,
            value_serde=value_serde,
        )
        self._b._add(node, self._node)

    def repartition(
        self,
        key_serde: Serde | None = None,
        value_serde: Serde | None = None,
        name: str | None = None,
    ) -> KStream:
        """Send the records through an internal topic, partitioned by their current key."""
        base = name or self._b._name("KSTREAM-REPARTITION")
        key_serde = key_serde or self._key_serde
        value_serde = value_serde or self._value_serde
        return KStream(
            self._b,
            self._through(f"{base}-repartition", key_serde, value_serde),
            key_serde=key_serde,
            value_serde=value_serde,
        )

    def _through(
        self,
        topic: str,
        key_serde: Serde | None,
        value_serde: Serde | None,
        *,
        parent: Node | None = None,
        names: tuple[str, str] | None = None,
    ) -> Node:
        """An internal topic in the middle: a sink under `parent` (this stream's node), and
        the source that reads it back. `names`: (sink, source) when drawn beforehand."""
        sink_name, source_name = names or (self._b._name("KSTREAM-SINK"), None)
        sink = Node(
            sink_name,
            "sink",
            lambda: _Sink(topic, key_serde, value_serde, sink),
            topics=(topic,),
            key_serde=key_serde,
            value_serde=value_serde,
            internal=True,
        )
        self._b._add(sink, parent or self._node)
        return self._b._source((topic,), key_serde, value_serde, internal=True, name=source_name)

    def _repartition_for_join(self, prefix: str) -> KStream:
        """Kafka Streams' repartitionForJoin: a key-changed stream is sent through
        `<prefix>-repartition` (prefix: the name of the stream's last node), null keys
        filtered out first, so that both sides of the join are partitioned by the new key.
        Node names are drawn as Kafka draws them: sink, filter, then source."""
        b = self._b
        key_serde, value_serde = self._key_serde, self._value_serde
        sink_name, filter_name = b._name("KSTREAM-SINK"), b._name("KSTREAM-FILTER")
        source_name = b._name("KSTREAM-SOURCE")
        keyed = b._add(
            Node(
                filter_name,
                "processor",
                lambda: _Step(lambda r: [r] if r.key is not None else []),
            ),
            self._node,
        )
        source = self._through(
            f"{prefix}-repartition",
            key_serde,
            value_serde,
            parent=keyed,
            names=(sink_name, source_name),
        )
        return KStream(b, source, key_serde=key_serde, value_serde=value_serde)

    def _for_join(self) -> KStream:
        """This stream, repartitioned first if its key was changed; made once, so that joining
        one stream twice (or with itself) reuses one repartition topic, as Kafka Streams does."""
        if not self._needs_repartition:
            return self
        if self._joinable is None:
            self._joinable = self._repartition_for_join(self._node.name)
        return self._joinable

    def group_by_key(
        self, key_serde: Serde | None = None, value_serde: Serde | None = None
    ) -> KGroupedStream:
        return KGroupedStream(
            self,
            key_serde or self._key_serde,
            value_serde or self._value_serde,
            self._needs_repartition,
        )

    def group_by(
        self,
        selector: Callable[[Any, Any], Any],
        key_serde: Serde | None = None,
        value_serde: Serde | None = None,
    ) -> KGroupedStream:
        """Group by a new key: the records go through a repartition topic first."""
        keyed = self._step(
            "KSTREAM-KEY-SELECT", lambda r: [r.with_(key=selector(r.key, r.value))], rekeyed=True
        )
        return KGroupedStream(keyed, key_serde, value_serde or self._value_serde, True)

    def join(
        self,
        other: KTable | KStream | GlobalKTable,
        joiner: Callable[..., Any],
        windows: Any = None,
    ) -> KStream:
        """With a table: each record joined with the table's current value for its key (no
        match, no output). With a stream: records of both sides with the same key whose
        timestamps are within `windows` (`JoinWindows`). With a global table:
        `join(global_table, key_selector(key, value), joiner(value, row))`."""
        if isinstance(other, GlobalKTable):
            return self._global_join(other, joiner, windows, left=False)
        if isinstance(other, KStream):
            return self._windowed_join(other, joiner, windows, (False, False))
        return self._join(other, joiner, left=False)

    def left_join(
        self,
        other: KTable | KStream | GlobalKTable,
        joiner: Callable[..., Any],
        windows: Any = None,
    ) -> KStream:
        """Like `join`, but a left record without a match is joined with None (for streams,
        once its window has closed)."""
        if isinstance(other, GlobalKTable):
            return self._global_join(other, joiner, windows, left=True)
        if isinstance(other, KStream):
            return self._windowed_join(other, joiner, windows, (True, False))
        return self._join(other, joiner, left=True)

    def _global_join(
        self,
        table: GlobalKTable,
        selector: Callable[[Any, Any], Any],
        joiner: Any,
        left: bool,
    ) -> KStream:
        if not callable(joiner):
            raise ValueError(
                "join a global table as join(global_table, key_selector(key, value), "
                "joiner(value, row))"
            )
        store = table.store_name
        node = self._b._add(
            Node(
                self._b._name("KSTREAM-JOIN"),
                "processor",
                lambda: _GlobalJoin(store, selector, joiner, left),
            ),
            self._node,
        )
        # No repartition for a global table; a changed key still needs one later, as in Kafka.
        return KStream(
            self._b, node, repartition=self._needs_repartition, key_serde=self._key_serde
        )

    def outer_join(
        self, other: KStream, joiner: Callable[[Any, Any], Any], windows: Any
    ) -> KStream:
        """Both sides' records without a match are joined with None once their window closes."""
        return self._windowed_join(other, joiner, windows, (True, True))

    def _windowed_join(
        self,
        other: KStream,
        joiner: Callable[[Any, Any], Any],
        windows: Any,
        outer: tuple[bool, bool],
    ) -> KStream:
        if windows is None:
            raise ValueError(
                "a stream-stream join needs JoinWindows, e.g. "
                "JoinWindows.of_time_difference_with_no_grace('5min')"
            )
        b = self._b
        # As Kafka Streams: a key-changed side goes through a repartition topic first, so
        # both sides are partitioned by the join key (co-partitioned).
        this_side, other_side = self._for_join(), other._for_join()
        store = f"KSTREAM-JOINSTATE-{next(b._counter):010d}-store"
        b._stores[store] = StoreSpec(store, "kv", None, _WIRE)

        def side(i: int) -> Callable[[], Processor]:
            return lambda: _StreamStreamJoin(i, store, windows, joiner, outer)

        this = b._add(
            Node(b._name("KSTREAM-JOINTHIS"), "processor", side(0), stores=(store,)),
            this_side._node,
        )
        that = b._add(
            Node(b._name("KSTREAM-JOINOTHER"), "processor", side(1), stores=(store,)),
            other_side._node,
        )
        merged = b._add(
            Node(b._name("KSTREAM-MERGE"), "processor", lambda: _Step(lambda r: [r])), this
        )
        that.add_child(merged)
        return KStream(b, merged)

    def _join(self, table: KTable, joiner: Callable[[Any, Any], Any], left: bool) -> KStream:
        if table._store is None:
            raise ValueError("join a stream with a table read from a topic (builder.table)")
        store = table._store
        stream = self._for_join()  # the stream side, repartitioned if its key changed
        node = self._b._add(
            Node(
                self._b._name("KSTREAM-JOIN"),
                "processor",
                lambda: _StreamTableJoin(store, joiner, left),
                stores=(store,),
            ),
            stream._node,
        )
        return KStream(self._b, node, key_serde=stream._key_serde)


class BranchedKStream:
    """`stream.split().branch(pred, name).default_branch()` -> {name: KStream}."""

    def __init__(self, stream: KStream, prefix: str) -> None:
        self._stream = stream
        self._prefix = prefix
        self._branches: list[tuple[str, Callable[[Any, Any], bool]]] = []

    def branch(
        self, predicate: Callable[[Any, Any], bool], name: str | None = None
    ) -> BranchedKStream:
        self._branches.append((name or str(len(self._branches) + 1), predicate))
        return self

    def default_branch(self, name: str = "0") -> dict[str, KStream]:
        return self._done(name)

    def no_default_branch(self) -> dict[str, KStream]:
        return self._done(None)

    def _done(self, default: str | None) -> dict[str, KStream]:
        branches = list(self._branches)
        out: dict[str, KStream] = {}
        taken: list[Callable[[Any, Any], bool]] = []
        for name, predicate in branches:
            earlier = list(taken)

            def first(
                r: StreamRecord,
                p: Callable[[Any, Any], bool] = predicate,
                before: list[Callable[[Any, Any], bool]] = earlier,
            ) -> list[StreamRecord]:
                if any(b(r.key, r.value) for b in before):
                    return []
                return [r] if p(r.key, r.value) else []

            out[self._prefix + name] = self._stream._step("KSTREAM-BRANCH", first)
            taken.append(predicate)
        if default is not None:
            rest = list(taken)
            out[self._prefix + default] = self._stream._step(
                "KSTREAM-BRANCH",
                lambda r: [] if any(p(r.key, r.value) for p in rest) else [r],
            )
        return out


class _Aggregating:
    """`count` and `reduce` in terms of a grouping's `aggregate`."""

    def aggregate(
        self,
        initializer: Callable[[], Any],
        aggregator: Callable[[Any, Any, Any], Any],
        materialized: str | None = None,
        value_serde: Serde | None = None,
    ) -> KTable:
        raise NotImplementedError

    def count(self, materialized: str | None = None) -> KTable:
        return self.aggregate(
            lambda: 0, lambda key, value, agg: agg + 1, materialized, value_serde=Serdes.Long()
        )

    def reduce(self, reducer: Callable[[Any, Any], Any], materialized: str | None = None) -> KTable:
        marker = object()
        return self.aggregate(
            lambda: marker,
            lambda key, value, agg: value if agg is marker else reducer(agg, value),
            materialized,
        )


class KGroupedStream(_Aggregating):
    """A stream grouped by key, ready to aggregate."""

    def __init__(
        self,
        stream: KStream,
        key_serde: Serde | None,
        value_serde: Serde | None,
        repartition: bool,
    ) -> None:
        self._stream = stream
        self._key_serde = key_serde
        self._value_serde = value_serde
        self._repartition = repartition

    def _materialize(
        self,
        materialized: str | None,
        spec: Callable[[str], StoreSpec],
        prefix: str,
        make: Callable[[str], Processor],
        windows: TimeWindows | SessionWindows | None = None,
    ) -> KTable:
        """A store (named, or numbered as Kafka Streams does), the node after the repartition
        topic if the key changed, and the table it makes."""
        b = self._stream._b
        store = materialized or f"KSTREAM-AGGREGATE-STATE-STORE-{next(b._counter):010d}"
        upstream = (
            self._stream._through(f"{store}-repartition", self._key_serde, self._value_serde)
            if self._repartition
            else self._stream._node
        )
        b._stores[store] = spec(store)
        node = b._add(
            Node(b._name(prefix), "processor", lambda: make(store), stores=(store,)), upstream
        )
        return KTable(b, node, store, windows=windows)

    def aggregate(
        self,
        initializer: Callable[[], Any],
        aggregator: Callable[[Any, Any, Any], Any],
        materialized: str | None = None,
        value_serde: Serde | None = None,
    ) -> KTable:
        return self._materialize(
            materialized,
            lambda store: StoreSpec(store, "kv", self._key_serde, value_serde or Serdes.Json()),
            "KSTREAM-AGGREGATE",
            lambda store: _Aggregate(store, initializer, aggregator),
        )

    def windowed_by(
        self, windows: TimeWindows | SessionWindows | SlidingWindows
    ) -> TimeWindowedKStream | SessionWindowedKStream | SlidingWindowedKStream:
        if isinstance(windows, SessionWindows):
            return SessionWindowedKStream(self, windows)
        if isinstance(windows, SlidingWindows):
            return SlidingWindowedKStream(self, windows)
        return TimeWindowedKStream(self, windows)


class TimeWindowedKStream(_Aggregating):
    """A grouped stream cut into time windows (tumbling or hopping)."""

    _prefix = "KSTREAM-AGGREGATE"

    def __init__(self, grouped: KGroupedStream, windows: Any) -> None:
        self._grouped = grouped
        self._windows = windows

    def _window_size(self) -> int:
        return int(self._windows.size_ms)

    def _retention(self) -> int:
        """Kafka's default retention of a windowed aggregation's store: size plus grace."""
        return int(self._windows.size_ms + self._windows.grace_ms)

    def _retention_of(self, retention: str | int | None) -> int:
        """`retention` (Kafka's Materialized.withRetention), at least the default."""
        least = self._retention()
        if retention is None:
            return least
        ms = parse_duration_ms(retention)
        if ms < least:
            raise ValueError(
                f"retention {retention!r} ({ms} ms) is shorter than the windows plus their grace "
                f"({least} ms): a window would expire before it closes; give at least that"
            )
        return ms

    def count(
        self, materialized: str | None = None, *, retention: str | int | None = None
    ) -> KTable:
        """Count per key and window; `retention` keeps closed windows queryable that long."""
        return self.aggregate(
            lambda: 0,
            lambda key, value, agg: agg + 1,
            materialized,
            value_serde=Serdes.Long(),
            retention=retention,
        )

    def reduce(
        self,
        reducer: Callable[[Any, Any], Any],
        materialized: str | None = None,
        *,
        retention: str | int | None = None,
    ) -> KTable:
        marker = object()
        return self.aggregate(
            lambda: marker,
            lambda key, value, agg: value if agg is marker else reducer(agg, value),
            materialized,
            retention=retention,
        )

    def _processor(
        self, store: str, initializer: Callable[[], Any], aggregator: Callable[[Any, Any, Any], Any]
    ) -> Processor:
        return _WindowAggregate(store, self._windows, initializer, aggregator)

    def _with_companions(self, table: KTable) -> KTable:
        """Stores the aggregation keeps next to its window store (none for time windows)."""
        return table

    def aggregate(
        self,
        initializer: Callable[[], Any],
        aggregator: Callable[[Any, Any, Any], Any],
        materialized: str | None = None,
        value_serde: Serde | None = None,
        *,
        retention: str | int | None = None,
    ) -> KTable:
        """Aggregate per key and window. The store keeps a window until `retention` (default:
        window size plus grace, as Kafka) has passed beyond the newest window it saw; after
        that it is gone from interactive queries too."""
        size = self._window_size()
        retention_ms = self._retention_of(retention)
        table = self._grouped._materialize(
            materialized,
            lambda store: StoreSpec(
                store,
                "window",
                self._grouped._key_serde,
                value_serde or Serdes.Json(),
                window_size_ms=size,
                retention_ms=retention_ms,
            ),
            self._prefix,
            lambda store: self._processor(store, initializer, aggregator),
            self._windows if isinstance(self._windows, TimeWindows) else None,
        )
        return self._with_companions(table)


class KGroupedTable:
    """A table regrouped by a new key: aggregate with an adder and a subtractor."""

    def __init__(self, stream: KStream, key_serde: Serde | None, value_serde: Serde | None) -> None:
        self._grouped = KGroupedStream(stream, key_serde, ChangeSerde(value_serde), True)
        self._key_serde = key_serde

    def count(self, materialized: str | None = None) -> KTable:
        return self.aggregate(
            lambda: 0,
            lambda key, value, agg: agg + 1,
            lambda key, value, agg: agg - 1,
            materialized,
            value_serde=Serdes.Long(),
        )

    def reduce(
        self,
        adder: Callable[[Any, Any], Any],
        subtractor: Callable[[Any, Any], Any],
        materialized: str | None = None,
    ) -> KTable:
        return self.aggregate(
            lambda: None,
            lambda key, value, agg: value if agg is None else adder(agg, value),
            lambda key, value, agg: subtractor(agg, value),
            materialized,
        )

    def aggregate(
        self,
        initializer: Callable[[], Any],
        adder: Callable[[Any, Any, Any], Any],
        subtractor: Callable[[Any, Any, Any], Any],
        materialized: str | None = None,
        value_serde: Serde | None = None,
    ) -> KTable:
        return self._grouped._materialize(
            materialized,
            lambda store: StoreSpec(store, "kv", self._key_serde, value_serde or Serdes.Json()),
            "KTABLE-AGGREGATE",
            lambda store: _TableAggregate(store, initializer, adder, subtractor),
        )


class SlidingWindowedKStream(TimeWindowedKStream):
    """A grouped stream in sliding windows (KIP-450)."""

    _prefix = "KSTREAM-SLIDING-AGGREGATE"

    def _window_size(self) -> int:
        return int(self._windows.difference_ms)

    def _retention(self) -> int:
        """Sliding windows' store keeps twice the time difference plus grace (Kafka's)."""
        return int(2 * self._windows.difference_ms + self._windows.grace_ms)

    def _processor(
        self, store: str, initializer: Callable[[], Any], aggregator: Callable[[Any, Any, Any], Any]
    ) -> Processor:
        return _SlidingAggregate(store, self._windows, initializer, aggregator)

    def _with_companions(self, table: KTable) -> KTable:
        """The records of each key's open windows are kept in a second logged store,
        `<store>-records`, on the aggregation's node."""
        assert table._store is not None
        records = sliding_records_store(table._store)
        self._grouped._stream._b._stores[records] = StoreSpec(
            records, "kv", self._grouped._key_serde, _WIRE
        )
        table._node.stores = (*table._node.stores, records)
        return table


class SessionWindowedKStream:
    """A grouped stream cut into sessions of activity."""

    def __init__(self, grouped: KGroupedStream, windows: SessionWindows) -> None:
        self._grouped = grouped
        self._windows = windows

    def count(self, materialized: str | None = None) -> KTable:
        return self.aggregate(
            lambda: 0, lambda key, value, agg: agg + 1, lambda key, a, b: a + b, materialized
        )

    def reduce(self, reducer: Callable[[Any, Any], Any], materialized: str | None = None) -> KTable:
        return self.aggregate(
            lambda: None,
            lambda key, value, agg: value if agg is None else reducer(agg, value),
            lambda key, a, b: b if a is None else (a if b is None else reducer(a, b)),
            materialized,
        )

    def aggregate(
        self,
        initializer: Callable[[], Any],
        aggregator: Callable[[Any, Any, Any], Any],
        merger: Callable[[Any, Any, Any], Any],
        materialized: str | None = None,
    ) -> KTable:
        """`merger(key, agg1, agg2)` combines two sessions that a record joins into one."""
        windows = self._windows
        return self._grouped._materialize(
            materialized,
            lambda store: StoreSpec(store, "kv", self._grouped._key_serde, Serdes.Json()),
            "KSTREAM-SESSION-AGGREGATE",
            lambda store: _SessionAggregate(store, windows, initializer, aggregator, merger),
            windows,
        )


class KTable:
    """A changelog stream seen as a table: the latest value per key."""

    def __init__(
        self,
        builder: StreamsBuilder,
        node: Node,
        store: str | None,
        *,
        windows: TimeWindows | SessionWindows | None = None,
        key_serde: Serde | None = None,
        value_serde: Serde | None = None,
    ) -> None:
        self._b = builder
        self._node = node
        self._store = store
        self._windows = windows
        spec = builder._stores.get(store) if store is not None else None
        # The serdes of the table's keys and values, when known (None: the defaults).
        self._key_serde = key_serde or (spec.key_serde if spec is not None else None)
        self._value_serde = value_serde or (spec.value_serde if spec is not None else None)

    @property
    def store_name(self) -> str | None:
        """The state store holding this table (for `KafkaStreams.store()` and the driver)."""
        return self._store

    def _derive(
        self,
        prefix: str,
        fn: Callable[[StreamRecord], Iterable[StreamRecord]],
        *,
        same_values: bool = True,
    ) -> KTable:
        node = self._b._add(Node(self._b._name(prefix), "processor", lambda: _Step(fn)), self._node)
        return KTable(
            self._b,
            node,
            None,
            windows=self._windows,
            key_serde=self._key_serde,
            value_serde=self._value_serde if same_values else None,
        )

    def filter(self, predicate: Callable[[Any, Any], bool]) -> KTable:
        return self._derive("KTABLE-FILTER", _filter_change(predicate, negate=False))

    def filter_not(self, predicate: Callable[[Any, Any], bool]) -> KTable:
        return self._derive("KTABLE-FILTER", _filter_change(predicate, negate=True))

    def map_values(self, mapper: Callable[..., Any]) -> KTable:
        fn = _value_fn(mapper)

        def step(r: StreamRecord) -> list[StreamRecord]:
            change: Change = r.value
            new = None if change.new is None else fn(r.key, change.new)
            old = None if change.old is None else fn(r.key, change.old)
            return [r.with_(value=Change(new, old))]

        return self._derive("KTABLE-MAPVALUES", step, same_values=False)

    def join(
        self,
        other: KTable,
        joiner: Callable[[Any, Any], Any],
        *,
        foreign_key: Callable[[Any], Any] | None = None,
    ) -> KTable:
        """A table of joiner(left, right) for keys in both tables (Kafka's KTable-KTable join);
        with `foreign_key(left_value)`, each left row joins the right row with that key."""
        if foreign_key is not None:
            return self._foreign_key_join(other, joiner, foreign_key, outer=False)
        return self._table_join(other, joiner, "inner")

    def left_join(
        self,
        other: KTable,
        joiner: Callable[[Any, Any], Any],
        *,
        foreign_key: Callable[[Any], Any] | None = None,
    ) -> KTable:
        if foreign_key is not None:
            return self._foreign_key_join(other, joiner, foreign_key, outer=True)
        return self._table_join(other, joiner, "left")

    def _foreign_key_join(
        self,
        other: KTable,
        joiner: Callable[[Any, Any], Any],
        extract: Callable[[Any], Any],
        *,
        outer: bool,
    ) -> KTable:
        """Kafka's foreign-key join: left rows subscribe, through a repartition topic keyed by
        the foreign key, to the right row they point at; the right side answers, through one
        keyed by the left key, whenever a subscription starts or the right row changes."""
        if self._store is None or other._store is None:
            raise ValueError(
                "both tables of a join need a store: join tables read with builder.table() or "
                "made by an aggregation"
            )
        b = self._b
        left_store, right_store = self._store, other._store
        name = b._name("KTABLE-FK-JOIN")
        subscriptions = f"{name}-SUBSCRIPTION-STATE-STORE"
        b._stores[subscriptions] = StoreSpec(subscriptions, "kv", None, _WIRE)
        left = KStream(b, self._node)
        subscribe = left._step_node("KTABLE-FK-JOIN-SUBSCRIBE", lambda: _FkSubscribe(extract))
        to_right = KStream(b, subscribe)._through(
            f"{name}-SUBSCRIPTION-REGISTRATION-topic", None, _WIRE
        )
        answers = b._add(
            Node(
                b._name("KTABLE-FK-JOIN-SUBSCRIPTIONS"),
                "processor",
                lambda: _FkSubscriptions(subscriptions, right_store),
                stores=(subscriptions, right_store),
            ),
            to_right,
        )
        changes = b._add(
            Node(
                b._name("KTABLE-FK-JOIN-RIGHT"),
                "processor",
                lambda: _FkRightChange(subscriptions),
                stores=(subscriptions,),
            ),
            other._node,
        )
        response = f"{name}-SUBSCRIPTION-RESPONSE-topic"
        back = KStream(b, answers)._through(response, None, _WIRE)
        changes_sink = Node(
            b._name("KSTREAM-SINK"),
            "sink",
            lambda: _Sink(response, None, _WIRE, changes_sink),
            topics=(response,),
            value_serde=_WIRE,
            internal=True,
        )
        b._add(changes_sink, changes)
        resolved = b._add(
            Node(
                b._name("KTABLE-FK-JOIN-RESOLVE"),
                "processor",
                lambda: _FkResolve(left_store, extract, joiner, outer),
                stores=(left_store,),
            ),
            back,
        )
        gone = left._step_node("KTABLE-FK-JOIN-LEFT-GONE", lambda: _FkLeftGone(extract))
        merged = b._add(
            Node(b._name("KTABLE-MERGE"), "processor", lambda: _Step(lambda r: [r])), resolved
        )
        gone.add_child(merged)
        return KTable(b, merged, None)

    def outer_join(self, other: KTable, joiner: Callable[[Any, Any], Any]) -> KTable:
        return self._table_join(other, joiner, "outer")

    def _table_join(self, other: KTable, joiner: Callable[[Any, Any], Any], mode: str) -> KTable:
        if self._store is None or other._store is None:
            raise ValueError(
                "both tables of a join need a store: join tables read with builder.table() or "
                "made by an aggregation"
            )
        stores = (self._store, other._store)
        b = self._b
        this = b._add(
            Node(
                b._name("KTABLE-JOINTHIS"),
                "processor",
                lambda: _TableTableJoin(0, stores, joiner, mode),
                stores=stores,
            ),
            self._node,
        )
        that = b._add(
            Node(
                b._name("KTABLE-JOINOTHER"),
                "processor",
                lambda: _TableTableJoin(1, stores, joiner, mode),
                stores=stores,
            ),
            other._node,
        )
        merged = b._add(
            Node(b._name("KTABLE-MERGE"), "processor", lambda: _Step(lambda r: [r])), this
        )
        that.add_child(merged)
        return KTable(b, merged, None)

    def group_by(
        self,
        selector: Callable[[Any, Any], tuple[Any, Any]],
        key_serde: Serde | None = None,
        value_serde: Serde | None = None,
    ) -> KGroupedTable:
        """Regroup the rows by `selector(key, value) -> (new_key, new_value)`; aggregations
        then add each new row and subtract each replaced one (through a repartition topic)."""
        node = self._b._add(
            Node(self._b._name("KTABLE-SELECT"), "processor", lambda: _TableRekey(selector)),
            self._node,
        )
        return KGroupedTable(KStream(self._b, node), key_serde, value_serde)

    def to_stream(self) -> KStream:
        """Each update as a record (a deletion as a null value)."""
        node = self._b._add(
            Node(
                self._b._name("KTABLE-TOSTREAM"),
                "processor",
                _ToStream,
            ),
            self._node,
        )
        return KStream(self._b, node)

    def suppress(self, suppressed: Suppressed) -> KTable:
        """`Suppressed.until_window_closes()`: one final result per window.

        The results wait in a buffer backed by a changelog,
        `<application.id>-KTABLE-SUPPRESS-STATE-STORE-<n>-changelog` (named as Kafka Streams
        names it), restored when a task starts, so a restart loses no final result."""
        if self._windows is None:
            raise ValueError("until_window_closes() suppresses a windowed table only")
        grace = self._windows.grace_ms
        b = self._b
        name = b._name("KTABLE-SUPPRESS")
        store = f"KTABLE-SUPPRESS-STATE-STORE-{next(b._counter):010d}"
        session = isinstance(self._windows, SessionWindows)
        b._stores[store] = StoreSpec(
            store,
            "kv",
            _BufferKeySerde(self._key_serde, session),
            _BufferValueSerde(self._value_serde),
        )
        node = b._add(
            Node(name, "processor", lambda: _Suppress(grace, store), stores=(store,)),
            self._node,
        )
        return KTable(
            b,
            node,
            None,
            windows=self._windows,
            key_serde=self._key_serde,
            value_serde=self._value_serde,
        )
