"""`cluster.sql()`: DuckDB with every topic a view, JSON fields typed, internal topics too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from kstream_nb import Cluster, Consumer, Producer
from kstream_nb.errors import KStreamNbError
from tests.sql.test_scan import produce_orders


def test_the_seed_query_groups_by_typed_json_columns(cluster: Cluster) -> None:
    produce_orders(cluster, 400)
    cluster.flush_twins()
    rows = cluster.sql(
        "SELECT customer_id, count(*) AS n, sum(amount) AS total FROM orders "
        "GROUP BY customer_id ORDER BY customer_id"
    ).fetchall()
    expected_n = Counter(f"CUST-{i % 7}" for i in range(400))
    expected_total: Counter[str] = Counter()
    for i in range(400):
        expected_total[f"CUST-{i % 7}"] += i * 1.5
    assert [(c, n) for c, n, _ in rows] == sorted(expected_n.items())
    assert all(total == pytest.approx(expected_total[c]) for c, _, total in rows)


def test_json_operators_work_on_the_value(cluster: Cluster) -> None:
    produce_orders(cluster, 50)
    cluster.produce("orders", b"broken {", partition=2)
    rows = cluster.sql(
        "SELECT value->>'customer_id' AS customer, count(*) FROM orders "
        "WHERE value IS NOT NULL GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert sum(n for _, n in rows) == 50  # the broken value is not JSON: `value` is null there
    errors = cluster.sql("SELECT count(*) FROM orders WHERE value_error IS NOT NULL").fetchall()
    assert errors == [(1,)]  # detected as JSON all the same: one bad value does not spoil it


def test_declared_json_topics_report_bad_values(cluster: Cluster) -> None:
    cluster.create_topic(
        "clicks",
        partitions=1,
        replication_factor=1,
        config={"kstream.value.format": "json", "segment.bytes": 1024},
    )
    for i in range(60):
        cluster.produce("clicks", json.dumps({"page": f"/p{i % 3}", "ms": i}).encode())
    cluster.produce("clicks", b"oops")
    cluster.flush_twins()
    bad = cluster.sql(
        'SELECT "offset", value_error FROM clicks WHERE value_error IS NOT NULL'
    ).fetchall()
    assert [o for o, _ in bad] == [60]
    assert bad[0][1].startswith("invalid JSON")
    assert cluster.sql("SELECT sum(ms) FROM clicks").fetchall()[0] == (sum(range(60)),)


def test_raw_topics_keep_bytes(cluster: Cluster) -> None:
    cluster.create_topic("lines", partitions=1, replication_factor=1)
    cluster.produce("lines", b"hello", key=b"k")
    row = cluster.sql("SELECT key, value, decode(value) AS text FROM lines").fetchall()[0]
    assert row == (b"k", b"hello", "hello")


def test_results_convert_to_polars_and_arrow(cluster: Cluster) -> None:
    produce_orders(cluster, 30)
    relation = cluster.sql("SELECT partition, count(*) AS n FROM orders GROUP BY 1 ORDER BY 1")
    assert relation.pl().to_dicts() == [{"partition": p, "n": 10} for p in range(3)]
    assert relation.to_arrow_table().num_rows == 3


def test_topic_names_that_need_quoting(cluster: Cluster) -> None:
    cluster.create_topic("orders.v2-eu", partitions=1, replication_factor=1)
    cluster.produce("orders.v2-eu", b'{"x": 1}')
    assert cluster.sql('SELECT x FROM "orders.v2-eu"').fetchall() == [(1,)]


def test_internal_topics_are_views_too(cluster: Cluster) -> None:
    producer = Producer({"bootstrap.servers": cluster.bootstrap_servers})
    producer.produce("orders", b'{"a": 1}', partition=0)
    producer.flush(10)
    consumer = Consumer(
        {
            "bootstrap.servers": cluster.bootstrap_servers,
            "group.id": "billing",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe(["orders"])
        msg = None
        for _ in range(40):
            msg = consumer.poll(0.5)
            if msg is not None:
                break
        assert msg is not None
        consumer.commit(message=msg, asynchronous=False)
    finally:
        consumer.close()
    commits = cluster.sql(
        "SELECT count(*) FROM __consumer_offsets WHERE key IS NOT NULL"
    ).fetchall()[0]
    assert commits[0] >= 1
    kinds = (
        cluster.sql("SELECT DISTINCT value->>'type' AS kind FROM __kstream_events ORDER BY 1")
        .pl()["kind"]
        .to_list()
    )
    assert "TopicCreated" in kinds


def test_bad_queries_fail_with_duckdbs_message_and_statements_are_refused(cluster: Cluster) -> None:
    import duckdb

    with pytest.raises(duckdb.Error, match="nope"):
        cluster.sql("SELECT nope FROM orders")
    with pytest.raises(KStreamNbError, match="empty"):
        cluster.sql("  ")
    with pytest.raises((KStreamNbError, duckdb.Error)):
        cluster.sql("INSERT INTO orders VALUES (1)")


def test_sql_and_scan_agree_with_mixed_twins(cluster: Cluster) -> None:
    # Some segments twinned as raw (the topic said so then), later ones as JSON: both paths still
    # give every record its typed columns.
    cluster.alter_topic_config("orders", {"kstream.value.format": "raw"})
    produce_orders(cluster, 300)
    cluster.flush_twins()
    cluster.alter_topic_config("orders", {"kstream.value.format": "json"})
    produce_orders(cluster, 300, start=300)
    cluster.flush_twins()
    by_sql = cluster.sql("SELECT sum(amount), count(customer_id) FROM orders").fetchall()[0]
    by_scan = (
        cluster.topic("orders")
        .scan(value_format="json")
        .select(pl.col("amount").sum(), pl.col("customer_id").count())
        .collect()
        .row(0)
    )
    expected = (sum(i * 1.5 for i in range(600)), 600)
    assert by_sql == pytest.approx(expected)
    assert by_scan == pytest.approx(expected)


def test_a_field_whose_type_changes_between_segments_stays_readable(cluster: Cluster) -> None:
    cluster.create_topic(
        "shapes", partitions=1, replication_factor=1, config={"segment.bytes": 200}
    )
    values = [
        b'{"a": 1, "n": 0}',
        b'{"a": {"b": 2}, "n": 1}',
        b'{"a": "x", "n": 2}',
        b'{"a": [1], "n": 3}',
    ]
    for value in values * 3:
        cluster.produce("shapes", value)
    cluster.flush_twins()
    frame = cluster.topic("shapes").scan(value_format="json").collect()
    assert frame["n"].to_list() == [0, 1, 2, 3] * 3
    assert frame.schema["a"] == pl.String  # numbers, objects and lists meet as JSON text
    assert frame["a"].to_list()[:3] == ["1", '{"b":2}', "x"]
    assert cluster.sql("SELECT sum(n) FROM shapes").fetchall() == [(18,)]


def test_timestamps_are_utc_whatever_the_machines_zone(tmp_path: Path) -> None:
    script = """
from kstream_nb import Cluster
with Cluster.start(brokers=1, simulated=True, seed=1) as c:
    c.create_topic("t", partitions=1, replication_factor=1)
    c.produce("t", b"{}", timestamp=1_700_000_000_000)  # 22:13:20 UTC
    query = (
        "SELECT current_setting('TimeZone'), strftime(timestamp, '%H:%M'), "
        "time_bucket(INTERVAL '1 hour', timestamp)::VARCHAR FROM t"
    )
    print(c.sql(query).fetchall())
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "TZ": "America/New_York"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[('UTC', '22:13', '2023-11-14 22:00:00+00')]"
