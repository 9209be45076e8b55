"""The log of one partition replica: segments in a `<topic>-<partition>` folder, as Kafka keeps it.

`PartitionLog` appends batches (assigning offsets as a leader, or keeping them as a follower),
reads whole batches from an offset, finds offsets by timestamp, truncates, applies retention and
compaction, and recovers from a crash. It owns no thread and reads time only from its `Clock`.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec

from kstream_nb.clock import Clock
from kstream_nb.log.batch import (
    Compression,
    Record,
    RecordBatch,
    build_batch,
    header_max_timestamp,
    iter_batches,
    stamp_batch,
    stamped,
)
from kstream_nb.log.config import LONG_MAX, LogConfig
from kstream_nb.log.decoded import DECODED
from kstream_nb.log.errors import (
    InvalidRecordError,
    InvalidTimestampError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
    StorageError,
)
from kstream_nb.log.events import (
    LogEvent,
    LogRecovered,
    LogTruncated,
    SegmentDeleted,
    SegmentRolled,
)
from kstream_nb.log.leader_epoch import LeaderEpochCache
from kstream_nb.log.producer_state import ProducerStateManager
from kstream_nb.log.segment import LogSegment
from kstream_nb.log.twin import (
    TWIN_SUFFIX,
    TwinInfo,
    TwinJob,
    read_twin_info,
    twin_path,
)

__all__ = [
    "EARLIEST_TIMESTAMP",
    "LATEST_TIMESTAMP",
    "MAX_TIMESTAMP",
    "AppendInfo",
    "OffsetAndTimestamp",
    "PartitionLog",
    "parse_partition_dir",
]

# ListOffsets' special timestamps.
LATEST_TIMESTAMP = -1
EARLIEST_TIMESTAMP = -2
MAX_TIMESTAMP = -3

CHECKPOINT_FILE = "partition.checkpoint"
CLEAN_SHUTDOWN_FILE = ".kafka_cleanshutdown"
_INT32_MAX = 2**31 - 1


class AppendInfo(msgspec.Struct, frozen=True, gc=False):
    """What an append wrote: Kafka's LogAppendInfo, trimmed to what callers use."""

    first_offset: int
    last_offset: int
    record_count: int
    max_timestamp: int
    offset_of_max_timestamp: int
    log_append_time: int  # -1 unless the topic uses LogAppendTime
    log_start_offset: int
    size: int
    duplicate: bool = False  # a retried idempotent batch already in the log: nothing written


class OffsetAndTimestamp(msgspec.Struct, frozen=True, gc=False):
    """An answer to ListOffsets: the offset found and the timestamp of its record (-1 if none)."""

    offset: int
    timestamp: int


def parse_partition_dir(directory: Path) -> tuple[str, int]:
    """`orders-2` -> ("orders", 2); Kafka names a replica's folder `<topic>-<partition>`."""
    topic, sep, partition = directory.name.rpartition("-")
    if not sep or not topic or not partition.isdigit():
        raise StorageError(
            f"{directory.name!r} is not a partition folder; name it <topic>-<partition>, "
            "like orders-0"
        )
    return topic, int(partition)


def _read_checkpoint(path: Path) -> dict[str, int]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return {}
    if not lines or lines[0].strip() != "0":
        return {}
    out: dict[str, int] = {}
    for line in lines[1:]:
        key, _, value = line.partition(" ")
        try:
            out[key] = int(value)
        except ValueError:
            return {}
    return out


def _write_checkpoint(path: Path, values: dict[str, int]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    body = "0\n" + "".join(f"{k} {v}\n" for k, v in values.items())
    with open(tmp, "w") as fh:
        fh.write(body)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class PartitionLog:
    """A partition replica's log on disk, in Kafka's format and with Kafka's semantics."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        config: LogConfig | None = None,
        clock: Clock | None = None,
        *,
        on_event: Callable[[LogEvent], None] | None = None,
    ) -> None:
        from kstream_nb.clock import SystemClock

        self.directory = Path(directory)
        self.topic, self.partition = parse_partition_dir(self.directory)
        self.config = config or LogConfig()
        self.clock: Clock = clock or SystemClock()
        self._on_event = on_event
        self._segments: list[LogSegment] = []
        self._bases: list[int] = []
        self._closed = False
        self._unflushed = 0
        self._last_flush_ms = self.clock.now_ms()
        self.recovery_point = 0
        self.cleaner_checkpoint = 0
        self.high_watermark = 0
        self.log_start_offset = 0
        # Earliest KIP-534 delete horizon the cleaner stamped; unknown (None) after reopening.
        self.next_delete_horizon_ms: int | None = None
        # Columnar twins of sealed segments by base offset, and the jobs handed out for more.
        self.twins: dict[int, TwinInfo] = {}
        self._twin_jobs: dict[int, LogSegment] = {}
        self._open()

    # -- opening and recovery ----------------------------------------------------------------

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        checkpoint = _read_checkpoint(self.directory / CHECKPOINT_FILE)
        clean_marker = self.directory / CLEAN_SHUTDOWN_FILE
        clean = clean_marker.exists()
        self._complete_interrupted_swaps()
        now = self.clock.now_ms()
        bases = sorted(
            int(p.name[:-4])
            for p in self.directory.glob("*.log")
            if p.name[:-4].isdigit() and len(p.name) == 24
        )
        for base in bases:
            segment = self._new_segment(base, now, register=False)
            if not segment.load():
                segment.recover()
            self._segments.append(segment)
        self._bases = [s.base_offset for s in self._segments]
        self.recovery_point = checkpoint.get("recovery-point", 0)
        truncated = 0
        checked = 0
        if not clean and self._segments:
            truncated, checked = self._recover_from(self.recovery_point)
        if not self._segments:
            start = checkpoint.get("log-start-offset", 0)
            self._segments.append(self._new_segment(start, now, register=False))
            self._bases = [start]
        self.log_start_offset = max(checkpoint.get("log-start-offset", 0), self._bases[0])
        self.log_start_offset = min(self.log_start_offset, self.log_end_offset)
        self.recovery_point = min(
            max(self.recovery_point, self.log_start_offset), self.log_end_offset
        )
        self.cleaner_checkpoint = checkpoint.get("cleaner-offset", 0)
        self.high_watermark = min(
            max(checkpoint.get("high-watermark", 0), self.log_start_offset), self.log_end_offset
        )
        self.producer_state = ProducerStateManager()
        self._rebuild_producer_state()
        self.leader_epochs = LeaderEpochCache(self.directory)
        self.leader_epochs.truncate_from_end(self.log_end_offset)
        self.leader_epochs.truncate_from_start(self.log_start_offset)
        clean_marker.unlink(missing_ok=True)
        self._load_twins()
        if not clean and bases:
            self._emit(
                LogRecovered(self.topic, self.partition, self.log_end_offset, truncated, checked)
            )

    def _complete_interrupted_swaps(self) -> None:
        """Finish or undo a compaction that a crash interrupted (Kafka's `.cleaned`/`.swap`)."""
        for leftover in self.directory.glob("*.cleaned"):
            leftover.unlink()
        for leftover in self.directory.glob("*.deleted"):
            leftover.unlink()
        for swap_log in sorted(self.directory.glob("*.log.swap")):
            base = int(swap_log.name.split(".")[0])
            swap = LogSegment(
                self.directory,
                base,
                index_interval_bytes=0,
                max_index_bytes=1 << 30,
                suffix=".swap",
            )
            swap.recover()
            last = swap.next_offset - 1
            for old_log in self.directory.glob("*.log"):
                old_base = int(old_log.name[:-4])
                if base <= old_base <= last:
                    old = LogSegment(
                        self.directory, old_base, index_interval_bytes=0, max_index_bytes=1 << 30
                    )
                    old.delete()
            swap.change_suffix(".swap", "")
            swap.close()
            # Indexes were rebuilt with a throwaway interval; the next open rebuilds them properly.
            swap.offset_index.path.unlink(missing_ok=True)
            swap.time_index.path.unlink(missing_ok=True)
        for leftover in self.directory.glob("*.swap"):
            leftover.unlink()

    def _recover_from(self, recovery_point: int) -> tuple[int, int]:
        """Check every batch at or after the recovery point; cut at the first bad one."""
        truncated = 0
        checked = 0
        start = max(0, bisect.bisect_right(self._bases, recovery_point) - 1)
        i = start
        while i < len(self._segments):
            segment = self._segments[i]
            cut = segment.recover()
            checked += 1
            truncated += cut
            expected_next = (
                self._segments[i + 1].base_offset if i + 1 < len(self._segments) else None
            )
            if cut and expected_next is not None:
                # Data after a damaged batch cannot be trusted to follow it: drop later segments.
                for later in self._segments[i + 1 :]:
                    truncated += later.size
                    later.delete()
                del self._segments[i + 1 :]
                break
            i += 1
        # Drop segments that no longer continue the offsets of the one before them.
        for j in range(1, len(self._segments)):
            if self._segments[j].base_offset < self._segments[j - 1].next_offset:
                for later in self._segments[j:]:
                    truncated += later.size
                    later.delete()
                del self._segments[j:]
                break
        self._bases = [s.base_offset for s in self._segments]
        return truncated, checked

    def _new_segment(self, base_offset: int, now_ms: int, *, register: bool = True) -> LogSegment:
        segment = LogSegment(
            self.directory,
            base_offset,
            index_interval_bytes=self.config.index_interval_bytes,
            max_index_bytes=self.config.segment_index_bytes,
            now_ms=now_ms,
        )
        if register:
            self._segments.append(segment)
            self._bases.append(base_offset)
        return segment

    # -- state -------------------------------------------------------------------------------

    @property
    def active_segment(self) -> LogSegment:
        return self._segments[-1]

    @property
    def segments(self) -> tuple[LogSegment, ...]:
        return tuple(self._segments)

    @property
    def log_end_offset(self) -> int:
        """The offset the next appended record gets (LEO)."""
        return self._segments[-1].next_offset

    @property
    def size_in_bytes(self) -> int:
        return sum(s.size for s in self._segments)

    def update_high_watermark(self, offset: int) -> int:
        """Set the high watermark (clamped to the log's range); returns the value kept."""
        self.high_watermark = min(max(offset, self.log_start_offset), self.log_end_offset)
        return self.high_watermark

    def update_config(self, config: LogConfig) -> None:
        """Apply new topic settings; they take effect from the next append or housekeeping pass."""
        self.config = config

    def _emit(self, event: LogEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"log {self.directory.name} is closed; open it again to use it")

    # -- appending ---------------------------------------------------------------------------

    def append_as_leader(
        self,
        records: bytes | bytearray | memoryview,
        leader_epoch: int = -1,
        *,
        trusted_encoder: bool = False,
    ) -> AppendInfo:
        """Validate batches from a producer, assign their offsets, and append them.

        Checks what Kafka's LogValidator checks: magic v2, CRC, `max.message.bytes`, record
        structure and offset deltas, keys on compacted topics, timestamp bounds; rewrites
        compression when the topic's `compression.type` is not `producer`, and stamps
        LogAppendTime when the topic asks for it. Nothing is written unless every batch is valid.

        `trusted_encoder=True` says the batches were built in this process by kstream_nb's own
        encoder (its producer): their record structure is right by construction, so records are
        decoded only when the topic needs them (compaction keys, timestamp bounds); the CRC,
        sizes and headers are still checked. Bytes from anywhere else are decoded in full.
        """
        self._check_open()
        now = self.clock.now_ms()
        config = self.config
        batches = self._validated(records, from_client=True, trusted=trusted_encoder)
        target = (
            None
            if config.compression_type == "producer"
            else Compression.from_name(config.compression_type)
        )
        if target is not None and any(b.compression is not target for b in batches):
            batches = [self._recompressed(b, target) for b in batches]
        log_append_time = now if config.message_timestamp_type == "LogAppendTime" else -1
        duplicate = self._check_producers(batches)
        if duplicate is not None:
            return duplicate
        next_offset = self.log_end_offset
        meta: list[tuple[int, int, int, int]] = []
        max_ts, offset_of_max = -1, next_offset
        for b in batches:
            last = next_offset + b.last_offset_delta
            batch_max = log_append_time if log_append_time >= 0 else b.max_timestamp
            if batch_max > max_ts:
                max_ts, offset_of_max = batch_max, last
            meta.append((next_offset, last, batch_max, b.size))
            next_offset = last + 1
        only = batches[0]
        buf: bytes | bytearray
        if (
            len(batches) == 1
            and log_append_time < 0
            and header_max_timestamp(only.data) == only.max_timestamp
        ):
            # The usual produce request: one batch whose CRC stays valid, copied once.
            buf = stamped(only.data, base_offset=meta[0][0], partition_leader_epoch=leader_epoch)
        else:
            buf = bytearray().join(b.data for b in batches)
            pos = 0
            for b, (base, _, _, size) in zip(batches, meta, strict=True):
                stamp_batch(
                    buf,
                    pos,
                    base_offset=base,
                    partition_leader_epoch=leader_epoch,
                    log_append_time=log_append_time if log_append_time >= 0 else None,
                    max_timestamp=b.max_timestamp,
                )
                pos += size
        first = meta[0][0]
        self._write(buf, meta, now, max_ts)
        self.leader_epochs.assign(leader_epoch, first)
        for b, (base, last, batch_max, _) in zip(batches, meta, strict=True):
            self._note_producer(
                b.producer_id,
                b.producer_epoch,
                b.base_sequence,
                b.last_offset_delta,
                b.attributes,
                base,
                last,
                batch_max,
            )
        return AppendInfo(
            first_offset=first,
            last_offset=next_offset - 1,
            record_count=sum(b.record_count for b in batches),
            max_timestamp=max_ts,
            offset_of_max_timestamp=offset_of_max,
            log_append_time=log_append_time,
            log_start_offset=self.log_start_offset,
            size=len(buf),
        )

    def append_as_follower(self, records: bytes | bytearray | memoryview) -> AppendInfo:
        """Append batches that already carry offsets (from a leader's fetch response).

        Offsets must start at or after the log end offset and grow; gaps (left by compaction on
        the leader) are kept as they are.
        """
        self._check_open()
        now = self.clock.now_ms()
        batches = self._validated(records, from_client=False)
        meta: list[tuple[int, int, int, int]] = []
        expected = self.log_end_offset
        max_ts, offset_of_max = -1, expected
        for b in batches:
            if b.base_offset < expected:
                raise InvalidRecordError(
                    f"batch at offset {b.base_offset} is below the log end offset {expected} of "
                    f"{self.directory.name}; truncate the follower before appending"
                )
            if b.max_timestamp > max_ts:
                max_ts, offset_of_max = b.max_timestamp, b.last_offset
            meta.append((b.base_offset, b.last_offset, b.max_timestamp, b.size))
            expected = b.next_offset
        buf = records if len(batches) > 1 else batches[0].data  # whole batches, as fetched
        self._write(buf, meta, now, max_ts)
        for b in batches:
            self.leader_epochs.assign(b.partition_leader_epoch, b.base_offset)
            self._note_producer(
                b.producer_id,
                b.producer_epoch,
                b.base_sequence,
                b.last_offset_delta,
                b.attributes,
                b.base_offset,
                b.last_offset,
                b.max_timestamp,
            )
        return AppendInfo(
            first_offset=batches[0].base_offset,
            last_offset=batches[-1].last_offset,
            record_count=sum(b.record_count for b in batches),
            max_timestamp=max_ts,
            offset_of_max_timestamp=offset_of_max,
            log_append_time=-1,
            log_start_offset=self.log_start_offset,
            size=len(buf),
        )

    def _validated(
        self, records: bytes | bytearray | memoryview, *, from_client: bool, trusted: bool = False
    ) -> list[RecordBatch]:
        config = self.config
        if not records:
            raise InvalidRecordError("nothing to append: the request carries no record batch")
        batches = list(iter_batches(records))
        now = self.clock.now_ms()
        for b in batches:
            if b.size > config.max_message_bytes:
                raise RecordTooLargeError(
                    f"record batch of {b.size} bytes is larger than max.message.bytes="
                    f"{config.max_message_bytes} of topic {self.topic}; send smaller batches "
                    "or raise the topic's max.message.bytes"
                )
            b.validate()
            if b.is_control and from_client:
                raise InvalidRecordError(
                    "clients may not append control batches; only transaction coordinators write "
                    "commit and abort markers"
                )
            if b.record_count != b.last_offset_delta + 1 and from_client:
                raise InvalidRecordError(
                    f"record batch declares {b.record_count} records but a last offset delta of "
                    f"{b.last_offset_delta}"
                )
            self._validate_records(b, from_client=from_client, trusted=trusted, now=now)
        return batches

    def _validate_records(
        self, batch: RecordBatch, *, from_client: bool, trusted: bool, now: int
    ) -> None:
        """Decode every record: structure, offset deltas, keys on compacted topics, timestamps."""
        config = self.config
        if not from_client:
            return  # a follower checks batches (CRC, sizes), not records, as Kafka does
        if (
            trusted
            and not config.compact
            and config.message_timestamp_before_max_ms == LONG_MAX
            and config.message_timestamp_after_max_ms == LONG_MAX
        ):
            return  # built by our own encoder: nothing left that only the records could tell
        # The header's max timestamp is the producer's claim; the records are the truth.
        batch.max_timestamp = batch.check_records(
            require_keys=config.compact and not batch.is_control
        )
        if config.message_timestamp_type != "CreateTime":
            return
        before, after = (
            config.message_timestamp_before_max_ms,
            config.message_timestamp_after_max_ms,
        )
        if before == LONG_MAX and after == LONG_MAX:
            return
        for record in batch.records():
            if now - record.timestamp > before:
                raise InvalidTimestampError(
                    f"record timestamp {record.timestamp} is more than "
                    f"message.timestamp.before.max.ms={before} before the broker's time {now}"
                )
            if record.timestamp - now > after:
                raise InvalidTimestampError(
                    f"record timestamp {record.timestamp} is more than "
                    f"message.timestamp.after.max.ms={after} after the broker's time {now}"
                )

    def _check_producers(self, batches: list[RecordBatch]) -> AppendInfo | None:
        """Idempotence: refuse gaps and fenced epochs; answer a retried batch with its offsets."""
        for b in batches:
            if b.producer_id < 0 or b.is_control:
                continue
            dup = self.producer_state.check(
                b.producer_id,
                b.producer_epoch,
                b.base_sequence,
                b.base_sequence + b.last_offset_delta,
            )
            if dup is None:
                continue
            if len(batches) != 1:
                raise InvalidRecordError(
                    "a produce request carries one batch per partition; this one repeats an "
                    "earlier batch among others"
                )
            return AppendInfo(
                first_offset=dup.first_offset,
                last_offset=dup.last_offset,
                record_count=b.record_count,
                max_timestamp=dup.max_timestamp,
                offset_of_max_timestamp=dup.last_offset,
                log_append_time=-1,
                log_start_offset=self.log_start_offset,
                size=0,
                duplicate=True,
            )
        return None

    def _note_producer(
        self,
        producer_id: int,
        epoch: int,
        base_sequence: int,
        last_offset_delta: int,
        attributes: int,
        first_offset: int,
        last_offset: int,
        max_timestamp: int,
    ) -> None:
        if producer_id >= 0 and not attributes & 0x20:  # control batches carry no sequence
            self.producer_state.update(
                producer_id,
                epoch,
                base_sequence,
                base_sequence + last_offset_delta,
                first_offset,
                last_offset,
                max_timestamp,
            )

    def _rebuild_producer_state(self) -> None:
        """Replay every batch header (Kafka reads a snapshot, then the tail; we read it all)."""
        self.producer_state.clear()
        for segment in self._segments:
            for pos in segment.scan():
                self._note_producer(
                    pos.producer_id,
                    pos.producer_epoch,
                    pos.base_sequence,
                    pos.last_offset - pos.base_offset,
                    pos.attributes,
                    pos.base_offset,
                    pos.last_offset,
                    pos.max_timestamp,
                )

    def _recompressed(self, batch: RecordBatch, target: Compression) -> RecordBatch:
        data = build_batch(
            batch.records(),
            base_offset=batch.base_offset,
            compression=target,
            producer_id=batch.producer_id,
            producer_epoch=batch.producer_epoch,
            base_sequence=batch.base_sequence,
            transactional=batch.is_transactional,
        )
        return RecordBatch(data)

    def _write(
        self,
        buf: bytes | bytearray | memoryview,
        meta: list[tuple[int, int, int, int]],
        now: int,
        max_ts: int,
    ) -> None:
        first_offset, last_offset = meta[0][0], meta[-1][1]
        self._maybe_roll(len(buf), first_offset, last_offset, max_ts, now)
        self.active_segment.append(buf, meta, now)
        self._unflushed += last_offset - first_offset + 1
        if self._unflushed >= self.config.flush_messages:
            self.flush()

    def _maybe_roll(
        self, size: int, first_offset: int, last_offset: int, max_ts: int, now: int
    ) -> None:
        segment = self.active_segment
        config = self.config
        reason = None
        if segment.size == 0:
            if first_offset != segment.base_offset and first_offset > segment.next_offset:
                # An empty active segment must start where its records start.
                self._replace_empty_active(first_offset, now)
            return
        if segment.is_full(size, config.segment_bytes):
            reason = "segment.bytes" if segment.size + size > config.segment_bytes else "index full"
        elif segment.rolling_based_timestamp is not None and (
            max_ts - segment.rolling_based_timestamp > config.segment_ms - config.segment_jitter_ms
        ):
            reason = "segment.ms"
        elif last_offset - segment.base_offset > _INT32_MAX:
            reason = "offset range"
        if reason is not None:
            self.roll(reason, next_offset=first_offset)

    def _replace_empty_active(self, base_offset: int, now: int) -> None:
        old = self._segments.pop()
        self._bases.pop()
        old.delete()
        self._new_segment(base_offset, now)

    def roll(self, reason: str = "forced", *, next_offset: int | None = None) -> LogSegment:
        """Seal the active segment and start a new one at the log end offset."""
        self._check_open()
        now = self.clock.now_ms()
        current = self.active_segment
        base = self.log_end_offset if next_offset is None else max(next_offset, self.log_end_offset)
        if current.size == 0:
            if current.base_offset != base:
                self._replace_empty_active(base, now)
            return self.active_segment
        current.seal()
        segment = self._new_segment(base, now)
        self._emit(SegmentRolled(self.topic, self.partition, base, reason))
        return segment

    # -- reading -----------------------------------------------------------------------------

    def read(
        self,
        offset: int,
        max_bytes: int = 1024 * 1024,
        *,
        max_offset: int | None = None,
        min_one: bool = True,
    ) -> bytes:
        """Whole batches starting with the one that holds `offset`.

        At most `max_bytes`, except that the first batch is returned whole when `min_one` (as
        Kafka does so that a consumer always progresses). `max_offset` bounds what is visible:
        pass the high watermark for a consumer's fetch. A read at the log end returns b"".
        """
        self._check_open()
        if offset < self.log_start_offset or offset > self.log_end_offset:
            raise OffsetOutOfRangeError(
                f"offset {offset} is outside {self.directory.name}'s range "
                f"[{self.log_start_offset}, {self.log_end_offset}]; reset to the earliest or "
                "latest offset"
            )
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        i = max(0, bisect.bisect_right(self._bases, offset) - 1)
        for segment in self._segments[i:]:
            data = segment.read(offset, max_bytes, max_offset, min_one=min_one)
            if data is not None:
                return data
        return b""

    def batches(
        self, start_offset: int | None = None, end_offset: int | None = None
    ) -> Iterator[RecordBatch]:
        """Every batch that holds offsets in [start, end) (default: log start to log end)."""
        start = self.log_start_offset if start_offset is None else start_offset
        end = self.log_end_offset if end_offset is None else end_offset
        i = max(0, bisect.bisect_right(self._bases, start) - 1)
        for segment in self._segments[i:]:
            if segment.base_offset >= end:
                return
            first = segment.translate_offset(start)
            if first is None:
                continue
            for batch in segment.read_batches(first.position):
                if batch.base_offset >= end:
                    return
                yield batch

    def records(
        self, start_offset: int | None = None, end_offset: int | None = None
    ) -> Iterator[Record]:
        """Decoded records with offsets in [start, end), control batches skipped."""
        start = self.log_start_offset if start_offset is None else start_offset
        end = self.log_end_offset if end_offset is None else end_offset
        for batch in self.batches(start, end):
            if batch.is_control:
                continue
            for record in batch.records():
                if start <= record.offset < end:
                    yield record

    def offset_for_timestamp(self, timestamp: int) -> OffsetAndTimestamp | None:
        """ListOffsets: the earliest offset whose timestamp is >= `timestamp`.

        Also answers Kafka's special values: -2 earliest, -1 latest, -3 the record with the
        largest timestamp (KIP-734). None when no record is that new.
        """
        self._check_open()
        if timestamp == EARLIEST_TIMESTAMP:
            return OffsetAndTimestamp(self.log_start_offset, -1)
        if timestamp == LATEST_TIMESTAMP:
            return OffsetAndTimestamp(self.log_end_offset, -1)
        if timestamp == MAX_TIMESTAMP:
            best: OffsetAndTimestamp | None = None
            for segment in self._segments:
                if segment.max_timestamp >= 0 and (
                    best is None or segment.max_timestamp > best.timestamp
                ):
                    best = OffsetAndTimestamp(
                        segment.offset_of_max_timestamp, segment.max_timestamp
                    )
            return best
        if timestamp < 0:
            raise ValueError(
                f"timestamp {timestamp} is not valid: use milliseconds since the epoch, or -1 "
                "(latest), -2 (earliest), -3 (max timestamp)"
            )
        for segment in self._segments:
            if segment.max_timestamp < timestamp:
                continue
            found = segment.find_offset_by_timestamp(timestamp)
            if found is not None and found[1] >= self.log_start_offset:
                return OffsetAndTimestamp(found[1], found[0])
            if found is not None:
                for record in self.records(self.log_start_offset):
                    if record.timestamp >= timestamp:
                        return OffsetAndTimestamp(record.offset, record.timestamp)
        return None

    # -- truncation and log start ------------------------------------------------------------

    def truncate_to(self, offset: int) -> int:
        """Remove every record at or above `offset` (a follower matching its leader).

        Returns bytes removed. A batch that straddles `offset` is removed whole; followers
        truncate at batch boundaries, so this does not happen in replication.
        """
        self._check_open()
        if offset < 0:
            raise OffsetOutOfRangeError(f"cannot truncate to negative offset {offset}")
        if offset >= self.log_end_offset:
            return 0
        if offset < self.log_start_offset:
            removed = self.size_in_bytes
            self.truncate_fully_and_start_at(offset)
            return removed
        now = self.clock.now_ms()
        removed = 0
        while len(self._segments) > 1 and self._segments[-1].base_offset >= offset:
            segment = self._segments.pop()
            self._bases.pop()
            removed += segment.size
            segment.delete()
        removed += self.active_segment.truncate_to(offset)
        if self.active_segment.size == 0 and self.active_segment.base_offset != offset:
            self._replace_empty_active(max(offset, self.active_segment.base_offset), now)
        self.high_watermark = min(self.high_watermark, self.log_end_offset)
        self.recovery_point = min(self.recovery_point, self.log_end_offset)
        self.cleaner_checkpoint = min(self.cleaner_checkpoint, self.log_end_offset)
        self.leader_epochs.truncate_from_end(self.log_end_offset)
        self._rebuild_producer_state()
        self._forget_stale_twins()
        self._emit(LogTruncated(self.topic, self.partition, offset, removed))
        return removed

    def truncate_fully_and_start_at(self, offset: int) -> None:
        """Delete every segment and start an empty log at `offset`."""
        self._check_open()
        now = self.clock.now_ms()
        for segment in self._segments:
            segment.delete()
        self._segments, self._bases = [], []
        self._new_segment(offset, now)
        self.log_start_offset = offset
        self.high_watermark = offset
        self.recovery_point = offset
        self.cleaner_checkpoint = offset
        self.leader_epochs.clear()
        self.producer_state.clear()
        self._forget_stale_twins()
        self._write_checkpoint()

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """OffsetsForLeaderEpoch: (largest epoch <= `epoch`, its end offset in this log)."""
        return self.leader_epochs.end_offset_for(epoch, self.log_end_offset)

    def increment_log_start_offset(self, offset: int) -> bool:
        """Move the log start forward (DeleteRecords); never past the high watermark."""
        self._check_open()
        if offset > self.high_watermark:
            raise OffsetOutOfRangeError(
                f"cannot move the log start of {self.directory.name} to {offset}: records are "
                f"deletable only below the high watermark {self.high_watermark}"
            )
        if offset <= self.log_start_offset:
            return False
        self.log_start_offset = offset
        self.leader_epochs.truncate_from_start(offset)
        self._write_checkpoint()
        return True

    # -- retention ---------------------------------------------------------------------------

    def delete_old_segments(self) -> int:
        """Apply retention (`retention.ms`, `retention.bytes`, the log start offset).

        Whole segments are deleted, oldest first, and only those entirely below the high
        watermark. When every segment qualifies, the log rolls first so it keeps an empty
        active segment at the log end. Returns the number of segments deleted.
        """
        self._check_open()
        deleted = self._delete_segments_where(
            "log start offset",
            lambda seg, nxt: nxt is not None and nxt.base_offset <= self.log_start_offset,
        )
        if not self.config.delete:
            return deleted
        now = self.clock.now_ms()
        retention_ms = self.config.retention_ms
        if retention_ms >= 0:
            deleted += self._delete_segments_where(
                "retention.ms", lambda seg, nxt: now - seg.largest_timestamp > retention_ms
            )
        retention_bytes = self.config.retention_bytes
        if retention_bytes >= 0:
            excess = self.size_in_bytes - retention_bytes

            def over_size(seg: LogSegment, nxt: LogSegment | None) -> bool:
                nonlocal excess
                if excess - seg.size >= 0:
                    excess -= seg.size
                    return True
                return False

            deleted += self._delete_segments_where("retention.bytes", over_size)
        return deleted

    def _delete_segments_where(
        self, reason: str, predicate: Callable[[LogSegment, LogSegment | None], bool]
    ) -> int:
        doomed: list[LogSegment] = []
        for i, segment in enumerate(self._segments):
            nxt = self._segments[i + 1] if i + 1 < len(self._segments) else None
            upper = nxt.base_offset if nxt is not None else self.log_end_offset
            if nxt is None and segment.size == 0:
                break
            if upper > self.high_watermark or not predicate(segment, nxt):
                break
            doomed.append(segment)
        if not doomed:
            return 0
        if len(doomed) == len(self._segments):
            self.roll(reason)
        for segment in doomed:
            self._segments.remove(segment)
            self._emit(
                SegmentDeleted(
                    self.topic,
                    self.partition,
                    segment.base_offset,
                    segment.next_offset,
                    segment.size,
                    reason,
                )
            )
            segment.delete()
        self._bases = [s.base_offset for s in self._segments]
        self._forget_stale_twins()
        self.log_start_offset = max(self.log_start_offset, self._bases[0])
        self.recovery_point = max(self.recovery_point, self.log_start_offset)
        self.leader_epochs.truncate_from_start(self.log_start_offset)
        self._write_checkpoint()
        return len(doomed)

    def compact(self, *, force: bool = False) -> bool:
        """Run the log cleaner on this log now, if `cleanup.policy` includes compact.

        Cleans when the dirty ratio reaches `min.cleanable.dirty.ratio`, a dirty record is
        older than `max.compaction.lag.ms`, or `force`. Returns whether anything was cleaned.
        """
        from kstream_nb.log.cleaner import clean

        self._check_open()
        if not self.config.compact:
            return False
        return clean(self, self.clock.now_ms(), force=force) is not None

    def housekeeping(self) -> None:
        """What Kafka's background threads do: time-based flush, retention, compaction."""
        now = self.clock.now_ms()
        if self.config.flush_ms < LONG_MAX and now - self._last_flush_ms >= self.config.flush_ms:
            self.flush()
        self.delete_old_segments()
        if self.config.compact:
            self.compact()

    def _install_cleaned(self, old: list[LogSegment], new: list[LogSegment]) -> None:
        """Swap cleaned segments in for the ones they replace (crash-safe, see `_open`)."""
        for segment in new:
            segment.flush()
            segment.seal()
            segment.change_suffix(".cleaned", ".swap")
        for segment in old:
            segment.delete()
        for segment in new:
            segment.change_suffix(".swap", "")
        tail = [s for s in self._segments if s not in old]
        self._segments = sorted(new + tail, key=lambda s: s.base_offset)
        self._bases = [s.base_offset for s in self._segments]
        self._forget_stale_twins()

    # -- columnar twins ----------------------------------------------------------------------

    def _load_twins(self) -> None:
        """Keep the twins on disk that still describe their segment; remove the rest."""
        for leftover in self.directory.glob(f"*{TWIN_SUFFIX}.*.tmp"):
            leftover.unlink()
        for path in self.directory.glob(f"*{TWIN_SUFFIX}"):
            info = read_twin_info(path)
            if info is not None and path == twin_path(self.directory, info.base_offset):
                self.twins[info.base_offset] = info
            else:
                path.unlink()
        self._forget_stale_twins()

    def _sealed(self) -> dict[int, LogSegment]:
        return {s.base_offset: s for s in self._segments[:-1]}

    def _forget_stale_twins(self) -> None:
        """Drop twins whose segment is gone, active again, or rewritten."""
        sealed = self._sealed()
        for base, info in list(self.twins.items()):
            segment = sealed.get(base)
            if (
                segment is None
                or segment.size != info.segment_size
                or segment.next_offset != info.next_offset
            ):
                del self.twins[base]
                info.path.unlink(missing_ok=True)

    def take_twin_jobs(self, value_format: str | None = None) -> list[TwinJob]:
        """Sealed segments that have no twin and no job yet, each with its own descriptor."""
        if self._closed:
            return []
        fmt = value_format or self.config.kstream_value_format
        jobs = []
        for base, segment in self._sealed().items():
            if segment.size == 0 or base in self.twins or self._twin_jobs.get(base) is segment:
                continue
            self._twin_jobs[base] = segment
            jobs.append(
                TwinJob(
                    self.directory,
                    self.partition,
                    base,
                    segment.next_offset,
                    segment.size,
                    segment.reader_fd(),
                    fmt,  # type: ignore[arg-type]  # validated by LogConfig
                    segment.cache_key(),
                    segment,
                )
            )
        return jobs

    def install_twin(self, job: TwinJob, info: TwinInfo | None) -> bool:
        """Rename a written twin into place if its segment is still the one it describes.

        `info` None means the job failed: that segment gets no new job (queries decode it).
        """
        if info is None:
            return False
        if self._twin_jobs.get(job.base_offset) is job.segment:
            del self._twin_jobs[job.base_offset]
        segment = self._sealed().get(job.base_offset)
        if self._closed or segment is None or segment is not job.segment:
            info.path.unlink(missing_ok=True)
            return False
        final = twin_path(self.directory, job.base_offset)
        os.replace(info.path, final)
        DECODED.forget(job.key)  # queries read the twin now
        self.twins[job.base_offset] = info.with_path(final)
        return True

    # -- files -------------------------------------------------------------------------------

    def _write_checkpoint(self) -> None:
        _write_checkpoint(
            self.directory / CHECKPOINT_FILE,
            {
                "log-start-offset": self.log_start_offset,
                "recovery-point": self.recovery_point,
                "cleaner-offset": self.cleaner_checkpoint,
                "high-watermark": self.high_watermark,
            },
        )

    def flush(self) -> None:
        """fsync every segment written since the last flush and move the recovery point.

        After a crash, batches below the recovery point are trusted; the rest are re-checked.
        """
        self._check_open()
        i = max(0, bisect.bisect_right(self._bases, self.recovery_point) - 1)
        for segment in self._segments[i:]:
            segment.flush()
        self.recovery_point = self.log_end_offset
        self._unflushed = 0
        self._last_flush_ms = self.clock.now_ms()
        self._write_checkpoint()

    def close(self) -> None:
        """Flush, close files and mark the shutdown clean (the next open skips recovery)."""
        if self._closed:
            return
        self.flush()
        for segment in self._segments:
            segment.close()
        (self.directory / CLEAN_SHUTDOWN_FILE).touch()
        self._closed = True

    def crash(self) -> None:
        """Close file handles without flushing or marking a clean shutdown: a killed process."""
        if self._closed:
            return
        for segment in self._segments:
            segment.abandon()
        self._closed = True

    def delete(self) -> None:
        """Remove the whole partition folder (topic deletion)."""
        for segment in self._segments:
            segment.delete()
        self._closed = True
        for path in self.directory.iterdir():
            path.unlink()
        self.directory.rmdir()

    def __enter__(self) -> PartitionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"PartitionLog({self.directory.name}, log_start_offset={self.log_start_offset}, "
            f"log_end_offset={self.log_end_offset}, high_watermark={self.high_watermark}, "
            f"segments={len(self._segments)})"
        )
