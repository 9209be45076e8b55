"""The files a PartitionLog writes are Kafka segments, as read by decoders that are not ours.

`.log` files are decoded with kafka-python's record reader (`kafka.record`), which shares no code
with the aiokafka codec the log uses; `.index` and `.timeindex` are decoded with `struct` from the
layout in Kafka's docs and `LogSegment.java`.
"""

from __future__ import annotations

import itertools
import random
import re
import struct
import types
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cramjam
import pytest

from kstream_nb.clock import ManualClock
from kstream_nb.log import AppendInfo, BatchBuilder, Compression, PartitionLog
from tests.log.conftest import OpenLog

with warnings.catch_warnings():
    # kafka-python 3.0's package import calls the deprecated importlib.resources.read_text.
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka.codec
    import kafka.record.default_records
    from kafka.record import MemoryRecords
    from kafka.record.default_records import DefaultRecordBatch

START_MS = 1_700_000_000_000
INDEX_INTERVAL = 256
SEGMENT_BYTES = 8 * 1024
LEADER_EPOCH = 7

OffsetIndexEntry = tuple[int, int]  # (relative offset, position)
TimeIndexEntry = tuple[int, int]  # (timestamp, relative offset)


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def kafka_python_codecs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let kafka-python decompress snappy, lz4 and zstd.

    kafka-python looks for python-snappy, lz4 and zstandard, which the project does not install;
    hand it the raw codecs from cramjam (a dependency). Its own framing logic (xerial snappy
    detection, record parsing, CRC) stays in use.
    """
    monkeypatch.setattr(
        kafka.codec,
        "snappy",
        types.SimpleNamespace(decompress=lambda raw: bytes(cramjam.snappy.decompress_raw(raw))),
    )
    monkeypatch.setattr(kafka.codec, "lz4", object())  # has_lz4() only checks for a module
    monkeypatch.setattr(kafka.codec, "zstd", object())  # has_zstd() likewise
    monkeypatch.setattr(
        kafka.record.default_records,
        "lz4_decode",
        lambda raw: bytes(cramjam.lz4.decompress(bytes(raw))),
    )
    monkeypatch.setattr(
        kafka.record.default_records,
        "zstd_decode",
        lambda raw: bytes(cramjam.zstd.decompress(bytes(raw))),
    )


# -- what the producer sent ---------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """One record as a producer handed it to the log."""

    key: bytes | None
    value: bytes | None
    timestamp: int
    headers: tuple[tuple[str, bytes | None], ...]


@dataclass(frozen=True)
class ProducerBatch:
    compression: Compression
    records: tuple[Sent, ...]

    def encode(self) -> bytes:
        builder = BatchBuilder(self.compression)
        for r in self.records:
            builder.append(r.key, r.value, r.timestamp, r.headers)
        return builder.build()


HEADER_SETS: tuple[tuple[tuple[str, bytes | None], ...], ...] = (
    (),
    (("trace-id", b"4bf92f3577b34da6"),),
    (("empty", b""), ("null", None), ("ünïcode", "wärme".encode())),
)


def producer_batches(count: int = 40, seed: int = 2024) -> list[ProducerBatch]:
    """Batches of 1..30 records in every codec: keyless records, tombstones, headers, and
    timestamps that jitter inside a batch and sometimes arrive late (older than the last batch)."""
    rng = random.Random(seed)
    codecs = list(Compression)
    out = []
    for n in range(count):
        late = 30_000 if n % 7 == 3 else 0
        base_ts = START_MS + n * 1_000 - late
        records = []
        for i in range((1, 2, 5, 13, 30)[n % 5]):
            size = rng.choice((0, 10, 100, 300))
            value = None if (n + 2 * i) % 11 == 0 else rng.randbytes(size // 2) + b"x" * (size // 2)
            records.append(
                Sent(
                    key=None if (n + i) % 3 == 0 else f"order-{n}-{i}".encode(),
                    value=value,
                    timestamp=base_ts + rng.randrange(-500, 500),
                    headers=HEADER_SETS[(n + i) % len(HEADER_SETS)],
                )
            )
        out.append(ProducerBatch(codecs[n % len(codecs)], tuple(records)))
    return out


# -- reading the files independently ------------------------------------------------------------


@dataclass(frozen=True)
class FileBatch:
    """A batch as kafka-python decoded it from a `.log` file, with where it sits in the file."""

    position: int
    size: int
    magic: int
    crc_valid: bool
    base_offset: int
    last_offset: int
    leader_epoch: int
    compression: int
    timestamp_type: int
    max_timestamp: int
    records: tuple[tuple[int, int, int, bytes | None, bytes | None, tuple[Any, ...]], ...]


def decode_log_file(path: Path) -> list[FileBatch]:
    """Every batch in a `.log` file, decoded by kafka-python; the batches fill the file exactly."""
    data = path.read_bytes()
    out: list[FileBatch] = []
    position = 0
    for batch in MemoryRecords(data):
        assert isinstance(batch, DefaultRecordBatch), f"{path.name}: not a v2 batch at {position}"
        crc_valid = batch.validate_crc()  # must run before the records are iterated
        records = tuple(
            (r.offset, r.timestamp, r.timestamp_type, r.key, r.value, tuple(r.headers))
            for r in batch
        )
        out.append(
            FileBatch(
                position=position,
                size=batch.size_in_bytes,
                magic=batch.magic,
                crc_valid=crc_valid,
                base_offset=batch.base_offset,
                last_offset=batch.last_offset,
                leader_epoch=batch.leader_epoch,
                compression=batch.compression_type,
                timestamp_type=batch.timestamp_type,
                max_timestamp=batch.max_timestamp,
                records=records,
            )
        )
        position += batch.size_in_bytes
    assert position == len(data), f"{path.name}: {len(data) - position} bytes after the last batch"
    return out


def decode_offset_index(path: Path) -> list[OffsetIndexEntry]:
    raw = path.read_bytes()
    assert len(raw) % 8 == 0, f"{path.name} is {len(raw)} bytes, not a whole number of entries"
    return list(struct.iter_unpack(">ii", raw))


def decode_time_index(path: Path) -> list[TimeIndexEntry]:
    raw = path.read_bytes()
    assert len(raw) % 12 == 0, f"{path.name} is {len(raw)} bytes, not a whole number of entries"
    return list(struct.iter_unpack(">qi", raw))


def segment_bases(directory: Path) -> list[int]:
    return sorted(int(p.stem) for p in directory.glob("*.log"))


def log_file(directory: Path, base: int, kind: str) -> Path:
    return directory / f"{base:020d}.{kind}"


def all_file_batches(directory: Path) -> list[FileBatch]:
    """Every batch of every segment, oldest first."""
    return [
        b
        for base in segment_bases(directory)
        for b in decode_log_file(log_file(directory, base, "log"))
    ]


def append_all(log: PartitionLog, batches: Sequence[ProducerBatch]) -> list[AppendInfo]:
    return [log.append_as_leader(b.encode(), leader_epoch=LEADER_EPOCH) for b in batches]


def written_workload(open_log: OpenLog) -> tuple[Path, list[ProducerBatch]]:
    """A closed log holding `producer_batches()`, in small segments with dense indexes."""
    log = open_log({"index.interval.bytes": INDEX_INTERVAL, "segment.bytes": SEGMENT_BYTES})
    batches = producer_batches()
    append_all(log, batches)
    log.close()
    return log.directory, batches


# -- .log files -------------------------------------------------------------------------------


def test_kafka_python_reads_back_every_record_with_offsets_the_log_assigned(
    open_log: OpenLog,
) -> None:
    log = open_log({"index.interval.bytes": INDEX_INTERVAL, "segment.bytes": SEGMENT_BYTES})
    batches = producer_batches()
    infos = append_all(log, batches)
    log.close()

    file_batches = all_file_batches(log.directory)

    assert len(file_batches) == len(batches)
    next_offset = 0
    for sent, info, stored in zip(batches, infos, file_batches, strict=True):
        assert stored.magic == 2
        assert stored.crc_valid, f"batch at offset {stored.base_offset} fails its CRC-32C"
        assert stored.compression == sent.compression
        assert stored.leader_epoch == LEADER_EPOCH
        assert stored.timestamp_type == 0  # CreateTime
        assert (stored.base_offset, stored.last_offset) == (info.first_offset, info.last_offset)
        assert stored.base_offset == next_offset
        assert stored.max_timestamp == max(r.timestamp for r in sent.records)
        expected = tuple(
            (next_offset + i, r.timestamp, 0, r.key, r.value, r.headers)
            for i, r in enumerate(sent.records)
        )
        assert stored.records == expected
        next_offset += len(sent.records)
    assert next_offset == log.log_end_offset


def test_segment_files_are_named_by_base_offset_in_20_digits(open_log: OpenLog) -> None:
    directory, _ = written_workload(open_log)

    names = [p.name for p in directory.iterdir() if p.suffix in (".log", ".index", ".timeindex")]
    for name in names:
        assert re.fullmatch(r"\d{20}\.(log|index|timeindex)", name), name
    bases = segment_bases(directory)
    assert len(bases) >= 3, "the workload should roll several segments"
    assert sorted(names) == sorted(
        f"{base:020d}.{kind}" for base in bases for kind in ("log", "index", "timeindex")
    )
    expected_base = 0
    for base in bases:
        stored = decode_log_file(log_file(directory, base, "log"))
        assert base == expected_base, "each segment starts where the one before it ended"
        assert stored[0].base_offset == base
        expected_base = stored[-1].last_offset + 1


def test_fetched_bytes_are_whole_batches_kafka_python_can_read(open_log: OpenLog) -> None:
    log = open_log({"index.interval.bytes": INDEX_INTERVAL, "segment.bytes": SEGMENT_BYTES})
    append_all(log, producer_batches(count=15))

    for offset in range(log.log_end_offset):
        fetched = log.read(offset, max_bytes=1024)
        batches = list(MemoryRecords(fetched))
        assert sum(b.size_in_bytes for b in batches) == len(fetched)
        assert batches[0].base_offset <= offset <= batches[0].last_offset
        for batch in batches:
            assert batch.validate_crc()
            assert [r.offset for r in batch] == list(
                range(batch.base_offset, batch.last_offset + 1)
            )


@pytest.mark.parametrize("topic_codec", ["uncompressed", "gzip", "snappy", "lz4", "zstd"])
def test_topic_compression_type_rewrites_batches_kafka_python_can_read(
    open_log: OpenLog, topic_codec: str
) -> None:
    log = open_log({"compression.type": topic_codec})
    batches = producer_batches(count=10)
    append_all(log, batches)
    log.close()

    stored = all_file_batches(log.directory)

    want_codec = 0 if topic_codec == "uncompressed" else Compression.from_name(topic_codec)
    assert all(b.crc_valid and b.magic == 2 for b in stored)
    assert {b.compression for b in stored} == {want_codec}
    got = [(key, value, ts, headers) for b in stored for _, ts, _, key, value, headers in b.records]
    sent = [(r.key, r.value, r.timestamp, r.headers) for b in batches for r in b.records]
    assert got == sent
    offsets = [offset for b in stored for offset, *_ in b.records]
    assert offsets == list(range(len(sent)))


# -- .index and .timeindex ----------------------------------------------------------------------


def test_offset_index_entries_point_at_batches_by_their_last_offset(open_log: OpenLog) -> None:
    directory, _ = written_workload(open_log)

    total_entries = 0
    for base in segment_bases(directory):
        stored = decode_log_file(log_file(directory, base, "log"))
        entries = decode_offset_index(log_file(directory, base, "index"))
        by_position = {b.position: b for b in stored}
        total_entries += len(entries)

        relative_offsets = [rel for rel, _ in entries]
        positions = [pos for _, pos in entries]
        assert relative_offsets == sorted(set(relative_offsets)), "offsets strictly increase"
        assert positions == sorted(set(positions)), "positions strictly increase"
        for rel, pos in entries:
            assert pos in by_position, f"segment {base}: index position {pos} is not a batch start"
            assert by_position[pos].last_offset == base + rel

        # Sparse: one entry per index.interval.bytes of log, no closer and not much further.
        largest_batch = max(b.size for b in stored)
        anchors = [0, *positions]
        assert all(b - a > INDEX_INTERVAL for a, b in itertools.pairwise(anchors))
        for batch in stored:
            last_anchor = max(a for a in anchors if a <= batch.position)
            assert batch.position - last_anchor <= INDEX_INTERVAL + largest_batch
    assert total_entries >= 20, "a small index.interval.bytes should give many entries"


def test_time_index_maps_the_largest_timestamp_so_far_to_its_batch(open_log: OpenLog) -> None:
    directory, _ = written_workload(open_log)

    total_entries = 0
    for base in segment_bases(directory):
        stored = decode_log_file(log_file(directory, base, "log"))
        entries = decode_time_index(log_file(directory, base, "timeindex"))
        by_last_offset = {b.last_offset: b for b in stored}
        total_entries += len(entries)

        timestamps = [ts for ts, _ in entries]
        assert timestamps == sorted(set(timestamps)), "timestamps strictly increase"
        relative_offsets = [rel for _, rel in entries]
        assert relative_offsets == sorted(relative_offsets), "offsets never go back"
        for ts, rel in entries:
            offset = base + rel
            # Kafka 3.x indexes the last offset of the batch that holds the max timestamp.
            assert offset in by_last_offset, f"segment {base}: {offset} is not a batch's last"
            holder = by_last_offset[offset]
            assert ts in {record_ts for _, record_ts, *_ in holder.records}
            so_far = [
                record_ts
                for b in stored
                if b.last_offset <= offset
                for _, record_ts, *_ in b.records
            ]
            assert ts == max(so_far), "an entry holds the largest timestamp so far"
    assert total_entries >= 10


def test_closed_segments_time_index_ends_with_their_largest_timestamp(
    open_log: OpenLog,
) -> None:
    """Kafka's LogSegment.close() and onBecomeInactiveSegment() append (maxTimestampSoFar,
    offsetOfMaxTimestampSoFar) to the time index; a broker that opens the segment reads its
    largest timestamp, which drives retention.ms, from that last entry."""
    log = open_log()  # index.interval.bytes=4096: these small batches get no sparse entries
    for delta_ms in (1_000, 3_000, 2_000):
        log.append_as_leader(ProducerBatch(Compression.NONE, (sent_at(delta_ms),)).encode())
    log.roll()
    for delta_ms in (5_000, 4_000):
        log.append_as_leader(ProducerBatch(Compression.NONE, (sent_at(delta_ms),)).encode())
    log.close()

    last_entries = {
        base: decode_time_index(log_file(log.directory, base, "timeindex"))[-1:]
        for base in segment_bases(log.directory)
    }

    # Segment 0 holds offsets 0-2, its largest timestamp at offset 1; segment 3 holds 3-4.
    assert last_entries == {0: [(START_MS + 3_000, 1)], 3: [(START_MS + 5_000, 0)]}


def sent_at(delta_ms: int) -> Sent:
    return Sent(b"key", b"value", START_MS + delta_ms, ())


# -- LogAppendTime ------------------------------------------------------------------------------


def test_log_append_time_topic_gives_every_record_the_broker_time(
    open_log: OpenLog, manual_clock: ManualClock
) -> None:
    log = open_log({"message.timestamp.type": "LogAppendTime", "index.interval.bytes": 256})
    batches = producer_batches(count=10)  # CreateTime stamps from the producer, ignored here
    append_times = []
    for batch in batches:
        manual_clock.advance("1500ms")
        info = log.append_as_leader(batch.encode())
        assert info.log_append_time == manual_clock.now_ms()
        append_times.append(manual_clock.now_ms())
    log.close()

    stored = all_file_batches(log.directory)

    assert len(stored) == len(batches)
    for sent, broker_time, batch in zip(batches, append_times, stored, strict=True):
        assert batch.crc_valid, "stamping LogAppendTime must recompute the CRC"
        assert batch.timestamp_type == 1
        assert batch.max_timestamp == broker_time
        assert [(ts, ts_type) for _, ts, ts_type, *_ in batch.records] == [(broker_time, 1)] * len(
            sent.records
        )
        assert [(key, value) for _, _, _, key, value, _ in batch.records] == [
            (r.key, r.value) for r in sent.records
        ]
