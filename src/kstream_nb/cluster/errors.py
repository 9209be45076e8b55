"""Errors of the cluster layer, with Kafka's error names and what to do about them."""

from __future__ import annotations

from kstream_nb.errors import ErrorCode, KafkaApiError

__all__ = [
    "BrokerNotAvailableError",
    "ClusterError",
    "InvalidPartitionsError",
    "InvalidReplicaAssignmentError",
    "InvalidReplicationFactorError",
    "InvalidTopicError",
    "NotControllerError",
    "TopicAlreadyExistsError",
    "UnknownTopicError",
]


class ClusterError(KafkaApiError):
    """Base of the cluster layer's errors."""


class InvalidTopicError(ClusterError):
    code = ErrorCode.INVALID_TOPIC_EXCEPTION


class TopicAlreadyExistsError(ClusterError):
    code = ErrorCode.TOPIC_ALREADY_EXISTS


class InvalidPartitionsError(ClusterError):
    code = ErrorCode.INVALID_PARTITIONS


class InvalidReplicationFactorError(ClusterError):
    code = ErrorCode.INVALID_REPLICATION_FACTOR


class InvalidReplicaAssignmentError(ClusterError):
    code = ErrorCode.INVALID_REPLICA_ASSIGNMENT


class UnknownTopicError(ClusterError):
    code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION


class BrokerNotAvailableError(ClusterError):
    code = ErrorCode.BROKER_NOT_AVAILABLE


class NotControllerError(ClusterError):
    code = ErrorCode.NOT_CONTROLLER
