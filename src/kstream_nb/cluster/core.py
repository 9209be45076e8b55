"""The deterministic cluster core: N brokers, one active controller, events and snapshots.

It owns no thread and no socket: the runtime gives it `Timers`, a `Transport` and a
`reachable(a, b)` view of the network, and calls it from one thread at a time.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from kstream_nb.cluster.broker import Broker, ProduceCallback, ProduceResult
from kstream_nb.cluster.config import BrokerConfig
from kstream_nb.cluster.controller import Controller
from kstream_nb.cluster.environment import Timers, Transport
from kstream_nb.cluster.errors import (
    BrokerNotAvailableError,
    ClusterError,
    NotControllerError,
    UnknownTopicError,
)
from kstream_nb.cluster.events import (
    BrokerFencedEvent,
    BrokerStarted,
    BrokerStopped,
    BrokerUnfencedEvent,
    ClusterEvent,
    ControllerChanged,
    GroupRebalanceCompleted,
    GroupRebalanceStarted,
    HighWatermarkMoved,
    IsrChanged,
    LeaderElected,
    LogChanged,
    TopicConfigAltered,
    TopicCreated,
    TopicDeleted,
)
from kstream_nb.cluster.group_coordinator import (
    OFFSETS_TOPIC,
    GroupCoordinator,
    MemberDescription,
    offsets_partition_for,
)
from kstream_nb.cluster.metadata import (
    NO_LEADER,
    BrokerFenced,
    BrokerUnfenced,
    MetadataImage,
    MetadataRecord,
    PartitionRecord,
    TopicConfigChanged,
    TopicRecord,
    TopicRemoved,
)
from kstream_nb.cluster.metrics import Metric
from kstream_nb.errors import ErrorCode
from kstream_nb.log import BatchBuilder, LogConfig, LogEvent, PartitionLog, Record, decode_records

__all__ = [
    "BrokerSnapshot",
    "ClusterCore",
    "ClusterSnapshot",
    "FetchResult",
    "GroupOffsetSnapshot",
    "GroupSnapshot",
    "PartitionSnapshot",
    "ReplicaSnapshot",
]

EVENTS_TOPIC = "__kstream_events"


class BrokerSnapshot(msgspec.Struct, frozen=True):
    broker_id: int
    rack: str | None
    status: str  # up, fenced, down
    is_controller: bool


class ReplicaSnapshot(msgspec.Struct, frozen=True):
    broker_id: int
    log_start_offset: int
    high_watermark: int
    log_end_offset: int
    in_sync: bool
    online: bool


class PartitionSnapshot(msgspec.Struct, frozen=True):
    topic: str
    partition: int
    leader: int
    leader_epoch: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    replica_states: tuple[ReplicaSnapshot, ...]

    @property
    def offline(self) -> bool:
        return self.leader == NO_LEADER

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)


class FetchResult(msgspec.Struct, frozen=True):
    """A consumer fetch's answer for one partition."""

    error: ErrorCode
    records: bytes = b""
    high_watermark: int = -1
    log_start_offset: int = -1


class ClusterSnapshot(msgspec.Struct, frozen=True):
    time_ms: int
    controller_id: int | None
    brokers: tuple[BrokerSnapshot, ...]
    partitions: tuple[PartitionSnapshot, ...]

    def partition(self, topic: str, partition: int) -> PartitionSnapshot:
        for p in self.partitions:
            if p.topic == topic and p.partition == partition:
                return p
        raise KeyError(f"{topic}-{partition}")


class GroupOffsetSnapshot(msgspec.Struct, frozen=True):
    """A group's position in one partition: committed offset, high watermark and the lag."""

    topic: str
    partition: int
    committed: int | None  # None: nothing committed yet
    high_watermark: int | None  # None: the partition has no leader now
    owner: str | None  # the member it is assigned to

    @property
    def lag(self) -> int | None:
        """Records between the committed offset and the high watermark (as Kafka tools show)."""
        if self.committed is None or self.high_watermark is None:
            return None
        return max(0, self.high_watermark - self.committed)


class GroupSnapshot(msgspec.Struct, frozen=True):
    """A consumer group as its coordinator sees it: members, assignment, offsets and lag."""

    group_id: str
    state: str
    protocol: str | None
    generation: int
    coordinator: int
    members: tuple[MemberDescription, ...]
    offsets: tuple[GroupOffsetSnapshot, ...]

    @property
    def total_lag(self) -> int:
        return sum(o.lag or 0 for o in self.offsets)


class ClusterCore:
    """N brokers in one process, driven by injected timers and transport."""

    def __init__(
        self,
        timers: Timers,
        transport: Transport,
        data_dir: Path,
        broker_ids: list[int],
        config: BrokerConfig,
        *,
        racks: Mapping[int, str | None] | None = None,
        reachable: Callable[[int, int], bool] = lambda a, b: True,
        rng: random.Random | None = None,
    ) -> None:
        self.timers = timers
        self.transport = transport
        self.data_dir = data_dir
        self.broker_ids = sorted(broker_ids)
        self.config = config
        self.racks = dict(racks or {})
        self.reachable = reachable
        self.rng = rng or random.Random(0)
        self.brokers: dict[int, Broker] = {}
        self.controller_id: int | None = None
        self._incarnations: dict[int, int] = {}
        self._known: dict[tuple[str, int], PartitionRecord] = {}
        self.events: list[ClusterEvent] = []
        self._event_listeners: list[Callable[[ClusterEvent], None]] = []
        self._encoder = msgspec.json.Encoder()
        # High watermark events are many; they are recorded only while someone asks for them.
        self.trace_high_watermarks = False
        data_dir.mkdir(parents=True, exist_ok=True)
        self.event_log = PartitionLog(
            data_dir / "_events" / f"{EVENTS_TOPIC}-0",
            LogConfig.from_properties({"retention.ms": -1, "segment.bytes": 16 * 1024 * 1024}),
            timers,  # the cluster's Timers are its Clock (both answer now_ms)
        )

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        for broker_id in self.broker_ids:
            self._start_broker(broker_id, restart=False)
        self.elect_controller()

    def stop(self) -> None:
        for broker in list(self.brokers.values()):
            broker.close()
        self.brokers.clear()
        self.event_log.close()

    def _start_broker(self, broker_id: int, *, restart: bool) -> Broker:
        incarnation = self._incarnations.get(broker_id, -1) + 1
        self._incarnations[broker_id] = incarnation
        broker = Broker(
            broker_id,
            self.data_dir / f"broker-{broker_id}",
            self.config,
            self.timers,
            self.transport,
            rack=self.racks.get(broker_id),
            incarnation=incarnation,
            rng=random.Random(self.rng.getrandbits(32)),
            on_log_event=self._on_log_event,
            on_high_watermark=self._on_high_watermark,
            on_group_event=self._on_group_event,
        )
        # A broker epoch is new for every start, also across a restart of the whole cluster on
        # the same data_dir: past the epoch its own metadata copy last recorded for it.
        known = broker.metadata.image.brokers.get(broker_id)
        if known is not None and known.broker_epoch >= broker.incarnation:
            broker.incarnation = known.broker_epoch + 1
        self._incarnations[broker_id] = broker.incarnation
        broker.controller_id = self.controller_id
        self.brokers[broker_id] = broker
        broker.start()
        self._emit(BrokerStarted(self._now(), broker_id, restart))
        return broker

    def broker(self, broker_id: int) -> Broker:
        if broker_id not in self.broker_ids:
            raise BrokerNotAvailableError(
                f"there is no broker {broker_id}; brokers are {self.broker_ids}"
            )
        broker = self.brokers.get(broker_id)
        if broker is None:
            raise BrokerNotAvailableError(
                f"broker {broker_id} is down; restart it with restart_broker({broker_id})"
            )
        return broker

    def kill_broker(self, broker_id: int) -> None:
        """Crash a broker: its memory is gone, its files stay."""
        broker = self.broker(broker_id)
        broker.kill()
        del self.brokers[broker_id]
        self._emit(BrokerStopped(self._now(), broker_id, "killed"))
        self.elect_controller()

    def restart_broker(self, broker_id: int) -> None:
        """Start a stopped broker again; it recovers its logs and rejoins."""
        if broker_id not in self.broker_ids:
            raise BrokerNotAvailableError(
                f"there is no broker {broker_id}; brokers are {self.broker_ids}"
            )
        if broker_id in self.brokers:
            raise BrokerNotAvailableError(f"broker {broker_id} is already running")
        self._start_broker(broker_id, restart=True)
        self.elect_controller()

    def shutdown_broker(self, broker_id: int, done: Callable[[], None] | None = None) -> None:
        """Controlled shutdown: leadership moves away first, then the broker stops cleanly."""
        broker = self.broker(broker_id)

        def finished() -> None:
            self.brokers.pop(broker_id, None)
            self._emit(BrokerStopped(self._now(), broker_id, "controlled shutdown"))
            self.elect_controller()
            if done is not None:
                done()

        if broker.controller is not None:
            # The controller's own broker hands the role over before it goes.
            broker.resign_controller()
            self.controller_id = None
            others = {b: x for b, x in self.brokers.items() if b != broker_id}
            self._elect_among(others)
        broker.request_shutdown(finished)

    # -- controller election ---------------------------------------------------------------

    def elect_controller(self) -> None:
        """Keep the controller while it reaches a majority; else pick the most up-to-date one.

        A stand-in for KRaft's Raft election: instant, and based on the network's reachability.
        """
        self._elect_among(self.brokers)

    def _elect_among(self, running: Mapping[int, Broker]) -> None:
        majority = len(self.broker_ids) // 2 + 1
        candidates = [
            b
            for b in sorted(running)
            if 1 + sum(1 for o in running if o != b and self.reachable(b, o)) >= majority
        ]
        current = self.controller_id
        if current is not None and current in candidates:
            return
        new = (
            max(candidates, key=lambda b: (running[b].metadata.offset, -b)) if candidates else None
        )
        if current is not None and current in self.brokers:
            self.brokers[current].resign_controller()
        self.controller_id = new
        if new is not None:
            self.brokers[new].become_controller(self.config, self.rng, self._on_records)
        for broker in self.brokers.values():
            broker.controller_id = new
        if new != current:
            self._emit(ControllerChanged(self._now(), new))

    def controller(self) -> Controller:
        broker = self.brokers.get(self.controller_id) if self.controller_id is not None else None
        if broker is None or broker.controller is None:
            raise NotControllerError(
                "no controller is active: a majority of brokers must be running and connected"
            )
        return broker.controller

    # -- topics (the admin API goes to the controller) ------------------------------------

    def create_topic(
        self,
        name: str,
        partitions: int | None = None,
        replication_factor: int | None = None,
        config: Mapping[str, Any] | None = None,
        *,
        validate_only: bool = False,
        assignment: list[tuple[int, ...]] | None = None,
    ) -> None:
        self.controller().create_topic(
            name,
            self.config.num_partitions if partitions is None else partitions,
            self.config.default_replication_factor
            if replication_factor is None
            else replication_factor,
            config,
            validate_only=validate_only,
            assignment=assignment,
        )

    def delete_topic(self, name: str) -> None:
        self.controller().delete_topic(name)

    def create_partitions(
        self,
        name: str,
        total: int,
        *,
        validate_only: bool = False,
        assignment: list[tuple[int, ...]] | None = None,
    ) -> None:
        self.controller().create_partitions(
            name, total, validate_only=validate_only, assignment=assignment
        )

    def alter_topic_config(
        self, name: str, config: Mapping[str, Any], *, replace: bool = False
    ) -> None:
        """Set topic overrides, merged, or `replace`-ing them all (removes overrides)."""
        self.controller().alter_topic_config(name, config, replace=replace)

    # -- consumer groups -------------------------------------------------------------------

    def coordinator_down(self, group_id: str) -> tuple[int, int] | None:
        """(offsets partition, its last leader) when `group_id`'s coordinator is unavailable.

        Read-only (creates nothing): None when the coordinator is up or there is none yet.
        """
        topic = self.image.topics.get(OFFSETS_TOPIC)
        if topic is None or not group_id:
            return None
        index = offsets_partition_for(group_id, len(topic.partitions))
        state = self.image.partition(OFFSETS_TOPIC, index)
        broker = self.brokers.get(state.leader) if state is not None else None
        if broker is not None and broker.groups.owns(index):
            return None
        return index, state.leader if state is not None else -1

    def group_coordinator(self, group_id: str) -> tuple[GroupCoordinator, int]:
        """FindCoordinator: the coordinator serving `group_id` and its offsets partition.

        Creates `__consumer_offsets` on first use, as Kafka does. Raises
        COORDINATOR_NOT_AVAILABLE (retriable) while the partition has no ready leader.
        """
        if not group_id:
            raise ClusterError("a group id cannot be empty", code=ErrorCode.INVALID_GROUP_ID)
        image = self.image
        if OFFSETS_TOPIC not in image.topics:
            live = len(image.live_brokers())
            self.controller().create_topic(
                OFFSETS_TOPIC,
                self.config.offsets_topic_num_partitions,
                max(1, min(self.config.offsets_topic_replication_factor, live)),
                {"cleanup.policy": "compact", "segment.bytes": 100 * 1024 * 1024},
            )
        partitions = len(self.image.topics[OFFSETS_TOPIC].partitions)
        index = offsets_partition_for(group_id, partitions)
        state = self.image.partition(OFFSETS_TOPIC, index)
        broker = self.brokers.get(state.leader) if state is not None else None
        if broker is None or not broker.groups.owns(index):
            raise ClusterError(
                f"the coordinator of group {group_id!r} is not available yet; retry",
                code=ErrorCode.COORDINATOR_NOT_AVAILABLE,
            )
        return broker.groups, index

    def init_producer_id(self) -> tuple[int, int]:
        """InitProducerId for an idempotent producer: (producer id, epoch 0)."""
        return self.controller().allocate_producer_id(), 0

    def elect_preferred_leaders(self, topic: str | None = None) -> int:
        return self.controller().elect_preferred_leaders(topic)

    @property
    def image(self) -> MetadataImage:
        """The metadata as the controller (or, without one, any running broker) sees it."""
        if self.controller_id is not None and self.controller_id in self.brokers:
            return self.brokers[self.controller_id].metadata.image
        for broker in self.brokers.values():
            return broker.metadata.image
        return MetadataImage()

    # -- data ------------------------------------------------------------------------------

    def produce(
        self,
        topic: str,
        partition: int,
        records: bytes,
        *,
        acks: int = -1,
        timeout_ms: int | None = None,
        callback: ProduceCallback,
        trusted_encoder: bool = False,
    ) -> None:
        """Send a batch to the partition's leader, as a client with fresh metadata does.

        `trusted_encoder`: the batch comes from kstream_nb's own producer (see
        `PartitionLog.append_as_leader`)."""
        state = self.image.partition(topic, partition)
        if state is None:
            callback(
                ProduceResult(
                    ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                    message=f"{topic}-{partition} does not exist",
                )
            )
            return
        leader = self.brokers.get(state.leader)
        if leader is None:
            callback(
                ProduceResult(
                    ErrorCode.LEADER_NOT_AVAILABLE,
                    message=f"{topic}-{partition} has no live leader now",
                )
            )
            return
        leader.produce(
            topic,
            partition,
            records,
            acks,
            self.config.request_timeout_ms if timeout_ms is None else timeout_ms,
            callback,
            trusted_encoder=trusted_encoder,
        )

    def leader_log(self, topic: str, partition: int) -> tuple[ErrorCode, PartitionLog | None]:
        """The leader replica's log of a partition, or why there is none."""
        return self._leader_log(topic, partition)

    def _leader_log(self, topic: str, partition: int) -> tuple[ErrorCode, PartitionLog | None]:
        error, leader = self._leader(topic, partition)
        return error, leader.partitions[(topic, partition)].log if leader is not None else None

    def _leader(self, topic: str, partition: int) -> tuple[ErrorCode, Broker | None]:
        """The running broker that leads the partition, or why there is none."""
        state = self.image.partition(topic, partition)
        if state is None:
            return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, None
        leader = self.brokers.get(state.leader)
        local = leader.partitions.get((topic, partition)) if leader is not None else None
        if local is None or not local.is_leader:
            return ErrorCode.LEADER_NOT_AVAILABLE, None
        return ErrorCode.NONE, leader

    def fetch(
        self, topic: str, partition: int, offset: int, max_bytes: int = 1 << 20
    ) -> FetchResult:
        """A consumer's Fetch from the leader: whole batches from `offset`, below the high
        watermark (read_uncommitted), at least one batch, or an error code."""
        error, leader = self._leader(topic, partition)
        if leader is None:
            return FetchResult(error)
        log = leader.partitions[(topic, partition)].log
        meters = leader.meters
        meters.mark("BrokerTopicMetrics", "TotalFetchRequestsPerSec", 1, topic)
        hw = log.high_watermark
        if offset < log.log_start_offset or offset > hw:
            meters.mark("BrokerTopicMetrics", "FailedFetchRequestsPerSec", 1, topic)
            return FetchResult(ErrorCode.OFFSET_OUT_OF_RANGE, b"", hw, log.log_start_offset)
        data = log.read(offset, max_bytes, max_offset=hw)
        if data:
            meters.mark("BrokerTopicMetrics", "BytesOutPerSec", len(data), topic)
        return FetchResult(ErrorCode.NONE, data, hw, log.log_start_offset)

    def list_offsets(
        self, topic: str, partition: int, timestamp: int
    ) -> tuple[ErrorCode, int, int]:
        """ListOffsets: (error, offset, timestamp) for -2 earliest, -1 latest (the high
        watermark, what a read_uncommitted consumer can reach), -3 max timestamp, or a time."""
        error, log = self._leader_log(topic, partition)
        if log is None:
            return error, -1, -1
        if timestamp == -1:
            return ErrorCode.NONE, log.high_watermark, -1
        found = log.offset_for_timestamp(timestamp)
        if found is None or (found.offset >= log.high_watermark and timestamp >= 0):
            return ErrorCode.NONE, -1, -1
        return ErrorCode.NONE, found.offset, found.timestamp

    def leader_epoch_of(self, topic: str, partition: int, offset: int) -> int:
        """The leader epoch that wrote `offset` on the leader (-1 if unknown)."""
        _, log = self._leader_log(topic, partition)
        return -1 if log is None or offset < 0 else log.leader_epochs.epoch_of(offset)

    def delete_records(self, topic: str, partition: int, offset: int) -> tuple[ErrorCode, int]:
        """DeleteRecords: move the log start offset (-1: to the high watermark); followers
        follow through their fetches. Returns (error, new low watermark)."""
        error, log = self._leader_log(topic, partition)
        if log is None:
            return error, -1
        target = log.high_watermark if offset == -1 else offset
        if target > log.high_watermark or target < 0:
            return ErrorCode.OFFSET_OUT_OF_RANGE, log.log_start_offset
        log.increment_log_start_offset(target)
        log.delete_old_segments()
        state = self.image.partition(topic, partition)
        if state is not None and state.leader in self.brokers:
            self.brokers[state.leader].wake_followers(topic, partition)
        return ErrorCode.NONE, log.log_start_offset

    def ensure_topic(self, topic: str) -> bool:
        """Auto-create a topic a client names, when `auto.create.topics.enable` allows it."""
        if topic in self.image.topics:
            return True
        if not self.config.auto_create_topics_enable:
            return False
        live = len(self.image.live_brokers())
        self.controller().create_topic(
            topic,
            self.config.num_partitions,
            max(1, min(self.config.default_replication_factor, live)),
            None,
        )
        return True

    def read(
        self, topic: str, partition: int, offset: int = 0, max_bytes: int = 1 << 20
    ) -> list[Record]:
        """Records a consumer would see from the leader: from `offset`, below the high watermark."""
        result = self.fetch(topic, partition, offset, max_bytes)
        if result.error == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
            raise UnknownTopicError(f"{topic}-{partition} does not exist")
        return [r for r in decode_records(result.records) if r.offset >= offset]

    def records(self, topic: str, partition: int, broker_id: int) -> list[Record]:
        """Every record in one replica's log, committed or not (for checks and teaching)."""
        log = self.broker(broker_id).partitions[(topic, partition)].log
        return list(log.records())

    # -- observability ---------------------------------------------------------------------

    def describe(self) -> ClusterSnapshot:
        image = self.image
        brokers = []
        for bid in self.broker_ids:
            running = bid in self.brokers
            state = image.brokers.get(bid)
            status = (
                "down" if not running else ("fenced" if state is None or state.fenced else "up")
            )
            brokers.append(
                BrokerSnapshot(bid, self.racks.get(bid), status, bid == self.controller_id)
            )
        partitions = []
        for topic in sorted(image.topics):
            for index in sorted(image.topics[topic].partitions):
                p = image.topics[topic].partitions[index]
                replicas = []
                for r in p.replicas:
                    broker = self.brokers.get(r)
                    local = broker.partitions.get((topic, index)) if broker else None
                    if local is None:
                        replicas.append(ReplicaSnapshot(r, -1, -1, -1, r in p.isr, False))
                    else:
                        log = local.log
                        replicas.append(
                            ReplicaSnapshot(
                                r,
                                log.log_start_offset,
                                log.high_watermark,
                                log.log_end_offset,
                                r in p.isr,
                                True,
                            )
                        )
                partitions.append(
                    PartitionSnapshot(
                        topic, index, p.leader, p.leader_epoch, p.replicas, p.isr, tuple(replicas)
                    )
                )
        return ClusterSnapshot(self._now(), self.controller_id, tuple(brokers), tuple(partitions))

    def high_watermark(self, topic: str, partition: int) -> int | None:
        """The leader's high watermark, or None while the partition has no running leader."""
        state = self.image.partition(topic, partition)
        broker = self.brokers.get(state.leader) if state is not None else None
        local = broker.partitions.get((topic, partition)) if broker is not None else None
        return local.log.high_watermark if local is not None else None

    def describe_groups(self) -> tuple[GroupSnapshot, ...]:
        """Every group served by a running coordinator, sorted by id (for widgets and tools)."""
        groups = []
        for broker in self.brokers.values():
            coordinator = broker.groups
            for group_id, _, _ in coordinator.list_groups():
                description = coordinator.describe(group_id)
                if description is None:
                    continue
                owners = {tp: m.member_id for m in description.members for tp in m.assignment}
                committed = coordinator.committed(group_id)
                offsets = tuple(
                    GroupOffsetSnapshot(
                        topic,
                        partition,
                        committed[(topic, partition)].offset
                        if (topic, partition) in committed
                        else None,
                        self.high_watermark(topic, partition),
                        owners.get((topic, partition)),
                    )
                    for topic, partition in sorted(set(committed) | set(owners))
                )
                groups.append(
                    GroupSnapshot(
                        group_id,
                        description.state,
                        description.protocol,
                        description.generation,
                        broker.broker_id,
                        description.members,
                        offsets,
                    )
                )
        return tuple(sorted(groups, key=lambda g: g.group_id))

    def subscribe(self, listener: Callable[[ClusterEvent], None]) -> None:
        self._event_listeners.append(listener)

    def _now(self) -> int:
        return self.timers.now_ms()

    def _emit(self, event: ClusterEvent) -> None:
        self.events.append(event)
        builder = BatchBuilder()
        builder.append(type(event).__name__.encode(), self._encoder.encode(event), event.time_ms)
        self.event_log.append_as_leader(builder.build())
        self.event_log.update_high_watermark(self.event_log.log_end_offset)
        for listener in self._event_listeners:
            listener(event)

    def _on_high_watermark(self, broker_id: int, topic: str, partition: int, hw: int) -> None:
        if self.trace_high_watermarks:
            self._emit(HighWatermarkMoved(self._now(), broker_id, topic, partition, hw))

    def _on_group_event(self, kind: str, data: dict[str, Any]) -> None:
        now = self._now()
        if kind == "RebalanceStarted":
            self._emit(
                GroupRebalanceStarted(
                    now,
                    data["group_id"],
                    data["generation"],
                    data["reason"],
                    tuple(data["members"]),
                )
            )
        else:
            self._emit(
                GroupRebalanceCompleted(
                    now,
                    data["group_id"],
                    data["generation"],
                    data["protocol"],
                    data["leader"],
                    data["assignment"],
                    data["duration_ms"],
                    data["reason"],
                )
            )

    def _count_election(self, unclean: bool) -> None:
        controller = self.brokers.get(self.controller_id) if self.controller_id else None
        if controller is not None:
            controller.meters.mark("ControllerStats", "LeaderElectionRateAndTimeMs")
            if unclean:
                controller.meters.mark("ControllerStats", "UncleanLeaderElectionsPerSec")

    def _count_isr_change(self, leader: int, growth: int) -> None:
        broker = self.brokers.get(leader)
        if broker is not None and growth:
            name = "IsrExpandsPerSec" if growth > 0 else "IsrShrinksPerSec"
            broker.meters.mark("ReplicaManager", name, abs(growth))

    def metrics(self) -> tuple[Metric, ...]:
        """Every running broker's metrics under Kafka's JMX names: its meters (`Count`) and
        the gauges (`Value`) read from the state now. Dead brokers report nothing."""
        image = self.image
        states = [p for t in image.topics.values() for p in t.partitions.values()]
        cluster_wide = {
            "OfflinePartitionsCount": sum(1 for p in states if p.leader == NO_LEADER),
            "GlobalTopicCount": len(image.topics),
            "GlobalPartitionCount": len(states),
            "ActiveBrokerCount": sum(1 for b in image.brokers.values() if not b.fenced),
            "FencedBrokerCount": sum(1 for b in image.brokers.values() if b.fenced),
        }
        out: list[Metric] = []
        for bid in sorted(self.brokers):
            broker = self.brokers[bid]
            out.extend(broker.meters.metrics(bid))
            led = [p for p in broker.partitions.values() if p.is_leader]
            under = [p for p in led if len(p.isr) < len(p.state.replicas)]
            under_min = [p for p in led if len(p.isr) < p.log.config.min_insync_replicas]
            at_min = [p for p in led if len(p.isr) == p.log.config.min_insync_replicas]
            gauges = {
                "LeaderCount": len(led),
                "PartitionCount": len(broker.partitions),
                "UnderReplicatedPartitions": len(under),
                "UnderMinIsrPartitionCount": len(under_min),
                "AtMinIsrPartitionCount": len(at_min),
            }
            out.extend(
                Metric(bid, "kafka.server", "ReplicaManager", name, "Value", value)
                for name, value in gauges.items()
            )
            active = bid == self.controller_id
            controller = {"ActiveControllerCount": int(active), **cluster_wide}
            out.extend(
                # Only the active controller reports the cluster-wide gauges (others: 0).
                Metric(
                    bid,
                    "kafka.controller",
                    "KafkaController",
                    name,
                    "Value",
                    value if active else 0,
                )
                for name, value in controller.items()
            )
            for (topic, index), local in sorted(broker.partitions.items()):
                tags = (("topic", topic), ("partition", str(index)))
                log = local.log
                for name, value in (
                    ("Size", log.size_in_bytes),
                    ("LogStartOffset", log.log_start_offset),
                    ("LogEndOffset", log.log_end_offset),
                    ("NumLogSegments", len(log.segments)),
                ):
                    out.append(Metric(bid, "kafka.log", "Log", name, "Value", value, tags))
        return tuple(out)

    def _on_log_event(self, broker_id: int, event: LogEvent) -> None:
        self._emit(LogChanged(self._now(), broker_id, event))

    def _on_records(self, records: list[MetadataRecord]) -> None:
        now = self._now()
        created: dict[str, list[PartitionRecord]] = {}
        for record in records:
            match record:
                case BrokerFenced(broker_id=bid, reason=reason):
                    self._emit(BrokerFencedEvent(now, bid, reason))
                case BrokerUnfenced(broker_id=bid):
                    self._emit(BrokerUnfencedEvent(now, bid))
                case TopicRecord(name=name):
                    created[name] = []
                case TopicRemoved(name=name):
                    self._emit(TopicDeleted(now, name))
                    for key in [k for k in self._known if k[0] == name]:
                        del self._known[key]
                case TopicConfigChanged(name=name, config=config):
                    self._emit(TopicConfigAltered(now, name, dict(config)))
                case PartitionRecord():
                    key = (record.topic, record.partition)
                    before = self._known.get(key)
                    self._known[key] = record
                    if before is None:
                        created.setdefault(record.topic, []).append(record)
                        continue
                    if before.leader != record.leader or before.leader_epoch != record.leader_epoch:
                        self._count_election("unclean" in record.reason)
                        self._emit(
                            LeaderElected(
                                now,
                                record.topic,
                                record.partition,
                                record.leader,
                                record.leader_epoch,
                                before.leader,
                                record.reason,
                                "unclean" in record.reason,
                            )
                        )
                    if before.isr != record.isr:
                        self._count_isr_change(record.leader, len(record.isr) - len(before.isr))
                        self._emit(
                            IsrChanged(
                                now,
                                record.topic,
                                record.partition,
                                record.isr,
                                before.isr,
                                record.reason,
                            )
                        )
                case _:
                    pass
        for name, parts in created.items():
            if parts:
                self._emit(TopicCreated(now, name, len(parts), len(parts[0].replicas)))
