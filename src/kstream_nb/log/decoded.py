"""Records of segments decoded into Arrow, cached so that nothing is decoded twice.

Queries read segments that have no twin yet (above all the active one) from here, and the twin
writer builds twins from here; the runtime also decodes active segments ahead of queries as they
grow. Entries are keyed by the segment's `.log` path, inode and truncation generation: a segment
only grows at its end unless it is truncated, which bumps the generation.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from kstream_nb.log.columns import concat_json, decode_records_table, strict_json_columns

__all__ = ["DECODED", "Chunk", "DecodedCache", "SegmentKey"]

SegmentKey = tuple[str, int, int]


class Chunk:
    """Records decoded from a byte range of a segment, with their JSON columns once asked for.

    Chunks live in the decoded cache and are shared by every snapshot that reads them, so a
    segment's records are decoded, and its JSON parsed, once.
    """

    __slots__ = ("_json", "first_offset", "last_offset", "max_timestamp", "min_timestamp", "table")

    def __init__(self, table: pa.Table, json: pl.DataFrame | None = None) -> None:
        self.table = table
        self._json = json
        if table.num_rows:
            offsets = pc.min_max(table.column("offset"))
            times = pc.min_max(table.column("timestamp").cast(pa.int64()))
            self.first_offset, self.last_offset = offsets["min"].as_py(), offsets["max"].as_py()
            self.min_timestamp, self.max_timestamp = times["min"].as_py(), times["max"].as_py()
        else:
            self.first_offset, self.last_offset = 0, -1
            self.min_timestamp = self.max_timestamp = -1

    def json(self) -> pl.DataFrame:
        """`value.<field>` columns and `value_error`, one row per record (parsed once)."""
        if self._json is None:
            self._json = strict_json_columns(self.table.column("value"))
        return self._json


class DecodedCache:
    """Decoded prefixes of untwinned segments, so repeated queries decode only new bytes.

    A segment only grows at its end unless it is truncated, which bumps its generation (part of
    the key). Least recently used entries go first beyond `max_bytes` of Arrow memory.
    """

    def __init__(self, max_bytes: int = 512 << 20, max_chunks: int = 16) -> None:
        self.max_bytes = max_bytes
        self.max_chunks = max_chunks
        self._entries: OrderedDict[SegmentKey, tuple[int, list[Chunk]]] = OrderedDict()
        self._lock = threading.Lock()

    def decode(self, key: SegmentKey, fd: int, end: int, partition: int) -> list[Chunk]:
        """The chunks holding every record in bytes [0, end) of the segment (`end` a batch
        boundary), decoding through `fd` only what the cache does not hold yet."""
        with self._lock:
            cached = self._entries.pop(key, None)
        start, chunks = cached if cached is not None and cached[0] <= end else (0, [])
        if start < end:
            chunks = [*chunks, Chunk(decode_records_table(fd, start, end, partition))]
            start = end
        if len(chunks) > self.max_chunks:
            chunks = [_merged(chunks)]
        with self._lock:
            self._entries[key] = (start, chunks)
            total = sum(c.table.nbytes for _, cs in self._entries.values() for c in cs)
            while total > self.max_bytes and len(self._entries) > 1:
                _, (_, evicted) = self._entries.popitem(last=False)
                total -= sum(c.table.nbytes for c in evicted)
        return chunks

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def end_of(self, key: SegmentKey) -> int:
        """How many leading bytes of the segment are decoded here."""
        with self._lock:
            entry = self._entries.get(key)
        return 0 if entry is None else entry[0]

    def forget(self, key: SegmentKey) -> None:
        with self._lock:
            self._entries.pop(key, None)


def _merged(chunks: list[Chunk]) -> Chunk:
    """One chunk for many, keeping their parsed JSON when every one has it."""
    parsed = [c._json for c in chunks]
    json = None
    if all(p is not None for p in parsed):
        table = pa.concat_tables([c.table for c in chunks])
        frames = [p for p in parsed if p is not None]
        return Chunk(table, concat_json(frames, lambda: table.column("value")))
    return Chunk(pa.concat_tables([c.table for c in chunks]), json)


DECODED = DecodedCache()
