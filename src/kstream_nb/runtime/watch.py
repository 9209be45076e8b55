"""`Watch`: the latest answer of a probe of the cluster, published for readers on other threads.

Widgets must never hold the cluster: a probe (a function of the `ClusterCore`, cheap and
read-only) runs on the cluster's own thread — on a loop timer in real time, right after the
scheduler ran in simulated time — and its immutable result is swapped into `latest`. Readers on
any thread just read that reference.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from kstream_nb.cluster import ClusterCore

__all__ = ["Watch"]

T = TypeVar("T")
log = logging.getLogger(__name__)


class Watch(Generic[T]):
    """`latest` is the probe's newest result; `version` counts refreshes (readers compare it)."""

    def __init__(self, probe: Callable[[ClusterCore], T], interval_ms: int) -> None:
        self.probe = probe
        self.interval_ms = interval_ms
        self.latest: T | None = None
        self.version = 0
        self.error: Exception | None = None
        self.closed = False
        self.dirty = False  # simulated time: the cluster changed since the last refresh
        self._refreshed_at = float("-inf")
        self._on_close: list[Callable[[], object]] = []

    def refresh(self, core: ClusterCore) -> None:
        """Run the probe now. Only the thread that owns the cluster may call this."""
        if self.closed:
            return
        try:
            self.latest = self.probe(core)
        except Exception as exc:  # a probe must not break the cluster loop
            if self.error is None:
                log.warning("a cluster watch failed: %s", exc)
            self.error = exc
        self.dirty = False
        self._refreshed_at = time.monotonic()
        self.version += 1

    def due(self) -> bool:
        """Whether `interval_ms` of wall time passed since the last refresh."""
        return (time.monotonic() - self._refreshed_at) * 1000 >= self.interval_ms

    def close(self) -> None:
        """Stop refreshing (idempotent); the cluster drops the watch."""
        if self.closed:
            return
        self.closed = True
        for callback in self._on_close:
            callback()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"Watch(every {self.interval_ms} ms, {state}, version={self.version})"
