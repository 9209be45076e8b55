"""The storage engine: Kafka's partition log, in Kafka's on-disk format.

Record batches (magic v2), segments with sparse offset and time indexes, a `PartitionLog` with
retention, compaction and crash recovery. Nothing here creates threads or reads the wall clock.
"""

from kstream_nb.log.batch import (
    BatchBuilder,
    Compression,
    Record,
    RecordBatch,
    TimestampType,
    build_batch,
    decode_records,
    iter_batches,
)
from kstream_nb.log.cleaner import CleanResult
from kstream_nb.log.config import LogConfig
from kstream_nb.log.errors import (
    CorruptRecordError,
    InvalidConfigError,
    InvalidProducerEpochError,
    InvalidRecordError,
    InvalidTimestampError,
    LogError,
    OffsetOutOfRangeError,
    OutOfOrderSequenceError,
    RecordTooLargeError,
    StorageError,
    UnknownProducerIdError,
    UnsupportedCompressionError,
)
from kstream_nb.log.events import (
    LogCompacted,
    LogEvent,
    LogRecovered,
    LogTruncated,
    SegmentDeleted,
    SegmentRolled,
)
from kstream_nb.log.leader_epoch import UNDEFINED_EPOCH, UNDEFINED_OFFSET, LeaderEpochCache
from kstream_nb.log.partition_log import (
    EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
    MAX_TIMESTAMP,
    AppendInfo,
    OffsetAndTimestamp,
    PartitionLog,
)
from kstream_nb.log.segment import LogSegment

__all__ = [
    "EARLIEST_TIMESTAMP",
    "LATEST_TIMESTAMP",
    "MAX_TIMESTAMP",
    "UNDEFINED_EPOCH",
    "UNDEFINED_OFFSET",
    "AppendInfo",
    "BatchBuilder",
    "CleanResult",
    "Compression",
    "CorruptRecordError",
    "InvalidConfigError",
    "InvalidProducerEpochError",
    "InvalidRecordError",
    "InvalidTimestampError",
    "LeaderEpochCache",
    "LogCompacted",
    "LogConfig",
    "LogError",
    "LogEvent",
    "LogRecovered",
    "LogSegment",
    "LogTruncated",
    "OffsetAndTimestamp",
    "OffsetOutOfRangeError",
    "OutOfOrderSequenceError",
    "PartitionLog",
    "Record",
    "RecordBatch",
    "RecordTooLargeError",
    "SegmentDeleted",
    "SegmentRolled",
    "StorageError",
    "TimestampType",
    "UnknownProducerIdError",
    "UnsupportedCompressionError",
    "build_batch",
    "decode_records",
    "iter_batches",
]
