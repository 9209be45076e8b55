"""Appends, reads, offsets and truncation: what a producer, consumer and follower rely on."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kstream_nb.clock import ManualClock
from kstream_nb.log import (
    EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
    MAX_TIMESTAMP,
    BatchBuilder,
    Compression,
    CorruptRecordError,
    InvalidRecordError,
    LogConfig,
    OffsetAndTimestamp,
    OffsetOutOfRangeError,
    PartitionLog,
    Record,
    SegmentRolled,
    iter_batches,
)
from kstream_nb.log import segment as segment_module
from tests.log.conftest import MakeLog
from tests.log.util import START_MS, batch, values

# -- property: whatever is appended reads back identically ---------------------------------

keys = st.none() | st.binary(max_size=12)
vals = st.none() | st.binary(max_size=200)
headers = st.lists(
    st.tuples(st.text(max_size=6), st.none() | st.binary(max_size=8)), max_size=2
).map(tuple)
records = st.tuples(keys, vals, st.integers(0, 10**6), headers)
appends = st.lists(
    st.tuples(st.lists(records, min_size=1, max_size=20), st.sampled_from(list(Compression))),
    min_size=1,
    max_size=25,
)


def _append_all(
    log: PartitionLog,
    batches: list[
        tuple[
            list[tuple[bytes | None, bytes | None, int, tuple[tuple[str, bytes | None], ...]]],
            Compression,
        ]
    ],
) -> list[Record]:
    expected: list[Record] = []
    for rows, codec in batches:
        builder = BatchBuilder(codec)
        for key, value, ts, hdrs in rows:
            builder.append(key, value, START_MS + ts, hdrs)
        info = log.append_as_leader(builder.build())
        assert info.first_offset == len(expected)
        for i, (key, value, ts, hdrs) in enumerate(rows):
            expected.append(Record(info.first_offset + i, START_MS + ts, key, value, hdrs))
        assert info.last_offset == len(expected) - 1
    return expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batches=appends,
    segment_bytes=st.sampled_from([200, 1000, 1 << 20]),
    interval=st.sampled_from([0, 100, 4096]),
)
def test_any_sequence_of_appends_reads_back_identically_before_and_after_reopen(
    batches: list[
        tuple[
            list[tuple[bytes | None, bytes | None, int, tuple[tuple[str, bytes | None], ...]]],
            Compression,
        ]
    ],
    segment_bytes: int,
    interval: int,
) -> None:
    config = LogConfig.from_properties(
        {"segment.bytes": segment_bytes, "index.interval.bytes": interval}
    )
    clock = ManualClock(START_MS)
    with tempfile.TemporaryDirectory() as tmp:
        log = PartitionLog(Path(tmp) / "t-0", config, clock)
        expected = _append_all(log, batches)
        assert list(log.records()) == expected
        assert log.log_end_offset == len(expected)
        # Every offset is readable from its own position, through the sparse index.
        for rec in expected[:: max(1, len(expected) // 7)]:
            got = [r for b in iter_batches(log.read(rec.offset, 1)) for r in b.records()]
            assert rec in got
        log.close()
        reopened = PartitionLog(Path(tmp) / "t-0", config, clock)
        assert list(reopened.records()) == expected
        assert reopened.log_end_offset == len(expected)
        reopened.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batches=appends,
    segment_bytes=st.sampled_from([300, 2000, 1 << 20]),
    tail_batches=st.sampled_from([1, 3, 256]),
    group=st.integers(1, 4),
    reads=st.lists(
        st.tuples(
            st.integers(0, 10**4),
            st.integers(0, 4),
            st.integers(-1, 1),
            st.integers(0, 10**4),
            st.booleans(),
        ),
        min_size=1,
        max_size=20,
    ),
)
def test_reads_served_from_memory_equal_reads_from_the_file(
    batches: list[
        tuple[
            list[tuple[bytes | None, bytes | None, int, tuple[tuple[str, bytes | None], ...]]],
            Compression,
        ]
    ],
    segment_bytes: int,
    tail_batches: int,
    group: int,
    reads: list[tuple[int, int, int, int, bool]],
) -> None:
    """A follower (appending `group` batches per fetch) keeps its newest batches in memory;
    every read, with any byte budget and visibility bound, equals the same read from the files
    of the same log reopened (which keeps nothing in memory)."""
    config = LogConfig.from_properties({"segment.bytes": segment_bytes})
    clock = ManualClock(START_MS)
    with tempfile.TemporaryDirectory() as tmp:
        leader = PartitionLog(Path(tmp) / "t-0", config, clock)
        _append_all(leader, batches)
        chunks = [b.data for b in leader.batches()]
        bases = [b.base_offset for b in leader.batches()]
        leader.close()
        live = PartitionLog(Path(tmp) / "f-0", config, clock)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(segment_module, "_TAIL_BATCHES", tail_batches)
            for i in range(0, len(chunks), group):
                live.append_as_follower(b"".join(chunks[i : i + group]))
        end = live.log_end_offset
        # From the start of some batch, a budget of n whole batches give or take a byte.
        asked = [
            (
                bases[j % len(bases)],
                max(0, sum(map(len, chunks[j % len(bases) :][:n])) + delta),
                None if bound % 3 == 0 else bound % (end + 2),
                min_one,
            )
            for j, n, delta, bound, min_one in reads
        ]
        answers = [live.read(o, b, max_offset=m, min_one=one) for o, b, m, one in asked]
        live.close()
        reopened = PartitionLog(Path(tmp) / "f-0", config, clock)
        assert answers == [reopened.read(o, b, max_offset=m, min_one=one) for o, b, m, one in asked]
        reopened.close()


# -- offsets ---------------------------------------------------------------------------------


def test_leader_assigns_consecutive_offsets_across_batches(make_log: MakeLog) -> None:
    log = make_log()
    first = log.append_as_leader(batch([(b"a", b"1"), (b"b", b"2")]))
    second = log.append_as_leader(batch([(b"c", b"3")]))
    assert (first.first_offset, first.last_offset) == (0, 1)
    assert (second.first_offset, second.last_offset) == (2, 2)
    assert values(log) == [(0, b"a", b"1"), (1, b"b", b"2"), (2, b"c", b"3")]


def test_leader_epoch_is_written_into_each_batch(make_log: MakeLog) -> None:
    log = make_log()
    log.append_as_leader(batch([(b"a", b"1")]), leader_epoch=7)
    assert [b.partition_leader_epoch for b in log.batches()] == [7]


def test_follower_keeps_leader_offsets_and_rejects_going_backwards(make_log: MakeLog) -> None:
    leader, follower = make_log("t-0"), make_log("t-1")
    leader.append_as_leader(batch([(b"a", b"1"), (b"b", b"2")]))
    leader.append_as_leader(batch([(b"c", b"3")]))
    follower.append_as_follower(leader.read(0, 1 << 20))
    assert values(follower) == values(leader)
    with pytest.raises(Exception, match="below the log end offset"):
        follower.append_as_follower(leader.read(0, 1 << 20))
    assert follower.log_end_offset == 3


# -- reading ---------------------------------------------------------------------------------


def test_read_returns_whole_batches_within_max_bytes_but_at_least_one(make_log: MakeLog) -> None:
    log = make_log()
    for i in range(5):
        log.append_as_leader(batch([(b"k", bytes(100)) for _ in range(3)], START_MS + i))
    one = len(log.read(0, 1))  # smaller than a batch: still one whole batch
    assert [b.base_offset for b in iter_batches(log.read(0, 1))] == [0]
    assert [b.base_offset for b in iter_batches(log.read(0, 2 * one))] == [0, 3]
    assert [b.base_offset for b in iter_batches(log.read(0, 2 * one - 1))] == [0]
    assert log.read(0, 1, min_one=False) == b""
    # A read in the middle of a batch starts at that batch; the consumer skips what it passed.
    assert [b.base_offset for b in iter_batches(log.read(4, 1))] == [3]


def test_read_stops_at_max_offset_so_consumers_never_see_above_high_watermark(
    make_log: MakeLog,
) -> None:
    log = make_log()
    for _ in range(4):
        log.append_as_leader(batch([(b"k", b"v"), (b"k", b"w")]))
    log.update_high_watermark(4)
    visible = log.read(0, 1 << 20, max_offset=log.high_watermark)
    assert [b.last_offset for b in iter_batches(visible)] == [1, 3]
    assert log.read(4, 1 << 20, max_offset=log.high_watermark) == b""


def test_read_outside_the_log_is_offset_out_of_range(make_log: MakeLog) -> None:
    log = make_log()
    log.append_as_leader(batch([(b"k", b"v")]))
    assert log.read(1, 100) == b""  # at the log end: nothing yet, not an error
    with pytest.raises(OffsetOutOfRangeError) as err:
        log.read(2, 100)
    assert err.value.name == "OFFSET_OUT_OF_RANGE"
    with pytest.raises(OffsetOutOfRangeError):
        log.read(-1, 100)


def test_offset_for_timestamp_finds_first_record_at_or_after(make_log: MakeLog) -> None:
    log = make_log(segment_bytes=300, index_interval_bytes=1)
    for minute in range(20):
        log.append_as_leader(batch([(b"k", b"x" * 40)], START_MS + minute * 60_000))
    assert len(log.segments) > 3
    assert log.offset_for_timestamp(START_MS + 7 * 60_000) == OffsetAndTimestamp(
        7, START_MS + 7 * 60_000
    )
    assert log.offset_for_timestamp(START_MS + 7 * 60_000 + 1) == OffsetAndTimestamp(
        8, START_MS + 8 * 60_000
    )
    assert log.offset_for_timestamp(0) == OffsetAndTimestamp(0, START_MS)
    assert log.offset_for_timestamp(START_MS + 10**9) is None
    assert log.offset_for_timestamp(EARLIEST_TIMESTAMP) == OffsetAndTimestamp(0, -1)
    assert log.offset_for_timestamp(LATEST_TIMESTAMP) == OffsetAndTimestamp(20, -1)
    assert log.offset_for_timestamp(MAX_TIMESTAMP) == OffsetAndTimestamp(19, START_MS + 19 * 60_000)


def test_offset_for_timestamp_with_out_of_order_timestamps(make_log: MakeLog) -> None:
    log = make_log()
    for ts in (50, 10, 30, 70, 20):
        log.append_as_leader(batch([(b"k", b"v")], START_MS + ts))
    found = log.offset_for_timestamp(START_MS + 25)
    assert found == OffsetAndTimestamp(0, START_MS + 50)  # first offset whose time is >= 25
    assert log.offset_for_timestamp(MAX_TIMESTAMP) == OffsetAndTimestamp(3, START_MS + 70)


def test_log_append_time_replaces_producer_timestamps(
    make_log: MakeLog, clock: ManualClock
) -> None:
    log = make_log(message_timestamp_type="LogAppendTime")
    clock.advance("1h")
    info = log.append_as_leader(batch([(b"k", b"v"), (b"k", b"w")], timestamp=5))
    assert info.log_append_time == clock.now_ms()
    assert [r.timestamp for r in log.records()] == [clock.now_ms()] * 2


def test_topic_compression_type_recompresses_batches(make_log: MakeLog) -> None:
    log = make_log(compression_type="gzip")
    log.append_as_leader(batch([(b"k", b"v" * 100)] * 5))
    assert [b.compression for b in log.batches()] == [Compression.GZIP]
    assert [r.value for r in log.records()] == [b"v" * 100] * 5


# -- segments --------------------------------------------------------------------------------


def test_segments_roll_by_bytes_and_are_named_by_base_offset(make_log: MakeLog) -> None:
    events: list[object] = []
    log = make_log(segment_bytes=500)
    log._on_event = events.append
    for _ in range(10):
        log.append_as_leader(batch([(b"k", bytes(150))]))
    bases = [s.base_offset for s in log.segments]
    assert bases == sorted(bases)
    assert len(bases) > 3
    assert all(s.size <= 500 for s in log.segments)
    names = sorted(p.name for p in log.directory.glob("*.log"))
    assert names == [f"{b:020d}.log" for b in bases]
    assert [e.base_offset for e in events if isinstance(e, SegmentRolled)] == bases[1:]


def test_segments_roll_by_segment_ms_on_record_time(make_log: MakeLog) -> None:
    log = make_log(segment_ms=60_000)
    log.append_as_leader(batch([(b"k", b"v")], START_MS))
    log.append_as_leader(batch([(b"k", b"v")], START_MS + 60_000))
    assert len(log.segments) == 1
    log.append_as_leader(batch([(b"k", b"v")], START_MS + 60_001))
    assert [s.base_offset for s in log.segments] == [0, 2]


def test_segments_roll_when_the_index_is_full(make_log: MakeLog) -> None:
    log = make_log(segment_index_bytes=16, index_interval_bytes=0)
    for _ in range(8):
        log.append_as_leader(batch([(b"k", b"v")]))
    assert len(log.segments) > 1
    assert all(len(s.offset_index) <= 2 for s in log.segments)


# -- truncation ------------------------------------------------------------------------------


def test_truncate_to_removes_the_tail_and_appends_continue_there(make_log: MakeLog) -> None:
    log = make_log(segment_bytes=300)
    for i in range(12):
        log.append_as_leader(batch([(b"k", bytes([i]) * 60)]))
    log.update_high_watermark(12)
    removed = log.truncate_to(5)
    assert removed > 0
    assert log.log_end_offset == 5
    assert log.high_watermark == 5
    assert [o for o, _, _ in values(log)] == [0, 1, 2, 3, 4]
    info = log.append_as_leader(batch([(b"k", b"new")]))
    assert info.first_offset == 5
    assert values(log)[-1] == (5, b"k", b"new")


def test_truncate_fully_starts_an_empty_log_at_an_offset(make_log: MakeLog) -> None:
    log = make_log()
    log.append_as_leader(batch([(b"k", b"v")] * 3))
    log.truncate_fully_and_start_at(100)
    assert (log.log_start_offset, log.log_end_offset) == (100, 100)
    assert log.append_as_leader(batch([(b"k", b"v")])).first_offset == 100


def test_log_start_offset_moves_only_below_the_high_watermark(make_log: MakeLog) -> None:
    log = make_log()
    log.append_as_leader(batch([(b"k", b"v")] * 10))
    log.update_high_watermark(6)
    with pytest.raises(OffsetOutOfRangeError):
        log.increment_log_start_offset(7)
    assert log.increment_log_start_offset(4)
    with pytest.raises(OffsetOutOfRangeError):
        log.read(3, 100)
    assert [r.offset for r in log.records()] == [4, 5, 6, 7, 8, 9]


def test_batches_from_our_own_encoder_still_get_every_check_the_topic_needs(
    make_log: MakeLog,
) -> None:
    log = make_log()
    info = log.append_as_leader(batch([(b"k", b"v")] * 3), trusted_encoder=True)
    assert (info.first_offset, info.last_offset) == (0, 2)
    compacted = make_log("c-0", cleanup_policy="compact")
    with pytest.raises(InvalidRecordError):  # keys are still required on a compacted topic
        compacted.append_as_leader(batch([(None, b"v")]), trusted_encoder=True)
    damaged = bytearray(batch([(b"k", b"v")]))
    damaged[-1] ^= 0xFF
    with pytest.raises(CorruptRecordError):  # and the CRC is always checked
        log.append_as_leader(bytes(damaged), trusted_encoder=True)
