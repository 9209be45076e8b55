"""Helpers shared by the log tests: batch makers and log readers."""

from __future__ import annotations

from collections.abc import Sequence

from kstream_nb.log import BatchBuilder, Compression, PartitionLog

START_MS = 1_700_000_000_000

Row = tuple[bytes | None, bytes | None]


def batch(
    rows: Sequence[Row],
    timestamp: int = START_MS,
    compression: Compression = Compression.NONE,
    headers: Sequence[tuple[str, bytes | None]] = (),
) -> bytes:
    """One producer batch of (key, value) rows, all with `timestamp`."""
    builder = BatchBuilder(compression)
    for key, value in rows:
        builder.append(key, value, timestamp, headers)
    return builder.build()


def values(log: PartitionLog) -> list[tuple[int, bytes | None, bytes | None]]:
    """(offset, key, value) of every record the log holds."""
    return [(r.offset, r.key, r.value) for r in log.records()]
