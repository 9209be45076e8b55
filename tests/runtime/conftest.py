"""Runtime test fixtures: loops that always stop, and a check that no thread outlives a test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kstream_nb.runtime import RealTimeLoop, SimulatedLoop, SimulatedNetwork
from tests.threads import no_thread_left_behind  # noqa: F401 -- autouse

START_MS = 1_700_000_000_000  # a realistic epoch time, so nothing passes by accident at 0


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
