"""One segment of a partition log: a `.log` of record batches with its `.index` and `.timeindex`.

Files are named by the segment's base offset in 20 digits, as Kafka names them. The segment
appends whole batches, finds a batch by offset or timestamp through its sparse indexes, reads
whole batches up to a byte budget, truncates, and rebuilds itself from its `.log` after a crash.
"""

from __future__ import annotations

import bisect
import operator
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kstream_nb.log.batch import HEADER, HEADER_SIZE, LOG_OVERHEAD, MAGIC, RecordBatch
from kstream_nb.log.errors import CorruptRecordError
from kstream_nb.log.index import OffsetIndex, TimeIndex

__all__ = ["BatchPosition", "LogSegment", "segment_file_name"]

_SCAN_CHUNK = 64 * 1024
#: The newest batches of a segment are also kept in memory (at least the last one, at most this
#: many bytes or `_TAIL_BATCHES` batches): followers and caught-up consumers read what was just
#: appended, and serving it without `pread` spares the cluster's thread a system call (each of
#: which lets another Python thread take the GIL for a switch interval). Kafka serves the same
#: reads from the page cache.
_TAIL_BYTES = 4 * 1024 * 1024
_TAIL_BATCHES = 256
_LAST_OFFSET = operator.itemgetter(1)
_INT32_MAX = 2**31 - 1
_MS_TO_NS = 1_000_000


def segment_file_name(base_offset: int, kind: str, suffix: str = "") -> str:
    """`00000000000000000042.log`, `.index` or `.timeindex`, plus a suffix such as `.cleaned`."""
    return f"{base_offset:020d}.{kind}{suffix}"


@dataclass(frozen=True, slots=True)
class BatchPosition:
    """Where a batch sits in a `.log` file, from its header alone."""

    position: int
    base_offset: int
    last_offset: int
    size: int
    max_timestamp: int
    producer_id: int = -1
    producer_epoch: int = -1
    base_sequence: int = -1
    attributes: int = 0


class LogSegment:
    """A `.log` file plus its indexes; appends go to the end, reads go anywhere."""

    __slots__ = (
        "_bytes_since_index",
        "_fd",
        "_indexes_existed",
        "_tail",
        "_tail_bytes",
        "base_offset",
        "generation",
        "index_interval_bytes",
        "inode",
        "last_modified_ms",
        "log_path",
        "max_timestamp",
        "next_offset",
        "offset_index",
        "offset_of_max_timestamp",
        "rolling_based_timestamp",
        "size",
        "time_index",
    )

    def __init__(
        self,
        directory: Path,
        base_offset: int,
        *,
        index_interval_bytes: int,
        max_index_bytes: int,
        suffix: str = "",
        now_ms: int = 0,
    ) -> None:
        self.base_offset = base_offset
        self.index_interval_bytes = index_interval_bytes
        self.log_path = directory / segment_file_name(base_offset, "log", suffix)
        self._indexes_existed = (
            directory / segment_file_name(base_offset, "index", suffix)
        ).exists() and (directory / segment_file_name(base_offset, "timeindex", suffix)).exists()
        self._fd = os.open(self.log_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        stat = os.fstat(self._fd)
        self.size = stat.st_size
        self.inode = stat.st_ino
        self.offset_index = OffsetIndex(
            directory / segment_file_name(base_offset, "index", suffix),
            base_offset,
            max_index_bytes,
        )
        self.time_index = TimeIndex(
            directory / segment_file_name(base_offset, "timeindex", suffix),
            base_offset,
            max_index_bytes,
        )
        self._bytes_since_index = 0
        self.next_offset = base_offset
        self.max_timestamp = -1
        self.offset_of_max_timestamp = base_offset
        self.rolling_based_timestamp: int | None = None
        self.last_modified_ms = now_ms
        # Bumped whenever bytes already written are cut: readers caching a prefix must re-read.
        self.generation = 0
        # The newest batches: (base offset, last offset, size, bytes written, start in them),
        # in file order.
        self._tail: list[tuple[int, int, int, bytes, int]] = []
        self._tail_bytes = 0

    # -- opening ---------------------------------------------------------------------------

    def load(self) -> bool:
        """Restore state from existing files; False when the indexes must be rebuilt (`recover`)."""
        self.last_modified_ms = os.stat(self.log_path).st_mtime_ns // _MS_TO_NS
        if not self._indexes_existed and self.size:
            return False
        if not (self.offset_index.load() and self.time_index.load()):
            return False
        if self.offset_index.last_position() > self.size:
            return False
        last = self.time_index.last_entry()
        if last is not None:
            self.max_timestamp, self.offset_of_max_timestamp = last
        try:
            self._scan_tail_state(self.offset_index.last_position())
        except CorruptRecordError:
            return False
        return True

    def recover(self) -> int:
        """Rebuild both indexes from the `.log`, checking every batch's CRC.

        The file is cut at the first torn or corrupt batch; returns the number of bytes cut.
        """
        self.offset_index.reset()
        self.time_index.reset()
        self._bytes_since_index = 0
        self.next_offset = self.base_offset
        self.max_timestamp = -1
        self.offset_of_max_timestamp = self.base_offset
        self.rolling_based_timestamp = None
        valid = 0
        while valid < self.size:
            batch = self._read_batch_at(valid)
            if batch is None:
                break
            self._index_batch(
                valid, batch.base_offset, batch.last_offset, batch.max_timestamp, batch.size
            )
            valid += batch.size
        cut = self.size - valid
        if cut:
            self.generation += 1
            self._forget_tail()
            os.ftruncate(self._fd, valid)
            self.size = valid
        return cut

    def _read_batch_at(self, position: int) -> RecordBatch | None:
        """The valid batch starting at `position`, or None if it is torn or corrupt."""
        head = os.pread(self._fd, HEADER_SIZE, position)
        if len(head) < HEADER_SIZE:
            return None
        length = struct.unpack_from(">i", head, 8)[0]
        if length < HEADER_SIZE - LOG_OVERHEAD or head[16] != MAGIC:
            return None
        total = LOG_OVERHEAD + length
        if position + total > self.size:
            return None
        data = os.pread(self._fd, total, position)
        try:
            batch = RecordBatch(data)
            batch.validate()
        except CorruptRecordError:
            return None
        if (
            batch.base_offset < self.next_offset
            or batch.last_offset - self.base_offset > _INT32_MAX
        ):
            # Offsets only grow and stay within the segment's 32-bit relative range; the base
            # offset is outside the CRC, so this is how damage to it shows.
            return None
        return batch

    # -- writing ---------------------------------------------------------------------------

    def _note_batch(self, last_offset: int, max_timestamp: int, offset_of_max: int) -> None:
        if max_timestamp > self.max_timestamp:
            self.max_timestamp = max_timestamp
            self.offset_of_max_timestamp = offset_of_max

    def _index_batch(
        self, position: int, base_offset: int, last_offset: int, max_timestamp: int, size: int
    ) -> None:
        if position == 0:
            self.rolling_based_timestamp = max_timestamp
        self._note_batch(last_offset, max_timestamp, last_offset)
        if self._bytes_since_index > self.index_interval_bytes:
            self.offset_index.append(last_offset, position)
            self.time_index.append(self.max_timestamp, self.offset_of_max_timestamp)
            self._bytes_since_index = 0
        self._bytes_since_index += size
        self.next_offset = last_offset + 1

    def append(
        self,
        data: bytes | bytearray | memoryview,
        batches: list[tuple[int, int, int, int]],
        now_ms: int,
    ) -> None:
        """Write whole batches; `batches` holds (base offset, last offset, max timestamp, size)."""
        position = self.size
        written = os.write(self._fd, data)
        if written != len(data):  # a short write on a regular file means the disk is full
            os.ftruncate(self._fd, self.size)
            raise OSError(f"short write to {self.log_path}: {written} of {len(data)} bytes")
        source = data if type(data) is bytes else bytes(data)
        start = 0
        for base_offset, last_offset, max_timestamp, size in batches:
            self._index_batch(position, base_offset, last_offset, max_timestamp, size)
            self._tail.append((base_offset, last_offset, size, source, start))
            self._tail_bytes += size
            position += size
            start += size
        self.size = position
        self.last_modified_ms = now_ms
        self._trim_tail()

    def _trim_tail(self) -> None:
        tail = self._tail
        drop = 0
        while len(tail) - drop > 1 and (
            self._tail_bytes > _TAIL_BYTES or len(tail) - drop > _TAIL_BATCHES
        ):
            self._tail_bytes -= tail[drop][2]
            drop += 1
        if drop:
            del tail[:drop]

    def _forget_tail(self) -> None:
        self._tail.clear()
        self._tail_bytes = 0

    # -- reading ---------------------------------------------------------------------------

    def scan(
        self, start_position: int = 0, end_position: int | None = None
    ) -> Iterator[BatchPosition]:
        """Batch headers from `start_position`, reading the file in chunks."""
        end = self.size if end_position is None else min(end_position, self.size)
        pos = start_position
        while pos < end:
            chunk = os.pread(self._fd, min(_SCAN_CHUNK, end - pos), pos)
            at = 0
            while len(chunk) - at >= HEADER_SIZE:
                (
                    base,
                    length,
                    _,
                    magic,
                    _,
                    attributes,
                    delta,
                    _,
                    max_ts,
                    producer_id,
                    producer_epoch,
                    base_sequence,
                    _,
                ) = HEADER.unpack_from(chunk, at)
                if magic != MAGIC or length < HEADER_SIZE - LOG_OVERHEAD:
                    raise CorruptRecordError(
                        f"{self.log_path.name}: no valid batch header at byte {pos + at}"
                    )
                size = LOG_OVERHEAD + length
                if pos + at + size > end:
                    if end == self.size:
                        raise CorruptRecordError(
                            f"{self.log_path.name}: batch at byte {pos + at} runs past the end"
                        )
                    return
                yield BatchPosition(
                    pos + at,
                    base,
                    base + delta,
                    size,
                    max_ts,
                    producer_id,
                    producer_epoch,
                    base_sequence,
                    attributes,
                )
                at += size
            if at == 0:
                raise CorruptRecordError(
                    f"{self.log_path.name}: {end - pos} stray bytes at byte {pos}"
                )
            pos += at

    def translate_offset(self, offset: int) -> BatchPosition | None:
        """The first batch whose last offset is >= `offset`, or None past the end."""
        _, position = self.offset_index.lookup(offset)
        for batch in self.scan(position):
            if batch.last_offset >= offset:
                return batch
        return None

    def read(
        self, offset: int, max_bytes: int, max_offset: int | None = None, *, min_one: bool = True
    ) -> bytes | None:
        """Whole batches from the one holding `offset`, at most `max_bytes` unless `min_one`.

        Batches that reach `max_offset` (exclusive, e.g. the high watermark) are left out.
        None when the segment holds nothing at or after `offset`.
        """
        tail = self._tail
        if tail and offset <= tail[-1][1]:
            # The batch holding `offset` is in memory when an earlier one is, or when the
            # oldest one kept starts at or before it (else a compaction gap may come first).
            i = bisect.bisect_left(tail, offset, key=_LAST_OFFSET)
            if i > 0 or tail[0][0] <= offset:
                return self._read_tail(i, max_bytes, max_offset, min_one)
        first = self.translate_offset(offset)
        if first is None:
            return None
        if max_offset is not None and first.last_offset >= max_offset:
            return b""
        end = first.position
        for batch in self.scan(first.position):
            if max_offset is not None and batch.last_offset >= max_offset:
                break
            if batch.position + batch.size - first.position > max_bytes:
                if batch.position == first.position and min_one:
                    end = batch.position + batch.size
                break
            end = batch.position + batch.size
        return os.pread(self._fd, end - first.position, first.position)

    def _read_tail(self, i: int, max_bytes: int, max_offset: int | None, min_one: bool) -> bytes:
        """`read` from the in-memory tail, from its `i`th batch, with the same limits."""
        tail = self._tail
        if max_offset is not None and tail[i][1] >= max_offset:
            return b""
        end = i
        total = 0
        while end < len(tail):
            _, last_offset, size, _, _ = tail[end]
            if max_offset is not None and last_offset >= max_offset:
                break
            if total + size > max_bytes:
                if end == i and min_one:
                    end += 1
                break
            total += size
            end += 1
        if end == i:
            return b""
        _, _, size, source, start = tail[i]
        if end == i + 1 and start == 0 and size == len(source):
            return source  # the common case: one batch, as it was written; no copy
        return b"".join(
            memoryview(source)[start : start + size] for _, _, size, source, start in tail[i:end]
        )

    def read_batches(self, start_position: int = 0) -> Iterator[RecordBatch]:
        """Every batch from `start_position`, decoded to a `RecordBatch` (for cleaning, tests)."""
        for pos in self.scan(start_position):
            yield RecordBatch(os.pread(self._fd, pos.size, pos.position))

    def find_offset_by_timestamp(self, timestamp: int) -> tuple[int, int] | None:
        """(timestamp, offset) of the first record with timestamp >= `timestamp`, if any."""
        _, offset = self.time_index.lookup(timestamp)
        start = self.translate_offset(offset)
        if start is None:
            return None
        for pos in self.scan(start.position):
            if pos.max_timestamp >= timestamp:
                batch = RecordBatch(os.pread(self._fd, pos.size, pos.position))
                for record in batch.records():
                    if record.timestamp >= timestamp:
                        return record.timestamp, record.offset
        return None

    @property
    def largest_timestamp(self) -> int:
        """The newest record timestamp, or the last write time if the segment has no timestamps."""
        return self.max_timestamp if self.max_timestamp >= 0 else self.last_modified_ms

    def is_full(self, incoming_bytes: int, segment_bytes: int) -> bool:
        return (
            (self.size > 0 and self.size + incoming_bytes > segment_bytes)
            or self.offset_index.is_full
            or self.time_index.is_full
        )

    # -- shrinking -------------------------------------------------------------------------

    def truncate_to(self, offset: int) -> int:
        """Remove every batch whose last offset is >= `offset`; returns bytes removed."""
        first = self.translate_offset(offset)
        if first is None:
            return 0
        removed = self.size - first.position
        self.generation += 1
        self._forget_tail()
        os.ftruncate(self._fd, first.position)
        self.size = first.position
        self.offset_index.truncate_to(offset)
        self.time_index.truncate_to(offset)
        self._restore_tail_state()
        return removed

    def _restore_tail_state(self) -> None:
        last = self.time_index.last_entry()
        self.max_timestamp, self.offset_of_max_timestamp = last if last else (-1, self.base_offset)
        self.next_offset = self.base_offset
        self._scan_tail_state(0 if last is None else self.offset_index.last_position())

    def _scan_tail_state(self, start_position: int) -> None:
        """Restore next offset, max timestamp and roll time from the batches after the index."""
        self.rolling_based_timestamp = None
        self._bytes_since_index = 0
        for pos in self.scan(start_position):
            if pos.position == 0:
                self.rolling_based_timestamp = pos.max_timestamp
            self._note_batch(pos.last_offset, pos.max_timestamp, pos.last_offset)
            self.next_offset = pos.last_offset + 1
            self._bytes_since_index += pos.size
        if self.rolling_based_timestamp is None and self.size:
            head = next(self.scan(0), None)
            self.rolling_based_timestamp = head.max_timestamp if head else None

    # -- files -----------------------------------------------------------------------------

    def cache_key(self) -> tuple[str, int, int]:
        """Names these bytes for caches of decoded records: path, inode, truncation count."""
        return (str(self.log_path), self.inode, self.generation)

    def reader_fd(self) -> int:
        """A descriptor of its own on the `.log` (the caller closes it): it keeps reading the
        same bytes even after the segment is deleted or replaced."""
        return os.dup(self._fd)

    def flush(self) -> None:
        os.fsync(self._fd)
        self.offset_index.flush()
        self.time_index.flush()

    def seal(self) -> None:
        """Write pending index entries; keep the last write time as the file's mtime.

        Kafka's retention and cleaner read a segment's `lastModified`; with an injected clock
        that is the clock's time of the last append, not the wall clock's. As Kafka does when a
        segment becomes inactive, the time index gets a last entry for the largest timestamp.
        An inactive segment keeps no batches in memory.
        """
        self._forget_tail()
        if self.max_timestamp >= 0:
            self.time_index.append(self.max_timestamp, self.offset_of_max_timestamp)
        self.offset_index.write_pending()
        self.time_index.write_pending()
        ns = self.last_modified_ms * _MS_TO_NS
        os.utime(self.log_path, ns=(ns, ns))

    def close(self) -> None:
        if self._fd >= 0:
            self.seal()
            os.close(self._fd)
            self._fd = -1
        self.offset_index.close()
        self.time_index.close()

    def abandon(self) -> None:
        """Close without writing anything more: what a killed process leaves behind."""
        self._forget_tail()
        self.offset_index.drop_pending()
        self.time_index.drop_pending()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.offset_index.close()
        self.time_index.close()

    def delete(self) -> None:
        """Close and remove all three files."""
        self.close()
        self.log_path.unlink(missing_ok=True)
        self.offset_index.delete()
        self.time_index.delete()

    def change_suffix(self, old: str, new: str) -> None:
        """Rename the three files, e.g. from `.cleaned` to `.swap` to final during compaction."""
        directory = self.log_path.parent
        target = directory / segment_file_name(self.base_offset, "log", new)
        assert self.log_path.name.endswith(".log" + old)
        os.replace(self.log_path, target)
        self.log_path = target
        self.offset_index.rename(directory / segment_file_name(self.base_offset, "index", new))
        self.time_index.rename(directory / segment_file_name(self.base_offset, "timeindex", new))

    def __repr__(self) -> str:
        return (
            f"LogSegment(base_offset={self.base_offset}, next_offset={self.next_offset}, "
            f"size={self.size})"
        )
