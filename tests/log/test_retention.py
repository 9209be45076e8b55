"""Retention deletes whole sealed segments by age and size, never above the high watermark."""

from __future__ import annotations

from kstream_nb.clock import ManualClock
from kstream_nb.log import PartitionLog, SegmentDeleted
from tests.log.conftest import MakeLog
from tests.log.util import START_MS, batch

HOUR = 3_600_000


def _hourly(log: PartitionLog, hours: int) -> None:
    """One 200-byte record per hour of record time; segments of ~2 records."""
    for h in range(hours):
        log.append_as_leader(batch([(b"k", bytes(200))], START_MS + h * HOUR))
    log.update_high_watermark(log.log_end_offset)


def test_retention_ms_deletes_segments_whose_newest_record_is_too_old(
    make_log: MakeLog, clock: ManualClock
) -> None:
    log = make_log(segment_bytes=600, retention_ms=3 * HOUR)
    events: list[object] = []
    log._on_event = events.append
    _hourly(log, 10)
    bases_before = [(s.base_offset, s.largest_timestamp) for s in log.segments]
    clock.set(START_MS + 9 * HOUR)
    deleted = log.delete_old_segments()
    survivors = [s.base_offset for s in log.segments]
    expected_gone = [b for b, ts in bases_before[:-1] if clock.now_ms() - ts > 3 * HOUR]
    assert deleted == len(expected_gone) > 0
    assert survivors[0] == bases_before[len(expected_gone)][0]
    assert log.log_start_offset == survivors[0]
    assert [e.base_offset for e in events if isinstance(e, SegmentDeleted)] == expected_gone
    assert all(e.reason == "retention.ms" for e in events if isinstance(e, SegmentDeleted))
    # What is left reads from the new log start; the old files are gone.
    assert next(r.offset for r in log.records()) == log.log_start_offset
    assert len(list(log.directory.glob("*.log"))) == len(survivors)


def test_a_simulated_week_expires_everything_and_the_log_continues_at_its_end(
    make_log: MakeLog, clock: ManualClock
) -> None:
    log = make_log(segment_bytes=600)  # retention.ms defaults to 7 days
    _hourly(log, 5)
    clock.set(START_MS + 4 * HOUR)
    assert log.delete_old_segments() == 0
    clock.advance("7d")  # the newest record is exactly retention.ms old: kept
    older = len(log.segments) - 1
    assert log.delete_old_segments() == older
    clock.advance(1)
    assert log.delete_old_segments() == 1
    assert log.log_start_offset == log.log_end_offset == 5
    assert list(log.records()) == []
    assert log.append_as_leader(batch([(b"k", b"v")], clock.now_ms())).first_offset == 5


def test_retention_bytes_keeps_the_newest_segments_within_the_limit(make_log: MakeLog) -> None:
    log = make_log(segment_bytes=600, retention_bytes=1300)
    _hourly(log, 12)
    log.delete_old_segments()
    assert log.size_in_bytes <= 1300 + log.active_segment.size
    assert log.size_in_bytes > 1300 - max(s.size for s in log.segments)
    assert log.segments[-1].next_offset == 12


def test_retention_never_deletes_records_above_the_high_watermark(
    make_log: MakeLog, clock: ManualClock
) -> None:
    log = make_log(segment_bytes=600, retention_ms=HOUR)
    _hourly(log, 6)
    log.update_high_watermark(1)  # followers have not caught up
    clock.advance("30d")
    assert log.delete_old_segments() == 0
    log.update_high_watermark(log.log_end_offset)
    assert log.delete_old_segments() > 0


def test_compact_only_topics_are_not_deleted_by_age(make_log: MakeLog, clock: ManualClock) -> None:
    log = make_log(segment_bytes=600, retention_ms=HOUR, cleanup_policy="compact")
    _hourly(log, 6)
    clock.advance("30d")
    assert log.delete_old_segments() == 0
    both = make_log("both-0", segment_bytes=600, retention_ms=HOUR, cleanup_policy="compact,delete")
    _hourly(both, 6)
    assert both.delete_old_segments() > 0


def test_segments_below_the_log_start_offset_go_whatever_the_policy(make_log: MakeLog) -> None:
    log = make_log(segment_bytes=600, cleanup_policy="compact")
    _hourly(log, 8)
    second = log.segments[2].base_offset
    log.increment_log_start_offset(second)
    assert log.delete_old_segments() == 2
    assert log.segments[0].base_offset == second


def test_retention_survives_a_restart(make_log: MakeLog, clock: ManualClock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = make_log(segment_bytes=600, retention_ms=3 * HOUR)
    _hourly(log, 8)
    clock.set(START_MS + 8 * HOUR)
    log.delete_old_segments()
    start = log.log_start_offset
    log.close()
    reopened = PartitionLog(tmp_path / "orders-0", log.config, ManualClock(clock.now_ms()))
    assert reopened.log_start_offset == start
    assert reopened.high_watermark == 8
    reopened.close()
