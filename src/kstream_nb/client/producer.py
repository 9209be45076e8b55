"""`Producer`: confluent-kafka's producer API, writing to an in-kernel cluster.

Records are batched per partition in the caller's thread (one `BatchBuilder` per partition, sealed
by `batch.size`, `batch.num.messages` or `linger.ms`), sent to the partition's leader on the
cluster's thread, retried on retriable errors within `delivery.timeout.ms`, and reported through
delivery callbacks from `poll()`/`flush()`, as librdkafka does. With `enable.idempotence`, every
batch carries the producer id, epoch and sequence, so retries are never written twice.
On a simulated cluster, `poll(timeout)` and `flush(timeout)` advance simulated time.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kstream_nb.client.config import ProducerConfig
from kstream_nb.client.error import KafkaError, KafkaException, from_error_code
from kstream_nb.client.message import (
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    Message,
)
from kstream_nb.client.metadata import ClusterMetadata, cluster_metadata, connect
from kstream_nb.client.partitioner import Partitioner
from kstream_nb.client.statistics import Statistics
from kstream_nb.cluster import ProduceResult
from kstream_nb.errors import RETRIABLE, ErrorCode
from kstream_nb.log import BatchBuilder
from kstream_nb.runtime import Cluster
from kstream_nb.runtime.loop import RealTimeLoop

__all__ = ["Producer"]

DeliveryCallback = Callable[[KafkaError | None, Message], Any]
Headers = list[tuple[str, bytes | None]]
_NO_HEADERS: list[tuple[str, bytes | None]] = []  # the encoder only reads it
_RECORD_OVERHEAD = 70  # batch header share + record framing, as librdkafka estimates a message
_HEADER_OVERHEAD = 10  # a header's two length varints at most: the estimate never falls short


# What a delivery report needs of a record that has a callback: (its index in the batch, key,
# value, timestamp, headers or None, callback or None for the default one, the cluster clock in
# s when produced). Records nobody will hear about keep no row: the batch only counts them.
_Row = tuple[
    int,
    bytes | None,
    bytes | None,
    int,
    Headers | None,
    DeliveryCallback | None,
    float,
]


@dataclass(slots=True, eq=False)
class _Batch:
    """A partition's batch: open (records are encoded into `builder` as they are produced,
    under the producer's lock) until sealed, then built into `data` and sent."""

    topic: str
    partition: int
    builder: BatchBuilder
    encode: Callable[[int, int | None, bytes | None, bytes | None, Headers], object]
    rows: list[_Row] = field(default_factory=list)  # the records with a delivery callback
    count: int = 0  # records in the batch
    room: int = 0  # batch.size less librdkafka's estimate of the records' bytes
    data: bytes = b""
    attempts: int = 0
    first_enqueued: float = 0.0
    sealed: bool = False
    purged: bool = False


def _to_bytes(what: str, data: object) -> bytes | None:
    if data is None or isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    raise TypeError(f"expected {what} to be bytes or str, not {type(data).__name__}")


def _check_timestamp(timestamp: object) -> None:
    if type(timestamp) is not int:
        raise TypeError(f"timestamp must be an int (ms since the epoch), not {timestamp!r}")
    if not -(2**63) <= timestamp < 2**63:
        raise ValueError(f"timestamp {timestamp} does not fit a Kafka record's int64")


def _headers_size(headers: Headers) -> int:
    return sum(len(k) + len(v or b"") + _HEADER_OVERHEAD for k, v in headers)


def _headers(headers: object) -> Headers:
    items: Iterable[Any] = headers.items() if isinstance(headers, dict) else headers  # type: ignore[assignment]
    out: Headers = []
    for item in items:
        if not isinstance(item, tuple) or len(item) != 2 or not isinstance(item[0], str):
            raise TypeError("headers must be a dict or a list of (str, bytes|str|None) tuples")
        out.append((item[0], _to_bytes("a header value", item[1])))
    return out


class Producer:
    """A Kafka producer with confluent-kafka's API, for an in-kernel cluster."""

    def __init__(self, config: dict[str, Any] | None = None, /, **kwargs: Any) -> None:
        self._config = ProducerConfig.from_dict(config or {}, **kwargs)
        cfg = self._config
        self._cluster: Cluster = connect(cfg.bootstrap_servers)
        self._loop = self._cluster._loop
        self._real_time = isinstance(self._loop, RealTimeLoop)
        # Latency and delivery.timeout.ms run on the cluster's clock (simulated time included).
        self._clock: Callable[[], float] = (
            time.monotonic if self._real_time else lambda: self._loop.now_ms() / 1000
        )
        self._now_ms = self._loop.now_ms
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._open: dict[tuple[str, int], _Batch] = {}
        self._reports: deque[tuple[DeliveryCallback | None, KafkaError | None, Message]] = deque()
        # Messages in the queue (len()) = records counted by `_produced` - `_served`. produce()
        # counts with `next()` (atomic, no lock on the hot path); `_served` changes only under
        # `_count_lock`, which is always taken last.
        self._produced = itertools.count()
        self._served = 0
        self._count_lock = threading.Lock()
        self._partition_counts: dict[str, int] = {}
        # Random choices (keyless records) follow the cluster's seed, so a seeded run repeats.
        self._partitioner = Partitioner(
            cfg.partitioner,
            sticky_linger_ms=cfg.sticky_partitioning_linger_ms,
            rng=random.Random(self._loop.random.getrandbits(64)),
        )
        self._compression = cfg.compression_type
        self._auto_create = bool(cfg.properties.get("allow.auto.create.topics", True))
        self._producer_id, self._epoch = -1, -1
        self._sequences: dict[tuple[str, int], int] = {}
        # Sealed batches waiting for a slot, and batches in flight, per partition (loop thread).
        # With idempotence at most 5 are in flight: the broker remembers the last 5 batches
        # of a producer, which is what lets it recognise any retry as a duplicate.
        self._queued: dict[tuple[str, int], deque[_Batch]] = {}
        self._in_flight: dict[tuple[str, int], int] = {}
        self._flying: set[_Batch] = set()
        self._max_in_flight = max(
            1,
            min(
                cfg.max_in_flight_requests_per_connection,
                5 if cfg.enable_idempotence else 1_000_000,
            ),
        )
        # Read on every produce(): kept as attributes, not looked up in the config each time.
        self._max_message_bytes = cfg.message_max_bytes
        self._queue_max = cfg.queue_buffering_max_messages
        self._last_in_batch = cfg.batch_num_messages - 1  # the record that fills a batch
        self._batch_size = cfg.batch_size
        self._sticky_ms = (
            cfg.sticky_partitioning_linger_ms
            if cfg.partitioner in ("consistent_random", "murmur2_random", "fnv1a_random", "random")
            else 0
        )
        self._sticky: dict[str, tuple[int, int]] = {}  # topic -> (partition, since ms)
        self._silent_delivered = 0  # deliveries without a callback since the last poll()
        self._default_dr = cfg.on_delivery is not None
        # Records nobody hears about are stamped by the encoder (the wall clock) in real time.
        self._encoder_stamps = self._real_time and not self._default_dr
        self._sent: dict[tuple[str, int], int] = {}  # records delivered per partition (stats)
        self._stats = Statistics.of(
            "producer", cfg.client_id, cfg.statistics_interval_ms, cfg.stats_cb, self._loop.now_ms
        )
        if cfg.enable_idempotence:
            self._producer_id, self._epoch = self._cluster.init_producer_id()

    # -- producing -------------------------------------------------------------------------

    def produce(
        self,
        topic: str,
        value: object = None,
        key: object = None,
        partition: int = -1,
        on_delivery: DeliveryCallback | None = None,
        callback: DeliveryCallback | None = None,
        timestamp: int = 0,
        headers: object = None,
    ) -> None:
        """Queue one record; its delivery report comes from a later `poll()` or `flush()`."""
        if type(value) is not bytes and value is not None:
            value = _to_bytes("value", value)
        if key is not None and type(key) is not bytes:
            key = _to_bytes("key", key)
        size = _RECORD_OVERHEAD + (len(value) if value is not None else 0)
        if key is not None:
            size += len(key)
        hdrs = None
        if headers is not None:
            hdrs = _headers(headers)
            size += _headers_size(hdrs)
        if size > self._max_message_bytes:
            raise KafkaException(
                KafkaError(
                    KafkaError.MSG_SIZE_TOO_LARGE,
                    f"Message size {size} exceeds message.max.bytes={self._max_message_bytes}",
                )
            )
        cb = on_delivery or callback
        if partition < 0:
            partition = self._pick_partition(topic, key)
        try:
            batch = self._open.get((topic, partition))
        except TypeError:  # an unhashable topic: _partition_exists says what is wrong
            batch = None
        if batch is None and not self._partition_exists(topic, partition, key, value, hdrs, cb):
            return
        stamp: int | None = timestamp
        if timestamp:
            _check_timestamp(timestamp)
        elif cb is None and self._encoder_stamps:
            stamp = None  # the encoder reads the wall clock itself
        else:
            stamp = self._now_ms()
        if next(self._produced) - self._served >= self._queue_max:
            self._uncount(1)
            raise BufferError("Local: Queue full")
        lock = self._lock
        lock.acquire()
        try:
            if batch is None or batch.sealed or (size > batch.room and batch.count):
                batch = self._writable_batch(topic, partition, size)
            n = batch.count
            batch.encode(n, stamp, key, value, hdrs or _NO_HEADERS)
            batch.count = n + 1
            batch.room -= size
            if stamp is not None and (cb is not None or self._default_dr):
                batch.rows.append((n, key, value, stamp, hdrs, cb, self._clock()))
            if n >= self._last_in_batch:
                self._seal(batch)
        finally:
            lock.release()

    def _pick_partition(self, topic: str, key: bytes | None) -> int:
        """The partitioner's choice for a record without a partition; -1 for a missing topic."""
        count = self._partitions_of(topic)
        if count == 0:
            return -1
        now = self._now_ms()
        if key is None and self._sticky_ms > 0:
            # Keyless records stick to one partition for sticky.partitioning.linger.ms.
            sticky = self._sticky.get(topic)
            if sticky is not None and now - sticky[1] <= self._sticky_ms:
                return sticky[0]
            partition = self._partitioner(None, count)
            self._sticky[topic] = (partition, now)
            return partition
        return self._partitioner.partition(topic, key, count, now)

    def _partition_exists(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        headers: Headers | None,
        callback: DeliveryCallback | None,
    ) -> bool:
        """Whether a record can go to the partition when it has no open batch: a missing topic
        is reported through the delivery callback (as librdkafka), a missing partition raises."""
        count = self._partitions_of(topic)
        if count == 0:
            error = from_error_code(
                ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {topic!r} does not exist"
            )
            self._report_now(topic, partition, key, value, headers, callback, error)
            return False
        if partition >= count:
            raise KafkaException(
                KafkaError(
                    KafkaError._UNKNOWN_PARTITION,
                    f"topic {topic!r} has {count} partitions; partition {partition} does not exist",
                )
            )
        return True

    def _writable_batch(self, topic: str, partition: int, size: int) -> _Batch:
        """The partition's open batch with room for `size` more bytes (lock held): a full one
        is sealed (batch.size reached) and the record opens the next."""
        batch = self._open.get((topic, partition))
        if batch is not None and batch.count and size > batch.room:
            self._seal(batch)
            batch = None
        return batch if batch is not None else self._new_batch(topic, partition)

    def _uncount(self, n: int) -> None:
        """Take `n` messages out of the queue count (served, refused or dropped)."""
        with self._count_lock:
            self._served += n

    def _queue_length(self) -> int:
        """Messages produced and not yet served. Reading the count takes a number from it, so
        the reading counts itself as served too."""
        with self._count_lock:
            produced = next(self._produced)
            self._served += 1
            return produced + 1 - self._served

    def _partitions_of(self, topic: str) -> int:
        """The topic's partition count (cached), creating it when allowed; 0 if missing."""
        if type(topic) is not str or not topic:
            raise TypeError("topic must be a non-empty str")
        count = self._partition_counts.get(topic)
        if count is None:

            def look() -> int:
                core = self._cluster.core
                if topic not in core.image.topics and self._auto_create:
                    core.ensure_topic(topic)
                image = core.image.topics.get(topic)
                return len(image.partitions) if image is not None else 0

            count = self._cluster._call(look)
            if count:
                self._partition_counts[topic] = count
        return count

    def _new_batch(self, topic: str, partition: int) -> _Batch:
        """Open a batch (lock held) and schedule its linger.ms deadline. Batches of a partition
        are sealed in the order they open, so its idempotent sequence is known now."""
        tp = (topic, partition)
        builder = BatchBuilder(
            self._compression,
            producer_id=self._producer_id,
            producer_epoch=self._epoch,
            base_sequence=self._sequences.get(tp, 0) if self._producer_id >= 0 else -1,
        )
        batch = _Batch(
            topic,
            partition,
            builder,
            builder.encoder,
            room=self._batch_size,
            first_enqueued=self._clock(),
        )
        self._open[tp] = batch
        self._loop.call_later(int(self._config.linger_ms), lambda: self._linger_expired(batch))
        return batch

    def _seal(self, batch: _Batch) -> None:
        """Close a batch (lock held), build its bytes and queue it for sending; idempotent
        sequences advance here. Queued under the lock, batches of a partition go out in the
        order they were sealed, whichever thread sealed them."""
        batch.sealed = True
        tp = (batch.topic, batch.partition)
        if self._open.get(tp) is batch:
            del self._open[tp]
        if batch.count == 0:
            return
        batch.data = batch.builder.build()
        if self._producer_id >= 0:
            self._sequences[tp] = self._sequences.get(tp, 0) + batch.count
        self._loop.call_soon(lambda: self._enqueue(batch))

    def _linger_expired(self, batch: _Batch) -> None:
        with self._lock:
            if not batch.sealed:
                self._seal(batch)

    # -- on the cluster's thread -----------------------------------------------------------

    def _enqueue(self, batch: _Batch) -> None:
        """Queue a sealed batch behind its partition's in-flight window (loop thread)."""
        tp = (batch.topic, batch.partition)
        self._queued.setdefault(tp, deque()).append(batch)
        self._pump(tp)

    def _pump(self, tp: tuple[str, int]) -> None:
        queue = self._queued.get(tp)
        while queue and self._in_flight.get(tp, 0) < self._max_in_flight:
            self._in_flight[tp] = self._in_flight.get(tp, 0) + 1
            self._send(queue.popleft())

    def _send(self, batch: _Batch) -> None:
        self._flying.add(batch)
        batch.attempts += 1
        # As librdkafka, a request never outlives its messages' delivery.timeout.ms.
        left_ms = self._config.delivery_timeout_ms - (self._clock() - batch.first_enqueued) * 1000
        self._cluster.core.produce(
            batch.topic,
            batch.partition,
            batch.data,
            acks=self._config.acks,
            timeout_ms=max(1, min(self._config.request_timeout_ms, int(left_ms))),
            callback=lambda result: self._answered(batch, result),
            trusted_encoder=True,  # built by this producer's BatchBuilder
        )

    def _answered(self, batch: _Batch, result: ProduceResult) -> None:
        error = result.error
        retriable = error in RETRIABLE or (
            self._producer_id >= 0 and error == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
        )
        elapsed_ms = (self._clock() - batch.first_enqueued) * 1000
        if (
            error != ErrorCode.NONE
            and retriable
            and not batch.purged
            and not self._cluster.stopped
            and batch.attempts <= self._config.retries
            and elapsed_ms < self._config.delivery_timeout_ms
        ):
            self._loop.call_later(self._config.retry_backoff_ms, lambda: self._send(batch))
            return
        if self._cluster.stopped and error != ErrorCode.NONE:
            failure: KafkaError | None = KafkaError(
                KafkaError._TRANSPORT, "the cluster was stopped before this batch was written"
            )
        elif batch.purged:
            failure = KafkaError(KafkaError._PURGE_INFLIGHT, "Purged in flight")
        elif error == ErrorCode.NONE:
            failure = None
        elif retriable and elapsed_ms >= self._config.delivery_timeout_ms:
            failure = KafkaError(KafkaError._MSG_TIMED_OUT, "Local: Message timed out")
        else:
            failure = from_error_code(error, result.message or None)
        self._deliver(batch, failure, result)
        self._finished(batch)

    def _finished(self, batch: _Batch) -> None:
        self._flying.discard(batch)
        tp = (batch.topic, batch.partition)
        self._in_flight[tp] -= 1
        self._pump(tp)

    def _deliver(self, batch: _Batch, failure: KafkaError | None, result: ProduceResult) -> None:
        if failure is None:
            tp = (batch.topic, batch.partition)
            self._sent[tp] = self._sent.get(tp, 0) + batch.count
        kind = TIMESTAMP_LOG_APPEND_TIME if result.log_append_time >= 0 else TIMESTAMP_CREATE_TIME
        now = self._clock()
        # With acks=0 the broker does not answer: librdkafka reports no offset (None here).
        acked = self._config.acks != 0
        rows = () if self._config.delivery_report_only_error and failure is None else batch.rows
        # Nobody will look at a report without a callback: count it, build nothing.
        silent = batch.count - len(rows)
        create = Message._create
        reports = []
        for i, key, value, ts, headers, callback, enqueued in rows:
            offset = result.base_offset + i if failure is None and acked else None
            stamp = result.log_append_time if result.log_append_time >= 0 else ts
            msg = create(
                batch.topic,
                batch.partition,
                offset,
                key,
                value,
                headers,
                failure,
                (kind, stamp),
                now - enqueued,
            )
            reports.append((callback, failure, msg))
        with self._ready:
            self._reports.extend(reports)
            # Without a delivery callback librdkafka frees a message as soon as it is
            # delivered, so it leaves the queue (and len()) then, not at the next poll().
            self._uncount(silent)
            self._silent_delivered += silent  # poll() returns on these too, as confluent's does
            self._ready.notify_all()

    def _report_now(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        headers: Headers | None,
        callback: DeliveryCallback | None,
        error: KafkaError,
    ) -> None:
        msg = Message._create(
            topic, partition if partition >= 0 else None, None, key, value, headers, error
        )
        with self._ready:
            next(self._produced)
            self._reports.append((callback, error, msg))

    # -- reports ---------------------------------------------------------------------------

    def poll(self, timeout: float | None = None) -> int:
        """Serve delivery reports (calling their callbacks); wait up to `timeout` s for one."""
        self._wait(self._has_reports, timeout)
        return self._serve()

    def _has_reports(self) -> bool:
        return bool(self._reports) or self._silent_delivered > 0 or self._queue_length() == 0

    def _emit_statistics(self, stats: Statistics) -> None:
        """librdkafka's producer statistics: messages waiting, and delivered per partition."""
        sent = dict(self._sent)
        topics: dict[str, dict[str, Any]] = {}
        for (topic, partition), count in sorted(sent.items()):
            entry = topics.setdefault(topic, {"topic": topic, "partitions": {}})
            entry["partitions"][str(partition)] = {"partition": partition, "txmsgs": count}
        stats.emit(
            {"msg_cnt": self._queue_length(), "txmsgs": sum(sent.values()), "topics": topics}
        )

    def _serve(self) -> int:
        if self._stats is not None and self._stats.due():
            self._emit_statistics(self._stats)
        with self._lock:
            served, self._silent_delivered = self._silent_delivered, 0
        default = self._config.on_delivery
        while True:
            with self._lock:
                if not self._reports:
                    return served
                callback, error, msg = self._reports.popleft()
                self._uncount(1)
            served += 1
            cb = callback or default
            if cb is not None:
                cb(error, msg)

    def _wait(self, ready: Callable[[], bool], timeout: float | None) -> bool:
        if timeout is not None and timeout <= 0:
            return ready()
        limit = None if timeout is None or timeout < 0 else timeout
        if self._real_time:
            with self._ready:
                return self._ready.wait_for(ready, limit)
        from kstream_nb.runtime.loop import SimulatedLoop

        assert isinstance(self._loop, SimulatedLoop)
        horizon = int((limit if limit is not None else 3600) * 1000)
        return self._loop.run_until(ready, horizon)

    def flush(self, timeout: float | None = None) -> int:
        """Send everything queued now and wait until it is all reported (or `timeout`).

        Returns how many messages are still outstanding, as confluent-kafka does.
        """
        with self._lock:
            for batch in list(self._open.values()):
                self._seal(batch)
        deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout
        sim_deadline = (
            None if timeout is None or timeout < 0 else (self._loop.now_ms() + int(timeout * 1000))
        )
        while self._queue_length() > 0:
            if self._real_time:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._wait(self._has_reports, remaining if remaining else None)
            else:
                remaining_ms = None if sim_deadline is None else sim_deadline - self._loop.now_ms()
                if remaining_ms is not None and remaining_ms <= 0:
                    break
                self._wait(
                    self._has_reports,
                    None if remaining_ms is None else remaining_ms / 1000,
                )
            self._serve()
        return self._queue_length()

    def __len__(self) -> int:
        """Messages queued, in flight, or waiting for their delivery report to be served."""
        return self._queue_length()

    def purge(self, in_queue: bool = True, in_flight: bool = True, blocking: bool = True) -> None:
        """Drop queued messages and/or disown in-flight ones; their delivery reports say
        _PURGE_QUEUE or _PURGE_INFLIGHT (served by the next `poll()`)."""
        with self._lock:
            opened = list(self._open.values()) if in_queue else []
            for batch in opened:
                batch.sealed = True
                del self._open[(batch.topic, batch.partition)]

        def on_loop() -> None:
            queued = [b for q in self._queued.values() for b in q] if in_queue else []
            if in_queue:
                self._queued.clear()
            for batch in opened + queued:
                batch.purged = True
                error = KafkaError(KafkaError._PURGE_QUEUE, "Purged in queue")
                self._deliver(batch, error, ProduceResult(ErrorCode.NONE))
            if in_flight:
                for batch in self._flying:
                    batch.purged = True

        self._cluster._call(on_loop)

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> ClusterMetadata:
        """Cluster metadata: brokers, topics, partitions with leaders, replicas and ISRs."""
        return cluster_metadata(self._cluster, topic)

    # -- transactions: not yet ---------------------------------------------------------------

    def init_transactions(self, timeout: float | None = None) -> None:
        raise KafkaException(
            KafkaError(
                KafkaError._NOT_IMPLEMENTED,
                "transactions are not supported by the in-kernel cluster yet; use "
                "enable.idempotence=True for exactly-once writes per partition",
            )
        )

    begin_transaction = commit_transaction = abort_transaction = init_transactions
