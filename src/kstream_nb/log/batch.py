"""Kafka record batches (magic v2): a view over their bytes, a builder, and in-place edits.

Encoding and decoding of the records inside a batch use aiokafka's compiled codec
(`aiokafka.record`); this module reads and edits the 61-byte batch header itself, because the log
needs those fields without decoding records. Layout (all big-endian)::

    0 baseOffset int64 | 8 length int32 | 12 partitionLeaderEpoch int32 | 16 magic int8
    17 crc uint32 | 21 attributes int16 | 23 lastOffsetDelta int32 | 27 baseTimestamp int64
    35 maxTimestamp int64 | 43 producerId int64 | 51 producerEpoch int16 | 53 baseSequence int32
    57 recordCount int32 | 61 records...

The CRC-32C covers bytes 21.. to the end; baseOffset, length and the leader epoch are outside it,
so the log assigns offsets and epochs by overwriting them without recomputing the checksum.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from enum import IntEnum
from typing import Any, cast

import msgspec
from aiokafka.record.default_records import (
    DefaultRecordBatch as _AioBatch,
)
from aiokafka.record.default_records import (
    DefaultRecordBatchBuilder as _AioBuilder,
)
from aiokafka.record.default_records import (
    _DefaultRecordBatchBuilderPy as _AioBuilderPy,
)
from crc32c import crc32c

from kstream_nb.log.errors import (
    CorruptRecordError,
    InvalidRecordError,
    UnsupportedCompressionError,
)

__all__ = [
    "HEADER_SIZE",
    "LOG_OVERHEAD",
    "MAGIC",
    "BatchBuilder",
    "Compression",
    "Header",
    "Record",
    "RecordBatch",
    "TimestampType",
    "build_batch",
    "decode_records",
    "iter_batches",
]

HEADER = struct.Struct(">qiibIhiqqqhii")
HEADER_SIZE = HEADER.size  # 61
LOG_OVERHEAD = 12  # baseOffset + length: the bytes before `length` starts counting
MAGIC = 2
NO_PRODUCER_ID = -1
NO_PARTITION_LEADER_EPOCH = -1

_OFFSET_LENGTH = struct.Struct(">qi")
_INT32 = struct.Struct(">i")
_INT64 = struct.Struct(">q")
_UINT32 = struct.Struct(">I")
_INT16 = struct.Struct(">h")
_EPOCH_AT = 12
_CRC_AT = 17
_ATTRIBUTES_AT = 21
_LAST_OFFSET_DELTA_AT = 23
_MAX_TIMESTAMP_AT = 35

_COMPRESSION_MASK = 0x07
_TIMESTAMP_TYPE_FLAG = 0x08
_TRANSACTIONAL_FLAG = 0x10
_CONTROL_FLAG = 0x20
_DELETE_HORIZON_FLAG = 0x40  # KIP-534: baseTimestamp holds the tombstones' delete horizon

Header = tuple[str, bytes | None]
_NO_HEADERS: list[Header] = []  # aiokafka only reads the headers list; one shared empty list


class Compression(IntEnum):
    """The compression codec in a batch's attributes (bits 0-2)."""

    NONE = 0
    GZIP = 1
    SNAPPY = 2
    LZ4 = 3
    ZSTD = 4

    @classmethod
    def from_name(cls, name: str) -> Compression:
        """The codec for a `compression.type` value: none/uncompressed, gzip, snappy, lz4, zstd."""
        key = name.strip().lower()
        if key in ("none", "uncompressed"):
            return cls.NONE
        try:
            return cls[key.upper()]
        except KeyError:
            raise UnsupportedCompressionError(
                f"unknown compression {name!r}; use none, gzip, snappy, lz4 or zstd"
            ) from None


class TimestampType(IntEnum):
    """Whether record timestamps are the producer's (CreateTime) or the broker's (LogAppendTime)."""

    CREATE_TIME = 0
    LOG_APPEND_TIME = 1


class Record(msgspec.Struct, frozen=True, gc=False):
    """One record as a consumer sees it."""

    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = ()


class RecordBatch:
    """A read-only view of one v2 record batch held in `data` (exactly the batch's bytes)."""

    __slots__ = (
        "attributes",
        "base_offset",
        "base_sequence",
        "base_timestamp",
        "crc",
        "data",
        "last_offset_delta",
        "max_timestamp",
        "partition_leader_epoch",
        "producer_epoch",
        "producer_id",
        "record_count",
    )
    attributes: int
    base_offset: int
    base_sequence: int
    base_timestamp: int
    crc: int
    data: bytes
    last_offset_delta: int
    max_timestamp: int
    partition_leader_epoch: int
    producer_epoch: int
    producer_id: int
    record_count: int

    def __init__(self, data: bytes) -> None:
        if len(data) < HEADER_SIZE:
            raise CorruptRecordError(
                f"a record batch needs at least {HEADER_SIZE} bytes, got {len(data)}"
            )
        (
            self.base_offset,
            length,
            self.partition_leader_epoch,
            magic,
            self.crc,
            self.attributes,
            self.last_offset_delta,
            self.base_timestamp,
            self.max_timestamp,
            self.producer_id,
            self.producer_epoch,
            self.base_sequence,
            self.record_count,
        ) = HEADER.unpack_from(data)
        if magic != MAGIC:
            raise CorruptRecordError(
                f"record batch at offset {self.base_offset} has magic {magic}; this log stores "
                "only magic v2 batches (Kafka 0.11+ clients write them)"
            )
        if length + LOG_OVERHEAD != len(data):
            raise CorruptRecordError(
                f"record batch at offset {self.base_offset} says it is {length + LOG_OVERHEAD} "
                f"bytes but {len(data)} were given"
            )
        self.data = data

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1

    @property
    def compression(self) -> Compression:
        return Compression(self.attributes & _COMPRESSION_MASK)

    @property
    def timestamp_type(self) -> TimestampType:
        return TimestampType(1 if self.attributes & _TIMESTAMP_TYPE_FLAG else 0)

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & _TRANSACTIONAL_FLAG)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & _CONTROL_FLAG)

    @property
    def delete_horizon_ms(self) -> int | None:
        """When the cleaner may drop this batch's tombstones (KIP-534), if it has decided."""
        return self.base_timestamp if self.attributes & _DELETE_HORIZON_FLAG else None

    def crc_ok(self) -> bool:
        # Hardware CRC runs at GB/s: holding the GIL is cheaper than waiting to get it back.
        return int(crc32c(memoryview(self.data)[_ATTRIBUTES_AT:], gil_release_mode=0)) == self.crc

    def validate(self) -> None:
        """Raise CORRUPT_MESSAGE unless the checksum and codec are sound."""
        if not self.crc_ok():
            raise CorruptRecordError(
                f"record batch at offset {self.base_offset} fails its CRC-32C check; "
                "the bytes were damaged after the producer wrote them"
            )
        if self.attributes & _COMPRESSION_MASK > Compression.ZSTD:
            raise UnsupportedCompressionError(
                f"record batch at offset {self.base_offset} uses unknown compression codec "
                f"{self.attributes & _COMPRESSION_MASK}"
            )
        if self.record_count < 0 or self.last_offset_delta < 0:
            raise CorruptRecordError(
                f"record batch at offset {self.base_offset} has a negative record count or "
                "offset delta"
            )

    def check_records(self, *, require_keys: bool = False) -> int:
        """Decode every record to prove the batch well formed; returns the largest timestamp.

        Offsets must run base, base+1, ... as a producer numbers them; with `require_keys`
        (a compacted topic) every record needs a key. This is the produce path's hot loop, so
        it reads aiokafka's records directly instead of building `Record`s.
        """
        expected = self.base_offset
        max_timestamp = -1
        misnumbered = keyless = -1
        try:
            for rec in _AioBatch(self.data):
                if rec.timestamp > max_timestamp:
                    max_timestamp = rec.timestamp
                if rec.offset != expected and misnumbered < 0:
                    misnumbered = expected
                if require_keys and rec.key is None and keyless < 0:
                    keyless = expected
                expected += 1
        except Exception as exc:  # aiokafka raises its own and builtin errors on bad bytes
            raise CorruptRecordError(
                f"record batch at offset {self.base_offset} cannot be decoded: {exc}"
            ) from exc
        if misnumbered >= 0:
            raise InvalidRecordError(
                f"record {misnumbered - self.base_offset} of the batch at offset "
                f"{self.base_offset} has the wrong offset delta; a producer numbers its records "
                "0, 1, 2, ..."
            )
        if keyless >= 0:
            raise InvalidRecordError(
                "this topic is compacted (cleanup.policy=compact) and every record needs a key; "
                "set a key on each record"
            )
        count = expected - self.base_offset
        if count != self.record_count:
            raise CorruptRecordError(
                f"record batch at offset {self.base_offset} declares {self.record_count} records "
                f"but holds {count}"
            )
        return max_timestamp

    def decoded(self) -> Iterable[Any]:
        """aiokafka's decoder over this batch: iterating it yields aiokafka's own record
        objects (offset, timestamp, key, value, headers attributes), from compiled code alone,
        for consumers that build their own messages. Its errors are aiokafka's own: a batch's
        CRC is checked when it is appended to a log (and its records too, unless this
        process's own encoder built it), so the log's batches decode."""
        return cast(Iterable[Any], _AioBatch(self.data))

    def records(self) -> Iterator[Record]:
        """Decode the records (decompressing when needed) with their absolute offsets."""
        try:
            for rec in _AioBatch(self.data):
                headers = tuple(rec.headers) if rec.headers else ()
                yield Record(rec.offset, rec.timestamp, rec.key, rec.value, headers)
        except CorruptRecordError:
            raise
        except Exception as exc:  # aiokafka raises its own and builtin errors on bad bytes
            raise CorruptRecordError(
                f"record batch at offset {self.base_offset} cannot be decoded: {exc}"
            ) from exc

    def __repr__(self) -> str:
        return (
            f"RecordBatch(base_offset={self.base_offset}, last_offset={self.last_offset}, "
            f"records={self.record_count}, size={self.size}, "
            f"compression={self.compression.name.lower()}, "
            f"epoch={self.partition_leader_epoch})"
        )


def iter_batches(
    data: bytes | bytearray | memoryview, *, strict: bool = True
) -> Iterator[RecordBatch]:
    """The batches in a buffer of concatenated batches (a `.log` file or a fetch response).

    With `strict`, a trailing partial batch raises CORRUPT_MESSAGE; otherwise iteration stops
    before it, as a consumer does with a fetch cut at `max_bytes`.
    """
    view = memoryview(data)
    pos = 0
    end = len(view)
    while pos < end:
        if end - pos < LOG_OVERHEAD:
            if strict:
                raise CorruptRecordError(f"{end - pos} stray bytes after the last record batch")
            return
        length = _INT32.unpack_from(view, pos + 8)[0]
        if length < HEADER_SIZE - LOG_OVERHEAD:
            raise CorruptRecordError(f"record batch at byte {pos} declares length {length}")
        stop = pos + LOG_OVERHEAD + length
        if stop > end:
            if strict:
                raise CorruptRecordError(
                    f"record batch at byte {pos} is cut short: {end - pos} of "
                    f"{LOG_OVERHEAD + length} bytes"
                )
            return
        if pos == 0 and stop == end and isinstance(data, bytes):
            yield RecordBatch(data)  # the common produce request: one batch, no copy
        else:
            yield RecordBatch(bytes(view[pos:stop]))
        pos = stop


def decode_records(data: bytes | bytearray | memoryview) -> Iterator[Record]:
    """Every record in a buffer of whole batches, control batches skipped."""
    for batch in iter_batches(data):
        if not batch.is_control:
            yield from batch.records()


class BatchBuilder:
    """Accumulates records into one v2 batch with aiokafka's compiled encoder."""

    __slots__ = ("_append", "_builder", "_count")

    def __init__(
        self,
        compression: Compression | str = Compression.NONE,
        *,
        producer_id: int = NO_PRODUCER_ID,
        producer_epoch: int = -1,
        base_sequence: int = -1,
        transactional: bool = False,
        max_bytes: int = 2**31 - 1,
    ) -> None:
        codec = Compression.from_name(compression) if isinstance(compression, str) else compression
        self._builder: Any = _AioBuilder(
            MAGIC,
            int(codec),
            int(transactional),
            producer_id,
            producer_epoch,
            base_sequence,
            max_bytes,
        )
        self._append = self._builder.append
        self._count = 0

    def append(
        self,
        key: bytes | None,
        value: bytes | None,
        timestamp: int,
        headers: Iterable[Header] = (),
    ) -> bool:
        """Add a record; False when the batch is full (`max_bytes`) and the record was not added."""
        if (
            self._append(
                self._count, timestamp, key, value, list(headers) if headers else _NO_HEADERS
            )
            is None
        ):
            return False
        self._count += 1
        return True

    @property
    def encoder(
        self,
    ) -> Callable[[int, int | None, bytes | None, bytes | None, list[Header]], object]:
        """The compiled encoder's own append, for a caller that numbers its records itself (a
        producer's hot path, one C call a record): call it with (offset delta, timestamp in ms
        or None for now, key, value, headers list), deltas 0, 1, 2... in order. Records added
        this way are not counted by `len()`; `build()` sees them."""
        return cast(
            Callable[[int, int | None, bytes | None, bytes | None, list[Header]], object],
            self._append,
        )

    def extend(self, rows: Iterable[tuple[bytes | None, bytes | None, int]]) -> int:
        """Add (key, value, timestamp) rows without headers until the batch is full.

        The bulk form of `append` (one Python call per batch, not per record); returns how many
        rows were added, which is fewer than given when `max_bytes` was reached.
        """
        append = self._append
        count = self._count
        for key, value, timestamp in rows:
            if append(count, timestamp, key, value, _NO_HEADERS) is None:
                break
            count += 1
        added = count - self._count
        self._count = count
        return added

    def __len__(self) -> int:
        """Records added through `append` and `extend` (not those added through `encoder`)."""
        return self._count

    def build(self, base_offset: int = 0, partition_leader_epoch: int = -1) -> bytes:
        """The batch's bytes, with `base_offset` and the leader epoch written in."""
        if self._builder.size() <= HEADER_SIZE:
            raise ValueError("cannot build an empty record batch: append a record first")
        buf = cast(bytearray, self._builder.build())
        _OFFSET_LENGTH.pack_into(buf, 0, base_offset, len(buf) - LOG_OVERHEAD)
        _INT32.pack_into(buf, _EPOCH_AT, partition_leader_epoch)
        return bytes(buf)


def build_batch(
    records: Iterable[Record],
    *,
    base_offset: int,
    compression: Compression = Compression.NONE,
    producer_id: int = NO_PRODUCER_ID,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    transactional: bool = False,
    partition_leader_epoch: int = NO_PARTITION_LEADER_EPOCH,
    timestamp_type: TimestampType = TimestampType.CREATE_TIME,
    max_timestamp: int | None = None,
    delete_horizon_ms: int | None = None,
    last_offset_delta: int | None = None,
) -> bytes:
    """Re-encode records that already have offsets (>= `base_offset`) into one batch.

    Used where the log rewrites batches: compaction keeps each record's offset and the original
    batch's last offset (`last_offset_delta`), and may stamp a KIP-534 delete horizon, which
    Kafka stores as the base timestamp with attribute bit 6.
    """
    rows = list(records)
    if not rows:
        raise ValueError("cannot build an empty record batch")
    builder: Any
    if delete_horizon_ms is None:
        builder = _AioBuilder(
            MAGIC,
            int(compression),
            int(transactional),
            producer_id,
            producer_epoch,
            base_sequence,
            2**31 - 1,
        )
    else:
        # The compiled builder takes the first record's timestamp as the base; the pure-Python
        # one lets the base be the horizon, so record deltas are relative to it as Kafka writes.
        builder = _AioBuilderPy(
            MAGIC,
            int(compression),
            int(transactional),
            producer_id,
            producer_epoch,
            base_sequence,
            2**31 - 1,
        )
        builder._first_timestamp = delete_horizon_ms
        builder._max_timestamp = -(2**63)
    for rec in rows:
        if rec.offset < base_offset:
            raise ValueError(f"record offset {rec.offset} is below the base offset {base_offset}")
        builder.append(
            rec.offset - base_offset, rec.timestamp, rec.key, rec.value, list(rec.headers)
        )
    buf = cast(bytearray, builder.build())
    _OFFSET_LENGTH.pack_into(buf, 0, base_offset, len(buf) - LOG_OVERHEAD)
    _INT32.pack_into(buf, _EPOCH_AT, partition_leader_epoch)
    attributes = _INT16.unpack_from(buf, _ATTRIBUTES_AT)[0]
    changed = False
    if delete_horizon_ms is not None:
        attributes |= _DELETE_HORIZON_FLAG
        changed = True
    if timestamp_type is TimestampType.LOG_APPEND_TIME:
        attributes |= _TIMESTAMP_TYPE_FLAG
        _INT64.pack_into(buf, _MAX_TIMESTAMP_AT, max_timestamp if max_timestamp is not None else 0)
        changed = True
    elif max_timestamp is not None:
        _INT64.pack_into(buf, _MAX_TIMESTAMP_AT, max_timestamp)
        changed = True
    if last_offset_delta is not None:
        _INT32.pack_into(buf, _LAST_OFFSET_DELTA_AT, last_offset_delta)
        changed = True
    if changed:
        _INT16.pack_into(buf, _ATTRIBUTES_AT, attributes)
        _write_crc(buf, 0)
    return bytes(buf)


def _write_crc(buf: bytearray, pos: int) -> None:
    length = _INT32.unpack_from(buf, pos + 8)[0]
    end = pos + LOG_OVERHEAD + length
    _UINT32.pack_into(
        buf, pos + _CRC_AT, crc32c(memoryview(buf)[pos + _ATTRIBUTES_AT : end], gil_release_mode=0)
    )


def stamped(data: bytes, *, base_offset: int, partition_leader_epoch: int) -> bytes:
    """A copy of one batch with the broker's offset and leader epoch written in: one copy, no
    intermediate buffer. Both fields are outside the CRC, so nothing else changes."""
    view = memoryview(data)
    return b"".join(
        (
            _INT64.pack(base_offset),
            view[8:_EPOCH_AT],
            _INT32.pack(partition_leader_epoch),
            view[_EPOCH_AT + 4 :],
        )
    )


def header_max_timestamp(data: bytes | bytearray | memoryview) -> int:
    """The max timestamp a batch's header claims."""
    return int(_INT64.unpack_from(data, _MAX_TIMESTAMP_AT)[0])


def stamp_batch(
    buf: bytearray,
    pos: int,
    *,
    base_offset: int,
    partition_leader_epoch: int | None = None,
    log_append_time: int | None = None,
    max_timestamp: int | None = None,
) -> None:
    """Write the broker's fields into the batch at `buf[pos:]`: offset, epoch, LogAppendTime.

    Offset and epoch are outside the CRC; LogAppendTime sets attribute bit 3 and maxTimestamp,
    which are inside it, so the CRC is recomputed only then. `max_timestamp` corrects a
    producer's header to the records' largest timestamp, as Kafka's validator does.
    """
    _INT64.pack_into(buf, pos, base_offset)
    if partition_leader_epoch is not None:
        _INT32.pack_into(buf, pos + _EPOCH_AT, partition_leader_epoch)
    if log_append_time is not None:
        attributes = _INT16.unpack_from(buf, pos + _ATTRIBUTES_AT)[0] | _TIMESTAMP_TYPE_FLAG
        _INT16.pack_into(buf, pos + _ATTRIBUTES_AT, attributes)
        _INT64.pack_into(buf, pos + _MAX_TIMESTAMP_AT, log_append_time)
        _write_crc(buf, pos)
    elif max_timestamp is not None and (
        _INT64.unpack_from(buf, pos + _MAX_TIMESTAMP_AT)[0] != max_timestamp
    ):
        _INT64.pack_into(buf, pos + _MAX_TIMESTAMP_AT, max_timestamp)
        _write_crc(buf, pos)
