"""librdkafka's partitioners, chosen by the `partitioner` config, and its sticky partitioning.

The hash functions are librdkafka's (and so confluent-kafka's `murmur2`, `consistent` and
`fnv1a`): CRC-32 as zlib computes it, Kafka's Java-compatible murmur2 (``murmur2_random`` puts a
key on the partition the Java client picks) and Sarama-compatible FNV-1a. Randomness comes from
an injected `random.Random`, so a seeded producer partitions deterministically.
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Callable

__all__ = [
    "DEFAULT_PARTITIONER",
    "PARTITIONERS",
    "Partitioner",
    "StickyPartitioner",
    "consistent",
    "fnv1a",
    "fnv1a_hash",
    "murmur2",
    "murmur2_hash",
]

PARTITIONERS = (
    "random",
    "consistent",
    "consistent_random",
    "murmur2",
    "murmur2_random",
    "fnv1a",
    "fnv1a_random",
)
DEFAULT_PARTITIONER = "consistent_random"

Available = Callable[[int], bool]
"""Whether a partition currently has a leader; the random partitioners avoid one that has not."""

_MASK32 = 0xFFFFFFFF
_MURMUR_M = 0x5BD1E995
_MURMUR_SEED = 0x9747B28C
_FNV_OFFSET_BASIS = 0x811C9DC5
_FNV_PRIME = 0x01000193
_INT32_MAX = 2**31 - 1


def murmur2_hash(data: bytes) -> int:
    """Kafka's `Utils.murmur2` of `data`: a signed 32-bit int, as the Java client computes it."""
    length = len(data)
    h = (_MURMUR_SEED ^ length) & _MASK32
    words = length // 4
    for k in struct.unpack_from(f"<{words}I", data):
        k = (k * _MURMUR_M) & _MASK32
        k ^= k >> 24
        k = (k * _MURMUR_M) & _MASK32
        h = ((h * _MURMUR_M) & _MASK32) ^ k
    tail = length & 3
    if tail:
        base = length - tail
        if tail == 3:
            h ^= data[base + 2] << 16
        if tail >= 2:
            h ^= data[base + 1] << 8
        h ^= data[base]
        h = (h * _MURMUR_M) & _MASK32
    h ^= h >> 13
    h = (h * _MURMUR_M) & _MASK32
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def fnv1a_hash(data: bytes) -> int:
    """librdkafka's `rd_fnv1a` of `data`: 32-bit FNV-1a made non-negative as Sarama's is."""
    h = _FNV_OFFSET_BASIS
    for byte in data:
        h = ((h ^ byte) * _FNV_PRIME) & _MASK32
    # The absolute value of the signed hash (INT32_MIN stays itself, as in C).
    return (-h) & _MASK32 if h & 0x80000000 else h


def murmur2(key: bytes, partition_count: int, /) -> int:
    """The partition librdkafka's (and the Java client's) murmur2 partitioner gives `key`."""
    _check_args(key, partition_count)
    return (murmur2_hash(key) & 0x7FFFFFFF) % partition_count


def consistent(key: bytes, partition_count: int, /) -> int:
    """The partition librdkafka's `consistent` partitioner gives `key`: CRC-32 modulo the count."""
    _check_args(key, partition_count)
    return zlib.crc32(key) % partition_count


def fnv1a(key: bytes, partition_count: int, /) -> int:
    """The partition librdkafka's `fnv1a` partitioner gives `key`."""
    _check_args(key, partition_count)
    return fnv1a_hash(key) % partition_count


def _check_args(key: object, partition_count: object) -> None:
    # The same checks, and messages, as confluent-kafka's functions of the same names.
    if not isinstance(key, bytes):
        raise TypeError(f"a bytes-like object is required, not '{type(key).__name__}'")
    if not isinstance(partition_count, int):
        raise TypeError(
            f"'{type(partition_count).__name__}' object cannot be interpreted as an integer"
        )
    if partition_count > _INT32_MAX:
        raise OverflowError("signed integer is greater than maximum")
    if partition_count <= 0:
        raise ValueError(f"partition_count must be > 0, got {partition_count}")


class Partitioner:
    """Picks the partition for a record without one, as librdkafka's producer does.

    Records with a key go to the named partitioner. Records without a key (and, with
    ``consistent_random``, with an empty key) go to one sticky partition per topic when
    ``sticky_linger_ms > 0`` and the partitioner is not a deterministic one (``consistent``,
    ``murmur2``, ``fnv1a`` map a null key to a fixed partition instead). With
    ``sticky_linger_ms = 0`` each such record gets its own random partition.
    """

    __slots__ = (
        "_deterministic",
        "_hash",
        "_keyless_random",
        "_rng",
        "_sticky",
        "name",
        "sticky_linger_ms",
    )

    def __init__(
        self,
        name: str = DEFAULT_PARTITIONER,
        *,
        sticky_linger_ms: int = 0,
        rng: random.Random | None = None,
    ) -> None:
        if name not in PARTITIONERS:
            raise ValueError(f"unknown partitioner {name!r}; use one of {', '.join(PARTITIONERS)}")
        self.name = name
        self.sticky_linger_ms = sticky_linger_ms
        self._rng = rng if rng is not None else random.Random()
        base = name.removesuffix("_random")
        self._hash: Callable[[bytes, int], int] | None = _HASHERS.get(base)
        # "consistent_random" treats an empty key as no key; murmur2/fnv1a_random only None.
        self._keyless_random = name != base
        self._deterministic = name in ("consistent", "murmur2", "fnv1a")
        self._sticky: dict[str, StickyPartitioner] = {}

    def __call__(
        self, key: bytes | None, partition_count: int, available: Available | None = None
    ) -> int:
        """The named partitioner alone, without stickiness (librdkafka's partitioner function)."""
        hasher = self._hash
        if hasher is None or (
            self._keyless_random and (key is None or (not key and self.name == "consistent_random"))
        ):
            return random_partition(partition_count, self._rng, available)
        return hasher(b"" if key is None else key, partition_count)

    def partition(
        self,
        topic: str,
        key: bytes | None,
        partition_count: int,
        now_ms: float,
        available: Available | None = None,
    ) -> int:
        """The partition for a record of `topic` with `key`, at cluster time `now_ms`."""
        if (
            self.sticky_linger_ms > 0
            and not self._deterministic
            and (key is None or (not key and self.name == "consistent_random"))
        ):
            sticky = self._sticky.get(topic)
            if sticky is None:
                sticky = self._sticky[topic] = StickyPartitioner(self.sticky_linger_ms, self._rng)
            return sticky.partition(partition_count, now_ms, available)
        return self(key, partition_count, available)


class StickyPartitioner:
    """One topic's sticky partition for records without a key (KIP-480, as librdkafka does it).

    Records stick to one random partition; a new one is picked once ``linger_ms`` has passed
    since the last pick, or at once if the current one is unavailable or out of range. Unlike
    the Java client, librdkafka switches on time only, not when a batch is sent.
    """

    __slots__ = ("_current", "_last_pick_ms", "_rng", "linger_ms")

    def __init__(self, linger_ms: int, rng: random.Random | None = None) -> None:
        self.linger_ms = linger_ms
        self._rng = rng if rng is not None else random.Random()
        self._current = -1
        self._last_pick_ms: float | None = None

    def partition(
        self, partition_count: int, now_ms: float, available: Available | None = None
    ) -> int:
        """The sticky partition at `now_ms`, picking a new one when it is due."""
        current = self._current
        if (
            self._last_pick_ms is None
            or now_ms - self._last_pick_ms > self.linger_ms
            or current >= partition_count
            or (available is not None and not available(current))
        ):
            current = self._current = random_partition(partition_count, self._rng, available)
            self._last_pick_ms = now_ms
        return current

    def expedite(self) -> None:
        """Pick a new partition for the next record, as when the current one becomes unavailable."""
        self._last_pick_ms = None


def random_partition(
    partition_count: int, rng: random.Random, available: Available | None = None
) -> int:
    """librdkafka's `random` partitioner: a random partition, drawn again once if unavailable."""
    partition = rng.randrange(partition_count)
    if available is not None and not available(partition):
        return rng.randrange(partition_count)
    return partition


def _crc32(key: bytes, partition_count: int) -> int:
    return zlib.crc32(key) % partition_count


def _murmur2(key: bytes, partition_count: int) -> int:
    return (murmur2_hash(key) & 0x7FFFFFFF) % partition_count


def _fnv1a(key: bytes, partition_count: int) -> int:
    return fnv1a_hash(key) % partition_count


# Base partitioner name -> its hash (unchecked; the producer has validated key and count).
_HASHERS: dict[str, Callable[[bytes, int], int]] = {
    "consistent": _crc32,
    "murmur2": _murmur2,
    "fnv1a": _fnv1a,
}
