"""For random workloads, SQL and scans return exactly what a consumer reading from the start
sees: before and after retention and compaction, with several partitions, while producers write."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kstream_nb import Cluster
from tests.sql.conftest import Row, consumed, scanned

records = st.lists(
    st.tuples(
        st.integers(0, 2),  # partition
        st.sampled_from([b"a", b"b", b"c", b"d"]),  # key (compaction needs one)
        st.one_of(st.none(), st.binary(max_size=40)),  # value (None is a tombstone)
        st.lists(st.tuples(st.sampled_from(["h", "trace"]), st.binary(max_size=4)), max_size=1),
    ),
    max_size=40,
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("produce"), records),
        st.tuples(st.just("advance"), st.sampled_from(["1s", "2min", "20min"])),
        st.tuples(st.just("twins"), st.none()),
        st.tuples(st.just("check"), st.none()),
    ),
    min_size=1,
    max_size=8,
)


def run_sql(cluster: Cluster, topic: str) -> list[Row]:
    rows = cluster.sql(
        f'SELECT partition, "offset", epoch_ms(timestamp) AS ts, key, value, headers '
        f'FROM "{topic}" ORDER BY partition, "offset"'
    ).fetchall()
    return [
        (p, o, ts, k, v, tuple((h["key"], h["value"]) for h in hs)) for p, o, ts, k, v, hs in rows
    ]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(workload=steps, policy=st.sampled_from(["delete", "compact"]))
def test_queries_equal_a_consumer_from_the_beginning(
    tmp_path_factory: pytest.TempPathFactory, workload: list, policy: str
) -> None:
    data_dir: Path = tmp_path_factory.mktemp("cluster")
    config = {
        "segment.bytes": 1024,
        "cleanup.policy": policy,
        "retention.ms": 600_000,
        "min.cleanable.dirty.ratio": 0.01,
        "delete.retention.ms": 0,
        "kstream.value.format": "raw",
    }
    with Cluster.start(brokers=3, simulated=True, seed=9, data_dir=data_dir) as cluster:
        cluster.create_topic("t", partitions=3, replication_factor=2, config=config)
        pending: list[tuple[pl.LazyFrame, list[Row]]] = []
        for kind, arg in [*workload, ("check", None)]:
            if kind == "produce":
                for partition, key, value, headers in arg:
                    cluster.produce("t", value, key=key, partition=partition, headers=headers)
            elif kind == "advance":
                cluster.advance(arg)  # retention and the cleaner run on their schedule
            elif kind == "twins":
                cluster.flush_twins()
            else:
                expected = consumed(cluster, "t")
                assert scanned(cluster.topic("t").scan().collect().to_dicts()) == expected
                assert run_sql(cluster, "t") == expected
                # Collected later, after more writes, a scan still shows its own moment.
                pending.append((cluster.topic("t").scan(), expected))
        cluster.produce("t", b"after", key=b"z", partition=0)
        cluster.advance("20min")
        for frame, expected in pending:
            assert scanned(frame.collect().to_dicts()) == expected
