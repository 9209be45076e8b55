"""What acks and min.insync.replicas promise, under seeded random faults (simulated time)."""

from __future__ import annotations

import random

import pytest

from kstream_nb.cluster import ProduceResult
from kstream_nb.errors import ErrorCode
from kstream_nb.log import BatchBuilder, RecordBatch
from tests.cluster.conftest import MakeCluster, send, values

TOPIC = "orders"


def _chaos(
    make_cluster: MakeCluster, seed: int, acks: int, requests: int
) -> tuple[dict[int, dict[int, bytes]], object]:
    """Produce `requests` records while brokers die, restart and lose links; heal; settle.

    Returns, per partition, the acknowledged offset -> value, and the cluster.
    """
    rng = random.Random(seed)
    cluster = make_cluster(
        seed=seed,
        replica_lag_time_max_ms=3_000,
        broker_session_timeout_ms=3_000,
        broker_heartbeat_interval_ms=500,
        replica_fetch_wait_max_ms=100,
        replica_fetch_backoff_ms=200,
        request_timeout_ms=5_000,
    )
    cluster.create_topic(
        TOPIC, partitions=2, replication_factor=3, config={"min.insync.replicas": 2}
    )
    pending: list[tuple[int, bytes, list[ProduceResult]]] = []
    down: set[int] = set()
    for i in range(requests):
        p = rng.randrange(2)
        value = b"%d-%d" % (seed, i)
        pending.append((p, value, send(cluster, TOPIC, p, value, acks)))
        if rng.random() < 0.03:
            action = rng.choice(["kill", "restart", "cut", "heal"])
            if action == "kill" and len(down) < 2:
                victim = rng.choice([b for b in cluster.broker_ids if b not in down])
                cluster.kill_broker(victim)
                down.add(victim)
            elif action == "restart" and down:
                back = rng.choice(sorted(down))
                cluster.restart_broker(back)
                down.discard(back)
            elif action == "cut":
                a, b = rng.sample(cluster.broker_ids, 2)
                cluster.cut_link(a, b)
            else:
                cluster.heal()
        cluster.advance(rng.randrange(0, 60))
    cluster.heal()
    for b in sorted(down):
        cluster.restart_broker(b)
    cluster.advance("60s")  # every request answered or timed out; replicas caught up

    acknowledged: dict[int, dict[int, bytes]] = {0: {}, 1: {}}
    for p, value, result in pending:
        assert result, "every produce request gets an answer"
        if result[0].error == ErrorCode.NONE:
            acknowledged[p][result[0].base_offset] = value
    return acknowledged, cluster


@pytest.mark.parametrize("seed", range(12))
def test_acks_all_with_min_isr_2_never_loses_an_acknowledged_record(
    make_cluster: MakeCluster, seed: int
) -> None:
    acknowledged, cluster = _chaos(make_cluster, seed, acks=-1, requests=1500)
    snapshot = cluster.describe()  # type: ignore[attr-defined]
    assert sum(len(a) for a in acknowledged.values()) > 100  # faults, yet much got through
    for p in (0, 1):
        part = snapshot.partition(TOPIC, p)
        assert part.leader != -1
        leader_log = {r.offset: r.value for r in cluster.core.records(TOPIC, p, part.leader)}  # type: ignore[attr-defined]
        for offset, value in acknowledged[p].items():
            assert leader_log.get(offset) == value, f"acknowledged {value!r} lost at {offset}"
        # Every replica in the ISR holds the same log.
        logs = [values(cluster, TOPIC, p, r) for r in part.isr]  # type: ignore[arg-type]
        assert all(log == logs[0] for log in logs)
        assert len(part.isr) == 3


def test_acks_1_can_lose_an_acknowledged_record_when_the_leader_dies(
    make_cluster: MakeCluster,
) -> None:
    """Kafka documents it: with acks=1 the leader answers before followers copy the record."""
    cluster = make_cluster(broker_session_timeout_ms=3_000, broker_heartbeat_interval_ms=500)
    cluster.create_topic(TOPIC, partitions=1, replication_factor=3)
    cluster.produce(TOPIC, b"safe", acks="all")
    leader = cluster.describe().partition(TOPIC, 0).leader
    result = send(cluster, TOPIC, 0, b"acknowledged-then-lost", acks=1)
    assert result
    assert result[0].error == ErrorCode.NONE
    cluster.kill_broker(leader)  # before any follower fetched it
    cluster.advance("10s")
    new_leader = cluster.describe().partition(TOPIC, 0).leader
    assert new_leader not in (leader, -1)
    cluster.restart_broker(leader)
    cluster.advance("10s")
    for broker in cluster.broker_ids:  # the old leader truncated it away when it rejoined
        assert values(cluster, TOPIC, 0, broker) == [b"safe"]


def test_seeded_acks_1_chaos_shows_loss_that_acks_all_prevents(make_cluster: MakeCluster) -> None:
    lost_any = False
    for seed in range(6):
        acknowledged, cluster = _chaos(make_cluster, seed, acks=1, requests=600)
        snapshot = cluster.describe()  # type: ignore[attr-defined]
        for p in (0, 1):
            leader = snapshot.partition(TOPIC, p).leader
            log = {r.offset: r.value for r in cluster.core.records(TOPIC, p, leader)}  # type: ignore[attr-defined]
            lost_any |= any(log.get(o) != v for o, v in acknowledged[p].items())
        cluster.stop()  # type: ignore[attr-defined]
        if lost_any:
            break
    assert lost_any, "some seed should lose an acks=1 record"


def test_min_insync_replicas_refuses_writes_it_cannot_protect(make_cluster: MakeCluster) -> None:
    # Five brokers, so the controller keeps its majority when both followers die.
    cluster = make_cluster(
        brokers=5,
        replica_lag_time_max_ms=2_000,
        broker_session_timeout_ms=3_000,
        broker_heartbeat_interval_ms=500,
    )
    cluster.create_topic(
        TOPIC, partitions=1, replication_factor=3, config={"min.insync.replicas": 2}
    )
    part = cluster.describe().partition(TOPIC, 0)
    followers = [b for b in part.replicas if b != part.leader]
    for b in followers:
        cluster.kill_broker(b)
    waiting = send(cluster, TOPIC, 0, b"in flight while the ISR shrinks")
    cluster.advance("10s")
    assert cluster.describe().partition(TOPIC, 0).isr == (part.leader,)
    assert waiting[0].error == ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND
    refused = send(cluster, TOPIC, 0, b"refused")
    assert refused[0].error == ErrorCode.NOT_ENOUGH_REPLICAS
    assert values(cluster, TOPIC, 0, part.leader) == [b"in flight while the ISR shrinks"]
    ok = send(cluster, TOPIC, 0, b"acks=1 still works", acks=1)
    assert ok[0].error == ErrorCode.NONE


def test_an_idempotent_retry_after_failover_is_not_written_twice(
    make_cluster: MakeCluster,
) -> None:
    cluster = make_cluster(broker_session_timeout_ms=3_000, broker_heartbeat_interval_ms=500)
    cluster.create_topic(TOPIC, partitions=1, replication_factor=3)
    pid, epoch = cluster.init_producer_id()
    assert cluster.init_producer_id()[0] == pid + 1  # ids are unique
    builder = BatchBuilder(producer_id=pid, producer_epoch=epoch, base_sequence=0)
    builder.append(b"k", b"once", cluster.now_ms())
    batch = builder.build()
    first = cluster.produce_batch(TOPIC, 0, batch)
    leader = cluster.describe().partition(TOPIC, 0).leader
    cluster.kill_broker(leader)  # the producer never saw the answer, say, and retries
    cluster.advance("5s")
    retry = cluster.produce_batch(TOPIC, 0, batch)
    assert retry.error == ErrorCode.NONE
    assert retry.base_offset == first.base_offset
    assert [r.value for r in cluster.read(TOPIC)] == [b"once"]


def test_a_delivery_callback_may_produce_again_and_every_request_is_answered_once(
    make_cluster: MakeCluster,
) -> None:
    cluster = make_cluster()
    cluster.create_topic(TOPIC, partitions=1, replication_factor=3)
    answers: list[int] = []

    def chain(result: ProduceResult) -> None:
        answers.append(result.base_offset)
        if len(answers) < 5:
            for _ in range(2):  # two new requests from inside the answer to the last one
                builder = BatchBuilder()
                builder.append(b"k", b"v", cluster.now_ms())
                cluster.core.produce(TOPIC, 0, builder.build(), acks=-1, callback=chain)

    builder = BatchBuilder()
    builder.append(b"k", b"first", cluster.now_ms())
    cluster.core.produce(TOPIC, 0, builder.build(), acks=-1, callback=chain)
    cluster.advance("5s")
    assert sorted(answers) == list(range(len(answers)))  # each offset answered exactly once
    assert len(answers) == len(cluster.read(TOPIC))


def test_batches_built_by_this_process_are_not_decoded_again_unless_the_topic_needs_it(
    make_cluster: MakeCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`produce_batches(trusted_encoder=True)` (the streams runtime's writes): the leader
    decodes no records of a plain topic's batch, and still checks every key of a compacted
    topic's; batches from anywhere else are decoded in full."""
    cluster = make_cluster()
    cluster.create_topic("plain", partitions=1, replication_factor=3)
    cluster.create_topic(
        "compacted", partitions=1, replication_factor=3, config={"cleanup.policy": "compact"}
    )
    decoded: list[bytes | None] = []  # the keys of our batches the leaders decoded
    check_records = RecordBatch.check_records

    def counted(self: RecordBatch, *, require_keys: bool = False) -> int:
        decoded.extend(r.key for r in self.records() if r.value == b"mine")
        return check_records(self, require_keys=require_keys)

    monkeypatch.setattr(RecordBatch, "check_records", counted)

    def batch(key: bytes | None) -> bytes:
        builder = BatchBuilder()
        builder.append(key, b"mine", cluster.now_ms())
        return builder.build()

    results = cluster.produce_batches(
        [("plain", 0, batch(b"k")), ("compacted", 0, batch(None))], trusted_encoder=True
    )
    assert [r.error for r in results] == [ErrorCode.NONE, ErrorCode.INVALID_RECORD]
    assert decoded == [None]  # the compacted topic's batch only
    assert cluster.produce_batches([("plain", 0, batch(b"k"))])[0].error == ErrorCode.NONE
    assert decoded == [None, b"k"]
