"""Fixtures for cluster tests: simulated clusters that stop themselves, async produce helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kstream_nb import Cluster
from kstream_nb.cluster import ProduceResult
from kstream_nb.log import BatchBuilder

MakeCluster = Callable[..., Cluster]


@pytest.fixture
def make_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeCluster]:
    """`make_cluster(brokers=3, seed=1, **broker_config)`: a simulated cluster, stopped after."""
    started: list[Cluster] = []

    def factory(brokers: int = 3, seed: int = 1, **config: Any) -> Cluster:
        props = {k.replace("_", "."): v for k, v in config.items()}
        cluster = Cluster.start(
            brokers=brokers,
            data_dir=tmp_path_factory.mktemp("cluster"),
            config=props,
            simulated=True,
            seed=seed,
        )
        started.append(cluster)
        return cluster

    yield factory
    for cluster in started:
        cluster.stop()


def send(
    cluster: Cluster, topic: str, partition: int, value: bytes, acks: int = -1
) -> list[ProduceResult]:
    """Start a produce without waiting; the returned list fills when the answer comes."""
    out: list[ProduceResult] = []
    builder = BatchBuilder()
    builder.append(b"key", value, cluster.now_ms())
    cluster.core.produce(topic, partition, builder.build(), acks=acks, callback=out.append)
    return out


def values(cluster: Cluster, topic: str, partition: int, broker_id: int) -> list[bytes | None]:
    """Every value in one replica's log, committed or not."""
    return [r.value for r in cluster.core.records(topic, partition, broker_id)]
