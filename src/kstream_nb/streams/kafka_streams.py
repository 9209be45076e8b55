"""`KafkaStreams`: run a topology on a cluster, as Kafka Streams runs it.

One consumer in the group `application.id` reads every source topic (repartition topics too);
a task per sub-topology and partition holds the processors and state stores; a producer writes
sinks, repartition topics and the stores' changelogs. At least once: outputs are flushed before
the input offsets are committed. A task restores its stores from their changelogs before it
processes, so a restarted instance, or one that takes over a partition, continues the counts.

```python
streams = KafkaStreams(builder.build(), {"application.id": "orders-app",
                                         "bootstrap.servers": "localhost:9092"})
streams.start()          # a background thread (real-time clusters)
streams.run(count=100)   # or: process 100 records here (any cluster, also simulated)
streams.close()
```
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from kstream_nb.client import Consumer, KafkaError, KafkaException, TopicPartition
from kstream_nb.runtime.registry import find_cluster
from kstream_nb.streams.collector import RecordCollector
from kstream_nb.streams.errors import ErrorPolicy, StreamsError
from kstream_nb.streams.serdes import Serde, Serdes
from kstream_nb.streams.stores import KeyValueStore, StoreSpec, WindowStore
from kstream_nb.streams.topology import Task, Topology
from kstream_nb.streams.windows import Window

__all__ = ["KafkaStreams", "StreamsError"]

log = logging.getLogger(__name__)
_START = struct.Struct(">q")
#: windowstore.changelog.additional.retention.ms: a windowed changelog outlives its store by a day.
CHANGELOG_ADDITIONAL_RETENTION_MS = 24 * 3600 * 1000
_KNOWN = {
    "application.id",
    "bootstrap.servers",
    "default.key.serde",
    "default.value.serde",
    "processing.guarantee",
    "default.deserialization.exception.handler",
    "processing.exception.handler",
    "errors.dead.letter.queue.topic.name",
    "commit.interval.ms",
    "num.stream.threads",
    "replication.factor",
    "auto.offset.reset",
    "statestore.cache.max.bytes",
    "cache.max.bytes.buffering",
}
_REBALANCING = (
    KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.ILLEGAL_GENERATION,
    KafkaError.UNKNOWN_MEMBER_ID,
)
_ENTRY_BYTES = 100  # what one cached table update is taken to weigh
#: Records drawn from the consumer per step. The records of a step are alive together (each an
#: aiokafka object and its headers list, both tracked by the garbage collector); kept under the
#: collector's young-generation threshold (700) they die young, instead of setting off passes
#: that walk them and promote them to older generations (at 500 a step, the collector took
#: twice as long in the streams bench).
_RECORDS_PER_STEP = 200


class KafkaStreams:
    """A running topology: CREATED -> RUNNING -> NOT_RUNNING (or ERROR)."""

    def __init__(self, topology: Topology, config: Mapping[str, Any]) -> None:
        unknown = sorted(set(config) - _KNOWN)
        if unknown:
            raise StreamsError(
                f"unknown streams config {', '.join(unknown)}; known: {', '.join(sorted(_KNOWN))}"
            )
        for required in ("application.id", "bootstrap.servers"):
            if not config.get(required):
                raise StreamsError(f"{required} is required (e.g. 'orders-app', 'localhost:9092')")
        guarantee = str(config.get("processing.guarantee", "at_least_once"))
        if guarantee == "exactly_once_v2":
            raise StreamsError(
                "processing.guarantee=exactly_once_v2 needs transactions, which kstream_nb does "
                "not have yet; use at_least_once"
            )
        if guarantee != "at_least_once":
            raise StreamsError(
                f"processing.guarantee must be at_least_once or exactly_once_v2, got {guarantee!r}"
            )
        self.errors = ErrorPolicy(config)
        self.topology = topology
        self.application_id = str(config["application.id"])
        self.bootstrap_servers = str(config["bootstrap.servers"])
        self._defaults: tuple[Serde, Serde] = (
            config.get("default.key.serde") or Serdes.Bytes(),
            config.get("default.value.serde") or Serdes.Bytes(),
        )
        self._replication = int(config.get("replication.factor", -1))
        self._offset_reset = str(config.get("auto.offset.reset", "earliest"))
        cache_bytes = int(
            config.get(
                "statestore.cache.max.bytes", config.get("cache.max.bytes.buffering", 10 << 20)
            )
        )
        self._cache_entries = max(0, cache_bytes // _ENTRY_BYTES)
        self._commit_interval_ms = int(config.get("commit.interval.ms", 30_000))
        self._last_commit_ms = 0
        self.state = "CREATED"
        self.tasks: dict[tuple[int, int], Task] = {}
        self.processed = 0
        self._consumer: Consumer | None = None
        self._producer: RecordCollector | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self.error: BaseException | None = None
        self._global_consumer: Consumer | None = None
        self._global_stores = {name: KeyValueStore(name) for name in topology.global_tables}
        self._store_serdes: dict[str, tuple[Serde, Serde]] = {}
        self._sub_of: dict[str, int] = {}
        for sub in topology.subtopologies:
            for topic in sub.sources:
                self._sub_of[self._topic(topic)] = sub.id

    # -- names -----------------------------------------------------------------------------

    def _topic(self, logical: str) -> str:
        """Repartition topics are named `<application.id>-<name>`, as in Kafka Streams."""
        internal = logical in self.topology.repartition_topics()
        return f"{self.application_id}-{logical}" if internal else logical

    def changelog_topic(self, store: str) -> str:
        return f"{self.application_id}-{store}-changelog"

    # -- lifecycle -------------------------------------------------------------------------

    def _prepare(self) -> None:
        if self.state != "CREATED":
            raise StreamsError(
                f"this KafkaStreams is {self.state}; create a new one to start again"
            )
        cluster = find_cluster(self.bootstrap_servers)
        existing = set(cluster.topics())
        user_sources = self.topology.source_topics(internal=False)
        global_topics = [t for t, _, _ in self.topology.global_tables.values()]
        missing = [t for t in [*user_sources, *global_topics] if t not in existing]
        if missing:
            raise StreamsError(
                f"source topic(s) {', '.join(missing)} do not exist; create them before starting"
            )
        counts = {t: len(cluster.topic(t).partitions) for t in user_sources}
        partitions = max(counts.values(), default=1)
        for sub in self.topology.subtopologies:
            user = [t for t in sub.sources if t in counts]
            if len({counts[t] for t in user}) > 1:
                detail = ", ".join(f"{t} has {counts[t]}" for t in user)
                raise StreamsError(
                    f"a join needs co-partitioned topics (the same number of partitions): {detail}"
                )
        rf = self._replication if self._replication > 0 else min(3, len(cluster.broker_ids))
        for topic in self.topology.repartition_topics():
            name = self._topic(topic)
            if name not in existing:
                # As many partitions as the user topics its reader is co-partitioned with.
                reader = next(sub for sub in self.topology.subtopologies if topic in sub.sources)
                beside = [counts[t] for t in reader.sources if t in counts]
                count = max(beside) if beside else partitions
                cluster.create_topic(name, partitions=count, replication_factor=rf)
        for store, spec in self.topology.stores.items():
            name = self.changelog_topic(store)
            if spec.logged and name not in existing:
                config: dict[str, Any] = {"cleanup.policy": "compact"}
                if spec.kind == "window" and spec.retention_ms > 0:
                    # Kafka: windowed changelogs also delete, a day after the store's retention
                    # (windowstore.changelog.additional.retention.ms).
                    config = {
                        "cleanup.policy": "compact,delete",
                        "retention.ms": spec.retention_ms + CHANGELOG_ADDITIONAL_RETENTION_MS,
                    }
                cluster.create_topic(
                    name, partitions=partitions, replication_factor=rf, config=config
                )
        self._cluster = cluster
        self._last_commit_ms = cluster.now_ms()
        self._producer = RecordCollector(cluster)
        self._consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap_servers,
                "group.id": self.application_id,
                "enable.auto.commit": False,
                "auto.offset.reset": self._offset_reset,
            }
        )
        self._bootstrap_global_tables(cluster)
        self._subscribe()
        self.state = "RUNNING"

    def _subscribe(self) -> None:
        """Join (or rejoin) the group `application.id` for every source topic."""
        assert self._consumer is not None
        topics = [self._topic(t) for t in self.topology.source_topics()]
        self._consumer.subscribe(
            topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )

    def start(self) -> None:
        """Process in a background thread until `close()` (real-time clusters)."""
        cluster = find_cluster(self.bootstrap_servers)
        if cluster.simulated:
            raise StreamsError(
                "start() runs in the background; on a simulated cluster time only moves when "
                "you call it: use run(count=..., timeout=...) instead"
            )
        self._prepare()
        self._thread = threading.Thread(target=self._loop, name="kstream-nb-streams", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                self._step(0.1)
        except BaseException as exc:  # the state says ERROR; close() re-raises nothing
            self.error = exc
            self.state = "ERROR"
            log.exception("streams application %s stopped", self.application_id)

    def run(self, count: int | None = None, timeout: float = 10.0) -> int:
        """Process in the calling thread; returns how many records were processed.

        It stops once `count` more records are processed, or after `timeout` seconds, or,
        without a count, once it has had nothing to do for a second (or `timeout`, if
        shorter); then it commits. On a simulated cluster these are seconds of simulated
        time: the clock moves only while `run` waits for records, by at most `timeout` in
        all (plus the few simulated milliseconds that writing outputs, restoring and
        committing take), the same on every run. On a real-time cluster they are wall
        seconds.
        """
        if self.state == "CREATED":
            self._prepare()
        if self._thread is not None:
            raise StreamsError("this application runs in the background (start()); use one way")
        start = self.processed
        simulated = self._cluster.simulated

        def now() -> int:  # milliseconds: the cluster's clock when simulated
            return self._cluster.now_ms() if simulated else int(time.monotonic() * 1000)

        deadline = now() + int(timeout * 1000)
        idle_limit = min(int(timeout * 1000), 1000)
        idle_since = now()
        while count is None or self.processed - start < count:
            remaining = deadline - now()
            if remaining <= 0:
                break
            # Never wait past the deadline (in simulated time, waiting is what moves the clock).
            if self._step(min(100, remaining) / 1000):
                idle_since = now()
            elif count is None and now() - idle_since >= idle_limit:
                break
        with self._lock:
            self._commit()
        return self.processed - start

    def close(self, timeout: float = 10.0) -> None:
        """Stop processing, commit what was processed, leave the group."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._lock:
            if self._consumer is not None:
                if self.state == "RUNNING":
                    self._commit()
                self._consumer.close()
                self._consumer = None
            if self._global_consumer is not None:
                self._global_consumer.close()
                self._global_consumer = None
            self._producer = None
        self.tasks.clear()
        if self.state != "ERROR":
            self.state = "NOT_RUNNING"

    def __enter__(self) -> KafkaStreams:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- global tables ---------------------------------------------------------------------

    def _bootstrap_global_tables(self, cluster: Any) -> None:
        """Read every global table's topic to its end before processing, then keep following."""
        if not self.topology.global_tables:
            return
        self._global_consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap_servers,
                "group.id": f"{self.application_id}-global",
                "enable.auto.commit": False,
            }
        )
        ends: dict[tuple[str, int], int] = {}
        assignment = []
        for topic, _, _ in self.topology.global_tables.values():
            for p in range(len(cluster.topic(topic).partitions)):
                tp = TopicPartition(topic, p)
                low, high = self._global_consumer.get_watermark_offsets(tp)
                ends[(topic, p)] = high
                assignment.append(TopicPartition(topic, p, low))
        self._global_consumer.assign(assignment)
        position = dict.fromkeys(ends, 0)
        while any(position[k] < ends[k] for k in ends):
            for msg in self._global_consumer.consume(1000, 1.0):
                self._apply_global(msg)
                position[(msg.topic() or "", msg.partition() or 0)] = (msg.offset() or 0) + 1

    def _follow_global_tables(self) -> None:
        if self._global_consumer is not None:
            for msg in self._global_consumer.consume(1000, 0):
                self._apply_global(msg)

    def _apply_global(self, msg: Any) -> None:
        if msg.error() is not None or msg.key() is None:
            return
        for name, (topic, key_serde, value_serde) in self.topology.global_tables.items():
            if topic == msg.topic():
                key = (key_serde or self._defaults[0]).deserialize(msg.key())
                value = (value_serde or self._defaults[1]).deserialize(msg.value())
                self._global_stores[name].put(key, value)

    # -- processing ------------------------------------------------------------------------

    def _step(self, timeout: float) -> int:
        consumer = self._consumer
        if consumer is None:
            return 0
        # Not under the lock: queries of the stores (other threads) must not wait for a poll.
        self._follow_global_tables()
        messages, chunks = consumer._consume_records(_RECORDS_PER_STEP, timeout)
        done = 0
        with self._lock:
            now = self._cluster.now_ms()
            for each in self.tasks.values():
                each.advance_wall_clock(now)
            tasks, sub_of = self.tasks, self._sub_of
            for msg in messages:  # errors and events (and anything a poll() built before)
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    if error.code() == KafkaError._MAX_POLL_EXCEEDED:
                        self._rejoin(error)
                        continue
                    raise KafkaException(error)
                topic = msg.topic() or ""
                task = tasks.get((sub_of[topic], msg.partition() or 0))
                if task is None:  # revoked while in flight
                    continue
                offset = msg.offset()
                headers = msg.headers()
                task.process(
                    topic,
                    -1 if offset is None else offset,
                    msg.key(),
                    msg.value(),
                    msg.timestamp()[1],
                    _headers(headers) if headers else (),
                )
                done += 1
            for topic, partition, records in chunks:  # a partition's fetched records
                task = tasks.get((sub_of[topic], partition))
                if task is None:  # revoked while in flight
                    continue
                task.process_records(topic, records)
                done += len(records)
            self.processed += done
            if done and self._cluster.now_ms() - self._last_commit_ms >= self._commit_interval_ms:
                self._commit()
            elif done and self._producer is not None:
                self._producer.flush()  # as a producer's linger: downstream tasks see them soon
        return done

    def _commit(self) -> None:
        """At least once: everything the processed records caused is written, then offsets."""
        if self._producer is None or self._consumer is None:
            return
        for task in list(self.tasks.values()):
            task.flush()
        self._last_commit_ms = self._cluster.now_ms()
        self._producer.flush()
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException as exc:
            code = exc.args[0].code()
            if code in _REBALANCING:
                # The group is moving partitions: what this commit covered will be processed
                # again by their next owner (at least once), as in Kafka Streams.
                log.info("commit skipped during a rebalance (%s)", exc.args[0].name())
            elif code != KafkaError._NO_OFFSET:
                raise

    def _changelog_writer(self, task: Task, store: str) -> Callable[[Any, Any], None]:
        """What a logged store of `task` calls on each write: the record for its changelog
        partition (the task's own), stamped with the task's stream time. A window store's key
        is (key, window start): the key's bytes, then the start's 8."""
        assert self._producer is not None
        send = self._producer.send
        spec = self.topology.stores[store]
        key_serde, value_serde = self._serdes(spec)
        key_bytes, value_bytes = key_serde.serializer(), value_serde.serializer()
        topic, partition = self.changelog_topic(store), task.partition
        windowed, pack = spec.kind == "window", _START.pack

        def write(key: Any, value: Any) -> None:
            base = key[0] if windowed else key
            try:
                data_key = None if base is None else key_bytes(base)
                data_value = None if value is None else value_bytes(value)
            except Exception:  # the bare functions failed: the serdes say why
                data_key, data_value = key_serde.serialize(base), value_serde.serialize(value)
            if windowed:
                data_key = (data_key or b"") + pack(key[1])
            send(topic, data_key, data_value, task.stream_time, partition=partition)

        return write

    def _serdes(self, spec: StoreSpec) -> tuple[Serde, Serde]:
        found = self._store_serdes.get(spec.name)
        if found is None:
            key_default, value_default = self._defaults
            found = (
                spec.key_serde.resolved(key_default) if spec.key_serde else key_default,
                spec.value_serde.resolved(value_default) if spec.value_serde else value_default,
            )
            self._store_serdes[spec.name] = found
        return found

    def _decode(self, spec: StoreSpec, key: bytes, value: bytes | None) -> tuple[Any, Any]:
        key_serde, value_serde = self._serdes(spec)
        if spec.kind == "window":
            decoded: Any = (key_serde.deserialize(key[:-8]), _START.unpack(key[-8:])[0])
        else:
            decoded = key_serde.deserialize(key)
        return decoded, value_serde.deserialize(value)

    # -- tasks -----------------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        with self._lock:
            self._assign(partitions)

    def _assign(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            sub_id = self._sub_of.get(tp.topic)
            if sub_id is None or (sub_id, tp.partition) in self.tasks:
                continue
            sub = self.topology.subtopologies[sub_id]
            assert self._producer is not None
            task = Task(
                self.topology,
                sub,
                tp.partition,
                self._producer.send,
                topic_name=self._topic,
                default_serdes=self._defaults,
                on_error=self.errors.for_tasks(self._dead_letter),
                changelog=self._changelog_writer,
                cache_entries=self._cache_entries,
                global_stores=self._global_stores,
            )
            self._restore(task)
            task.advance_wall_clock(self._cluster.now_ms())
            self.tasks[(sub_id, tp.partition)] = task
        self._share_cache()

    def _share_cache(self) -> None:
        """statestore.cache.max.bytes is one budget for the whole instance, as in Kafka
        Streams (where a thread's tasks share its cache): each task gets an equal share."""
        if self._cache_entries > 0 and self.tasks:
            share = max(1, self._cache_entries // len(self.tasks))
            for task in self.tasks.values():
                task.cache_entries = share

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        with self._lock:
            if self.state == "RUNNING" and self._producer is not None:
                self._commit()
            for tp in partitions:
                sub_id = self._sub_of.get(tp.topic)
                if sub_id is not None:
                    self.tasks.pop((sub_id, tp.partition), None)
            self._share_cache()

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """The group went on without this member (e.g. max.poll.interval.ms passed between
        polls): as Kafka Streams' handleLostAll, its tasks are closed without a commit (another
        member may own them by now); what they processed since the last commit is processed
        again by the next owner (at least once), which restores their state from changelogs."""
        with self._lock:
            for tp in partitions:
                sub_id = self._sub_of.get(tp.topic)
                if sub_id is not None:
                    self.tasks.pop((sub_id, tp.partition), None)

    def _rejoin(self, error: KafkaError) -> None:
        """The consumer left the group (max.poll.interval.ms exceeded between polls): as the
        Java consumer does on its next poll, rejoin; tasks come back through the assignment."""
        log.warning(
            "streams application %s rejoins its group: %s", self.application_id, error.str()
        )
        self.tasks.clear()  # lost (on_lost ran already, unless the event was not served yet)
        self._subscribe()

    def _restore(self, task: Task) -> None:
        """Fill the task's stores from their changelogs before it processes anything."""
        for name, store in task.stores.items():
            spec = self.topology.stores[name]
            if not spec.logged:
                continue
            topic = self.changelog_topic(name)
            reader = Consumer(
                {
                    "bootstrap.servers": self.bootstrap_servers,
                    "group.id": f"{self.application_id}-restore",
                    "enable.auto.commit": False,
                }
            )
            try:
                tp = TopicPartition(topic, task.partition)
                low, high = reader.get_watermark_offsets(tp)
                if high <= low:
                    continue
                reader.assign([TopicPartition(topic, task.partition, low)])
                position = low
                while position < high:
                    for msg in reader.consume(1000, 1.0):
                        if msg.error() is not None or msg.key() is None:
                            continue
                        key, value = self._decode(spec, msg.key() or b"", msg.value())
                        store.restore(key, value)
                        position = (msg.offset() or 0) + 1
            finally:
                reader.close()

    @property
    def skipped(self) -> list[str]:
        """Records the error handlers let go: "topic-partition@offset: why"."""
        return self.errors.skipped

    def _dead_letter(self, topic: str, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        assert self._producer is not None
        self._producer.send(topic, key, value, timestamp, headers)

    # -- interactive queries ---------------------------------------------------------------

    def store(self, name: str) -> ReadOnlyStore:
        """A read-only view of a state store over every task of this instance."""
        if name not in self.topology.stores and name not in self.topology.global_tables:
            raise StreamsError(f"no store {name!r}; stores are {sorted(self.topology.stores)}")
        return ReadOnlyStore(self, name)


class ReadOnlyStore:
    """`get`, `all` and, for window stores, `fetch` over the local tasks' copies, including
    updates still in the record cache (as Kafka Streams' interactive queries see them)."""

    def __init__(self, streams: KafkaStreams, name: str) -> None:
        self._streams = streams
        self.name = name

    def _entries(self) -> dict[Any, Any]:
        """Every (key or (key, window start)) -> value, cache applied."""
        entries: dict[Any, Any] = {}
        global_store = self._streams._global_stores.get(self.name)
        if global_store is not None:
            return dict(global_store.all())
        with self._streams._lock:
            for task in self._streams.tasks.values():
                store = task.stores.get(self.name)
                if store is None:
                    continue
                if isinstance(store, WindowStore):
                    entries.update(((k, w.start), v) for (k, w), v in store.all())
                else:
                    entries.update(store.all())
                entries.update(task.cached(self.name))
        return {k: v for k, v in entries.items() if v is not None}

    def _window_size(self) -> int:
        spec = self._streams.topology.stores.get(self.name)
        return spec.window_size_ms if spec is not None else 0

    def get(self, key: Any) -> Any:
        return self._entries().get(key)

    def all(self) -> list[tuple[Any, Any]]:
        entries = self._entries()
        spec = self._streams.topology.stores.get(self.name)
        if spec is None or spec.kind != "window":
            return list(entries.items())
        size = self._window_size()
        return [((k, Window(start, start + size)), v) for (k, start), v in entries.items()]

    def fetch(self, key: Any, time_from: int = 0, time_to: int = 2**63 - 1) -> list[Any]:
        """(window, value) of `key` for windows starting in [time_from, time_to], oldest first."""
        size = self._window_size()
        found = [
            (Window(start, start + size), v)
            for (k, start), v in self._entries().items()
            if k == key and time_from <= start <= time_to
        ]
        return sorted(found, key=lambda wv: wv[0].start)


def _headers(headers: Any) -> list[tuple[str, bytes | None]]:
    """A message's headers as (name, bytes) pairs (str values encoded)."""
    items = headers.items() if isinstance(headers, dict) else headers or ()
    return [(k, v.encode() if isinstance(v, str) else v) for k, v in items]
