"""librdkafka's partitioners: the same partition as librdkafka and the Java client for a key."""

from __future__ import annotations

import random
import zlib
from collections import Counter
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kstream_nb.client import Partitioner, StickyPartitioner, consistent, fnv1a, murmur2
from kstream_nb.client.partitioner import PARTITIONERS, fnv1a_hash, murmur2_hash

KEYS = st.binary(max_size=64)
COUNTS = st.integers(min_value=1, max_value=2**31 - 1)


@pytest.fixture(scope="module")
def ck() -> ModuleType:
    module: ModuleType = pytest.importorskip("confluent_kafka")
    return module


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # Kafka's UtilsTest.testMurmur2
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
    ],
)
def test_murmur2_matches_kafkas_test_vectors(data: bytes, expected: int) -> None:
    assert murmur2_hash(data) == expected


@given(data=KEYS)
def test_murmur2_matches_kafka_python(data: bytes) -> None:
    kafka_murmur2 = pytest.importorskip("kafka.partitioner.default").murmur2
    assert murmur2_hash(data) & 0xFFFFFFFF == kafka_murmur2(data)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        # librdkafka's unittest_fnv1a (Sarama's hashes)
        (b"kafka", 0x0D33C4E1),
        (b"giberish123456789", 0x77A58295),
        (b"1234", 0x023BDD03),
        (b"234", 0x2DEA3CD2),
        (b"34", 0x740FA83E),
        (b"4", 0x310CA263),
        (b"PreAmbleWillBeRemoved,ThePrePartThatIs", 0x65CBD69C),
        (b"reAmbleWillBeRemoved,ThePrePartThatIs", 0x6E49C79A),
        (b"eAmbleWillBeRemoved,ThePrePartThatIs", 0x69EED356),
        (b"AmbleWillBeRemoved,ThePrePartThatIs", 0x6ABCC023),
        (b"", 0x7EE3623B),
    ],
)
def test_fnv1a_matches_librdkafkas_test_vectors(key: bytes, expected: int) -> None:
    assert fnv1a_hash(key) == expected


@given(key=KEYS, count=COUNTS)
def test_partition_functions_match_confluent(key: bytes, count: int) -> None:
    ck = pytest.importorskip("confluent_kafka")
    assert murmur2(key, count) == ck.murmur2(key, count)
    assert consistent(key, count) == ck.consistent(key, count)
    assert fnv1a(key, count) == ck.fnv1a(key, count)


@given(key=KEYS, count=COUNTS)
def test_partitions_are_in_range_and_deterministic(key: bytes, count: int) -> None:
    for fn in (murmur2, consistent, fnv1a):
        partition = fn(key, count)
        assert 0 <= partition < count
        assert fn(key, count) == partition
    # CRC-32 as zlib computes it, as librdkafka documents for `consistent`.
    assert consistent(key, count) == zlib.crc32(key) % count
    # The Java client's default partitioner for a keyed record.
    assert murmur2(key, count) == (murmur2_hash(key) & 0x7FFFFFFF) % count


def test_partition_functions_check_arguments_like_confluent(ck: ModuleType) -> None:
    bad: list[tuple[Any, Any]] = [
        (None, 10),
        ("abc", 10),
        (b"a", 0),
        (b"a", -1),
        (bytearray(b"a"), 3),
        (b"a", 3.0),
        (b"a", 2**31),
    ]
    for ours, theirs in ((murmur2, ck.murmur2), (consistent, ck.consistent), (fnv1a, ck.fnv1a)):
        for key, count in bad:
            try:
                theirs(key, count)
            except (TypeError, ValueError, OverflowError) as exc:
                expected = type(exc)
            else:
                pytest.fail(f"confluent-kafka accepted {key!r}, {count!r}")
            with pytest.raises(expected):
                ours(key, count)


@given(key=st.binary(min_size=1, max_size=32), count=st.integers(1, 1000), seed=st.integers())
def test_keyed_records_use_the_named_hash(key: bytes, count: int, seed: int) -> None:
    hashes = {"consistent": consistent, "murmur2": murmur2, "fnv1a": fnv1a}
    for name in PARTITIONERS:
        partitioner = Partitioner(name, sticky_linger_ms=10, rng=random.Random(seed))
        partition = partitioner.partition("t", key, count, now_ms=0)
        assert 0 <= partition < count
        base = name.removesuffix("_random")
        if base in hashes:
            assert partition == hashes[base](key, count)


def test_null_keys_go_to_a_fixed_partition_with_deterministic_partitioners() -> None:
    for name, expected in [
        ("consistent", 0),
        ("murmur2", murmur2(b"", 7)),
        ("fnv1a", fnv1a(b"", 7)),
    ]:
        partitioner = Partitioner(name, sticky_linger_ms=10, rng=random.Random(1))
        seen = {partitioner.partition("t", None, 7, now_ms=t) for t in range(0, 1000, 50)}
        assert seen == {expected}, name


def test_empty_keys_are_keyless_only_for_consistent_random() -> None:
    spread = Partitioner("consistent_random", rng=random.Random(1))
    assert len({spread(b"", 16) for _ in range(200)}) > 8
    for name in ("murmur2_random", "fnv1a_random"):
        hashed = Partitioner(name, rng=random.Random(1))
        assert {hashed(b"", 16) for _ in range(50)} == {hashed(b"", 16)}


def test_without_stickiness_each_keyless_record_is_random() -> None:
    partitioner = Partitioner("murmur2_random", sticky_linger_ms=0, rng=random.Random(3))
    counts = Counter(partitioner.partition("t", None, 4, now_ms=0) for _ in range(4000))
    assert set(counts) == {0, 1, 2, 3}
    assert min(counts.values()) > 800


def test_keyless_records_stick_to_one_partition_until_the_linger_passes() -> None:
    partitioner = Partitioner("consistent_random", sticky_linger_ms=10, rng=random.Random(5))
    first = partitioner.partition("orders", None, 100, now_ms=1000)
    assert {partitioner.partition("orders", None, 100, now_ms=t) for t in range(1000, 1011)} == {
        first
    }
    assert partitioner.partition("orders", b"", 100, now_ms=1010) == first  # empty key too
    picks = {partitioner.partition("orders", None, 100, now_ms=t) for t in range(1011, 2000, 11)}
    assert len(picks) > 50  # a new partition every interval
    # Each topic has its own sticky partition.
    other = Partitioner("consistent_random", sticky_linger_ms=10, rng=random.Random(5))
    other.partition("orders", None, 100, now_ms=0)
    assert other.partition("payments", None, 100, now_ms=0) in range(100)


def test_sticky_partitioner_moves_off_an_unavailable_partition() -> None:
    sticky = StickyPartitioner(linger_ms=1000, rng=random.Random(2))
    first = sticky.partition(10, now_ms=0)
    assert sticky.partition(10, now_ms=5) == first
    moved = sticky.partition(10, now_ms=6, available=lambda p: p != first)
    assert moved != first
    assert sticky.partition(10, now_ms=7) == moved
    sticky.expedite()
    assert sticky.partition(10, now_ms=8) in range(10)


def test_random_partitioner_draws_again_once_when_unavailable() -> None:
    partitioner = Partitioner("random", rng=random.Random(4))
    draws = [partitioner(b"k", 2, available=lambda p: p == 1) for _ in range(200)]
    assert Counter(draws)[1] > 130  # about 3/4 after one redraw


def test_unknown_partitioner_name() -> None:
    with pytest.raises(ValueError, match="unknown partitioner 'Murmur2'"):
        Partitioner("Murmur2")


def test_seeded_partitioners_are_reproducible() -> None:
    def run(seed: int) -> list[int]:
        partitioner = Partitioner(sticky_linger_ms=5, rng=random.Random(seed))
        return [partitioner.partition("t", None, 12, now_ms=t) for t in range(0, 300, 3)]

    assert run(9) == run(9)
