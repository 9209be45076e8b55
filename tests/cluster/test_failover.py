"""Leader election, ISR changes, catching up, controlled shutdown, controller failover."""

from __future__ import annotations

import threading

from kstream_nb import Cluster
from kstream_nb.cluster.events import (
    BrokerFencedEvent,
    ControllerChanged,
    IsrChanged,
    LeaderElected,
)
from kstream_nb.errors import ErrorCode
from tests.cluster.conftest import MakeCluster, send, values

TOPIC = "orders"
FAST = {
    "replica_lag_time_max_ms": 2_000,
    "broker_session_timeout_ms": 3_000,
    "broker_heartbeat_interval_ms": 500,
}


def test_killing_the_leader_elects_an_isr_member_with_a_higher_epoch(
    make_cluster: MakeCluster,
) -> None:
    cluster = make_cluster(**FAST)
    cluster.create_topic(TOPIC, partitions=1, replication_factor=3)
    for i in range(5):
        cluster.produce(TOPIC, b"%d" % i)
    before = cluster.describe().partition(TOPIC, 0)
    cluster.kill_broker(before.leader)
    cluster.advance("5s")
    after = cluster.describe().partition(TOPIC, 0)
    assert after.leader in before.isr
    assert after.leader != before.leader
    assert after.leader_epoch == before.leader_epoch + 1
    assert before.leader not in after.isr
    assert [r.value for r in cluster.read(TOPIC)] == [b"%d" % i for i in range(5)]
    elected = [e for e in cluster.events() if isinstance(e, LeaderElected)]
    assert elected[-1].leader == after.leader
    assert not elected[-1].unclean


def _leader_and_follower_apart_from_controller(cluster: Cluster) -> tuple[int, int, int]:
    """(partition, leader, follower), neither the controller's broker: cutting them apart
    leaves both heartbeating, so the leader (not a session timeout) must shrink the ISR."""
    snapshot = cluster.describe()
    for part in snapshot.partitions:
        if part.leader == snapshot.controller_id:
            continue
        for follower in part.replicas:
            if follower not in (part.leader, snapshot.controller_id):
                return part.partition, part.leader, follower
    raise AssertionError("no suitable partition")


def test_isr_shrinks_for_a_cut_off_follower_and_expands_after_heal(
    make_cluster: MakeCluster,
) -> None:
    cluster = make_cluster(brokers=4, **FAST)
    cluster.create_topic(TOPIC, partitions=4, replication_factor=3)
    p, leader, follower = _leader_and_follower_apart_from_controller(cluster)
    cluster.cut_link(leader, follower)
    for i in range(20):
        send(cluster, TOPIC, p, b"%d" % i)
        cluster.advance("300ms")
    shrunk = cluster.describe().partition(TOPIC, p)
    assert shrunk.leader == leader
    assert follower not in shrunk.isr
    assert any(
        isinstance(e, IsrChanged) and e.reason == "ISR shrink" and follower not in e.isr
        for e in cluster.events()
    )
    cluster.heal()
    cluster.advance("5s")
    healed = cluster.describe().partition(TOPIC, p)
    assert set(healed.isr) == set(healed.replicas)
    assert values(cluster, TOPIC, p, follower) == values(cluster, TOPIC, p, leader)
    assert len(values(cluster, TOPIC, p, leader)) == 20


def test_a_silent_follower_that_has_everything_stays_in_sync_on_an_idle_partition(
    make_cluster: MakeCluster,
) -> None:
    # Kafka's Replica.isCaughtUp: a follower whose log end equals the leader's is in sync
    # however long ago it fetched; only once the leader writes more does the clock matter.
    cluster = make_cluster(brokers=4, **FAST)
    cluster.create_topic(TOPIC, partitions=4, replication_factor=3)
    p, leader, follower = _leader_and_follower_apart_from_controller(cluster)
    send(cluster, TOPIC, p, b"before")
    cluster.advance("1s")
    cluster.cut_link(leader, follower)
    cluster.advance("20s")  # ten times replica.lag.time.max.ms, and no write
    assert follower in cluster.describe().partition(TOPIC, p).isr
    send(cluster, TOPIC, p, b"after", acks=1)
    cluster.advance("3s")
    assert follower not in cluster.describe().partition(TOPIC, p).isr


def test_a_slow_follower_falls_out_of_the_isr(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(brokers=4, **FAST)
    cluster.create_topic(TOPIC, partitions=4, replication_factor=3)
    p, leader, follower = _leader_and_follower_apart_from_controller(cluster)
    cluster.slow_link(leader, follower, "5s")
    for i in range(10):
        send(cluster, TOPIC, p, b"%d" % i)
        cluster.advance("500ms")
    cluster.advance("5s")
    assert follower not in cluster.describe().partition(TOPIC, p).isr
    cluster.heal()
    cluster.advance("15s")
    assert follower in cluster.describe().partition(TOPIC, p).isr


def test_the_leaders_high_watermark_never_moves_backwards(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(**FAST)
    cluster.create_topic(TOPIC, partitions=1, replication_factor=3)
    seen: dict[int, int] = {}
    for i in range(60):
        send(cluster, TOPIC, 0, b"%d" % i)
        if i == 20:
            cluster.kill_broker(cluster.describe().partition(TOPIC, 0).leader)
        if i == 40:
            cluster.heal()
        cluster.advance("200ms")
        part = cluster.describe().partition(TOPIC, 0)
        leader = next((r for r in part.replica_states if r.broker_id == part.leader), None)
        if leader is None or not leader.online:
            continue  # no leader, or a dead one the controller has not noticed yet
        hw = leader.high_watermark
        assert hw >= seen.get(part.leader_epoch, 0)
        seen[part.leader_epoch] = hw


def test_a_restarted_broker_recovers_catches_up_and_rejoins_the_isr(
    make_cluster: MakeCluster,
) -> None:
    cluster = make_cluster(**FAST)
    cluster.create_topic(TOPIC, partitions=2, replication_factor=3)
    cluster.produce(TOPIC, b"before")
    victim = cluster.describe().partition(TOPIC, 0).replicas[1]
    cluster.kill_broker(victim)
    cluster.advance("5s")
    for i in range(50):
        cluster.produce(TOPIC, b"while down %d" % i, partition=i % 2)
    cluster.restart_broker(victim)
    cluster.advance("5s")
    for p in (0, 1):
        part = cluster.describe().partition(TOPIC, p)
        assert victim in part.isr
        assert values(cluster, TOPIC, p, victim) == values(cluster, TOPIC, p, part.leader)


def test_unclean_election_disabled_keeps_the_partition_offline(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(brokers=4, **FAST)
    cluster.create_topic(TOPIC, partitions=1, replication_factor=2)
    part = cluster.describe().partition(TOPIC, 0)
    follower = part.replicas[1] if part.replicas[0] == part.leader else part.replicas[0]
    cluster.kill_broker(follower)
    cluster.advance("5s")
    cluster.produce(TOPIC, b"only on the leader")  # min.insync.replicas=1: accepted
    cluster.restart_broker(follower)
    cluster.isolate_broker(follower)  # back, but cannot catch up
    cluster.advance("1s")
    cluster.kill_broker(part.leader)
    cluster.heal()
    cluster.advance("5s")
    offline = cluster.describe().partition(TOPIC, 0)
    assert offline.leader == -1
    assert offline.offline
    refused = send(cluster, TOPIC, 0, b"x")
    assert refused[0].error == ErrorCode.LEADER_NOT_AVAILABLE
    cluster.restart_broker(part.leader)  # the last ISR member returns: no data lost
    cluster.advance("5s")
    back = cluster.describe().partition(TOPIC, 0)
    assert back.leader == part.leader
    assert [r.value for r in cluster.read(TOPIC)] == [b"only on the leader"]


def test_unclean_election_enabled_elects_a_stale_replica_and_loses_data(
    make_cluster: MakeCluster,
) -> None:
    cluster = make_cluster(brokers=4, unclean_leader_election_enable=True, **FAST)
    cluster.create_topic(TOPIC, partitions=1, replication_factor=2)
    cluster.produce(TOPIC, b"replicated")
    cluster.advance("1s")
    part = cluster.describe().partition(TOPIC, 0)
    follower = next(b for b in part.replicas if b != part.leader)
    cluster.kill_broker(follower)
    cluster.advance("5s")
    cluster.produce(TOPIC, b"only on the old leader")
    cluster.restart_broker(follower)
    cluster.isolate_broker(follower)
    cluster.advance("1s")
    cluster.kill_broker(part.leader)
    cluster.heal()
    cluster.advance("5s")
    now = cluster.describe().partition(TOPIC, 0)
    assert now.leader == follower
    unclean = [e for e in cluster.events() if isinstance(e, LeaderElected) and e.unclean]
    assert unclean
    assert unclean[-1].leader == follower
    assert [r.value for r in cluster.read(TOPIC)] == [b"replicated"]
    cluster.restart_broker(part.leader)  # the old leader truncates the record nobody else had
    cluster.advance("5s")
    assert values(cluster, TOPIC, 0, part.leader) == [b"replicated"]


def test_controlled_shutdown_moves_leadership_without_waiting_for_a_timeout(
    make_cluster: MakeCluster,
) -> None:
    cluster = make_cluster()  # default 9 s session timeout: a crash would take that long
    cluster.create_topic(TOPIC, partitions=3, replication_factor=3)
    leader = cluster.describe().partition(TOPIC, 0).leader
    start = cluster.now_ms()
    cluster.shutdown_broker(leader)
    assert cluster.now_ms() - start < 2_000
    snapshot = cluster.describe()
    assert all(p.leader not in (leader, -1) for p in snapshot.partitions)
    assert next(b for b in snapshot.brokers if b.broker_id == leader).status == "down"
    cluster.produce(TOPIC, b"still writable")


def test_preferred_leader_election_restores_the_first_replica(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(**FAST)
    cluster.create_topic(TOPIC, partitions=1, replication_factor=3)
    part = cluster.describe().partition(TOPIC, 0)
    cluster.kill_broker(part.replicas[0])
    cluster.advance("5s")
    cluster.restart_broker(part.replicas[0])
    cluster.advance("5s")
    assert cluster.describe().partition(TOPIC, 0).leader != part.replicas[0]
    assert cluster.elect_preferred_leaders() == 1
    cluster.advance("1s")
    assert cluster.describe().partition(TOPIC, 0).leader == part.replicas[0]


def test_killing_the_controllers_broker_moves_the_controller(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(**FAST)
    controller = cluster.describe().controller_id
    assert controller is not None
    cluster.kill_broker(controller)
    new = cluster.describe().controller_id
    assert new not in (None, controller)
    assert any(
        isinstance(e, ControllerChanged) and e.controller_id == new for e in cluster.events()
    )
    cluster.advance("5s")
    cluster.create_topic("after-failover", partitions=2, replication_factor=2)
    cluster.produce("after-failover", b"ok")
    cluster.restart_broker(controller)
    cluster.advance("5s")
    assert all(b.status == "up" for b in cluster.describe().brokers)


def test_same_seed_same_history(tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    def run() -> list[object]:
        with Cluster.start(
            brokers=3, simulated=True, seed=42, data_dir=tmp_path_factory.mktemp("c")
        ) as cluster:
            cluster.create_topic(TOPIC, partitions=3, replication_factor=3)
            for i in range(30):
                send(cluster, TOPIC, i % 3, b"%d" % i)
                if i == 10:
                    cluster.kill_broker(2)
                cluster.advance("100ms")
            cluster.advance("20s")
            return [
                type(e).__name__ + str(e)[:200]
                for e in cluster.events()
                if type(e).__name__ != "LogChanged"
            ]

    assert run() == run()


def test_real_time_cluster_produces_fails_over_and_leaves_no_thread(tmp_path) -> None:  # type: ignore[no-untyped-def]
    before = set(threading.enumerate())
    config = {
        "broker.session.timeout.ms": 600,
        "broker.heartbeat.interval.ms": 100,
        "replica.fetch.wait.max.ms": 50,
    }
    with Cluster.start(brokers=3, data_dir=tmp_path, config=config) as cluster:
        cluster.create_topic(TOPIC, partitions=1, replication_factor=3)
        cluster.produce(TOPIC, b"one")
        leader = cluster.describe().partition(TOPIC, 0).leader
        cluster.kill_broker(leader)
        cluster.wait_until(
            lambda: cluster.core.describe().partition(TOPIC, 0).leader not in (-1, leader),
            timeout="10s",
            what="a new leader",
        )
        cluster.produce(TOPIC, b"two")
        cluster.restart_broker(leader)
        assert [r.value for r in cluster.read(TOPIC)] == [b"one", b"two"]
    assert set(threading.enumerate()) <= before


def test_events_are_records_in_the_internal_events_topic(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(**FAST)
    cluster.trace_high_watermarks()
    cluster.create_topic(TOPIC, partitions=1, replication_factor=3)
    cluster.produce(TOPIC, b"x")
    cluster.advance("1s")
    kinds = [type(e).__name__ for e in cluster.events()]
    assert "TopicCreated" in kinds
    assert "HighWatermarkMoved" in kinds
    stored = list(cluster.core.event_log.records())
    assert [r.key.decode() for r in stored if r.key] == kinds
    assert all(r.value and r.value.startswith(b"{") for r in stored)


def test_a_whole_cluster_restarts_on_its_data_dir(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with Cluster.start(brokers=3, simulated=True, seed=5, data_dir=tmp_path) as cluster:
        cluster.create_topic(TOPIC, partitions=2, replication_factor=3)
        for i in range(6):
            cluster.produce(TOPIC, b"%d" % i, partition=i % 2)
        cluster.advance("1s")
    with Cluster.start(brokers=3, simulated=True, seed=5, data_dir=tmp_path) as cluster:
        cluster.advance("5s")
        assert cluster.topics() == [TOPIC]
        assert [r.value for r in cluster.read(TOPIC, 0)] == [b"0", b"2", b"4"]
        cluster.produce(TOPIC, b"after restart", partition=1)
        cluster.advance("1s")
        assert [r.value for r in cluster.read(TOPIC, 1)] == [b"1", b"3", b"5", b"after restart"]
        assert all(len(p.isr) == 3 for p in cluster.describe().partitions)


def test_a_long_idle_run_holds_no_growing_timer_list(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()
    cluster.create_topic(TOPIC, partitions=1, replication_factor=3)
    cluster.advance("6h")
    for broker in cluster.core.brokers.values():
        assert len(broker._scheduled) <= 5  # one handle per periodic task
    assert cluster._loop.pending < 100  # type: ignore[union-attr]


def _preferred_leaders(cluster: Cluster) -> list[bool]:
    return [p.leader == p.replicas[0] for p in cluster.describe().partitions if p.topic == TOPIC]


def test_leadership_returns_to_preferred_replicas_after_the_imbalance_check(
    make_cluster: MakeCluster,
) -> None:
    cluster = make_cluster(**FAST)
    cluster.create_topic(TOPIC, partitions=6, replication_factor=3)
    assert all(_preferred_leaders(cluster))
    cluster.kill_broker(1)
    cluster.advance("5s")
    cluster.restart_broker(1)
    cluster.advance("10s")
    assert set(cluster.describe().partition(TOPIC, 0).isr) == {1, 2, 3}
    assert not all(_preferred_leaders(cluster))  # broker 1 is back, but leads nothing yet
    # leader.imbalance.check.interval.seconds (300 s): the controller moves leadership back.
    cluster.advance("300s")
    assert all(_preferred_leaders(cluster))


def test_no_automatic_rebalance_when_it_is_disabled(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(**FAST, auto_leader_rebalance_enable="false")
    cluster.create_topic(TOPIC, partitions=6, replication_factor=3)
    cluster.kill_broker(1)
    cluster.advance("5s")
    cluster.restart_broker(1)
    cluster.advance("20min")
    assert not all(_preferred_leaders(cluster))
    assert cluster.elect_preferred_leaders() > 0
    assert all(_preferred_leaders(cluster))


def test_a_dead_broker_is_fenced_when_its_session_expires(make_cluster: MakeCluster) -> None:
    # Kafka's defaults: heartbeats every 2 s, a session of 9 s. The controller looks again when
    # the first session would expire, so a broker killed right after a heartbeat is fenced
    # between 7 and 9 s later, never a heartbeat interval late.
    for seed in (1, 2, 3):
        cluster = make_cluster(seed=seed)
        cluster.advance(f"{seed * 700}ms")
        controller = cluster.describe().controller_id
        victim = next(b for b in (1, 2, 3) if b != controller)
        killed = cluster.now_ms()
        cluster.kill_broker(victim)
        cluster.advance("12s")
        [fenced] = [
            e
            for e in cluster.events()
            if isinstance(e, BrokerFencedEvent) and e.broker_id == victim
        ]
        assert 7_000 < fenced.time_ms - killed <= 9_001
