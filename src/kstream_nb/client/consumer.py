"""`Consumer`: confluent-kafka's consumer API on an in-kernel cluster, with consumer groups.

`subscribe()` joins a group through the broker-side group coordinator (classic protocol): the
group leader computes assignments with the configured assignor (range, roundrobin,
cooperative-sticky), heartbeats run on the cluster's thread so a member stays in the group while
user code is busy, and rebalance callbacks (`on_assign`, `on_revoke`, `on_lost`) run from
`poll()`, as in confluent-kafka. `assign()` consumes without a group. Positions start at the
committed offset or follow `auto.offset.reset`; offsets are committed to `__consumer_offsets`.
On a simulated cluster, `poll(timeout)` advances simulated time.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from kstream_nb.client.assignor import ASSIGNORS, MemberSubscription, protocol
from kstream_nb.client.config import ConsumerConfig
from kstream_nb.client.error import KafkaError, KafkaException, from_error_code
from kstream_nb.client.message import (
    OFFSET_BEGINNING,
    OFFSET_END,
    OFFSET_INVALID,
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    Message,
    TopicPartition,
)
from kstream_nb.client.metadata import ClusterMetadata, cluster_metadata, connect
from kstream_nb.client.statistics import Statistics
from kstream_nb.cluster.consumer_protocol import (
    Assignment,
    Subscription,
    decode_assignment,
    decode_subscription,
)
from kstream_nb.cluster.core import FetchResult
from kstream_nb.cluster.group_coordinator import JoinResult, OffsetAndMetadata, SyncResult
from kstream_nb.errors import ErrorCode, KafkaApiError
from kstream_nb.log import TimestampType, iter_batches
from kstream_nb.runtime import Cluster
from kstream_nb.runtime.loop import SimulatedLoop

__all__ = ["Consumer"]

TP = tuple[str, int]
RebalanceCallback = Callable[..., Any]
_POLL_STEP_MS = 5


@dataclass(slots=True)
class _PartitionState:
    topic: str
    partition: int
    position: int | None = None  # None: not known yet (committed offset or reset decides)
    paused: bool = False
    eof_reported: bool = False
    stored: int | None = None  # offset to commit next (enable.auto.offset.store)
    assigned: bool = True
    buffer: deque[Message] = field(default_factory=deque)  # built, ready to hand out
    #: The rest of the last fetch: aiokafka's record objects, built into messages only as they
    #: are taken, so few message objects are alive at any time.
    unbuilt: Iterator[Any] | None = None
    #: The timestamp type and leader epoch of the batch holding the record last drawn from
    #: `unbuilt` (kept up to date by `_fetched`).
    kind: int = TIMESTAMP_CREATE_TIME
    epoch: int | None = None


class ConsumedRecords(NamedTuple):
    """What `Consumer._consume_records` hands the streams runtime."""

    messages: list[Message]  # errors, events and messages built before, first
    records: list[tuple[str, int, list[Any]]]  # (topic, partition, aiokafka record objects)


_T = TypeVar("_T")

#: Messages built ahead of poll(): enough that poll() rarely takes its slow path, few enough
#: that they die young (a garbage collector's pass walks what outlives it).
_BUILD_AHEAD = 64


def _fetched(records: bytes, offset: int, state: _PartitionState) -> Iterator[Any]:
    """The records of fetched batches from `offset` on, as aiokafka's record objects; as it
    enters a batch it notes the batch's timestamp type and leader epoch in `state`. Whole
    batches are iterated by aiokafka's own (compiled) iterator, with no Python frame per
    record."""
    return itertools.chain.from_iterable(_batch_records(records, offset, state))


def _batch_records(records: bytes, offset: int, state: _PartitionState) -> Iterator[Iterable[Any]]:
    for batch in iter_batches(records):
        if batch.is_control or batch.last_offset < offset:
            continue
        state.kind = (
            TIMESTAMP_LOG_APPEND_TIME
            if batch.timestamp_type is TimestampType.LOG_APPEND_TIME
            else TIMESTAMP_CREATE_TIME
        )
        epoch = batch.partition_leader_epoch
        state.epoch = None if epoch < 0 else epoch
        if batch.base_offset >= offset:
            yield batch.decoded()
        else:
            yield (r for r in batch.decoded() if r.offset >= offset)


def _build(state: _PartitionState, count: int) -> bool:
    """Build up to `count` more messages of the partition's last fetch; True if any came."""
    unbuilt = state.unbuilt
    if unbuilt is None:
        return False
    buffer = state.buffer
    new = Message.__new__
    topic, partition = state.topic, state.partition
    built = 0
    # Message._create inlined: this loop runs once per record consumed.
    for r in itertools.islice(unbuilt, count):
        msg = new(Message)
        msg._topic = topic
        msg._partition = partition
        msg._offset = r.offset
        msg._key = r.key
        msg._value = r.value
        msg._headers = r.headers or None
        msg._error = None
        msg._timestamp = (state.kind, r.timestamp)  # the batch of `r`: just drawn
        msg._latency = None
        msg._leader_epoch = state.epoch
        msg._delivery_count = None
        buffer.append(msg)
        built += 1
    if built < count:
        state.unbuilt = None  # the fetch is all built
    return built > 0


class Consumer:
    """A Kafka consumer with confluent-kafka's API, for an in-kernel cluster."""

    def __init__(self, config: dict[str, Any] | None = None, /, **kwargs: Any) -> None:
        self._config = ConsumerConfig.from_dict(config or {}, **kwargs)
        cfg = self._config
        self._cluster: Cluster = connect(cfg.bootstrap_servers)
        self._loop = self._cluster._loop
        self._lock = threading.RLock()
        self._partitions: dict[TP, _PartitionState] = {}
        self._events: deque[tuple[str, list[TP]]] = deque()  # for poll(): assign/revoke/lost
        self._errors: deque[KafkaError] = deque()
        self._closed = False
        # Group membership (loop thread).
        self._topics: list[str] = []
        self._on_assign: RebalanceCallback | None = None
        self._on_revoke: RebalanceCallback | None = None
        self._on_lost: RebalanceCallback | None = None
        self._member_id = ""
        self._generation = -1
        self._group_state = "none"  # none, joining, stable
        self._owned: list[TP] = []
        self._protocol_name = cfg.partition_assignment_strategy[0]
        self._cooperative = protocol(self._protocol_name) == "COOPERATIVE"
        self._heartbeat_timer: Any = None
        self._rejoin_after_revoke = False
        # As group leader: the partition counts the last assignment used (to notice growth).
        self._assigned_counts: dict[str, int] | None = None
        self._last_poll = self._loop.now_ms()
        # poll() only counts; the heartbeat turns a changed count into "polled by now".
        self._polls = 0
        self._polls_seen = 0
        self._auto_store = cfg.enable_auto_offset_store
        self._draining: _PartitionState | None = None  # whose buffer poll() is emptying
        self._auto_commit_timer: Any = None
        if cfg.enable_auto_commit:
            self._schedule_auto_commit()
        self._rebalances = 0  # assignments received (librdkafka's cgrp.rebalance_cnt)
        self._stats = Statistics.of(
            "consumer", cfg.client_id, cfg.statistics_interval_ms, cfg.stats_cb, self._loop.now_ms
        )

    # -- helpers ---------------------------------------------------------------------------

    def _call(self, fn: Callable[[], Any]) -> Any:
        return self._cluster._call(fn)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("Consumer closed")

    def _run_for(self, ms: int) -> None:
        """Let `ms` of cluster time pass: simulated time advances; real time sleeps."""
        if isinstance(self._loop, SimulatedLoop):
            self._loop.advance(ms)
        else:
            time.sleep(ms / 1000)

    def _wait_answer(self, box: list[Any], timeout_ms: int) -> bool:
        if isinstance(self._loop, SimulatedLoop):
            return self._loop.run_until(lambda: bool(box), timeout_ms)
        deadline = time.monotonic() + timeout_ms / 1000
        while not box and time.monotonic() < deadline:
            time.sleep(0.002)
        return bool(box)

    # -- subscription and group membership ------------------------------------------------

    def subscribe(
        self,
        topics: list[str],
        on_assign: RebalanceCallback | None = None,
        on_revoke: RebalanceCallback | None = None,
        on_lost: RebalanceCallback | None = None,
    ) -> None:
        """Join the group for these topics (a name starting with ^ is a regular expression)."""
        self._check_open()
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            raise TypeError("expected a list of topic names (str)")
        self._topics = list(topics)
        self._on_assign, self._on_revoke, self._on_lost = on_assign, on_revoke, on_lost
        self._call(self._join)

    def unsubscribe(self) -> None:
        self._check_open()
        self._call(self._leave)
        with self._lock:
            self._events.append(("revoke", list(self._owned)))
        self._topics = []

    def _subscribed_topics(self) -> list[str]:
        names = sorted(self._cluster.core.image.topics)
        out: list[str] = []
        for pattern in self._topics:
            if pattern.startswith("^"):
                regex = re.compile(pattern)
                out += [n for n in names if regex.match(n) and not n.startswith("__")]
            else:
                out.append(pattern)
        return sorted(set(out))

    def _join(self) -> None:
        """JoinGroup (loop thread); retried while the coordinator is not ready."""
        if self._closed or not self._topics:
            return
        self._group_state = "joining"
        topics = self._subscribed_topics()
        if self._config.allow_auto_create_topics:
            for topic in topics:
                self._cluster.core.ensure_topic(topic)
        owned = tuple(self._owned) if self._cooperative else ()
        protocols = tuple(
            (name, Subscription(tuple(topics), owned).encode())
            for name in self._config.partition_assignment_strategy
        )
        try:
            coordinator, index = self._cluster.core.group_coordinator(self._config.group_id)
        except KafkaApiError:
            self._loop.call_later(100, self._join)
            return
        coordinator.join(
            self._config.group_id,
            index,
            self._member_id,
            self._config.group_instance_id,
            self._config.client_id,
            self._config.session_timeout_ms,
            self._config.max_poll_interval_ms,
            "consumer",
            protocols,
            self._on_join,
        )

    def _on_join(self, result: JoinResult) -> None:
        if self._closed:
            # Closed while its first JoinGroup waited (before it knew its member id): leave
            # now, so that a closed consumer never leads the group or owns a partition.
            # (Not from inside the coordinator's answer: it is still walking its members.)
            self._member_id = result.member_id if result.error == ErrorCode.NONE else ""
            self._loop.call_soon(self._leave)
            return
        if result.error == ErrorCode.UNKNOWN_MEMBER_ID:
            self._member_id = ""
            self._loop.call_later(0, self._join)
            return
        if result.error != ErrorCode.NONE:
            self._loop.call_later(100, self._join)
            return
        self._member_id = result.member_id
        self._generation = result.generation
        if not result.members:
            self._assigned_counts = None
        self._protocol_name = result.protocol_name or self._protocol_name
        self._cooperative = protocol(self._protocol_name) == "COOPERATIVE"
        assignments: dict[str, bytes] | None = None
        if result.members:  # this member leads the group: it computes the assignment
            members = []
            for member_id, instance_id, metadata in result.members:
                sub = decode_subscription(metadata)
                members.append(
                    MemberSubscription(
                        member_id, sub.topics, sub.owned, result.generation, instance_id
                    )
                )
            image = self._cluster.core.image
            counts = {
                t: len(image.topics[t].partitions)
                for m in members
                for t in m.topics
                if t in image.topics
            }
            plan = ASSIGNORS[self._protocol_name].assign(counts, members)
            self._assigned_counts = counts
            assignments = {m: Assignment(tuple(tps)).encode() for m, tps in plan.items()}
        coordinator, _ = self._cluster.core.group_coordinator(self._config.group_id)
        coordinator.sync(
            self._config.group_id, result.generation, self._member_id, assignments, self._on_sync
        )

    def _on_sync(self, result: SyncResult) -> None:
        if self._closed:
            return  # close() has left the group already
        if result.error != ErrorCode.NONE:
            if result.error == ErrorCode.UNKNOWN_MEMBER_ID:
                self._member_id = ""
            self._loop.call_later(0, self._join)
            return
        new = list(decode_assignment(result.assignment).partitions)
        old = self._owned
        with self._lock:
            if self._cooperative:
                revoked = [tp for tp in old if tp not in new]
                added = [tp for tp in new if tp not in old]
                if revoked:
                    self._events.append(("revoke", revoked))
                    self._rejoin_after_revoke = True
                if added:
                    self._events.append(("assign", added))
            else:
                self._events.append(("assign", new))
        self._owned = new
        self._group_state = "stable"
        self._schedule_heartbeat()

    def _schedule_heartbeat(self) -> None:
        if self._heartbeat_timer is not None:
            self._heartbeat_timer.cancel()
        self._heartbeat_timer = self._loop.call_later(
            self._config.heartbeat_interval_ms, self._heartbeat
        )

    def _heartbeat(self) -> None:
        self._heartbeat_timer = None
        if self._closed or self._group_state != "stable":
            return
        if self._polls != self._polls_seen:
            self._polls_seen = self._polls
            self._last_poll = self._loop.now_ms()
        if self._loop.now_ms() - self._last_poll > self._config.max_poll_interval_ms:
            # The application stopped polling: leave so the others take over (as librdkafka).
            self._leave()
            with self._lock:
                self._errors.append(
                    KafkaError(
                        KafkaError._MAX_POLL_EXCEEDED,
                        "Application maximum poll interval exceeded: leaving group",
                    )
                )
                self._events.append(("lost", list(self._owned)))
            return
        try:
            coordinator, _ = self._cluster.core.group_coordinator(self._config.group_id)
        except KafkaApiError:
            self._schedule_heartbeat()
            return
        error = coordinator.heartbeat(self._config.group_id, self._generation, self._member_id)
        if error == ErrorCode.NONE and self._metadata_changed():
            # The leader saw partitions added (or a new topic matching a pattern): rebalance.
            error = ErrorCode.REBALANCE_IN_PROGRESS
        if error == ErrorCode.NONE:
            self._schedule_heartbeat()
            return
        self._group_state = "joining"
        if error == ErrorCode.UNKNOWN_MEMBER_ID:
            self._member_id = ""
            with self._lock:
                self._events.append(("lost", list(self._owned)))
        elif not self._cooperative:
            # Eager: the application revokes everything (in its next poll()) before this member
            # rejoins, as with Kafka's clients; the group waits for it (rebalance timeout).
            with self._lock:
                self._events.append(("revoke", list(self._owned)))
                self._rejoin_after_revoke = True
            return
        self._loop.call_later(0, self._join)

    def _metadata_changed(self) -> bool:
        """As leader: a subscribed topic grew, or a new topic matches this subscription."""
        counts = self._assigned_counts
        if counts is None:
            return False
        topics = self._cluster.core.image.topics
        if any(t in topics and len(topics[t].partitions) != c for t, c in counts.items()):
            return True
        return any(t not in counts for t in self._subscribed_topics() if t in topics)

    def _leave(self) -> None:
        if self._heartbeat_timer is not None:
            self._heartbeat_timer.cancel()
            self._heartbeat_timer = None
        if self._member_id and not self._config.group_instance_id:
            # Static members (group.instance.id) do not leave: a restart within
            # session.timeout.ms takes their place back without a rebalance (KIP-345).
            try:
                coordinator, _ = self._cluster.core.group_coordinator(self._config.group_id)
                coordinator.leave(self._config.group_id, [self._member_id])
            except KafkaApiError:
                pass
        self._member_id = ""
        self._generation = -1
        self._group_state = "none"

    # -- rebalance events, in the application's thread ------------------------------------

    def _serve_events(self) -> None:
        while True:
            with self._lock:
                if not self._events:
                    return
                kind, tps = self._events.popleft()
            parts = [TopicPartition(t, p) for t, p in tps]
            if kind == "assign":
                self._rebalances += 1
                if self._on_assign is not None:
                    self._on_assign(self, parts)
                    if not self._cooperative and not self.assignment() and parts:
                        self.assign(parts)  # the callback did not assign: librdkafka does
                elif self._cooperative:
                    self.incremental_assign(parts)
                else:
                    self.assign(parts)
                if self._on_assign is not None and self._cooperative:
                    have = {(tp.topic, tp.partition) for tp in self.assignment()}
                    missing = [tp for tp in parts if (tp.topic, tp.partition) not in have]
                    if missing:
                        self.incremental_assign(missing)
            else:
                callback = self._on_lost if kind == "lost" and self._on_lost else self._on_revoke
                if self._config.enable_auto_commit and kind == "revoke":
                    self._commit_stored(asynchronous=False)
                if callback is not None:
                    callback(self, parts)
                if self._cooperative:
                    self.incremental_unassign(parts)
                else:
                    self.unassign()
                if self._rejoin_after_revoke:
                    self._rejoin_after_revoke = False
                    self._call(lambda: self._loop.call_later(0, self._join))

    def _emit_statistics(self, stats: Statistics) -> None:
        """librdkafka's consumer statistics: per assigned partition its offsets and lag."""
        with self._lock:
            states = {tp: (s.position, s.stored, s.paused) for tp, s in self._partitions.items()}
        committed = self._committed_offsets(list(states))

        def marks() -> dict[TP, tuple[int, int, int]]:
            core, out = self._cluster.core, {}
            for topic, partition in states:
                state = core.image.partition(topic, partition)
                _, log = core.leader_log(topic, partition)
                leader = state.leader if state is not None else -1
                out[(topic, partition)] = (
                    leader,
                    log.log_start_offset if log is not None else -1,
                    log.high_watermark if log is not None else -1,
                )
            return out

        known = self._call(marks)
        topics: dict[str, dict[str, Any]] = {}
        for (topic, partition), (position, stored, paused) in sorted(states.items()):
            leader, lo, hi = known[(topic, partition)]
            done = committed.get((topic, partition), OFFSET_INVALID)
            app = OFFSET_INVALID if position is None else position
            kept = OFFSET_INVALID if stored is None else stored
            entry = topics.setdefault(topic, {"topic": topic, "partitions": {}})
            entry["partitions"][str(partition)] = {
                "partition": partition,
                "leader": leader,
                "fetch_state": "stopped" if paused else "active",
                "app_offset": app,
                "stored_offset": kept,
                "committed_offset": done,
                "lo_offset": lo,
                "hi_offset": hi,
                "ls_offset": hi,  # no transactions: the last stable offset is the high watermark
                "consumer_lag": hi - done if hi >= 0 and done >= 0 else -1,
                "consumer_lag_stored": hi - kept if hi >= 0 and kept >= 0 else -1,
            }
        join = {"stable": "steady", "joining": "wait-join"}.get(self._group_state, "init")
        stats.emit(
            {
                "topics": topics,
                "cgrp": {
                    "state": "up" if self._member_id else "init",
                    "join_state": join,
                    "rebalance_cnt": self._rebalances,
                    "assignment_size": len(states),
                },
            }
        )

    # -- assignment ------------------------------------------------------------------------

    def assign(self, partitions: list[TopicPartition]) -> None:
        """Consume exactly these partitions (replacing the assignment), from their offsets."""
        self._check_open()
        with self._lock:
            self._drop_all()
        self.incremental_assign(partitions)

    def incremental_assign(self, partitions: list[TopicPartition]) -> None:
        self._check_open()
        with self._lock:
            for tp in partitions:
                old = self._partitions.get((tp.topic, tp.partition))
                if old is not None:
                    old.assigned = False
                state = _PartitionState(tp.topic, tp.partition)
                if tp.offset >= 0:
                    state.position = tp.offset
                elif tp.offset in (OFFSET_BEGINNING, OFFSET_END):
                    state.position = self._reset_offset(tp.topic, tp.partition, tp.offset)
                self._partitions[(tp.topic, tp.partition)] = state

    def incremental_unassign(self, partitions: list[TopicPartition]) -> None:
        self._check_open()
        with self._lock:
            for tp in partitions:
                state = self._partitions.pop((tp.topic, tp.partition), None)
                if state is not None:
                    state.assigned = False

    def unassign(self) -> None:
        self._check_open()
        with self._lock:
            self._drop_all()

    def _drop_all(self) -> None:
        for state in self._partitions.values():
            state.assigned = False
        self._partitions = {}

    def assignment(self) -> list[TopicPartition]:
        self._check_open()
        with self._lock:
            return [TopicPartition(t, p) for t, p in sorted(self._partitions)]

    def memberid(self) -> str | None:
        return self._member_id or None

    # -- offsets ---------------------------------------------------------------------------

    def _list_offsets(self, topic: str, partition: int, timestamp: int) -> tuple[ErrorCode, int]:
        error, offset, _ = self._call(
            lambda: self._cluster.core.list_offsets(topic, partition, timestamp)
        )
        return error, offset

    def _reset_offset(self, topic: str, partition: int, how: int) -> int:
        error, offset = self._list_offsets(topic, partition, -2 if how == OFFSET_BEGINNING else -1)
        if error != ErrorCode.NONE:
            raise KafkaException(from_error_code(error))
        return int(offset)

    def _initial_position(self, topic: str, partition: int) -> int | None:
        committed = self._committed_offsets([(topic, partition)]).get((topic, partition))
        if committed is not None and committed >= 0:
            return committed
        reset = self._config.auto_offset_reset
        if reset == "error":
            with self._lock:
                self._errors.append(
                    KafkaError(
                        KafkaError._AUTO_OFFSET_RESET,
                        f"no committed offset for {topic} [{partition}] and "
                        "auto.offset.reset=error",
                    )
                )
            return None
        return self._reset_offset(
            topic, partition, OFFSET_BEGINNING if reset == "earliest" else OFFSET_END
        )

    def _committed_offsets(self, tps: list[TP]) -> dict[TP, int]:
        def read() -> dict[TP, int]:
            try:
                coordinator, _ = self._cluster.core.group_coordinator(self._config.group_id)
            except KafkaApiError:
                return {}
            return {
                tp: o.offset for tp, o in coordinator.committed(self._config.group_id, tps).items()
            }

        for _ in range(50):  # the coordinator may still be loading
            try:
                return dict(self._call(read))
            except KafkaApiError:
                self._run_for(20)
        return {}

    def committed(
        self, partitions: list[TopicPartition], timeout: float | None = None
    ) -> list[TopicPartition]:
        """The group's committed offsets for these partitions (OFFSET_INVALID when none)."""
        self._check_open()
        found = self._committed_offsets([(tp.topic, tp.partition) for tp in partitions])
        return [
            TopicPartition(
                tp.topic, tp.partition, found.get((tp.topic, tp.partition), OFFSET_INVALID)
            )
            for tp in partitions
        ]

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        """The offset of the next record each partition would return."""
        self._check_open()
        out = []
        with self._lock:
            for tp in partitions:
                state = self._partitions.get((tp.topic, tp.partition))
                pos = state.position if state is not None and state.position is not None else None
                out.append(
                    TopicPartition(tp.topic, tp.partition, OFFSET_INVALID if pos is None else pos)
                )
        return out

    def store_offsets(
        self, message: Message | None = None, offsets: list[TopicPartition] | None = None
    ) -> None:
        """Mark what the next commit will write: message.offset()+1, or the given offsets."""
        self._check_open()
        with self._lock:
            if message is not None:
                state = self._partitions.get((message.topic() or "", message.partition() or 0))
                if state is not None and message.offset() is not None:
                    state.stored = (message.offset() or 0) + 1
            for tp in offsets or []:
                state = self._partitions.get((tp.topic, tp.partition))
                if state is not None:
                    state.stored = tp.offset

    def commit(
        self,
        message: Message | None = None,
        offsets: list[TopicPartition] | None = None,
        asynchronous: bool = True,
    ) -> list[TopicPartition] | None:
        """Commit offsets to the group: of a message (+1), the given ones, or all stored."""
        self._check_open()
        if message is not None:
            commit = {
                (message.topic() or "", message.partition() or 0): (message.offset() or 0) + 1
            }
        elif offsets is not None:
            commit = {(tp.topic, tp.partition): tp.offset for tp in offsets}
        else:
            with self._lock:
                commit = {
                    tp: s.stored for tp, s in self._partitions.items() if s.stored is not None
                }
            if not commit:
                raise KafkaException(KafkaError(KafkaError._NO_OFFSET, "Local: No offset stored"))
        return self._commit(commit, asynchronous)

    def _commit_stored(self, *, asynchronous: bool) -> None:
        with self._lock:
            commit = {tp: s.stored for tp, s in self._partitions.items() if s.stored is not None}
        if commit:
            with contextlib.suppress(KafkaException):
                self._commit(commit, asynchronous)

    def _commit(self, offsets: dict[TP, int], asynchronous: bool) -> list[TopicPartition] | None:
        box: list[ErrorCode] = []

        def send() -> None:
            try:
                coordinator, index = self._cluster.core.group_coordinator(self._config.group_id)
            except KafkaApiError:
                box.append(ErrorCode.COORDINATOR_NOT_AVAILABLE)
                return
            generation = self._generation if self._member_id else -1
            coordinator.commit(
                self._config.group_id,
                index,
                generation,
                self._member_id,
                {tp: OffsetAndMetadata(o) for tp, o in offsets.items()},
                box.append,
            )

        self._call(send)
        result = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        on_commit = self._config.on_commit
        if asynchronous:
            if on_commit is not None:
                self._wait_answer(box, self._config.session_timeout_ms)
                error = (
                    None
                    if box and box[0] == ErrorCode.NONE
                    else from_error_code(box[0] if box else ErrorCode.REQUEST_TIMED_OUT)
                )
                on_commit(error, result)
            return None
        if not self._wait_answer(box, 30_000):
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "Local: Timed out"))
        if box[0] != ErrorCode.NONE:
            raise KafkaException(from_error_code(box[0]))
        if on_commit is not None:
            on_commit(None, result)
        return result

    def _schedule_auto_commit(self) -> None:
        def tick() -> None:
            if self._closed:
                return
            with self._lock:
                commit = {
                    tp: s.stored for tp, s in self._partitions.items() if s.stored is not None
                }
            if commit:
                try:
                    coordinator, index = self._cluster.core.group_coordinator(self._config.group_id)
                    generation = self._generation if self._member_id else -1
                    coordinator.commit(
                        self._config.group_id,
                        index,
                        generation,
                        self._member_id,
                        {tp: OffsetAndMetadata(o) for tp, o in commit.items()},
                        lambda e: None,
                    )
                except KafkaApiError:
                    pass
            self._auto_commit_timer = self._loop.call_later(
                self._config.auto_commit_interval_ms, tick
            )

        self._auto_commit_timer = self._loop.call_later(self._config.auto_commit_interval_ms, tick)

    # -- positions -------------------------------------------------------------------------

    def seek(self, partition: TopicPartition) -> None:
        """Move an assigned partition's position (OFFSET_BEGINNING / OFFSET_END allowed)."""
        self._check_open()
        with self._lock:
            state = self._partitions.get((partition.topic, partition.partition))
            if state is None:
                raise KafkaException(
                    KafkaError(
                        KafkaError._STATE,
                        f"{partition.topic} [{partition.partition}] is not assigned",
                    )
                )
            offset = partition.offset
        if offset in (OFFSET_BEGINNING, OFFSET_END):
            offset = self._reset_offset(partition.topic, partition.partition, offset)
        with self._lock:
            state.position = offset
            state.buffer.clear()
            state.unbuilt = None
            state.eof_reported = False

    def pause(self, partitions: list[TopicPartition]) -> None:
        with self._lock:
            for tp in partitions:
                if (tp.topic, tp.partition) in self._partitions:
                    self._partitions[(tp.topic, tp.partition)].paused = True

    def resume(self, partitions: list[TopicPartition]) -> None:
        with self._lock:
            for tp in partitions:
                if (tp.topic, tp.partition) in self._partitions:
                    self._partitions[(tp.topic, tp.partition)].paused = False

    def get_watermark_offsets(
        self, partition: TopicPartition, timeout: float | None = None, cached: bool = False
    ) -> tuple[int, int]:
        """(low, high): the log start offset and the high watermark."""
        self._check_open()
        low = self._reset_offset(partition.topic, partition.partition, OFFSET_BEGINNING)
        high = self._reset_offset(partition.topic, partition.partition, OFFSET_END)
        return low, high

    def offsets_for_times(
        self, partitions: list[TopicPartition], timeout: float | None = None
    ) -> list[TopicPartition]:
        """For each partition, the earliest offset whose timestamp is >= `offset` (a time in ms)."""
        self._check_open()
        out = []
        for tp in partitions:
            error, offset = self._list_offsets(tp.topic, tp.partition, tp.offset)
            if error != ErrorCode.NONE:
                raise KafkaException(from_error_code(error))
            out.append(
                TopicPartition(tp.topic, tp.partition, offset if offset >= 0 else OFFSET_END)
            )
        return out

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> ClusterMetadata:
        self._check_open()
        return cluster_metadata(self._cluster, topic)

    # -- consuming -------------------------------------------------------------------------

    def poll(self, timeout: float | None = None) -> Message | None:
        """The next message (or error/event message), waiting up to `timeout` seconds."""
        if self._stats is not None and self._stats.due():
            self._emit_statistics(self._stats)
        state = self._draining
        if (
            state is not None
            and state.buffer
            and state.assigned
            and not state.paused
            and not self._events
            and not self._errors
            and not self._closed
        ):
            # The common case: the next fetched message of the partition being drained.
            msg = state.buffer.popleft()
            if msg._error is None:
                state.position = msg._offset + 1  # type: ignore[operator]
                if self._auto_store:
                    state.stored = state.position
            self._polls += 1
            return msg
        messages = self.consume(1, -1 if timeout is None else timeout)
        return messages[0] if messages else None

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        """Up to `num_messages` messages, waiting up to `timeout` seconds for the first."""
        self._check_open()
        if num_messages < 1 or num_messages > 1_000_000:
            raise ValueError("num_messages must be between 1 and 1000000")
        return self._wait_for(lambda: self._take(num_messages), timeout) or []

    def _wait_for(self, take: Callable[[], _T], timeout: float | None) -> _T | None:
        """`take()` until it gives something, fetching and waiting up to `timeout` s between
        tries (no limit when None or negative); None when the time is up."""
        self._polls += 1
        limit_ms = None if timeout is None or timeout < 0 else int(timeout * 1000)
        waited = 0
        while True:
            if self._stats is not None and self._stats.due():
                self._emit_statistics(self._stats)
            self._serve_events()
            out = take()
            if out:
                return out
            if self._fetch():
                continue
            if limit_ms is not None and waited >= limit_ms:
                return None
            step = _POLL_STEP_MS if limit_ms is None else min(_POLL_STEP_MS, limit_ms - waited)
            self._run_for(max(step, 1))
            waited += max(step, 1)

    def _consume_records(self, max_records: int, timeout: float) -> ConsumedRecords:
        """`consume()` for the streams runtime: up to `max_records` records, each partition's as
        aiokafka's record objects (`offset`, `key`, `value`, `timestamp`, `headers`), with no
        `Message` built for them. Errors, events and messages built earlier (by `poll()`)
        come first, as messages; a partition's records follow its messages."""
        self._check_open()
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        got = self._wait_for(lambda: self._take_records(max_records), timeout)
        return got if got is not None else ConsumedRecords([], [])

    def _take_records(self, max_records: int) -> ConsumedRecords | None:
        """What `_consume_records` hands out now; None if nothing."""
        messages = self._take(max_records, built_only=True)
        chunks: list[tuple[str, int, list[Any]]] = []
        left = max_records - len(messages)
        with self._lock:
            for state in self._partitions.values():
                if left <= 0:
                    break
                unbuilt = state.unbuilt
                if state.paused or state.buffer or unbuilt is None:
                    continue
                records = list(itertools.islice(unbuilt, left))
                if len(records) < left:
                    state.unbuilt = None
                if records:
                    chunks.append((state.topic, state.partition, records))
                    left -= len(records)
                    state.position = records[-1].offset + 1
                    if self._auto_store:
                        state.stored = state.position
        return ConsumedRecords(messages, chunks) if messages or chunks else None

    def _take(self, num_messages: int, built_only: bool = False) -> list[Message]:
        """Up to `num_messages` messages: errors, then each partition's, building them from
        the last fetch as needed (unless `built_only`: only those built already)."""
        out: list[Message] = []
        with self._lock:
            while self._errors and len(out) < num_messages:
                out.append(
                    Message._create(None, None, None, None, None, error=self._errors.popleft())
                )
            for state in self._partitions.values():
                if state.paused:
                    continue
                buffer = state.buffer
                wanted = num_messages - len(out)
                if len(buffer) < wanted and state.unbuilt is not None and not built_only:
                    _build(state, wanted - len(buffer))
                taken = min(len(buffer), wanted)
                if taken:
                    chunk = [buffer.popleft() for _ in range(taken)]
                    out.extend(chunk)
                    # The position follows the last record taken (events such as EOF have none).
                    for msg in reversed(chunk):
                        if msg._error is None:
                            state.position = (msg._offset or 0) + 1
                            if self._auto_store:
                                state.stored = state.position
                            break
                if state.buffer or (not built_only and _build(state, _BUILD_AHEAD)):
                    self._draining = state
                if len(out) >= num_messages:
                    break
        return out

    def _fetch(self) -> bool:
        """Fetch once for every assigned partition with an empty buffer; True if anything came."""
        with self._lock:
            wanted = [
                (tp, state)
                for tp, state in self._partitions.items()
                if not state.paused and not state.buffer and state.unbuilt is None
            ]
        got = False
        for (topic, partition), state in wanted:
            if state.position is None:
                position = self._initial_position(topic, partition)
                if position is None:
                    continue
                state.position = position
            offset = state.position
            result = self._fetch_one(topic, partition, offset)
            if result.error == ErrorCode.OFFSET_OUT_OF_RANGE:
                reset = self._config.auto_offset_reset
                if reset == "error":
                    self._errors.append(
                        KafkaError(
                            KafkaError._AUTO_OFFSET_RESET,
                            f"offset {offset} is out of range for {topic} [{partition}]",
                        )
                    )
                    state.paused = True
                else:
                    state.position = self._reset_offset(
                        topic, partition, OFFSET_BEGINNING if reset == "earliest" else OFFSET_END
                    )
                got = True
                continue
            if result.error != ErrorCode.NONE:
                continue
            with self._lock:
                if self._partitions.get((topic, partition)) is not state:
                    continue
                fetched = _fetched(result.records, offset, state)
                first = next(fetched, None)  # anything to hand out?
                if first is not None:
                    state.unbuilt = itertools.chain((first,), fetched)
                    got = True
                    state.eof_reported = False
                elif (
                    self._config.enable_partition_eof
                    and not state.eof_reported
                    and offset >= result.high_watermark
                ):
                    state.eof_reported = True
                    state.buffer.append(
                        Message._create(
                            topic,
                            partition,
                            offset,
                            None,
                            None,
                            error=KafkaError(
                                KafkaError._PARTITION_EOF,
                                f"Fetch from broker reached end of partition at offset {offset}",
                            ),
                        )
                    )
                    got = True
        return got

    def _fetch_one(self, topic: str, partition: int, offset: int) -> FetchResult:
        max_bytes = self._config.max_partition_fetch_bytes
        result: FetchResult = self._call(
            lambda: self._cluster.core.fetch(topic, partition, offset, max_bytes)
        )
        return result

    def close(self) -> None:
        """Commit (with enable.auto.commit), leave the group, and stop."""
        if self._closed:
            return
        if self._cluster.stopped:  # nothing left to commit to or leave: just let go
            self._closed = True
            return
        if self._config.enable_auto_commit:
            self._commit_stored(asynchronous=False)
        if self._owned and self._on_revoke is not None:
            self._on_revoke(self, [TopicPartition(t, p) for t, p in self._owned])
        self._call(self._leave)
        if self._auto_commit_timer is not None:
            self._auto_commit_timer.cancel()
        self._closed = True

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
