"""Time windows as Kafka Streams defines them: aligned to the epoch, [start, end) in ms.

`TimeWindows.of_size_with_no_grace("1h")` is a tumbling window; `.advance_by("15min")` makes it
hopping. A record belongs to every window whose [start, end) holds its timestamp. A window
closes when stream time (the largest timestamp the task has seen) reaches end + grace; records
for closed windows are dropped as late.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from kstream_nb.clock import parse_duration_ms

__all__ = [
    "JoinWindows",
    "SessionWindow",
    "SessionWindows",
    "SlidingWindows",
    "TimeWindows",
    "Window",
    "Windowed",
]


class Window(msgspec.Struct, frozen=True, order=True, gc=False):
    """[start, end) in epoch milliseconds."""

    start: int
    end: int


class SessionWindow(Window, frozen=True, order=True, gc=False):
    """A session: [start, end] with both ends inclusive (its first and last record)."""


class Windowed(msgspec.Struct, frozen=True):
    """A key within one window: what a windowed aggregation's table is keyed by."""

    key: Any
    window: Window

    def __str__(self) -> str:
        return f"[{self.key}@{self.window.start}/{self.window.end}]"


def _ms(duration: str | int) -> int:
    return parse_duration_ms(duration)


@dataclass(frozen=True, slots=True)
class TimeWindows:
    """Tumbling (advance == size) or hopping (advance < size) windows with a grace period."""

    size_ms: int
    advance_ms: int
    grace_ms: int

    @classmethod
    def of_size_with_no_grace(cls, size: str | int) -> TimeWindows:
        return cls._make(_ms(size), 0)

    @classmethod
    def of_size_and_grace(cls, size: str | int, grace: str | int) -> TimeWindows:
        return cls._make(_ms(size), _ms(grace))

    @classmethod
    def _make(cls, size: int, grace: int) -> TimeWindows:
        if size <= 0:
            raise ValueError(f"a window's size must be positive, got {size} ms")
        if grace < 0:
            raise ValueError(f"grace must not be negative, got {grace} ms")
        return cls(size, size, grace)

    def advance_by(self, advance: str | int) -> TimeWindows:
        ms = _ms(advance)
        if not 0 < ms <= self.size_ms:
            raise ValueError(
                f"the advance must be positive and at most the size ({self.size_ms} ms), got {ms}"
            )
        return TimeWindows(self.size_ms, ms, self.grace_ms)

    def starts_for(self, timestamp: int) -> range:
        """The start of every window holding `timestamp`, oldest first (Kafka's `windowsFor`)."""
        size, advance = self.size_ms, self.advance_ms
        if advance == size:  # tumbling: exactly one
            start = timestamp - timestamp % size
            return range(start, start + 1)
        first = max(0, timestamp - size + advance)
        first -= first % advance
        return range(first, timestamp + 1, advance)

    def windows_for(self, timestamp: int) -> list[Window]:
        """Every window holding `timestamp`, oldest first (as Kafka's `windowsFor`)."""
        return [Window(start, start + self.size_ms) for start in self.starts_for(timestamp)]


@dataclass(frozen=True, slots=True)
class JoinWindows:
    """How far apart two records' timestamps may be to join (before/after the left record)."""

    before_ms: int
    after_ms: int
    grace_ms: int

    @classmethod
    def of_time_difference_with_no_grace(cls, difference: str | int) -> JoinWindows:
        ms = _ms(difference)
        return cls(ms, ms, 0)

    @classmethod
    def of_time_difference_and_grace(cls, difference: str | int, grace: str | int) -> JoinWindows:
        ms = _ms(difference)
        return cls(ms, ms, _ms(grace))

    def before(self, duration: str | int) -> JoinWindows:
        return JoinWindows(_ms(duration), self.after_ms, self.grace_ms)

    def after(self, duration: str | int) -> JoinWindows:
        return JoinWindows(self.before_ms, _ms(duration), self.grace_ms)


@dataclass(frozen=True, slots=True)
class SessionWindows:
    """Sessions of activity per key: records closer than `gap` apart are one session.

    A session's window is [first timestamp, last timestamp] (both inclusive, as Kafka's
    SessionWindow); a record that falls within `gap` of two sessions merges them.
    """

    gap_ms: int
    grace_ms: int

    @classmethod
    def of_inactivity_gap_with_no_grace(cls, gap: str | int) -> SessionWindows:
        return cls._make(_ms(gap), 0)

    @classmethod
    def of_inactivity_gap_and_grace(cls, gap: str | int, grace: str | int) -> SessionWindows:
        return cls._make(_ms(gap), _ms(grace))

    @classmethod
    def _make(cls, gap: int, grace: int) -> SessionWindows:
        if gap <= 0:
            raise ValueError(f"the inactivity gap must be positive, got {gap} ms")
        if grace < 0:
            raise ValueError(f"grace must not be negative, got {grace} ms")
        return cls(gap, grace)


@dataclass(frozen=True, slots=True)
class SlidingWindows:
    """Windows of `difference` ms that slide with the records (KIP-450): two records fall in a
    common window when their timestamps are at most `difference` apart.

    Only windows that hold records exist: for each record at t, the window ending at it,
    [t - difference, t], and the one starting just after it, [t + 1, t + 1 + difference] (both
    ends inclusive), when records fall in them.
    """

    difference_ms: int
    grace_ms: int

    @classmethod
    def of_time_difference_with_no_grace(cls, difference: str | int) -> SlidingWindows:
        return cls._make(_ms(difference), 0)

    @classmethod
    def of_time_difference_and_grace(
        cls, difference: str | int, grace: str | int
    ) -> SlidingWindows:
        return cls._make(_ms(difference), _ms(grace))

    @classmethod
    def _make(cls, difference: int, grace: int) -> SlidingWindows:
        if difference <= 0:
            raise ValueError(f"the time difference must be positive, got {difference} ms")
        if grace < 0:
            raise ValueError(f"grace must not be negative, got {grace} ms")
        return cls(difference, grace)
