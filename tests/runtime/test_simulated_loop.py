"""Virtual time: due order, FIFO ties, advance and run_until windows, cancel, determinism."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kstream_nb.clock import Clock
from kstream_nb.cluster.environment import Timers
from kstream_nb.runtime import SimulatedLoop
from tests.runtime.conftest import START_MS


def test_is_the_cores_timers() -> None:
    timers: Timers = SimulatedLoop(start_ms=5)
    assert timers.now_ms() == 5


def test_callbacks_run_in_due_order_and_ties_in_scheduling_order(loop: SimulatedLoop) -> None:
    ran: list[str] = []
    loop.call_later(20, lambda: ran.append("c"))
    loop.call_later(10, lambda: ran.append("a"))
    loop.call_later(10, lambda: ran.append("b"))
    loop.call_soon(lambda: ran.append("now"))
    loop.advance(20)
    assert ran == ["now", "a", "b", "c"]


@given(st.lists(st.integers(min_value=0, max_value=50), max_size=40))
def test_any_schedule_runs_sorted_by_due_time_then_fifo(delays: list[int]) -> None:
    loop = SimulatedLoop()
    ran: list[int] = []
    for index, delay in enumerate(delays):
        loop.call_later(delay, functools.partial(ran.append, index))
    loop.advance(50)
    assert ran == sorted(range(len(delays)), key=lambda index: (delays[index], index))


def _trace(seed: int) -> list[tuple[int, str]]:
    """A small random workload whose callbacks schedule more callbacks."""
    loop = SimulatedLoop(start_ms=START_MS, seed=seed)
    trace: list[tuple[int, str]] = []

    def tick(name: str, remaining: int) -> None:
        trace.append((loop.now_ms(), name))
        if remaining:
            loop.call_later(loop.random.randint(0, 30), lambda: tick(name, remaining - 1))

    for name in "abcde":
        loop.call_later(loop.random.randint(0, 10), functools.partial(tick, name, 20))
    loop.advance("10s")
    return trace


def test_same_schedule_and_seed_give_the_same_trace() -> None:
    assert _trace(seed=1) == _trace(seed=1)
    assert _trace(seed=1) != _trace(seed=2)


def test_advance_runs_what_falls_inside_the_window_only(loop: SimulatedLoop) -> None:
    seen: list[tuple[str, int]] = []

    def first() -> None:
        seen.append(("first", loop.now_ms()))
        loop.call_later(4, lambda: seen.append(("inside", loop.now_ms())))
        loop.call_later(6, lambda: seen.append(("outside", loop.now_ms())))

    loop.call_later(5, first)
    assert loop.advance(10) == START_MS + 10
    assert seen == [("first", START_MS + 5), ("inside", START_MS + 9)]
    assert loop.now_ms() == START_MS + 10
    loop.advance(1)
    assert seen[-1] == ("outside", START_MS + 11)


def test_advance_includes_the_end_of_the_window_and_reads_durations(loop: SimulatedLoop) -> None:
    ran: list[int] = []
    loop.call_later(3_600_000, lambda: ran.append(loop.now_ms()))
    loop.advance("59m")
    assert ran == []
    loop.advance("1m")
    assert ran == [START_MS + 3_600_000]


def test_run_until_stops_at_the_instant_the_predicate_holds(loop: SimulatedLoop) -> None:
    count = 0

    def bump() -> None:
        nonlocal count
        count += 1

    for delay in (10, 20, 30):
        loop.call_later(delay, bump)
    assert loop.run_until(lambda: count == 2, timeout="1s")
    assert loop.now_ms() == START_MS + 20
    assert loop.pending == 1


def test_run_until_times_out_in_virtual_time(loop: SimulatedLoop) -> None:
    loop.call_later(5_000, lambda: None)
    assert not loop.run_until(lambda: False, timeout="1s")
    assert loop.now_ms() == START_MS + 1_000
    assert loop.pending == 1


def test_run_until_with_a_true_predicate_runs_nothing(loop: SimulatedLoop) -> None:
    ran: list[int] = []
    loop.call_soon(lambda: ran.append(1))
    assert loop.run_until(lambda: True, timeout=100)
    assert ran == []
    assert loop.now_ms() == START_MS


def test_run_until_idle_drains_the_queue_or_reports_it_could_not(loop: SimulatedLoop) -> None:
    ran: list[int] = []
    loop.call_later(10, lambda: loop.call_later(10, lambda: ran.append(loop.now_ms())))
    assert loop.run_until_idle()
    assert ran == [START_MS + 20]
    assert loop.now_ms() == START_MS + 20

    def heartbeat() -> None:
        loop.call_later(100, heartbeat)

    heartbeat()
    assert not loop.run_until_idle(max_duration="1s")
    assert loop.now_ms() == START_MS + 1_020


def test_a_cancelled_callback_never_runs(loop: SimulatedLoop) -> None:
    ran: list[str] = []
    keep = loop.call_later(10, lambda: ran.append("keep"))
    drop = loop.call_later(10, lambda: ran.append("drop"))
    drop.cancel()
    drop.cancel()
    assert drop.cancelled
    assert loop.pending == 1
    assert loop.next_due_ms() == START_MS + 10
    loop.advance(10)
    assert ran == ["keep"]
    keep.cancel()  # after it ran: nothing to do
    assert loop.pending == 0
    assert loop.next_due_ms() is None


def test_a_callback_can_cancel_a_later_one_at_the_same_instant(loop: SimulatedLoop) -> None:
    ran: list[str] = []
    loop.call_later(5, lambda: second.cancel())
    second = loop.call_later(5, lambda: ran.append("second"))
    loop.advance(5)
    assert ran == []


def test_clock_reads_virtual_time(loop: SimulatedLoop) -> None:
    clock = loop.clock
    assert isinstance(clock, Clock)
    loop.advance("2s")
    assert clock.now_ms() == START_MS + 2_000


def test_bad_arguments_say_what_is_wrong(loop: SimulatedLoop) -> None:
    with pytest.raises(ValueError, match="delay_ms must be >= 0"):
        loop.call_later(-1, lambda: None)
    with pytest.raises(ValueError, match="start_ms"):
        SimulatedLoop(start_ms=-1)
    with pytest.raises(ValueError, match="negative"):
        loop.advance(-5)


def test_a_raising_callback_surfaces_in_the_test(loop: SimulatedLoop) -> None:
    def boom() -> None:
        raise KeyError("core bug")

    loop.call_later(5, boom)
    loop.call_later(6, lambda: None)
    with pytest.raises(KeyError, match="core bug"):
        loop.advance(10)
    assert loop.now_ms() == START_MS + 5
    loop.advance(10)  # the loop is still usable
    assert loop.pending == 0


def test_advancing_from_inside_a_callback_is_refused(loop: SimulatedLoop) -> None:
    loop.call_soon(lambda: loop.advance(1))
    with pytest.raises(RuntimeError, match="inside a loop callback"):
        loop.advance(1)


def test_a_zero_delay_busy_loop_fails_instead_of_hanging(loop: SimulatedLoop) -> None:
    loop.MAX_EVENTS_PER_INSTANT = 1_000

    def spin() -> None:
        loop.call_soon(spin)

    spin()
    with pytest.raises(RuntimeError, match="no delay"):
        loop.advance(1)


def test_the_seed_makes_the_random_source_repeatable() -> None:
    assert SimulatedLoop(seed=3).random.random() == SimulatedLoop(seed=3).random.random()
