"""Partition-log throughput: append and read 100-byte records in batches of 1, 10, 100 and 1000.

Each case sits beside the physical limit measured in the same rounds: plain `os.write` of the
same batch bytes to a file in the same temp dir (for appends) and plain `os.pread` of the log file
in `MAX_BYTES` chunks (for reads). Usage: `python bench/bench_log.py [--quick] [--repeat N]`.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import kstream_nb
from harness import (
    Timing,
    Trial,
    fmt_count,
    fmt_ratio,
    git_revision,
    machine_facts,
    make_parser,
    markdown_table,
    measure,
    rate_ratio,
    simple_trial,
)
from kstream_nb.clock import ManualClock
from kstream_nb.log import BatchBuilder, LogConfig, PartitionLog, decode_records, iter_batches

RECORD_BYTES = 100
BATCH_SIZES = (1, 10, 100, 1000)
MAX_BYTES = 1 << 20  # a consumer's max.partition.fetch.bytes
START_MS = 1_700_000_000_000
# The goals.
APPEND_VS_WRITE_GOAL = 0.5  # batches of 1000: append >= half the plain-write rate
ENCODE_APPEND_GOAL = 2_000_000  # batches of >= 100: encode + append records/s

# Trial names, in the order rows are printed; the plain ones are the physical limits.
ENCODE_APPEND = "encode + append"
APPEND = "append (pre-built)"
# The same, for batches the log knows came from kstream_nb's own encoder (its producer):
# CRC, sizes and headers are checked, records are not decoded again (see append_as_leader).
ENCODE_APPEND_OWN = "encode + append, own encoder"
APPEND_OWN = "append (pre-built), own encoder"
WRITE = "plain os.write"
READ = "read"
READ_DECODE = "read + decode"
PREAD = "plain os.pread"


def record_count(batch_size: int, quick: bool) -> int:
    """Records per case: ~1M for big batches, fewer where per-batch cost makes rounds slow."""
    if quick:
        return 5_000
    return 1_000_000 if batch_size >= 100 else 200_000


@dataclass(frozen=True, slots=True)
class CaseResult:
    """Timings of every trial for one batch size."""

    batch_size: int
    records: int
    log_bytes: int
    timings: dict[str, Timing]


class LogBench:
    """The trials for one batch size, sharing one temp dir, one clock and pre-built batches."""

    def __init__(self, root: Path, batch_size: int, records: int) -> None:
        self.root = root
        self.batch_size = batch_size
        self.records = records
        self.clock = ManualClock(START_MS)
        self.value = os.urandom(RECORD_BYTES)
        self.batches = [self._encode_batch() for _ in range(records // batch_size)]
        self.log_bytes = sum(len(b) for b in self.batches)
        self._runs = 0

    def _encode_batch(self) -> bytes:
        builder = BatchBuilder()
        row = (None, self.value, self.clock.now_ms())
        builder.extend(itertools.repeat(row, self.batch_size))
        return builder.build()

    def _fresh_dir(self) -> Path:
        self._runs += 1
        path = self.root / f"run{self._runs}"
        path.mkdir()
        return path

    def _open_log(self) -> PartitionLog:
        # The default segment.bytes (1 GiB) keeps every case in one segment.
        return PartitionLog(self._fresh_dir() / "bench-0", LogConfig(), self.clock)

    def _check_log(self, log: PartitionLog) -> None:
        if log.log_end_offset != self.records or log.size_in_bytes != self.log_bytes:
            raise RuntimeError(
                f"log holds {log.log_end_offset} records in {log.size_in_bytes} bytes; "
                f"expected {self.records} in {self.log_bytes}"
            )

    @contextlib.contextmanager
    def encode_append(self, *, own: bool = False) -> Iterator[Callable[[], object]]:
        """Build each batch with `BatchBuilder`, then `append_as_leader` it."""
        log = self._open_log()
        encode, append = self._encode_batch, log.append_as_leader

        def body() -> None:
            for _ in range(len(self.batches)):
                append(encode(), trusted_encoder=own)

        try:
            yield body
            self._check_log(log)
        finally:
            # delete() closes without close()'s fsync, so discarded runs leave the disk idle.
            log.delete()

    @contextlib.contextmanager
    def append(self, *, own: bool = False) -> Iterator[Callable[[], object]]:
        """`append_as_leader` of the pre-built batches."""
        log = self._open_log()
        append, batches = log.append_as_leader, self.batches

        def body() -> None:
            for data in batches:
                append(data, trusted_encoder=own)

        try:
            yield body
            self._check_log(log)
        finally:
            log.delete()

    @contextlib.contextmanager
    def write(self) -> Iterator[Callable[[], object]]:
        """Plain `os.write` of the same batch bytes, opened as a segment opens its `.log`."""
        path = self._fresh_dir() / "plain.log"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        batches = self.batches

        def body() -> None:
            for data in batches:
                os.write(fd, data)

        try:
            yield body
            if os.fstat(fd).st_size != self.log_bytes:
                raise RuntimeError(f"short plain write: {os.fstat(fd).st_size} bytes")
        finally:
            os.close(fd)
            path.unlink()

    @contextlib.contextmanager
    def reading(self) -> Iterator[PartitionLog]:
        """A log holding every pre-built batch, for the read trials; closed on exit."""
        log = self._open_log()
        try:
            for data in self.batches:
                log.append_as_leader(data)
            log.update_high_watermark(log.log_end_offset)
            self._check_log(log)
            yield log
        finally:
            log.close()

    def read_trials(self, log: PartitionLog) -> dict[str, Trial]:
        """Raw reads, reads with decoding, and plain preads of the same segment file."""
        end = log.log_end_offset
        log_bytes = self.log_bytes
        read = log.read

        def read_all() -> None:
            offset = 0
            total = 0
            while offset < end:
                chunk = read(offset, MAX_BYTES)
                if not chunk:
                    raise RuntimeError(f"read at offset {offset} returned nothing before {end}")
                total += len(chunk)
                for batch in iter_batches(chunk):
                    offset = batch.next_offset
            if total != log_bytes:
                raise RuntimeError(f"read {total} bytes, expected {log_bytes}")

        def read_decode_all() -> None:
            offset = 0
            count = 0
            while offset < end:
                before = offset
                for record in decode_records(read(offset, MAX_BYTES)):
                    count += 1
                    offset = record.offset + 1
                if offset == before:
                    raise RuntimeError(f"read at offset {offset} decoded nothing before {end}")
            if count != end:
                raise RuntimeError(f"decoded {count} records, expected {end}")

        @contextlib.contextmanager
        def pread() -> Iterator[Callable[[], object]]:
            fd = os.open(log.active_segment.log_path, os.O_RDONLY)

            def body() -> None:
                position = 0
                while chunk := os.pread(fd, MAX_BYTES, position):
                    position += len(chunk)

            try:
                yield body
            finally:
                os.close(fd)

        return {
            READ: simple_trial(read_all),
            READ_DECODE: simple_trial(read_decode_all),
            PREAD: pread,
        }

    def run(self, *, repeat: int, warmup: int) -> CaseResult:
        """Time every trial; appends and plain writes interleave, then reads and plain reads."""
        timings = measure(
            {
                ENCODE_APPEND: self.encode_append,
                ENCODE_APPEND_OWN: functools.partial(self.encode_append, own=True),
                APPEND: self.append,
                APPEND_OWN: functools.partial(self.append, own=True),
                WRITE: self.write,
            },
            repeat=repeat,
            warmup=warmup,
        )
        with self.reading() as log:
            timings |= measure(self.read_trials(log), repeat=repeat, warmup=warmup)
        return CaseResult(self.batch_size, self.records, self.log_bytes, timings)


def table(results: Sequence[CaseResult]) -> str:
    """One row per batch size and operation, each beside its plain-I/O limit."""
    header = [
        "batch",
        "records",
        "operation",
        "records/s",
        "MB/s",
        "limit MB/s",
        "vs limit",
        "spread",
    ]
    rows: list[list[object]] = []
    for case in results:
        t = case.timings
        for name, limit in (
            (ENCODE_APPEND, WRITE),
            (ENCODE_APPEND_OWN, WRITE),
            (APPEND, WRITE),
            (APPEND_OWN, WRITE),
            (WRITE, WRITE),
            (READ, PREAD),
            (READ_DECODE, PREAD),
            (PREAD, PREAD),
        ):
            timing = t[name]
            rows.append(
                [
                    case.batch_size,
                    fmt_count(case.records),
                    name,
                    fmt_count(timing.rate(case.records)),
                    f"{timing.rate(case.log_bytes) / 1e6:.1f}",
                    f"{t[limit].rate(case.log_bytes) / 1e6:.1f}",
                    fmt_ratio(rate_ratio(timing, t[limit])),
                    f"{timing.spread:.0%}",
                ]
            )
    return markdown_table(header, rows)


def goals(results: Sequence[CaseResult]) -> list[str]:
    """The issue's goals, each with the measured figure and whether it is met."""
    by_size = {case.batch_size: case for case in results}
    biggest = by_size[1000]
    lines = []
    for name in (APPEND, APPEND_OWN):
        ratio = rate_ratio(biggest.timings[name], biggest.timings[WRITE])
        lines.append(
            f"- batch 1000, {name} >= {APPEND_VS_WRITE_GOAL:.2f}x plain write: "
            f"{fmt_ratio(ratio)} -> {_verdict(ratio >= APPEND_VS_WRITE_GOAL)}"
        )
    for case in results:
        if case.batch_size >= 100:
            for name in (ENCODE_APPEND, ENCODE_APPEND_OWN):
                rate = case.timings[name].rate(case.records)
                lines.append(
                    f"- batch {case.batch_size}, {name} >= {fmt_count(ENCODE_APPEND_GOAL)} "
                    f"records/s: {fmt_count(rate)} -> {_verdict(rate >= ENCODE_APPEND_GOAL)}"
                )
    return lines


def _verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


def main(argv: Sequence[str] | None = None) -> int:
    """Run every batch size, print the Markdown table and the goals; returns the exit status."""
    parser = make_parser(__doc__.splitlines()[0] if __doc__ else "partition-log bench")
    args = parser.parse_args(argv)
    source = Path(kstream_nb.__file__).parent
    revision = git_revision(source)  # now: the code imported is the code at this revision
    results = []
    with tempfile.TemporaryDirectory(prefix="kstream-bench-") as tmp:
        for batch_size in BATCH_SIZES:
            records = record_count(batch_size, args.quick)
            print(f"batch {batch_size}: {records} records ...", file=sys.stderr, flush=True)
            root = Path(tmp) / f"batch{batch_size}"
            root.mkdir()
            bench = LogBench(root, batch_size, records)
            results.append(bench.run(repeat=args.repeat, warmup=args.warmup))
    command = "python bench/bench_log.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"`{command.strip()}` — {machine_facts()}")
    print(f"kstream_nb from {source} at git {revision}")
    print(
        f"Medians of {args.repeat} rounds after {args.warmup} warm-up; {RECORD_BYTES}-byte "
        f"values, no key, no compression; MB = 10^6 bytes of log; spread = (max-min)/median.\n"
    )
    print(table(results))
    print("\nGoals" + (" (--quick: too few records to judge)" if args.quick else "") + ":")
    print("\n".join(goals(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
