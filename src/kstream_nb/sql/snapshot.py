"""A consistent, read-only snapshot of a topic for analytics: twins plus decoded tails.

Taken on the cluster's thread in one step: for each partition the leader's high watermark and
log start offset, a hard link to every twin below the high watermark (retention or compaction
may delete the original at any moment; the link keeps it readable), and a private descriptor on
every segment that has no twin yet. The tails are decoded afterwards, on the caller's thread. A
snapshot sees exactly what a `read_uncommitted` consumer reading from the log start would see
at that moment.
"""

from __future__ import annotations

import itertools
import os
import shutil
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from kstream_nb.cluster import ClusterCore
from kstream_nb.cluster.core import EVENTS_TOPIC
from kstream_nb.errors import ErrorCode, KafkaApiError
from kstream_nb.log import PartitionLog
from kstream_nb.log.twin import RECORD_SCHEMA, TwinInfo, decode_records_table
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


@dataclass(frozen=True, slots=True)
class TailPiece:
    """Records decoded from a segment that has no twin (the active one, or one not yet done)."""

    partition: int
    base_offset: int
    table: pa.Table
    first_offset: int
    last_offset: int
    min_timestamp: int
    max_timestamp: int

    @classmethod
    def of(cls, partition: int, base_offset: int, table: pa.Table) -> TailPiece:
        if not table.num_rows:
            return cls(partition, base_offset, table, base_offset, base_offset - 1, -1, -1)
        offsets = pc.min_max(table.column("offset"))
        times = pc.min_max(table.column("timestamp").cast(pa.int64()))
        return cls(
            partition,
            base_offset,
            table,
            offsets["min"].as_py(),
            offsets["max"].as_py(),
            times["min"].as_py(),
            times["max"].as_py(),
        )

    @property
    def name(self) -> str:
        return f"{self.base_offset:020d}.log"


@dataclass(slots=True)
class _RawTail:
    partition: int
    base_offset: int
    fd: int
    end: int
    lo: int
    hi: int


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

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()

    @property
    def records(self) -> int:
        tails: int = sum(t.table.num_rows for t in self.tails)
        return sum(t.info.records for t in self.twins) + tails


def _remove(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def _topic_logs(core: ClusterCore, topic: str) -> dict[int, PartitionLog]:
    if topic == EVENTS_TOPIC:
        return {0: core.event_log}
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
                f"{topic}-{index} has no leader right now ({error.name}); restart a broker or "
                "wait for the controller to elect one, then query again",
                code=error,
            )
        logs[index] = log
    return logs


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system: copy instead
        shutil.copyfile(source, target)


def take_snapshot(cluster: Cluster, topic: str) -> Snapshot:
    """Snapshot `topic` now; decoding of tails happens here, off the cluster's thread."""
    root = cluster.data_dir / SCAN_DIR
    directory = root / f"{topic}.{os.getpid()}.{next(_ids)}"

    def capture() -> tuple[Snapshot, list[_RawTail]]:
        logs = _topic_logs(cluster.core, topic)
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
                raw.append(_RawTail(index, segment.base_offset, segment.reader_fd(), end, lso, hw))
        return snapshot, raw

    snapshot, raw = cluster.call(capture)
    snapshot._finalizer = weakref.finalize(snapshot, _remove, directory)  # type: ignore[arg-type]
    try:
        for tail in raw:
            table = decode_records_table(tail.fd, 0, tail.end, tail.partition, tail.lo, tail.hi)
            snapshot.tails.append(TailPiece.of(tail.partition, tail.base_offset, table))
    finally:
        for tail in raw:
            os.close(tail.fd)
    return snapshot


def empty_records() -> pa.Table:
    return RECORD_SCHEMA.empty_table()
