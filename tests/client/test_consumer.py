"""Consumer and consumer groups, as confluent-kafka users rely on them (simulated time)."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kstream_nb import (
    Cluster,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from kstream_nb.cluster.events import GroupRebalanceCompleted

BOOTSTRAP = "localhost:9092"


def produce(count: int, partitions: int = 3, topic: str = "orders") -> None:
    producer = Producer({"bootstrap.servers": BOOTSTRAP})
    for i in range(count):
        producer.produce(topic, value=b"%d" % i, partition=i % partitions)
    assert producer.flush(10) == 0


def consumer(group: str = "g", **config: Any) -> Consumer:
    settings = {
        "bootstrap.servers": BOOTSTRAP,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
    }
    settings.update({k.replace("_", "."): v for k, v in config.items()})
    return Consumer(settings)


def drain(c: Consumer, limit: int = 1000, timeout: float = 0.5) -> list[tuple[int, int, bytes]]:
    out = []
    while len(out) < limit:
        msg = c.poll(timeout)
        if msg is None:
            break
        assert msg.error() is None, msg.error()
        out.append((msg.partition() or 0, msg.offset() or 0, msg.value() or b""))
    return out


def crash(c: Consumer) -> None:
    """What a killed process leaves: no more polls, heartbeats or a LeaveGroup."""
    if c._heartbeat_timer is not None:
        c._heartbeat_timer.cancel()
    if c._auto_commit_timer is not None:
        c._auto_commit_timer.cancel()
    c._closed = True


def assignment(c: Consumer) -> list[tuple[str, int]]:
    return [(tp.topic, tp.partition) for tp in c.assignment()]


def settle(cluster: Cluster, *consumers: Consumer, rounds: int = 20) -> None:
    for _ in range(rounds):
        for c in consumers:
            c.poll(0.1)


def test_assign_reads_every_partition_in_order_from_a_position(cluster: Cluster) -> None:
    produce(30)
    c = consumer()
    c.assign([TopicPartition("orders", 0, 2), TopicPartition("orders", 1, 0)])
    got = drain(c)
    assert [o for p, o, _ in got if p == 0] == list(range(2, 10))
    assert [o for p, o, _ in got if p == 1] == list(range(10))
    assert c.position([TopicPartition("orders", 0)])[0].offset == 10
    assert c.get_watermark_offsets(TopicPartition("orders", 0)) == (0, 10)
    c.close()


def test_partition_eof_is_reported_once_per_end(cluster: Cluster) -> None:
    produce(3, partitions=1)
    c = consumer(enable_partition_eof=True)
    c.assign([TopicPartition("orders", 0, 0)])
    msgs = [c.poll(0.5) for _ in range(4)]
    assert [m.offset() for m in msgs[:3] if m is not None] == [0, 1, 2]
    assert msgs[3] is not None
    assert msgs[3].error() is not None
    assert msgs[3].error().code() == KafkaError._PARTITION_EOF
    assert c.poll(0.2) is None
    c.close()


def test_two_members_split_the_partitions_and_a_leaving_member_hands_them_over(
    cluster: Cluster,
) -> None:
    produce(30)
    a, b = consumer(), consumer()
    a.subscribe(["orders"])
    b.subscribe(["orders"])
    settle(cluster, a, b)
    # range: partitions sorted, members sorted by id; one of them gets two partitions.
    together = sorted(assignment(a) + assignment(b))
    assert together == [("orders", 0), ("orders", 1), ("orders", 2)]
    assert {len(assignment(a)), len(assignment(b))} == {1, 2}
    b.close()
    settle(cluster, a)
    assert assignment(a) == [("orders", 0), ("orders", 1), ("orders", 2)]
    a.close()


def test_a_crashed_member_is_replaced_and_nothing_committed_is_reread(cluster: Cluster) -> None:
    produce(30)
    a = consumer(enable_auto_commit=False)
    a.subscribe(["orders"])
    first = drain(a, limit=12)
    a.commit(asynchronous=False)
    uncommitted = drain(a, limit=6)  # processed but never committed: at-least-once
    crash(a)
    b = consumer(enable_auto_commit=False)
    b.subscribe(["orders"])
    rest: list[tuple[int, int, bytes]] = []
    for _ in range(100):  # session.timeout.ms passes; the group rebalances to b
        rest += drain(b, limit=1, timeout=0.1)
        if len(assignment(b)) == 3:
            break
    rest += drain(b)
    seen = {(p, o) for p, o, _ in first} | {(p, o) for p, o, _ in rest}
    assert len(seen) == 30  # nothing lost
    assert not {(p, o) for p, o, _ in first} & {(p, o) for p, o, _ in rest}  # committed: not again
    assert {(p, o) for p, o, _ in uncommitted} <= {(p, o) for p, o, _ in rest}  # re-delivered
    b.close()


def test_cooperative_sticky_revokes_only_the_partitions_that_move(cluster: Cluster) -> None:
    revoked: dict[str, list[tuple[str, int]]] = {"a": []}
    a = consumer(partition_assignment_strategy="cooperative-sticky")
    a.subscribe(
        ["orders"],
        on_revoke=lambda c, parts: revoked["a"].extend((p.topic, p.partition) for p in parts),
    )
    settle(cluster, a)
    assert len(assignment(a)) == 3
    b = consumer(partition_assignment_strategy="cooperative-sticky")
    b.subscribe(["orders"])
    settle(cluster, a, b, rounds=40)
    assert sorted(assignment(a) + assignment(b)) == [("orders", p) for p in range(3)]
    assert len(assignment(b)) == 1
    assert revoked["a"] == assignment(b)  # only the partition that moved was revoked
    a.close()
    b.close()


def test_a_static_member_restarting_within_its_session_causes_no_rebalance(
    cluster: Cluster,
) -> None:
    a = consumer(group_instance_id="worker-1")
    a.subscribe(["orders"])
    settle(cluster, a)
    completed = [e for e in cluster.events() if isinstance(e, GroupRebalanceCompleted)]
    a.close()  # a static member does not leave the group
    restarted = consumer(group_instance_id="worker-1")
    restarted.subscribe(["orders"])
    settle(cluster, restarted)
    assert assignment(restarted) == [("orders", 0), ("orders", 1), ("orders", 2)]
    after = [e for e in cluster.events() if isinstance(e, GroupRebalanceCompleted)]
    assert len(after) == len(completed)  # no new generation
    restarted.close()


def test_the_leader_rebalances_when_partitions_are_added(cluster: Cluster) -> None:
    a, b = consumer(), consumer()
    a.subscribe(["orders"])
    b.subscribe(["orders"])
    settle(cluster, a, b)
    cluster.create_partitions("orders", 6)
    settle(cluster, a, b, rounds=40)
    assert sorted(assignment(a) + assignment(b)) == [("orders", p) for p in range(6)]
    a.close()
    b.close()


def test_deleted_records_move_a_lagging_consumer_per_auto_offset_reset(cluster: Cluster) -> None:
    produce(20, partitions=1)
    c = consumer()
    c.assign([TopicPartition("orders", 0, 0)])
    assert drain(c, limit=3)[-1][1] == 2
    cluster.core.delete_records("orders", 0, 15)
    c.seek(TopicPartition("orders", 0, 3))  # now below the log start
    assert [o for _, o, _ in drain(c)] == [15, 16, 17, 18, 19]
    c.close()
    strict = consumer(auto_offset_reset="error")
    strict.assign([TopicPartition("orders", 0, 1)])
    msg = strict.poll(1.0)
    assert msg is not None
    assert msg.error() is not None
    assert msg.error().code() == KafkaError._AUTO_OFFSET_RESET
    strict.close()


def test_committed_offsets_are_where_a_new_member_starts(cluster: Cluster) -> None:
    produce(30)
    a = consumer(enable_auto_commit=False)
    a.assign([TopicPartition("orders", p) for p in range(3)])
    a.commit(
        offsets=[TopicPartition("orders", 0, 2), TopicPartition("orders", 1, 3)], asynchronous=False
    )
    assert [
        tp.offset for tp in a.committed([TopicPartition("orders", 0), TopicPartition("orders", 2)])
    ] == [2, -1001]
    a.close()
    b = consumer()
    b.assign([TopicPartition("orders", 0), TopicPartition("orders", 1)])
    got = drain(b)
    assert min(o for p, o, _ in got if p == 0) == 2
    assert min(o for p, o, _ in got if p == 1) == 3
    b.close()


def test_offsets_for_times_and_bad_input(cluster: Cluster) -> None:
    start = cluster.now_ms()
    producer = Producer({"bootstrap.servers": BOOTSTRAP})
    for i in range(5):
        producer.produce("orders", value=b"v", partition=0, timestamp=start + i * 1000)
    producer.flush(5)
    c = consumer()
    found = c.offsets_for_times([TopicPartition("orders", 0, start + 2500)])
    assert found[0].offset == 3
    with pytest.raises(KafkaException):
        Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "g", "auto.offset.reset": "soon"})
    with pytest.raises(TypeError):
        c.subscribe("orders")  # type: ignore[arg-type]
    c.close()
    with pytest.raises(RuntimeError):
        c.poll(0)


def test_consume_store_offsets_commit_message_pause_and_incremental_assignment(
    cluster: Cluster,
) -> None:
    produce(30)
    c = consumer(enable_auto_offset_store=False, enable_auto_commit=False)
    c.assign([TopicPartition("orders", 0, 0)])
    c.incremental_assign([TopicPartition("orders", 1, 0)])
    assert assignment(c) == [("orders", 0), ("orders", 1)]
    batch = c.consume(5, 1.0)
    assert len(batch) == 5
    last = batch[-1]
    c.store_offsets(message=last)
    assert c.commit(asynchronous=False)[0].offset == (last.offset() or 0) + 1
    c.commit(message=batch[0], asynchronous=False)
    tp = TopicPartition("orders", batch[0].partition() or 0)
    assert c.committed([tp])[0].offset == (batch[0].offset() or 0) + 1
    c.pause([TopicPartition("orders", 0), TopicPartition("orders", 1)])
    assert c.poll(0.2) is None
    c.resume([TopicPartition("orders", 1)])
    resumed = c.poll(0.5)
    assert resumed is not None
    assert resumed.partition() == 1
    c.incremental_unassign([TopicPartition("orders", 0)])
    assert assignment(c) == [("orders", 1)]
    assert "orders" in c.list_topics().topics
    c.unassign()
    assert c.assignment() == []
    c.close()


def test_a_member_that_stops_polling_leaves_after_max_poll_interval(cluster: Cluster) -> None:
    slow = consumer(max_poll_interval_ms=6000, session_timeout_ms=6000)
    busy = consumer(max_poll_interval_ms=6000, session_timeout_ms=6000)
    slow.subscribe(["orders"])
    busy.subscribe(["orders"])
    settle(cluster, slow, busy)
    assert len(assignment(slow)) + len(assignment(busy)) == 3
    for _ in range(100):  # only `busy` polls; heartbeats of both keep running meanwhile
        busy.poll(0.1)
    assert assignment(busy) == [("orders", 0), ("orders", 1), ("orders", 2)]
    msg = slow.poll(0)
    assert msg is not None
    assert msg.error() is not None
    assert msg.error().code() == KafkaError._MAX_POLL_EXCEEDED
    slow.close()
    busy.close()


def test_consumers_carry_on_when_the_group_coordinator_dies(tmp_path: Any) -> None:
    config = {
        "offsets.topic.num.partitions": 3,
        "group.initial.rebalance.delay.ms": 0,
        "broker.session.timeout.ms": 2000,
        "broker.heartbeat.interval.ms": 300,
    }
    with Cluster.start(
        brokers=3, simulated=True, seed=4, data_dir=tmp_path, config=config
    ) as cluster:
        cluster.create_topic("orders", partitions=3, replication_factor=3)
        produce(30)
        c = consumer(enable_auto_commit=False)
        c.subscribe(["orders"])
        first = drain(c, limit=10)
        c.commit(asynchronous=False)
        coordinator, _ = cluster.core.group_coordinator("g")
        cluster.kill_broker(coordinator.broker_id)
        rest = drain(c, timeout=1.0)
        for _ in range(50):
            rest += drain(c, timeout=0.1)
        seen = {(p, o) for p, o, _ in first + rest}
        assert len(seen) == 30
        c.commit(asynchronous=False)
        new, _ = cluster.core.group_coordinator("g")
        assert new.broker_id != coordinator.broker_id
        assert sum(o.offset for o in new.committed("g").values()) == 30
        c.close()


def test_closing_a_consumer_after_its_cluster_stopped_is_quiet(tmp_path: Any) -> None:
    with Cluster.start(brokers=1, simulated=True, data_dir=tmp_path) as cluster:
        cluster.create_topic("orders", partitions=1, replication_factor=1)
        c = consumer()
        c.subscribe(["orders"])
        c.poll(0.5)
    c.close()  # the cluster is gone: nothing to commit to or leave
    with pytest.raises(RuntimeError):
        c.poll(0)


def test_a_consumer_closed_before_its_first_join_is_answered_owns_nothing(
    tmp_path: Any,
) -> None:
    # With Kafka's default initial rebalance delay (3 s) the first JoinGroup waits.
    with Cluster.start(brokers=3, simulated=True, seed=3, data_dir=tmp_path) as cluster:
        cluster.create_topic("orders", partitions=3, replication_factor=3)
        config = {"bootstrap.servers": cluster.bootstrap_servers, "group.id": "early"}
        early = Consumer(config)
        early.subscribe(["orders"])
        assert early.poll(1.0) is None
        early.close()
        cluster.advance("5s")
        assert cluster.group("early").snapshot().members == ()
        other = Consumer(config)
        other.subscribe(["orders"])
        other.poll(5.0)
        [member] = cluster.group("early").snapshot().members
        assert member.member_id == other.memberid()
        assert len(other.assignment()) == 3
        other.close()


def test_an_eager_member_revokes_and_commits_before_anyone_gets_its_partitions(
    cluster: Cluster,
) -> None:
    produce(30)
    events: list[str] = []
    failures: list[int] = []

    def on_revoke(name: str) -> Any:
        def revoked(c: Consumer, parts: list[TopicPartition]) -> None:
            events.append(f"{name} revoked {len(parts)}")
            try:
                c.commit(asynchronous=False)  # allowed while the group prepares the rebalance
            except KafkaException as exc:  # nothing new since the last commit (on close)
                failures.append(exc.args[0].code())

        return revoked

    def on_assign(name: str) -> Any:
        return lambda c, parts: events.append(f"{name} assigned {len(parts)}")

    a = consumer(enable_auto_commit=False)
    a.subscribe(["orders"], on_assign=on_assign("A"), on_revoke=on_revoke("A"))
    assert len(drain(a, limit=30)) == 30
    events.clear()
    b = consumer()
    b.subscribe(["orders"], on_assign=on_assign("B"), on_revoke=on_revoke("B"))
    # B alone cannot finish the rebalance: the coordinator waits for A to rejoin, which A does
    # only after its application served the revocation in poll().
    assert b.poll(3.0) is None
    assert not [e for e in events if "assigned" in e]
    settle(cluster, a, b)
    assert events.index("A revoked 3") < min(
        i for i, e in enumerate(events) if "assigned" in e and not e.endswith(" 0")
    )
    # A committed its position in on_revoke: B starts after what A processed, nothing reread.
    reread = drain(b, timeout=0.5) + drain(a, timeout=0.5)
    assert reread == []
    a.close()
    b.close()
    assert set(failures) <= {KafkaError._NO_OFFSET}


def test_a_consumed_message_answers_every_accessor(cluster: Cluster) -> None:
    """The fetch loop builds messages inline (not through Message._create): every slot must
    still be set, as for any other message."""
    from kstream_nb import Message

    produce(3)
    c = consumer()
    c.assign([TopicPartition("orders", 0, 0)])
    msg = c.poll(5)
    assert msg is not None
    assert msg.error() is None
    for slot in Message.__slots__:
        getattr(msg, slot)  # AttributeError if the fetch loop forgot one
    assert (msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value()) == (
        "orders",
        0,
        0,
        None,
        b"0",
    )
    assert msg.headers() is None
    assert msg.latency() is None
    epoch = msg.leader_epoch()
    assert epoch is not None
    assert epoch >= 0
    assert msg.timestamp()[0] == 1  # TIMESTAMP_CREATE_TIME
    c.close()


def test_a_large_fetch_is_built_into_messages_only_as_they_are_taken(cluster: Cluster) -> None:
    produce(3000, partitions=1)
    c = consumer()
    try:
        c.assign([TopicPartition("orders", 0, 0)])
        first = c.poll(5.0)
        assert first is not None
        assert first.offset() == 0
        # one fetch brought all 3000 records; few of them are message objects yet
        alive = sum(1 for o in gc.get_objects() if type(o) is Message)
        assert alive < 200
        c.seek(TopicPartition("orders", 0, 2990))  # the unbuilt rest of the fetch is dropped
        rest = [m.offset() for m in c.consume(100, 5.0)]
        assert rest == list(range(2990, 3000))
        assert c.position([TopicPartition("orders", 0)])[0].offset == 3000
    finally:
        c.close()


def test_any_mix_of_poll_consume_and_seek_reads_the_log_in_order(cluster: Cluster) -> None:
    """Messages are built from fetched batches as they are taken, and the streams runtime
    takes records unbuilt (`_consume_records`): whatever the calls, a partition is read in
    offset order from the position, with nothing skipped or repeated."""
    records = 300
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "linger.ms": 0, "batch.size": 700})
    for i in range(records):
        producer.produce("orders", value=b"v%d" % i, partition=0)
        if i % 7 == 0:
            producer.flush(10)  # batches of varied sizes
    assert producer.flush(10) == 0
    op = st.one_of(
        st.tuples(st.just("poll"), st.just(0)),
        st.tuples(st.just("consume"), st.integers(1, 120)),
        st.tuples(st.just("seek"), st.integers(0, records)),
        st.tuples(st.just("records"), st.integers(1, 120)),
    )

    @settings(max_examples=40, deadline=None)
    @given(st.lists(op, min_size=1, max_size=25), st.sampled_from([400, 3000, 1_048_576]))
    def check(ops: list[tuple[str, int]], fetch_bytes: int) -> None:
        c = consumer(max_partition_fetch_bytes=fetch_bytes)
        try:
            c.assign([TopicPartition("orders", 0, 0)])
            position = 0
            for name, arg in ops:
                if name == "seek":
                    c.seek(TopicPartition("orders", 0, arg))
                    position = arg
                    continue
                if name == "records":
                    messages, chunks = c._consume_records(arg, 0.2)
                    read = [(m.offset(), m.value()) for m in messages]
                    read += [(r.offset, r.value) for _, _, batch in chunks for r in batch]
                else:
                    got = [c.poll(0.2)] if name == "poll" else c.consume(arg, 0.2)
                    read = [(m.offset(), m.value()) for m in got if m is not None]
                offsets = [offset for offset, _ in read]
                if position >= records:
                    assert offsets == []
                    continue
                assert offsets
                assert offsets == list(range(position, position + len(offsets)))
                assert len(offsets) <= max(arg, 1)
                assert [value for _, value in read] == [b"v%d" % o for o in offsets]
                position += len(offsets)
                assert c.position([TopicPartition("orders", 0)])[0].offset == position
        finally:
            c.close()

    check()
