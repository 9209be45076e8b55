"""`RecordCollector`: what tasks write (sinks, repartition topics, changelogs), as record batches.

Kafka Streams hands its outputs to a producer that batches them; here the collector builds the
batches itself (one per topic-partition) and writes them all at once at each commit, or when
`max_records` wait, with acks=all. Keys are partitioned as Kafka Streams' producer does
(murmur2, the Java client's default), memoized per key; a windowed key by its base key alone
(Kafka's WindowedStreamPartitioner).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kstream_nb.client.partitioner import murmur2
from kstream_nb.errors import ErrorCode, KStreamNbError
from kstream_nb.log import BatchBuilder
from kstream_nb.runtime.cluster import Cluster

__all__ = ["RecordCollector"]

_NO_HEADERS: list[tuple[str, bytes | None]] = []


@dataclass(slots=True)
class _OpenBatch:
    """A topic-partition's batch being filled: the builder, its compiled encoder, its count."""

    builder: BatchBuilder
    encode: Callable[[int, int | None, bytes | None, bytes | None, list[Any]], object]
    count: int = 0


class RecordCollector:
    """Batches per (topic, partition), written by `flush()`; not thread-safe (one per app)."""

    def __init__(
        self, cluster: Cluster, max_records: int = 200_000, batch_records: int = 2000
    ) -> None:
        self._cluster = cluster
        self.max_records = max_records
        self.batch_records = batch_records
        self._open: dict[tuple[str, int], _OpenBatch] = {}
        self._full: list[tuple[str, int, bytes]] = []
        self._partitions: dict[str, int] = {}
        self._by_key: dict[tuple[bytes, int], int] = {}
        self._round_robin = itertools.count()
        self.pending = 0
        self.sent = 0

    def _count(self, topic: str) -> int:
        count = self._partitions.get(topic)
        if count is None:
            core = self._cluster.core
            image = self._cluster.call(lambda: core.image)
            if topic not in image.topics:
                raise KStreamNbError(
                    f"the topology writes to {topic!r}, which does not exist; create it first"
                )
            count = len(image.topics[topic].partitions)
            self._partitions[topic] = count
        return count

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        timestamp: int,
        headers: Any = (),
        partition_key: bytes | None = None,
        partition: int | None = None,
    ) -> None:
        """Queue a record for `partition`, or the one murmur2 gives `partition_key` (a windowed
        key's base key, as Kafka's WindowedStreamPartitioner) or else `key`."""
        if partition is None:
            count = self._partitions.get(topic) or self._count(topic)
            hashed = key if partition_key is None else partition_key
            if hashed is None:
                partition = next(self._round_robin) % count
            else:
                slot = (hashed, count)
                partition = self._by_key.get(slot)
                if partition is None:
                    partition = murmur2(hashed, count)
                    if len(self._by_key) < 1_000_000:
                        self._by_key[slot] = partition
        tp = (topic, partition)
        batch = self._open.get(tp)
        if batch is None:
            builder = BatchBuilder()
            batch = self._open[tp] = _OpenBatch(builder, builder.encoder)
        n = batch.count
        batch.encode(
            n,
            timestamp if timestamp > 0 else 0,
            key,
            value,
            list(headers) if headers else _NO_HEADERS,
        )
        batch.count = n = n + 1
        if n >= self.batch_records:
            self._full.append((topic, partition, batch.builder.build()))
            del self._open[tp]
        self.pending += 1
        if self.pending >= self.max_records:
            self.flush()

    def flush(self) -> None:
        """Write every batch and wait until all are acknowledged by every in-sync replica."""
        batches = self._full + [(t, p, b.builder.build()) for (t, p), b in self._open.items()]
        self._full, self._open = [], {}
        if not batches:
            return
        results = self._cluster.produce_batches(
            batches,
            acks="all",
            timeout="60s",
            trusted_encoder=True,  # built by BatchBuilder
        )
        failed = [
            f"{topic}-{partition}: {result.error.name}"
            for (topic, partition, _), result in zip(batches, results, strict=True)
            if result.error != ErrorCode.NONE
        ]
        if failed:
            raise KStreamNbError(
                f"writing the topology's output failed ({'; '.join(failed)}); the input offsets "
                "were not committed, so those records will be processed again"
            )
        self.sent += self.pending
        self.pending = 0
