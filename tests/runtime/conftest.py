"""Runtime test fixtures: loops that always stop, and a check that no thread outlives a test."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from kstream_nb.runtime import RealTimeLoop, SimulatedLoop, SimulatedNetwork

START_MS = 1_700_000_000_000  # a realistic epoch time, so nothing passes by accident at 0


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    left = [thread.name for thread in set(threading.enumerate()) - before if thread.is_alive()]
    assert not left, f"threads still running after the test: {left}"


@pytest.fixture
def loop() -> SimulatedLoop:
    return SimulatedLoop(start_ms=START_MS, seed=7)


@pytest.fixture
def network(loop: SimulatedLoop) -> SimulatedNetwork:
    return SimulatedNetwork(loop, default_latency_ms=1)


@pytest.fixture
def real_loop() -> Iterator[RealTimeLoop]:
    with RealTimeLoop(name="kstream-nb-test") as running:
        yield running
