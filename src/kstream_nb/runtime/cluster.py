"""`Cluster`: a multi-broker, Kafka-compatible cluster inside this Python process.

```python
from kstream_nb import Cluster
with Cluster.start(brokers=3, simulated=True, seed=7) as cluster:
    cluster.create_topic("orders", partitions=3, replication_factor=3)
    cluster.produce("orders", b"hello", key=b"k")
    cluster.kill_broker(2)
    cluster.advance("10s")
```

In real time one background thread runs the cluster and every method hands its work to that
thread; in simulated time nothing runs between calls, and `advance` moves the clock.
"""

from __future__ import annotations

import _thread
import functools
import html
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from kstream_nb.clock import parse_duration_ms
from kstream_nb.cluster import (
    BrokerConfig,
    ClusterCore,
    ClusterEvent,
    ClusterSnapshot,
    GroupSnapshot,
    Metric,
    ProduceResult,
    prometheus_text,
)
from kstream_nb.cluster.events import NetworkChanged
from kstream_nb.errors import ErrorCode, KafkaApiError, KStreamNbError
from kstream_nb.log import BatchBuilder, Record
from kstream_nb.runtime import registry
from kstream_nb.runtime.extensions import analytics
from kstream_nb.runtime.handles import ConsumerGroup, Topic
from kstream_nb.runtime.loop import RealTimeLoop, SimulatedLoop
from kstream_nb.runtime.network import SimulatedNetwork
from kstream_nb.runtime.twins import TwinWriter
from kstream_nb.runtime.views import brokers_table, topics_table
from kstream_nb.runtime.watch import Watch
from kstream_nb.table import Tables

if TYPE_CHECKING:
    import duckdb

__all__ = ["BASE_PORT", "Cluster", "ProduceError", "tail_records"]

T = TypeVar("T")
BASE_PORT = 9092
_ACKS = {"all": -1, "-1": -1, "1": 1, "0": 0}
_TWIN_INTERVAL_MS = 250
_LEADER_MOVING = (ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.LEADER_NOT_AVAILABLE)


def tail_records(
    core: ClusterCore, topic: str, n: int, partition: int | None = None
) -> list[tuple[int, Record]]:
    """The newest `n` committed records of `topic` (or one partition), newest first."""
    image = core.image
    if topic not in image.topics:
        raise KafkaApiError(
            f"topic {topic!r} does not exist", code=ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        )
    indexes = sorted(image.topics[topic].partitions) if partition is None else [partition]
    found: list[tuple[int, Record]] = []
    for index in indexes:
        hw = core.high_watermark(topic, index)
        if hw is None or hw == 0:
            continue
        start = max(0, hw - n)
        fetched = core.fetch(topic, index, start, 4 << 20)
        if fetched.error == ErrorCode.OFFSET_OUT_OF_RANGE:  # retention moved the log start
            start = fetched.log_start_offset
        records = core.read(topic, index, start, max_bytes=4 << 20)
        found.extend((index, r) for r in records[-n:])
    found.sort(key=lambda item: (item[1].timestamp, item[1].offset), reverse=True)
    return found[:n]


class _Answers:
    """Collects the answers to produce requests sent together; `done` when all are in."""

    def __init__(self, expected: list[int]) -> None:
        self.expected = list(expected)
        self.results: dict[int, ProduceResult] = {}
        self.done = threading.Event()
        self._lock = threading.Lock()

    def callback(self, index: int) -> Callable[[ProduceResult], None]:
        def answer(result: ProduceResult) -> None:
            with self._lock:
                self.results[index] = result
                if len(self.results) == len(self.expected):
                    self.done.set()

        return answer


class ProduceError(KafkaApiError):
    """A produce request the cluster answered with an error."""


class Cluster:
    """N brokers, a controller and a network, in this kernel, in real or simulated time."""

    def __init__(
        self,
        brokers: int = 3,
        *,
        data_dir: str | Path | None = None,
        config: Mapping[str, Any] | None = None,
        simulated: bool = False,
        seed: int | None = None,
        racks: Mapping[int, str] | None = None,
        start_ms: int = 1_700_000_000_000,
    ) -> None:
        if brokers < 1:
            raise ValueError(f"a cluster needs at least 1 broker, got {brokers}")
        self.broker_ids = list(range(1, brokers + 1))
        self.broker_config = BrokerConfig.from_properties(dict(config or {}))
        self.simulated = simulated
        self._temp_dir = data_dir is None
        self.data_dir = (
            Path(tempfile.mkdtemp(prefix="kstream-nb-")) if data_dir is None else Path(data_dir)
        )
        self._loop: SimulatedLoop | RealTimeLoop
        if simulated:
            self._loop = SimulatedLoop(start_ms=start_ms, seed=seed)
        else:
            self._loop = RealTimeLoop(seed=seed)
        rng = random.Random(seed)
        self.network = SimulatedNetwork(self._loop, rng=random.Random(rng.getrandbits(32)))
        self.core = ClusterCore(
            self._loop,
            self.network,
            self.data_dir,
            self.broker_ids,
            self.broker_config,
            racks=racks,
            reachable=self.network.is_reachable,
            rng=random.Random(rng.getrandbits(32)),
        )
        self._stopped = False
        self._watches: list[Watch[Any]] = []
        self._twins_scheduled_at = float("-inf")
        if isinstance(self._loop, SimulatedLoop):
            self._loop.after_run.append(self._after_simulated_run)
            self.twins = TwinWriter(self.core, None)
        else:
            loop = self._loop
            self.twins = TwinWriter(self.core, loop.call_soon)

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        brokers: int = 3,
        data_dir: str | Path | None = None,
        config: Mapping[str, Any] | None = None,
        simulated: bool = False,
        seed: int | None = None,
        racks: Mapping[int, str] | None = None,
    ) -> Cluster:
        """Start brokers 1..N and wait until every one is registered and unfenced."""
        cluster = cls(
            brokers, data_dir=data_dir, config=config, simulated=simulated, seed=seed, racks=racks
        )
        if isinstance(cluster._loop, RealTimeLoop):
            cluster._loop.start()
        try:
            cluster._call(cluster.core.start)
            cluster._schedule_twins_periodically()
            cluster.wait_until(
                lambda: all(b.status == "up" for b in cluster.core.describe().brokers),
                timeout="30s",
                what="the brokers to register with the controller",
            )
        except BaseException:
            cluster.stop()
            raise
        registry.register(cluster, cluster.bootstrap_servers.split(","))
        return cluster

    def stop(self) -> None:
        """Stop every broker cleanly, end the background thread, remove a temporary data dir."""
        if self._stopped:
            return
        self._stopped = True
        registry.unregister(self)
        for watch in list(self._watches):
            watch.close()
        self.twins.close()
        try:
            if isinstance(self._loop, RealTimeLoop):
                if self._loop.is_running:
                    self._loop.run_sync(self.core.stop)
                    self._loop.stop()
            else:
                self.core.stop()
        finally:
            if self._temp_dir:
                shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def stopped(self) -> bool:
        """Whether `stop()` was called (clients stop retrying then)."""
        return self._stopped

    @property
    def bootstrap_servers(self) -> str:
        """`localhost:9092,...`: broker N answers on port 9091+N (for clients, as in Kafka)."""
        return ",".join(f"localhost:{BASE_PORT + b - 1}" for b in self.broker_ids)

    # -- running on the cluster's thread ---------------------------------------------------

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` where the cluster's state may be touched (its thread) and return its result.

        For read-only looks at `self.core` that no other method offers; keep `fn` short.
        """
        return self._call(fn)

    def _call(self, fn: Callable[[], T]) -> T:
        if self._stopped:
            raise KStreamNbError("the cluster is stopped; start a new one with Cluster.start()")
        if isinstance(self._loop, RealTimeLoop):
            return self._loop.run_sync(fn)
        try:
            return fn()
        finally:
            self._after_simulated_run()

    def now_ms(self) -> int:
        return self._loop.now_ms()

    def advance(self, duration: str | int) -> int:
        """Simulated time only: run everything due in the next `duration` ("5s", "1h")."""
        if not isinstance(self._loop, SimulatedLoop):
            raise KStreamNbError(
                "advance() moves simulated time; start the cluster with simulated=True, or wait "
                "in real time"
            )
        return self._loop.advance(duration)

    def _pause(self, ms: int) -> None:
        if isinstance(self._loop, SimulatedLoop):
            self._loop.advance(ms)
        else:
            threading.Event().wait(ms / 1000)

    @contextmanager
    def interrupt_after(self, duration: str | int) -> Iterator[None]:
        """Raise KeyboardInterrupt in this thread after `duration` of the cluster's time.

        What the notebook's interrupt button does, on a timer: for loops that poll forever, like
        the curriculum's consumers. In real time the interrupt may land anywhere in the loop
        (main thread only); in simulated time it is raised when a cluster call has moved the
        clock past the deadline, between two steps of the cluster, never inside one.
        """
        delay = parse_duration_ms(duration)
        if isinstance(self._loop, RealTimeLoop):
            if threading.current_thread() is not threading.main_thread():
                raise KStreamNbError("interrupt_after works from the main thread only")
            timer = threading.Timer(delay / 1000, _thread.interrupt_main)
            timer.daemon = True
            timer.start()
            try:
                yield
            finally:
                timer.cancel()
            return
        loop = self._loop
        due: list[bool] = []

        def interrupt() -> None:
            if due:
                loop.after_run.remove(interrupt)
                raise KeyboardInterrupt(f"interrupted after {duration} of simulated time")

        deadline = loop.call_later(delay, lambda: due.append(True))
        loop.after_run.append(interrupt)
        try:
            yield
        finally:
            deadline.cancel()
            if interrupt in loop.after_run:
                loop.after_run.remove(interrupt)

    def wait_until(
        self, predicate: Callable[[], bool], timeout: str | int = "30s", what: str = "a condition"
    ) -> None:
        """Run (simulated) or wait (real time) until `predicate()` holds, or raise TimeoutError."""
        limit = parse_duration_ms(timeout)
        if isinstance(self._loop, SimulatedLoop):
            if not self._loop.run_until(predicate, limit):
                raise TimeoutError(
                    f"timed out after {timeout} of simulated time waiting for {what}"
                )
            return
        done = threading.Event()

        def poll() -> None:
            if predicate():
                done.set()
            elif not done.is_set():
                self._loop.call_later(10, poll)

        self._loop.call_soon(poll)
        if not done.wait(limit / 1000):
            done.set()
            raise TimeoutError(f"timed out after {timeout} waiting for {what}")

    # -- topics ----------------------------------------------------------------------------

    def create_topic(
        self,
        name: str,
        partitions: int | None = None,
        replication_factor: int | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        """Create a topic and wait until every partition has its leader."""
        self._call(lambda: self.core.create_topic(name, partitions, replication_factor, config))
        self.wait_until(
            lambda: self._all_leaders_ready(name),
            timeout="30s",
            what=f"the partitions of {name} to get their leaders",
        )

    def _all_leaders_ready(self, topic: str) -> bool:
        image = self.core.image.topics.get(topic)
        if image is None:
            return False
        for index, state in image.partitions.items():
            broker = self.core.brokers.get(state.leader)
            local = broker.partitions.get((topic, index)) if broker else None
            if local is None or not local.is_leader:
                return False
        return True

    def delete_topic(self, name: str) -> None:
        self._call(lambda: self.core.delete_topic(name))

    def create_partitions(self, name: str, total: int) -> None:
        self._call(lambda: self.core.create_partitions(name, total))
        self.wait_until(
            lambda: self._all_leaders_ready(name),
            timeout="30s",
            what=f"the new partitions of {name}",
        )

    def alter_topic_config(
        self, name: str, config: Mapping[str, Any], *, replace: bool = False
    ) -> None:
        """Set config overrides; `replace=True` makes `config` the whole set (others reset)."""
        self._call(lambda: self.core.alter_topic_config(name, config, replace=replace))

    def init_producer_id(self) -> tuple[int, int]:
        """A new idempotent producer's (producer id, epoch), unique in the cluster."""
        return self._call(self.core.init_producer_id)

    def elect_preferred_leaders(self, topic: str | None = None) -> int:
        return self._call(lambda: self.core.elect_preferred_leaders(topic))

    def topics(self) -> list[str]:
        return self._call(lambda: sorted(self.core.image.topics))

    def topic(self, name: str) -> Topic:
        """A handle on one topic (partitions, offsets, config, newest records)."""
        return Topic(self, name)

    def sql(self, query: str) -> duckdb.DuckDBPyRelation:
        """Run a DuckDB query in which every topic is a view by its name (a snapshot taken now).

        Columns: partition, offset, timestamp, key, value, headers and batch facts; JSON topics
        also get a typed column per field and `value` as JSON (`value->>'customer_id'`).
        """
        relation: duckdb.DuckDBPyRelation = analytics("sql")(self, query)
        return relation

    def group(self, group_id: str) -> ConsumerGroup:
        """A handle on one consumer group (members, assignment, offsets, lag)."""
        return ConsumerGroup(self, group_id)

    def groups(self) -> tuple[GroupSnapshot, ...]:
        """Every consumer group with its members, committed offsets and lag, now."""
        return self._call(self.core.describe_groups)

    def metrics(self) -> tuple[Metric, ...]:
        """Every running broker's metrics under Kafka's JMX names (`kafka.server:type=
        BrokerTopicMetrics,name=MessagesInPerSec,topic=orders` ...), as JConsole would show."""
        return self._call(self.core.metrics)

    def prometheus(self) -> str:
        """The metrics as a Prometheus scrape of the JMX exporter would show them."""
        return prometheus_text(self.metrics())

    def topic_configs(self) -> dict[str, dict[str, str]]:
        """Config overrides of every topic."""
        return self._call(
            lambda: {name: dict(t.config) for name, t in self.core.image.topics.items()}
        )

    def tail(
        self, topic: str, n: int = 10, partition: int | None = None
    ) -> list[tuple[int, Record]]:
        """The newest `n` committed records of a topic, as (partition, record), newest first."""
        return self._call(lambda: tail_records(self.core, topic, n, partition))

    # -- faults ----------------------------------------------------------------------------

    def kill_broker(self, broker_id: int) -> None:
        """Crash a broker: in-memory state gone, files kept. Leaders move after the session
        timeout (`broker.session.timeout.ms`), as when a real broker process dies."""
        self._call(lambda: self.core.kill_broker(broker_id))

    def restart_broker(self, broker_id: int) -> None:
        """Start a killed or stopped broker: it recovers its logs, catches up, rejoins the ISR."""
        self._call(lambda: self.core.restart_broker(broker_id))

    def shutdown_broker(self, broker_id: int, timeout: str = "30s") -> None:
        """Controlled shutdown: leadership moves first, then the broker stops cleanly."""
        done = threading.Event()
        self._call(lambda: self.core.shutdown_broker(broker_id, done.set))
        self.wait_until(done.is_set, timeout=timeout, what=f"broker {broker_id} to shut down")

    def isolate_broker(self, broker_id: int) -> None:
        """Cut every link between this broker and the others."""
        self._check_broker(broker_id)
        self._network_change("isolate", (broker_id,), lambda: self.network.isolate(broker_id))

    def cut_link(self, a: int, b: int) -> None:
        """Cut the link between two brokers, both ways."""
        self._check_broker(a)
        self._check_broker(b)
        self._network_change("cut", (a, b), lambda: self.network.cut_link(a, b))

    def slow_link(self, a: int, b: int, latency: str | int) -> None:
        """Add latency to the link between two brokers, both ways ("200ms")."""
        self._check_broker(a)
        self._check_broker(b)
        ms = parse_duration_ms(latency)
        self._network_change("slow", (a, b), lambda: self.network.set_latency(a, b, ms), ms)

    def heal(self) -> None:
        """Undo every cut, isolation and slow link."""
        self._network_change("heal", (), self.network.heal)

    def heal_broker(self, broker_id: int) -> None:
        """Undo every fault touching one broker: its isolation, cut links and slow links."""
        self._check_broker(broker_id)
        self._network_change("heal", (broker_id,), lambda: self.network.heal_all_of(broker_id))

    def _check_broker(self, broker_id: int) -> None:
        if broker_id not in self.broker_ids:
            raise KafkaApiError(
                f"there is no broker {broker_id}; brokers are {self.broker_ids}",
                code=ErrorCode.BROKER_NOT_AVAILABLE,
            )

    def _network_change(
        self, change: str, brokers: tuple[int, ...], apply: Callable[[], None], latency: int = 0
    ) -> None:
        def run() -> None:
            apply()
            self.core._emit(NetworkChanged(self.core._now(), change, brokers, latency))
            self.core.elect_controller()

        self._call(run)

    # -- data ------------------------------------------------------------------------------

    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        *,
        partition: int = 0,
        acks: str | int = "all",
        timestamp: int | None = None,
        headers: list[tuple[str, bytes | None]] | None = None,
        timeout: str | int = "30s",
    ) -> ProduceResult:
        """Write one record and wait for the answer; raises `ProduceError` on an error.

        Like a client, it retries (every 100 ms, within `timeout`) while the partition's leader
        is moving (NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE): nothing was written then.
        """
        builder = BatchBuilder()
        builder.append(key, value, self.now_ms() if timestamp is None else timestamp, headers or ())
        batch = builder.build()
        deadline = self.now_ms() + parse_duration_ms(timeout)
        while True:
            remaining = max(1, deadline - self.now_ms())
            result = self.produce_batch(topic, partition, batch, acks=acks, timeout=remaining)
            if result.error not in _LEADER_MOVING or self.now_ms() + 100 >= deadline:
                break
            self._pause(100)
        if result.error != ErrorCode.NONE:
            raise ProduceError(result.message or result.error.name, code=result.error)
        return result

    def produce_batch(
        self,
        topic: str,
        partition: int,
        batch: bytes,
        *,
        acks: str | int = "all",
        timeout: str | int = "30s",
    ) -> ProduceResult:
        """Send one record batch to a partition's leader and wait for its ProduceResult."""
        ack = _ACKS.get(str(acks))
        if ack is None:
            raise KafkaApiError(
                f"acks must be all, -1, 1 or 0; got {acks!r}", code=ErrorCode.INVALID_REQUIRED_ACKS
            )
        results: list[ProduceResult] = []
        answered = threading.Event()

        def answer(result: ProduceResult) -> None:
            results.append(result)
            answered.set()

        timeout_ms = parse_duration_ms(timeout)
        self._call(
            lambda: self.core.produce(
                topic, partition, batch, acks=ack, timeout_ms=timeout_ms, callback=answer
            )
        )
        if not self.simulated:  # woken by the answer itself, not by polling
            if not answered.wait(timeout_ms / 1000 + 1):
                raise TimeoutError(f"no answer to a produce to {topic}-{partition} in {timeout}")
            return results[0]
        self.wait_until(
            lambda: bool(results),
            timeout=timeout_ms + 1000,
            what=f"the answer to a produce to {topic}-{partition}",
        )
        return results[0]

    def produce_batches(
        self,
        batches: list[tuple[str, int, bytes]],
        *,
        acks: str | int = "all",
        timeout: str | int = "30s",
        trusted_encoder: bool = False,
    ) -> list[ProduceResult]:
        """Send record batches to their partitions' leaders at once and wait for every answer.

        Batches whose partition's leader is moving are sent again (every 100 ms, within
        `timeout`), as a client retries; the results are in the order of `batches`.
        `trusted_encoder=True` says every batch was built in this process by
        `kstream_nb.log.BatchBuilder` (as the producer's and the streams runtime's are): the
        leader then decodes records only where the topic needs them (see
        `PartitionLog.append_as_leader`).
        """
        ack = _ACKS.get(str(acks))
        if ack is None:
            raise KafkaApiError(
                f"acks must be all, -1, 1 or 0; got {acks!r}", code=ErrorCode.INVALID_REQUIRED_ACKS
            )
        timeout_ms = parse_duration_ms(timeout)
        deadline = self.now_ms() + timeout_ms
        results: dict[int, ProduceResult] = {}
        pending = list(range(len(batches)))
        while pending:
            answers = _Answers(pending)
            self._call(
                functools.partial(
                    self._send_batches, batches, answers, ack, deadline, trusted_encoder
                )
            )
            if self.simulated:
                self.wait_until(answers.done.is_set, timeout=timeout_ms + 1000, what="answers")
            elif not answers.done.wait(timeout_ms / 1000 + 1):
                raise TimeoutError(f"no answer to {len(pending)} produce request(s) in {timeout}")
            results.update(answers.results)
            pending = [i for i in pending if results[i].error in _LEADER_MOVING]
            if pending:
                if self.now_ms() + 100 >= deadline:
                    break
                self._pause(100)
        return [results[i] for i in range(len(batches))]

    def _send_batches(
        self,
        batches: list[tuple[str, int, bytes]],
        answers: _Answers,
        ack: int,
        deadline: int,
        trusted_encoder: bool,
    ) -> None:
        for i in answers.expected:
            topic, partition, data = batches[i]
            self.core.produce(
                topic,
                partition,
                data,
                acks=ack,
                timeout_ms=max(1, deadline - self.now_ms()),
                callback=answers.callback(i),
                trusted_encoder=trusted_encoder,
            )

    def read(
        self, topic: str, partition: int = 0, offset: int = 0, max_bytes: int = 1 << 20
    ) -> list[Record]:
        """What a consumer fetching from the leader sees: records below the high watermark."""
        return self._call(lambda: self.core.read(topic, partition, offset, max_bytes))

    # -- observability ---------------------------------------------------------------------

    def describe(self) -> ClusterSnapshot:
        """A snapshot: brokers and, per partition, leader, epoch, replicas, ISR and offsets."""
        return self._call(self.core.describe)

    def watch(self, probe: Callable[[ClusterCore], T], interval: str | int = "100ms") -> Watch[T]:
        """Publish `probe(core)` for readers on other threads, refreshed about every `interval`.

        The probe must be cheap and read-only; it runs on the cluster's thread. In real time a
        loop timer refreshes it; in simulated time it refreshes after the scheduler runs (at most
        once per `interval` of wall time; `publish()` forces the rest). The first result is ready
        when this returns.
        """
        interval_ms = max(1, parse_duration_ms(interval))
        watch: Watch[T] = Watch(probe, interval_ms)
        self._call(lambda: watch.refresh(self.core))
        self._watches.append(watch)
        watch._on_close.append(lambda: self._watches.remove(watch))
        loop = self._loop
        if isinstance(loop, RealTimeLoop):

            def tick() -> None:
                if watch.closed or not loop.is_running:
                    return
                watch.refresh(self.core)
                loop.call_later(interval_ms, tick)

            loop.call_later(interval_ms, tick)
        return watch

    def publish(self) -> None:
        """Simulated time: refresh every watch whose cluster changed since its last refresh."""
        if self._stopped or not isinstance(self._loop, SimulatedLoop):
            return
        for watch in list(self._watches):
            if watch.dirty:
                watch.refresh(self.core)

    # -- columnar twins --------------------------------------------------------------------

    def _schedule_twins_periodically(self) -> None:
        loop = self._loop
        if not isinstance(loop, RealTimeLoop):
            return

        def tick() -> None:
            if self._stopped:
                return
            self.twins.schedule()
            loop.call_later(_TWIN_INTERVAL_MS, tick)

        loop.call_soon(tick)

    def flush_twins(self, timeout: str | int = "60s") -> None:
        """Write the columnar twin of every sealed leader segment now and wait for them all,
        and have the active segments decoded for queries.

        Both happen in the background anyway; tests and benchmarks call this to know queries
        read Parquet and decoded records rather than decoding segments themselves.
        """
        limit = parse_duration_ms(timeout) / 1000
        self._call(lambda: self.twins.schedule(warm_all=True))
        pump = self.twins.install if isinstance(self._loop, SimulatedLoop) else None
        if not self.twins.wait_idle(limit, pump):
            raise TimeoutError(f"columnar twins were still being written after {timeout}")

    def _after_simulated_run(self) -> None:
        now = time.monotonic()
        if now - self._twins_scheduled_at >= _TWIN_INTERVAL_MS / 1000:
            self._twins_scheduled_at = now
            self.twins.schedule()
        for watch in list(self._watches):
            if watch.due():
                watch.refresh(self.core)
            else:
                watch.dirty = True

    def trace_high_watermarks(self, enabled: bool = True) -> None:
        """Record a `HighWatermarkMoved` event each time a leader advances a high watermark."""

        def switch() -> None:
            self.core.trace_high_watermarks = enabled

        self._call(switch)

    def events(self) -> list[ClusterEvent]:
        """Every cluster event so far (also in the `__kstream_events` topic)."""
        return self._call(lambda: list(self.core.events))

    def __repr__(self) -> str:
        mode = "simulated" if self.simulated else "real time"
        state = "stopped" if self._stopped else "running"
        return f"Cluster(brokers={len(self.broker_ids)}, {mode}, {state})"

    def overview(self) -> Tables:
        """Brokers, then topics: what `%kafka cluster status` shows."""
        snapshot = self.describe()
        return Tables(
            brokers_table(snapshot, self.network.isolated, self.bootstrap_servers),
            topics_table(snapshot, self.topic_configs()),
        )

    def _repr_html_(self) -> str:
        header = f"<code>{html.escape(repr(self))}</code>"
        if self._stopped:
            return header
        return header + self.overview()._repr_html_()
