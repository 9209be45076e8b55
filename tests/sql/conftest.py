"""Fixtures for SQL tests: a simulated cluster with small segments, and what a consumer sees."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kstream_nb import Cluster, Consumer, TopicPartition
from tests.threads import no_thread_left_behind  # noqa: F401 -- autouse

SMALL_SEGMENTS = {"segment.bytes": 4096}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Three simulated brokers; `orders` has 3 partitions, RF 3 and 4 KiB segments."""
    with Cluster.start(
        brokers=3,
        simulated=True,
        seed=5,
        data_dir=tmp_path,
        config={"offsets.topic.num.partitions": 3, "group.initial.rebalance.delay.ms": 0},
    ) as started:
        started.create_topic("orders", partitions=3, replication_factor=3, config=SMALL_SEGMENTS)
        yield started


Row = tuple[int, int, int, bytes | None, bytes | None, tuple[tuple[str, bytes | None], ...]]


def consumed(cluster: Cluster, topic: str) -> list[Row]:
    """(partition, offset, timestamp ms, key, value, headers) of every record a consumer reads
    from the beginning of each partition up to its high watermark, in partition/offset order."""
    consumer = Consumer(
        {
            "bootstrap.servers": cluster.bootstrap_servers,
            "group.id": "sql-check",
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = sorted(cluster.core.image.topics[topic].partitions)
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p))[1] for p in partitions}
        consumer.assign([TopicPartition(topic, p, -2) for p in partitions])
        rows: list[Row] = []
        idle = 0
        while idle < 6:  # compaction may remove a partition's last records: stop when quiet
            msg = consumer.poll(0.5)
            if msg is None:
                idle += 1
                continue
            idle = 0
            assert msg.error() is None, msg.error()
            p, off = msg.partition(), msg.offset()
            assert p is not None
            assert off is not None
            if off < ends[p]:
                headers = tuple(msg.headers() or ())
                rows.append((p, off, msg.timestamp()[1], msg.key(), msg.value(), headers))
        rows.sort(key=lambda r: (r[0], r[1]))
        return rows
    finally:
        consumer.close()


def scanned(frame_rows: list[dict[str, object]]) -> list[Row]:
    out: list[Row] = []
    for r in frame_rows:
        ts = r["timestamp"]
        headers = tuple((h["key"], h["value"]) for h in r["headers"])  # type: ignore[union-attr, index]
        out.append(
            (
                r["partition"],
                r["offset"],
                round(ts.timestamp() * 1000),
                r["key"],
                r["value"],
                headers,
            )
        )  # type: ignore[union-attr, arg-type]
    out.sort(key=lambda r: (r[0], r[1]))
    return out
