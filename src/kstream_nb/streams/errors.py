"""What happens to a record that cannot be processed, as Kafka Streams configures it.

- `default.deserialization.exception.handler`: `fail` (default) or `log_and_continue`, for a key
  or value its serde cannot read;
- `processing.exception.handler` (KIP-1033): `fail` (default) or `log_and_continue`, for an
  exception raised while the record goes through the topology (a user function, a serde);
- `errors.dead.letter.queue.topic.name` (KIP-1034): records a handler lets go are also written,
  as they came (key and value bytes), to this topic, with headers saying why and from where.

Failing names the record's topic, partition and offset; a skipped record is logged and kept
in `skipped`. Nothing is skipped silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from kstream_nb.errors import KStreamNbError
from kstream_nb.streams.serdes import SerializationError

__all__ = ["DeserializationError", "ErrorPolicy", "StreamsError"]

log = logging.getLogger(__name__)

_HANDLERS = ("fail", "log_and_continue")
Send = Callable[[str, bytes | None, bytes | None, int, list[tuple[str, bytes | None]]], None]


class StreamsError(KStreamNbError):
    """A Kafka Streams application that cannot start, or a record it had to stop at."""


class DeserializationError(SerializationError):
    """A source could not read a record's key or value with its serdes."""


class ErrorPolicy:
    """The handlers and dead-letter topic of one application (or test driver)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.deserialization = self._handler(config, "default.deserialization.exception.handler")
        self.processing = self._handler(config, "processing.exception.handler")
        dlq = config.get("errors.dead.letter.queue.topic.name")
        self.dead_letter_topic = str(dlq) if dlq else None
        self.skipped: list[str] = []

    @staticmethod
    def _handler(config: Mapping[str, Any], key: str) -> str:
        value = str(config.get(key, "fail"))
        if value not in _HANDLERS:
            raise StreamsError(f"{key} must be fail or log_and_continue, got {value!r}")
        return value

    def for_tasks(
        self, send: Send
    ) -> Callable[[Any, Exception, bytes | None, bytes | None, int], None]:
        """The `on_error` of tasks: handle a record's failure where the task stands."""

        def on_error(
            task: Any, exc: Exception, key: bytes | None, value: bytes | None, timestamp: int
        ) -> None:
            self.handle(exc, task.current, key, value, timestamp, send)

        return on_error

    def handle(
        self,
        exc: Exception,
        where: tuple[str, int, int],
        key: bytes | None,
        value: bytes | None,
        timestamp: int,
        send: Send,
    ) -> None:
        """Raise StreamsError, or let the record go (logged, listed, dead-lettered)."""
        topic, partition, offset = where
        position = f"{topic}-{partition}@{offset}"
        deserializing = isinstance(exc, DeserializationError)
        handler = self.deserialization if deserializing else self.processing
        if handler == "fail":
            verb = "deserialize" if deserializing else "process"
            raise StreamsError(
                f"cannot {verb} the record at {position}: {exc} (set "
                f"{'default.deserialization' if deserializing else 'processing'}"
                ".exception.handler=log_and_continue to skip such records)"
            ) from exc
        message = f"{position}: {exc}"
        log.warning("skipped a record: %s", message)
        self.skipped.append(message)
        if self.dead_letter_topic is not None:
            headers: list[tuple[str, bytes | None]] = [
                ("__streams.errors.exception", type(exc).__name__.encode()),
                ("__streams.errors.message", str(exc).encode()),
                ("__streams.errors.topic", topic.encode()),
                ("__streams.errors.partition", str(partition).encode()),
                ("__streams.errors.offset", str(offset).encode()),
            ]
            send(self.dead_letter_topic, key, value, timestamp, headers)
