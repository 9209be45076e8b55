"""The event loops that drive the cluster core: virtual time for tests, a thread for live demos.

Both implement `kstream_nb.cluster.environment.Timers`, so the core cannot tell them apart.
`SimulatedLoop` runs nothing until told to (`advance("1h")`) and is fully deterministic: the same
schedule and seed give the same trace. `RealTimeLoop` owns the one background thread that runs
every cluster callback, so cluster state is only ever touched from that thread (DESIGN.md,
principle 4); other threads hand it work with `call_soon` or `run_sync`.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future
from contextlib import contextmanager
from random import Random
from typing import Any, Protocol, TypeVar

from kstream_nb.clock import Clock, parse_duration_ms

__all__ = ["EventLoop", "RealTimeLoop", "SimulatedLoop", "Timer"]

logger = logging.getLogger("kstream_nb.runtime")

T = TypeVar("T")


class EventLoop(Protocol):
    """What the runtime needs from either loop: the core's `Timers` plus a clock and an RNG."""

    random: Random

    def now_ms(self) -> int: ...

    def call_later(self, delay_ms: int, callback: Callable[[], object]) -> Timer: ...

    def call_soon(self, callback: Callable[[], object]) -> Timer: ...

    @property
    def clock(self) -> Clock: ...


class Timer:
    """A scheduled callback; `cancel()` before it runs and it never will (idempotent)."""

    __slots__ = ("_callback", "due")

    def __init__(self, due: float, callback: Callable[[], object]) -> None:
        self.due = due  # virtual ms (SimulatedLoop) or monotonic seconds (RealTimeLoop)
        self._callback: Callable[[], object] | None = callback

    def cancel(self) -> None:
        # Dropping the callback also frees whatever it holds while the entry waits in the heap.
        self._callback = None

    @property
    def cancelled(self) -> bool:
        """True once cancelled or run: the callback will not run (again)."""
        return self._callback is None

    def _take(self) -> Callable[[], object] | None:
        callback, self._callback = self._callback, None
        return callback

    def __repr__(self) -> str:
        state = "done" if self._callback is None else "pending"
        return f"Timer(due={self.due}, {state})"


class _LoopClock:
    """A read-only `Clock` view of a loop, so code that only needs time cannot schedule."""

    __slots__ = ("_loop",)

    def __init__(self, loop: SimulatedLoop | RealTimeLoop) -> None:
        self._loop = loop

    def now_ms(self) -> int:
        return self._loop.now_ms()

    def __repr__(self) -> str:
        return f"LoopClock(now_ms={self.now_ms()})"


def _check_delay(delay_ms: int) -> None:
    if delay_ms < 0:
        raise ValueError(f"delay_ms must be >= 0, got {delay_ms}")


class SimulatedLoop:
    """Virtual time: callbacks run only inside `advance`/`run_until`, in due order, ties FIFO.

    No threads. A callback that raises propagates out of `advance`/`run_until` (time stays at
    that callback's instant), so a test sees the core's bug instead of a log line.
    """

    #: Callbacks that may run at one instant before we call it a busy loop (a timer that keeps
    #: rescheduling itself with no delay would otherwise hang `advance` forever).
    MAX_EVENTS_PER_INSTANT = 1_000_000

    def __init__(self, start_ms: int = 0, seed: int | None = None) -> None:
        if start_ms < 0:
            raise ValueError(f"start_ms must be >= 0, got {start_ms}")
        self._now_ms = start_ms
        self._heap: list[tuple[int, int, Timer]] = []  # (due ms, scheduling sequence, timer)
        self._sequence = itertools.count()
        self._running = False
        self._events_at_instant = 0
        self.random = Random(seed)
        #: Called (in the driving thread) after every advance/run_until: observers publish here.
        self.after_run: list[Callable[[], object]] = []

    def now_ms(self) -> int:
        return self._now_ms

    @property
    def clock(self) -> Clock:
        """A `Clock` that reads this loop's virtual time."""
        return _LoopClock(self)

    def call_later(self, delay_ms: int, callback: Callable[[], object]) -> Timer:
        _check_delay(delay_ms)
        timer = Timer(self._now_ms + delay_ms, callback)
        heapq.heappush(self._heap, (self._now_ms + delay_ms, next(self._sequence), timer))
        return timer

    def call_soon(self, callback: Callable[[], object]) -> Timer:
        return self.call_later(0, callback)

    @property
    def pending(self) -> int:
        """How many callbacks are scheduled and not cancelled."""
        return sum(1 for _, _, timer in self._heap if not timer.cancelled)

    def next_due_ms(self) -> int | None:
        """When the next live callback is due, or None when nothing is scheduled."""
        self._drop_cancelled_head()
        return self._heap[0][0] if self._heap else None

    def advance(self, duration: str | int) -> int:
        """Run everything due within `duration` ("5s", "1h", ms), then return the new time.

        Callbacks scheduled by callbacks run too if they fall inside the window. The clock moves
        to each callback's due time before it runs and ends at exactly now + duration.
        """
        end = self._now_ms + parse_duration_ms(duration)
        with self._run_guard():
            while self._run_next(end):
                pass
        self._now_ms = end
        self._ran()
        return end

    def run_until(self, predicate: Callable[[], bool], timeout: str | int) -> bool:
        """Run callbacks in order until `predicate()` holds or `timeout` of virtual time passes.

        The predicate is checked first and after every callback; on success the clock stays at
        the instant it became true. On timeout the clock ends at now + timeout and this returns
        False.
        """
        end = self._now_ms + parse_duration_ms(timeout)
        if predicate():
            return True
        try:
            with self._run_guard():
                while self._run_next(end):
                    if predicate():
                        return True
            self._now_ms = end
            return False
        finally:
            self._ran()

    def run_until_idle(self, max_duration: str | int = "1h") -> bool:
        """Run until nothing is scheduled; False if callbacks remain after `max_duration`.

        Periodic timers (heartbeats) never let a cluster go idle: use `advance` or `run_until`.
        """
        end = self._now_ms + parse_duration_ms(max_duration)
        with self._run_guard():
            while self._run_next(end):
                pass
        try:
            if self.next_due_ms() is None:
                return True
            self._now_ms = end
            return False
        finally:
            self._ran()

    def _ran(self) -> None:
        for hook in list(self.after_run):
            hook()

    def _run_next(self, end: int) -> bool:
        """Run the next live callback due at or before `end`; False if there is none."""
        self._drop_cancelled_head()
        if not self._heap or self._heap[0][0] > end:
            return False
        due, _, timer = heapq.heappop(self._heap)
        if due == self._now_ms:
            self._events_at_instant += 1
            if self._events_at_instant > self.MAX_EVENTS_PER_INSTANT:
                raise RuntimeError(
                    f"more than {self.MAX_EVENTS_PER_INSTANT} callbacks ran at {due} ms without "
                    "time moving: something keeps rescheduling itself with no delay"
                )
        else:
            self._now_ms = due
            self._events_at_instant = 1
        callback = timer._take()
        if callback is not None:
            callback()
        return True

    def _drop_cancelled_head(self) -> None:
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)

    @contextmanager
    def _run_guard(self) -> Iterator[None]:
        # advance() inside a callback would move time under that callback's feet.
        if self._running:
            raise RuntimeError(
                "advance/run_until was called from inside a loop callback; schedule work with "
                "call_later instead and let the caller advance time"
            )
        self._running = True
        self._events_at_instant = 0
        try:
            yield
        finally:
            self._running = False

    def __repr__(self) -> str:
        return f"SimulatedLoop(now_ms={self._now_ms}, pending={self.pending})"


class RealTimeLoop:
    """Wall-clock time and one daemon thread that runs every callback, in due order.

    `now_ms()` is milliseconds since the epoch (like `SystemClock`); waiting uses
    `time.monotonic()` so a wall-clock jump does not fire or stall timers. `call_later`,
    `call_soon` and `run_sync` may be called from any thread; everything else belongs on the
    loop thread. A callback that raises is logged (logger `kstream_nb.runtime`), kept in
    `last_error`, and the loop carries on.
    """

    def __init__(self, name: str = "kstream-nb-cluster", *, seed: int | None = None) -> None:
        self.name = name
        self.random = Random(seed)
        self.last_error: Exception | None = None
        self._heap: list[tuple[float, int, Timer]] = []  # (monotonic due s, sequence, timer)
        self._sequence = itertools.count()
        self._condition = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._stopping = False
        # run_sync calls not yet started; cancelled at stop so no caller waits for nothing.
        self._waiting: set[Future[Any]] = set()

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    @property
    def clock(self) -> Clock:
        """A `Clock` that reads this loop's time (the wall clock)."""
        return _LoopClock(self)

    @property
    def is_running(self) -> bool:
        """True between `start()` and `stop()`."""
        return self._thread is not None and not self._stopping

    def in_loop_thread(self) -> bool:
        """True when called from this loop's own thread."""
        return self._thread is not None and threading.current_thread() is self._thread

    def start(self) -> RealTimeLoop:
        """Start the loop thread (idempotent); a stopped loop cannot be restarted."""
        with self._condition:
            if self._stopping:
                raise RuntimeError(f"loop {self.name!r} was stopped; create a new one")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Run no more callbacks and join the thread (idempotent).

        The callback running now, if any, finishes first. Raises TimeoutError if it does not
        finish within `timeout` seconds. Called from a callback, it stops the loop after that
        callback returns.
        """
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            self._cancel_waiting()
            return
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(
                f"loop thread {self.name!r} still runs a callback after {timeout}s; "
                "a callback is blocking the loop"
            )

    def __enter__(self) -> RealTimeLoop:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def call_later(self, delay_ms: int, callback: Callable[[], object]) -> Timer:
        """Schedule `callback` on the loop thread after `delay_ms`; safe from any thread.

        Cancelling from the loop thread is exact; from another thread the callback may already
        be starting.
        """
        _check_delay(delay_ms)
        due = time.monotonic() + delay_ms / 1000.0
        timer = Timer(due, callback)
        with self._condition:
            if self._stopping:
                raise RuntimeError(f"loop {self.name!r} is stopped; it runs no more callbacks")
            heapq.heappush(self._heap, (due, next(self._sequence), timer))
            self._condition.notify()
        return timer

    def call_soon(self, callback: Callable[[], object]) -> Timer:
        return self.call_later(0, callback)

    def run_sync(self, fn: Callable[[], T], timeout: float = 30.0) -> T:
        """Run `fn` on the loop thread and return its result, or raise its exception, here.

        From the loop thread itself this just calls `fn`. Raises TimeoutError after `timeout`
        seconds (a `fn` that has not started by then never will), RuntimeError if the loop is
        not running or stops first.
        """
        if self.in_loop_thread():
            return fn()
        if not self.is_running:
            raise RuntimeError(f"loop {self.name!r} is not running: start() it first")
        future: Future[T] = Future()

        def call() -> None:
            with self._condition:
                self._waiting.discard(future)
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn()
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)

        with self._condition:
            self._waiting.add(future)
        try:
            self.call_soon(call)
        except RuntimeError:
            with self._condition:
                self._waiting.discard(future)
            raise
        try:
            return future.result(timeout)
        except CancelledError:
            raise RuntimeError(f"loop {self.name!r} stopped before running {fn!r}") from None
        except TimeoutError:
            if future.cancel():
                with self._condition:
                    self._waiting.discard(future)
            if future.done() and not future.cancelled():
                return future.result()
            raise TimeoutError(
                f"{fn!r} did not finish on loop {self.name!r} within {timeout}s"
            ) from None

    def _run(self) -> None:
        try:
            while True:
                callback = self._next_callback()
                if callback is None:
                    return
                try:
                    callback()
                except Exception as exc:
                    self.last_error = exc
                    logger.exception("callback %r on loop %r raised", callback, self.name)
                del callback  # free what it holds while we wait for the next one
        finally:
            self._cancel_waiting()

    def _next_callback(self) -> Callable[[], object] | None:
        """Wait for the next due, live callback; None once the loop is stopping."""
        with self._condition:
            while not self._stopping:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._condition.wait()
                    continue
                wait_s = self._heap[0][0] - time.monotonic()
                if wait_s > 0:
                    self._condition.wait(wait_s)
                    continue
                callback = heapq.heappop(self._heap)[2]._take()
                if callback is not None:
                    return callback
            self._heap.clear()
            return None

    def _cancel_waiting(self) -> None:
        with self._condition:
            waiting, self._waiting = self._waiting, set()
        for future in waiting:
            future.cancel()

    def __repr__(self) -> str:
        state = "running" if self.is_running else ("stopped" if self._stopping else "new")
        return f"RealTimeLoop(name={self.name!r}, {state})"
