"""The kernel's current cluster: the one `%kafka` commands and widgets act on.

One per process. Started by `%kafka cluster start`, stopped by `%kafka cluster stop`, by a
replacing start, or when the kernel exits (atexit), so no broker thread outlives the notebook.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kstream_nb.runtime import Cluster

__all__ = ["NoClusterError", "Session", "session"]


class NoClusterError(RuntimeError):
    """No cluster is running in this kernel."""

    def __init__(self) -> None:
        super().__init__("no cluster is running; start one with %kafka cluster start")


class Session:
    """Holds the current cluster and the things (widgets) that must stop with it."""

    def __init__(self) -> None:
        self._cluster: Cluster | None = None
        self._lock = threading.Lock()
        self._on_stop: list[Callable[[], object]] = []
        self._atexit_registered = False

    @property
    def cluster(self) -> Cluster:
        """The running cluster, or NoClusterError."""
        cluster = self._cluster
        if cluster is None or cluster.stopped:
            raise NoClusterError
        return cluster

    @property
    def running(self) -> bool:
        return self._cluster is not None and not self._cluster.stopped

    def start(
        self,
        brokers: int = 3,
        *,
        data_dir: str | Path | None = None,
        config: Mapping[str, Any] | None = None,
        simulated: bool = False,
        seed: int | None = None,
        replace: bool = False,
    ) -> Cluster:
        """Start a cluster; with one already running, fail unless `replace`."""
        with self._lock:
            if self.running and not replace:
                current = self.cluster
                raise RuntimeError(
                    f"a cluster is already running ({current!r} at "
                    f"{current.bootstrap_servers}); stop it with %kafka cluster stop, or "
                    "start with --replace"
                )
            self._stop_locked()
            self._cluster = Cluster.start(
                brokers, data_dir=data_dir, config=config, simulated=simulated, seed=seed
            )
            if not self._atexit_registered:
                atexit.register(self.stop)
                self._atexit_registered = True
            return self._cluster

    def adopt(self, cluster: Cluster) -> None:
        """Make a cluster started in Python (`Cluster.start`) the one magics act on."""
        with self._lock:
            if self._cluster is not cluster:
                self._stop_locked()
            self._cluster = cluster

    def on_stop(self, callback: Callable[[], object]) -> None:
        """Call `callback` when the current cluster stops (widgets end their threads here)."""
        self._on_stop.append(callback)

    def stop(self) -> bool:
        """Stop the current cluster; False when none was running."""
        with self._lock:
            return self._stop_locked()

    def _stop_locked(self) -> bool:
        callbacks, self._on_stop = self._on_stop, []
        for callback in callbacks:
            callback()
        cluster, self._cluster = self._cluster, None
        if cluster is None or cluster.stopped:
            return False
        cluster.stop()
        return True


session = Session()
