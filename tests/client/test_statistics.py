"""librdkafka's statistics: `statistics.interval.ms` + `stats_cb`, a JSON document per interval
of the cluster's clock, served from the application's poll()."""

from __future__ import annotations

import json
from typing import Any

from kstream_nb import Cluster, Consumer, Producer


def test_a_consumer_reports_offsets_and_lag_every_interval(cluster: Cluster) -> None:
    producer = Producer({"bootstrap.servers": "localhost:9092"})
    for i in range(30):
        producer.produce("orders", b"%d" % i, partition=i % 3)
    assert producer.flush(10) == 0
    documents: list[dict[str, Any]] = []
    consumer = Consumer(
        {
            "bootstrap.servers": "localhost:9092",
            "group.id": "stats",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "statistics.interval.ms": 1000,
            "stats_cb": lambda text: documents.append(json.loads(text)),
        }
    )
    consumer.subscribe(["orders"])
    got = []
    while len(got) < 6:
        msg = consumer.poll(1.0)
        if msg is not None and msg.partition() == 0:
            got.append(msg)
    consumer.commit(got[3], asynchronous=False)  # committed offset 4 on orders-0
    start = cluster.now_ms()
    seen = len(documents)
    for _ in range(30):
        consumer.poll(0.2)
    elapsed_s = (cluster.now_ms() - start) / 1000
    # About one document per simulated second (served when the application polls).
    assert abs((len(documents) - seen) - elapsed_s) <= 1
    last = documents[-1]
    assert last["type"] == "consumer"
    assert last["name"].startswith("rdkafka#consumer-")
    assert last["cgrp"]["assignment_size"] == 3
    assert last["cgrp"]["rebalance_cnt"] == 1
    assert last["cgrp"]["join_state"] == "steady"
    p0 = last["topics"]["orders"]["partitions"]["0"]
    assert p0["hi_offset"] == 10
    assert p0["lo_offset"] == 0
    assert p0["committed_offset"] == 4
    assert p0["consumer_lag"] == 6  # hi_offset - committed_offset, as librdkafka computes it
    assert p0["app_offset"] == 10  # it read the whole partition since
    assert p0["stored_offset"] == 10
    assert p0["consumer_lag_stored"] == 0
    consumer.close()


def test_a_producer_reports_delivered_records(cluster: Cluster) -> None:
    documents: list[dict[str, Any]] = []
    producer = Producer(
        {
            "bootstrap.servers": "localhost:9092",
            "statistics.interval.ms": 500,
            "stats_cb": lambda text: documents.append(json.loads(text)),
        }
    )
    for i in range(12):
        producer.produce("orders", b"x", partition=i % 3)
    assert producer.flush(10) == 0
    cluster.advance("1s")
    producer.poll(0)
    last = documents[-1]
    assert last["type"] == "producer"
    assert last["msg_cnt"] == 0
    assert last["txmsgs"] == 12
    assert {p: d["txmsgs"] for p, d in last["topics"]["orders"]["partitions"].items()} == {
        "0": 4,
        "1": 4,
        "2": 4,
    }


def test_no_statistics_without_an_interval_or_a_callback(cluster: Cluster) -> None:
    calls: list[str] = []
    quiet = Producer({"bootstrap.servers": "localhost:9092", "stats_cb": calls.append})
    deaf = Producer({"bootstrap.servers": "localhost:9092", "statistics.interval.ms": 100})
    for producer in (quiet, deaf):
        producer.produce("orders", b"x")
        producer.flush(5)
        cluster.advance("2s")
        producer.poll(0)
    assert calls == []
