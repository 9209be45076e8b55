"""Messages between brokers and the controller, carried by the runtime's transport."""

from __future__ import annotations

import msgspec

from kstream_nb.cluster.metadata import MetadataRecord, PartitionRecord
from kstream_nb.errors import ErrorCode

__all__ = [
    "AlterPartition",
    "AlterPartitionResponse",
    "BrokerHeartbeat",
    "FetchRequest",
    "FetchResponse",
    "HeartbeatResponse",
    "MetadataPush",
]


class BrokerHeartbeat(msgspec.Struct, frozen=True):
    """Broker -> controller, every `broker.heartbeat.interval.ms`; registers on first contact."""

    broker_id: int
    broker_epoch: int
    rack: str | None
    metadata_offset: int
    want_shutdown: bool = False


class HeartbeatResponse(msgspec.Struct, frozen=True):
    """Controller -> broker: metadata the broker lacks, and whether it is fenced."""

    controller_id: int
    start_offset: int
    records: tuple[MetadataRecord, ...]
    fenced: bool
    shutdown_ready: bool = False


class MetadataPush(msgspec.Struct, frozen=True):
    """Controller -> brokers, right after the controller commits new records."""

    controller_id: int
    start_offset: int
    records: tuple[MetadataRecord, ...]


class AlterPartition(msgspec.Struct, frozen=True):
    """Leader -> controller: shrink or expand a partition's ISR (KIP-497)."""

    broker_id: int
    broker_epoch: int
    topic: str
    partition: int
    leader_epoch: int
    partition_epoch: int
    new_isr: tuple[int, ...]


class AlterPartitionResponse(msgspec.Struct, frozen=True):
    topic: str
    partition: int
    error: ErrorCode
    state: PartitionRecord | None


class FetchRequest(msgspec.Struct, frozen=True):
    """Follower -> leader: records from `fetch_offset`, with KIP-320/KIP-595 epoch checks."""

    replica_id: int
    request_id: int
    topic: str
    partition: int
    fetch_offset: int
    current_leader_epoch: int
    last_fetched_epoch: int
    max_bytes: int
    max_wait_ms: int = 500  # how long the leader may hold an answer that has nothing new
    log_start_offset: int = -1  # the follower's, so the leader can tell it when it moved


class FetchResponse(msgspec.Struct, frozen=True):
    request_id: int
    topic: str
    partition: int
    error: ErrorCode
    records: bytes = b""
    high_watermark: int = -1
    log_start_offset: int = -1
    diverging_epoch: int = -1
    diverging_end_offset: int = -1
