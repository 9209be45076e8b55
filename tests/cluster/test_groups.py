"""The group coordinator: join, sync, heartbeat, rebalance, offsets, failover."""

from __future__ import annotations

from kstream_nb import Cluster
from kstream_nb.cluster.consumer_protocol import (
    Assignment,
    Subscription,
    decode_assignment,
    decode_subscription,
)
from kstream_nb.cluster.events import GroupRebalanceCompleted
from kstream_nb.cluster.group_coordinator import (
    JoinResult,
    OffsetAndMetadata,
    SyncResult,
    java_string_hash,
    offsets_partition_for,
)
from kstream_nb.errors import ErrorCode
from tests.cluster.conftest import MakeCluster

GROUP = "order-processors"
FAST = {
    "broker_session_timeout_ms": 3_000,
    "broker_heartbeat_interval_ms": 500,
    "offsets_topic_num_partitions": 5,
    "group_initial_rebalance_delay_ms": 300,
}
SUB = Subscription(("orders",)).encode()


def join(cluster: Cluster, member_id: str = "", instance: str | None = None) -> list[JoinResult]:
    out: list[JoinResult] = []
    coordinator, index = cluster.core.group_coordinator(GROUP)
    coordinator.join(
        GROUP,
        index,
        member_id,
        instance,
        "client",
        10_000,
        20_000,
        "consumer",
        (("range", SUB),),
        out.append,
    )
    return out


def sync(
    cluster: Cluster, result: JoinResult, assignments: dict[str, bytes] | None = None
) -> list[SyncResult]:
    out: list[SyncResult] = []
    coordinator, _ = cluster.core.group_coordinator(GROUP)
    coordinator.sync(GROUP, result.generation, result.member_id, assignments, out.append)
    return out


def test_java_string_hash_places_groups_like_kafka() -> None:
    assert java_string_hash("") == 0
    assert java_string_hash("a") == 97
    assert java_string_hash("hello") == 99162322
    assert 0 <= offsets_partition_for("any", 50) < 50


def test_consumer_protocol_round_trips() -> None:
    sub = Subscription(("a", "b"), (("a", 0), ("b", 3)), b"x")
    assert decode_subscription(sub.encode()) == sub
    assignment = Assignment((("a", 0), ("a", 2), ("b", 1)))
    assert decode_assignment(assignment.encode()) == assignment


def test_two_members_join_sync_and_commit(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(**FAST)
    cluster.create_topic("orders", partitions=4, replication_factor=3)
    first, second = join(cluster), join(cluster)
    cluster.advance("500ms")  # group.initial.rebalance.delay.ms gathers both
    assert first
    assert second
    leader = next(r for r in (first[0], second[0]) if r.members)
    follower = second[0] if leader is first[0] else first[0]
    assert leader.generation == follower.generation == 1
    assert {m for m, _, _ in leader.members} == {first[0].member_id, second[0].member_id}
    waiting = sync(cluster, follower)
    assert not waiting  # followers wait for the leader's assignment
    plan = {
        leader.member_id: Assignment((("orders", 0), ("orders", 1))).encode(),
        follower.member_id: Assignment((("orders", 2), ("orders", 3))).encode(),
    }
    mine = sync(cluster, leader, plan)
    assert mine[0].error == waiting[0].error == ErrorCode.NONE
    assert decode_assignment(waiting[0].assignment).partitions == (("orders", 2), ("orders", 3))
    completed = [e for e in cluster.events() if isinstance(e, GroupRebalanceCompleted)]
    assert completed[-1].assignment[follower.member_id] == [("orders", 2), ("orders", 3)]

    coordinator, _ = cluster.core.group_coordinator(GROUP)
    committed: list[ErrorCode] = []
    coordinator.commit(
        GROUP,
        0,
        leader.generation,
        leader.member_id,
        {("orders", 0): OffsetAndMetadata(42)},
        committed.append,
    )
    cluster.advance("100ms")
    assert committed == [ErrorCode.NONE]
    assert coordinator.committed(GROUP)[("orders", 0)].offset == 42
    stale: list[ErrorCode] = []
    coordinator.commit(
        GROUP,
        0,
        leader.generation - 1,
        leader.member_id,
        {("orders", 0): OffsetAndMetadata(43)},
        stale.append,
    )
    assert stale == [ErrorCode.ILLEGAL_GENERATION]


def test_a_member_that_stops_heartbeating_is_removed_and_the_group_rebalances(
    make_cluster: MakeCluster,
) -> None:
    cluster = make_cluster(**FAST)
    cluster.create_topic("orders", partitions=2, replication_factor=3)
    a, b = join(cluster), join(cluster)
    cluster.advance("500ms")
    for r in (a[0], b[0]):
        sync(cluster, r, {a[0].member_id: b"", b[0].member_id: b""} if r.members else None)
    coordinator, _ = cluster.core.group_coordinator(GROUP)
    for _ in range(30):  # only a heartbeats
        assert coordinator.heartbeat(GROUP, a[0].generation, a[0].member_id) in (
            ErrorCode.NONE,
            ErrorCode.REBALANCE_IN_PROGRESS,
        )
        cluster.advance("500ms")
    assert coordinator.heartbeat(GROUP, a[0].generation, a[0].member_id) == (
        ErrorCode.REBALANCE_IN_PROGRESS
    )
    rejoin = join(cluster, a[0].member_id)
    cluster.advance("100ms")
    assert rejoin[0].generation == a[0].generation + 1
    assert [m for m, _, _ in rejoin[0].members] == [a[0].member_id]


def test_a_static_member_back_within_its_session_causes_no_rebalance(
    make_cluster: MakeCluster,
) -> None:
    cluster = make_cluster(**FAST)
    cluster.create_topic("orders", partitions=2, replication_factor=3)
    first = join(cluster, instance="worker-1")
    cluster.advance("500ms")
    plan = {first[0].member_id: Assignment((("orders", 0), ("orders", 1))).encode()}
    sync(cluster, first[0], plan)
    cluster.advance("2s")  # restarted, within session.timeout.ms (10 s here)
    again = join(cluster, instance="worker-1")
    assert again[0].error == ErrorCode.NONE
    assert again[0].generation == first[0].generation  # same generation: no rebalance
    got = sync(cluster, again[0])
    assert decode_assignment(got[0].assignment).partitions == (("orders", 0), ("orders", 1))


def test_offsets_survive_the_coordinators_broker_dying(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(**FAST)
    cluster.create_topic("orders", partitions=1, replication_factor=3)
    coordinator, index = cluster.core.group_coordinator(GROUP)
    done: list[ErrorCode] = []
    coordinator.commit(
        GROUP, index, -1, "", {("orders", 0): OffsetAndMetadata(7, "m")}, done.append
    )  # a standalone commit (no membership), as assign() users do
    cluster.advance("200ms")
    assert done == [ErrorCode.NONE]
    old = coordinator.broker_id
    cluster.kill_broker(old)
    cluster.advance("6s")
    new, _ = cluster.core.group_coordinator(GROUP)
    assert new.broker_id != old
    assert new.committed(GROUP)[("orders", 0)].offset == 7
    assert new.committed(GROUP)[("orders", 0)].metadata == "m"
