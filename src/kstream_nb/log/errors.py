"""Errors of the storage layer, each with Kafka's error name and a sentence on what to do."""

from __future__ import annotations

from kstream_nb.errors import ErrorCode, KafkaApiError

__all__ = [
    "CorruptRecordError",
    "InvalidConfigError",
    "InvalidProducerEpochError",
    "InvalidRecordError",
    "InvalidTimestampError",
    "LogError",
    "OffsetOutOfRangeError",
    "OutOfOrderSequenceError",
    "RecordTooLargeError",
    "StorageError",
    "UnknownProducerIdError",
    "UnsupportedCompressionError",
]


class LogError(KafkaApiError):
    """Base of the storage layer's errors."""


class CorruptRecordError(LogError):
    """Bytes that are not a valid Kafka v2 record batch (bad CRC, wrong magic, torn)."""

    code = ErrorCode.CORRUPT_MESSAGE


class InvalidRecordError(LogError):
    """A well-formed batch the log refuses, such as a keyless record on a compacted topic."""

    code = ErrorCode.INVALID_RECORD


class RecordTooLargeError(LogError):
    """A batch larger than the topic's `max.message.bytes`."""

    code = ErrorCode.MESSAGE_TOO_LARGE


class InvalidTimestampError(LogError):
    """A record timestamp outside `message.timestamp.before/after.max.ms`."""

    code = ErrorCode.INVALID_TIMESTAMP


class OffsetOutOfRangeError(LogError):
    """A read or truncation at an offset the log does not hold."""

    code = ErrorCode.OFFSET_OUT_OF_RANGE


class InvalidConfigError(LogError):
    """An unknown topic config key or a value of the wrong type or range."""

    code = ErrorCode.INVALID_CONFIG


class UnsupportedCompressionError(LogError):
    """A compression codec the log cannot read or write."""

    code = ErrorCode.UNSUPPORTED_COMPRESSION_TYPE


class OutOfOrderSequenceError(LogError):
    """An idempotent producer's batch does not continue its sequence (a gap: a batch was lost)."""

    code = ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER


class InvalidProducerEpochError(LogError):
    """A batch from an older epoch of a producer id: a newer producer instance fenced it."""

    code = ErrorCode.INVALID_PRODUCER_EPOCH


class UnknownProducerIdError(LogError):
    """A producer id the log has no state for, whose batch does not start a sequence."""

    code = ErrorCode.UNKNOWN_PRODUCER_ID


class StorageError(LogError):
    """The log's files cannot be used (closed log, unreadable directory)."""

    code = ErrorCode.KAFKA_STORAGE_ERROR
