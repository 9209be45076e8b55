"""Record batches: the v2 format round-trips through every codec, and broker edits keep it valid."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kstream_nb.log import (
    BatchBuilder,
    Compression,
    Record,
    RecordBatch,
    TimestampType,
    build_batch,
)
from kstream_nb.log.batch import stamp_batch

rows = st.lists(
    st.tuples(
        st.none() | st.binary(max_size=16),
        st.none() | st.binary(max_size=300),
        st.integers(0, 2**41),
        st.lists(st.tuples(st.text(max_size=8), st.none() | st.binary(max_size=8)), max_size=3),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(rows=rows, codec=st.sampled_from(list(Compression)), base=st.integers(0, 2**62))
def test_batches_round_trip_through_every_codec(
    rows: list[tuple[bytes | None, bytes | None, int, list[tuple[str, bytes | None]]]],
    codec: Compression,
    base: int,
) -> None:
    builder = BatchBuilder(codec, producer_id=9, producer_epoch=1, base_sequence=5)
    for key, value, ts, headers in rows:
        assert builder.append(key, value, ts, headers)
    data = builder.build(base_offset=base, partition_leader_epoch=3)
    batch = RecordBatch(data)
    batch.validate()
    assert (batch.base_offset, batch.last_offset) == (base, base + len(rows) - 1)
    assert batch.partition_leader_epoch == 3
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (9, 1, 5)
    assert batch.max_timestamp == max(ts for _, _, ts, _ in rows)
    expected = [Record(base + i, ts, k, v, tuple(h)) for i, (k, v, ts, h) in enumerate(rows)]
    assert list(batch.records()) == expected
    # Re-encoding decoded records with their offsets gives the same records.
    again = RecordBatch(build_batch(expected, base_offset=base, compression=codec))
    assert list(again.records()) == expected


def test_assigning_offsets_and_epochs_keeps_the_crc_valid() -> None:
    builder = BatchBuilder()
    builder.append(b"k", b"v", 1000)
    buf = bytearray(builder.build())
    stamp_batch(buf, 0, base_offset=12345, partition_leader_epoch=4)
    batch = RecordBatch(bytes(buf))
    batch.validate()
    assert (batch.base_offset, batch.partition_leader_epoch) == (12345, 4)


def test_log_append_time_sets_the_flag_and_every_record_time() -> None:
    builder = BatchBuilder()
    builder.append(b"k", b"v", 1000)
    builder.append(b"k", b"w", 2000)
    buf = bytearray(builder.build())
    stamp_batch(buf, 0, base_offset=0, log_append_time=99_000)
    batch = RecordBatch(bytes(buf))
    batch.validate()
    assert batch.timestamp_type is TimestampType.LOG_APPEND_TIME
    assert [r.timestamp for r in batch.records()] == [99_000, 99_000]


def test_delete_horizon_is_stored_as_base_timestamp_with_record_times_intact() -> None:
    records = [Record(10, 5_000, b"a", None), Record(12, 7_000, b"b", b"x")]
    batch = RecordBatch(
        build_batch(records, base_offset=10, delete_horizon_ms=90_000, last_offset_delta=4)
    )
    batch.validate()
    assert batch.delete_horizon_ms == 90_000
    assert batch.last_offset == 14  # the original batch's last offset is kept
    assert list(batch.records()) == records


def test_builder_refuses_an_empty_batch_and_honours_max_bytes() -> None:
    with pytest.raises(ValueError, match="empty"):
        BatchBuilder().build()
    builder = BatchBuilder(max_bytes=200)
    assert builder.append(b"k", bytes(150), 0)
    assert not builder.append(b"k", bytes(150), 0)
    assert len(builder) == 1


@pytest.mark.parametrize("codec", list(Compression))
def test_records_added_through_the_encoder_are_built_with_their_times(codec: Compression) -> None:
    import time

    builder = BatchBuilder(codec, producer_id=3, producer_epoch=0, base_sequence=7)
    encode = builder.encoder
    before = time.time_ns() // 1_000_000
    encode(0, 1_000, b"k", b"v", [])
    encode(1, None, None, b"w", [("h", b"1")])  # None: the encoder stamps the wall clock
    after = time.time_ns() // 1_000_000
    batch = RecordBatch(builder.build(base_offset=40))
    batch.validate()
    first, second = batch.records()
    assert (first.offset, first.timestamp, first.key, first.value) == (40, 1_000, b"k", b"v")
    assert (second.offset, second.key, second.value) == (41, None, b"w")
    assert second.headers == (("h", b"1"),)
    assert before <= second.timestamp <= after
    assert (batch.producer_id, batch.base_sequence, batch.record_count) == (3, 7, 2)


def test_unknown_codec_names_are_refused() -> None:
    with pytest.raises(Exception, match="unknown compression"):
        Compression.from_name("brotli")
    assert Compression.from_name("uncompressed") is Compression.NONE
