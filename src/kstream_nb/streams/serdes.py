"""Serdes: how keys and values become bytes and back, with Kafka Streams' built-in formats.

`Serdes.String()`, `Serdes.Integer()` (4 bytes, big-endian, as Java's IntegerSerde),
`Serdes.Long()` (8 bytes), `Serdes.Bytes()`, `Serdes.Json()` (msgspec; optionally typed with a
Struct), and `Serde(serialize, deserialize)` for anything else. `None` always maps to `None`
(a tombstone or a record without a key).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, cast

import msgspec

__all__ = ["Serde", "Serdes", "SerializationError"]


class SerializationError(ValueError):
    """A key or value that its serde cannot turn into bytes or back."""


class Serde:
    """A pair of functions; `serialize(None)` and `deserialize(None)` give None."""

    def __init__(
        self,
        serialize: Callable[[Any], bytes],
        deserialize: Callable[[bytes], Any],
        name: str = "custom",
        bytes_deserialize: Callable[[bytes], Any] | None = None,
    ) -> None:
        self._serialize = serialize
        self._deserialize = deserialize
        self.name = name
        # The same as `deserialize` for `bytes` exactly (what a log holds), when that is faster.
        self._bytes_deserialize = bytes_deserialize or deserialize

    def serialize(self, value: Any) -> bytes | None:
        if value is None:
            return None
        try:
            return self._serialize(value)
        except Exception as exc:
            raise SerializationError(
                f"{self.name} serde cannot serialize {value!r}: {exc}"
            ) from exc

    def deserialize(self, data: bytes | None) -> Any:
        if data is None:
            return None
        try:
            return self._deserialize(data)
        except Exception as exc:
            raise SerializationError(
                f"{self.name} serde cannot deserialize {bytes(data[:40])!r}: {exc}"
            ) from exc

    def serializer(self) -> Callable[[Any], bytes]:
        """The bare function behind `serialize`, for hot paths that map None themselves and, on
        failure, call `serialize` for the error that explains it; `serialize` itself when a
        subclass serializes its own way."""
        if type(self).serialize is Serde.serialize:
            return self._serialize
        return cast(Callable[[Any], bytes], self.serialize)

    def deserializer(self) -> Callable[[bytes], Any]:
        """The bare function behind `deserialize`, for loops over `bytes` (records read from a
        log) that map None themselves and, on failure, call `deserialize` for the error that
        explains it; `deserialize` itself when a subclass deserializes its own way."""
        if type(self).deserialize is Serde.deserialize:
            return self._bytes_deserialize
        return self.deserialize

    def resolved(self, default: Serde) -> Serde:
        """This serde with the application's default (`default.key.serde` or
        `default.value.serde`) filled in where it has none of its own: itself, for most."""
        return self

    def __repr__(self) -> str:
        return f"Serde({self.name})"


_INT = struct.Struct(">i")
_LONG = struct.Struct(">q")


def _json(type_: Any = Any) -> Serde:
    encoder = msgspec.json.Encoder()
    decoder = msgspec.json.Decoder(type_)
    return Serde(encoder.encode, decoder.decode, "json")


class Serdes:
    """The built-in serdes, named as in Kafka Streams."""

    @staticmethod
    def String() -> Serde:  # noqa: N802 -- Kafka Streams' name
        return Serde(str.encode, lambda b: str(b, "utf-8"), "string", bytes.decode)

    @staticmethod
    def Bytes() -> Serde:  # noqa: N802
        return Serde(bytes, bytes, "bytes")

    @staticmethod
    def Integer() -> Serde:  # noqa: N802
        return Serde(_INT.pack, lambda b: _INT.unpack(b)[0], "integer")

    @staticmethod
    def Long() -> Serde:  # noqa: N802
        return Serde(_LONG.pack, lambda b: _LONG.unpack(b)[0], "long")

    @staticmethod
    def Json(type_: Any = Any) -> Serde:  # noqa: N802
        """JSON through msgspec; with a Struct (or any msgspec type) values are validated."""
        return _json(type_)
