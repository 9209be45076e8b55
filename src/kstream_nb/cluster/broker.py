"""A broker: its log directory, its partition replicas, replica fetching, produce and heartbeats.

A broker reacts to three things only: messages from the transport, timers it scheduled, and
calls from the cluster core (produce, kill, restart). It never blocks and never reads the wall
clock; a killed broker's objects are simply dropped, and its files stay for a restart.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kstream_nb.cluster.config import BrokerConfig
from kstream_nb.cluster.controller import Controller
from kstream_nb.cluster.environment import TimerHandle, Timers, Transport
from kstream_nb.cluster.group_coordinator import OFFSETS_TOPIC, GroupCoordinator
from kstream_nb.cluster.messages import (
    AlterPartition,
    AlterPartitionResponse,
    BrokerHeartbeat,
    FetchRequest,
    FetchResponse,
    HeartbeatResponse,
    MetadataPush,
)
from kstream_nb.cluster.metadata import (
    MetadataRecord,
    PartitionRecord,
    TopicConfigChanged,
    TopicRemoved,
)
from kstream_nb.cluster.metadata_log import MetadataLog
from kstream_nb.cluster.metrics import Meters
from kstream_nb.cluster.partition import Partition
from kstream_nb.errors import ErrorCode
from kstream_nb.log import (
    UNDEFINED_EPOCH,
    BatchBuilder,
    LogConfig,
    LogError,
    LogEvent,
    PartitionLog,
)

__all__ = ["Broker", "ProduceResult"]

TopicPartition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class ProduceResult:
    """The answer to a produce request (ProduceResponse for one partition)."""

    error: ErrorCode
    base_offset: int = -1
    log_append_time: int = -1
    log_start_offset: int = -1
    message: str = ""


ProduceCallback = Callable[[ProduceResult], None]


@dataclass(slots=True)
class _PendingProduce:
    tp: TopicPartition
    required_offset: int
    leader_epoch: int
    result: ProduceResult
    callback: ProduceCallback
    timer: TimerHandle | None = None


@dataclass(slots=True)
class _FetcherState:
    """A follower's fetch session with its leader for one partition."""

    leader: int
    leader_epoch: int
    request_id: int = 0
    in_flight: bool = False
    timer: TimerHandle | None = None
    caught_up: bool = False  # the last answer was empty at the leader's high watermark


@dataclass(slots=True)
class _ParkedFetch:
    src: int
    request: FetchRequest
    timer: TimerHandle | None = None


class Broker:
    """One broker of the in-kernel cluster."""

    def __init__(
        self,
        broker_id: int,
        log_dir: Path,
        config: BrokerConfig,
        timers: Timers,
        transport: Transport,
        *,
        rack: str | None = None,
        incarnation: int = 0,
        rng: random.Random | None = None,
        on_log_event: Callable[[int, LogEvent], None] | None = None,
        on_high_watermark: Callable[[int, str, int, int], None] | None = None,
        on_group_event: Callable[[str, dict[str, object]], None] | None = None,
    ) -> None:
        self.broker_id = broker_id
        self.log_dir = log_dir
        self.config = config
        self.rack = rack
        self.incarnation = incarnation
        self._timers = timers
        self._transport = transport
        self._rng = rng or random.Random(broker_id)
        self._on_log_event = on_log_event
        self._on_high_watermark_moved = on_high_watermark
        self.controller_id: int | None = None
        self.controller: Controller | None = None
        self.fenced = True
        self.running = False
        self.partitions: dict[TopicPartition, Partition] = {}
        self._fetchers: dict[TopicPartition, _FetcherState] = {}
        self._parked: dict[TopicPartition, list[_ParkedFetch]] = {}
        self._pending: dict[TopicPartition, list[_PendingProduce]] = {}
        # Periodic task name -> its next run (one handle each: ticks replace, never pile up).
        self._scheduled: dict[str, TimerHandle] = {}
        self._next_request_id = 0
        self._shutdown_callback: Callable[[], None] | None = None
        self.meters = Meters()  # Kafka's JMX meters (Count), from this broker's start
        log_dir.mkdir(parents=True, exist_ok=True)
        self.metadata = MetadataLog(log_dir, timers)
        # (controller, end of its longest answer): an answer that arrives late is not divergence.
        self._answered_by: tuple[int | None, int] = (None, 0)
        self.groups = GroupCoordinator(
            broker_id,
            timers,
            self._append_offsets,
            on_group_event or (lambda kind, data: None),
            initial_rebalance_delay_ms=config.group_initial_rebalance_delay_ms,
            rng=random.Random(self._rng.getrandbits(32)),
        )

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.running = True
        self.meters = Meters()  # a restarted broker counts from zero, as a restarted JVM
        self._transport.register(self.broker_id, self.receive)
        self._reconcile(list(self.metadata.image.topics.keys()), initial=True)
        self._every("heartbeat", self.config.broker_heartbeat_interval_ms, self._heartbeat, 0)
        self._every("isr", min(self.config.replica_lag_time_max_ms // 2, 5_000), self._check_isr)
        self._every("retention", self.config.log_retention_check_interval_ms, self._retention)
        self._every("cleaner", self.config.log_cleaner_backoff_ms, self._clean)

    def _every(
        self, name: str, interval_ms: int, fn: Callable[[], None], first: int | None = None
    ) -> None:
        def tick() -> None:
            if not self.running:
                return
            fn()
            self._scheduled[name] = self._timers.call_later(interval_ms, tick)

        self._scheduled[name] = self._timers.call_later(
            interval_ms if first is None else first, tick
        )

    def kill(self) -> None:
        """A crash: stop at once, flush nothing, keep the files."""
        self._stop()
        for partition in self.partitions.values():
            partition.log.crash()
        self.metadata.crash()
        self.partitions.clear()

    def close(self) -> None:
        """A clean stop after controlled shutdown: flush and close every log."""
        self._stop()
        for partition in self.partitions.values():
            partition.log.close()
        self.metadata.close()
        self.partitions.clear()

    def _stop(self) -> None:
        if not self.running:
            return
        self.running = False
        self.groups.close()
        if self.controller is not None:
            self.controller.resign()
            self.controller = None
        for handle in self._scheduled.values():
            handle.cancel()
        self._scheduled.clear()
        for fetcher in self._fetchers.values():
            if fetcher.timer is not None:
                fetcher.timer.cancel()
        self._fetchers.clear()
        for parked in self._parked.values():
            for p in parked:
                if p.timer is not None:
                    p.timer.cancel()
        self._parked.clear()
        for tp in list(self._pending):
            # The client's connection drops: it cannot know whether the write survived.
            self._fail_pending(
                tp,
                ErrorCode.NETWORK_EXCEPTION,
                f"broker {self.broker_id} went away before answering; the record "
                "may or may not have been written",
            )
        self._transport.unregister(self.broker_id)

    def request_shutdown(self, done: Callable[[], None]) -> None:
        """Controlled shutdown: ask the controller to move leadership away, then close."""
        self._shutdown_callback = done
        self._heartbeat()

    # -- controller role -------------------------------------------------------------------

    def become_controller(
        self,
        config: BrokerConfig,
        rng: random.Random,
        on_records: Callable[[list[MetadataRecord]], None] | None,
    ) -> None:
        def committed(records: list[MetadataRecord]) -> None:
            self._applied(records)  # the controller's broker applies its own decisions too
            if on_records is not None:
                on_records(records)

        self.controller = Controller(
            self.broker_id, self.metadata, self._timers, self._transport, config, rng, committed
        )

    def resign_controller(self) -> None:
        if self.controller is not None:
            self.controller.resign()
            self.controller = None

    # -- messages --------------------------------------------------------------------------

    def receive(self, src: int, message: object) -> None:
        if not self.running:
            return
        match message:
            case FetchRequest():
                self._handle_fetch(src, message)
            case FetchResponse():
                self._handle_fetch_response(src, message)
            case BrokerHeartbeat():
                if self.controller is not None and self.controller.active:
                    self._send(src, self.controller.handle_heartbeat(message))
            case HeartbeatResponse():
                self._handle_heartbeat_response(message)
            case MetadataPush():
                if message.controller_id == self.controller_id and self.metadata.apply_from(
                    message.start_offset, message.records
                ):
                    self._applied(message.records)
            case AlterPartition():
                if self.controller is not None and self.controller.active:
                    self._send(src, self.controller.handle_alter_partition(message))
            case AlterPartitionResponse():
                self._handle_alter_response(message)
            case _:
                pass

    def _send(self, dst: int, message: object) -> None:
        if dst == self.broker_id:
            self._timers.call_later(0, lambda: self.receive(self.broker_id, message))
        else:
            self._transport.send(self.broker_id, dst, message)

    # -- heartbeats and metadata -----------------------------------------------------------

    def _heartbeat(self) -> None:
        if self.controller_id is None:
            return
        hb = BrokerHeartbeat(
            self.broker_id,
            self.incarnation,
            self.rack,
            self.metadata.offset,
            want_shutdown=self._shutdown_callback is not None,
        )
        self._send(self.controller_id, hb)

    def _handle_heartbeat_response(self, resp: HeartbeatResponse) -> None:
        if resp.controller_id != self.controller_id:
            return
        end = resp.start_offset + len(resp.records)
        if resp.controller_id != self._answered_by[0]:
            self._answered_by = (resp.controller_id, 0)
        stale = end < self._answered_by[1]  # overtaken by a later answer of the same controller
        self._answered_by = (resp.controller_id, max(end, self._answered_by[1]))
        if (
            resp.controller_id != self.broker_id  # our own controller shares this very log
            and not stale
            and resp.start_offset < self.metadata.offset
            and end < self.metadata.offset
        ):
            # This copy holds records the controller does not: it diverged; follow the controller.
            self.metadata.truncate_to(end)
            self._reconcile(list(self.metadata.image.topics.keys()))
        if self.metadata.apply_from(resp.start_offset, resp.records):
            self._applied(resp.records)
        self.fenced = resp.fenced
        if resp.fenced and self._shutdown_callback is None:
            # A fenced broker reports back as soon as it has caught up, not a whole interval later.
            previous = self._scheduled.get("early heartbeat")
            if previous is not None:
                previous.cancel()
            self._scheduled["early heartbeat"] = self._timers.call_later(100, self._heartbeat)
        if resp.shutdown_ready and self._shutdown_callback is not None:
            done, self._shutdown_callback = self._shutdown_callback, None
            self.close()
            done()

    def _applied(self, records: tuple[MetadataRecord, ...] | list[MetadataRecord]) -> None:
        topics: list[str] = []
        for record in records:
            match record:
                case PartitionRecord(topic=topic):
                    topics.append(topic)
                case TopicConfigChanged(name=name):
                    topics.append(name)
                case TopicRemoved(name=name):
                    topics.append(name)
                case _:
                    pass
        if topics:
            self._reconcile(list(dict.fromkeys(topics)))

    def topic_config(self, topic: str) -> LogConfig:
        image = self.metadata.image.topics.get(topic)
        overrides = image.config if image is not None else {}
        return LogConfig.from_properties(overrides, self.config.topic_defaults())

    def _reconcile(self, topics: list[str], *, initial: bool = False) -> None:
        """Make local replicas match the metadata image for `topics`."""
        now = self._timers.now_ms()
        for topic in topics:
            image = self.metadata.image.topics.get(topic)
            if image is None:
                for tp in [tp for tp in self.partitions if tp[0] == topic]:
                    self._drop_partition(tp, delete=True)
                for path in self.log_dir.glob(f"{topic}-*"):
                    if path.name.rpartition("-")[0] == topic and path.is_dir():
                        shutil.rmtree(path, ignore_errors=True)
                continue
            config = self.topic_config(topic)
            for p, state in image.partitions.items():
                tp = (topic, p)
                if self.broker_id not in state.replicas:
                    if tp in self.partitions:
                        self._drop_partition(tp, delete=True)
                    continue
                partition = self.partitions.get(tp)
                if partition is None:
                    log = PartitionLog(
                        self.log_dir / f"{topic}-{p}",
                        config,
                        self._timers,
                        on_event=self._log_event,
                    )
                    partition = Partition(self.broker_id, log, state, now)
                    self.partitions[tp] = partition
                elif partition.state == state and not initial:
                    partition.log.update_config(config)
                    continue
                else:
                    partition.log.update_config(config)
                    partition.update_state(state, now)
                self._after_state_change(tp, partition)

    def _coordinate(self, index: int, partition: Partition) -> None:
        """Lead an offsets partition, coordinate its groups (loaded from its records)."""
        if partition.is_leader and not self.groups.owns(index):
            records = [(r.key, r.value) for r in partition.log.records() if r.key is not None]
            self.groups.load(index, records)
        elif not partition.is_leader and self.groups.owns(index):
            self.groups.unload(index)

    def _append_offsets(
        self,
        index: int,
        records: list[tuple[bytes, bytes | None]],
        callback: Callable[[ErrorCode], None],
    ) -> None:
        builder = BatchBuilder()
        now = self._timers.now_ms()
        for key, value in records:
            builder.append(key, value, now)
        self.produce(
            OFFSETS_TOPIC,
            index,
            builder.build(),
            -1,
            self.config.request_timeout_ms,
            lambda result: callback(result.error),
            trusted_encoder=True,
        )

    def _log_event(self, event: LogEvent) -> None:
        if self._on_log_event is not None:
            self._on_log_event(self.broker_id, event)

    def _drop_partition(self, tp: TopicPartition, *, delete: bool) -> None:
        partition = self.partitions.pop(tp, None)
        self._stop_fetcher(tp)
        self._fail_pending(tp, ErrorCode.NOT_LEADER_OR_FOLLOWER, "the partition moved")
        if partition is not None:
            if delete:
                partition.log.delete()
            else:
                partition.log.close()

    def _after_state_change(self, tp: TopicPartition, partition: Partition) -> None:
        if tp[0] == OFFSETS_TOPIC:
            self._coordinate(tp[1], partition)
        if partition.is_leader:
            self._stop_fetcher(tp)
            if partition.maybe_advance_high_watermark():
                self._on_high_watermark(tp)
            self._complete_pending(tp)
        else:
            self._fail_pending(
                tp,
                ErrorCode.NOT_LEADER_OR_FOLLOWER,
                f"broker {self.broker_id} is no longer the leader",
            )
            self._release_parked(tp)
            if partition.state.leader >= 0:
                self._start_fetcher(tp, partition)
            else:
                self._stop_fetcher(tp)

    # -- produce ---------------------------------------------------------------------------

    def produce(
        self,
        topic: str,
        partition_index: int,
        records: bytes,
        acks: int,
        timeout_ms: int,
        callback: ProduceCallback,
        *,
        trusted_encoder: bool = False,
    ) -> None:
        """Append as leader; answer now (acks 0/1) or when the ISR has the records (acks=all)."""
        tp = (topic, partition_index)
        partition = self.partitions.get(tp)
        if not self.running or partition is None or not partition.is_leader:
            callback(
                ProduceResult(
                    ErrorCode.NOT_LEADER_OR_FOLLOWER,
                    message=f"broker {self.broker_id} is not the leader of "
                    f"{topic}-{partition_index}; refresh metadata and retry",
                )
            )
            return
        meters = self.meters
        meters.mark("BrokerTopicMetrics", "TotalProduceRequestsPerSec", 1, topic)
        if acks not in (0, 1, -1):
            meters.mark("BrokerTopicMetrics", "FailedProduceRequestsPerSec", 1, topic)
            callback(
                ProduceResult(
                    ErrorCode.INVALID_REQUIRED_ACKS,
                    message=f"acks must be 0, 1 or -1 (all), got {acks}",
                )
            )
            return
        min_isr = partition.log.config.min_insync_replicas
        if acks == -1 and len(partition.isr) < min_isr:
            meters.mark("BrokerTopicMetrics", "FailedProduceRequestsPerSec", 1, topic)
            callback(
                ProduceResult(
                    ErrorCode.NOT_ENOUGH_REPLICAS,
                    message=f"{topic}-{partition_index} has {len(partition.isr)} in-sync "
                    f"replica(s), fewer than min.insync.replicas={min_isr}; nothing was written",
                )
            )
            return
        try:
            info = partition.log.append_as_leader(
                records, partition.leader_epoch, trusted_encoder=trusted_encoder
            )
        except LogError as exc:
            meters.mark("BrokerTopicMetrics", "FailedProduceRequestsPerSec", 1, topic)
            callback(ProduceResult(exc.code, message=exc.message))
            return
        meters.mark("BrokerTopicMetrics", "MessagesInPerSec", info.record_count, topic)
        meters.mark("BrokerTopicMetrics", "BytesInPerSec", len(records), topic)
        result = ProduceResult(
            ErrorCode.NONE, info.first_offset, info.log_append_time, info.log_start_offset
        )
        self._wake_parked(tp)
        if partition.maybe_advance_high_watermark():
            self._on_high_watermark(tp)
        if acks != -1:
            callback(result)
            return
        pending = _PendingProduce(
            tp, info.last_offset + 1, partition.leader_epoch, result, callback
        )
        pending.timer = self._timers.call_later(timeout_ms, lambda: self._expire_pending(pending))
        self._pending.setdefault(tp, []).append(pending)
        self._complete_pending(tp)

    def _complete_pending(self, tp: TopicPartition) -> None:
        partition = self.partitions.get(tp)
        waiting = self._pending.get(tp)
        if partition is None or not waiting:
            return
        hw = partition.log.high_watermark
        ready = [p for p in waiting if hw >= p.required_offset]
        if not ready:
            return
        # Store what still waits before answering: a callback may produce again (re-entry).
        self._pending[tp] = [p for p in waiting if hw < p.required_offset]
        min_isr = partition.log.config.min_insync_replicas
        isr_size = len(partition.isr)
        for p in ready:
            if p.timer is not None:
                p.timer.cancel()
            if isr_size < min_isr:
                p.callback(
                    ProduceResult(
                        ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
                        message=f"written, but the ISR shrank to {isr_size} below "
                        f"min.insync.replicas={min_isr} before it was replicated; retrying may "
                        "write a duplicate",
                    )
                )
            else:
                p.callback(p.result)

    def _expire_pending(self, pending: _PendingProduce) -> None:
        waiting = self._pending.get(pending.tp, [])
        if pending in waiting:
            waiting.remove(pending)
            pending.callback(
                ProduceResult(
                    ErrorCode.REQUEST_TIMED_OUT,
                    message="the in-sync replicas did not acknowledge in time (request.timeout.ms)",
                )
            )

    def _fail_pending(self, tp: TopicPartition, code: ErrorCode, message: str) -> None:
        for p in self._pending.pop(tp, []):
            if p.timer is not None:
                p.timer.cancel()
            p.callback(ProduceResult(code, message=message))

    def _on_high_watermark(self, tp: TopicPartition) -> None:
        if self._on_high_watermark_moved is not None:
            partition = self.partitions.get(tp)
            if partition is not None:
                self._on_high_watermark_moved(
                    self.broker_id, tp[0], tp[1], partition.log.high_watermark
                )
        self._complete_pending(tp)
        self._wake_parked(tp)

    # -- leader side of replication --------------------------------------------------------

    def _handle_fetch(self, src: int, req: FetchRequest) -> None:
        tp = (req.topic, req.partition)
        partition = self.partitions.get(tp)
        if partition is None:
            self._send(
                src,
                FetchResponse(
                    req.request_id, req.topic, req.partition, ErrorCode.NOT_LEADER_OR_FOLLOWER
                ),
            )
            return
        now = self._timers.now_ms()
        hw_before = partition.log.high_watermark
        response, can_join = partition.handle_fetch(req, now)
        if partition.log.high_watermark != hw_before:
            self._on_high_watermark(tp)
        if can_join:
            self._propose_isr(partition, tuple(sorted(set(partition.isr) | {req.replica_id})))
        if (
            response.error == ErrorCode.NONE
            and not response.records
            and (response.diverging_epoch == -1)
            and req.log_start_offset >= partition.log.log_start_offset
        ):
            # Nothing new: park the fetch until data arrives, the high watermark moves, or the
            # follower's max wait ends.
            parked = _ParkedFetch(src, req)
            parked.timer = self._timers.call_later(
                req.max_wait_ms, lambda: self._answer_parked(tp, parked)
            )
            self._parked.setdefault(tp, []).append(parked)
            return
        if response.records:
            self.meters.mark(
                "BrokerTopicMetrics", "ReplicationBytesOutPerSec", len(response.records), tp[0]
            )
        self._send(src, response)

    def _idle_fetch_wait_ms(self) -> int:
        return max(self.config.replica_fetch_wait_max_ms, self.config.replica_lag_time_max_ms // 3)

    def _answer_parked(self, tp: TopicPartition, parked: _ParkedFetch) -> None:
        waiting = self._parked.get(tp, [])
        if parked not in waiting:
            return
        waiting.remove(parked)
        partition = self.partitions.get(tp)
        if partition is None:
            return
        response, _ = partition.handle_fetch(parked.request, self._timers.now_ms())
        self._send(parked.src, response)

    def _wake_parked(self, tp: TopicPartition) -> None:
        for parked in list(self._parked.get(tp, [])):
            if parked.timer is not None:
                parked.timer.cancel()
            self._answer_parked(tp, parked)

    def wake_followers(self, topic: str, partition: int) -> None:
        """Answer followers' parked fetches now (the log start moved: they should know)."""
        self._wake_parked((topic, partition))

    def _release_parked(self, tp: TopicPartition) -> None:
        for parked in self._parked.pop(tp, []):
            if parked.timer is not None:
                parked.timer.cancel()
            self._send(
                parked.src,
                FetchResponse(
                    parked.request.request_id, tp[0], tp[1], ErrorCode.NOT_LEADER_OR_FOLLOWER
                ),
            )

    def _check_isr(self) -> None:
        now = self._timers.now_ms()
        lag = self.config.replica_lag_time_max_ms
        for partition in self.partitions.values():
            if partition.pending_isr is not None:
                continue
            stale = partition.out_of_sync(now, lag)
            if stale:
                self._propose_isr(partition, tuple(r for r in partition.isr if r not in stale))

    def _propose_isr(self, partition: Partition, new_isr: tuple[int, ...]) -> None:
        if partition.pending_isr is not None or self.controller_id is None:
            return
        partition.pending_isr = new_isr
        state = partition.state
        self._send(
            self.controller_id,
            AlterPartition(
                self.broker_id,
                self.incarnation,
                state.topic,
                state.partition,
                state.leader_epoch,
                state.partition_epoch,
                new_isr,
            ),
        )
        # The request or its answer may be lost: allow a new proposal after a while.
        self._timers.call_later(
            self.config.broker_heartbeat_interval_ms,
            lambda: self._clear_stale_proposal(partition, state),
        )

    @staticmethod
    def _clear_stale_proposal(partition: Partition, state: PartitionRecord) -> None:
        if partition.state is state:
            partition.pending_isr = None

    def _handle_alter_response(self, resp: AlterPartitionResponse) -> None:
        tp = (resp.topic, resp.partition)
        partition = self.partitions.get(tp)
        if partition is None:
            return
        if resp.state is not None and resp.state.partition_epoch > partition.state.partition_epoch:
            partition.update_state(resp.state, self._timers.now_ms())
            self._after_state_change(tp, partition)
        else:
            partition.pending_isr = None

    # -- follower side of replication ------------------------------------------------------

    def _start_fetcher(self, tp: TopicPartition, partition: Partition) -> None:
        current = self._fetchers.get(tp)
        state = partition.state
        if (
            current is not None
            and current.leader == state.leader
            and (current.leader_epoch == state.leader_epoch)
        ):
            return
        self._stop_fetcher(tp)
        fetcher = _FetcherState(state.leader, state.leader_epoch)
        self._fetchers[tp] = fetcher
        self._send_fetch(tp, fetcher)

    def _stop_fetcher(self, tp: TopicPartition) -> None:
        fetcher = self._fetchers.pop(tp, None)
        if fetcher is not None and fetcher.timer is not None:
            fetcher.timer.cancel()

    def _send_fetch(self, tp: TopicPartition, fetcher: _FetcherState) -> None:
        partition = self.partitions.get(tp)
        if partition is None or self._fetchers.get(tp) is not fetcher or not self.running:
            return
        self._next_request_id += 1
        fetcher.request_id = self._next_request_id
        fetcher.in_flight = True
        log = partition.log
        # A follower that was caught up at its last answer asks the leader to hold an empty
        # answer longer than replica.fetch.wait.max.ms (a third of replica.lag.time.max.ms):
        # it misses nothing (data and high-watermark moves answer at once), stays provably in
        # sync, and an idle cluster exchanges far fewer messages.
        wait = (
            self._idle_fetch_wait_ms()
            if fetcher.caught_up
            else self.config.replica_fetch_wait_max_ms
        )
        self._send(
            fetcher.leader,
            FetchRequest(
                self.broker_id,
                fetcher.request_id,
                tp[0],
                tp[1],
                log.log_end_offset,
                fetcher.leader_epoch,
                log.leader_epochs.latest_epoch
                if log.log_end_offset > log.log_start_offset
                else UNDEFINED_EPOCH,
                self.config.replica_fetch_max_bytes,
                wait,
                log.log_start_offset,
            ),
        )
        # Lost requests and answers are retried after a while (a dropped connection).
        request_id = fetcher.request_id
        if fetcher.timer is not None:
            fetcher.timer.cancel()
        fetcher.timer = self._timers.call_later(
            wait + self.config.replica_fetch_backoff_ms,
            lambda: self._retry_fetch(tp, fetcher, request_id),
        )

    def _retry_fetch(self, tp: TopicPartition, fetcher: _FetcherState, request_id: int) -> None:
        if fetcher.request_id == request_id and fetcher.in_flight:
            self._send_fetch(tp, fetcher)

    def _handle_fetch_response(self, src: int, resp: FetchResponse) -> None:
        tp = (resp.topic, resp.partition)
        fetcher = self._fetchers.get(tp)
        partition = self.partitions.get(tp)
        if fetcher is None or partition is None or resp.request_id != fetcher.request_id:
            return
        fetcher.in_flight = False
        if fetcher.timer is not None:
            fetcher.timer.cancel()
            fetcher.timer = None
        log = partition.log
        if resp.error != ErrorCode.NONE and resp.error != ErrorCode.OFFSET_OUT_OF_RANGE:
            self._fetch_later(tp, fetcher, self.config.replica_fetch_backoff_ms)
            return
        if resp.error == ErrorCode.OFFSET_OUT_OF_RANGE:
            if log.log_end_offset > resp.diverging_end_offset >= 0:
                self._truncate(tp, log, resp.diverging_end_offset)
            elif log.log_end_offset < resp.log_start_offset:
                log.truncate_fully_and_start_at(resp.log_start_offset)
            self._fetch_later(tp, fetcher, 0)
            return
        if resp.diverging_epoch != -1 or resp.diverging_end_offset != -1:
            # KIP-320/KIP-595: cut this replica's tail where its history leaves the leader's.
            if resp.diverging_epoch == UNDEFINED_EPOCH:
                target = log.high_watermark
            else:
                _, local_end = log.end_offset_for_epoch(resp.diverging_epoch)
                target = min(resp.diverging_end_offset, local_end)
            self._truncate(tp, log, max(target, log.log_start_offset))
            self._fetch_later(tp, fetcher, 0)
            return
        if resp.records:
            try:
                log.append_as_follower(resp.records)
                self.meters.mark(
                    "BrokerTopicMetrics", "ReplicationBytesInPerSec", len(resp.records), tp[0]
                )
            except LogError:
                self._fetch_later(tp, fetcher, self.config.replica_fetch_backoff_ms)
                return
        if resp.log_start_offset > log.log_start_offset:
            log.update_high_watermark(
                max(log.high_watermark, min(resp.high_watermark, log.log_end_offset))
            )
            if resp.log_start_offset <= log.high_watermark:
                log.increment_log_start_offset(resp.log_start_offset)
        log.update_high_watermark(min(resp.high_watermark, log.log_end_offset))
        fetcher.caught_up = not resp.records and log.log_end_offset >= resp.high_watermark
        self._fetch_later(tp, fetcher, 0)

    def _truncate(self, tp: TopicPartition, log: PartitionLog, offset: int) -> None:
        if offset < log.log_end_offset:
            log.truncate_to(offset)

    def _fetch_later(self, tp: TopicPartition, fetcher: _FetcherState, delay_ms: int) -> None:
        if delay_ms == 0:
            self._timers.call_later(0, lambda: self._send_fetch(tp, fetcher))
        else:
            fetcher.timer = self._timers.call_later(delay_ms, lambda: self._send_fetch(tp, fetcher))

    # -- housekeeping ----------------------------------------------------------------------

    def _retention(self) -> None:
        for partition in self.partitions.values():
            partition.log.delete_old_segments()

    def _clean(self) -> None:
        for partition in self.partitions.values():
            if partition.log.config.compact:
                partition.log.compact()
