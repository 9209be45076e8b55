"""Kafka's embedded consumer protocol: subscription and assignment bytes inside JoinGroup/SyncGroup.

The group coordinator treats them as opaque, but decodes them for its rebalance events so a
timeline can show which member owned which partition. Layouts (big-endian), as in Kafka's
ConsumerProtocolSubscription v1 and ConsumerProtocolAssignment v0:

    Subscription: version int16 | topics [string] | user_data bytes | owned [topic, [int32]]
    Assignment:   version int16 | partitions [topic, [int32]] | user_data bytes
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["Assignment", "Subscription", "decode_assignment", "decode_subscription"]

TopicPartitions = tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Subscription:
    topics: tuple[str, ...]
    owned: TopicPartitions = ()
    user_data: bytes | None = None

    def encode(self) -> bytes:
        out = bytearray(struct.pack(">h", 1))
        out += struct.pack(">i", len(self.topics))
        for topic in self.topics:
            out += _string(topic)
        out += _bytes(self.user_data)
        out += _partitions(self.owned)
        return bytes(out)


@dataclass(frozen=True, slots=True)
class Assignment:
    partitions: TopicPartitions
    user_data: bytes | None = None

    def encode(self) -> bytes:
        return struct.pack(">h", 0) + _partitions(self.partitions) + _bytes(self.user_data)


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">h", len(raw)) + raw


def _bytes(data: bytes | None) -> bytes:
    return struct.pack(">i", -1) if data is None else struct.pack(">i", len(data)) + data


def _partitions(tps: TopicPartitions) -> bytes:
    by_topic: dict[str, list[int]] = {}
    for topic, partition in tps:
        by_topic.setdefault(topic, []).append(partition)
    out = bytearray(struct.pack(">i", len(by_topic)))
    for topic in sorted(by_topic):
        out += _string(topic)
        parts = sorted(by_topic[topic])
        out += struct.pack(f">i{len(parts)}i", len(parts), *parts)
    return bytes(out)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def unpack(self, fmt: str) -> tuple[int, ...]:
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return values

    def string(self) -> str:
        (n,) = self.unpack(">h")
        text = self.data[self.pos : self.pos + n].decode()
        self.pos += n
        return text

    def bytes_(self) -> bytes | None:
        (n,) = self.unpack(">i")
        if n < 0:
            return None
        raw = self.data[self.pos : self.pos + n]
        self.pos += n
        return raw

    def partitions(self) -> TopicPartitions:
        (count,) = self.unpack(">i")
        out: list[tuple[str, int]] = []
        for _ in range(count):
            topic = self.string()
            (n,) = self.unpack(">i")
            out.extend((topic, p) for p in self.unpack(f">{n}i"))
        return tuple(out)

    @property
    def done(self) -> bool:
        return self.pos >= len(self.data)


def decode_subscription(data: bytes) -> Subscription:
    reader = _Reader(data)
    (version,) = reader.unpack(">h")
    (count,) = reader.unpack(">i")
    topics = tuple(reader.string() for _ in range(count))
    user_data = reader.bytes_()
    owned = reader.partitions() if version >= 1 and not reader.done else ()
    return Subscription(topics, owned, user_data)


def decode_assignment(data: bytes) -> Assignment:
    if not data:
        return Assignment(())
    reader = _Reader(data)
    reader.unpack(">h")
    partitions = reader.partitions()
    user_data = reader.bytes_() if not reader.done else None
    return Assignment(partitions, user_data)
