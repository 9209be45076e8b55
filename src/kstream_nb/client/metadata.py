"""`list_topics()` answers: confluent-kafka's ClusterMetadata, TopicMetadata, PartitionMetadata."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kstream_nb.client.error import KafkaError, from_error_code
from kstream_nb.errors import ErrorCode, KafkaApiError

if TYPE_CHECKING:
    from kstream_nb.runtime import Cluster

__all__ = [
    "BrokerMetadata",
    "ClusterMetadata",
    "PartitionMetadata",
    "TopicMetadata",
    "cluster_metadata",
    "connect",
]


class BrokerMetadata:
    def __init__(self, broker_id: int, host: str, port: int) -> None:
        self.id = broker_id
        self.host = host
        self.port = port

    def __repr__(self) -> str:
        return f"BrokerMetadata({self.id}, {self.host}:{self.port})"

    def __str__(self) -> str:
        return f"{self.host}:{self.port}/{self.id}"


class PartitionMetadata:
    def __init__(
        self,
        partition_id: int,
        leader: int,
        replicas: list[int],
        isrs: list[int],
        error: KafkaError | None = None,
    ) -> None:
        self.id = partition_id
        self.leader = leader
        self.replicas = replicas
        self.isrs = isrs
        self.error = error

    def __repr__(self) -> str:
        if self.error is not None:
            return f"PartitionMetadata({self.id}, {self.error})"
        return f"PartitionMetadata({self.id})"

    def __str__(self) -> str:
        return str(self.id)


class TopicMetadata:
    def __init__(
        self, topic: str, partitions: dict[int, PartitionMetadata], error: KafkaError | None = None
    ) -> None:
        self.topic = topic
        self.partitions = partitions
        self.error = error

    def __repr__(self) -> str:
        if self.error is not None:
            return f"TopicMetadata({self.topic}, {len(self.partitions)} partitions, {self.error})"
        return f"TopicMetadata({self.topic}, {len(self.partitions)} partitions)"

    def __str__(self) -> str:
        return self.topic


class ClusterMetadata:
    def __init__(self, cluster_id: str | None = None) -> None:
        self.cluster_id = cluster_id
        self.controller_id = -1
        self.brokers: dict[int, BrokerMetadata] = {}
        self.topics: dict[str, TopicMetadata] = {}
        self.orig_broker_id = -1
        self.orig_broker_name: str | None = None

    def __repr__(self) -> str:
        return f"ClusterMetadata({self.cluster_id})"

    def __str__(self) -> str:
        return str(self.cluster_id)


def connect(bootstrap_servers: str | None) -> Cluster:
    """The in-kernel cluster `bootstrap.servers` names, or `_TRANSPORT` as a client sees it."""
    from kstream_nb.client.error import KafkaException
    from kstream_nb.runtime.registry import find_cluster

    try:
        return find_cluster(bootstrap_servers or "")
    except KafkaApiError as exc:
        raise KafkaException(KafkaError(KafkaError._TRANSPORT, exc.message)) from None


def cluster_metadata(cluster: Cluster, topic: str | None = None) -> ClusterMetadata:
    """The metadata a client sees: live brokers by advertised address, and topics."""

    def read() -> ClusterMetadata:
        core = cluster.core
        image = core.image
        meta = ClusterMetadata(f"kstream-nb-{cluster.data_dir.name}")
        meta.controller_id = core.controller_id if core.controller_id is not None else -1
        addresses = cluster.bootstrap_servers.split(",")
        for index, broker_id in enumerate(cluster.broker_ids):
            state = image.brokers.get(broker_id)
            if broker_id in core.brokers and state is not None and not state.fenced:
                host, _, port = addresses[index].rpartition(":")
                meta.brokers[broker_id] = BrokerMetadata(broker_id, host, int(port))
        names = sorted(image.topics) if topic is None else [topic]
        for name in names:
            topic_image = image.topics.get(name)
            if topic_image is None:
                meta.topics[name] = TopicMetadata(
                    name, {}, from_error_code(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
                )
                continue
            partitions = {
                p: PartitionMetadata(
                    p,
                    s.leader,
                    list(s.replicas),
                    list(s.isr),
                    from_error_code(ErrorCode.LEADER_NOT_AVAILABLE) if s.leader < 0 else None,
                )
                for p, s in sorted(topic_image.partitions.items())
            }
            meta.topics[name] = TopicMetadata(name, partitions)
        if meta.brokers:
            first = min(meta.brokers)
            meta.orig_broker_id = first
            meta.orig_broker_name = str(meta.brokers[first])
        return meta

    return cluster._call(read)
