"""`AdminClient`: confluent-kafka's admin API against an in-kernel cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kstream_nb import Cluster
from kstream_nb.client.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    ConsumerGroupType,
    DeletedRecords,
    ListOffsetsResultInfo,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    ResourceType,
)
from kstream_nb.client.error import KafkaError, KafkaException
from kstream_nb.client.future import ClusterFuture
from kstream_nb.client.message import OFFSET_END, OFFSET_INVALID, TopicPartition
from kstream_nb.cluster.consumer_protocol import Assignment, Subscription
from kstream_nb.cluster.group_coordinator import JoinResult, OffsetAndMetadata, SyncResult
from kstream_nb.errors import ErrorCode, KafkaApiError
from tests.threads import no_thread_left_behind  # noqa: F401 -- autouse

CONFIG = {"offsets.topic.num.partitions": 5, "group.initial.rebalance.delay.ms": 0}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with Cluster.start(brokers=3, simulated=True, seed=1, data_dir=tmp_path, config=CONFIG) as c:
        yield c


@pytest.fixture
def admin(cluster: Cluster) -> AdminClient:
    return AdminClient({"bootstrap.servers": cluster.bootstrap_servers})


def error_of(future: ClusterFuture[Any]) -> KafkaError:
    exc = future.exception()
    assert isinstance(exc, KafkaException), exc
    error = exc.args[0]
    assert isinstance(error, KafkaError)
    return error


def create(admin: AdminClient, topic: str, partitions: int = 3, factor: int = 3) -> None:
    assert admin.create_topics([NewTopic(topic, partitions, factor)])[topic].result() is None


def wait_for_coordinator(cluster: Cluster, group: str) -> None:
    def ready() -> bool:
        try:
            cluster._call(lambda: cluster.core.group_coordinator(group))
        except KafkaApiError as exc:
            if exc.code != ErrorCode.COORDINATOR_NOT_AVAILABLE:
                raise
            return False
        return True

    cluster.wait_until(ready, timeout="10s", what=f"the coordinator of {group}")


def commit(cluster: Cluster, group: str, offsets: dict[tuple[str, int], int]) -> None:
    """Commit offsets as a simple (member-less) group, and wait for the answer."""
    wait_for_coordinator(cluster, group)
    answers: list[ErrorCode] = []

    def send() -> None:
        coordinator, index = cluster.core.group_coordinator(group)
        stored = {tp: OffsetAndMetadata(offset) for tp, offset in offsets.items()}
        coordinator.commit(group, index, -1, "", stored, answers.append)

    cluster._call(send)
    cluster.wait_until(lambda: bool(answers), timeout="10s", what="the commit's answer")
    assert answers == [ErrorCode.NONE]


def join_one_member(cluster: Cluster, group: str, topic: str) -> str:
    """A consumer joins `group` and, as its leader, takes partitions 0 and 1 of `topic`."""
    wait_for_coordinator(cluster, group)
    joined: list[JoinResult] = []
    synced: list[SyncResult] = []
    subscription = Subscription((topic,)).encode()

    def join() -> None:
        coordinator, index = cluster.core.group_coordinator(group)
        coordinator.join(
            group, index, "", None, "client-1", 30_000, 30_000, "consumer",
            (("range", subscription),), joined.append,
        )  # fmt: skip

    cluster._call(join)
    cluster.wait_until(lambda: bool(joined), timeout="10s", what="the join")
    member = joined[0].member_id
    assignment = Assignment(((topic, 0), (topic, 1))).encode()

    def sync() -> None:
        coordinator, _ = cluster.core.group_coordinator(group)
        coordinator.sync(group, joined[0].generation, member, {member: assignment}, synced.append)

    cluster._call(sync)
    cluster.wait_until(lambda: bool(synced), timeout="10s", what="the sync")
    assert synced[0].error == ErrorCode.NONE
    return member


# -- client and config ----------------------------------------------------------------------


def test_config_is_checked_and_names_a_running_cluster(cluster: Cluster) -> None:
    with pytest.raises(KafkaException) as unknown:
        AdminClient({"bootstrap.servers": cluster.bootstrap_servers, "no.such.key": 1})
    assert unknown.value.args[0].code() == KafkaError._INVALID_ARG
    with pytest.raises(KafkaException) as missing:
        AdminClient({"bootstrap.servers": "localhost:1"})
    assert missing.value.args[0].code() == KafkaError._TRANSPORT
    # librdkafka's admin client is a producer handle: producer and common keys are accepted.
    AdminClient({"bootstrap.servers": "localhost:9092", "client.id": "ops", "acks": "all"})


def test_requests_after_the_cluster_stopped_fail_with_transport(admin: AdminClient) -> None:
    admin._cluster.stop()
    future = admin.create_topics([NewTopic("late", 1, 1)])["late"]
    assert error_of(future).code() == KafkaError._TRANSPORT


# -- topics ---------------------------------------------------------------------------------


def test_create_topics_gives_usable_topics(admin: AdminClient) -> None:
    futures = admin.create_topics([NewTopic("orders", 3, 3), NewTopic("audit", 1, 1)])
    assert set(futures) == {"orders", "audit"}
    assert all(isinstance(f, ClusterFuture) and f.result() is None for f in futures.values())
    meta = admin.list_topics()
    assert sorted(meta.topics["orders"].partitions) == [0, 1, 2]
    assert all(p.leader > 0 and len(p.isrs) == 3 for p in meta.topics["orders"].partitions.values())
    assert list(admin.list_topics("audit").topics) == ["audit"]


def test_create_topic_errors_are_kafkas(admin: AdminClient) -> None:
    create(admin, "orders")
    exists = admin.create_topics([NewTopic("orders", 3, 3)])["orders"]
    assert error_of(exists).code() == KafkaError.TOPIC_ALREADY_EXISTS == 36
    bad_rf = admin.create_topics([NewTopic("wide", 1, 4)])["wide"]
    assert error_of(bad_rf).code() == KafkaError.INVALID_REPLICATION_FACTOR
    bad_name = admin.create_topics([NewTopic("no spaces", 1, 1)])["no spaces"]
    assert error_of(bad_name).code() == KafkaError.TOPIC_EXCEPTION
    bad_config = admin.create_topics([NewTopic("c", 1, 1, config={"retention.ms": "soon"})])["c"]
    assert error_of(bad_config).code() == KafkaError.INVALID_CONFIG


def test_create_topics_validate_only_creates_nothing(admin: AdminClient) -> None:
    create(admin, "orders")
    futures = admin.create_topics(
        [NewTopic("fresh", 2, 3), NewTopic("orders", 1, 1), NewTopic("wide", 1, 9)],
        validate_only=True,
    )
    assert futures["fresh"].result() is None
    assert error_of(futures["orders"]).code() == KafkaError.TOPIC_ALREADY_EXISTS
    assert error_of(futures["wide"]).code() == KafkaError.INVALID_REPLICATION_FACTOR
    assert sorted(admin.list_topics().topics) == ["orders"]


def test_create_topics_uses_broker_defaults_and_rejects_bad_arguments(admin: AdminClient) -> None:
    assert admin.create_topics([NewTopic("defaults")])["defaults"].result() is None
    assert len(admin.list_topics("defaults").topics["defaults"].partitions) == 1
    with pytest.raises(ValueError, match="non-empty"):
        admin.create_topics([])
    with pytest.raises(TypeError):
        admin.create_topics(["orders"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        NewTopic("orders", "3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="operation_timeout"):
        admin.create_topics([NewTopic("t", 1, 1)], operation_timeout=-5)
    assert repr(NewTopic("t", 3, 1)) == "NewTopic(topic=t,num_partitions=3)"


def test_delete_topics(admin: AdminClient) -> None:
    create(admin, "orders")
    futures = admin.delete_topics(["orders", "missing"])
    assert futures["orders"].result() is None
    assert error_of(futures["missing"]).code() == KafkaError.UNKNOWN_TOPIC_OR_PART == 3
    assert "orders" not in admin.list_topics().topics
    with pytest.raises(TypeError):
        admin.delete_topics("orders")  # type: ignore[arg-type]


def test_create_partitions(admin: AdminClient) -> None:
    create(admin, "orders", partitions=2)
    assert admin.create_partitions([NewPartitions("orders", 4)])["orders"].result() is None
    assert sorted(admin.list_topics("orders").topics["orders"].partitions) == [0, 1, 2, 3]
    shrink = admin.create_partitions([NewPartitions("orders", 3)])["orders"]
    assert error_of(shrink).code() == KafkaError.INVALID_PARTITIONS
    missing = admin.create_partitions([NewPartitions("missing", 3)])["missing"]
    assert error_of(missing).code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    dry = admin.create_partitions([NewPartitions("orders", 8)], validate_only=True)["orders"]
    assert dry.result() is None
    assert len(admin.list_topics("orders").topics["orders"].partitions) == 4


# -- configs --------------------------------------------------------------------------------


def test_describe_topic_configs_says_where_values_come_from(admin: AdminClient) -> None:
    topic = NewTopic("orders", 1, 3, config={"retention.ms": "60000"})
    admin.create_topics([topic])["orders"].result()
    resource = ConfigResource(ResourceType.TOPIC, "orders")
    configs = admin.describe_configs([resource])[resource].result()
    retention = configs["retention.ms"]
    assert (retention.value, retention.source, retention.is_default) == (
        "60000",
        ConfigSource.DYNAMIC_TOPIC_CONFIG,
        False,
    )
    segment = configs["segment.bytes"]
    assert segment.source == ConfigSource.DEFAULT_CONFIG
    assert segment.is_default
    assert not segment.is_read_only
    assert not segment.is_sensitive
    assert configs["cleanup.policy"].value == "delete"
    missing = ConfigResource("topic", "missing")
    assert error_of(admin.describe_configs([missing])[missing]).code() == 3


def test_describe_broker_configs(admin: AdminClient) -> None:
    broker = ConfigResource("broker", "2")
    configs = admin.describe_configs([broker])[broker].result()
    assert configs["broker.id"].value == "2"
    partitions = configs["offsets.topic.num.partitions"]
    assert (partitions.value, partitions.source) == ("5", ConfigSource.STATIC_BROKER_CONFIG)
    assert configs["auto.create.topics.enable"].value == "true"
    assert configs["auto.create.topics.enable"].source == ConfigSource.DEFAULT_CONFIG
    two = admin.describe_configs([ConfigResource("broker", "1"), broker])
    assert error_of(two[broker]).code() == KafkaError._CONFLICT
    bad = ConfigResource("broker", "nine")
    assert error_of(admin.describe_configs([bad])[bad]).code() == KafkaError._INVALID_ARG


def test_incremental_alter_configs(admin: AdminClient) -> None:
    create(admin, "orders")
    resource = ConfigResource(
        "topic",
        "orders",
        incremental_configs=[
            ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry(
                "cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND
            ),
        ],
    )
    assert admin.incremental_alter_configs([resource])[resource].result() is None
    configs = admin.describe_configs([resource])[resource].result()
    assert configs["retention.ms"].value == "1000"
    assert configs["cleanup.policy"].value == "delete,compact"
    # DELETE of a key without an override is a no-op.
    noop = ConfigResource("topic", "orders")
    noop.add_incremental_config(
        ConfigEntry("segment.bytes", None, incremental_operation=AlterConfigOpType.DELETE)
    )
    assert admin.incremental_alter_configs([noop])[noop].result() is None
    unknown = ConfigResource("topic", "orders")
    unknown.add_incremental_config(
        ConfigEntry("retention.days", "1", incremental_operation=AlterConfigOpType.SET)
    )
    assert error_of(admin.incremental_alter_configs([unknown])[unknown]).code() == (
        KafkaError.INVALID_CONFIG
    )
    configs = admin.describe_configs([resource])[resource].result()
    assert configs["retention.ms"].value == "1000"  # the failed request changed nothing
    # DELETE of an override: the broker's default applies again.
    delete = ConfigResource("topic", "orders")
    delete.add_incremental_config(
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE)
    )
    assert admin.incremental_alter_configs([delete])[delete].result() is None
    configs = admin.describe_configs([resource])[resource].result()
    assert configs["retention.ms"].value == "604800000"
    assert configs["retention.ms"].is_default
    with pytest.raises(ValueError, match="non-empty"):
        admin.incremental_alter_configs([ConfigResource("topic", "orders")])


# -- consumer groups ------------------------------------------------------------------------


def test_list_and_describe_consumer_groups(cluster: Cluster, admin: AdminClient) -> None:
    create(admin, "orders")
    commit(cluster, "simple", {("orders", 0): 5})
    member = join_one_member(cluster, "active", "orders")
    listed = admin.list_consumer_groups().result()
    assert listed.errors == []
    assert [(g.group_id, g.state, g.is_simple_consumer_group) for g in listed.valid or []] == [
        ("active", ConsumerGroupState.STABLE, False),
        ("simple", ConsumerGroupState.EMPTY, True),
    ]
    stable = admin.list_consumer_groups(states={ConsumerGroupState.STABLE}).result()
    assert [g.group_id for g in stable.valid or []] == ["active"]

    futures = admin.describe_consumer_groups(["active", "simple", "missing"])
    active = futures["active"].result()
    assert (active.state, active.partition_assignor, active.type) == (
        ConsumerGroupState.STABLE,
        "range",
        ConsumerGroupType.CLASSIC,
    )
    assert [m.member_id for m in active.members] == [member]
    assert active.members[0].client_id == "client-1"
    assert active.members[0].assignment.topic_partitions == [
        TopicPartition("orders", 0),
        TopicPartition("orders", 1),
    ]
    coordinator = cluster._call(lambda: cluster.core.group_coordinator("active")[0].broker_id)
    assert active.coordinator.id == coordinator
    assert active.coordinator.port == 9091 + coordinator
    assert futures["simple"].result().is_simple_consumer_group
    assert error_of(futures["missing"]).code() == KafkaError.GROUP_ID_NOT_FOUND


def test_list_and_alter_consumer_group_offsets(cluster: Cluster, admin: AdminClient) -> None:
    create(admin, "orders")
    commit(cluster, "billing", {("orders", 0): 5, ("orders", 2): 9})
    everything = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions("billing")])
    listed = everything["billing"].result()
    assert listed.group_id == "billing"
    assert [(tp.partition, tp.offset) for tp in listed.topic_partitions or []] == [(0, 5), (2, 9)]
    some = admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions("billing", [TopicPartition("orders", 1)])]
    )["billing"].result()
    assert [tp.offset for tp in some.topic_partitions or []] == [OFFSET_INVALID]

    request = ConsumerGroupTopicPartitions("billing", [TopicPartition("orders", 1, 3)])
    altered = admin.alter_consumer_group_offsets([request])["billing"].result()
    assert [(tp.partition, tp.offset) for tp in altered.topic_partitions or []] == [(1, 3)]
    committed = cluster._call(
        lambda: cluster.core.group_coordinator("billing")[0].committed("billing")
    )
    assert committed[("orders", 1)].offset == 3

    join_one_member(cluster, "live", "orders")
    busy = ConsumerGroupTopicPartitions("live", [TopicPartition("orders", 0, 0)])
    refused = admin.alter_consumer_group_offsets([busy])["live"]
    assert error_of(refused).code() == KafkaError.UNKNOWN_MEMBER_ID
    with pytest.raises(ValueError, match="offset"):
        admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions("billing", [TopicPartition("orders", 1, 4)])]
        )
    with pytest.raises(ValueError, match="single consumer group"):
        admin.list_consumer_group_offsets([])


def test_delete_consumer_groups(cluster: Cluster, admin: AdminClient) -> None:
    create(admin, "orders")
    commit(cluster, "old", {("orders", 0): 1})
    join_one_member(cluster, "busy", "orders")
    futures = admin.delete_consumer_groups(["old", "busy", "never"])
    assert futures["old"].result() is None
    assert error_of(futures["busy"]).code() == KafkaError.NON_EMPTY_GROUP
    assert error_of(futures["never"]).code() == KafkaError.GROUP_ID_NOT_FOUND
    groups = admin.list_consumer_groups().result().valid or []
    assert [g.group_id for g in groups] == ["busy"]
    with pytest.raises(ValueError, match="at least one"):
        admin.delete_consumer_groups([])


def test_consumer_group_requests_wait_for_the_coordinator(admin: AdminClient) -> None:
    # No __consumer_offsets yet: the first request creates it and retries until it is led.
    missing = admin.describe_consumer_groups(["first"])["first"]
    assert error_of(missing).code() == KafkaError.GROUP_ID_NOT_FOUND
    assert "__consumer_offsets" in admin.list_topics().topics


# -- offsets and records --------------------------------------------------------------------


def test_list_offsets(cluster: Cluster, admin: AdminClient) -> None:
    create(admin, "orders", partitions=1)
    start = cluster.now_ms()
    for i in range(3):
        cluster.produce("orders", b"v", timestamp=start + i * 1000)
    p0 = TopicPartition("orders", 0)
    specs = {
        "earliest": OffsetSpec.earliest(),
        "latest": OffsetSpec.latest(),
        "max": OffsetSpec.max_timestamp(),
        "time": OffsetSpec.for_timestamp(start + 1500),
    }
    answers: dict[str, ListOffsetsResultInfo] = {}
    for name, spec in specs.items():
        futures = admin.list_offsets({p0: spec})
        assert list(futures) == [p0]
        answers[name] = futures[p0].result()
    assert answers["earliest"].offset == 0
    assert answers["latest"].offset == 3
    assert (answers["max"].offset, answers["max"].timestamp) == (2, start + 2000)
    assert (answers["time"].offset, answers["time"].timestamp) == (2, start + 2000)
    assert answers["time"].leader_epoch == 0  # written by the first leader's epoch
    missing = admin.list_offsets({TopicPartition("orders", 7): OffsetSpec.latest()})
    assert error_of(next(iter(missing.values()))).code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    with pytest.raises(TypeError, match="OffsetSpec"):
        admin.list_offsets({p0: -1})  # type: ignore[dict-item]


def test_list_offsets_retries_while_a_new_leader_is_elected(
    cluster: Cluster, admin: AdminClient
) -> None:
    create(admin, "orders", partitions=1)
    cluster.produce("orders", b"v")
    p0 = TopicPartition("orders", 0)
    cluster.kill_broker(admin.list_topics().topics["orders"].partitions[0].leader)
    # Offline until the controller fences the dead broker (broker.session.timeout.ms).
    assert next(iter(admin.list_offsets({p0: OffsetSpec.latest()}).values())).result().offset == 1
    cluster.kill_broker(admin.list_topics().topics["orders"].partitions[0].leader)
    quick = admin.list_offsets({p0: OffsetSpec.latest()}, request_timeout=0.5)
    assert error_of(next(iter(quick.values()))).code() == KafkaError.LEADER_NOT_AVAILABLE


def test_delete_records(cluster: Cluster, admin: AdminClient) -> None:
    create(admin, "orders", partitions=2)
    for _ in range(5):
        cluster.produce("orders", b"v", partition=0)
    cluster.produce("orders", b"v", partition=1)
    futures = admin.delete_records(
        [TopicPartition("orders", 0, 3), TopicPartition("orders", 1, OFFSET_END)]
    )
    deleted = {tp.partition: f.result() for tp, f in futures.items()}
    assert all(isinstance(d, DeletedRecords) for d in deleted.values())
    assert {p: d.low_watermark for p, d in deleted.items()} == {0: 3, 1: 1}
    earliest = admin.list_offsets({TopicPartition("orders", 0): OffsetSpec.earliest()})
    assert next(iter(earliest.values())).result().offset == 3
    beyond = admin.delete_records([TopicPartition("orders", 0, 99)])
    assert error_of(next(iter(beyond.values()))).code() == KafkaError.OFFSET_OUT_OF_RANGE
    with pytest.raises(TypeError):
        admin.delete_records(TopicPartition("orders", 0, 1))  # type: ignore[arg-type]


# -- real time ------------------------------------------------------------------------------


def test_real_time_create_describe_delete(tmp_path: Path) -> None:
    with Cluster.start(brokers=3, data_dir=tmp_path) as cluster:
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap_servers})
        topic = NewTopic("live", 2, 3, config={"retention.ms": "5000"})
        assert admin.create_topics([topic])["live"].result(timeout=10) is None
        resource = ConfigResource("topic", "live")
        configs = admin.describe_configs([resource])[resource].result(timeout=10)
        assert configs["retention.ms"].value == "5000"
        assert admin.delete_topics(["live"])["live"].result(timeout=10) is None
        assert "live" not in admin.list_topics().topics


def test_replica_assignment_places_replicas_by_hand(admin: AdminClient) -> None:
    placed = NewTopic("placed", replica_assignment=[[3, 1], [2, 3], [1, 2]])
    assert admin.create_topics([placed])["placed"].result() is None
    meta = admin.list_topics().topics["placed"]
    assert [meta.partitions[p].replicas for p in range(3)] == [[3, 1], [2, 3], [1, 2]]
    assert [meta.partitions[p].leader for p in range(3)] == [3, 2, 1]  # the first is preferred
    grow = NewPartitions("placed", 4, replica_assignment=[[2, 1]])
    assert admin.create_partitions([grow])["placed"].result() is None
    assert admin.list_topics().topics["placed"].partitions[3].replicas == [2, 1]
    for bad in ([[1, 1]], [[1, 2], [3]], [[9]]):
        future = admin.create_topics([NewTopic("bad", replica_assignment=bad)])["bad"]
        assert error_of(future).code() == KafkaError.INVALID_REPLICA_ASSIGNMENT
