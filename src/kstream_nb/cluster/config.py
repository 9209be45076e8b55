"""Broker-level configuration with Kafka's names and defaults (`server.properties`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kstream_nb.log import InvalidConfigError, LogConfig

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


def _int(key: str, raw: Any) -> int:
    if isinstance(raw, bool):
        raise InvalidConfigError(f"{key} must be a whole number, got {raw!r}")
    try:
        return int(str(raw).strip())
    except ValueError:
        raise InvalidConfigError(f"{key} must be a whole number, got {raw!r}") from None


def _positive(key: str, raw: Any) -> int:
    value = _int(key, raw)
    if value < 1:
        raise InvalidConfigError(f"{key} must be at least 1, got {value}")
    return value


def _bool(key: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text not in ("true", "false"):
        raise InvalidConfigError(f"{key} must be true or false, got {raw!r}")
    return text == "true"


def _text(key: str, raw: Any) -> str:
    return str(raw).strip()


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "num_partitions": _positive,
    "default_replication_factor": _positive,
    "min_insync_replicas": _positive,
    "unclean_leader_election_enable": _bool,
    "auto_create_topics_enable": _bool,
    "replica_lag_time_max_ms": _positive,
    "replica_fetch_wait_max_ms": _positive,
    "replica_fetch_max_bytes": _positive,
    "replica_fetch_backoff_ms": _positive,
    "broker_heartbeat_interval_ms": _positive,
    "broker_session_timeout_ms": _positive,
    "request_timeout_ms": _positive,
    "log_retention_hours": _int,
    "log_retention_ms": _int,
    "log_retention_bytes": _int,
    "log_segment_bytes": _positive,
    "log_segment_ms": _positive,
    "log_cleanup_policy": _text,
    "log_retention_check_interval_ms": _positive,
    "log_cleaner_backoff_ms": _positive,
    "message_max_bytes": _positive,
    "compression_type": _text,
    "auto_leader_rebalance_enable": _bool,
    "leader_imbalance_check_interval_seconds": _positive,
}
