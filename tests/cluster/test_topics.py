"""Topic administration: Kafka's validation, even replica placement, and nothing half-created."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kstream_nb import Cluster
from kstream_nb.cluster import BrokerConfig, assign_replicas
from kstream_nb.errors import KafkaApiError
from tests.cluster.conftest import MakeCluster


@pytest.mark.parametrize(
    ("name", "error", "hint"),
    [
        ("", "INVALID_TOPIC_EXCEPTION", "empty"),
        (".", "INVALID_TOPIC_EXCEPTION", "cannot be named"),
        ("..", "INVALID_TOPIC_EXCEPTION", "cannot be named"),
        ("a" * 250, "INVALID_TOPIC_EXCEPTION", "limit is 249"),
        ("orders/eu", "INVALID_TOPIC_EXCEPTION", "illegal characters"),
        ("örders", "INVALID_TOPIC_EXCEPTION", "illegal characters"),
    ],
)
def test_bad_topic_names_are_refused(
    make_cluster: MakeCluster, name: str, error: str, hint: str
) -> None:
    cluster = make_cluster()
    with pytest.raises(KafkaApiError, match=hint) as err:
        cluster.create_topic(name, partitions=1, replication_factor=1)
    assert err.value.name == error
    assert cluster.topics() == []


@pytest.mark.parametrize(
    ("partitions", "rf", "config", "error"),
    [
        (0, 1, None, "INVALID_PARTITIONS"),
        (-3, 1, None, "INVALID_PARTITIONS"),
        (1, 4, None, "INVALID_REPLICATION_FACTOR"),
        (1, 0, None, "INVALID_REPLICATION_FACTOR"),
        (1, 1, {"retention.msec": "1"}, "INVALID_CONFIG"),
        (1, 1, {"retention.ms": "a week"}, "INVALID_CONFIG"),
        (1, 1, {"cleanup.policy": "archive"}, "INVALID_CONFIG"),
    ],
)
def test_impossible_topics_are_refused_with_kafkas_error_and_leave_nothing(
    make_cluster: MakeCluster,
    partitions: int,
    rf: int,
    config: dict[str, str] | None,
    error: str,
) -> None:
    cluster = make_cluster()
    with pytest.raises(KafkaApiError) as err:
        cluster.create_topic("orders", partitions=partitions, replication_factor=rf, config=config)
    assert err.value.name == error
    assert cluster.topics() == []
    assert cluster.describe().partitions == ()


def test_duplicate_topics_and_unknown_brokers_are_refused(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()
    cluster.create_topic("orders", partitions=1, replication_factor=1)
    with pytest.raises(KafkaApiError) as err:
        cluster.create_topic("orders", partitions=1, replication_factor=1)
    assert err.value.name == "TOPIC_ALREADY_EXISTS"
    for call in (cluster.kill_broker, cluster.restart_broker, cluster.isolate_broker):
        with pytest.raises(KafkaApiError, match="no broker 9") as unknown:
            call(9)
        assert unknown.value.name == "BROKER_NOT_AVAILABLE"
    with pytest.raises(KafkaApiError, match="already running"):
        cluster.restart_broker(1)


def test_unknown_broker_configs_are_refused() -> None:
    with pytest.raises(KafkaApiError, match="unknown broker config") as err:
        BrokerConfig.from_properties({"num.partitionz": 3})
    assert err.value.name == "INVALID_CONFIG"
    with pytest.raises(KafkaApiError, match="whole number"):
        BrokerConfig.from_properties({"num.partitions": "three"})


def test_the_seeds_docker_compose_settings_are_accepted(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(
        num_partitions=6,
        default_replication_factor=3,
        min_insync_replicas=2,
        log_retention_hours=168,
        log_retention_bytes=1073741824,
        auto_create_topics_enable="false",
        unclean_leader_election_enable="false",
    )
    cluster.create_topic("defaults")
    part = cluster.describe().partition("defaults", 5)
    assert len(part.replicas) == 3
    config = cluster.core.brokers[1].topic_config("defaults")
    assert config.min_insync_replicas == 2
    assert config.retention_ms == 168 * 3_600_000


def test_add_partitions_alter_config_and_delete(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()
    cluster.create_topic("orders", partitions=2, replication_factor=2)
    cluster.create_partitions("orders", 4)
    assert len([p for p in cluster.describe().partitions if p.topic == "orders"]) == 4
    with pytest.raises(KafkaApiError) as err:
        cluster.create_partitions("orders", 3)
    assert err.value.name == "INVALID_PARTITIONS"
    cluster.alter_topic_config("orders", {"retention.ms": "1000"})
    cluster.advance("1s")
    assert all(b.topic_config("orders").retention_ms == 1000 for b in cluster.core.brokers.values())
    cluster.delete_topic("orders")
    cluster.advance("1s")
    assert cluster.topics() == []
    assert not any(b.partitions for b in cluster.core.brokers.values())
    assert not list(cluster.data_dir.glob("broker-*/orders-*"))


def test_leaders_and_replicas_spread_evenly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with Cluster.start(brokers=3, simulated=True, seed=3, data_dir=tmp_path) as cluster:
        cluster.create_topic("orders", partitions=6, replication_factor=3)
        parts = cluster.describe().partitions
        assert Counter(p.leader for p in parts) == {1: 2, 2: 2, 3: 2}
        assert all(len(set(p.replicas)) == 3 for p in parts)


@settings(max_examples=100, deadline=None)
@given(
    brokers=st.integers(1, 9),
    partitions=st.integers(1, 40),
    data=st.data(),
)
def test_assignment_is_balanced_and_rack_aware(
    brokers: int, partitions: int, data: st.DataObject
) -> None:
    rf = data.draw(st.integers(1, brokers), label="rf")
    racks = {b: f"rack-{b % 3}" for b in range(brokers)}
    assignment = assign_replicas(
        list(range(brokers)), racks, partitions, rf, random.Random(data.draw(st.integers(0, 99)))
    )
    assert len(assignment) == partitions
    for replicas in assignment:
        assert len(set(replicas)) == rf  # never two replicas on one broker
        rack_count = len({racks[b] for b in replicas})
        assert rack_count == min(rf, len(set(racks.values())))  # spread over racks first
    leaders = Counter(r[0] for r in assignment)
    assert max(leaders.values()) - min(leaders.get(b, 0) for b in range(brokers)) <= 1 + (
        partitions % brokers != 0
    )


@pytest.mark.parametrize("brokers", [1, 3])
def test_topics_outlive_the_controllers_own_late_heartbeat_answers(
    make_cluster: MakeCluster, brokers: int
) -> None:
    # A broker that hosts the controller shares its metadata log; an answer to a heartbeat sent
    # before a topic was created once looked like divergence and truncated the topic away.
    cluster = make_cluster(brokers=brokers)
    cluster.create_topic("orders", partitions=2, replication_factor=1)
    cluster.produce("orders", b"kept")
    cluster.advance("1h")
    assert sorted(cluster.core.image.topics) == ["orders"]
    assert [r.value for r in cluster.core.read("orders", 0)] == [b"kept"]
