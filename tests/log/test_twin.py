"""Columnar twins: each sealed segment's Parquet twin holds exactly its records, and follows the
segment through retention, compaction, truncation, crashes and reopening."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kstream_nb.clock import ManualClock
from kstream_nb.log import Compression, PartitionLog
from kstream_nb.log.columns import json_columns
from kstream_nb.log.twin import TwinInfo, twin_path, write_twin
from tests.log.conftest import MakeLog
from tests.log.util import START_MS, batch


def write_all(log: PartitionLog) -> list[TwinInfo]:
    """What the runtime's writer does, inline: take every job, write it, install it."""
    written = []
    for job in log.take_twin_jobs():
        try:
            info = write_twin(job, f"{job.base_offset:020d}.parquet.test.tmp")
        finally:
            job.close()
        assert log.install_twin(job, info)
        written.append(log.twins[job.base_offset])
    return written


def twin_rows(
    log: PartitionLog,
) -> list[tuple[int, int, bytes | None, bytes | None, list[tuple[str, bytes | None]]]]:
    rows = []
    for base in sorted(log.twins):
        table = pl.read_parquet(log.twins[base].path)
        for row in table.iter_rows(named=True):
            headers = [(h["key"], h["value"]) for h in row["headers"]]
            ts = round(row["timestamp"].timestamp() * 1000)
            rows.append((row["offset"], ts, row["key"], row["value"], headers))
    return rows


def sealed_rows(
    log: PartitionLog,
) -> list[tuple[int, int, bytes | None, bytes | None, list[tuple[str, bytes | None]]]]:
    end = log.active_segment.base_offset
    return [
        (r.offset, r.timestamp, r.key, r.value, list(r.headers))
        for r in log.records(log.log_start_offset, end)
    ]


def fill(log: PartitionLog, batches: int, per_batch: int = 10, **kw: object) -> None:
    for b in range(batches):
        rows = [
            (f"k{b}-{i}".encode(), json.dumps({"n": b * per_batch + i}).encode())
            for i in range(per_batch)
        ]
        log.append_as_leader(batch(rows, START_MS + b, **kw), leader_epoch=0)  # type: ignore[arg-type]
    log.update_high_watermark(log.log_end_offset)


def test_a_twin_holds_exactly_the_records_of_its_sealed_segment(make_log: MakeLog) -> None:
    log = make_log(segment_bytes=2000)
    fill(log, 30)
    written = write_all(log)
    assert len(written) == len(log.segments) - 1  # the active segment has none
    assert twin_rows(log) == sealed_rows(log)
    first = written[0]
    assert first.path == twin_path(log.directory, first.base_offset)
    assert (first.first_offset, first.records) == (0, first.last_offset + 1)
    assert log.take_twin_jobs() == []  # nothing is written twice


def test_json_values_get_typed_columns_and_other_values_do_not(make_log: MakeLog) -> None:
    log = make_log(segment_bytes=2000)
    fill(log, 20)
    info = write_all(log)[0]
    assert info.json_schema.names == ["value.n", "value_error"]
    assert pl.read_parquet(info.path)["value.n"].to_list()[:3] == [0, 1, 2]

    text = make_log("text-0", segment_bytes=1000)
    for i in range(30):
        text.append_as_leader(batch([(None, f"line {i}".encode())]), leader_epoch=0)
    assert all(len(t.json_schema) == 0 for t in write_all(text))


def test_a_topic_declared_json_reports_invalid_values_in_an_error_column(make_log: MakeLog) -> None:
    log = make_log(segment_bytes=200, kstream_value_format="json")
    log.append_as_leader(
        batch([(b"a", b'{"x": 1}'), (b"b", b"not json"), (b"c", None), (b"d", b"[1]")]),
        leader_epoch=0,
    )
    log.roll()
    frame = pl.read_parquet(write_all(log)[0].path)
    assert frame["value.x"].to_list() == [1, None, None, None]
    errors = frame["value_error"].to_list()
    assert errors[0] is None
    assert errors[2] is None  # a tombstone is not an error
    assert errors[1].startswith("invalid JSON")
    assert errors[3] == "value is JSON but not an object"


def test_raw_format_writes_no_typed_columns(make_log: MakeLog) -> None:
    log = make_log(segment_bytes=2000, kstream_value_format="raw")
    fill(log, 20)
    assert all(len(t.json_schema) == 0 for t in write_all(log))


def test_retention_deletes_the_twin_with_its_segment(make_log: MakeLog, clock: ManualClock) -> None:
    log = make_log(segment_bytes=2000, retention_ms=1000)
    fill(log, 30)
    written = write_all(log)
    clock.advance(10_000)
    assert log.delete_old_segments() > 0
    assert not any(t.path.exists() for t in written)
    assert log.twins == {}


def test_compaction_rewrites_twins(make_log: MakeLog, clock: ManualClock) -> None:
    log = make_log(segment_bytes=1000, cleanup_policy="compact")
    for round_ in range(3):
        for i in range(20):
            log.append_as_leader(
                batch([(f"k{i}".encode(), f"v{round_}".encode())], START_MS), leader_epoch=0
            )
    log.update_high_watermark(log.log_end_offset)
    write_all(log)
    before = {b: t.records for b, t in log.twins.items()}
    assert log.compact(force=True)
    assert set(log.twins) <= set(before)  # stale twins are gone ...
    write_all(log)  # ... and the cleaned segments get new ones
    assert twin_rows(log) == sealed_rows(log)


def test_a_twin_for_a_segment_deleted_meanwhile_is_never_installed(
    make_log: MakeLog, clock: ManualClock
) -> None:
    log = make_log(segment_bytes=2000, retention_ms=1000)
    fill(log, 30)
    jobs = log.take_twin_jobs()
    clock.advance(10_000)
    log.delete_old_segments()  # retention runs while the writer works
    for job in jobs:
        info = write_twin(job, "stale.parquet.tmp")  # the descriptor still reads the bytes
        job.close()
        assert not log.install_twin(job, info)
        assert not info.path.exists()
    assert log.twins == {}


def test_a_failed_job_is_not_retried_for_the_same_segment(make_log: MakeLog) -> None:
    log = make_log(segment_bytes=2000)
    fill(log, 30)
    jobs = log.take_twin_jobs()
    for job in jobs:
        job.close()
        assert not log.install_twin(job, None)
    assert log.take_twin_jobs() == []


def test_reopening_keeps_valid_twins_and_removes_leftovers(
    tmp_path: Path, clock: ManualClock
) -> None:
    from kstream_nb.log import LogConfig

    config = LogConfig.from_properties({"segment.bytes": 2000})
    log = PartitionLog(tmp_path / "orders-0", config, clock)
    fill(log, 30)
    written = write_all(log)
    (log.directory / "00000000000000000000.parquet.7.tmp").write_bytes(b"half written")
    garbage = twin_path(log.directory, 12345)
    garbage.write_bytes(b"PAR1 nothing")
    log.crash()
    reopened = PartitionLog(tmp_path / "orders-0", config, clock)
    try:
        assert set(reopened.twins) == {t.base_offset for t in written}
        assert not garbage.exists()
        assert not list(reopened.directory.glob("*.tmp"))
        assert twin_rows(reopened) == sealed_rows(reopened)
    finally:
        reopened.close()


def test_truncation_into_a_sealed_segment_drops_its_twin(make_log: MakeLog) -> None:
    log = make_log(segment_bytes=2000)
    fill(log, 30)
    write_all(log)
    last_sealed = max(log.twins)
    log.truncate_to(last_sealed + 3)
    assert last_sealed not in log.twins
    assert all(t.path.exists() for t in log.twins.values())


records = st.lists(
    st.tuples(
        st.one_of(st.none(), st.binary(max_size=20)),
        st.one_of(st.none(), st.binary(max_size=60)),
        st.lists(
            st.tuples(st.text(max_size=5), st.one_of(st.none(), st.binary(max_size=5))), max_size=2
        ),
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=st.lists(records, min_size=1, max_size=12),
    compression=st.sampled_from(
        [Compression.NONE, Compression.GZIP, Compression.ZSTD, Compression.LZ4]
    ),
)
def test_twins_equal_the_decoded_log_for_any_records(
    tmp_path_factory: pytest.TempPathFactory, batches: list, compression: Compression
) -> None:
    from kstream_nb.log import BatchBuilder, LogConfig

    clock = ManualClock(START_MS)
    log = PartitionLog(
        tmp_path_factory.mktemp("p") / "t-0",
        LogConfig.from_properties({"segment.bytes": 300}),
        clock,
    )
    try:
        for i, rows in enumerate(batches):
            builder = BatchBuilder(compression)
            for key, value, headers in rows:
                builder.append(key, value, START_MS + i, headers)
            log.append_as_leader(builder.build(), leader_epoch=2)
        log.roll()
        write_all(log)
        assert twin_rows(log) == sealed_rows(log)
        for info in log.twins.values():
            epochs = pl.read_parquet(info.path)["leader_epoch"].unique().to_list()
            assert epochs == [2]
    finally:
        log.close()


json_like = st.sampled_from(
    [b"1", b'"s"', b"[1]", b"null", b"{}", b'{"a": {"b": 1}}', b'{"a": "x"}', b"{\n}", b"\xff"]
)
field_values = st.one_of(
    st.integers(-5, 5),
    st.text(max_size=3),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.just("b"), st.integers(0, 3), max_size=1),
    st.booleans(),
)
objects = st.dictionaries(st.sampled_from("abc"), field_values).map(
    lambda d: json.dumps(d).encode()
)


@given(st.lists(st.one_of(st.none(), st.binary(max_size=30), json_like, objects), max_size=30))
def test_json_columns_never_fail_and_flag_every_bad_value(values: list[bytes | None]) -> None:
    frame = json_columns(pa.array(values, pa.binary()), strict=True)
    assert frame is not None
    assert frame.height == len(values)
    errors = frame["value_error"].to_list()
    for value, error in zip(values, errors, strict=True):
        if value is None:
            assert error is None
            continue
        try:
            ok = isinstance(json.loads(value), dict)
        except (ValueError, UnicodeDecodeError):
            ok = False
        assert (error is None) == ok, (value, error)
    for i, value in enumerate(values):  # no field of a good object is lost, whatever its type
        parsed = json.loads(value) if value is not None and frame["value_error"][i] is None else {}
        for key, field in parsed.items():
            if field is not None:
                assert frame[f"value.{key}"][i] is not None, (values, key)
