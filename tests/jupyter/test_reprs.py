"""Rich and plain reprs: HTML for notebooks, stable address-free text for nbval."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kstream_nb import KafkaApiError, Message
from kstream_nb.runtime import Cluster

ADDRESS = re.compile(r"0x[0-9a-f]{6,}|object at")


def test_cluster_topic_group_and_message_reprs_are_stable() -> None:
    with Cluster.start(3, simulated=True, seed=2) as cluster:
        cluster.create_topic("orders", partitions=2, replication_factor=3)
        cluster.produce("orders", b'{"a": 1}', key=b"k", partition=1)
        topic = cluster.topic("orders")
        texts = [repr(cluster), repr(topic), cluster._repr_html_(), topic._repr_html_()]
        assert repr(cluster) == "Cluster(brokers=3, simulated, running)"
        assert repr(topic).splitlines()[:2] == [
            "Partitions of orders",
            "topic   partition  leader  epoch  replicas  isr    log start  high watermark  log end",
        ]
        assert "orders  1" in repr(topic)
        assert "<table" in cluster._repr_html_()
        [(partition, record)] = topic.tail(5)
        assert (partition, record.offset, record.key) == (1, 0, b"k")
        group = cluster.group("nobody")
        with pytest.raises(KafkaApiError, match="no consumer group 'nobody'"):
            repr(group)
        message = Message("orders", 1, 0, b"k", b"v", headers=[("h", b"1")])
        texts += [repr(message), message._repr_html_()]
        assert '<td style="text-align:left;padding:2px 8px"><code>v</code></td>' in (
            message._repr_html_()
        )
        for text in texts:
            assert not ADDRESS.search(text), text
        # the same cluster state gives the same text
        assert repr(cluster.topic("orders")) == repr(topic)
    assert repr(topic) == "Topic('orders', cluster stopped)"
    assert repr(group) == "ConsumerGroup('nobody', cluster stopped)"


def test_kernel_exit_stops_the_cluster_and_removes_its_directory(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        from IPython.testing.globalipapp import start_ipython
        ip = start_ipython()
        ip.run_line_magic("load_ext", "kstream_nb")
        cluster = ip.run_line_magic("kafka", "cluster start --brokers 2")
        print(cluster.data_dir)
        # no stop: the interpreter exits with the cluster running
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    data_dir = Path(done.stdout.strip().splitlines()[-1])
    assert data_dir.name.startswith("kstream-nb-")
    assert not data_dir.exists()


def test_a_group_whose_coordinator_is_down_is_not_called_missing() -> None:
    from kstream_nb import Consumer
    from kstream_nb.errors import ErrorCode

    config = {"offsets.topic.num.partitions": 3, "group.initial.rebalance.delay.ms": 0}
    with Cluster.start(3, simulated=True, seed=2, config=config) as cluster:
        cluster.create_topic("orders", partitions=1, replication_factor=3)
        consumer = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": "billing"})
        consumer.subscribe(["orders"])
        consumer.poll(3.0)
        assert cluster.group("billing").snapshot().state == "Stable"
        down = cluster.call(lambda: cluster.core.coordinator_down("billing"))
        assert down is None
        index = next(
            p.partition
            for p in cluster.describe().partitions
            if p.topic == "__consumer_offsets"
            and cluster.call(lambda: cluster.core.group_coordinator("billing"))[1] == p.partition
        )
        leader = cluster.describe().partition("__consumer_offsets", index).leader
        cluster.kill_broker(leader)
        with pytest.raises(KafkaApiError, match="coordinator of group 'billing'") as failure:
            cluster.group("billing").snapshot()
        assert failure.value.code == ErrorCode.COORDINATOR_NOT_AVAILABLE
        consumer.close()
