"""Consumer-group partition assignors: ``range``, ``roundrobin`` and ``cooperative-sticky``.

In Kafka's classic group protocol the group coordinator (a broker) only collects subscriptions in
JoinGroup and relays assignments in SyncGroup; the group *leader*, a client, computes them with
the assignor named by ``partition.assignment.strategy``. These are pure, deterministic functions
of the members' subscriptions and the topics' partition counts, as Kafka's and librdkafka's are.

Eager assignors (``range``, ``roundrobin``) expect every member to revoke all its partitions
before it rejoins, so the whole group stops consuming during a rebalance.

``cooperative-sticky`` (KIP-429 over KIP-54's sticky assignor) is incremental and takes two
rebalances to move a partition:

1. Every member rejoins still consuming what it owns, and reports it (``owned``) with its
   ``generation``. The leader computes a balanced target that keeps as many owned partitions
   where they are as it can. A partition whose owner changes is left out of its *new* owner's
   assignment, since its old owner is still consuming it.
2. Each member revokes ``revoked(owned, assigned)`` (commits, runs ``on_partitions_revoked``) and
   keeps consuming the rest. Any member that revoked something rejoins at once; in that
   follow-up rebalance nobody claims the revoked partitions any more, so the leader hands them to
   their new owners.

Members whose partitions do not move revoke nothing and never stop consuming.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from typing import ClassVar, Final, Literal, TypeAlias

import msgspec

from kstream_nb.errors import ErrorCode, KafkaApiError

__all__ = [
    "ASSIGNORS",
    "Assignment",
    "CooperativeStickyAssignor",
    "MemberSubscription",
    "PartitionAssignor",
    "RangeAssignor",
    "RebalanceProtocol",
    "RoundRobinAssignor",
    "protocol",
    "revoked",
]

RebalanceProtocol: TypeAlias = Literal["EAGER", "COOPERATIVE"]
Assignment: TypeAlias = dict[str, list[tuple[str, int]]]
"""Member id -> its partitions as ``(topic, partition)``, sorted."""

_TP: TypeAlias = tuple[str, int]


class MemberSubscription(msgspec.Struct, frozen=True):
    """One member's JoinGroup metadata (Kafka's ``ConsumerProtocolSubscription``)."""

    member_id: str
    topics: tuple[str, ...]
    owned: tuple[tuple[str, int], ...] = ()
    generation: int = -1
    group_instance_id: str | None = None


class PartitionAssignor(ABC):
    """Computes a group's assignment in its leader; stateless and deterministic."""

    name: ClassVar[str]
    protocol: ClassVar[RebalanceProtocol]

    def assign(
        self, partitions_per_topic: Mapping[str, int], members: Iterable[MemberSubscription]
    ) -> Assignment:
        """Map every member to its sorted partitions; unknown topics are ignored."""
        for topic, count in partitions_per_topic.items():
            if count < 0:
                raise ValueError(f"topic {topic!r} has {count} partitions; counts must be >= 0")
        group: dict[str, MemberSubscription] = {}
        for member in members:
            if member.member_id in group:
                raise ValueError(f"member id {member.member_id!r} appears twice; ids are unique")
            group[member.member_id] = member
        if not group:
            return {}
        result = self._assign(partitions_per_topic, group)
        return {m: sorted(result[m]) for m in sorted(group)}

    @abstractmethod
    def _assign(
        self, counts: Mapping[str, int], group: dict[str, MemberSubscription]
    ) -> dict[str, list[_TP]]: ...


def _member_order(member: MemberSubscription) -> tuple[int, str, str]:
    # Kafka's MemberInfo order: static members (by group.instance.id) first, then by member id.
    if member.group_instance_id is not None:
        return (0, member.group_instance_id, member.member_id)
    return (1, member.member_id, "")


class RangeAssignor(PartitionAssignor):
    """Per topic, contiguous ranges over its subscribers in member order; the first get extra."""

    name = "range"
    protocol = "EAGER"

    def _assign(
        self, counts: Mapping[str, int], group: dict[str, MemberSubscription]
    ) -> dict[str, list[_TP]]:
        out: dict[str, list[_TP]] = {m: [] for m in group}
        subscribers: dict[str, list[MemberSubscription]] = defaultdict(list)
        for member in group.values():
            for topic in set(member.topics):
                if topic in counts:
                    subscribers[topic].append(member)
        for topic, members in subscribers.items():
            ordered = sorted(members, key=_member_order)
            per_member, extra = divmod(counts[topic], len(ordered))
            for i, member in enumerate(ordered):
                start = per_member * i + min(i, extra)
                length = per_member + (1 if i < extra else 0)
                out[member.member_id].extend((topic, p) for p in range(start, start + length))
        return out


class RoundRobinAssignor(PartitionAssignor):
    """All partitions by (topic, partition) dealt in member order, skipping non-subscribers."""

    name = "roundrobin"
    protocol = "EAGER"

    def _assign(
        self, counts: Mapping[str, int], group: dict[str, MemberSubscription]
    ) -> dict[str, list[_TP]]:
        out: dict[str, list[_TP]] = {m: [] for m in group}
        ordered = sorted(group.values(), key=_member_order)
        topics_of = {m.member_id: frozenset(m.topics) for m in ordered}
        topics = sorted({t for m in ordered for t in m.topics if t in counts})
        turn = 0  # one cursor over the member ring, kept across topics as Kafka's is
        for topic in topics:
            for partition in range(counts[topic]):
                while topic not in topics_of[ordered[turn % len(ordered)].member_id]:
                    turn += 1
                out[ordered[turn % len(ordered)].member_id].append((topic, partition))
                turn += 1
        return out


class CooperativeStickyAssignor(PartitionAssignor):
    """Balanced and sticky; a partition changing owner is revoked first, assigned next round."""

    name = "cooperative-sticky"
    protocol = "COOPERATIVE"

    def _assign(
        self, counts: Mapping[str, int], group: dict[str, MemberSubscription]
    ) -> dict[str, list[_TP]]:
        subs = {m: frozenset(t for t in s.topics if t in counts) for m, s in group.items()}
        wanted = {t: counts[t] for t in sorted(frozenset().union(*subs.values()))}
        owned, previous = _current_owners(group, subs, wanted)
        if len(set(subs.values())) == 1:
            target = _constrained_assign(wanted, owned)
        else:
            target = _GeneralAssignment(wanted, subs, owned, previous).build()
        # KIP-429: hold back a partition another member still claims; it comes next round.
        claimants: dict[_TP, set[str]] = defaultdict(set)
        for member in group.values():
            for tp in member.owned:
                claimants[tp].add(member.member_id)
        return {
            m: [tp for tp in tps if tp in owned[m] or not claimants[tp] - {m}]
            for m, tps in target.items()
        }


def _current_owners(
    group: dict[str, MemberSubscription],
    subs: dict[str, frozenset[str]],
    counts: Mapping[str, int],
) -> tuple[dict[str, set[_TP]], dict[_TP, str]]:
    """Valid owned partitions per member, and each partition's previous owner.

    A claim on a topic the member no longer subscribes to is dropped. The claim of the highest
    generation wins; two claims tied at the highest generation are both invalid, so the
    partition is assigned afresh (and withheld from whoever gets it).
    """
    claims: dict[_TP, list[tuple[int, str]]] = defaultdict(list)
    for member_id in sorted(group):
        member = group[member_id]
        for tp in sorted(set(member.owned)):
            topic, partition = tp
            if topic in subs[member_id] and 0 <= partition < counts[topic]:
                claims[tp].append((member.generation, member_id))
    owned: dict[str, set[_TP]] = {m: set() for m in group}
    previous: dict[_TP, str] = {}
    for tp, claim in claims.items():
        newest = max(g for g, _ in claim)
        winners = [m for g, m in claim if g == newest]
        if len(winners) == 1:
            owned[winners[0]].add(tp)
        older = [(g, m) for g, m in claim if g < newest]
        if older:
            previous[tp] = min(older, key=lambda gm: (-gm[0], gm[1]))[1]
    return owned, previous


def _constrained_assign(counts: Mapping[str, int], owned: dict[str, set[_TP]]) -> Assignment:
    """Kafka's ConstrainedAssignmentBuilder: every member subscribes to the same topics."""
    members = sorted(owned)
    total = sum(counts.values())
    min_quota, expected_over = divmod(total, len(members))
    max_quota = min_quota + (1 if expected_over else 0)
    over = 0  # members holding max_quota > min_quota partitions
    assignment: Assignment = {m: [] for m in members}
    under_min: list[str] = []
    exactly_min: deque[str] = deque()
    assigned: set[_TP] = set()
    for member in members:
        mine = sorted(owned[member], key=lambda tp: (tp[1], tp[0]))
        if len(mine) < min_quota:
            keep = mine
            under_min.append(member)
        elif len(mine) >= max_quota and over < expected_over:
            over += 1
            if over == expected_over:
                exactly_min.clear()
            keep = mine[:max_quota]
        else:
            keep = mine[:min_quota]
            if over < expected_over:
                exactly_min.append(member)
        assignment[member].extend(keep)
        assigned.update(keep)
    unassigned = [
        (t, p) for t in sorted(counts) for p in range(counts[t]) if (t, p) not in assigned
    ]
    # Round robin over the members under min_quota, then one each to members at min_quota.
    cursor = 0
    for tp in unassigned:
        if under_min:
            if cursor >= len(under_min):
                cursor = 0
            member = under_min[cursor]
            assignment[member].append(tp)
            if len(assignment[member]) == min_quota:
                under_min.pop(cursor)
                exactly_min.append(member)
            else:
                cursor += 1
        elif exactly_min:
            assignment[exactly_min.popleft()].append(tp)
        else:  # pragma: no cover - the quotas add up to the partition count
            raise AssertionError(f"no member can take {tp}: the quotas are inconsistent")
    return assignment


class _PartitionMovements:
    """Moves made during one general assignment, to undo A->B with B->A rather than swap."""

    def __init__(self) -> None:
        self._pair: dict[_TP, tuple[str, str]] = {}  # partition -> (first owner, current owner)
        self._by_topic: dict[str, dict[tuple[str, str], set[_TP]]] = {}  # topic -> pair -> moved

    def _remove(self, tp: _TP) -> tuple[str, str]:
        pair = self._pair.pop(tp)
        per_topic = self._by_topic[tp[0]]
        per_topic[pair].discard(tp)
        if not per_topic[pair]:
            del per_topic[pair]
        if not per_topic:
            del self._by_topic[tp[0]]
        return pair

    def _add(self, tp: _TP, pair: tuple[str, str]) -> None:
        self._pair[tp] = pair
        self._by_topic.setdefault(tp[0], {}).setdefault(pair, set()).add(tp)

    def move(self, tp: _TP, old: str, new: str) -> None:
        if tp in self._pair:
            source, _ = self._remove(tp)
            if source != new:
                self._add(tp, (source, new))
        else:
            self._add(tp, (old, new))

    def partition_to_move(self, tp: _TP, old: str, new: str) -> _TP:
        """The partition to move instead of `tp` so that no partition of a topic swaps back."""
        per_topic = self._by_topic.get(tp[0])
        if per_topic is None:
            return tp
        if tp in self._pair:
            old = self._pair[tp][0]
        reverse = per_topic.get((new, old))
        return min(reverse) if reverse else tp


class _GeneralAssignment:
    """Kafka's GeneralAssignmentBuilder (KIP-54), for members with different subscriptions."""

    def __init__(
        self,
        counts: Mapping[str, int],
        subs: dict[str, frozenset[str]],
        owned: dict[str, set[_TP]],
        previous: dict[_TP, str],
    ) -> None:
        self.counts = counts
        self.subs = subs
        self.consumers_of = {t: sorted(m for m in subs if t in subs[m]) for t in counts}
        self.assignment: Assignment = {m: sorted(owned[m]) for m in sorted(subs)}
        self.fixed: Assignment = {}  # members that can neither give nor take a partition
        self.owner = {tp: m for m, tps in self.assignment.items() for tp in tps}
        self.owned_by = {tp: m for m, tps in owned.items() for tp in tps}
        self.previous = previous
        self.movements = _PartitionMovements()

    def build(self) -> Assignment:
        topic_order = sorted(self.counts, key=lambda t: (len(self.consumers_of[t]), t))
        all_partitions = [(t, p) for t in topic_order for p in range(self.counts[t])]
        unassigned = [tp for tp in all_partitions if tp not in self.owner]
        initializing = not any(self.assignment.values())
        for tp in unassigned:
            self._move(tp, self._least_loaded(tp[0]))
        movable = [tp for tp in all_partitions if len(self.consumers_of[tp[0]]) >= 2]
        movable_new = [tp for tp in unassigned if len(self.consumers_of[tp[0]]) >= 2]
        for member in list(self.assignment):
            if not self._can_participate(member):
                self.fixed[member] = self.assignment.pop(member)
        before = {m: list(tps) for m, tps in self.assignment.items()}
        before_owner = dict(self.owner)
        # Kafka skips this pass when a member must revoke an unsubscribed topic; moving a
        # partition that nobody owns never costs a revocation, so we always run it.
        self._perform_reassignments(movable_new)
        moved = self._perform_reassignments(movable)
        if not initializing and moved and _balance_score(self.assignment) >= _balance_score(before):
            self.assignment, self.owner = before, before_owner
        self.assignment.update(self.fixed)
        return self.assignment

    def _load(self, member: str) -> int:
        return len(self.assignment[member] if member in self.assignment else self.fixed[member])

    def _by_load(self) -> list[str]:
        return sorted(self.assignment, key=lambda m: (len(self.assignment[m]), m))

    def _least_loaded(self, topic: str) -> str:
        return next(m for m in self._by_load() if topic in self.subs[m])

    def _max_size(self, member: str) -> int:
        return sum(self.counts[t] for t in self.subs[member])

    def _can_participate(self, member: str) -> bool:
        mine = self.assignment[member]
        return len(mine) < self._max_size(member) or any(
            len(self.consumers_of[t]) >= 2 for t, _ in mine
        )

    def _is_balanced(self) -> bool:
        loads = [len(tps) for tps in self.assignment.values()]
        if not loads or min(loads) >= max(loads) - 1:
            return True
        for member in self._by_load():
            load = len(self.assignment[member])
            if load == self._max_size(member):
                continue
            for topic in self.subs[member]:
                for partition in range(self.counts[topic]):
                    other = self.owner.get((topic, partition), member)
                    if other != member and load + 1 < self._load(other):
                        return False
        return True

    def _perform_reassignments(self, partitions: list[_TP]) -> bool:
        moved = False
        # Each pass moves a partition or stops; the bound only guards against a cycle.
        for _ in range(len(partitions) * len(self.assignment) + 1):
            modified = False
            # Unlike Kafka, move partitions away from members that do not own them first.
            for tp in sorted(partitions, key=lambda tp: self.owner[tp] == self.owned_by.get(tp)):
                if self._is_balanced():
                    break
                current = self.owner[tp]
                prev = self.previous.get(tp)
                if (
                    prev is not None
                    and prev in self.assignment
                    and self._load(current) > self._load(prev) + 1
                ):
                    self._reassign(tp, prev)
                    moved = modified = True
                    continue
                if any(
                    self._load(current) > self._load(other) + 1
                    for other in self.consumers_of[tp[0]]
                    if other in self.assignment
                ):
                    self._reassign(tp, self._least_loaded(tp[0]))
                    moved = modified = True
            if not modified:
                break
        return moved

    def _reassign(self, tp: _TP, new: str) -> None:
        self._move(self.movements.partition_to_move(tp, self.owner[tp], new), new)

    def _move(self, tp: _TP, new: str) -> None:
        old = self.owner.get(tp)
        if old is not None:
            self.movements.move(tp, old, new)
            self.assignment[old].remove(tp)
        self.assignment[new].append(tp)
        self.owner[tp] = new


def _balance_score(assignment: Assignment) -> int:
    """Sum over member pairs of the difference in partition counts (0 is perfectly even)."""
    loads = sorted(len(tps) for tps in assignment.values())
    return sum(load * (2 * i - len(loads) + 1) for i, load in enumerate(loads))


def revoked(
    owned: Iterable[tuple[str, int]], assigned: Iterable[tuple[str, int]]
) -> list[tuple[str, int]]:
    """The partitions a member must revoke: those it owns that its new assignment lacks."""
    return sorted(set(owned) - set(assigned))


ASSIGNORS: Final[Mapping[str, PartitionAssignor]] = {
    a.name: a for a in (RangeAssignor(), RoundRobinAssignor(), CooperativeStickyAssignor())
}


def protocol(name: str) -> RebalanceProtocol:
    """``"EAGER"`` or ``"COOPERATIVE"``: how members of a group using assignor `name` rebalance."""
    try:
        return ASSIGNORS[name].protocol
    except KeyError:
        raise KafkaApiError(
            f"unknown partition.assignment.strategy {name!r}; use one of {', '.join(ASSIGNORS)}",
            code=ErrorCode.INVALID_CONFIG,
        ) from None
