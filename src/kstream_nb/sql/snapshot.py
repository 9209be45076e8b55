"""A consistent, read-only snapshot of a topic for analytics: twins plus decoded tails.

Taken on the cluster's thread in one step: for each partition the leader's high watermark and
log start offset, a hard link to every twin below the high watermark (retention or compaction
may delete the original at any moment; the link keeps it readable), and a private descriptor on
every segment that has no twin yet. The tails are decoded afterwards, on the caller's thread. A
snapshot sees exactly what a `read_uncommitted` consumer reading from the log start would see
at that moment.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from kstream_nb.cluster import ClusterCore
from kstream_nb.cluster.core import EVENTS_TOPIC
from kstream_nb.errors import ErrorCode, KafkaApiError
from kstream_nb.log import PartitionLog
from kstream_nb.log.columns import (
    JSON_PREFIX,
    RECORD_SCHEMA,
    concat_json,
    looks_like_json,
    unify_schemas,
)
from kstream_nb.log.decoded import DECODED, Chunk
from kstream_nb.log.twin import TwinInfo
from kstream_nb.runtime.cluster import Cluster

__all__ = ["SCAN_DIR", "Snapshot", "TailPiece", "TwinPiece", "take_snapshot"]

SCAN_DIR = ".scans"
_ids = itertools.count()


@dataclass(frozen=True, slots=True)
class TwinPiece:
    """A twin to read; rows outside [lo, hi) (log start, high watermark) are not visible."""

    partition: int
    info: TwinInfo  # `path` is the snapshot's link
    name: str  # the twin's own file name, for reports
    lo: int
    hi: int

    @property
    def first_offset(self) -> int:
        return self.info.first_offset

    @property
    def last_offset(self) -> int:
        return self.info.last_offset

    @property
    def min_timestamp(self) -> int:
        return self.info.min_timestamp

    @property
    def max_timestamp(self) -> int:
        return self.info.max_timestamp

    @property
    def needs_bounds(self) -> bool:
        return self.info.first_offset < self.lo or self.info.last_offset >= self.hi


class TailPiece:
    """Records of a segment that has no twin (the active one, or one not written yet), limited
    to offsets in [lo, hi): the log start offset and the high watermark of the snapshot."""

    def __init__(
        self, partition: int, base_offset: int, chunks: list[Chunk], lo: int, hi: int
    ) -> None:
        self.partition = partition
        self.base_offset = base_offset
        self.lo, self.hi = lo, hi
        self.chunks = [
            c for c in chunks if c.table.num_rows and c.last_offset >= lo and c.first_offset < hi
        ]
        self.first_offset = max(lo, min((c.first_offset for c in self.chunks), default=lo))
        self.last_offset = min(hi - 1, max((c.last_offset for c in self.chunks), default=lo - 1))
        self.min_timestamp = min((c.min_timestamp for c in self.chunks), default=-1)
        self.max_timestamp = max((c.max_timestamp for c in self.chunks), default=-1)
        self._table: pa.Table | None = None

    @property
    def name(self) -> str:
        return f"{self.base_offset:020d}.log"

    def _mask(self, chunk: Chunk) -> pa.Array | None:
        if chunk.first_offset >= self.lo and chunk.last_offset < self.hi:
            return None
        offsets = chunk.table.column("offset")
        return pc.and_(pc.greater_equal(offsets, self.lo), pc.less(offsets, self.hi))

    @property
    def table(self) -> pa.Table:
        """The visible records, as Arrow (the record columns of a twin)."""
        if self._table is None:
            parts = []
            for chunk in self.chunks:
                mask = self._mask(chunk)
                parts.append(chunk.table if mask is None else chunk.table.filter(mask))
            self._table = pa.concat_tables(parts) if parts else RECORD_SCHEMA.empty_table()
        return self._table

    @property
    def num_rows(self) -> int:
        return int(self.table.num_rows)

    def json(self) -> pl.DataFrame:
        """The JSON columns of the visible records, row for row with `table`."""
        parts = []
        for chunk in self.chunks:
            mask = self._mask(chunk)
            frame = chunk.json()
            parts.append(frame if mask is None else frame.filter(pl.Series("visible", mask)))
        if not parts:
            return pl.DataFrame([pl.Series("value_error", [], dtype=pl.String)])
        return concat_json(parts, lambda: self.table.column("value"))


@dataclass(slots=True)
class _RawTail:
    partition: int
    base_offset: int
    fd: int
    end: int
    lo: int
    hi: int
    key: tuple[str, int, int]  # (the .log's path, its inode, the segment's generation)


@dataclass(slots=True, weakref_slot=True)
class Snapshot:
    """One topic as of one instant; `close()` (or garbage collection) removes its links."""

    topic: str
    directory: Path
    high_watermarks: dict[int, int]
    log_start_offsets: dict[int, int]
    twins: list[TwinPiece]
    tails: list[TailPiece] = field(default_factory=list)
    files_read: list[str] = field(default_factory=list)
    _finalizer: weakref.finalize[[Path], None] | None = None
    _tail_records: pa.Table | None = None
    _tail_json: pl.DataFrame | None = None

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()

    def tail_records(self) -> pa.Table:
        """Every tail's visible records, as one Arrow table (built once)."""
        if self._tail_records is None:
            tables = [t.table for t in self.tails]
            self._tail_records = pa.concat_tables(tables) if tables else RECORD_SCHEMA.empty_table()
        return self._tail_records

    def tail_json(self) -> pl.DataFrame:
        """The JSON columns of `tail_records()`, row for row (built once)."""
        if self._tail_json is None:
            frames = [t.json() for t in self.tails]
            self._tail_json = (
                concat_json(frames, lambda: self.tail_records().column("value"))
                if frames
                else pl.DataFrame([pl.Series("value_error", [], dtype=pl.String)])
            )
        return self._tail_json

    def json_fields(self, *, detect: bool) -> dict[str, pl.DataType]:
        """JSON field -> type over twins and tails, unified as Polars concatenates them.

        With `detect` (format auto) the tails count only if most of their values are objects.
        """
        empties: list[pl.DataFrame] = []
        for twin in self.twins:
            fields = [f for f in twin.info.json_schema if f.name.startswith(JSON_PREFIX)]
            if fields:
                empties.append(pl.DataFrame(pl.from_arrow(pa.schema(fields).empty_table())))
        if self.tails:
            frame = self.tail_json()
            records = self.tail_records()
            present = records.num_rows - records.column("value").null_count
            if not detect or looks_like_json(frame, present):
                empties.append(frame.drop("value_error").head(0))
        if not empties:
            return {}
        merged = unify_schemas(empties)
        return {name[len(JSON_PREFIX) :]: dtype for name, dtype in merged.items()}


#: How long a query waits for a partition without a leader to get one.
LEADER_WAIT = "30s"


def _remove(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def _topic_logs(core: ClusterCore, topic: str) -> dict[int, PartitionLog]:
    if topic == EVENTS_TOPIC:
        return {0: core.event_log}
    if not core.brokers:
        raise KafkaApiError(
            "no broker is running; restart one (cluster.restart_broker(id), or %kafka broker "
            "restart ID) and query again",
            code=ErrorCode.BROKER_NOT_AVAILABLE,
        )
    image = core.image
    if topic not in image.topics:
        known = ", ".join(sorted(image.topics)) or "none yet"
        raise KafkaApiError(
            f"topic {topic!r} does not exist (topics: {known}); create it first",
            code=ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        )
    logs = {}
    for index in sorted(image.topics[topic].partitions):
        error, log = core.leader_log(topic, index)
        if log is None:
            raise KafkaApiError(
                f"{topic}-{index} has had no leader for {LEADER_WAIT} ({error.name}); restart a "
                "broker or wait for the controller to elect one, then query again",
                code=error,
            )
        logs[index] = log
    return logs


#: Why a partition may have no leader for a moment (its leader died or moved).
_LEADERLESS = (ErrorCode.LEADER_NOT_AVAILABLE, ErrorCode.NOT_LEADER_OR_FOLLOWER)


def _leaders_known(core: ClusterCore, topic: str) -> bool:
    """Whether every partition of `topic` has a live leader (or waiting cannot help)."""
    try:
        _topic_logs(core, topic)
    except KafkaApiError as exc:
        return exc.code not in _LEADERLESS
    return True


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system: copy instead
        shutil.copyfile(source, target)


_swept: set[Path] = set()


def _sweep(root: Path) -> None:
    """Remove snapshot folders left by processes that ended without cleaning up (a killed
    kernel on a kept --data-dir); once per folder per process."""
    if root in _swept:
        return
    _swept.add(root)
    for folder in root.glob("*.*.*"):
        try:
            pid = int(folder.name.rsplit(".", 2)[1])
        except ValueError:
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)  # signal 0 only asks whether the process exists
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            pass  # it exists, as another user


def take_snapshot(cluster: Cluster, topic: str) -> Snapshot:
    """Snapshot `topic` now; decoding of tails happens here, off the cluster's thread."""
    root = cluster.data_dir / SCAN_DIR
    _sweep(root)
    directory = root / f"{topic}.{os.getpid()}.{next(_ids)}"

    def capture() -> tuple[Snapshot, list[_RawTail]]:
        logs = _topic_logs(cluster.core, topic)
        cluster.twins.queried.update(log.topic for log in logs.values())  # decode ahead now on
        directory.mkdir(parents=True)
        snapshot = Snapshot(topic, directory, {}, {}, [])
        raw: list[_RawTail] = []
        for index, log in logs.items():
            hw = log.high_watermark
            lso = log.log_start_offset
            snapshot.high_watermarks[index] = hw
            snapshot.log_start_offsets[index] = lso
            segments = log.segments
            for i, segment in enumerate(segments):
                if segment.base_offset >= hw or segment.next_offset <= lso or not segment.size:
                    continue
                info = log.twins.get(segment.base_offset) if i < len(segments) - 1 else None
                if info is not None:
                    link = directory / f"{index}-{info.path.name}"
                    _link(info.path, link)
                    snapshot.twins.append(
                        TwinPiece(index, info.with_path(link), info.path.name, lso, hw)
                    )
                    continue
                end = segment.size
                if segment.next_offset > hw:
                    batch = segment.translate_offset(hw)
                    if batch is not None:
                        end = batch.position + (batch.size if batch.base_offset < hw else 0)
                fd = segment.reader_fd()
                raw.append(
                    _RawTail(index, segment.base_offset, fd, end, lso, hw, segment.cache_key())
                )
        return snapshot, raw

    try:
        snapshot, raw = cluster.call(capture)
    except KafkaApiError as exc:
        if exc.code not in _LEADERLESS:
            raise
        # Like a consumer, wait while a dead leader is being replaced (until the controller
        # fences it, broker.session.timeout.ms); simulated time moves while it waits. After
        # LEADER_WAIT, capture() raises the error that names the partition.
        with contextlib.suppress(TimeoutError):
            cluster.wait_until(lambda: _leaders_known(cluster.core, topic), timeout=LEADER_WAIT)
        snapshot, raw = cluster.call(capture)
    snapshot._finalizer = weakref.finalize(snapshot, _remove, directory)  # type: ignore[arg-type]
    try:
        for tail in raw:
            chunks = DECODED.decode(tail.key, tail.fd, tail.end, tail.partition)
            snapshot.tails.append(
                TailPiece(tail.partition, tail.base_offset, chunks, tail.lo, tail.hi)
            )
    finally:
        for tail in raw:
            os.close(tail.fd)
    return snapshot
