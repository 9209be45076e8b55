"""Log compaction: keep the latest record per key in sealed segments, as Kafka's log cleaner does.

One pass builds a map key -> latest offset over the dirty part of the log (from the cleaner
checkpoint to the first uncleanable segment), then rewrites every cleanable segment keeping a
record only if no later record has its key. Offsets and order are kept; batches keep their base
and last offsets. Tombstones (null values) survive one pass and get a KIP-534 delete horizon
(`now + delete.retention.ms`, stored in the batch); a later pass after the horizon drops them.
The active segment, segments reaching past the high watermark and segments younger than
`min.compaction.lag.ms` are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kstream_nb.log.batch import Record, RecordBatch, build_batch
from kstream_nb.log.events import LogCompacted
from kstream_nb.log.segment import LogSegment

if TYPE_CHECKING:
    from kstream_nb.log.partition_log import PartitionLog

__all__ = ["CleanResult", "clean", "cleanable_range"]

_INT32_MAX = 2**31 - 1


@dataclass(frozen=True, slots=True)
class CleanResult:
    """What one cleaning pass did."""

    first_offset: int
    end_offset: int
    records_before: int
    records_after: int
    bytes_before: int
    bytes_after: int
    tombstones_removed: int


def cleanable_range(log: PartitionLog, now: int) -> list[LogSegment]:
    """The leading sealed segments the cleaner may rewrite now."""
    segments = log.segments
    out: list[LogSegment] = []
    lag = log.config.min_compaction_lag_ms
    for i, segment in enumerate(segments[:-1]):  # never the active segment
        if segments[i + 1].base_offset > log.high_watermark:
            break
        if segment.max_timestamp >= 0 and segment.max_timestamp > now - lag:
            break
        out.append(segment)
    return out


def _is_due(log: PartitionLog, cleanable: list[LogSegment], first_dirty: int, now: int) -> bool:
    dirty_bytes = clean_bytes = 0
    oldest_dirty: int | None = None
    for i, segment in enumerate(cleanable):
        end = cleanable[i + 1].base_offset if i + 1 < len(cleanable) else segment.next_offset
        if end <= first_dirty:
            clean_bytes += segment.size
        else:
            dirty_bytes += segment.size
            if oldest_dirty is None and segment.rolling_based_timestamp is not None:
                oldest_dirty = segment.rolling_based_timestamp
    total = dirty_bytes + clean_bytes
    if dirty_bytes and total and dirty_bytes / total >= log.config.min_cleanable_dirty_ratio:
        return True
    if oldest_dirty is not None and now - oldest_dirty > log.config.max_compaction_lag_ms:
        return True
    horizon = log.next_delete_horizon_ms
    return horizon is not None and now >= horizon


def clean(log: PartitionLog, now: int, *, force: bool = False) -> CleanResult | None:
    """One cleaning pass over `log`; None when nothing is cleanable or due."""
    cleanable = cleanable_range(log, now)
    if not cleanable:
        return None
    first_dirty = max(log.cleaner_checkpoint, log.log_start_offset)
    end_offset = log.segments[len(cleanable)].base_offset
    if not force and not _is_due(log, cleanable, first_dirty, now):
        return None

    latest: dict[bytes, int] = {}
    for segment in cleanable:
        if segment.next_offset <= first_dirty:
            continue
        for batch in segment.read_batches():
            if batch.is_control or batch.last_offset < first_dirty:
                continue
            for record in batch.records():
                if record.key is not None:
                    latest[record.key] = record.offset

    retention = log.config.delete_retention_ms
    records_before = records_after = tombstones_removed = 0
    bytes_before = sum(s.size for s in cleanable)
    new_segments: list[LogSegment] = []
    next_horizon: int | None = None
    for group in _groups(cleanable, log.config.segment_bytes, log.config.segment_index_bytes):
        target = LogSegment(
            log.directory,
            group[0].base_offset,
            index_interval_bytes=log.config.index_interval_bytes,
            max_index_bytes=log.config.segment_index_bytes,
            suffix=".cleaned",
            now_ms=now,
        )
        for segment in group:
            for batch in segment.read_batches():
                records_before += batch.record_count
                kept, dropped_tombstones, horizon = _retained(batch, latest, now, retention)
                tombstones_removed += dropped_tombstones
                if kept is None:
                    data = batch.data
                    records_after += batch.record_count
                elif kept:
                    data = build_batch(
                        kept,
                        base_offset=batch.base_offset,
                        compression=batch.compression,
                        producer_id=batch.producer_id,
                        producer_epoch=batch.producer_epoch,
                        base_sequence=batch.base_sequence,
                        transactional=batch.is_transactional,
                        partition_leader_epoch=batch.partition_leader_epoch,
                        timestamp_type=batch.timestamp_type,
                        max_timestamp=batch.max_timestamp,
                        delete_horizon_ms=horizon,
                        last_offset_delta=batch.last_offset_delta,
                    )
                    records_after += len(kept)
                else:
                    continue
                if horizon is not None and (next_horizon is None or horizon < next_horizon):
                    next_horizon = horizon
                rewritten = RecordBatch(data)
                target.append(
                    data,
                    [
                        (
                            rewritten.base_offset,
                            rewritten.last_offset,
                            rewritten.max_timestamp,
                            rewritten.size,
                        )
                    ],
                    now,
                )
        target.last_modified_ms = max(s.last_modified_ms for s in group)
        if target.size == 0 and new_segments:
            target.delete()  # a group compacted to nothing: later offsets simply continue
            continue
        new_segments.append(target)

    log._install_cleaned(cleanable, new_segments)
    log.cleaner_checkpoint = end_offset
    log.next_delete_horizon_ms = next_horizon
    log._write_checkpoint()
    result = CleanResult(
        first_offset=cleanable[0].base_offset,
        end_offset=end_offset,
        records_before=records_before,
        records_after=records_after,
        bytes_before=bytes_before,
        bytes_after=sum(s.size for s in new_segments),
        tombstones_removed=tombstones_removed,
    )
    log._emit(
        LogCompacted(
            log.topic,
            log.partition,
            result.first_offset,
            result.end_offset,
            result.records_before,
            result.records_after,
            result.bytes_before,
            result.bytes_after,
            result.tombstones_removed,
        )
    )
    return result


def _retained(
    batch: RecordBatch, latest: dict[bytes, int], now: int, delete_retention_ms: int
) -> tuple[list[Record] | None, int, int | None]:
    """(records to keep, or None to keep the batch as is; tombstones dropped; delete horizon)."""
    if batch.is_control:
        return None, 0, None
    horizon = batch.delete_horizon_ms
    expired = horizon is not None and now >= horizon
    kept: list[Record] = []
    tombstones_kept = tombstones_dropped = 0
    for record in batch.records():
        if record.key is None:
            continue  # a compacted log cannot hold keyless records; Kafka's cleaner drops them
        newest = latest.get(record.key)
        if newest is not None and newest > record.offset:
            continue
        if record.value is None:
            if expired:
                tombstones_dropped += 1
                continue
            tombstones_kept += 1
        kept.append(record)
    if tombstones_kept and horizon is None:
        horizon = now + delete_retention_ms
    elif not tombstones_kept:
        horizon = None
    if len(kept) == batch.record_count and horizon == batch.delete_horizon_ms:
        return None, 0, horizon
    return kept, tombstones_dropped, horizon


def _groups(
    segments: list[LogSegment], max_bytes: int, max_index_bytes: int
) -> list[list[LogSegment]]:
    """Consecutive segments whose cleaned output fits one segment (Kafka's groupSegmentsBySize)."""
    groups: list[list[LogSegment]] = []
    for segment in segments:
        if groups:
            group = groups[-1]
            size = sum(s.size for s in group) + segment.size
            entries = sum(len(s.offset_index) for s in group) + len(segment.offset_index)
            span = segment.next_offset - 1 - group[0].base_offset
            if size <= max_bytes and entries * 8 <= max_index_bytes and span <= _INT32_MAX:
                group.append(segment)
                continue
        groups.append([segment])
    return groups
