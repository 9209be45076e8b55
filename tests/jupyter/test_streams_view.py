"""A windowed table of a running streams application, drawn live."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from kstream_nb import Cluster, Producer
from kstream_nb.jupyter import StoreView, table_chart, table_rows
from kstream_nb.streams import KafkaStreams, Serdes, StreamsBuilder, TimeWindows

HOUR = 3_600_000


def test_a_windowed_table_chart_follows_the_counts(tmp_path: Path) -> None:
    with Cluster.start(
        brokers=1,
        simulated=True,
        seed=2,
        data_dir=tmp_path,
        config={"group.initial.rebalance.delay.ms": 0},
    ) as cluster:
        cluster.create_topic("orders", partitions=1, replication_factor=1)
        builder = StreamsBuilder()
        per_hour = (
            builder.stream("orders")
            .group_by_key()
            .windowed_by(TimeWindows.of_size_with_no_grace("1h"))
            .count("per-hour")
        )
        config = {
            "application.id": "charts",
            "bootstrap.servers": cluster.bootstrap_servers,
            "default.key.serde": Serdes.String(),
            "default.value.serde": Serdes.Json(),
        }
        base = cluster.now_ms() - cluster.now_ms() % HOUR
        producer = Producer({"bootstrap.servers": cluster.bootstrap_servers})
        for i, customer in enumerate(["C1", "C1", "C2"]):
            producer.produce(
                "orders", json.dumps({"i": i}).encode(), customer.encode(), timestamp=base + i
            )
        producer.flush(10)
        with KafkaStreams(builder.build(), config) as streams:
            streams.run(count=3)
            rows = table_rows(streams, "per-hour")
            assert [(r["key"], r["value"]) for r in rows] == [("C1", 2), ("C2", 1)]
            chart = table_chart(streams, per_hour, interval=0.1)
            try:
                deadline = time.monotonic() + 10
                while len(chart.rows) < 2:
                    assert time.monotonic() < deadline, chart.error
                    time.sleep(0.05)
                assert {r["key"]: r["value"] for r in chart.rows} == {"C1": 2, "C2": 1}
                assert chart.spec["mark"]["type"] == "line"
            finally:
                chart.close()
            with pytest.raises(ValueError, match="no store"):
                table_chart(streams, per_hour.filter(lambda k, v: True))
            view = StoreView(streams, per_hour, interval=0.1)
            try:
                deadline = time.monotonic() + 10
                while view.total < 2:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
                assert view.columns == ["key", "window start", "window end", "value"]
                assert [(r[0], r[3]) for r in view.rows] == [("C1", "2"), ("C2", "1")]
            finally:
                view.close()
