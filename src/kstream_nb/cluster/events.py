"""The cluster's own events: typed records appended to the internal `__kstream_events` topic."""

from __future__ import annotations

import msgspec

from kstream_nb.log import LogEvent

__all__ = [
    "BrokerFencedEvent",
    "BrokerStarted",
    "BrokerStopped",
    "BrokerUnfencedEvent",
    "ClusterEvent",
    "ControllerChanged",
    "GroupRebalanceCompleted",
    "GroupRebalanceStarted",
    "HighWatermarkMoved",
    "IsrChanged",
    "LeaderElected",
    "LogChanged",
    "NetworkChanged",
    "TopicConfigAltered",
    "TopicCreated",
    "TopicDeleted",
]


class BrokerStarted(msgspec.Struct, frozen=True, tag=True):
    time_ms: int
    broker_id: int
    restart: bool


class BrokerStopped(msgspec.Struct, frozen=True, tag=True):
    time_ms: int
    broker_id: int
    how: str  # "killed" (crash) or "controlled shutdown"


class BrokerFencedEvent(msgspec.Struct, frozen=True, tag=True):
    time_ms: int
    broker_id: int
    reason: str


class BrokerUnfencedEvent(msgspec.Struct, frozen=True, tag=True):
    time_ms: int
    broker_id: int


class ControllerChanged(msgspec.Struct, frozen=True, tag=True):
    time_ms: int
    controller_id: int | None


class LeaderElected(msgspec.Struct, frozen=True, tag=True):
    time_ms: int
    topic: str
    partition: int
    leader: int  # -1: offline, no leader
    leader_epoch: int
    previous_leader: int
    reason: str
    unclean: bool


class IsrChanged(msgspec.Struct, frozen=True, tag=True):
    time_ms: int
    topic: str
    partition: int
    isr: tuple[int, ...]
    previous_isr: tuple[int, ...]
    reason: str


class TopicCreated(msgspec.Struct, frozen=True, tag=True):
    time_ms: int
    topic: str
    partitions: int
    replication_factor: int


class TopicDeleted(msgspec.Struct, frozen=True, tag=True):
    time_ms: int
    topic: str


class TopicConfigAltered(msgspec.Struct, frozen=True, tag=True):
    time_ms: int
    topic: str
    config: dict[str, str]


class NetworkChanged(msgspec.Struct, frozen=True, tag=True):
    time_ms: int
    change: str  # isolate, cut, slow, heal
    brokers: tuple[int, ...]
    latency_ms: int = 0


class HighWatermarkMoved(msgspec.Struct, frozen=True, tag=True):
    """A leader advanced a partition's high watermark (only when tracing is switched on)."""

    time_ms: int
    broker_id: int
    topic: str
    partition: int
    high_watermark: int


class GroupRebalanceStarted(msgspec.Struct, frozen=True, tag=True):
    time_ms: int
    group_id: str
    generation: int  # the generation being replaced
    reason: str
    members: tuple[str, ...]


class GroupRebalanceCompleted(msgspec.Struct, frozen=True, tag=True):
    time_ms: int
    group_id: str
    generation: int
    protocol: str | None
    leader: str
    assignment: dict[str, list[tuple[str, int]]]  # member id -> partitions
    duration_ms: int
    reason: str


class LogChanged(msgspec.Struct, frozen=True, tag=True):
    """A storage event (segment rolled, deleted, compacted, log truncated) on one broker."""

    time_ms: int
    broker_id: int
    event: LogEvent


ClusterEvent = (
    BrokerStarted
    | BrokerStopped
    | BrokerFencedEvent
    | BrokerUnfencedEvent
    | ControllerChanged
    | LeaderElected
    | IsrChanged
    | TopicCreated
    | TopicDeleted
    | TopicConfigAltered
    | NetworkChanged
    | HighWatermarkMoved
    | GroupRebalanceStarted
    | GroupRebalanceCompleted
    | LogChanged
)
