"""Fixtures for client tests: a simulated cluster answering on localhost:9092."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kstream_nb import Cluster

FAST_GROUPS = {
    "offsets.topic.num.partitions": 5,
    "group.initial.rebalance.delay.ms": 0,
}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Three simulated brokers on localhost:9092-9094 with `orders` (3 partitions, RF 3)."""
    with Cluster.start(
        brokers=3, simulated=True, seed=11, data_dir=tmp_path, config=FAST_GROUPS
    ) as started:
        started.create_topic("orders", partitions=3, replication_factor=3)
        yield started
