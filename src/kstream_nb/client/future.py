"""`ClusterFuture`: a `concurrent.futures.Future` that drives a simulated cluster while waited on.

The admin client hands out these futures, as confluent-kafka hands out plain ones. The cluster
completes them on its own thread (real time) or inside its loop (simulated time). On a simulated
cluster nothing runs between calls, so `result()` and `exception()` run the cluster's loop until
the future is done (or `timeout` seconds of simulated time pass) instead of blocking forever.

`concurrent.futures.wait()` and `as_completed()` block without running the loop: on a simulated
cluster call `result()`, or `cluster.advance(...)` first.
"""

from __future__ import annotations

from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import TYPE_CHECKING, TypeVar

from kstream_nb.runtime.loop import SimulatedLoop

if TYPE_CHECKING:
    from kstream_nb.runtime import Cluster

__all__ = ["ClusterFuture"]

T = TypeVar("T")

# How much simulated time `result()` without a timeout may run before giving up. Every admin
# future is completed by its request timeout, so this only stops a bug from running forever.
_UNBOUNDED_WAIT_MS = 10 * 60_000


class ClusterFuture(Future[T]):
    """A future completed by an in-kernel cluster; waiting on it runs a simulated cluster."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__()
        self._cluster = cluster
        # confluent-kafka's futures are running from the start: they cannot be cancelled.
        self.set_running_or_notify_cancel()

    def _wait_seconds(self, timeout: float | None) -> float | None:
        """Run a simulated cluster until done; how long the plain wait may then block."""
        loop = self._cluster._loop
        if not isinstance(loop, SimulatedLoop):
            return timeout
        if not self.done() and not self._cluster._stopped:
            limit_ms = _UNBOUNDED_WAIT_MS if timeout is None else max(0, int(timeout * 1000))
            loop.run_until(self.done, limit_ms)
        if not self.done():
            raise FutureTimeoutError(
                "the cluster did not answer in time (simulated time): wait longer, or check "
                "that the cluster is still running"
            )
        return 0

    def result(self, timeout: float | None = None) -> T:
        """The result, running a simulated cluster until it is there (`timeout` in seconds)."""
        return super().result(self._wait_seconds(timeout))

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The exception, running a simulated cluster until the future is done."""
        return super().exception(self._wait_seconds(timeout))
