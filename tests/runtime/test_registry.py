"""bootstrap.servers finds the in-kernel cluster that advertises the address."""

from __future__ import annotations

from pathlib import Path

import pytest

from kstream_nb import Cluster
from kstream_nb.runtime.registry import NoClusterError, find_cluster


def test_clients_find_a_running_cluster_by_any_of_its_addresses(tmp_path: Path) -> None:
    with Cluster.start(brokers=3, simulated=True, data_dir=tmp_path) as cluster:
        assert cluster.bootstrap_servers == "localhost:9092,localhost:9093,localhost:9094"
        assert find_cluster("localhost:9093") is cluster
        assert find_cluster("127.0.0.1:9094") is cluster
        assert find_cluster("PLAINTEXT://localhost:9092,other:1") is cluster
        with pytest.raises(NoClusterError, match="running clusters answer to localhost:9092"):
            find_cluster("kafka.example.com:9092")
    with pytest.raises(NoClusterError, match="no cluster is running") as err:
        find_cluster("localhost:9092")
    assert err.value.name == "BROKER_NOT_AVAILABLE"
