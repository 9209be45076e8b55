"""Topic-level log configuration with Kafka's names, types and defaults.

`LogConfig.from_properties({"retention.ms": "3600000"})` accepts what a user would pass to
`kafka-topics --config`; unknown keys and bad values raise INVALID_CONFIG naming what is allowed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kstream_nb.log.errors import InvalidConfigError

__all__ = ["LONG_MAX", "LogConfig", "parse_bool", "parse_int", "parse_long"]

LONG_MAX = 2**63 - 1
COMPRESSION_TYPES = ("producer", "uncompressed", "gzip", "snappy", "lz4", "zstd")
TIMESTAMP_TYPES = ("CreateTime", "LogAppendTime")
CLEANUP_POLICIES = ("delete", "compact")
VALUE_FORMATS = ("auto", "json", "raw")

CleanupPolicy = frozenset[Literal["delete", "compact"]]


@dataclass(frozen=True, slots=True, kw_only=True)
class LogConfig:
    """The per-topic settings the log obeys; field names are Kafka's with `_` for `.`."""

    segment_bytes: int = 1024 * 1024 * 1024
    segment_ms: int = 7 * 24 * 3_600_000
    segment_jitter_ms: int = 0
    segment_index_bytes: int = 10 * 1024 * 1024
    index_interval_bytes: int = 4096
    flush_messages: int = LONG_MAX
    flush_ms: int = LONG_MAX
    retention_ms: int = 7 * 24 * 3_600_000
    retention_bytes: int = -1
    cleanup_policy: CleanupPolicy = frozenset({"delete"})
    delete_retention_ms: int = 24 * 3_600_000
    min_compaction_lag_ms: int = 0
    max_compaction_lag_ms: int = LONG_MAX
    min_cleanable_dirty_ratio: float = 0.5
    max_message_bytes: int = 1024 * 1024 + 12
    message_timestamp_type: Literal["CreateTime", "LogAppendTime"] = "CreateTime"
    message_timestamp_before_max_ms: int = LONG_MAX
    message_timestamp_after_max_ms: int = LONG_MAX
    compression_type: str = "producer"
    file_delete_delay_ms: int = 60_000
    preallocate: bool = False
    min_insync_replicas: int = 1
    unclean_leader_election_enable: bool = False
    # Not Kafka's: how the columnar twins read values (auto: typed columns if all are JSON).
    kstream_value_format: Literal["auto", "json", "raw"] = "auto"

    @property
    def compact(self) -> bool:
        """Whether `cleanup.policy` includes compact."""
        return "compact" in self.cleanup_policy

    @property
    def delete(self) -> bool:
        """Whether `cleanup.policy` includes delete."""
        return "delete" in self.cleanup_policy

    @classmethod
    def from_properties(
        cls, properties: Mapping[str, Any], base: LogConfig | None = None
    ) -> LogConfig:
        """A config from Kafka-named properties, over `base` (or the defaults)."""
        changes: dict[str, Any] = {}
        for key, raw in properties.items():
            spec = _SPECS.get(key)
            if spec is None:
                raise InvalidConfigError(
                    f"unknown topic config {key!r}; known keys are: {', '.join(sorted(_SPECS))}"
                )
            changes[_field_name(key)] = spec(key, raw)
        return dataclasses.replace(base or cls(), **changes)

    def to_properties(self) -> dict[str, str]:
        """Every setting by its Kafka name, as text, as `kafka-configs --describe` shows it."""
        out: dict[str, str] = {}
        for key in _SPECS:
            value = getattr(self, _field_name(key))
            if isinstance(value, frozenset):
                out[key] = ",".join(p for p in CLEANUP_POLICIES if p in value)
            elif isinstance(value, bool):
                out[key] = str(value).lower()
            else:
                out[key] = str(value)
        return out


def _field_name(key: str) -> str:
    return key.replace(".", "_")


def parse_long(minimum: int) -> Callable[[str, Any], int]:
    def parse(key: str, raw: Any) -> int:
        if isinstance(raw, bool):
            raise InvalidConfigError(f"{key} must be a whole number, got {raw!r}")
        try:
            value = int(str(raw).strip()) if not isinstance(raw, int) else raw
        except ValueError:
            raise InvalidConfigError(f"{key} must be a whole number, got {raw!r}") from None
        if value < minimum or value > LONG_MAX:
            raise InvalidConfigError(f"{key} must be at least {minimum}, got {value}")
        return value

    return parse


def parse_int(minimum: int) -> Callable[[str, Any], int]:
    as_long = parse_long(minimum)

    def parse(key: str, raw: Any) -> int:
        value = as_long(key, raw)
        if value > 2**31 - 1:
            raise InvalidConfigError(
                f"{key} must fit in 32 bits (at most {2**31 - 1}), got {value}"
            )
        return value

    return parse


def _ratio(key: str, raw: Any) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise InvalidConfigError(f"{key} must be a number between 0 and 1, got {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise InvalidConfigError(f"{key} must be between 0 and 1, got {value}")
    return value


def parse_bool(key: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise InvalidConfigError(f"{key} must be true or false, got {raw!r}")


def _choice(choices: tuple[str, ...]) -> Callable[[str, Any], str]:
    def parse(key: str, raw: Any) -> str:
        text = str(raw).strip()
        if text not in choices:
            raise InvalidConfigError(f"{key} must be one of {', '.join(choices)}; got {raw!r}")
        return text

    return parse


def _policy(key: str, raw: Any) -> CleanupPolicy:
    parts = raw if isinstance(raw, list | tuple | set | frozenset) else str(raw).split(",")
    names = {str(p).strip() for p in parts if str(p).strip()}
    if not names or not names <= set(CLEANUP_POLICIES):
        raise InvalidConfigError(
            f"{key} must be delete, compact, or both as 'compact,delete'; got {raw!r}"
        )
    return frozenset(names)  # type: ignore[arg-type]  # checked against CLEANUP_POLICIES above


_SPECS: dict[str, Callable[[str, Any], Any]] = {
    "segment.bytes": parse_int(14),
    "segment.ms": parse_long(1),
    "segment.jitter.ms": parse_long(0),
    "segment.index.bytes": parse_int(4),
    "index.interval.bytes": parse_int(0),
    "flush.messages": parse_long(1),
    "flush.ms": parse_long(0),
    "retention.ms": parse_long(-1),
    "retention.bytes": parse_long(-1),
    "cleanup.policy": _policy,
    "delete.retention.ms": parse_long(0),
    "min.compaction.lag.ms": parse_long(0),
    "max.compaction.lag.ms": parse_long(1),
    "min.cleanable.dirty.ratio": _ratio,
    "max.message.bytes": parse_int(0),
    "message.timestamp.type": _choice(TIMESTAMP_TYPES),
    "message.timestamp.before.max.ms": parse_long(0),
    "message.timestamp.after.max.ms": parse_long(0),
    "compression.type": _choice(COMPRESSION_TYPES),
    "file.delete.delay.ms": parse_long(0),
    "preallocate": parse_bool,
    "min.insync.replicas": parse_int(1),
    "unclean.leader.election.enable": parse_bool,
    "kstream.value.format": _choice(VALUE_FORMATS),
}
