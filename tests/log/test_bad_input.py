"""Bad input gets a typed error with Kafka's error name; the log stays readable and unchanged."""

from __future__ import annotations

import itertools
import random
import re
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from crc32c import crc32c
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kstream_nb.clock import ManualClock
from kstream_nb.log import (
    MAX_TIMESTAMP,
    BatchBuilder,
    Compression,
    CorruptRecordError,
    InvalidConfigError,
    InvalidRecordError,
    LogConfig,
    LogError,
    OffsetOutOfRangeError,
    PartitionLog,
    Record,
    RecordTooLargeError,
)
from tests.log.conftest import OpenLog

with warnings.catch_warnings():
    # kafka-python 3.0's package import calls the deprecated importlib.resources.read_text.
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.record import MemoryRecords
    from kafka.record.default_records import DefaultRecordBatch

START_MS = 1_700_000_000_000
Row = tuple[bytes | None, bytes | None]


# -- fixtures and helpers ---------------------------------------------------------------------


def batch_of(
    rows: list[Row],
    compression: Compression = Compression.NONE,
    headers: tuple[tuple[str, bytes | None], ...] = (),
) -> bytes:
    builder = BatchBuilder(compression)
    for i, (key, value) in enumerate(rows):
        builder.append(key, value, START_MS + i, headers)
    return builder.build()


def orders(count: int, value_size: int = 20) -> list[Row]:
    return [(f"order-{i}".encode(), bytes([65 + i % 26]) * value_size) for i in range(count)]


@dataclass(frozen=True)
class LogState:
    """Everything a reader can see of a log."""

    log_end_offset: int
    size_in_bytes: int
    records: tuple[Record, ...]
    fetched: bytes


def state_of(log: PartitionLog) -> LogState:
    return LogState(
        log.log_end_offset,
        log.size_in_bytes,
        tuple(log.records()),
        log.read(log.log_start_offset, max_bytes=2**31 - 1),
    )


def assert_rejected(
    log: PartitionLog, data: bytes | bytearray | memoryview, error: type[LogError], name: str
) -> LogError:
    """`data` is refused with `error` named `name`, and the log is as it was."""
    before = state_of(log)
    with pytest.raises(error) as caught:
        log.append_as_leader(data)
    assert caught.value.name == name
    assert str(caught.value).startswith(f"{name}: ")
    assert caught.value.message, "the error says what went wrong"
    assert state_of(log) == before
    return caught.value


def with_byte(data: bytes, position: int, value: int) -> bytes:
    out = bytearray(data)
    out[position] = value
    return bytes(out)


def fix_checksums(buf: bytearray) -> None:
    """Recompute the CRC-32C of every batch whose declared length fits: a producer with a bug
    that writes a correct checksum over wrong content."""
    pos = 0
    while pos + 61 <= len(buf):
        length = struct.unpack_from(">i", buf, pos + 8)[0]
        end = pos + 12 + length
        if length < 49 or end > len(buf):
            return
        struct.pack_into(">I", buf, pos + 17, crc32c(bytes(buf[pos + 21 : end])))
        pos = end


# -- max.message.bytes --------------------------------------------------------------------------


def test_batch_over_max_message_bytes_is_message_too_large(open_log: OpenLog) -> None:
    big = batch_of(orders(20, value_size=200))
    log = open_log({"max.message.bytes": len(big) - 1})
    log.append_as_leader(batch_of(orders(3)))

    error = assert_rejected(log, big, RecordTooLargeError, "MESSAGE_TOO_LARGE")

    assert "max.message.bytes" in error.message
    # The limit counts the whole batch, its 12-byte log overhead included, as Kafka does.
    log.update_config(LogConfig.from_properties({"max.message.bytes": len(big)}))
    assert log.append_as_leader(big).first_offset == 3


def test_request_with_one_oversized_batch_writes_none_of_its_batches(open_log: OpenLog) -> None:
    big = batch_of(orders(20, value_size=200))
    log = open_log({"max.message.bytes": len(big) - 1})
    log.append_as_leader(batch_of(orders(3)))

    assert_rejected(log, batch_of(orders(2)) + big, RecordTooLargeError, "MESSAGE_TOO_LARGE")


# -- damaged or foreign bytes -------------------------------------------------------------------


@pytest.mark.parametrize("compression", [Compression.NONE, Compression.GZIP, Compression.ZSTD])
@pytest.mark.parametrize(
    "where",
    [
        pytest.param(17, id="crc"),
        pytest.param(21, id="attributes"),
        pytest.param(40, id="max-timestamp"),
        pytest.param(60, id="record-count"),
        pytest.param(64, id="first-record"),
        pytest.param(-1, id="last-byte"),
    ],
)
def test_flipped_byte_under_the_checksum_is_corrupt_message(
    open_log: OpenLog, compression: Compression, where: int
) -> None:
    log = open_log()
    log.append_as_leader(batch_of(orders(3)))
    good = batch_of(orders(5), compression, headers=(("trace", b"1"),))

    damaged = with_byte(good, where % len(good), good[where] ^ 0x10)

    error = assert_rejected(log, damaged, CorruptRecordError, "CORRUPT_MESSAGE")
    assert "CRC" in error.message


@pytest.mark.parametrize("magic", [0, 1, 3, 0x7F, 0xFF])
def test_batch_with_a_magic_other_than_2_is_corrupt_message(open_log: OpenLog, magic: int) -> None:
    log = open_log()
    log.append_as_leader(batch_of(orders(3)))

    error = assert_rejected(
        log, with_byte(batch_of(orders(2)), 16, magic), CorruptRecordError, "CORRUPT_MESSAGE"
    )
    assert "magic" in error.message


@pytest.mark.parametrize(
    "keep",
    [
        pytest.param(1, id="one-byte"),
        pytest.param(11, id="inside-length"),
        pytest.param(12, id="no-header"),
        pytest.param(60, id="header-cut"),
        pytest.param(61, id="no-records"),
        pytest.param(-1, id="last-byte-missing"),
    ],
)
def test_truncated_batch_is_corrupt_message(open_log: OpenLog, keep: int) -> None:
    log = open_log()
    log.append_as_leader(batch_of(orders(3)))
    good = batch_of(orders(4))

    assert_rejected(log, good[:keep], CorruptRecordError, "CORRUPT_MESSAGE")


def test_request_whose_second_batch_is_cut_short_writes_nothing(open_log: OpenLog) -> None:
    log = open_log()
    log.append_as_leader(batch_of(orders(3)))
    second = batch_of(orders(4))

    assert_rejected(log, batch_of(orders(2)) + second[:-5], CorruptRecordError, "CORRUPT_MESSAGE")


@pytest.mark.parametrize("empty", [b"", bytearray(), memoryview(b"")], ids=type)
def test_empty_input_is_invalid_record(
    open_log: OpenLog, empty: bytes | bytearray | memoryview
) -> None:
    log = open_log()
    log.append_as_leader(batch_of(orders(3)))

    assert_rejected(log, empty, InvalidRecordError, "INVALID_RECORD")


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(b"hello", id="short-text"),
        pytest.param(b'{"order_id": "ORD-1", "amount": 99.99}', id="json-not-a-batch"),
        pytest.param(bytes(100), id="zeros"),
        pytest.param(b"\xff" * 100, id="ones"),
        pytest.param(random.Random(7).randbytes(300), id="random"),
    ],
)
def test_bytes_that_are_not_record_batches_are_corrupt_message(
    open_log: OpenLog, garbage: bytes
) -> None:
    log = open_log()
    log.append_as_leader(batch_of(orders(3)))

    assert_rejected(log, garbage, CorruptRecordError, "CORRUPT_MESSAGE")


# -- compacted topics ---------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["compact", "compact,delete"])
def test_keyless_record_on_compacted_topic_is_invalid_record(
    open_log: OpenLog, policy: str
) -> None:
    log = open_log({"cleanup.policy": policy})
    log.append_as_leader(batch_of(orders(3)))
    rows = orders(4)
    rows[2] = (None, b"no key")

    error = assert_rejected(log, batch_of(rows), InvalidRecordError, "INVALID_RECORD")
    assert "key" in error.message
    assert_rejected(log, batch_of(orders(2)) + batch_of(rows), InvalidRecordError, "INVALID_RECORD")


def test_keyless_records_are_fine_on_a_delete_topic(open_log: OpenLog) -> None:
    log = open_log({"cleanup.policy": "delete"})

    assert log.append_as_leader(batch_of([(None, b"no key")] * 3)).record_count == 3


# -- reads --------------------------------------------------------------------------------------


def test_reading_outside_the_log_is_offset_out_of_range(open_log: OpenLog) -> None:
    log = open_log()
    log.append_as_leader(batch_of(orders(3)))
    log.append_as_leader(batch_of(orders(3)))
    log.update_high_watermark(log.log_end_offset)
    log.increment_log_start_offset(3)
    before = state_of(log)

    for offset in (-1, 0, 2, 7, 2**62):
        with pytest.raises(OffsetOutOfRangeError) as caught:
            log.read(offset)
        assert caught.value.name == "OFFSET_OUT_OF_RANGE"
        assert re.search(r"\b3\b.*\b6\b", caught.value.message), "it names the range held"

    assert log.read(6) == b"", "a read at the log end offset waits for data, it is no error"
    assert [r.offset for r in decode_fetch(log.read(3))] == [3, 4, 5]
    assert state_of(log) == before


def decode_fetch(fetched: bytes) -> list[Any]:
    return [record for batch in MemoryRecords(fetched) for record in batch]


# -- topic config -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "properties",
    [
        {"retension.ms": "1000"},
        {"retention.msec": 1000},
        {"retention_ms": 1000},
        {"retention.ms": "one hour"},
        {"retention.ms": True},
        {"retention.ms": 1.5},
        {"retention.ms": None},
        {"retention.ms": -2},
        {"segment.bytes": 2**31},
        {"segment.bytes": 10},
        {"cleanup.policy": "archive"},
        {"cleanup.policy": ""},
        {"min.cleanable.dirty.ratio": 1.5},
        {"min.cleanable.dirty.ratio": "half"},
        {"min.cleanable.dirty.ratio": "nan"},
        {"preallocate": "yes"},
        {"message.timestamp.type": "createtime"},
        {"compression.type": "brotli"},
        {"max.message.bytes": -1},
    ],
    ids=repr,
)
def test_unknown_or_mistyped_topic_config_is_invalid_config(properties: dict[str, Any]) -> None:
    with pytest.raises(InvalidConfigError) as caught:
        LogConfig.from_properties(properties)

    assert caught.value.name == "INVALID_CONFIG"
    (key,) = properties
    assert key in caught.value.message, "the error names the bad setting"


# -- a producer header that lies ----------------------------------------------------------------


def test_batch_max_timestamp_is_taken_from_its_records_not_the_producer_header(
    open_log: OpenLog,
) -> None:
    """Kafka's LogValidator recomputes maxTimestamp from the records (setMaxTimestamp); a
    producer's header must not make the log report, index or retain by a time no record has."""
    log = open_log()
    lying = bytearray(batch_of(orders(3)))  # records at START_MS + 0, 1, 2
    struct.pack_into(">q", lying, 35, START_MS + 10 * 86_400_000)
    fix_checksums(lying)

    info = log.append_as_leader(bytes(lying))

    assert info.max_timestamp == START_MS + 2
    (stored,) = log.batches()
    assert stored.max_timestamp == START_MS + 2
    found = log.offset_for_timestamp(MAX_TIMESTAMP)
    assert found is not None
    assert (found.offset, found.timestamp) == (2, START_MS + 2)


# -- fuzzing ------------------------------------------------------------------------------------


REQUEST_BATCHES = (
    batch_of(orders(4), headers=(("trace", b"abc"), ("none", None))),
    batch_of([(b"k", None), (None, b"keyless"), (b"k2", b"v" * 300)], Compression.GZIP),
    batch_of(orders(1)),
)
VALID_REQUEST = b"".join(REQUEST_BATCHES)  # three valid batches, as one produce request
BATCH_STARTS = (0, *itertools.accumulate(len(b) for b in REQUEST_BATCHES[:-1]))
# Header fields: (offset in the batch, struct format).
HEADER_FIELDS = (
    (0, ">q"), (8, ">i"), (12, ">i"), (16, ">b"), (17, ">I"), (21, ">h"), (23, ">i"),
    (27, ">q"), (35, ">q"), (43, ">q"), (51, ">h"), (53, ">i"), (57, ">i"),
)  # fmt: skip
INTERESTING = (0, 1, 2, -1, 48, 49, 61, 127, 128, 255, 2**15 - 1, 2**31 - 1, -(2**31))


@dataclass(frozen=True)
class Flip:
    at: int
    mask: int

    def __call__(self, buf: bytearray) -> bytearray:
        if buf:
            buf[self.at % len(buf)] ^= self.mask
        return buf


@dataclass(frozen=True)
class Truncate:
    keep: int

    def __call__(self, buf: bytearray) -> bytearray:
        return buf[: self.keep % (len(buf) + 1)]


@dataclass(frozen=True)
class Insert:
    at: int
    data: bytes

    def __call__(self, buf: bytearray) -> bytearray:
        at = self.at % (len(buf) + 1)
        return buf[:at] + self.data + buf[at:]


@dataclass(frozen=True)
class Overwrite:
    at: int
    data: bytes

    def __call__(self, buf: bytearray) -> bytearray:
        at = self.at % (len(buf) + 1)
        return buf[:at] + self.data + buf[at + len(self.data) :]


@dataclass(frozen=True)
class Splice:
    """Paste a slice of the valid request over a stretch of the buffer."""

    at: int
    drop: int
    start: int
    length: int

    def __call__(self, buf: bytearray) -> bytearray:
        at = self.at % (len(buf) + 1)
        start = self.start % len(VALID_REQUEST)
        return buf[:at] + VALID_REQUEST[start : start + self.length] + buf[at + self.drop :]


@dataclass(frozen=True)
class SetField:
    """Write a header field of one of the batches."""

    batch: int
    field: int
    value: int

    def __call__(self, buf: bytearray) -> bytearray:
        at, fmt = HEADER_FIELDS[self.field]
        pos = BATCH_STARTS[self.batch] + at
        if pos + struct.calcsize(fmt) <= len(buf):
            struct.pack_into(fmt, buf, pos, wrap(self.value, fmt))
        return buf


def wrap(value: int, fmt: str) -> int:
    """`value` cut to the width of a struct format, two's complement for signed ones."""
    bits = 8 * struct.calcsize(fmt)
    if fmt[-1].isupper():
        return value % (1 << bits)
    return (value + (1 << bits - 1)) % (1 << bits) - (1 << bits - 1)


positions = st.integers(0, 2 * len(VALID_REQUEST))
mutations = st.one_of(
    st.builds(Flip, positions, st.integers(1, 255)),
    st.builds(Truncate, positions),
    st.builds(Insert, positions, st.binary(min_size=1, max_size=80)),
    st.builds(Overwrite, positions, st.binary(min_size=1, max_size=80)),
    st.builds(Splice, positions, st.integers(0, 200), positions, st.integers(0, 600)),
    st.builds(
        SetField,
        st.integers(0, len(BATCH_STARTS) - 1),
        st.integers(0, len(HEADER_FIELDS) - 1),
        st.sampled_from(INTERESTING) | st.integers(-(2**63), 2**63 - 1),
    ),
)
log_numbers = itertools.count()


def kafka_python_view(
    data: bytes, *, stored: bool = False
) -> list[tuple[int, bytes | None, bytes | None, tuple[Any, ...]]]:
    """(timestamp, key, value, headers) of every record, if kafka-python finds `data` to be
    whole, CRC-valid v2 batches of records numbered 0, 1, 2, ...; it raises otherwise.

    `stored` bytes (what the log wrote) must also carry their records' true max timestamp.
    """
    out = []
    consumed = 0
    for batch in MemoryRecords(data):
        assert isinstance(batch, DefaultRecordBatch)
        assert batch.magic == 2
        assert batch.validate_crc()
        assert not batch.is_control_batch
        records = list(batch)
        assert [r.offset - batch.base_offset for r in records] == list(range(len(records)))
        assert batch.last_offset_delta == len(records) - 1
        # baseTimestamp + delta is int64 arithmetic in Kafka (and aiokafka): it wraps.
        rows = [(wrap(r.timestamp, ">q"), r.key, r.value, tuple(r.headers)) for r in records]
        if stored:  # Kafka's validator starts from NO_TIMESTAMP (-1), as a floor
            assert batch.max_timestamp == max(-1, *(ts for ts, *_ in rows))
        out += rows
        consumed += batch.size_in_bytes
    assert consumed == len(data)
    return out


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(edits=st.lists(mutations, min_size=1, max_size=3), fix_crc=st.booleans())
def test_mangled_produce_requests_fail_cleanly_or_append_valid_batches(
    tmp_path: Path, edits: list[Callable[[bytearray], bytearray]], fix_crc: bool
) -> None:
    buf = bytearray(VALID_REQUEST)
    for edit in edits:
        buf = edit(buf)
    if fix_crc:
        fix_checksums(buf)
    mangled = bytes(buf)

    log = PartitionLog(tmp_path / f"orders-{next(log_numbers)}", LogConfig(), ManualClock(START_MS))
    try:
        log.append_as_leader(VALID_REQUEST)
        before = state_of(log)
        try:
            info = log.append_as_leader(mangled)
        except LogError as error:
            event(f"rejected: {error.name}")
            assert state_of(log) == before
        else:
            event("accepted")
            sent = kafka_python_view(mangled)  # accepted bytes must be valid to kafka-python too
            assert info.first_offset == before.log_end_offset
            assert log.log_end_offset == before.log_end_offset + len(sent)
            assert tuple(log.records(0, before.log_end_offset)) == before.records
            appended = list(log.records(before.log_end_offset))
            assert [r.offset for r in appended] == list(
                range(info.first_offset, info.last_offset + 1)
            )
            assert [(r.timestamp, r.key, r.value, r.headers) for r in appended] == sent
            written = log.read(before.log_end_offset, max_bytes=2**31 - 1)
            assert kafka_python_view(written, stored=True) == sent
        # Whatever happened, the log goes on: the next append gets the next offset.
        end = log.log_end_offset
        assert log.append_as_leader(batch_of(orders(2))).first_offset == end
    finally:
        log.close()
