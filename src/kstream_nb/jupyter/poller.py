"""`Poller`: a widget's background thread, calling one function at a bounded rate.

Widgets refresh from here so that they keep updating while other cells run, and so that a slow
front end never holds the cluster: the cluster publishes snapshots, pollers only read them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["MIN_INTERVAL_S", "Poller"]

log = logging.getLogger(__name__)

#: No widget refreshes more than about 10 times a second.
MIN_INTERVAL_S = 0.1


class Poller:
    """Call `tick()` every `interval_s` seconds (at least `MIN_INTERVAL_S`) on a daemon thread.

    `tick` returning False ends the thread (its source went away). An exception in `tick` is kept
    in `error`, logged once, and polling goes on: a widget must not die of one bad refresh.
    """

    def __init__(self, tick: Callable[[], bool | None], interval_s: float, name: str) -> None:
        self._tick = tick
        self.interval_s = max(MIN_INTERVAL_S, float(interval_s))
        self.name = name
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Poller:
        if self.running:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to end and wait for it (not when called from the thread itself)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._tick() is False:
                    return
            except Exception as exc:  # a refresh failed: keep the widget alive, say it once
                if self.error is None:
                    log.warning("%s: refresh failed: %s", self.name, exc)
                self.error = exc
            self._stop.wait(self.interval_s)
