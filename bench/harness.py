"""A small benchmark harness: warm-up, repeated timed rounds, medians, Markdown tables.

A trial is a function returning a context manager that sets up one run and yields the callable
to time; set-up and tear-down stay outside the clock. `measure` runs every trial once per round,
interleaved, so a baseline and the code measured against it see the same machine noise.

Each bench script exposes `main(argv)` built on `make_parser` (`--quick`, `--repeat N`,
`--warmup N`) and prints a Markdown table ready for `bench/RESULTS.md`.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime
import gc
import io
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

__all__ = [
    "Timing",
    "Trial",
    "fmt_count",
    "fmt_ratio",
    "git_revision",
    "machine_facts",
    "make_parser",
    "markdown_table",
    "measure",
    "rate_ratio",
    "simple_trial",
]

# Sets up one run, yields the callable to time, tears down on exit.
Trial = Callable[[], AbstractContextManager[Callable[[], object]]]


@dataclass(frozen=True, slots=True)
class Timing:
    """Wall-clock seconds of each timed round of one trial (warm-up rounds excluded)."""

    name: str
    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        """Median seconds per round."""
        return statistics.median(self.seconds)

    @property
    def spread(self) -> float:
        """(slowest - fastest) / median: how noisy the rounds were."""
        return (max(self.seconds) - min(self.seconds)) / self.median

    def rate(self, amount: float) -> float:
        """`amount` (records, bytes...) per second at the median time."""
        return amount / self.median


def simple_trial(body: Callable[[], object]) -> Trial:
    """A trial with no set-up: every round times `body()`."""

    @contextlib.contextmanager
    def trial() -> Iterator[Callable[[], object]]:
        yield body

    return trial


def measure(trials: Mapping[str, Trial], *, repeat: int, warmup: int = 1) -> dict[str, Timing]:
    """Run `warmup` untimed then `repeat` timed rounds; each round runs every trial once, in order.

    The garbage collector runs before each timed call and stays enabled during it, as in real use.
    """
    if repeat < 1 or warmup < 0:
        raise ValueError(f"need repeat >= 1 and warmup >= 0, got {repeat} and {warmup}")
    seconds: dict[str, list[float]] = {name: [] for name in trials}
    for round_no in range(warmup + repeat):
        for name, trial in trials.items():
            with trial() as body:
                gc.collect()
                start = time.perf_counter()
                body()
                elapsed = time.perf_counter() - start
            if round_no >= warmup:
                seconds[name].append(elapsed)
    return {name: Timing(name, tuple(times)) for name, times in seconds.items()}


def rate_ratio(
    subject: Timing, baseline: Timing, subject_amount: float = 1.0, baseline_amount: float = 1.0
) -> float:
    """Median over rounds of subject rate / baseline rate, paired round by round."""
    pairs = zip(subject.seconds, baseline.seconds, strict=True)
    return statistics.median((subject_amount / s) / (baseline_amount / b) for s, b in pairs)


def fmt_count(value: float) -> str:
    """1234567 -> '1.23 M', 12345 -> '12.3 k', 12.5 -> '12.5'."""
    for scale, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def fmt_ratio(value: float) -> str:
    """0.4567 -> '0.46x'."""
    return f"{value:.2f}x"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub Markdown table; columns whose cells all look numeric are right-aligned."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    numeric = [all(_looks_numeric(r[i]) for r in cells) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        padded = (
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        )
        return "| " + " | ".join(padded) + " |"

    dashes = [
        "-" * (w + 1) + ":" if num else "-" * (w + 2)
        for w, num in zip(widths, numeric, strict=True)
    ]
    rule = "|" + "|".join(dashes) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in cells)])


def _looks_numeric(text: str) -> bool:
    return bool(text) and (text[0].isdigit() or text[0] in "-+.")


def print_profile(profiler: cProfile.Profile, title: str, top: int) -> None:
    """The `top` functions of a profile by own time and by cumulative time, under `title`."""
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    print(f"cProfile: {title}\n")
    print(out.getvalue())


def machine_facts() -> str:
    """One line: date, CPU count, Python version and platform, for the results file."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{now}; nproc {os.cpu_count()}; Python {platform.python_version()} "
        f"({sys.implementation.name}); {platform.platform()}"
    )


def git_revision(path: str | os.PathLike[str]) -> str:
    """Short commit of the checkout holding `path`, `+dirty` if it has changes; else `unknown`."""
    git = ["git", "-C", os.fspath(path)]
    try:
        rev = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            [*git, "status", "--porcelain", "--", "."], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + ("+dirty" if status.strip() else "")


def make_parser(description: str) -> argparse.ArgumentParser:
    """The shared command line: `--quick` for a smoke run, `--repeat N`, `--warmup N`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="few records: checks the bench runs, not a result"
    )
    parser.add_argument(
        "--repeat", type=_positive, default=5, help="timed rounds per case (default 5)"
    )
    parser.add_argument(
        "--warmup", type=_non_negative, default=1, help="untimed rounds first (default 1)"
    )
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value
