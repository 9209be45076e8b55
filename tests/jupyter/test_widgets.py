"""Widget state from Python: traits follow the cluster, threads stop, the cluster never waits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from kstream_nb import Consumer, Producer
from kstream_nb.jupyter import Dashboard, EventLog, GroupView, Tail
from kstream_nb.jupyter.poller import MIN_INTERVAL_S, Poller
from kstream_nb.runtime import Cluster

FAST = {"group.initial.rebalance.delay.ms": 0, "offsets.topic.num.partitions": 3}


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait (a widget refreshes on its own thread) until `check()` holds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the widget did not refresh in time"
        time.sleep(0.02)


@pytest.fixture
def sim() -> Iterator[Cluster]:
    with Cluster.start(3, simulated=True, seed=3, config=FAST) as cluster:
        cluster.create_topic("orders", partitions=2, replication_factor=3)
        yield cluster


def test_dashboard_follows_a_leader_moving_after_a_kill(sim: Cluster) -> None:
    dashboard = Dashboard(sim, interval=0.1)
    try:
        leader = dashboard.partitions[0]["leader"]
        assert [b["status"] for b in dashboard.brokers] == ["up", "up", "up"]
        assert all(p["mark"] == "" for p in dashboard.partitions)
        sim.kill_broker(leader)
        sim.advance("20s")
        sim.publish()
        eventually(lambda: dashboard.partitions[0]["leader"] != leader)
        assert dashboard.brokers[leader - 1]["status"] == "down"
        assert all(leader not in p["isr"] for p in dashboard.partitions)
        assert {p["mark"] for p in dashboard.partitions} == {"under-replicated"}
        sim.isolate_broker(dashboard.partitions[0]["leader"])
        sim.publish()
        eventually(lambda: "isolated" in [b["status"] for b in dashboard.brokers])
    finally:
        dashboard.close()
    assert not dashboard.running


def test_dashboard_hides_internal_topics_unless_asked(sim: Cluster) -> None:
    consumer = Consumer({"bootstrap.servers": sim.bootstrap_servers, "group.id": "g"})
    consumer.subscribe(["orders"])
    consumer.poll(1)
    consumer.close()
    assert "__consumer_offsets" in sim.topics()
    plain, everything = Dashboard(sim), Dashboard(sim, internal=True)
    only = Dashboard(sim, topics=["orders"])
    try:
        assert {p["topic"] for p in plain.partitions} == {"orders"}
        assert "__consumer_offsets" in {p["topic"] for p in everything.partitions}
        assert {p["topic"] for p in only.partitions} == {"orders"}
    finally:
        for widget in (plain, everything, only):
            widget.close()


def test_real_time_dashboard_and_tail_update_while_the_caller_is_busy() -> None:
    with Cluster.start(3, config=FAST) as cluster:
        cluster.create_topic("orders", partitions=1, replication_factor=3)
        dashboard = Dashboard(cluster, interval=0.1)
        tail = Tail(cluster, "orders", rows=3, interval=0.1)
        try:
            producer = Producer({"bootstrap.servers": cluster.bootstrap_servers})
            for i in range(5):
                producer.produce("orders", f'{{"n": {i}}}', key="k")
            producer.flush(10)
            eventually(lambda: dashboard.partitions[0]["high_watermark"] == 5)
            eventually(lambda: tail.total == 5)
            assert [r["offset"] for r in tail.records] == [4, 3, 2]
            assert tail.records[0]["value"] == '{\n  "n": 4\n}'
            assert tail.records[0]["key"] == "k"
        finally:
            dashboard.close()
            tail.close()


def test_event_log_and_group_view_show_a_rebalance(sim: Cluster) -> None:
    events = EventLog(sim, rows=5, interval=0.1)
    group = GroupView(sim, "billing", interval=0.1)
    try:
        assert group.group == {}
        assert group.timeline == []
        config = {
            "bootstrap.servers": sim.bootstrap_servers,
            "group.id": "billing",
            "auto.offset.reset": "earliest",
        }
        first = Consumer(config)
        first.subscribe(["orders"])
        first.poll(3)
        sim.publish()
        eventually(lambda: group.group.get("state") == "Stable")
        assert [m["partitions"] for m in group.group["members"]] == [["orders-0", "orders-1"]]
        second = Consumer(config)
        second.subscribe(["orders"])
        for _ in range(10):
            first.poll(0.5)
            second.poll(0.5)
        sim.publish()
        eventually(lambda: len(group.group.get("members", [])) == 2)
        eventually(lambda: len(group.timeline) >= 2)
        last = group.timeline[-1]
        assert sorted(tp for tps in last["assignment"].values() for tp in tps) == [
            "orders-0",
            "orders-1",
        ]
        assert len(last["assignment"]) == 2
        eventually(lambda: "GroupRebalanceCompleted" in {e["type"] for e in events.events})
        assert events.total == len(sim.events())
        assert [e["index"] for e in events.events] == list(range(events.total - 5, events.total))
        first.close()
        second.close()
    finally:
        events.close()
        group.close()


def test_widgets_stop_with_their_cluster() -> None:
    cluster = Cluster.start(1, simulated=True)
    widget = Dashboard(cluster, interval=0.1)
    assert widget.running
    assert len(cluster._watches) == 1
    cluster.stop()
    eventually(lambda: widget.state == "stopped" and not widget.running)
    widget.close()


def test_closing_a_widget_releases_its_watch(sim: Cluster) -> None:
    widget = Tail(sim, "orders")
    assert len(sim._watches) == 1
    widget.close()
    assert sim._watches == []
    assert not widget.running


def test_missing_topic_fails_before_any_thread_starts(sim: Cluster) -> None:
    with pytest.raises(Exception, match="does not exist"):
        Tail(sim, "nope")
    assert sim._watches == []


def test_refresh_rate_is_bounded() -> None:
    ticks: list[float] = []
    poller = Poller(lambda: ticks.append(time.monotonic()) or None, 0.001, "kstream-nb-test")
    assert poller.interval_s == MIN_INTERVAL_S
    poller.start()
    time.sleep(0.55)
    poller.stop()
    assert 3 <= len(ticks) <= 7  # about 10 a second at most
    assert not poller.running


def test_a_failing_refresh_keeps_the_poller_alive() -> None:
    calls = threading.Semaphore(0)

    def tick() -> None:
        calls.release()
        raise ValueError("boom")

    poller = Poller(tick, 0.1, "kstream-nb-test").start()
    try:
        assert calls.acquire(timeout=2)
        assert calls.acquire(timeout=2)
        assert isinstance(poller.error, ValueError)
        assert poller.running
    finally:
        poller.stop()


def test_simulated_watch_refreshes_at_most_once_per_interval_until_published(
    sim: Cluster,
) -> None:
    calls = []
    watch = sim.watch(lambda core: calls.append(1) or core.describe(), interval="1h")
    try:
        assert len(calls) == 1
        for _ in range(20):
            sim.advance("1s")
        assert len(calls) == 1
        assert watch.dirty
        sim.publish()
        assert len(calls) == 2
        assert not watch.dirty
        assert watch.latest is not None
        assert watch.latest.time_ms == sim.now_ms()
    finally:
        watch.close()
    assert sim._watches == []


def test_a_failing_probe_never_breaks_the_cluster(sim: Cluster) -> None:
    def probe(core: object) -> int:
        raise RuntimeError("probe bug")

    watch = sim.watch(probe, interval="1ms")
    try:
        sim.advance("5s")
        assert isinstance(watch.error, RuntimeError)
        assert watch.latest is None
        sim.produce("orders", b"still works", partition=0)
    finally:
        watch.close()


def test_real_time_watch_refreshes_on_the_cluster_thread() -> None:
    with Cluster.start(1) as cluster:
        threads: list[str] = []
        watch = cluster.watch(
            lambda core: threads.append(threading.current_thread().name), interval="20ms"
        )
        eventually(lambda: watch.version >= 3)
        watch.close()
        assert set(threads) == {"kstream-nb-cluster"}


def test_topic_view_charts_offsets_and_throughput(sim: Cluster) -> None:
    from kstream_nb.jupyter.live import TopicView

    view = TopicView(sim, "orders", interval=0.1)
    try:
        assert [r["high watermark"] for r in view.offsets.rows] == [0, 0]
        for i in range(10):
            sim.produce("orders", b"x", partition=i % 2)
        sim.advance("1s")
        sim.publish()
        eventually(lambda: len(view.throughput.rows) >= 1)
        last = view.offsets.rows[-2:]
        assert sorted((r["partition"], r["high watermark"]) for r in last) == [("0", 5), ("1", 5)]
        assert sum(r["messages/s"] for r in view.throughput.rows) > 0
        assert repr(view) == "TopicView(topic 'orders')"
    finally:
        view.close()
    assert not view.running


def test_lag_chart_follows_a_group(sim: Cluster) -> None:
    from kstream_nb.jupyter.live import LagChart

    for _ in range(6):
        sim.produce("orders", b"x", partition=0)
    consumer = Consumer(
        {
            "bootstrap.servers": sim.bootstrap_servers,
            "group.id": "slow",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(["orders"])
    message = consumer.poll(5)
    assert message is not None
    consumer.commit(message, asynchronous=False)
    chart = LagChart(sim, "slow", interval=0.1)
    try:
        eventually(lambda: any(r["partition"] == "orders-0" for r in chart.rows))
        assert [r["lag"] for r in chart.rows if r["partition"] == "orders-0"][-1] == 5
    finally:
        chart.close()
        consumer.close()
