"""Sparse `.index` and `.timeindex` files in Kafka's layout.

`.index` holds 8-byte entries (relative offset int32, file position int32); `.timeindex` holds
12-byte entries (timestamp int64, relative offset int32); both big-endian and sorted. Kafka
preallocates them to `segment.index.bytes` and memory-maps them; here they are appended to and
mirrored in two Python lists for `bisect`, which gives the same files once a segment is sealed.
"""

from __future__ import annotations

import bisect
import os
import struct
from pathlib import Path

__all__ = ["OffsetIndex", "TimeIndex"]


class _SparseIndex:
    """Sorted (key, value) pairs persisted as fixed-size entries."""

    __slots__ = ("_fd", "_keys", "_pending", "_values", "base_offset", "max_entries", "path")
    _entry: struct.Struct

    def __init__(self, path: Path, base_offset: int, max_index_bytes: int) -> None:
        self.path = path
        self.base_offset = base_offset
        self.max_entries = max(1, max_index_bytes // self._entry.size)
        self._keys: list[int] = []
        self._values: list[int] = []
        # Entries not yet written: Kafka's indexes are memory-mapped and written back lazily;
        # these reach the file on flush, roll or close, and recovery rebuilds them after a crash.
        self._pending = bytearray()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def is_full(self) -> bool:
        return len(self._keys) >= self.max_entries

    def load(self) -> bool:
        """Read the file; False (and empty) when it is damaged and must be rebuilt."""
        raw = Path(self.path).read_bytes()
        self._keys, self._values = [], []
        size = self._entry.size
        if len(raw) % size:
            return False
        for key, value in self._decode(raw):
            if self._keys and key <= self._keys[-1]:
                self._keys, self._values = [], []
                return False
            self._keys.append(key)
            self._values.append(value)
        return True

    def _decode(self, raw: bytes) -> list[tuple[int, int]]:
        raise NotImplementedError

    def _encode(self, key: int, value: int) -> bytes:
        raise NotImplementedError

    def _append(self, key: int, value: int) -> None:
        self._keys.append(key)
        self._values.append(value)
        self._pending += self._encode(key, value)

    def drop_pending(self) -> None:
        """Forget buffered entries (a crash); recovery rebuilds them from the `.log`."""
        self._pending.clear()

    def write_pending(self) -> None:
        """Write buffered entries to the file."""
        if self._pending:
            os.write(self._fd, self._pending)
            self._pending.clear()

    def _floor(self, key: int) -> int:
        """Index of the last entry whose key is <= `key`, or -1."""
        return bisect.bisect_right(self._keys, key) - 1

    def _truncate_entries(self, keep: int) -> None:
        if keep < len(self._keys):
            self.write_pending()
            del self._keys[keep:]
            del self._values[keep:]
            os.ftruncate(self._fd, keep * self._entry.size)

    def reset(self) -> None:
        """Empty the index, file included (before a rebuild)."""
        self._keys, self._values = [], []
        self._pending.clear()
        os.ftruncate(self._fd, 0)

    def flush(self) -> None:
        self.write_pending()
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            self.write_pending()
            os.close(self._fd)
            self._fd = -1

    def delete(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)

    def rename(self, path: Path) -> None:
        self.write_pending()
        os.replace(self.path, path)
        self.path = path


class OffsetIndex(_SparseIndex):
    """Offset -> byte position in the segment's `.log`, one entry per `index.interval.bytes`."""

    __slots__ = ()
    _entry = struct.Struct(">ii")

    def _decode(self, raw: bytes) -> list[tuple[int, int]]:
        return [(self.base_offset + rel, pos) for rel, pos in self._entry.iter_unpack(raw)]

    def _encode(self, key: int, value: int) -> bytes:
        return self._entry.pack(key - self.base_offset, value)

    def append(self, offset: int, position: int) -> None:
        if self._keys and offset <= self._keys[-1]:
            return
        self._append(offset, position)

    def lookup(self, offset: int) -> tuple[int, int]:
        """The last indexed (offset, position) at or before `offset`; (base, 0) if none."""
        i = self._floor(offset)
        if i < 0:
            return self.base_offset, 0
        return self._keys[i], self._values[i]

    def truncate_to(self, offset: int) -> None:
        """Drop entries for offsets >= `offset`."""
        self._truncate_entries(bisect.bisect_left(self._keys, offset))

    def last_position(self) -> int:
        return self._values[-1] if self._values else 0


class TimeIndex(_SparseIndex):
    """Timestamp -> offset: the largest timestamp seen so far and the offset that carried it."""

    __slots__ = ()
    _entry = struct.Struct(">qi")

    def _decode(self, raw: bytes) -> list[tuple[int, int]]:
        return [(ts, self.base_offset + rel) for ts, rel in self._entry.iter_unpack(raw)]

    def _encode(self, key: int, value: int) -> bytes:
        return self._entry.pack(key, value - self.base_offset)

    def append(self, timestamp: int, offset: int) -> None:
        if self._keys and (timestamp <= self._keys[-1] or offset < self._values[-1]):
            return
        self._append(timestamp, offset)

    def lookup(self, timestamp: int) -> tuple[int, int]:
        """The last (timestamp, offset) entry with timestamp <= `timestamp`; (-1, base) if none."""
        i = self._floor(timestamp)
        if i < 0:
            return -1, self.base_offset
        return self._keys[i], self._values[i]

    def truncate_to(self, offset: int) -> None:
        """Drop entries for offsets >= `offset`."""
        keep = bisect.bisect_left(self._values, offset)
        self._truncate_entries(keep)

    def last_entry(self) -> tuple[int, int] | None:
        return (self._keys[-1], self._values[-1]) if self._keys else None
