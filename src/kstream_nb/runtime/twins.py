"""`TwinWriter`: writes the columnar twins of sealed segments on a worker thread.

Produce never waits for a twin. On the cluster's thread the writer takes jobs from the leader
replicas' logs (a private descriptor on each sealed segment); a worker thread decodes and writes
Parquet to a temporary file; the result goes back to the cluster's thread, where the log renames
it into place only if the segment is still there and unchanged.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa

from kstream_nb.cluster import ClusterCore
from kstream_nb.log import PartitionLog
from kstream_nb.log.decoded import DECODED, SegmentKey
from kstream_nb.log.twin import TWIN_SUFFIX, TwinInfo, TwinJob, write_twin

__all__ = ["TwinWriter"]

log = logging.getLogger(__name__)
_Done = tuple[PartitionLog, TwinJob, TwinInfo | None]
WARM_BYTES = 256 * 1024  # new bytes in an active segment worth decoding ahead of queries
# Decoding ahead is background work: it waits until a segment has had no append for
# WARM_IDLE_MS (on the cluster's clock), so it does not take the GIL from a burst of produce,
# unless WARM_BUSY_BYTES have piled up (what a query would otherwise decode itself).
WARM_IDLE_MS = 500
WARM_BUSY_BYTES = 64 * 1024 * 1024


def _looks_json(table: pa.Table) -> bool:
    """Whether the first values look like JSON objects (parsing every value of a text topic as
    JSON ahead of time would be wasted work)."""
    values = table.column("value").drop_null().slice(0, 8).to_pylist()
    return bool(values) and all(v.lstrip()[:1] == b"{" for v in values)


class TwinWriter:
    """One worker thread; `schedule()` and `install()` run on the cluster's thread only."""

    def __init__(
        self, core: ClusterCore, post: Callable[[Callable[[], object]], object] | None
    ) -> None:
        """`post` hands a callback to the cluster's thread (real time); None queues results
        until the next `install()` (simulated time, where the caller's thread is the cluster's)."""
        self._core = core
        self._post = post
        self._executor: ThreadPoolExecutor | None = None
        self._done: queue.SimpleQueue[_Done] = queue.SimpleQueue()
        self._pending: dict[Future[None], Callable[[], None]] = {}
        self._warming: set[SegmentKey] = set()
        self._outstanding = 0  # twin jobs not yet installed, decoding not yet done
        self._idle = threading.Condition()
        self._executor_lock = threading.Lock()  # close() may run on another thread than _run()
        self._names = itertools.count()
        self.failures: list[str] = []
        #: Topics queried so far (SQL, scan): only their active segments are decoded ahead.
        self.queried: set[str] = set()
        self.closed = False

    def leader_logs(self) -> list[PartitionLog]:
        """The logs analytics read: every leader replica, and the cluster's events log."""
        logs = [self._core.event_log]
        for broker in self._core.brokers.values():
            logs.extend(p.log for p in broker.partitions.values() if p.is_leader)
        return logs

    def schedule(self, *, warm_all: bool = False) -> int:
        """Hand every sealed leader segment without a twin to the worker, and active segments
        that grew by `WARM_BYTES` (any growth with `warm_all`); returns how many twins."""
        if self.closed:
            return 0
        self.install()
        count = 0
        for partition_log in self.leader_logs():
            for job in partition_log.take_twin_jobs():
                self._submit(partition_log, job)
                count += 1
            self._warm(partition_log, warm_all)
        return count

    def _warm(self, partition_log: PartitionLog, now: bool = False) -> None:
        """Decode what arrived in the active segment of a topic queried before, ahead of the
        next query (and its twin): when it grew by WARM_BYTES and then rested (any growth of
        any topic, at once, when `now`). Topics nobody queries cost no background work."""
        if not now and partition_log.topic not in self.queried:
            return
        segment = partition_log.active_segment
        key = segment.cache_key()
        if key in self._warming:
            return
        grown = segment.size - DECODED.end_of(key)
        if grown <= 0 or (not now and grown < WARM_BYTES):
            return
        resting = partition_log.clock.now_ms() - segment.last_modified_ms >= WARM_IDLE_MS
        if not (now or resting or grown >= WARM_BUSY_BYTES):
            return
        self._warming.add(key)
        fd = segment.reader_fd()
        end = segment.size
        json = partition_log.config.kstream_value_format != "raw"

        def warm() -> None:
            try:
                chunks = DECODED.decode(key, fd, end, partition_log.partition)
                if json and _looks_json(chunks[-1].table):
                    chunks[-1].json()
            except Exception as exc:  # only a head start: queries decode it themselves
                log.debug("could not decode %s ahead of queries: %s", key[0], exc)
            finally:
                os.close(fd)
                self._warming.discard(key)
                self._finished()

        with self._idle:
            self._outstanding += 1
        self._run(warm, lambda: os.close(fd))

    def _submit(self, partition_log: PartitionLog, job: TwinJob) -> None:
        with self._idle:
            self._outstanding += 1
        self._run(lambda: self._write(partition_log, job), job.close)

    def _run(self, work: Callable[[], None], cancelled: Callable[[], None]) -> None:
        """Run `work` on the worker; `cancelled` cleans up if the writer closes before it runs."""
        with self._executor_lock:
            if self.closed:  # closed on the caller's thread while this schedule() ran
                cancelled()
                self._finished()
                return
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="kstream-nb-twins")
            future = self._executor.submit(work)
            self._pending[future] = cancelled
        future.add_done_callback(lambda f: self._pending.pop(f, None))

    def _write(self, partition_log: PartitionLog, job: TwinJob) -> None:
        temp = f"{job.base_offset:020d}{TWIN_SUFFIX}.{next(self._names)}.tmp"
        info: TwinInfo | None = None
        try:
            info = write_twin(job, temp)
        except Exception as exc:  # a twin is an optimisation: queries decode the segment instead
            (job.directory / temp).unlink(missing_ok=True)
            message = f"{job.directory.name}: no twin for segment {job.base_offset}: {exc}"
            self.failures.append(message)
            log.warning(message)
        finally:
            job.close()
        done = (partition_log, job, info)
        if self._post is None:
            self._done.put(done)
        else:
            try:
                self._post(lambda: self._install_one(done))
            except RuntimeError:  # the cluster stopped meanwhile
                self._discard(done)

    def install(self) -> int:
        """Rename written twins into place (cluster thread); returns how many were installed."""
        installed = 0
        while True:
            try:
                done = self._done.get_nowait()
            except queue.Empty:
                return installed
            installed += self._install_one(done)

    def _install_one(self, done: _Done) -> bool:
        partition_log, job, info = done
        try:
            return partition_log.install_twin(job, info)
        finally:
            self._finished()

    def _finished(self) -> None:
        with self._idle:
            self._outstanding -= 1
            self._idle.notify_all()

    def _discard(self, done: _Done) -> None:
        if done[2] is not None:
            done[2].path.unlink(missing_ok=True)
        self._finished()

    def wait_idle(self, timeout: float, pump: Callable[[], object] | None = None) -> bool:
        """Block until every job taken so far is installed; `pump` runs installs (simulated)."""
        deadline = time.monotonic() + timeout
        while True:
            if pump is not None:
                pump()
            with self._idle:
                if self._outstanding == 0:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.01))

    def close(self) -> None:
        """Stop the worker; jobs not started are dropped (their segments keep no twin)."""
        with self._executor_lock:
            self.closed = True
            executor, self._executor = self._executor, None
            pending = dict(self._pending)
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        for future, cancelled in pending.items():
            if future.cancelled():
                cancelled()  # never ran: close its descriptor
        self._pending.clear()
        while True:
            try:
                self._discard(self._done.get_nowait())
            except queue.Empty:
                break
