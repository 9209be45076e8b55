"""What the log reports about itself: typed events the cluster publishes to its events topic."""

from __future__ import annotations

import msgspec

__all__ = [
    "LogCompacted",
    "LogEvent",
    "LogRecovered",
    "LogTruncated",
    "SegmentDeleted",
    "SegmentRolled",
]


class SegmentRolled(msgspec.Struct, frozen=True, tag=True):
    """A new active segment was started; the previous one is sealed."""

    topic: str
    partition: int
    base_offset: int
    reason: str  # segment.bytes, segment.ms, index full, offset range, forced


class SegmentDeleted(msgspec.Struct, frozen=True, tag=True):
    """A whole sealed segment was removed and the log start offset moved past it."""

    topic: str
    partition: int
    base_offset: int
    next_offset: int
    size: int
    reason: str  # retention.ms, retention.bytes, log start offset


class LogCompacted(msgspec.Struct, frozen=True, tag=True):
    """The cleaner rewrote sealed segments, keeping the latest record per key."""

    topic: str
    partition: int
    first_offset: int
    end_offset: int
    records_before: int
    records_after: int
    bytes_before: int
    bytes_after: int
    tombstones_removed: int


class LogTruncated(msgspec.Struct, frozen=True, tag=True):
    """Records at and above `offset` were removed (a follower matching its leader)."""

    topic: str
    partition: int
    offset: int
    bytes_removed: int


class LogRecovered(msgspec.Struct, frozen=True, tag=True):
    """The log was opened after an unclean shutdown and its tail was checked."""

    topic: str
    partition: int
    log_end_offset: int
    bytes_truncated: int
    segments_checked: int


LogEvent = SegmentRolled | SegmentDeleted | LogCompacted | LogTruncated | LogRecovered
