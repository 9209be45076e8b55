"""Log compaction, checked against the guarantees in the Kafka documentation's compaction section.

1. The head of the log (the active segment, and anything newer than `min.compaction.lag.ms`) is
   never compacted: a caught-up consumer sees every record.
2. Ordering is kept: compaction only removes records.
3. The offset of a record never changes.
4. A consumer reading from the start sees at least the final value of every key, and every
   delete marker (tombstone) if it reaches the head within `delete.retention.ms`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kstream_nb.clock import ManualClock
from kstream_nb.log import LogCompacted, LogConfig, PartitionLog, Record
from tests.log.conftest import MakeLog
from tests.log.util import START_MS, batch, values

DAY = 86_400_000


def _table(records: list[Record]) -> dict[bytes, bytes]:
    """What a consumer reading from the start builds: latest value per key, deletes applied."""
    state: dict[bytes, bytes] = {}
    for r in records:
        assert r.key is not None
        if r.value is None:
            state.pop(r.key, None)
        else:
            state[r.key] = r.value
    return state


def _produce(log: PartitionLog, rows: list[tuple[bytes, bytes | None]], per_batch: int = 2) -> None:
    for i in range(0, len(rows), per_batch):
        log.append_as_leader(batch(rows[i : i + per_batch]))
    log.update_high_watermark(log.log_end_offset)


def test_docs_example_latest_value_per_key_with_offsets_kept(make_log: MakeLog) -> None:
    log = make_log(cleanup_policy="compact", segment_bytes=250)
    rows: list[tuple[bytes, bytes | None]] = [
        (b"K1", b"V1"), (b"K2", b"V2"), (b"K1", b"V3"), (b"K1", b"V4"), (b"K3", b"V5"),
        (b"K2", b"V6"), (b"K4", b"V7"), (b"K5", b"V8"), (b"K5", b"V9"), (b"K2", b"V10"),
        (b"K6", b"V11"),
    ]  # fmt: skip
    _produce(log, rows, per_batch=1)
    log.roll()
    before = list(log.records())
    assert log.compact(force=True)
    after = values(log)
    assert after == [
        (3, b"K1", b"V4"), (4, b"K3", b"V5"), (6, b"K4", b"V7"), (8, b"K5", b"V9"),
        (9, b"K2", b"V10"), (10, b"K6", b"V11"),
    ]  # fmt: skip
    assert _table(list(log.records())) == _table(before)
    assert log.log_end_offset == 11  # the next record still gets offset 11
    assert log.append_as_leader(batch([(b"K1", b"V12")])).first_offset == 11


def test_the_active_segment_is_never_compacted(make_log: MakeLog) -> None:
    log = make_log(cleanup_policy="compact")
    _produce(log, [(b"k", b"%d" % i) for i in range(10)])
    assert len(log.segments) == 1
    assert not log.compact(force=True)
    assert len(values(log)) == 10


def test_min_compaction_lag_keeps_recent_segments_whole(
    make_log: MakeLog, clock: ManualClock
) -> None:
    log = make_log(cleanup_policy="compact", segment_bytes=200, min_compaction_lag_ms=DAY)
    for i in range(6):
        log.append_as_leader(batch([(b"k", b"%d" % i)], clock.now_ms()))
    log.roll()
    log.update_high_watermark(log.log_end_offset)
    assert not log.compact(force=True)
    clock.advance(DAY + 1)
    assert log.compact(force=True)
    assert values(log) == [(5, b"k", b"5")]


def test_compaction_waits_for_the_high_watermark(make_log: MakeLog) -> None:
    log = make_log(cleanup_policy="compact", segment_bytes=200)
    for i in range(6):
        log.append_as_leader(batch([(b"k", b"%d" % i)]))
    log.roll()
    assert not log.compact(force=True)  # high watermark still 0
    log.update_high_watermark(log.log_end_offset)
    assert log.compact(force=True)


def test_tombstones_stay_for_delete_retention_ms_then_go(
    make_log: MakeLog, clock: ManualClock, tmp_path: Path
) -> None:
    log = make_log(cleanup_policy="compact", delete_retention_ms=DAY, segment_bytes=250)
    _produce(log, [(b"a", b"1"), (b"b", b"2"), (b"a", None), (b"c", b"3")], per_batch=1)
    log.roll()
    assert log.compact(force=True)
    # The delete marker is still there for consumers catching up; the old value is gone.
    assert values(log) == [(1, b"b", b"2"), (2, b"a", None), (3, b"c", b"3")]
    assert any(b.delete_horizon_ms == clock.now_ms() + DAY for b in log.batches())

    clock.advance(DAY - 1)
    log.compact(force=True)
    assert (2, b"a", None) in values(log)

    # The horizon lives in the batch, so it survives a restart.
    log.close()
    log = PartitionLog(tmp_path / "orders-0", log.config, clock)
    clock.advance(1)
    events: list[object] = []
    log._on_event = events.append
    assert log.compact(force=True)
    assert values(log) == [(1, b"b", b"2"), (3, b"c", b"3")]
    compacted = [e for e in events if isinstance(e, LogCompacted)]
    assert compacted[0].tombstones_removed == 1
    log.close()


def test_dirty_ratio_decides_when_the_cleaner_runs(make_log: MakeLog) -> None:
    log = make_log(cleanup_policy="compact", segment_bytes=200, min_cleanable_dirty_ratio=0.5)
    _produce(log, [(b"k%d" % (i % 3), b"x" * 20) for i in range(12)], per_batch=1)
    log.roll()
    assert log.compact()  # everything is dirty: ratio 1.0
    _produce(log, [(b"k0", b"y" * 20)], per_batch=1)
    log.roll()
    assert not log.compact()  # one small dirty segment against the cleaned ones
    assert log.compact(force=True)


def test_housekeeping_compacts_and_survives_restart(make_log: MakeLog, tmp_path: Path) -> None:
    log = make_log(cleanup_policy="compact", segment_bytes=300, min_cleanable_dirty_ratio=0.1)
    _produce(log, [(b"k%d" % (i % 4), b"v%d" % i) for i in range(40)])
    log.roll()
    log.housekeeping()
    expected = values(log)
    assert len(expected) == 4
    log.close()
    reopened = PartitionLog(tmp_path / "orders-0", log.config, ManualClock(START_MS))
    assert values(reopened) == expected
    assert reopened.cleaner_checkpoint == reopened.log_end_offset
    reopened.close()


rows_strategy = st.lists(
    st.tuples(
        st.sampled_from([b"a", b"b", b"c", b"d", b"e"]),
        st.none() | st.binary(min_size=1, max_size=8),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(
    rows=rows_strategy,
    more=rows_strategy,
    per_batch=st.integers(1, 5),
    segment_bytes=st.sampled_from([150, 400, 2000]),
)
def test_compaction_keeps_exactly_the_latest_record_per_key(
    rows: list[tuple[bytes, bytes | None]],
    more: list[tuple[bytes, bytes | None]],
    per_batch: int,
    segment_bytes: int,
) -> None:
    clock = ManualClock(START_MS)
    config = LogConfig.from_properties(
        {"cleanup.policy": "compact", "segment.bytes": segment_bytes, "delete.retention.ms": DAY}
    )
    with tempfile.TemporaryDirectory() as tmp:
        log = PartitionLog(Path(tmp) / "t-0", config, clock)
        _produce(log, rows, per_batch)
        log.roll()
        _produce(log, more, per_batch)  # the head: stays as written
        before = list(log.records())
        end = log.active_segment.base_offset
        log.compact(force=True)
        after = list(log.records())

        last_offset = {r.key: r.offset for r in before if r.offset < end}
        expected = [r for r in before if r.offset >= end or last_offset[r.key] == r.offset]
        assert after == expected  # same records, same offsets, same order
        assert _table(after) == _table(before)

        clock.advance(DAY)
        log.compact(force=True)
        gone = [r for r in expected if r.offset < end and r.value is None]
        assert list(log.records()) == [r for r in expected if r not in gone]
        assert _table(list(log.records())) == _table(before)
        log.close()
