"""Factory fixtures for log tests: a simulated clock, logs that close themselves, batch makers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kstream_nb.clock import ManualClock
from kstream_nb.log import LogConfig, PartitionLog
from tests.log.util import START_MS

MakeLog = Callable[..., PartitionLog]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START_MS)


@pytest.fixture
def make_log(tmp_path: Path, clock: ManualClock) -> Iterator[MakeLog]:
    """`make_log(name="orders-0", **topic_config)` opens a log; every one is closed at teardown."""
    opened: list[PartitionLog] = []

    def factory(name: str = "orders-0", **config: Any) -> PartitionLog:
        props = {key.replace("_", "."): value for key, value in config.items()}
        log = PartitionLog(tmp_path / name, LogConfig.from_properties(props), clock)
        opened.append(log)
        return log

    yield factory
    for log in opened:
        log.close()
