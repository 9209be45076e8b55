"""The real-time loop: one thread, due order, safe hand-off from other threads, clean stop.

Every wait here is bounded, so a broken loop fails a test instead of hanging the run.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from random import Random

import pytest

from kstream_nb.cluster.environment import Timers
from kstream_nb.runtime import EventLoop, RealTimeLoop, SimulatedLoop

WAIT_S = 2.0


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.001)


def test_both_loops_are_the_cores_timers_and_an_event_loop() -> None:
    loops: list[EventLoop] = [SimulatedLoop(), RealTimeLoop()]
    timers: list[Timers] = list(loops)
    assert len(timers) == 2


def test_now_is_wall_clock_milliseconds(real_loop: RealTimeLoop) -> None:
    assert abs(real_loop.now_ms() - time.time() * 1000) < 1_000
    assert abs(real_loop.clock.now_ms() - time.time() * 1000) < 1_000


def test_callbacks_run_on_the_loop_thread_in_due_order(real_loop: RealTimeLoop) -> None:
    ran: list[tuple[str, str]] = []
    done = threading.Event()

    def record(label: str) -> None:
        ran.append((label, threading.current_thread().name))
        if label == "30ms":
            done.set()

    real_loop.call_later(30, lambda: record("30ms"))
    real_loop.call_later(10, lambda: record("10ms"))
    real_loop.call_later(20, lambda: record("20ms"))
    real_loop.call_soon(lambda: record("soon"))
    assert done.wait(WAIT_S)
    assert ran == [(label, "kstream-nb-test") for label in ("soon", "10ms", "20ms", "30ms")]


def test_a_delay_is_waited_for(real_loop: RealTimeLoop) -> None:
    started = time.monotonic()
    fired = threading.Event()
    real_loop.call_later(50, fired.set)
    assert fired.wait(WAIT_S)
    assert time.monotonic() - started >= 0.045


def test_cancel_prevents_the_callback(real_loop: RealTimeLoop) -> None:
    ran: list[str] = []
    timer = real_loop.call_later(20, lambda: ran.append("cancelled"))
    real_loop.run_sync(timer.cancel)
    fired = threading.Event()
    real_loop.call_later(40, fired.set)
    assert fired.wait(WAIT_S)
    assert ran == []


def test_run_sync_returns_the_result_from_the_loop_thread(real_loop: RealTimeLoop) -> None:
    assert real_loop.run_sync(lambda: threading.current_thread().name) == "kstream-nb-test"
    assert real_loop.run_sync(lambda: real_loop.in_loop_thread())
    assert not real_loop.in_loop_thread()


def test_run_sync_reraises_in_the_caller(real_loop: RealTimeLoop) -> None:
    def fail() -> None:
        raise ValueError("bad request")

    with pytest.raises(ValueError, match="bad request"):
        real_loop.run_sync(fail)
    assert real_loop.last_error is None  # the caller got it; the loop has nothing to report


def test_run_sync_from_the_loop_thread_just_calls(real_loop: RealTimeLoop) -> None:
    assert real_loop.run_sync(lambda: real_loop.run_sync(lambda: 42)) == 42


def test_run_sync_times_out_and_never_runs_late(real_loop: RealTimeLoop) -> None:
    gate = threading.Event()
    real_loop.call_soon(lambda: gate.wait(WAIT_S))
    ran: list[str] = []
    with pytest.raises(TimeoutError, match="did not finish"):
        real_loop.run_sync(lambda: ran.append("late"), timeout=0.05)
    gate.set()
    real_loop.run_sync(lambda: None)
    assert ran == []


def test_many_threads_can_hand_work_to_the_loop(real_loop: RealTimeLoop) -> None:
    received: list[int] = []  # appended on the loop thread only
    per_thread = 200

    def submit(worker: int) -> None:
        for index in range(per_thread):
            value = worker * per_thread + index
            real_loop.call_soon(functools.partial(received.append, value))

    workers = [threading.Thread(target=submit, args=(worker,)) for worker in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(WAIT_S)
    count = real_loop.run_sync(lambda: len(received))
    assert count == 4 * per_thread
    assert sorted(received) == list(range(4 * per_thread))
    for index in range(4):  # each thread's own submissions keep their order
        mine = [value for value in received if value // per_thread == index]
        assert mine == sorted(mine)


def test_a_raising_callback_is_logged_and_the_loop_goes_on(
    real_loop: RealTimeLoop, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> None:
        raise RuntimeError("core bug")

    with caplog.at_level(logging.ERROR, logger="kstream_nb.runtime"):
        real_loop.call_soon(boom)
        assert real_loop.run_sync(lambda: "still alive") == "still alive"
    assert isinstance(real_loop.last_error, RuntimeError)
    assert [record.name for record in caplog.records] == ["kstream_nb.runtime"]
    assert "core bug" in caplog.text


def test_stop_leaves_no_thread_and_refuses_more_work() -> None:
    loop = RealTimeLoop(name="kstream-nb-stop-test")
    assert not loop.is_running
    loop.start()
    assert "kstream-nb-stop-test" in [thread.name for thread in threading.enumerate()]
    ran: list[str] = []
    loop.call_later(10_000, lambda: ran.append("never"))
    loop.stop()
    loop.stop()  # idempotent
    assert "kstream-nb-stop-test" not in [thread.name for thread in threading.enumerate()]
    assert not loop.is_running
    assert ran == []
    with pytest.raises(RuntimeError, match="stopped"):
        loop.call_soon(lambda: None)
    with pytest.raises(RuntimeError, match="not running"):
        loop.run_sync(lambda: None)
    with pytest.raises(RuntimeError, match="create a new one"):
        loop.start()


def test_a_loop_never_started_stops_quietly() -> None:
    loop = RealTimeLoop()
    with pytest.raises(RuntimeError, match="start"):
        loop.run_sync(lambda: None)
    loop.stop()


def test_a_callback_can_stop_its_own_loop() -> None:
    loop = RealTimeLoop(name="kstream-nb-self-stop")
    ran: list[str] = []
    # Both queued before the thread starts: once `stop` ran, a later call_soon would raise.
    loop.call_soon(loop.stop)
    loop.call_soon(lambda: ran.append("after stop"))
    loop.start()
    thread = next(t for t in threading.enumerate() if t.name == "kstream-nb-self-stop")
    thread.join(WAIT_S)
    assert not thread.is_alive()
    assert ran == []
    loop.stop()


def test_stop_times_out_on_a_blocked_callback_and_succeeds_later() -> None:
    loop = RealTimeLoop(name="kstream-nb-blocked").start()
    gate = threading.Event()
    entered = threading.Event()

    def block() -> None:
        entered.set()
        gate.wait(WAIT_S)

    loop.call_soon(block)
    assert entered.wait(WAIT_S)
    with pytest.raises(TimeoutError, match="blocking the loop"):
        loop.stop(timeout=0.05)
    gate.set()
    loop.stop()


def test_a_waiting_run_sync_fails_fast_when_the_loop_stops() -> None:
    loop = RealTimeLoop(name="kstream-nb-stop-waiter").start()
    gate = threading.Event()
    entered = threading.Event()

    def block() -> None:
        entered.set()
        gate.wait(WAIT_S)

    loop.call_soon(block)
    assert entered.wait(WAIT_S)
    outcome: list[BaseException] = []

    def waiter() -> None:
        try:
            loop.run_sync(lambda: None, timeout=WAIT_S)
        except BaseException as exc:
            outcome.append(exc)

    waiting = threading.Thread(target=waiter)
    waiting.start()
    stopper = threading.Thread(target=loop.stop)
    _wait_for(lambda: bool(loop._waiting))  # the waiter's call is queued behind the block
    stopper.start()
    _wait_for(lambda: not loop.is_running)
    gate.set()
    stopper.join(WAIT_S)
    waiting.join(WAIT_S)
    assert len(outcome) == 1
    assert isinstance(outcome[0], RuntimeError)
    assert "stopped before running" in str(outcome[0])


def test_the_seed_makes_the_random_source_repeatable() -> None:
    assert RealTimeLoop(seed=5).random.random() == Random(5).random()
