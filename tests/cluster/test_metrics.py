"""Broker metrics under Kafka's JMX names: what a JMX/Prometheus dashboard of a real cluster
shows, counted where Kafka counts it."""

from __future__ import annotations

from kstream_nb import AdminClient, Consumer, TopicPartition
from kstream_nb.client.admin import NewTopic
from kstream_nb.cluster import Metric, prometheus_text
from tests.cluster.conftest import MakeCluster

FAST = {
    "replica_lag_time_max_ms": 2_000,
    "broker_session_timeout_ms": 3_000,
    "broker_heartbeat_interval_ms": 500,
}


def value(metrics: tuple[Metric, ...], broker: int, mbean: str) -> float:
    [found] = [m.value for m in metrics if m.broker == broker and m.mbean == mbean]
    return found


def test_meters_count_what_leaders_append_and_serve(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(**FAST)
    cluster.create_topic("orders", partitions=1, replication_factor=3)
    leader = cluster.describe().partition("orders", 0).leader
    results = [cluster.produce("orders", b"x" * 100) for _ in range(10)]
    assert [r.base_offset for r in results] == list(range(10))
    cluster.advance("1s")
    metrics = cluster.metrics()
    topic = "kafka.server:type=BrokerTopicMetrics,name=MessagesInPerSec"
    assert value(metrics, leader, f"{topic},topic=orders") == 10
    assert value(metrics, leader, topic) == 10  # the all-topics meter counts them too
    followers = [b for b in (1, 2, 3) if b != leader]
    bytes_in = value(metrics, leader, "kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec")
    for follower in followers:
        assert value(metrics, follower, topic) == 0  # followers append, but not as leader
        replicated = "kafka.server:type=BrokerTopicMetrics,name=ReplicationBytesInPerSec"
        assert value(metrics, follower, replicated) == bytes_in
    consumer = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": "m"})
    consumer.assign([TopicPartition("orders", 0, 0)])
    assert len(consumer.consume(100, 5.0)) == 10
    consumer.close()
    out = value(
        cluster.metrics(), leader, "kafka.server:type=BrokerTopicMetrics,name=BytesOutPerSec"
    )
    assert out == bytes_in  # the consumer fetched every batch once
    log_size = "kafka.log:type=Log,name=Size,topic=orders,partition=0"
    assert value(cluster.metrics(), leader, log_size) == bytes_in


def test_gauges_and_meters_follow_a_broker_failure(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(**FAST)
    cluster.create_topic("orders", partitions=3, replication_factor=3)
    before = cluster.metrics()
    active = "kafka.controller:type=KafkaController,name=ActiveControllerCount"
    assert sum(m.value for m in before if m.mbean == active) == 1
    under = "kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions"
    assert sum(m.value for m in before if m.mbean == under) == 0
    leaders = "kafka.server:type=ReplicaManager,name=LeaderCount"
    assert sum(m.value for m in before if m.mbean == leaders) == 3
    controller = cluster.describe().controller_id
    victim = next(b for b in (1, 2, 3) if b != controller)
    cluster.kill_broker(victim)
    cluster.advance("5s")  # fenced: out of every ISR, its leaderships moved
    after = cluster.metrics()
    assert {m.broker for m in after} == {1, 2, 3} - {victim}  # a dead broker reports nothing
    assert sum(m.value for m in after if m.mbean == under) == 3
    assert sum(m.value for m in after if m.mbean == leaders) == 3
    shrinks = "kafka.server:type=ReplicaManager,name=IsrShrinksPerSec"
    assert sum(m.value for m in after if m.mbean == shrinks) == 3
    elections = "kafka.controller:type=ControllerStats,name=LeaderElectionRateAndTimeMs"
    assert value(after, controller, elections) >= 1
    offline = "kafka.controller:type=KafkaController,name=OfflinePartitionsCount"
    assert value(after, controller, offline) == 0
    cluster.restart_broker(victim)
    cluster.advance("5s")
    restarted = cluster.metrics()
    assert sum(m.value for m in restarted if m.mbean == under) == 0
    expands = "kafka.server:type=ReplicaManager,name=IsrExpandsPerSec"
    assert sum(m.value for m in restarted if m.mbean == expands) == 3


def test_unclean_elections_and_offline_partitions_are_counted(make_cluster: MakeCluster) -> None:
    # Five brokers: losing two keeps the controller's majority.
    cluster = make_cluster(brokers=5, **FAST, unclean_leader_election_enable="true")
    controller = cluster.describe().controller_id
    leader, follower = [b for b in (1, 2, 3, 4, 5) if b != controller][:2]
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap_servers})
    admin.create_topics([NewTopic("t", replica_assignment=[[leader, follower]])])["t"].result(10)
    cluster.advance("1s")
    offline = "kafka.controller:type=KafkaController,name=OfflinePartitionsCount"
    unclean = "kafka.controller:type=ControllerStats,name=UncleanLeaderElectionsPerSec"
    cluster.kill_broker(follower)
    cluster.advance("5s")  # the follower leaves the ISR
    cluster.kill_broker(leader)
    cluster.advance("5s")  # no live replica: offline
    assert value(cluster.metrics(), controller, offline) == 1
    cluster.restart_broker(follower)  # out of sync, yet elected: unclean
    cluster.advance("5s")
    assert cluster.describe().partition("t", 0).leader == follower
    assert value(cluster.metrics(), controller, offline) == 0
    assert value(cluster.metrics(), controller, unclean) == 1


def test_the_prometheus_exposition_uses_the_jmx_exporters_names(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(**FAST)
    cluster.create_topic("orders", partitions=1, replication_factor=3)
    cluster.produce("orders", b"x")
    text = cluster.prometheus()
    assert "# TYPE kafka_server_brokertopicmetrics_messagesin_total counter\n" in text
    assert "# TYPE kafka_server_replicamanager_underreplicatedpartitions gauge\n" in text
    leader = cluster.describe().partition("orders", 0).leader
    assert (
        f'kafka_server_brokertopicmetrics_messagesin_total{{broker="{leader}",topic="orders"}} 1\n'
        in text
    )
    assert 'kafka_log_log_size{broker="1",topic="orders",partition="0"}' in text
    assert prometheus_text([]) == "\n"
