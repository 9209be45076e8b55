"""State stores: in-memory key-value and window stores, each backed by a changelog.

Every write is also handed to `on_write` (the task sends it to the store's compacted changelog
topic, `<application.id>-<store>-changelog`); a task that starts, or moves to another instance,
restores the store from that changelog before it processes anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kstream_nb.streams.serdes import Serde
from kstream_nb.streams.windows import Window

__all__ = ["KeyValueStore", "StoreSpec", "WindowStore"]

OnWrite = Callable[[Any, Any], None]


@dataclass(frozen=True, slots=True)
class StoreSpec:
    """What a topology declares: a store's name, kind, serdes, and whether it is logged."""

    name: str
    kind: str  # "kv" or "window"
    key_serde: Serde | None = None
    value_serde: Serde | None = None
    logged: bool = True
    window_size_ms: int = 0
    #: Window stores keep windows this long behind the newest one they saw (Kafka's
    #: retention period: size + grace by default); 0 keeps every window.
    retention_ms: int = 0


class KeyValueStore:
    """A dict with Kafka Streams' names: get, put, delete, range, all, approximate_num_entries."""

    def __init__(self, name: str, on_write: OnWrite | None = None) -> None:
        self.name = name
        self._data: dict[Any, Any] = {}
        self._on_write = on_write

    def get(self, key: Any) -> Any:
        return self._data.get(key)

    def put(self, key: Any, value: Any) -> None:
        if value is None:
            self._data.pop(key, None)
        else:
            self._data[key] = value
        if self._on_write is not None:
            self._on_write(key, value)

    def delete(self, key: Any) -> Any:
        old = self._data.get(key)
        self.put(key, None)
        return old

    def write(self, key: Any, value: Any) -> None:
        self.put(key, value)

    def read(self, key: Any) -> Any:
        return self.get(key)

    def restore(self, key: Any, value: Any) -> None:
        """Apply a changelog record (no changelog write of its own)."""
        if value is None:
            self._data.pop(key, None)
        else:
            self._data[key] = value

    def all(self) -> Iterator[tuple[Any, Any]]:
        return iter(sorted(self._data.items(), key=lambda kv: _order(kv[0])))

    def items(self) -> list[tuple[Any, Any]]:
        """Every entry, in no particular order (no sorting: for keys that do not order)."""
        return list(self._data.items())

    def range(self, start: Any, end: Any) -> Iterator[tuple[Any, Any]]:
        """Keys in [start, end], in key order."""
        return (kv for kv in self.all() if start <= kv[0] <= end)

    def approximate_num_entries(self) -> int:
        return len(self._data)

    def __len__(self) -> int:
        return len(self._data)


class WindowStore:
    """Aggregates by (key, window start); `fetch(key, from, to)` as Kafka's WindowStore.

    With a retention period, as Kafka's window stores: the store tracks the newest window start
    written (its observed stream time); a window that starts `retention_ms` or more before it
    has expired: it is dropped, never returned by a fetch, and a write to it is ignored.
    """

    def __init__(
        self, name: str, size_ms: int, on_write: OnWrite | None = None, retention_ms: int = 0
    ) -> None:
        self.name = name
        self.size_ms = size_ms
        self.retention_ms = retention_ms
        self._by_key: dict[Any, dict[int, Any]] = {}
        # window start -> keys with that window (a dict of key -> None, not a set: a dict of
        # plain keys is not tracked by the garbage collector, so full passes skip it)
        self._starts: dict[int, dict[Any, None]] = {}
        self._observed = -1
        self._expired_below = -(2**63)  # every start below this has been dropped
        self._on_write = on_write

    def _expired(self, window_start: int) -> bool:
        return self.retention_ms > 0 and window_start <= self._observed - self.retention_ms

    def _observe(self, window_start: int) -> None:
        if window_start <= self._observed:
            return
        self._observed = window_start
        if self.retention_ms <= 0:
            return
        horizon = self._observed - self.retention_ms + 1
        if horizon <= self._expired_below:
            return
        self._expired_below = horizon
        for start in [t for t in self._starts if t < horizon]:
            for key in self._starts.pop(start):
                windows = self._by_key[key]
                del windows[start]
                if not windows:
                    del self._by_key[key]

    def _set(self, key: Any, window_start: int, value: Any) -> None:
        if value is None:
            windows = self._by_key.get(key)
            if windows is not None and windows.pop(window_start, None) is not None:
                self._starts[window_start].pop(key, None)
                if not self._starts[window_start]:
                    del self._starts[window_start]
                if not windows:
                    del self._by_key[key]
            return
        windows = self._by_key.get(key)
        if windows is None:  # (setdefault would build an empty dict and set on every write)
            windows = self._by_key[key] = {}
        windows[window_start] = value
        keys = self._starts.get(window_start)
        if keys is None:
            keys = self._starts[window_start] = {}
        keys[key] = None

    def get(self, key: Any, window_start: int) -> Any:
        return self.read((key, window_start))

    def put(self, key: Any, window_start: int, value: Any) -> None:
        self.write((key, window_start), value)

    def write(self, key: tuple[Any, int], value: Any) -> None:
        """`put` by (key, window start): what the record cache writes at each flush."""
        start = key[1]
        if start > self._observed:
            self._observe(start)
        if self.retention_ms > 0 and start <= self._observed - self.retention_ms:
            return  # Kafka skips writes to expired segments (and logs nothing to the changelog)
        self._set(key[0], start, value)
        if self._on_write is not None:
            self._on_write(key, value)

    def read(self, key: tuple[Any, int]) -> Any:
        """`get` by (key, window start) (what the record cache reads on a miss); None for a
        window never written or expired."""
        windows = self._by_key.get(key[0])
        value = None if windows is None else windows.get(key[1])
        return None if value is None or self._expired(key[1]) else value

    def restore(self, key: tuple[Any, int], value: Any) -> None:
        self._observe(key[1])
        if not self._expired(key[1]):
            self._set(key[0], key[1], value)

    def fetch(
        self, key: Any, time_from: int = 0, time_to: int = 2**63 - 1
    ) -> list[tuple[Window, Any]]:
        """(window, value) for `key`, windows starting in [time_from, time_to], oldest first."""
        return [
            (Window(start, start + self.size_ms), value)
            for start, value in sorted(self._by_key.get(key, {}).items())
            if time_from <= start <= time_to and not self._expired(start)
        ]

    def all(self) -> Iterator[tuple[tuple[Any, Window], Any]]:
        ordered = sorted(
            (
                (start, key, value)
                for key, windows in self._by_key.items()
                for start, value in windows.items()
            ),
            key=lambda item: (item[0], _order(item[1])),
        )
        for start, key, value in ordered:
            if not self._expired(start):
                yield (key, Window(start, start + self.size_ms)), value

    def __len__(self) -> int:
        return sum(len(windows) for windows in self._by_key.values())


def _order(key: Any) -> tuple[str, Any]:
    """Keys of mixed types still sort (by type name first)."""
    return (type(key).__name__, key) if key is not None else ("", "")
