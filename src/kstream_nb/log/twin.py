"""Columnar twins of sealed segments: one Parquet row per record, written beside the `.log`.

Analytics read twins instead of decoding record batches again. A twin is written from bytes the
segment already holds (a duplicated file descriptor, so a segment deleted meanwhile still reads
whole), through the decoded cache (what queries or the runtime already decoded is not decoded
again), to a temporary name; the log renames it into place only if the segment it describes is
still there, so nobody ever sees a half-written or stale twin. JSON values also get typed columns
named `value.<field>`, so queries need not parse JSON.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kstream_nb.log.columns import JSON_PREFIX, concat_json, looks_like_json
from kstream_nb.log.decoded import DECODED, SegmentKey

__all__ = [
    "TWIN_SUFFIX",
    "TwinInfo",
    "TwinJob",
    "ValueFormat",
    "read_twin_info",
    "twin_path",
    "write_twin",
]

ValueFormat = Literal["auto", "json", "raw"]

TWIN_SUFFIX = ".parquet"
_META_KEY = b"kstream_nb.twin"
_ROW_GROUP_ROWS = 64 * 1024


def twin_path(directory: Path, base_offset: int) -> Path:
    """`00000000000000000042.parquet`, beside `00000000000000000042.log`."""
    return directory / f"{base_offset:020d}{TWIN_SUFFIX}"


@dataclass(frozen=True, slots=True)
class TwinInfo:
    """What a twin holds, from its footer: enough to prune it without opening it again."""

    path: Path
    base_offset: int
    next_offset: int
    segment_size: int
    records: int
    first_offset: int
    last_offset: int
    min_timestamp: int
    max_timestamp: int
    has_control: bool
    json_schema: pa.Schema = field(default_factory=lambda: pa.schema([]))

    def with_path(self, path: Path) -> TwinInfo:
        return TwinInfo(
            path,
            self.base_offset,
            self.next_offset,
            self.segment_size,
            self.records,
            self.first_offset,
            self.last_offset,
            self.min_timestamp,
            self.max_timestamp,
            self.has_control,
            self.json_schema,
        )


@dataclass(slots=True)
class TwinJob:
    """A sealed segment that needs a twin: a private descriptor on its bytes, and its identity.

    `segment` is only compared by identity when the twin is installed (on the log's thread);
    the writer reads nothing but `fd`. Whoever takes the job closes `fd` (`close()`).
    """

    directory: Path
    partition: int
    base_offset: int
    next_offset: int
    size: int
    fd: int
    value_format: ValueFormat
    key: SegmentKey
    segment: object = field(repr=False)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def write_twin(job: TwinJob, temp_name: str) -> TwinInfo:
    """Decode the job's segment and write its twin to `temp_name` in the segment's folder.

    The caller (the log) renames the file to `twin_path()` once it knows the segment is still
    the one described; returns the twin's facts with `path` set to the temporary file.
    """
    chunks = DECODED.decode(job.key, job.fd, job.size, job.partition)
    table = pa.concat_tables([c.table for c in chunks])
    control = _any(table.column("is_control"))
    json_schema = pa.schema([])
    if job.value_format != "raw" and table.num_rows:
        typed = concat_json([c.json() for c in chunks], lambda: table.column("value"))
        present = table.num_rows - table.column("value").null_count
        if job.value_format == "json" or looks_like_json(typed, present):
            arrow = typed.to_arrow()
            for name in arrow.column_names:
                table = table.append_column(name, arrow.column(name))
            json_schema = arrow.schema
    offsets = table.column("offset")
    timestamps = table.column("timestamp").cast(pa.int64())
    info = TwinInfo(
        path=job.directory / temp_name,
        base_offset=job.base_offset,
        next_offset=job.next_offset,
        segment_size=job.size,
        records=table.num_rows,
        first_offset=offsets[0].as_py() if table.num_rows else job.base_offset,
        last_offset=offsets[-1].as_py() if table.num_rows else job.base_offset - 1,
        min_timestamp=_min(timestamps),
        max_timestamp=_max(timestamps),
        has_control=control,
        json_schema=json_schema,
    )
    meta = {
        "base_offset": info.base_offset,
        "next_offset": info.next_offset,
        "segment_size": info.segment_size,
        "records": info.records,
        "first_offset": info.first_offset,
        "last_offset": info.last_offset,
        "min_timestamp": info.min_timestamp,
        "max_timestamp": info.max_timestamp,
        "has_control": info.has_control,
    }
    table = table.replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
    with open(info.path, "wb") as fh:
        pq.write_table(table, fh, row_group_size=_ROW_GROUP_ROWS, compression="lz4")
        fh.flush()
        os.fsync(fh.fileno())
    return info


def read_twin_info(path: Path) -> TwinInfo | None:
    """A twin's facts from its footer, or None if the file is not a whole twin."""
    try:
        schema = pq.read_schema(path)
        meta = json.loads((schema.metadata or {})[_META_KEY])
        typed = [f for f in schema if f.name.startswith(JSON_PREFIX) or f.name == "value_error"]
        return TwinInfo(
            path=path,
            base_offset=int(meta["base_offset"]),
            next_offset=int(meta["next_offset"]),
            segment_size=int(meta["segment_size"]),
            records=int(meta["records"]),
            first_offset=int(meta["first_offset"]),
            last_offset=int(meta["last_offset"]),
            min_timestamp=int(meta["min_timestamp"]),
            max_timestamp=int(meta["max_timestamp"]),
            has_control=bool(meta["has_control"]),
            json_schema=pa.schema(typed),
        )
    except (OSError, KeyError, ValueError, TypeError, pa.ArrowException):
        return None


def _any(column: pa.ChunkedArray) -> bool:
    return bool(pc.any(column).as_py()) if len(column) else False


def _min(column: pa.ChunkedArray) -> int:
    return int(pc.min(column).as_py()) if len(column) else -1


def _max(column: pa.ChunkedArray) -> int:
    return int(pc.max(column).as_py()) if len(column) else -1
