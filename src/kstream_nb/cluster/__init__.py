"""The deterministic cluster core: controller, brokers, replication, ISR, leader election.

Nothing here creates a thread, socket or timer: the runtime layer (`kstream_nb.runtime`) gives
the core its timers and transport and drives it, in real or simulated time.
"""

from kstream_nb.cluster.broker import Broker, ProduceResult
from kstream_nb.cluster.config import BrokerConfig
from kstream_nb.cluster.controller import Controller, assign_replicas, validate_topic_name
from kstream_nb.cluster.core import (
    BrokerSnapshot,
    ClusterCore,
    ClusterSnapshot,
    GroupOffsetSnapshot,
    GroupSnapshot,
    PartitionSnapshot,
    ReplicaSnapshot,
)
from kstream_nb.cluster.errors import (
    BrokerNotAvailableError,
    ClusterError,
    InvalidPartitionsError,
    InvalidReplicationFactorError,
    InvalidTopicError,
    NotControllerError,
    TopicAlreadyExistsError,
    UnknownTopicError,
)
from kstream_nb.cluster.events import ClusterEvent
from kstream_nb.cluster.metrics import Metric, prometheus_text

__all__ = [
    "Broker",
    "BrokerConfig",
    "BrokerNotAvailableError",
    "BrokerSnapshot",
    "ClusterCore",
    "ClusterError",
    "ClusterEvent",
    "ClusterSnapshot",
    "Controller",
    "GroupOffsetSnapshot",
    "GroupSnapshot",
    "InvalidPartitionsError",
    "InvalidReplicationFactorError",
    "InvalidTopicError",
    "Metric",
    "NotControllerError",
    "PartitionSnapshot",
    "ProduceResult",
    "ReplicaSnapshot",
    "TopicAlreadyExistsError",
    "UnknownTopicError",
    "assign_replicas",
    "prometheus_text",
    "validate_topic_name",
]
