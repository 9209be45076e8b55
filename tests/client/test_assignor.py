"""Consumer-group assignors: Kafka's textbook outputs, and properties over random groups."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kstream_nb.client.assignor import (
    ASSIGNORS,
    Assignment,
    CooperativeStickyAssignor,
    MemberSubscription,
    RangeAssignor,
    RoundRobinAssignor,
    protocol,
    revoked,
)
from kstream_nb.errors import ErrorCode, KafkaApiError

M = MemberSubscription
TP = tuple[str, int]
STICKY = CooperativeStickyAssignor()


def tps(spec: str) -> list[TP]:
    """``"t0p0 t1p2"`` -> ``[("t0", 0), ("t1", 2)]``."""
    out = []
    for item in spec.split():
        topic, _, partition = item.rpartition("p")
        out.append((topic, int(partition)))
    return out


def owns(spec: str) -> tuple[TP, ...]:
    return tuple(tps(spec))


def rejoin(members: list[MemberSubscription], assignment: Assignment) -> list[MemberSubscription]:
    """The same members rejoining one generation later, owning what they were assigned."""
    return [
        M(
            m.member_id,
            m.topics,
            tuple(assignment[m.member_id]),
            m.generation + 1,
            m.group_instance_id,
        )
        for m in members
    ]


def subscribed_partitions(counts: dict[str, int], members: list[MemberSubscription]) -> set[TP]:
    return {(t, p) for m in members for t in m.topics if t in counts for p in range(counts[t])}


def check_valid(
    counts: dict[str, int], members: list[MemberSubscription], result: Assignment
) -> None:
    """Every member present, lists sorted, no partition twice, none to a non-subscriber."""
    assert list(result) == sorted(m.member_id for m in members)
    topics_of = {m.member_id: set(m.topics) for m in members}
    everything = [tp for part in result.values() for tp in part]
    assert len(everything) == len(set(everything))
    for member_id, part in result.items():
        assert part == sorted(part)
        for topic, partition in part:
            assert topic in topics_of[member_id]
            assert 0 <= partition < counts[topic]


def check_complete(
    counts: dict[str, int], members: list[MemberSubscription], result: Assignment
) -> None:
    check_valid(counts, members, result)
    assigned = {tp for part in result.values() for tp in part}
    assert assigned == subscribed_partitions(counts, members)


# -- textbook examples (Kafka's javadoc) -------------------------------------------------------

TWO_BY_TWO = ({"t0": 3, "t1": 3}, [M("C0", ("t0", "t1")), M("C1", ("t0", "t1"))])
# C0 subscribes to t0; C1 to t0, t1; C2 to t0, t1, t2 (with 1, 2 and 3 partitions).
STAIRS = (
    {"t0": 1, "t1": 2, "t2": 3},
    [M("C0", ("t0",)), M("C1", ("t0", "t1")), M("C2", ("t0", "t1", "t2"))],
)


def test_range_gives_each_member_a_contiguous_range_per_topic() -> None:
    assert RangeAssignor().assign(*TWO_BY_TWO) == {
        "C0": tps("t0p0 t0p1 t1p0 t1p1"),
        "C1": tps("t0p2 t1p2"),
    }


def test_range_gives_the_first_members_the_extra_partitions() -> None:
    members = [M("c", ("t",)), M("a", ("t",)), M("b", ("t",))]
    assert RangeAssignor().assign({"t": 7}, members) == {
        "a": tps("tp0 tp1 tp2"),
        "b": tps("tp3 tp4"),
        "c": tps("tp5 tp6"),
    }


def test_static_members_come_first_ordered_by_group_instance_id() -> None:
    members = [M("a", ("t",)), M("b", ("t",), group_instance_id="z"), M("c", ("t",), (), -1, "y")]
    assert RangeAssignor().assign({"t": 3}, members) == {
        "a": tps("tp2"),
        "b": tps("tp1"),
        "c": tps("tp0"),
    }


def test_roundrobin_deals_partitions_in_member_order() -> None:
    assert RoundRobinAssignor().assign(*TWO_BY_TWO) == {
        "C0": tps("t0p0 t0p2 t1p1"),
        "C1": tps("t0p1 t1p0 t1p2"),
    }


def test_roundrobin_skips_members_not_subscribed_to_the_topic() -> None:
    assert RoundRobinAssignor().assign(*STAIRS) == {
        "C0": tps("t0p0"),
        "C1": tps("t1p0"),
        "C2": tps("t1p1 t2p0 t2p1 t2p2"),
    }


def test_sticky_with_unequal_subscriptions_matches_kafkas_example() -> None:
    counts, members = STAIRS
    first = STICKY.assign(counts, members)
    assert first == {"C0": tps("t0p0"), "C1": tps("t1p0 t1p1"), "C2": tps("t2p0 t2p1 t2p2")}
    # C0 leaves: roundrobin would move 3 partitions, sticky moves only C0's.
    second = STICKY.assign(counts, rejoin(members, first)[1:])
    assert second == {"C1": tps("t0p0 t1p0 t1p1"), "C2": tps("t2p0 t2p1 t2p2")}


def test_unknown_topics_are_ignored_and_every_member_is_present() -> None:
    members = [M("a", ("t", "missing")), M("b", ("missing",))]
    for assignor in ASSIGNORS.values():
        assert assignor.assign({"t": 2, "other": 4}, members) == {"a": tps("tp0 tp1"), "b": []}
        assert assignor.assign({"t": 2}, []) == {}


def test_bad_input_is_refused() -> None:
    for assignor in ASSIGNORS.values():
        with pytest.raises(ValueError, match="appears twice"):
            assignor.assign({"t": 1}, [M("a", ("t",)), M("a", ("t",))])
        with pytest.raises(ValueError, match="counts must be >= 0"):
            assignor.assign({"t": -1}, [M("a", ("t",))])


def test_registry_and_protocols() -> None:
    assert set(ASSIGNORS) == {"range", "roundrobin", "cooperative-sticky"}
    assert all(name == a.name for name, a in ASSIGNORS.items())
    assert protocol("range") == "EAGER"
    assert protocol("roundrobin") == "EAGER"
    assert protocol("cooperative-sticky") == "COOPERATIVE"
    with pytest.raises(KafkaApiError, match="use one of range, roundrobin") as caught:
        protocol("sticky-ish")
    assert caught.value.code is ErrorCode.INVALID_CONFIG


def test_revoked_is_what_is_owned_but_no_longer_assigned() -> None:
    assert revoked(tps("tp2 tp0 tp1"), tps("tp1 tp3")) == tps("tp0 tp2")
    assert revoked([], tps("tp1")) == []


# -- cooperative-sticky scenarios ----------------------------------------------------------------


def group(n: int, topics: tuple[str, ...] = ("t",)) -> list[MemberSubscription]:
    return [M(f"m{i}", topics) for i in range(n)]


def settle(counts: dict[str, int], members: list[MemberSubscription]) -> list[MemberSubscription]:
    """Run rebalances until nothing is revoked; the members as they then own their partitions."""
    for _ in range(5):
        result = STICKY.assign(counts, members)
        done = all(not revoked(m.owned, result[m.member_id]) for m in members)
        members = rejoin(members, result)
        if done:
            return members
    raise AssertionError("no stable assignment after 5 rebalances")


def owned(members: list[MemberSubscription]) -> dict[str, set[TP]]:
    return {m.member_id: set(m.owned) for m in members}


def test_a_fresh_group_is_balanced_in_one_round() -> None:
    result = STICKY.assign({"t": 6, "u": 1}, group(3, ("t", "u")))
    assert sorted(len(p) for p in result.values()) == [2, 2, 3]
    check_complete({"t": 6, "u": 1}, group(3, ("t", "u")), result)


def test_join_revokes_only_what_moves_then_assigns_it_next_round() -> None:
    counts = {"t": 6}
    stable = settle(counts, group(2))
    before = owned(stable)
    joined = [*stable, M("m2", ("t",), (), stable[0].generation)]
    first = STICKY.assign(counts, joined)
    assert first["m2"] == []  # its partitions are still owned by m0 and m1
    for m in stable:
        assert len(revoked(m.owned, first[m.member_id])) == 1
        assert set(first[m.member_id]) <= before[m.member_id]
    second = STICKY.assign(counts, rejoin(joined, first))
    check_complete(counts, joined, second)
    assert [len(p) for p in second.values()] == [2, 2, 2]
    assert set(second["m2"]) == {tp for m in stable for tp in revoked(m.owned, first[m.member_id])}
    assert all(not revoked(p, second[m]) for m, p in first.items())


@pytest.mark.parametrize("topics", [("t",), ("t", "u")])
def test_leave_or_crash_moves_only_the_departed_members_partitions(topics: tuple[str, ...]) -> None:
    counts = {"t": 7, "u": 2}
    stable = settle(counts, group(4, topics))
    # A graceful leave and a session timeout look alike to the leader: the member is gone.
    survivors = stable[:2] + stable[3:]
    result = STICKY.assign(counts, survivors)
    check_complete(counts, survivors, result)
    for m in survivors:
        assert set(m.owned) <= set(result[m.member_id])  # nobody revokes anything
    assert max(map(len, result.values())) - min(map(len, result.values())) <= 1


def test_partition_growth_hands_out_new_partitions_without_revoking() -> None:
    stable = settle({"t": 4}, group(2))
    result = STICKY.assign({"t": 8}, stable)
    check_complete({"t": 8}, stable, result)
    assert [len(p) for p in result.values()] == [4, 4]
    for m in stable:
        assert set(m.owned) <= set(result[m.member_id])


def test_members_whose_partitions_do_not_move_revoke_nothing() -> None:
    counts = {"t": 9}
    stable = settle(counts, group(3))  # 3 each
    joined = [*stable, M("m3", ("t",), (), stable[0].generation)]  # targets 3, 2, 2, 2
    first = STICKY.assign(counts, joined)
    losses = [len(revoked(m.owned, first[m.member_id])) for m in stable]
    assert sorted(losses) == [0, 1, 1]
    keeper = stable[losses.index(0)]
    assert first[keeper.member_id] == sorted(keeper.owned)


def test_an_unsubscribed_topic_is_dropped_and_revoked() -> None:
    counts = {"t": 2, "u": 2}
    stable = settle(counts, group(2, ("t", "u")))
    changed = [M(m.member_id, ("t",), m.owned, m.generation) for m in stable]
    result = STICKY.assign(counts, changed)
    assert all(topic == "t" for part in result.values() for topic, _ in part)
    for m in changed:
        assert {tp for tp in m.owned if tp[0] == "u"} <= set(revoked(m.owned, result[m.member_id]))
    check_complete(counts, changed, STICKY.assign(counts, rejoin(changed, result)))


def test_the_claim_of_the_highest_generation_wins() -> None:
    # m1 is a zombie of generation 3 that still claims tp0 and tp1, now owned by m0 (generation 5).
    members = [M("m0", ("t",), owns("tp0 tp1"), 5), M("m1", ("t",), owns("tp0 tp1"), 3)]
    result = STICKY.assign({"t": 4}, members)
    assert result == {"m0": tps("tp0 tp1"), "m1": tps("tp2 tp3")}
    assert revoked(members[1].owned, result["m1"]) == tps("tp0 tp1")


def test_a_partition_claimed_twice_in_one_generation_is_revoked_first() -> None:
    members = [M("m0", ("t",), owns("tp0 tp1"), 5), M("m1", ("t",), owns("tp1 tp2"), 5)]
    first = STICKY.assign({"t": 4}, members)
    assert ("t", 1) not in first["m0"] + first["m1"]
    second = STICKY.assign({"t": 4}, rejoin(members, first))
    check_complete({"t": 4}, members, second)


# -- properties over random groups ---------------------------------------------------------------

TOPICS = ("a", "b", "c", "d")


@st.composite
def groups(draw: st.DrawFn) -> tuple[dict[str, int], list[MemberSubscription]]:
    """Topic partition counts and members with random subscriptions and a random prior owner
    for every partition (possibly a member that no longer subscribes to its topic)."""
    counts = {
        t: draw(st.integers(0, 6)) for t in draw(st.sets(st.sampled_from(TOPICS), min_size=1))
    }
    n = draw(st.integers(1, 6))
    topic_sets = st.sets(st.sampled_from((*TOPICS, "gone")), min_size=1).map(sorted)
    if draw(st.booleans()):  # one subscription for all: Kafka's constrained algorithm
        subscriptions = [draw(topic_sets)] * n
    else:
        subscriptions = [draw(topic_sets) for _ in range(n)]
    owners: dict[int, list[TP]] = {i: [] for i in range(n)}
    for topic, count in counts.items():
        for partition in range(count):
            owner = draw(st.one_of(st.none(), st.integers(0, n - 1)))
            if owner is not None:
                owners[owner].append((topic, partition))
    generation = draw(st.integers(-1, 3))
    static = draw(st.booleans())
    members = [
        M(
            f"m{i}",
            tuple(subscriptions[i]),
            tuple(owners[i]),
            generation,
            f"s{n - i}" if static else None,
        )
        for i in range(n)
    ]
    return counts, members


@settings(max_examples=120, deadline=None)
@given(groups(), st.randoms(use_true_random=False))
def test_eager_assignors_assign_every_partition_once_deterministically(
    case: tuple[dict[str, int], list[MemberSubscription]], rnd: random.Random
) -> None:
    counts, members = case
    for assignor in (RangeAssignor(), RoundRobinAssignor()):
        result = assignor.assign(counts, members)
        check_complete(counts, members, result)
        shuffled = list(members)
        rnd.shuffle(shuffled)
        assert assignor.assign(dict(reversed(counts.items())), shuffled) == result
    # Range balances each topic over its subscribers.
    result = RangeAssignor().assign(counts, members)
    for topic in counts:
        loads = [
            sum(1 for t, _ in result[m.member_id] if t == topic)
            for m in members
            if topic in m.topics
        ]
        assert not loads or max(loads) - min(loads) <= 1


@settings(max_examples=50, deadline=None)
@given(groups())
def test_roundrobin_balances_identical_subscriptions(
    case: tuple[dict[str, int], list[MemberSubscription]],
) -> None:
    counts, members = case
    same = [M(m.member_id, members[0].topics) for m in members]
    loads = [len(p) for p in RoundRobinAssignor().assign(counts, same).values()]
    assert max(loads) - min(loads) <= 1


def check_balanced(members: list[MemberSubscription], result: Assignment) -> None:
    """Members with identical subscriptions differ by at most one partition."""
    by_subscription: dict[frozenset[str], list[int]] = {}
    for m in members:
        by_subscription.setdefault(frozenset(m.topics), []).append(len(result[m.member_id]))
    for loads in by_subscription.values():
        assert max(loads) - min(loads) <= 1


@settings(max_examples=150, deadline=None)
@given(groups(), st.randoms(use_true_random=False))
def test_cooperative_sticky_is_safe_complete_balanced_and_sticky(
    case: tuple[dict[str, int], list[MemberSubscription]], rnd: random.Random
) -> None:
    counts, members = case
    first = STICKY.assign(counts, members)
    check_valid(counts, members, first)
    shuffled = list(members)
    rnd.shuffle(shuffled)
    assert STICKY.assign(counts, shuffled) == first

    # Cooperative: nobody is given a partition another member still owns.
    claimed_by = {tp: m.member_id for m in members for tp in m.owned}
    for member_id, part in first.items():
        assert all(claimed_by.get(tp, member_id) == member_id for tp in part)

    after = rejoin(members, first)
    second = STICKY.assign(counts, after)
    if len({frozenset(t for t in m.topics if t in counts) for m in members}) > 1:
        # Kafka's general (KIP-54) algorithm is a heuristic: the follow-up may move a partition
        # again, so only ask that rebalancing settles on a complete, balanced assignment.
        final = {m.member_id: list(m.owned) for m in settle(counts, after)}
        check_complete(counts, members, final)
        check_balanced(members, final)
        return

    # One subscription for all: the follow-up rebalance completes the assignment, balanced, and
    # takes nothing back; only partitions that really move are revoked.
    check_complete(counts, members, second)
    check_balanced(members, second)
    for m in after:
        assert revoked(m.owned, second[m.member_id]) == []
    for m in members:
        for tp in revoked(m.owned, first[m.member_id]):
            assert tp not in second[m.member_id]
    # Sticky: each member keeps as many of its partitions as its final share allows.
    for m in members:
        valid = {tp for tp in m.owned if tp[0] in m.topics}
        kept = valid & set(first[m.member_id])
        assert len(kept) == min(len(valid), len(second[m.member_id]))


@settings(max_examples=100, deadline=None)
@given(groups(), st.integers(0, 5))
def test_cooperative_sticky_is_stable_once_settled(
    case: tuple[dict[str, int], list[MemberSubscription]], leaving: int
) -> None:
    counts, members = case
    settled = settle(counts, members)
    # Nothing changes: nothing moves.
    again = STICKY.assign(counts, settled)
    assert again == {m.member_id: sorted(m.owned) for m in settled}
    if len(settled) == 1:
        return
    survivors = [m for i, m in enumerate(settled) if i != leaving % len(settled)]
    if len({m.topics for m in settled}) == 1:
        # One subscription for all: the survivors keep everything and take the rest at once.
        result = STICKY.assign(counts, survivors)
        check_complete(counts, survivors, result)
        for m in survivors:
            assert set(m.owned) <= set(result[m.member_id])
    resettled = settle(counts, survivors)
    final = {m.member_id: list(m.owned) for m in resettled}
    check_complete(counts, survivors, final)
    check_balanced(survivors, final)


def test_property_helpers_see_every_partition() -> None:
    counts, members = STAIRS
    assert Counter(t for t, _ in subscribed_partitions(counts, members)) == counts
