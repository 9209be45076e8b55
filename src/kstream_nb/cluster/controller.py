"""The active controller: registers and fences brokers, creates topics, elects leaders, owns ISRs.

Every decision is a metadata record appended to the controller's copy of `__cluster_metadata`
and pushed to the brokers, as in KRaft. Leaders are elected from the ISR; an unclean election
(any live replica) happens only when `unclean.leader.election.enable` is true for the topic.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from kstream_nb.cluster.config import BrokerConfig
from kstream_nb.cluster.environment import TimerHandle, Timers, Transport
from kstream_nb.cluster.errors import (
    InvalidPartitionsError,
    InvalidReplicaAssignmentError,
    InvalidReplicationFactorError,
    InvalidTopicError,
    TopicAlreadyExistsError,
    UnknownTopicError,
)
from kstream_nb.cluster.messages import (
    AlterPartition,
    AlterPartitionResponse,
    BrokerHeartbeat,
    HeartbeatResponse,
    MetadataPush,
)
from kstream_nb.cluster.metadata import (
    NO_LEADER,
    BrokerFenced,
    BrokerRegistered,
    BrokerUnfenced,
    MetadataRecord,
    PartitionRecord,
    ProducerIdsAllocated,
    TopicConfigChanged,
    TopicRecord,
    TopicRemoved,
)
from kstream_nb.cluster.metadata_log import MetadataLog
from kstream_nb.errors import ErrorCode
from kstream_nb.log import LogConfig

__all__ = ["Controller", "assign_replicas", "validate_topic_name"]

_LEGAL_TOPIC = re.compile(r"^[a-zA-Z0-9._-]+$")
MAX_TOPIC_NAME = 249


def validate_topic_name(name: str) -> None:
    """Kafka's rules for topic names; INVALID_TOPIC_EXCEPTION says which one was broken."""
    if not name:
        raise InvalidTopicError("a topic name cannot be empty")
    if name in (".", ".."):
        raise InvalidTopicError(f"a topic cannot be named {name!r}")
    if len(name) > MAX_TOPIC_NAME:
        raise InvalidTopicError(
            f"topic name is {len(name)} characters long; the limit is {MAX_TOPIC_NAME}"
        )
    if not _LEGAL_TOPIC.match(name):
        raise InvalidTopicError(
            f"topic name {name!r} has illegal characters; use only ASCII letters, digits, "
            "'.', '_' and '-'"
        )


def assign_replicas(
    brokers: list[int],
    racks: Mapping[int, str | None],
    partitions: int,
    replication_factor: int,
    rng: random.Random,
    first_partition: int = 0,
) -> list[tuple[int, ...]]:
    """Kafka's replica assignment: round robin from a random start, replicas shifted per round.

    With racks, brokers are first interleaved rack by rack so consecutive replicas of a
    partition land on different racks (Kafka's rack-alternated broker list).
    """
    ordered = _rack_alternated(sorted(brokers), racks)
    n = len(ordered)
    rack_count = len({racks.get(b) for b in ordered})
    start = rng.randrange(n)
    shift = rng.randrange(n)
    result: list[tuple[int, ...]] = []
    for p in range(first_partition, first_partition + partitions):
        if p > 0 and p % n == 0:
            shift += 1
        first = (p + start) % n
        replicas = [ordered[first]]
        if rack_count <= 1:
            replicas += [
                ordered[_replica_index(first, shift, j, n)] for j in range(replication_factor - 1)
            ]
        else:
            # Prefer a rack without a replica yet, then any broker without one (Kafka's rule).
            used_racks = {racks.get(ordered[first])}
            k = 0
            while len(replicas) < replication_factor:
                broker = ordered[_replica_index(first, shift * rack_count, k, n)]
                k += 1
                rack = racks.get(broker)
                if broker in replicas or (rack in used_racks and len(used_racks) < rack_count):
                    continue
                replicas.append(broker)
                used_racks.add(rack)
        result.append(tuple(replicas))
    return result


def _replica_index(first: int, shift: int, index: int, n: int) -> int:
    return (first + 1 + (shift + index) % (n - 1)) % n


def _rack_alternated(brokers: list[int], racks: Mapping[int, str | None]) -> list[int]:
    by_rack: dict[str | None, list[int]] = {}
    for b in brokers:
        by_rack.setdefault(racks.get(b), []).append(b)
    if len(by_rack) <= 1:
        return brokers
    out: list[int] = []
    queues = [by_rack[r] for r in sorted(by_rack, key=lambda r: (r is None, r or ""))]
    while any(queues):
        out.extend(q.pop(0) for q in queues if q)
    return out


class Controller:
    """The KRaft-style active controller, co-located with one broker (combined mode)."""

    def __init__(
        self,
        node_id: int,
        metadata: MetadataLog,
        timers: Timers,
        transport: Transport,
        config: BrokerConfig,
        rng: random.Random,
        on_records: Callable[[list[MetadataRecord]], None] | None = None,
    ) -> None:
        self.node_id = node_id
        self.metadata = metadata
        self._timers = timers
        self._transport = transport
        self._config = config
        self._rng = rng
        self._on_records = on_records
        now = timers.now_ms()
        # Broker id -> last heartbeat time; a new controller gives everyone a full session.
        self._last_seen: dict[int, int] = dict.fromkeys(metadata.image.brokers, now)
        self._shutting_down: set[int] = set()
        # Broker id -> metadata offset after its registration: it is unfenced once caught up.
        self._registered_at: dict[int, int] = {}
        self._timer: TimerHandle | None = None
        self._balance_timer: TimerHandle | None = None
        self.active = True
        self._schedule_check()
        self._schedule_balance()

    @property
    def image(self):  # type: ignore[no-untyped-def]  # MetadataImage; kept short for callers
        return self.metadata.image

    def resign(self) -> None:
        """Stop acting as controller (another broker took over)."""
        self.active = False
        for timer in (self._timer, self._balance_timer):
            if timer is not None:
                timer.cancel()
        self._timer = self._balance_timer = None

    # -- committing ------------------------------------------------------------------------

    def _commit(self, records: list[MetadataRecord]) -> None:
        if not records or not self.active:
            return
        start = self.metadata.append(records)
        push = MetadataPush(self.node_id, start, tuple(records))
        for broker_id in self.metadata.image.brokers:
            if broker_id != self.node_id:
                self._transport.send(self.node_id, broker_id, push)
        if self._on_records is not None:
            self._on_records(records)

    # -- brokers ---------------------------------------------------------------------------

    def _schedule_check(self) -> None:
        """Look again when the first live broker's session would expire (as KRaft's controller
        schedules its stale-broker check), or a heartbeat interval from now if none is live."""
        now = self._timers.now_ms()
        timeout = self._config.broker_session_timeout_ms
        expiries = [
            self._last_seen.get(b.broker_id, now) + timeout + 1
            for b in self.metadata.image.brokers.values()
            if not b.fenced
        ]
        delay = (
            max(1, min(expiries) - now) if expiries else self._config.broker_heartbeat_interval_ms
        )
        self._timer = self._timers.call_later(delay, self._check_sessions)

    def _check_sessions(self) -> None:
        if not self.active:
            return
        now = self._timers.now_ms()
        for broker in list(self.metadata.image.brokers.values()):
            last = self._last_seen.get(broker.broker_id, now)
            if not broker.fenced and now - last > self._config.broker_session_timeout_ms:
                self.fence(broker.broker_id, "session timeout")
        self._schedule_check()

    def _schedule_balance(self) -> None:
        if self._config.auto_leader_rebalance_enable:
            self._balance_timer = self._timers.call_later(
                self._config.leader_imbalance_check_interval_seconds * 1000, self._balance
            )

    def _balance(self) -> None:
        """auto.leader.rebalance.enable: give leadership back to preferred replicas, as KRaft's
        controller does every leader.imbalance.check.interval.seconds (all imbalanced
        partitions whose preferred replica is live and in sync; the ZooKeeper-era
        leader.imbalance.per.broker.percentage threshold is not used by KRaft)."""
        if not self.active:
            return
        self.elect_preferred_leaders(reason="auto leader rebalance")
        self._schedule_balance()

    def handle_heartbeat(self, hb: BrokerHeartbeat) -> HeartbeatResponse:
        now = self._timers.now_ms()
        self._last_seen[hb.broker_id] = now
        image = self.metadata.image
        known = image.brokers.get(hb.broker_id)
        if known is None or known.broker_epoch != hb.broker_epoch:
            records: list[MetadataRecord] = []
            if known is not None and not known.fenced:
                records.extend(self._fence_records(hb.broker_id, "restarted"))
            records.append(BrokerRegistered(hb.broker_id, hb.broker_epoch, hb.rack))
            self._commit(records)
            self._registered_at[hb.broker_id] = self.metadata.offset
        shutdown_ready = False
        if hb.want_shutdown:
            self._controlled_shutdown(hb.broker_id)
            shutdown_ready = True
        elif image.brokers[hb.broker_id].fenced and hb.metadata_offset >= (
            self._registered_at.get(hb.broker_id, 0)
        ):
            self.unfence(hb.broker_id)
        start = min(hb.metadata_offset, self.metadata.offset)
        return HeartbeatResponse(
            controller_id=self.node_id,
            start_offset=start,
            records=tuple(self.metadata.records[start:]),
            fenced=image.brokers[hb.broker_id].fenced,
            shutdown_ready=shutdown_ready,
        )

    def fence(self, broker_id: int, reason: str) -> None:
        """Stop trusting a broker: take it out of every ISR and move its leaderships."""
        broker = self.metadata.image.brokers.get(broker_id)
        if broker is None or broker.fenced:
            return
        self._commit(self._fence_records(broker_id, reason))

    def _fence_records(self, broker_id: int, reason: str) -> list[MetadataRecord]:
        records: list[MetadataRecord] = [BrokerFenced(broker_id, reason)]
        live = set(self.metadata.image.live_brokers()) - {broker_id}
        for topic in self.metadata.image.topics.values():
            for state in topic.partitions.values():
                if broker_id not in state.isr and state.leader != broker_id:
                    continue
                isr = tuple(b for b in state.isr if b != broker_id)
                leader = state.leader
                if leader in (broker_id, NO_LEADER):
                    leader = next((b for b in state.replicas if b in isr and b in live), NO_LEADER)
                if not isr:
                    isr = (broker_id,)  # the last ISR member stays: it alone has every record
                if leader == NO_LEADER and self._unclean_allowed(topic.name):
                    leader = next((b for b in state.replicas if b in live), NO_LEADER)
                    if leader != NO_LEADER:
                        isr = (leader,)
                        reason = f"{reason}; unclean leader election"
                records.append(self._changed(state, isr=isr, leader=leader, reason=reason))
        return records

    def unfence(self, broker_id: int) -> None:
        """Trust a caught-up broker again; it may lead partitions that had no leader."""
        records: list[MetadataRecord] = [BrokerUnfenced(broker_id)]
        for topic in self.metadata.image.topics.values():
            for state in topic.partitions.values():
                if state.leader != NO_LEADER or broker_id not in state.replicas:
                    continue
                if broker_id in state.isr:
                    records.append(self._changed(state, leader=broker_id, reason="leader back"))
                elif self._unclean_allowed(topic.name):
                    records.append(
                        self._changed(
                            state,
                            leader=broker_id,
                            isr=(broker_id,),
                            reason="unclean leader election",
                        )
                    )
        self._commit(records)

    def _controlled_shutdown(self, broker_id: int) -> None:
        """Move leadership off a broker that asked to stop, then fence it (no data loss)."""
        if broker_id in self._shutting_down:
            return
        self._shutting_down.add(broker_id)
        self.fence(broker_id, "controlled shutdown")

    def _unclean_allowed(self, topic: str) -> bool:
        config = self.topic_config(topic)
        return config.unclean_leader_election_enable

    def topic_config(self, topic: str) -> LogConfig:
        image = self.metadata.image.topics.get(topic)
        overrides = image.config if image is not None else {}
        return LogConfig.from_properties(overrides, self._config.topic_defaults())

    @staticmethod
    def _changed(
        state: PartitionRecord,
        *,
        isr: tuple[int, ...] | None = None,
        leader: int | None = None,
        reason: str = "",
    ) -> PartitionRecord:
        new_leader = state.leader if leader is None else leader
        return PartitionRecord(
            topic=state.topic,
            partition=state.partition,
            replicas=state.replicas,
            isr=state.isr if isr is None else isr,
            leader=new_leader,
            leader_epoch=state.leader_epoch + (1 if new_leader != state.leader else 0),
            partition_epoch=state.partition_epoch + 1,
            reason=reason,
        )

    # -- partitions ------------------------------------------------------------------------

    def handle_alter_partition(self, req: AlterPartition) -> AlterPartitionResponse:
        state = self.metadata.image.partition(req.topic, req.partition)
        if state is None:
            return AlterPartitionResponse(
                req.topic, req.partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, None
            )
        if state.leader != req.broker_id or state.leader_epoch != req.leader_epoch:
            return AlterPartitionResponse(
                req.topic, req.partition, ErrorCode.FENCED_LEADER_EPOCH, state
            )
        if state.partition_epoch != req.partition_epoch:
            return AlterPartitionResponse(
                req.topic, req.partition, ErrorCode.INVALID_REQUEST, state
            )
        brokers = self.metadata.image.brokers
        added = set(req.new_isr) - set(state.isr)
        if req.broker_id not in req.new_isr or any(
            b not in state.replicas or b not in brokers or brokers[b].fenced for b in added
        ):
            return AlterPartitionResponse(
                req.topic, req.partition, ErrorCode.INVALID_REQUEST, state
            )
        reason = "ISR expand" if added else "ISR shrink"
        new_state = self._changed(state, isr=tuple(req.new_isr), reason=reason)
        self._commit([new_state])
        return AlterPartitionResponse(req.topic, req.partition, ErrorCode.NONE, new_state)

    def elect_preferred_leaders(
        self, topic: str | None = None, reason: str = "preferred leader election"
    ) -> int:
        """Make each partition's first replica its leader where it is in the ISR and live."""
        live = set(self.metadata.image.live_brokers())
        records: list[MetadataRecord] = []
        for image in self.metadata.image.topics.values():
            if topic is not None and image.name != topic:
                continue
            for state in image.partitions.values():
                preferred = state.replicas[0]
                if state.leader != preferred and preferred in state.isr and preferred in live:
                    records.append(self._changed(state, leader=preferred, reason=reason))
        self._commit(records)
        return len(records)

    def allocate_producer_id(self) -> int:
        """A cluster-wide unique producer id, recorded so that it survives failover."""
        producer_id = self.metadata.image.next_producer_id
        self._commit([ProducerIdsAllocated(producer_id + 1)])
        return producer_id

    # -- topics ----------------------------------------------------------------------------

    def create_topic(
        self,
        name: str,
        partitions: int,
        replication_factor: int,
        config: Mapping[str, Any] | None = None,
        *,
        validate_only: bool = False,
        assignment: list[tuple[int, ...]] | None = None,
    ) -> None:
        """Validate everything first, then commit the topic and its partitions at once.

        `assignment` places replicas by hand (one tuple of broker ids per partition; the first
        is the preferred leader); otherwise Kafka's placement picks them.

        With `validate_only`, every check runs and nothing is committed (CreateTopics'
        validateOnly)."""
        validate_topic_name(name)
        image = self.metadata.image
        if name in image.topics:
            raise TopicAlreadyExistsError(f"topic {name!r} already exists")
        if partitions < 1:
            raise InvalidPartitionsError(f"a topic needs at least 1 partition, got {partitions}")
        live = image.live_brokers()
        if assignment is not None:
            self._check_assignment(assignment, None)
            partitions, replication_factor = len(assignment), len(assignment[0])
        if replication_factor < 1 or replication_factor > len(live):
            raise InvalidReplicationFactorError(
                f"replication factor {replication_factor} is not possible with {len(live)} live "
                f"broker(s); use a value from 1 to {len(live)}"
                if live
                else "no broker is live: restart a broker before creating topics"
            )
        overrides = {k: str(v) for k, v in (config or {}).items()}
        LogConfig.from_properties(overrides, self._config.topic_defaults())  # INVALID_CONFIG
        if validate_only:
            return
        if assignment is None:
            racks = {b: image.brokers[b].rack for b in live}
            assignment = assign_replicas(live, racks, partitions, replication_factor, self._rng)
        topic_id = str(uuid.UUID(int=self._rng.getrandbits(128)))
        records: list[MetadataRecord] = [TopicRecord(name, topic_id, overrides)]
        for p, replicas in enumerate(assignment):
            records.append(
                PartitionRecord(name, p, replicas, replicas, replicas[0], 0, 0, "created")
            )
        self._commit(records)

    def _check_assignment(self, assignment: list[tuple[int, ...]], factor: int | None) -> None:
        """INVALID_REPLICA_ASSIGNMENT unless every partition lists distinct registered brokers,
        all partitions the same number of them (`factor` when given)."""
        if not assignment:
            raise InvalidReplicaAssignmentError("the replica assignment lists no partition")
        brokers = set(self.metadata.image.brokers)
        width = factor if factor is not None else len(assignment[0])
        for p, replicas in enumerate(assignment):
            if not replicas or len(replicas) != width:
                problem = f"{len(replicas)} replica(s) where {width} are needed"
            elif len(set(replicas)) != len(replicas):
                problem = "the same broker twice"
            elif not set(replicas) <= brokers:
                problem = f"unknown broker(s) {sorted(set(replicas) - brokers)}"
            else:
                continue
            raise InvalidReplicaAssignmentError(
                f"partition {p} of the replica assignment has {problem}; give each partition "
                "the same number of distinct, registered broker ids"
            )

    def create_partitions(
        self,
        name: str,
        total: int,
        *,
        validate_only: bool = False,
        assignment: list[tuple[int, ...]] | None = None,
    ) -> None:
        image = self.metadata.image.topics.get(name)
        if image is None:
            raise UnknownTopicError(f"topic {name!r} does not exist")
        current = len(image.partitions)
        if total <= current:
            raise InvalidPartitionsError(
                f"topic {name!r} has {current} partitions; the new count must be larger "
                "(Kafka never removes partitions)"
            )
        rf = len(image.partitions[0].replicas)
        live = self.metadata.image.live_brokers()
        if rf > len(live):
            raise InvalidReplicationFactorError(
                f"topic {name!r} has replication factor {rf} but only {len(live)} broker(s) live"
            )
        if assignment is not None:
            if len(assignment) != total - current:
                raise InvalidReplicaAssignmentError(
                    f"the replica assignment lists {len(assignment)} partitions; growing "
                    f"{name!r} from {current} to {total} needs {total - current}"
                )
            self._check_assignment(assignment, rf)
        if validate_only:
            return
        if assignment is None:
            racks = {b: self.metadata.image.brokers[b].rack for b in live}
            assignment = assign_replicas(live, racks, total - current, rf, self._rng, current)
        self._commit(
            [
                PartitionRecord(name, current + i, r, r, r[0], 0, 0, "created")
                for i, r in enumerate(assignment)
            ]
        )

    def delete_topic(self, name: str) -> None:
        if name not in self.metadata.image.topics:
            raise UnknownTopicError(f"topic {name!r} does not exist")
        self._commit([TopicRemoved(name)])

    def alter_topic_config(
        self, name: str, config: Mapping[str, Any], *, replace: bool = False
    ) -> None:
        """Set topic overrides (merged into the current ones, or replacing them all)."""
        image = self.metadata.image.topics.get(name)
        if image is None:
            raise UnknownTopicError(f"topic {name!r} does not exist")
        merged = {} if replace else dict(image.config)
        merged.update({k: str(v) for k, v in config.items()})
        LogConfig.from_properties(merged, self._config.topic_defaults())
        self._commit([TopicConfigChanged(name, merged)])
