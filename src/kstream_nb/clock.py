"""Injected time: every timeout, retention check and window reads a `Clock`, never the wall.

A `SystemClock` drives live demos; a `ManualClock` makes tests deterministic and lets a tutorial
pass a week of retention in a second.
"""

from __future__ import annotations

import re
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "SystemClock", "parse_duration_ms"]


@runtime_checkable
class Clock(Protocol):
    """A source of time in milliseconds since the Unix epoch, as Kafka timestamps are."""

    def now_ms(self) -> int: ...


class SystemClock:
    """The wall clock."""

    __slots__ = ()

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that moves only when told to; `advance("1h")` is how simulated time passes."""

    __slots__ = ("_now_ms",)

    def __init__(self, start_ms: int = 0) -> None:
        if start_ms < 0:
            raise ValueError(f"start_ms must be >= 0, got {start_ms}")
        self._now_ms = start_ms

    def now_ms(self) -> int:
        return self._now_ms

    def advance(self, duration: str | int | float) -> int:
        """Move time forward by `duration` ("5s", "1h", or milliseconds); returns the new time."""
        step = parse_duration_ms(duration)
        self._now_ms += step
        return self._now_ms

    def set(self, now_ms: int) -> None:
        """Jump to `now_ms`; time never runs backwards."""
        if now_ms < self._now_ms:
            raise ValueError(
                f"time cannot run backwards: now is {self._now_ms} ms, asked for {now_ms} ms"
            )
        self._now_ms = now_ms

    def __repr__(self) -> str:
        return f"ManualClock(now_ms={self._now_ms})"


_UNIT_MS = {
    "ms": 1,
    "s": 1_000,
    "sec": 1_000,
    "m": 60_000,
    "min": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 7 * 86_400_000,
}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|sec|s|min|m|h|d|w)\s*")


def parse_duration_ms(duration: str | int | float) -> int:
    """Milliseconds in `duration`: a number of ms, or text like "200ms", "5s", "1h30m", "7d"."""
    if isinstance(duration, bool):
        raise TypeError("a duration is a number of milliseconds or text like '5s', not a bool")
    if isinstance(duration, int | float):
        if duration < 0:
            raise ValueError(f"a duration cannot be negative, got {duration}")
        return int(duration)
    text = duration.strip().lower()
    if not text:
        raise ValueError("empty duration: write a number with a unit, like '5s' or '1h'")
    if text.isdigit():
        return int(text)
    total = 0.0
    pos = 0
    while pos < len(text):
        match = _DURATION.match(text, pos)
        if match is None:
            raise ValueError(
                f"cannot read duration {duration!r}: use a number and a unit "
                "(ms, s, m, h, d, w), like '200ms', '5s' or '1h30m'"
            )
        total += float(match.group(1)) * _UNIT_MS[match.group(2)]
        pos = match.end()
    return int(total)
