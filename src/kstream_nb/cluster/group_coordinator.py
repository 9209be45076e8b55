"""The group coordinator: Kafka's classic consumer-group protocol on the broker side.

A group lives on the broker leading its `__consumer_offsets` partition (abs(hash(group id)) mod
`offsets.topic.num.partitions`, with Java's String.hashCode). Members join (JoinGroup), the
leader's assignment is handed out (SyncGroup), members heartbeat within `session.timeout.ms`
or are removed, and every membership change starts a rebalance with a new generation.
Committed offsets and the group's metadata are records in `__consumer_offsets` (compacted), so a
new coordinator rebuilds every group after a failover. Static members (KIP-345) that come back
within their session keep their assignment without a rebalance.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from kstream_nb.cluster.consumer_protocol import decode_assignment
from kstream_nb.cluster.environment import TimerHandle, Timers
from kstream_nb.errors import ErrorCode

__all__ = [
    "OFFSETS_TOPIC",
    "GroupCoordinator",
    "JoinResult",
    "OffsetAndMetadata",
    "SyncResult",
    "java_string_hash",
]

OFFSETS_TOPIC = "__consumer_offsets"

EMPTY = "Empty"
PREPARING = "PreparingRebalance"
COMPLETING = "CompletingRebalance"
STABLE = "Stable"
DEAD = "Dead"


def java_string_hash(text: str) -> int:
    """Java's String.hashCode (UTF-16 code units), which Kafka uses to place groups."""
    h = 0
    for unit in text.encode("utf-16-be").hex(" ", 2).split():
        h = (31 * h + int(unit, 16)) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def offsets_partition_for(group_id: str, partitions: int) -> int:
    # Kafka's Utils.abs (not Math.abs): Integer.MIN_VALUE maps to 0 instead of staying negative.
    return (java_string_hash(group_id) & 0x7FFFFFFF) % partitions


class OffsetAndMetadata(msgspec.Struct, frozen=True):
    offset: int
    metadata: str = ""
    leader_epoch: int = -1
    commit_timestamp: int = -1


class JoinResult(msgspec.Struct, frozen=True):
    error: ErrorCode
    generation: int = -1
    protocol_name: str | None = None
    leader_id: str = ""
    member_id: str = ""
    # For the leader only: every member's (member id, group instance id, protocol metadata).
    members: tuple[tuple[str, str | None, bytes], ...] = ()


class SyncResult(msgspec.Struct, frozen=True):
    error: ErrorCode
    assignment: bytes = b""
    protocol_name: str | None = None


class MemberDescription(msgspec.Struct, frozen=True):
    member_id: str
    group_instance_id: str | None
    client_id: str
    assignment: tuple[tuple[str, int], ...]


class GroupDescription(msgspec.Struct, frozen=True):
    group_id: str
    state: str
    protocol_type: str
    protocol: str | None
    generation: int
    leader_id: str
    coordinator: int
    members: tuple[MemberDescription, ...]


@dataclass(slots=True)
class _Member:
    member_id: str
    group_instance_id: str | None
    client_id: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocols: tuple[tuple[str, bytes], ...]
    assignment: bytes = b""
    join_callback: Callable[[JoinResult], None] | None = None
    sync_callback: Callable[[SyncResult], None] | None = None
    session_timer: TimerHandle | None = None


@dataclass(slots=True)
class _Group:
    group_id: str
    partition: int
    state: str = EMPTY
    generation: int = 0
    protocol_type: str = ""
    protocol_name: str | None = None
    leader_id: str = ""
    members: dict[str, _Member] = field(default_factory=dict)
    static_members: dict[str, str] = field(default_factory=dict)  # instance id -> member id
    join_timer: TimerHandle | None = None
    initial_delay: bool = False
    rebalance_started_ms: int = 0
    rebalance_reason: str = ""
    offsets: dict[tuple[str, int], OffsetAndMetadata] = field(default_factory=dict)


# Records in __consumer_offsets: JSON keys and values (Kafka writes binary schemas; see docs).
class _OffsetKey(msgspec.Struct, frozen=True, tag="offset"):
    group: str
    topic: str
    partition: int


class _GroupKey(msgspec.Struct, frozen=True, tag="group"):
    group: str


class _StoredMember(msgspec.Struct, frozen=True):
    member_id: str
    group_instance_id: str | None
    client_id: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    assignment: bytes


class _StoredGroup(msgspec.Struct, frozen=True):
    protocol_type: str
    generation: int
    protocol: str | None
    leader: str
    members: tuple[_StoredMember, ...]


def _partitions(member: _Member) -> tuple[tuple[str, int], ...]:
    """A member's assigned partitions, when its group speaks the consumer protocol."""
    try:
        return decode_assignment(member.assignment).partitions
    except Exception:  # another protocol's opaque bytes
        return ()


_KEY = msgspec.json.Decoder(_OffsetKey | _GroupKey)
_ENCODE = msgspec.json.Encoder()
_OFFSET_VALUE = msgspec.json.Decoder(OffsetAndMetadata)
_GROUP_VALUE = msgspec.json.Decoder(_StoredGroup)

Append = Callable[[int, list[tuple[bytes, bytes | None]], Callable[[ErrorCode], None]], None]
Emit = Callable[[str, dict[str, object]], None]


class GroupCoordinator:
    """The groups one broker coordinates: those of the offsets partitions it leads."""

    def __init__(
        self,
        broker_id: int,
        timers: Timers,
        append: Append,
        emit: Emit,
        *,
        initial_rebalance_delay_ms: int = 3_000,
        rng: random.Random | None = None,
    ) -> None:
        self.broker_id = broker_id
        self._timers = timers
        self._append = append
        self._emit = emit
        self._delay_ms = initial_rebalance_delay_ms
        self._rng = rng or random.Random(broker_id)
        self.partitions: set[int] = set()
        self.groups: dict[str, _Group] = {}

    # -- ownership -------------------------------------------------------------------------

    def load(self, partition: int, records: list[tuple[bytes, bytes | None]]) -> None:
        """Become coordinator for one offsets partition, rebuilding its groups from records."""
        self.partitions.add(partition)
        for key_bytes, value in records:
            key = _KEY.decode(key_bytes)
            group = self.groups.get(key.group)
            if group is None:
                group = self.groups[key.group] = _Group(key.group, partition)
            if isinstance(key, _OffsetKey):
                tp = (key.topic, key.partition)
                if value is None:
                    group.offsets.pop(tp, None)
                else:
                    group.offsets[tp] = _OFFSET_VALUE.decode(value)
            elif value is None:
                group.members.clear()
                group.state = DEAD if not group.offsets else EMPTY
            else:
                stored = _GROUP_VALUE.decode(value)
                group.generation = stored.generation
                group.protocol_type = stored.protocol_type
                group.protocol_name = stored.protocol
                group.leader_id = stored.leader
                group.members = {}
                for m in stored.members:
                    member = _Member(
                        m.member_id,
                        m.group_instance_id,
                        m.client_id,
                        m.session_timeout_ms,
                        m.rebalance_timeout_ms,
                        (),
                        m.assignment,
                    )
                    group.members[m.member_id] = member
                    if m.group_instance_id:
                        group.static_members[m.group_instance_id] = m.member_id
                group.state = STABLE if group.members else EMPTY
        for group in self.groups.values():
            if group.partition == partition:
                for member in group.members.values():
                    self._touch(group, member)

    def unload(self, partition: int) -> None:
        """Stop coordinating one offsets partition (another broker leads it now)."""
        self.partitions.discard(partition)
        for group_id in [g for g, group in self.groups.items() if group.partition == partition]:
            group = self.groups.pop(group_id)
            for member in group.members.values():
                self._cancel(member.session_timer)
                if member.join_callback is not None:
                    member.join_callback(JoinResult(ErrorCode.NOT_COORDINATOR))
                if member.sync_callback is not None:
                    member.sync_callback(SyncResult(ErrorCode.NOT_COORDINATOR))
            self._cancel(group.join_timer)

    def close(self) -> None:
        for partition in list(self.partitions):
            self.unload(partition)

    def owns(self, partition: int) -> bool:
        return partition in self.partitions

    @staticmethod
    def _cancel(timer: TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()

    # -- membership ------------------------------------------------------------------------

    def _group(self, group_id: str, partition: int) -> _Group:
        group = self.groups.get(group_id)
        if group is None or group.state == DEAD:
            group = self.groups[group_id] = _Group(group_id, partition)
        return group

    def join(
        self,
        group_id: str,
        partition: int,
        member_id: str,
        group_instance_id: str | None,
        client_id: str,
        session_timeout_ms: int,
        rebalance_timeout_ms: int,
        protocol_type: str,
        protocols: tuple[tuple[str, bytes], ...],
        callback: Callable[[JoinResult], None],
    ) -> None:
        """JoinGroup: answered when the rebalance completes (or at once, with an error)."""
        group = self._group(group_id, partition)
        if group.members and protocol_type != group.protocol_type:
            callback(JoinResult(ErrorCode.INCONSISTENT_GROUP_PROTOCOL))
            return
        if group.members and not self._common_protocol(group, protocols):
            callback(JoinResult(ErrorCode.INCONSISTENT_GROUP_PROTOCOL))
            return
        if member_id and member_id not in group.members:
            callback(JoinResult(ErrorCode.UNKNOWN_MEMBER_ID))
            return
        if not member_id and group_instance_id and group_instance_id in group.static_members:
            # KIP-345: a static member back within its session takes over its old identity.
            old_id = group.static_members[group_instance_id]
            old = group.members.pop(old_id)
            self._cancel(old.session_timer)
            member_id = f"{group_instance_id}-{self._new_id()}"
            member = _Member(
                member_id,
                group_instance_id,
                client_id,
                session_timeout_ms,
                rebalance_timeout_ms,
                protocols,
                old.assignment,
            )
            group.members[member_id] = member
            group.static_members[group_instance_id] = member_id
            if group.leader_id == old_id:
                group.leader_id = member_id
            self._touch(group, member)
            if group.state == STABLE and old.protocols in ((), protocols):
                callback(self._join_result(group, member))
                return
            member.join_callback = callback
            self._prepare_rebalance(group, f"static member {group_instance_id} rejoined")
            return
        if not member_id:
            member_id = f"{client_id or 'consumer'}-{self._new_id()}"
            member = _Member(
                member_id,
                group_instance_id,
                client_id,
                session_timeout_ms,
                rebalance_timeout_ms,
                protocols,
            )
            group.members[member_id] = member
            if group_instance_id:
                group.static_members[group_instance_id] = member_id
            group.protocol_type = protocol_type
            member.join_callback = callback
            self._touch(group, member)
            self._prepare_rebalance(group, f"member {member_id} joined")
            return
        member = group.members[member_id]
        member.join_callback = callback
        changed = member.protocols != protocols
        member.protocols = protocols
        member.session_timeout_ms = session_timeout_ms
        member.rebalance_timeout_ms = rebalance_timeout_ms
        self._touch(group, member)
        if group.state == PREPARING:
            self._maybe_complete_join(group)
        elif group.state in (STABLE, COMPLETING) and not changed and member_id != group.leader_id:
            # A follower rejoining with nothing new gets the current generation (Kafka does so).
            member.join_callback = None
            callback(self._join_result(group, member))
        else:
            self._prepare_rebalance(group, f"member {member_id} rejoined")

    def _new_id(self) -> str:
        return f"{self._rng.getrandbits(64):016x}"

    @staticmethod
    def _common_protocol(group: _Group, protocols: tuple[tuple[str, bytes], ...]) -> bool:
        names = {name for name, _ in protocols}
        return all(
            names & {name for name, _ in m.protocols} for m in group.members.values() if m.protocols
        )

    def _prepare_rebalance(self, group: _Group, reason: str) -> None:
        if group.state != PREPARING:
            for member in group.members.values():
                if member.sync_callback is not None:
                    member.sync_callback(SyncResult(ErrorCode.REBALANCE_IN_PROGRESS))
                    member.sync_callback = None
            group.rebalance_started_ms = self._timers.now_ms()
            group.rebalance_reason = reason
            self._emit(
                "RebalanceStarted",
                {
                    "group_id": group.group_id,
                    "generation": group.generation,
                    "reason": reason,
                    "members": sorted(group.members),
                },
            )
            # An empty group waits group.initial.rebalance.delay.ms for more members; any other
            # waits for every member to rejoin, at most the longest rebalance timeout.
            group.initial_delay = group.state == EMPTY and self._delay_ms > 0
            wait = (
                self._delay_ms
                if group.initial_delay
                else max((m.rebalance_timeout_ms for m in group.members.values()), default=0)
            )
            group.state = PREPARING
            self._cancel(group.join_timer)
            group.join_timer = self._timers.call_later(
                wait, lambda: self._complete_join(group, timed_out=True)
            )
        self._maybe_complete_join(group)

    def _maybe_complete_join(self, group: _Group) -> None:
        if group.state != PREPARING or group.initial_delay:
            return
        if all(m.join_callback is not None for m in group.members.values()):
            self._complete_join(group, timed_out=False)

    def _complete_join(self, group: _Group, *, timed_out: bool) -> None:
        if group.state != PREPARING:
            return
        self._cancel(group.join_timer)
        group.join_timer = None
        group.initial_delay = False
        for member_id in [m for m, member in group.members.items() if member.join_callback is None]:
            self._remove_member(group, member_id)  # did not rejoin within the rebalance timeout
        if not group.members:
            group.state = EMPTY
            group.generation += 1
            self._store_group(group)
            return
        group.generation += 1
        group.protocol_name = self._select_protocol(group)
        if group.leader_id not in group.members:
            group.leader_id = next(iter(group.members))
        group.state = COMPLETING
        for member in group.members.values():
            callback, member.join_callback = member.join_callback, None
            if callback is not None:
                callback(self._join_result(group, member))

    @staticmethod
    def _select_protocol(group: _Group) -> str | None:
        candidates: list[str] = []
        for member in group.members.values():
            for name, _ in member.protocols:
                if name not in candidates:
                    candidates.append(name)
        votes = {
            name: sum(1 for m in group.members.values() if name in {n for n, _ in m.protocols})
            for name in candidates
        }
        supported = [n for n in candidates if votes[n] == len(group.members)]
        return supported[0] if supported else (candidates[0] if candidates else None)

    def _join_result(self, group: _Group, member: _Member) -> JoinResult:
        members: tuple[tuple[str, str | None, bytes], ...] = ()
        if member.member_id == group.leader_id:
            members = tuple(
                (
                    m.member_id,
                    m.group_instance_id,
                    next((meta for name, meta in m.protocols if name == group.protocol_name), b""),
                )
                for m in group.members.values()
            )
        return JoinResult(
            ErrorCode.NONE,
            group.generation,
            group.protocol_name,
            group.leader_id,
            member.member_id,
            members,
        )

    def sync(
        self,
        group_id: str,
        generation: int,
        member_id: str,
        assignments: dict[str, bytes] | None,
        callback: Callable[[SyncResult], None],
    ) -> None:
        """SyncGroup: the leader hands out assignments; everyone gets theirs when it has."""
        group = self.groups.get(group_id)
        if group is None or member_id not in group.members:
            callback(SyncResult(ErrorCode.UNKNOWN_MEMBER_ID))
            return
        if generation != group.generation:
            callback(SyncResult(ErrorCode.ILLEGAL_GENERATION))
            return
        if group.state == PREPARING:
            callback(SyncResult(ErrorCode.REBALANCE_IN_PROGRESS))
            return
        member = group.members[member_id]
        self._touch(group, member)
        if group.state == STABLE:
            callback(SyncResult(ErrorCode.NONE, member.assignment, group.protocol_name))
            return
        member.sync_callback = callback
        if member_id == group.leader_id and assignments is not None:
            for mid, m in group.members.items():
                m.assignment = assignments.get(mid, b"")
            group.state = STABLE
            self._store_group(group)
            self._emit_completed(group)
            for m in group.members.values():
                cb, m.sync_callback = m.sync_callback, None
                if cb is not None:
                    cb(SyncResult(ErrorCode.NONE, m.assignment, group.protocol_name))

    def _emit_completed(self, group: _Group) -> None:
        assignment = {m.member_id: list(_partitions(m)) for m in group.members.values()}
        self._emit(
            "RebalanceCompleted",
            {
                "group_id": group.group_id,
                "generation": group.generation,
                "protocol": group.protocol_name,
                "leader": group.leader_id,
                "assignment": assignment,
                "reason": group.rebalance_reason,
                "duration_ms": self._timers.now_ms() - group.rebalance_started_ms,
            },
        )

    def heartbeat(self, group_id: str, generation: int, member_id: str) -> ErrorCode:
        group = self.groups.get(group_id)
        if group is None or member_id not in group.members:
            return ErrorCode.UNKNOWN_MEMBER_ID
        self._touch(group, group.members[member_id])
        if group.state == PREPARING:
            return ErrorCode.REBALANCE_IN_PROGRESS
        if generation != group.generation:
            return ErrorCode.ILLEGAL_GENERATION
        return ErrorCode.NONE

    def leave(self, group_id: str, member_ids: list[str]) -> ErrorCode:
        group = self.groups.get(group_id)
        if group is None or any(m not in group.members for m in member_ids):
            return ErrorCode.UNKNOWN_MEMBER_ID
        for member_id in member_ids:
            self._remove_member(group, member_id)
        self._prepare_rebalance(group, f"member(s) {', '.join(member_ids)} left")
        return ErrorCode.NONE

    def _touch(self, group: _Group, member: _Member) -> None:
        self._cancel(member.session_timer)
        member.session_timer = self._timers.call_later(
            member.session_timeout_ms, lambda: self._expire(group, member.member_id)
        )

    def _expire(self, group: _Group, member_id: str) -> None:
        if self.groups.get(group.group_id) is not group or member_id not in group.members:
            return
        self._remove_member(group, member_id)
        self._prepare_rebalance(group, f"member {member_id} missed its session timeout")

    def _remove_member(self, group: _Group, member_id: str) -> None:
        member = group.members.pop(member_id)
        self._cancel(member.session_timer)
        if member.group_instance_id:
            group.static_members.pop(member.group_instance_id, None)
        if member.join_callback is not None:
            member.join_callback(JoinResult(ErrorCode.UNKNOWN_MEMBER_ID))
        if member.sync_callback is not None:
            member.sync_callback(SyncResult(ErrorCode.UNKNOWN_MEMBER_ID))
        if group.leader_id == member_id:
            group.leader_id = next(iter(group.members), "")

    # -- offsets ---------------------------------------------------------------------------

    def commit(
        self,
        group_id: str,
        partition: int,
        generation: int,
        member_id: str,
        offsets: dict[tuple[str, int], OffsetAndMetadata],
        callback: Callable[[ErrorCode], None],
    ) -> None:
        """OffsetCommit: answered once the offsets are replicated in `__consumer_offsets`."""
        group = self._group(group_id, partition)
        if generation < 0 and not member_id and group.members:
            # Only members may commit for a group that has members (Kafka: UNKNOWN_MEMBER_ID).
            callback(ErrorCode.UNKNOWN_MEMBER_ID)
            return
        if generation >= 0 or member_id:
            if member_id not in group.members:
                callback(ErrorCode.UNKNOWN_MEMBER_ID)
                return
            if generation != group.generation:
                callback(ErrorCode.ILLEGAL_GENERATION)
                return
            if group.state == COMPLETING:
                # As Kafka: a member that got the new generation must wait for its assignment.
                # During PreparingRebalance commits are accepted, so that eager members can
                # commit what they processed before they give their partitions up.
                callback(ErrorCode.REBALANCE_IN_PROGRESS)
                return
            self._touch(group, group.members[member_id])
        now = self._timers.now_ms()
        stamped = {
            tp: msgspec.structs.replace(o, commit_timestamp=now) for tp, o in offsets.items()
        }
        records: list[tuple[bytes, bytes | None]] = [
            (_ENCODE.encode(_OffsetKey(group_id, t, p)), _ENCODE.encode(o))
            for (t, p), o in stamped.items()
        ]

        def done(error: ErrorCode) -> None:
            if error == ErrorCode.NONE:
                group.offsets.update(stamped)
            callback(error)

        self._append(group.partition, records, done)

    def committed(
        self, group_id: str, partitions: list[tuple[str, int]] | None = None
    ) -> dict[tuple[str, int], OffsetAndMetadata]:
        """OffsetFetch: committed offsets of a group (all of them when `partitions` is None)."""
        group = self.groups.get(group_id)
        if group is None:
            return {}
        if partitions is None:
            return dict(group.offsets)
        return {tp: group.offsets[tp] for tp in partitions if tp in group.offsets}

    def _store_group(self, group: _Group) -> None:
        stored = _StoredGroup(
            group.protocol_type,
            group.generation,
            group.protocol_name,
            group.leader_id,
            tuple(
                _StoredMember(
                    m.member_id,
                    m.group_instance_id,
                    m.client_id,
                    m.session_timeout_ms,
                    m.rebalance_timeout_ms,
                    m.assignment,
                )
                for m in group.members.values()
            ),
        )
        record = (_ENCODE.encode(_GroupKey(group.group_id)), _ENCODE.encode(stored))
        self._append(group.partition, [record], lambda error: None)

    # -- admin -----------------------------------------------------------------------------

    def describe(self, group_id: str) -> GroupDescription | None:
        group = self.groups.get(group_id)
        if group is None:
            return None
        members = [
            MemberDescription(m.member_id, m.group_instance_id, m.client_id, _partitions(m))
            for m in group.members.values()
        ]
        return GroupDescription(
            group.group_id,
            group.state,
            group.protocol_type,
            group.protocol_name,
            group.generation,
            group.leader_id,
            self.broker_id,
            tuple(members),
        )

    def list_groups(self) -> list[tuple[str, str, str]]:
        """(group id, protocol type, state) of every group here."""
        return [(g.group_id, g.protocol_type, g.state) for g in self.groups.values()]

    def delete(self, group_id: str) -> ErrorCode:
        group = self.groups.get(group_id)
        if group is None:
            return ErrorCode.GROUP_ID_NOT_FOUND
        if group.members:
            return ErrorCode.NON_EMPTY_GROUP
        records: list[tuple[bytes, bytes | None]] = [
            (_ENCODE.encode(_OffsetKey(group_id, t, p)), None) for t, p in group.offsets
        ]
        records.append((_ENCODE.encode(_GroupKey(group_id)), None))
        self._append(group.partition, records, lambda error: None)
        del self.groups[group_id]
        return ErrorCode.NONE
