"""Topic configs: Kafka's names, defaults and validation."""

from __future__ import annotations

import pytest

from kstream_nb.log import InvalidConfigError, LogConfig


def test_defaults_are_kafkas() -> None:
    props = LogConfig().to_properties()
    assert props["segment.bytes"] == "1073741824"
    assert props["retention.ms"] == "604800000"
    assert props["retention.bytes"] == "-1"
    assert props["cleanup.policy"] == "delete"
    assert props["delete.retention.ms"] == "86400000"
    assert props["min.cleanable.dirty.ratio"] == "0.5"
    assert props["max.message.bytes"] == "1048588"
    assert props["index.interval.bytes"] == "4096"
    assert props["segment.index.bytes"] == "10485760"
    assert props["message.timestamp.type"] == "CreateTime"
    assert props["min.insync.replicas"] == "1"
    assert props["unclean.leader.election.enable"] == "false"


def test_properties_parse_from_text_and_round_trip() -> None:
    config = LogConfig.from_properties(
        {
            "retention.ms": "3600000",
            "cleanup.policy": "compact,delete",
            "preallocate": "true",
            "min.cleanable.dirty.ratio": "0.1",
        }
    )
    assert config.retention_ms == 3_600_000
    assert config.compact
    assert config.delete
    assert config.preallocate is True
    assert LogConfig.from_properties(config.to_properties()) == config


def test_overrides_apply_over_a_base() -> None:
    base = LogConfig.from_properties({"retention.ms": 1000})
    assert LogConfig.from_properties({"segment.ms": 5}, base).retention_ms == 1000


@pytest.mark.parametrize(
    ("key", "value", "hint"),
    [
        ("retention.msec", "1", "unknown topic config"),
        ("retention.ms", "a week", "whole number"),
        ("retention.ms", "-2", "at least -1"),
        ("cleanup.policy", "archive", "delete, compact"),
        ("min.cleanable.dirty.ratio", "2", "between 0 and 1"),
        ("message.timestamp.type", "EventTime", "CreateTime, LogAppendTime"),
        ("segment.bytes", str(2**31), "32 bits"),
        ("preallocate", "yes", "true or false"),
    ],
)
def test_bad_configs_are_invalid_config_and_say_what_is_allowed(
    key: str, value: str, hint: str
) -> None:
    with pytest.raises(InvalidConfigError, match=hint) as err:
        LogConfig.from_properties({key: value})
    assert err.value.name == "INVALID_CONFIG"
