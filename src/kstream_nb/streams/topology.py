"""A topology: source, processor and sink nodes, grouped into sub-topologies, run as tasks.

The DSL (`StreamsBuilder`) builds nodes; `Topology` splits them into sub-topologies where a
repartition topic cuts the graph (nodes that share a state store stay together), and `Task`
runs one sub-topology for one partition: it deserializes a record, pushes it through the
processors in order, and hands what sinks write to a collector. Both the test driver and
`KafkaStreams` run the same tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol, cast

import msgspec

from kstream_nb.streams.serdes import Serde, Serdes
from kstream_nb.streams.stores import KeyValueStore, StoreSpec, WindowStore
from kstream_nb.streams.windows import Window, Windowed

__all__ = ["Change", "Node", "Processor", "StreamRecord", "Task", "Topology"]


class StreamRecord(msgspec.Struct):
    """A record inside a topology: deserialized key and value, event time, headers. (A msgspec
    Struct, like the other values made per record: built in C, several times faster than a
    dataclass.)"""

    key: Any
    value: Any
    timestamp: int
    headers: tuple[tuple[str, bytes | None], ...] = ()

    def with_(self, key: Any = ..., value: Any = ...) -> StreamRecord:
        return StreamRecord(
            self.key if key is ... else key,
            self.value if value is ... else value,
            self.timestamp,
            self.headers,
        )


class FetchedRecord(msgspec.Struct, gc=False):
    """A record as fetched, key and value still bytes (what `Task.process_records` takes)."""

    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int
    headers: Iterable[tuple[str, bytes | None]] = ()


class Change(msgspec.Struct, frozen=True):
    """What a KTable forwards: the new value for a key and the one it replaced."""

    new: Any
    old: Any


class Processor:
    """One node's behaviour in one task; `forward` passes a record to the node's children."""

    task: Task
    children: list[Processor]
    name: str  # its node's name, set by the task

    #: Pass a record to every child. Set by `init` (so not a method to override): with one
    #: child (most nodes), the child's own `process`, one Python call less per record and node.
    forward: Callable[[StreamRecord], None]

    def init(self, task: Task, children: list[Processor]) -> None:
        self.task = task
        self.children = children
        self.forward = children[0].process if len(children) == 1 else self._forward_all

    def process(self, record: StreamRecord) -> None:
        raise NotImplementedError

    def _forward_all(self, record: StreamRecord) -> None:
        for child in self.children:
            child.process(record)


@dataclass(eq=False)
class Node:
    """A node of the topology graph; `make` builds its processor for a task."""

    name: str
    kind: str  # "source", "processor" or "sink"
    make: Callable[[], Processor]
    children: list[Node] = field(default_factory=list)
    stores: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()  # sources: topics read; sinks: the topic written (if fixed)
    key_serde: Serde | None = None
    value_serde: Serde | None = None
    internal: bool = False  # reads or writes a repartition topic

    def add_child(self, child: Node) -> Node:
        self.children.append(child)
        return child


@dataclass(frozen=True, slots=True)
class SubTopology:
    id: int
    nodes: tuple[Node, ...]
    sources: dict[str, Node]  # topic -> source node
    stores: tuple[str, ...]


class Topology:
    """Nodes and stores, as built by `StreamsBuilder.build()`."""

    def __init__(
        self,
        nodes: list[Node],
        stores: dict[str, StoreSpec],
        global_tables: dict[str, tuple[str, Serde | None, Serde | None]] | None = None,
    ) -> None:
        self.nodes = nodes
        self.stores = stores
        #: store -> (topic, key serde, value serde): tables every task sees whole.
        self.global_tables = dict(global_tables or {})
        self.subtopologies = self._split()

    def _split(self) -> list[SubTopology]:
        parent: dict[str, str] = {n.name: n.name for n in self.nodes}

        def find(name: str) -> str:
            while parent[name] != name:
                parent[name] = parent[parent[name]]
                name = parent[name]
            return name

        def union(a: str, b: str) -> None:
            parent[find(a)] = find(b)

        by_store: dict[str, str] = {}
        for node in self.nodes:
            for child in node.children:
                union(node.name, child.name)
            for store in node.stores:
                if store in by_store:
                    union(node.name, by_store[store])
                by_store[store] = node.name
        groups: dict[str, list[Node]] = {}
        for node in self.nodes:
            groups.setdefault(find(node.name), []).append(node)
        out = []
        for i, members in enumerate(groups.values()):
            sources = {t: n for n in members if n.kind == "source" for t in n.topics}
            stores = tuple(dict.fromkeys(s for n in members for s in n.stores))
            out.append(SubTopology(i, tuple(members), sources, stores))
        return out

    def source_topics(self, *, internal: bool | None = None) -> list[str]:
        topics: list[str] = []
        for node in self.nodes:
            if node.kind == "source" and (internal is None or node.internal == internal):
                topics.extend(node.topics)
        return list(dict.fromkeys(topics))

    def repartition_topics(self) -> list[str]:
        return self.source_topics(internal=True)

    def describe(self) -> str:
        """The topology as Kafka Streams' `Topology.describe()` prints it."""
        lines = ["Topologies:"]
        for store, (topic, _, _) in self.global_tables.items():
            lines.append(f"   Global store: {store} (topic: {topic})")
        for sub in self.subtopologies:
            lines.append(f"   Sub-topology: {sub.id}")
            parents: dict[str, list[str]] = {}
            for node in sub.nodes:
                for child in node.children:
                    parents.setdefault(child.name, []).append(node.name)
            for node in sub.nodes:
                children = ", ".join(c.name for c in node.children) or "none"
                if node.kind == "source":
                    lines.append(f"    Source: {node.name} (topics: [{', '.join(node.topics)}])")
                elif node.kind == "sink":
                    topic = node.topics[0] if node.topics else "<extracted>"
                    lines.append(f"    Sink: {node.name} (topic: {topic})")
                else:
                    stores = ", ".join(node.stores)
                    lines.append(f"    Processor: {node.name} (stores: [{stores}])")
                # As Kafka prints it: a source has no predecessors line, a sink no successors.
                if node.kind != "sink":
                    lines.append(f"      --> {children}")
                if node.kind != "source":
                    lines.append(f"      <-- {', '.join(parents.get(node.name, [])) or 'none'}")
            lines.append("")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.describe()

    def mermaid(self) -> str:
        """The topology as a Mermaid flowchart: sub-topologies, topics, processors, stores."""
        ids: dict[str, str] = {}

        def ident(kind: str, name: str) -> str:
            return ids.setdefault(f"{kind}:{name}", f"{kind[0]}{len(ids)}")

        def label(text: str) -> str:
            return '"' + text.replace('"', "'") + '"'

        lines = ["flowchart LR"]
        for sub in self.subtopologies:
            lines.append(f"  subgraph sub{sub.id} [{label(f'Sub-topology {sub.id}')}]")
            for node in sub.nodes:
                shape = {"source": "([{}])", "sink": "[[{}]]"}.get(node.kind, "[{}]")
                lines.append(f"    {ident('node', node.name)}{shape.format(label(node.name))}")
            lines.append("  end")
        links: list[str] = []
        for sub in self.subtopologies:
            for node in sub.nodes:
                me = ident("node", node.name)
                links.extend(f"  {me} --> {ident('node', c.name)}" for c in node.children)
                for topic in node.topics:
                    topic_id = ident("topic", topic)
                    links.append(f"  {topic_id}{{{{{label(topic)}}}}}")
                    edge = (
                        f"{topic_id} --> {me}" if node.kind == "source" else f"{me} --> {topic_id}"
                    )
                    links.append(f"  {edge}")
                for store in node.stores:
                    links.append(f"  {ident('store', store)}[({label(store)})]")
                    links.append(f"  {me} -.- {ident('store', store)}")
        for store, (topic, _, _) in self.global_tables.items():
            links.append(f"  {ident('store', store)}[({label(store + ' (global)')})]")
            links.append(
                f"  {ident('topic', topic)}{{{{{label(topic)}}}}} --> {ident('store', store)}"
            )
        return "\n".join([*lines, *dict.fromkeys(links)])

    def _repr_markdown_(self) -> str:
        """A graph in JupyterLab (which draws Mermaid), the text of `describe()` elsewhere."""
        return f"```mermaid\n{self.mermaid()}\n```"


class PunctuationType(Enum):
    STREAM_TIME = "stream_time"
    WALL_CLOCK_TIME = "wall_clock_time"


class _Cached(msgspec.Struct, gc=False):
    """A table update waiting in the record cache. Never tracked by the garbage collector
    (`gc=False`): a cache holds tens of thousands of these, and each tracked one would count
    towards the next collection and be walked until it died. Nothing refers back to an entry,
    so none can be part of a reference cycle. It keeps no reference to the input record, whose
    value is garbage as soon as it is aggregated."""

    processor: str  # the node that made the update, which forwards it
    #: The cache key this entry was first stored under. A merged update reinserts this one
    #: and lets the caller's equal key go: that one was just made (in the CPU's caches), while
    #: freeing the old one would touch memory long unused.
    key: Any
    new: Any
    old: Any
    timestamp: int
    headers: tuple[tuple[str, bytes | None], ...]
    window_size: int  # 0, or the size of the windows of a window store (keys: (key, start))


def _forwarded(entry: _Cached) -> StreamRecord:
    """The record an update forwards: `Change(new, old)`, keyed by its window if it has one
    (a window store's key is (key, window start))."""
    key = entry.key
    if entry.window_size:
        start = key[1]
        key = Windowed(key[0], Window(start, start + entry.window_size))
    return StreamRecord(key, Change(entry.new, entry.old), entry.timestamp, entry.headers)


class _Receiver(Protocol):
    """A source node: what a task hands each fetched record to (the DSL's `_Source`)."""

    def receive(
        self,
        raw_key: bytes | None,
        raw_value: bytes | None,
        timestamp: int,
        headers: tuple[tuple[str, bytes | None], ...],
    ) -> None: ...


#: What sinks write through: (topic, key, value, timestamp, headers, partition key), the topic
#: named as in the cluster (an internal one with its application id), key and value as bytes.
#: The partition key, when not None, is what the partitioner hashes instead of the key (a
#: windowed key's base key).
Collector = Callable[
    [str, bytes | None, bytes | None, int, tuple[tuple[str, bytes | None], ...], bytes | None],
    None,
]


class Task:
    """One sub-topology for one partition: processors, stores and stream time."""

    def __init__(
        self,
        topology: Topology,
        sub: SubTopology,
        partition: int,
        collector: Collector,
        changelog: Callable[[Task, str], Callable[[Any, Any], None]] | None = None,
        global_stores: dict[str, KeyValueStore] | None = None,
        topic_name: Callable[[str], str] = lambda t: t,
        default_serdes: tuple[Serde, Serde] | None = None,
        on_error: Callable[[Task, Exception, bytes | None, bytes | None, int], None] | None = None,
        cache_entries: int = 0,
    ) -> None:
        self.id = (sub.id, partition)
        self.sub = sub
        self.partition = partition
        self.collector = collector
        self.topic_name = topic_name
        #: (key, value) serdes for nodes without their own: the application's, else bytes.
        self.default_serdes = default_serdes or (Serdes.Bytes(), Serdes.Bytes())
        self.cache_entries = cache_entries
        #: The record cache: per store, key -> update, in the order of each key's last update
        #: (Kafka's NamedCache per store, within one budget of `cache_entries` for the task).
        self._caches: dict[str, dict[Any, _Cached]] = {name: {} for name in sub.stores}
        self._cached = 0  # entries across the task's caches
        self.on_error = on_error
        self.stream_time = -1
        self.dropped_late = 0
        self.processed = 0
        self.stores: dict[str, KeyValueStore | WindowStore] = {}
        self.shared: dict[str, Any] = {}  # state processors of one task share (join buffers)
        self.global_stores = global_stores or {}
        self.punctuators: list[Any] = []  # Cancellable, see processor_api
        self.wall_clock_ms = 0
        for name in sub.stores:
            spec = topology.stores[name]
            on_write = None
            if changelog is not None and spec.logged:
                on_write = changelog(self, name)
            if spec.kind == "window":
                self.stores[name] = WindowStore(
                    name, spec.window_size_ms, on_write, retention_ms=spec.retention_ms
                )
            else:
                self.stores[name] = KeyValueStore(name, on_write)
        self.processors: dict[str, Processor] = {n.name: n.make() for n in sub.nodes}
        for name, processor in self.processors.items():
            processor.name = name
        for node in sub.nodes:
            children = [self.processors[c.name] for c in node.children]
            self.processors[node.name].init(self, children)
        self._sources: dict[str, _Receiver] = {
            topic_name(topic): cast(_Receiver, self.processors[node.name])
            for topic, node in sub.sources.items()
        }
        self._current_topic = ""
        self._current_offset = -1

    def store(self, name: str) -> Any:
        return self.stores[name]

    @property
    def current(self) -> tuple[str, int, int]:
        """(topic, partition, offset) of the record being processed (-1: none yet)."""
        return (self._current_topic, self.partition, self._current_offset)

    def process(
        self,
        topic: str,
        offset: int,
        key: Any,
        value: Any,
        timestamp: int,
        headers: Iterable[tuple[str, bytes | None]] = (),
    ) -> None:
        """Run one record (still bytes) from `topic` through the sub-topology."""
        self.process_records(topic, (FetchedRecord(offset, key, value, timestamp, headers),))

    def process_records(self, topic: str, records: Iterable[Any]) -> None:
        """Run records fetched from `topic` (still bytes) through the sub-topology, in order:
        objects with `offset`, `key`, `value`, `timestamp` and `headers` attributes, such as
        aiokafka's records or `FetchedRecord`s. The bulk form of `process`."""
        receive = self._sources[topic].receive
        self._current_topic = topic
        for r in records:
            self._current_offset = r.offset
            headers = r.headers
            try:
                receive(
                    r.key,
                    r.value,
                    r.timestamp,
                    tuple(headers) if headers else (),  # (a tuple: itself)
                )
            except Exception as exc:  # the error policy decides: fail, or skip (and dead-letter)
                if self.on_error is None:
                    raise
                self.on_error(self, exc, r.key, r.value, r.timestamp)
            self.processed += 1
            if self.punctuators:
                punctuate(self, PunctuationType.STREAM_TIME, self.stream_time)

    def advance_wall_clock(self, now_ms: int) -> None:
        """Fire wall-clock punctuations due at `now_ms`."""
        self.wall_clock_ms = now_ms
        if self.punctuators:
            punctuate(self, PunctuationType.WALL_CLOCK_TIME, now_ms)

    # -- table updates, through the record cache ----------------------------------------------

    def table_get(self, store: str, key: Any) -> Any:
        """A table's current value for `key` (the cache's, if the key waits there)."""
        cached = self._caches[store].get(key)
        return cached.new if cached is not None else self.stores[store].read(key)

    def table_put(
        self,
        processor: Processor,
        store: str,
        key: Any,
        new: Any,
        old: Any,
        record: StreamRecord,
        window_size: int = 0,
    ) -> None:
        """Write a table update and forward `Change(new, old)`, now or, with a record cache, at
        the next flush: updates of one key in between are merged into one, as in Kafka Streams
        with `statestore.cache.max.bytes` > 0. For a window store (`window_size` > 0), `key`
        is (record key, window start) and the update is forwarded keyed by `Windowed`."""
        entry = _Cached(
            processor.name, key, new, old, record.timestamp, record.headers, window_size
        )
        if self.cache_entries <= 0:
            self.stores[store].write(key, new)
            processor.forward(_forwarded(entry))
            return
        cache = self._caches[store]
        previous = cache.pop(key, None)  # merged: it moves to the newest end
        if previous is not None:
            # ... and replaces what the first one replaced, under the first one's key object
            entry.key, entry.old = previous.key, previous.old
            cache[previous.key] = entry
            return
        cache[key] = entry
        self._cached += 1
        if self._cached > self.cache_entries:
            # Kafka evicts from the cache just written, which flushes its every entry.
            self._flush_store(store)

    def table_aggregate(
        self,
        processor: Processor,
        store: str,
        key: Any,
        record: StreamRecord,
        initializer: Callable[[], Any],
        aggregator: Callable[[Any, Any, Any], Any],
        window_size: int = 0,
    ) -> None:
        """Fold `record` into the aggregate at `key` of `store` (`table_get`, the aggregator,
        `table_put`): the hot path of every aggregation. A key waiting in the record cache is
        looked up once and its entry updated in place. The cache is left as it was if the
        aggregator raises."""
        cache = self._caches[store]
        cached = cache.get(key)
        if cached is None:
            old = self.stores[store].read(key)
            new = aggregator(record.key, record.value, initializer() if old is None else old)
            self.table_put(processor, store, key, new, old, record, window_size)
            return
        old = cached.new
        new = aggregator(record.key, record.value, initializer() if old is None else old)
        del cache[key]  # merged: it moves to the newest end, and keeps what the first replaced
        cached.processor = processor.name
        cached.new = new
        cached.timestamp = record.timestamp
        cached.headers = record.headers
        cache[cached.key] = cached

    def cached(self, store: str) -> dict[Any, Any]:
        """Updates of `store` still in the record cache: key -> new value (None: deleted)."""
        return {key: c.new for key, c in self._caches[store].items()}

    def flush(self) -> None:
        """Write every cached update to its store (and changelog) and forward it."""
        while self._cached:
            for store, cache in self._caches.items():
                if cache:
                    self._flush_store(store)

    def _flush_store(self, store: str) -> None:
        """Write a store's cached updates, then forward them: while they are forwarded the
        store holds them all, as Kafka's cache still does during its flush."""
        entries = self._caches[store]
        self._caches[store] = {}  # forwarding may cache new updates, of this store or others
        self._cached -= len(entries)
        target, processors = self.stores[store], self.processors
        for key, cached in entries.items():
            target.write(key, cached.new)
        for cached in entries.values():  # (each entry holds its key)
            processors[cached.processor].forward(_forwarded(cached))


def punctuate(task: Task, kind: PunctuationType, now: int) -> None:
    """Fire every punctuation of `kind` that is due at `now` (once), and reschedule it."""
    for p in list(task.punctuators):
        if p.cancelled:
            task.punctuators.remove(p)
            continue
        if p.kind is not kind:
            continue
        if p.next_due is None:  # stream time: counted from the first record seen
            p.next_due = now + p.interval_ms
            continue
        if now >= p.next_due:
            p.callback(now)
            missed = (now - p.next_due) // p.interval_ms + 1
            p.next_due += missed * p.interval_ms
