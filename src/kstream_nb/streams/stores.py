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
    """Aggregates by (key, window start); `fetch(key, from, to)` as Kafka's WindowStore."""

    def __init__(self, name: str, size_ms: int, on_write: OnWrite | None = None) -> None:
        self.name = name
        self.size_ms = size_ms
        self._data: dict[tuple[Any, int], Any] = {}
        self._on_write = on_write

    def get(self, key: Any, window_start: int) -> Any:
        return self._data.get((key, window_start))

    def put(self, key: Any, window_start: int, value: Any) -> None:
        if value is None:
            self._data.pop((key, window_start), None)
        else:
            self._data[(key, window_start)] = value
        if self._on_write is not None:
            self._on_write((key, window_start), value)

    def write(self, key: tuple[Any, int], value: Any) -> None:
        self.put(key[0], key[1], value)

    def read(self, key: tuple[Any, int]) -> Any:
        return self.get(key[0], key[1])

    def restore(self, key: tuple[Any, int], value: Any) -> None:
        if value is None:
            self._data.pop(key, None)
        else:
            self._data[key] = value

    def fetch(
        self, key: Any, time_from: int = 0, time_to: int = 2**63 - 1
    ) -> list[tuple[Window, Any]]:
        """(window, value) for `key`, windows starting in [time_from, time_to], oldest first."""
        return [
            (Window(start, start + self.size_ms), value)
            for (k, start), value in sorted(self._data.items(), key=lambda kv: kv[0][1])
            if k == key and time_from <= start <= time_to
        ]

    def all(self) -> Iterator[tuple[tuple[Any, Window], Any]]:
        ordered = sorted(self._data.items(), key=lambda kv: (kv[0][1], _order(kv[0][0])))
        for (key, start), value in ordered:
            yield (key, Window(start, start + self.size_ms)), value

    def __len__(self) -> int:
        return len(self._data)


def _order(key: Any) -> tuple[str, Any]:
    """Keys of mixed types still sort (by type name first)."""
    return (type(key).__name__, key) if key is not None else ("", "")
