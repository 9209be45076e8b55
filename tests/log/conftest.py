"""Factory fixtures for log tests: a simulated clock, logs that close themselves, batch makers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from kstream_nb.clock import ManualClock
from kstream_nb.log import LogConfig, PartitionLog
from tests.log.util import START_MS

MakeLog = Callable[..., PartitionLog]
OpenLog = Callable[..., PartitionLog]


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


@pytest.fixture
def manual_clock(clock: ManualClock) -> ManualClock:
    return clock


@pytest.fixture
def open_log(make_log: MakeLog) -> OpenLog:
    """`open_log({"kafka.key": value}, name="orders-0")`, closed at teardown like `make_log`."""

    def factory(
        properties: Mapping[str, Any] | None = None, name: str = "orders-0"
    ) -> PartitionLog:
        return make_log(name, **{k.replace(".", "_"): v for k, v in (properties or {}).items()})

    return factory
