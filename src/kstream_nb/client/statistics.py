"""librdkafka's statistics: with `statistics.interval.ms` and a `stats_cb`, a JSON document every
interval, handed to the callback from the application's `poll()` (as confluent-kafka does).

The document follows librdkafka's STATISTICS.md layout for the fields kstream_nb can fill truly
(see docs/clients.md); the interval runs on the cluster's clock, so in simulated time it is
simulated.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

_instances = itertools.count(1)


class Statistics:
    """When the next document is due, and the fields every client's document shares."""

    def __init__(
        self,
        kind: str,
        client_id: str,
        interval_ms: int,
        callback: Callable[[str], Any],
        now_ms: Callable[[], int],
    ) -> None:
        self.kind = kind
        self.name = f"{client_id}#{kind}-{next(_instances)}"
        self.client_id = client_id
        self.interval_ms = interval_ms
        self._callback = callback
        self._now_ms = now_ms
        self._created_ms = now_ms()
        self._next_ms = self._created_ms + interval_ms

    @staticmethod
    def of(
        kind: str,
        client_id: str,
        interval_ms: int,
        callback: Callable[[str], Any] | None,
        now_ms: Callable[[], int],
    ) -> Statistics | None:
        """Statistics for a client, or None when they are off (interval 0 or no callback)."""
        if interval_ms <= 0 or callback is None:
            return None
        return Statistics(kind, client_id, interval_ms, callback, now_ms)

    def due(self) -> bool:
        return self._now_ms() >= self._next_ms

    def emit(self, fields: dict[str, Any]) -> None:
        """Call the callback with one document; the next is due an interval later."""
        now = self._now_ms()
        self._next_ms = now + self.interval_ms
        document = {
            "name": self.name,
            "client_id": self.client_id,
            "type": self.kind,
            "ts": now * 1000,  # librdkafka: microseconds on its clock
            "time": now // 1000,
            "age": (now - self._created_ms) * 1000,
            **fields,
        }
        self._callback(json.dumps(document))
