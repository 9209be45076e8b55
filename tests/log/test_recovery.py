"""Crash recovery: a torn or corrupt tail is cut at the last whole batch, indexes are rebuilt."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kstream_nb.clock import ManualClock
from kstream_nb.log import LogConfig, LogRecovered, PartitionLog
from tests.log.conftest import MakeLog
from tests.log.util import START_MS, batch, values

CONFIG = LogConfig.from_properties({"index.interval.bytes": 64})


def _fill(log: PartitionLog, batches: int) -> list[int]:
    """Append batches of 1-3 records; return the byte position where each batch ends."""
    ends = []
    for i in range(batches):
        log.append_as_leader(batch([(b"k%d" % i, b"v" * (i * 7 % 50))] * (1 + i % 3)))
        ends.append(log.active_segment.size)
    return ends


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_truncating_a_segment_at_any_byte_recovers_to_the_last_whole_batch(
    data: st.DataObject,
) -> None:
    clock = ManualClock(START_MS)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t-0"
        log = PartitionLog(path, CONFIG, clock)
        ends = _fill(log, 12)
        before = values(log)
        log.crash()
        cut = data.draw(st.integers(0, ends[-1]), label="cut at byte")
        os.truncate(path / f"{0:020d}.log", cut)

        reopened = PartitionLog(path, CONFIG, clock)
        whole = [e for e in ends if e <= cut]
        assert reopened.active_segment.size == (whole[-1] if whole else 0)
        survivors = before[: reopened.log_end_offset]
        assert values(reopened) == survivors
        assert len({o for o, _, _ in survivors}) == reopened.log_end_offset
        # The log keeps working where it was cut.
        info = reopened.append_as_leader(batch([(b"after", b"crash")]))
        assert info.first_offset == len(survivors)
        reopened.close()
        again = PartitionLog(path, CONFIG, clock)
        assert values(again)[-1] == (len(survivors), b"after", b"crash")
        again.close()


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_a_corrupt_byte_cuts_the_log_before_the_damaged_batch(data: st.DataObject) -> None:
    clock = ManualClock(START_MS)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t-0"
        log = PartitionLog(path, CONFIG, clock)
        ends = _fill(log, 10)
        before = values(log)
        log.crash()
        segment_file = path / f"{0:020d}.log"
        raw = bytearray(segment_file.read_bytes())
        damaged = data.draw(st.integers(0, len(ends) - 1), label="damaged batch")
        start = ends[damaged - 1] if damaged else 0
        # Every byte but the base offset (0-7) and leader epoch (12-15), which Kafka's format
        # leaves outside the CRC so that brokers can rewrite them.
        rel = data.draw(
            st.integers(8, ends[damaged] - start - 1).filter(lambda i: not 12 <= i < 16),
            label="byte in batch",
        )
        raw[start + rel] ^= data.draw(st.integers(1, 255), label="xor")
        segment_file.write_bytes(bytes(raw))

        reopened = PartitionLog(path, CONFIG, clock)
        assert reopened.active_segment.size == start
        assert values(reopened) == before[: reopened.log_end_offset]
        assert reopened.log_end_offset == (before[len(values(reopened)) - 1][0] + 1 if start else 0)
        reopened.close()


def test_a_damaged_base_offset_that_breaks_offset_order_is_cut(tmp_path: Path) -> None:
    clock = ManualClock(START_MS)
    log = PartitionLog(tmp_path / "t-0", CONFIG, clock)
    ends = _fill(log, 4)
    before = values(log)
    log.crash()
    segment_file = tmp_path / "t-0" / f"{0:020d}.log"
    raw = bytearray(segment_file.read_bytes())
    raw[ends[1]] ^= 0x01  # the top byte of the third batch's base offset: 2**56 too far
    segment_file.write_bytes(bytes(raw))
    reopened = PartitionLog(tmp_path / "t-0", CONFIG, clock)
    assert reopened.active_segment.size == ends[1]
    assert values(reopened) == before[: reopened.log_end_offset]
    reopened.close()


def test_nothing_flushed_is_lost_and_recovery_is_reported(
    make_log: MakeLog, tmp_path: Path
) -> None:
    events: list[object] = []
    log = make_log("t-0")
    _fill(log, 5)
    log.flush()
    expected = values(log)
    log.crash()
    reopened = PartitionLog(tmp_path / "t-0", CONFIG, ManualClock(START_MS), on_event=events.append)
    assert values(reopened) == expected
    assert [type(e) for e in events] == [LogRecovered]
    reopened.close()


def test_missing_or_damaged_indexes_are_rebuilt(make_log: MakeLog, tmp_path: Path) -> None:
    log = make_log("t-0", index_interval_bytes=32)
    _fill(log, 30)
    expected = values(log)
    log.close()
    index_bytes = (tmp_path / "t-0" / f"{0:020d}.index").read_bytes()
    time_bytes = (tmp_path / "t-0" / f"{0:020d}.timeindex").read_bytes()
    assert len(index_bytes) > 8

    (tmp_path / "t-0" / f"{0:020d}.index").unlink()
    (tmp_path / "t-0" / f"{0:020d}.timeindex").write_bytes(b"\x00" * 13)  # not whole entries
    reopened = PartitionLog(
        tmp_path / "t-0",
        LogConfig.from_properties({"index.interval.bytes": 32}),
        ManualClock(START_MS),
    )
    assert values(reopened) == expected
    reopened.close()
    assert (tmp_path / "t-0" / f"{0:020d}.index").read_bytes() == index_bytes
    assert (tmp_path / "t-0" / f"{0:020d}.timeindex").read_bytes() == time_bytes


def test_damage_in_an_old_segment_drops_the_segments_after_it(
    make_log: MakeLog, tmp_path: Path
) -> None:
    log = make_log("t-0", segment_bytes=200)
    _fill(log, 12)
    assert len(log.segments) >= 3
    second = log.segments[1]
    log.crash()
    raw = bytearray(second.log_path.read_bytes())
    raw[30] ^= 0xFF  # inside the first batch's CRC-covered bytes
    second.log_path.write_bytes(bytes(raw))
    reopened = PartitionLog(
        tmp_path / "t-0", LogConfig.from_properties({"segment.bytes": 200}), ManualClock(START_MS)
    )
    assert reopened.log_end_offset == second.base_offset
    assert [s.base_offset for s in reopened.segments] == [0, second.base_offset]
    reopened.close()


def test_interrupted_compaction_leftovers_are_cleared(make_log: MakeLog, tmp_path: Path) -> None:
    log = make_log("t-0")
    _fill(log, 3)
    expected = values(log)
    log.close()
    (tmp_path / "t-0" / f"{0:020d}.log.cleaned").write_bytes(b"half written")
    reopened = PartitionLog(tmp_path / "t-0", LogConfig(), ManualClock(START_MS))
    assert values(reopened) == expected
    assert not list((tmp_path / "t-0").glob("*.cleaned"))
    reopened.close()
