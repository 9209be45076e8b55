"""Injected time: duration parsing and the manual clock tests and tutorials drive."""

from __future__ import annotations

import pytest

from kstream_nb.clock import Clock, ManualClock, SystemClock, parse_duration_ms


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("200ms", 200),
        ("5s", 5_000),
        ("1h", 3_600_000),
        ("1h30m", 5_400_000),
        ("7d", 604_800_000),
        ("1w", 604_800_000),
        ("1.5s", 1_500),
        ("2min", 120_000),
        ("250", 250),
        (42, 42),
    ],
)
def test_durations_read_like_kafka_users_write_them(text: str | int, ms: int) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("bad", ["", "soon", "5 parsecs", "-1s", -5, True])
def test_bad_durations_say_how_to_write_one(bad: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        parse_duration_ms(bad)  # type: ignore[arg-type]


def test_manual_clock_moves_only_forward() -> None:
    clock = ManualClock(1_000)
    assert clock.advance("1s") == 2_000
    clock.set(5_000)
    assert clock.now_ms() == 5_000
    with pytest.raises(ValueError, match="backwards"):
        clock.set(4_999)
    assert isinstance(clock, Clock)
    assert isinstance(SystemClock(), Clock)
    assert SystemClock().now_ms() > 1_600_000_000_000
