"""Broker-level configuration with Kafka's names and defaults (`server.properties`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kstream_nb.log import InvalidConfigError, LogConfig
from kstream_nb.log.config import parse_bool, parse_long

__all__ = ["BrokerConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerConfig:
    """Cluster-wide broker settings; topic defaults (`log.*`) derive from them."""

    num_partitions: int = 1
    default_replication_factor: int = 1
    min_insync_replicas: int = 1
    unclean_leader_election_enable: bool = False
    auto_create_topics_enable: bool = True
    replica_lag_time_max_ms: int = 30_000
    replica_fetch_wait_max_ms: int = 500
    replica_fetch_max_bytes: int = 1024 * 1024
    replica_fetch_backoff_ms: int = 1_000
    broker_heartbeat_interval_ms: int = 2_000
    broker_session_timeout_ms: int = 9_000
    request_timeout_ms: int = 30_000
    log_retention_hours: int = 168
    log_retention_ms: int | None = None
    log_retention_bytes: int = -1
    log_segment_bytes: int = 1024 * 1024 * 1024
    log_segment_ms: int | None = None
    log_cleanup_policy: str = "delete"
    log_retention_check_interval_ms: int = 300_000
    log_cleaner_backoff_ms: int = 15_000
    message_max_bytes: int = 1024 * 1024 + 12
    compression_type: str = "producer"
    offsets_topic_num_partitions: int = 50
    offsets_topic_replication_factor: int = 3
    group_initial_rebalance_delay_ms: int = 3_000
    group_min_session_timeout_ms: int = 6_000
    group_max_session_timeout_ms: int = 1_800_000
    auto_leader_rebalance_enable: bool = True
    leader_imbalance_check_interval_seconds: int = 300

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> BrokerConfig:
        """Settings from Kafka-named properties; unknown keys raise INVALID_CONFIG."""
        changes: dict[str, Any] = {}
        for key, raw in properties.items():
            field = key.replace(".", "_")
            if field not in _PARSERS:
                raise InvalidConfigError(
                    f"unknown broker config {key!r}; known keys are: "
                    f"{', '.join(sorted(k.replace('_', '.') for k in _PARSERS))}"
                )
            changes[field] = _PARSERS[field](key, raw)
        return dataclasses.replace(cls(), **changes)

    def topic_defaults(self) -> LogConfig:
        """The topic config a new topic gets before its own overrides, as Kafka derives it."""
        retention_ms = (
            self.log_retention_ms
            if self.log_retention_ms is not None
            else self.log_retention_hours * 3_600_000
        )
        props: dict[str, Any] = {
            "retention.ms": retention_ms,
            "retention.bytes": self.log_retention_bytes,
            "segment.bytes": self.log_segment_bytes,
            "cleanup.policy": self.log_cleanup_policy,
            "max.message.bytes": self.message_max_bytes,
            "compression.type": self.compression_type,
            "min.insync.replicas": self.min_insync_replicas,
            "unclean.leader.election.enable": self.unclean_leader_election_enable,
        }
        if self.log_segment_ms is not None:
            props["segment.ms"] = self.log_segment_ms
        return LogConfig.from_properties(props)


def _text(key: str, raw: Any) -> str:
    return str(raw).strip()


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "num_partitions": parse_long(1),
    "default_replication_factor": parse_long(1),
    "min_insync_replicas": parse_long(1),
    "unclean_leader_election_enable": parse_bool,
    "auto_create_topics_enable": parse_bool,
    "replica_lag_time_max_ms": parse_long(1),
    "replica_fetch_wait_max_ms": parse_long(1),
    "replica_fetch_max_bytes": parse_long(1),
    "replica_fetch_backoff_ms": parse_long(1),
    "broker_heartbeat_interval_ms": parse_long(1),
    "broker_session_timeout_ms": parse_long(1),
    "request_timeout_ms": parse_long(1),
    "log_retention_hours": parse_long(-1),
    "log_retention_ms": parse_long(-1),
    "log_retention_bytes": parse_long(-1),
    "log_segment_bytes": parse_long(1),
    "log_segment_ms": parse_long(1),
    "log_cleanup_policy": _text,
    "log_retention_check_interval_ms": parse_long(1),
    "log_cleaner_backoff_ms": parse_long(1),
    "message_max_bytes": parse_long(1),
    "compression_type": _text,
    "offsets_topic_num_partitions": parse_long(1),
    "offsets_topic_replication_factor": parse_long(1),
    "group_initial_rebalance_delay_ms": parse_long(0),
    "group_min_session_timeout_ms": parse_long(1),
    "group_max_session_timeout_ms": parse_long(1),
    "auto_leader_rebalance_enable": parse_bool,
    "leader_imbalance_check_interval_seconds": parse_long(1),
}
