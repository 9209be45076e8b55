"""confluent-kafka's `Message` and `TopicPartition`, and the offset and timestamp constants.

Both behave as confluent-kafka 2.x's do: accessors return None where librdkafka has no value
(a negative partition, offset or leader epoch), a `TopicPartition` is equal to, hashes like and
sorts by its (topic, partition), and only its `partition` and `offset` can be changed.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from kstream_nb.client.error import KafkaError
from kstream_nb.table import Table, text_of

__all__ = [
    "OFFSET_BEGINNING",
    "OFFSET_END",
    "OFFSET_INVALID",
    "OFFSET_STORED",
    "TIMESTAMP_CREATE_TIME",
    "TIMESTAMP_LOG_APPEND_TIME",
    "TIMESTAMP_NOT_AVAILABLE",
    "HeadersType",
    "Message",
    "TopicPartition",
]

OFFSET_BEGINNING = -2
OFFSET_END = -1
OFFSET_STORED = -1000
OFFSET_INVALID = -1001

TIMESTAMP_NOT_AVAILABLE = 0
TIMESTAMP_CREATE_TIME = 1
TIMESTAMP_LOG_APPEND_TIME = 2

PARTITION_UA = -1
"""librdkafka's "unassigned partition": let the partitioner choose."""

# As confluent-kafka's: a dict, or (key, value) pairs in order with repeats allowed.
HeadersType: TypeAlias = dict[str, str | bytes | None] | list[tuple[str, str | bytes | None]]

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_NO_TIMESTAMP = (TIMESTAMP_NOT_AVAILABLE, 0)


class Message:
    """A consumed or produced record, or an event when `error()` is not None.

    Clients build these with `Message._create`; the public constructor is for tests and mocks,
    as in confluent-kafka.
    """

    __slots__ = (
        "_delivery_count",
        "_error",
        "_headers",
        "_key",
        "_latency",
        "_leader_epoch",
        "_offset",
        "_partition",
        "_timestamp",
        "_topic",
        "_value",
    )

    _topic: str | None
    _partition: int | None
    _offset: int | None
    _key: Any
    _value: Any
    _headers: Any
    _error: KafkaError | None
    _timestamp: tuple[int, int]
    _latency: float | None
    _leader_epoch: int | None
    _delivery_count: int | None

    def __init__(
        self,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
        key: bytes | str | None = None,
        value: bytes | str | None = None,
        headers: HeadersType | None = None,
        error: KafkaError | None = None,
        timestamp: tuple[int, int] | None = None,
        latency: float | None = None,
        leader_epoch: int | None = None,
        delivery_count: int | None = None,
    ) -> None:
        if timestamp is None:
            timestamp = _NO_TIMESTAMP
        elif not (
            isinstance(timestamp, tuple)
            and len(timestamp) == 2
            and all(isinstance(part, int) for part in timestamp)
        ):
            raise TypeError("timestamp must be a tuple of (int, int)")
        if latency is not None and not isinstance(latency, int | float):
            raise TypeError(f"must be real number, not {type(latency).__name__}")
        self._topic = topic
        self._partition = _non_negative(partition, _INT32)
        self._offset = _non_negative(offset, _INT64)
        self._key = key
        self._value = value
        self._headers = headers
        self._error = error
        self._timestamp = (int(timestamp[0]), int(timestamp[1]))
        self._latency = None if latency is None or latency < 0 else float(latency)
        self._leader_epoch = _non_negative(leader_epoch, _INT32)
        self._delivery_count = _non_negative(delivery_count, _INT32)

    @classmethod
    def _create(
        cls,
        topic: str | None,
        partition: int | None,
        offset: int | None,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes | None]] | None = None,
        error: KafkaError | None = None,
        timestamp: tuple[int, int] = _NO_TIMESTAMP,
        latency: float | None = None,
        leader_epoch: int | None = None,
    ) -> Message:
        """A message from values the client checked (None partition or offset: not known)."""
        msg = cls.__new__(cls)
        msg._topic = topic
        msg._partition = partition
        msg._offset = offset
        msg._key = key
        msg._value = value
        msg._headers = headers
        msg._error = error
        msg._timestamp = timestamp
        msg._latency = latency
        msg._leader_epoch = None if leader_epoch is None or leader_epoch < 0 else leader_epoch
        msg._delivery_count = None
        return msg

    def topic(self) -> str | None:
        """The topic name, or None if not available."""
        return self._topic

    def partition(self) -> int | None:
        """The partition number, or None if not available."""
        return self._partition

    def offset(self) -> int | None:
        """The message offset, or None if not available."""
        return self._offset

    def key(self) -> bytes | None:
        """The message key, or None."""
        return self._key  # type: ignore[no-any-return]  # set_key() may store any object

    def value(self) -> bytes | None:
        """The message value (payload), or None."""
        return self._value  # type: ignore[no-any-return]  # set_value() may store any object

    def deserialized_key(self) -> Any:
        """The key as a deserializing consumer left it (the raw key elsewhere)."""
        return self._key

    def deserialized_value(self) -> Any:
        """The value as a deserializing consumer left it (the raw value elsewhere)."""
        return self._value

    def headers(self) -> HeadersType | None:
        """The headers, a list of (key, value) pairs in order (keys may repeat), or None."""
        return self._headers  # type: ignore[no-any-return]  # set_headers() stores any object

    def error(self) -> KafkaError | None:
        """The error or event this message carries, or None for a proper message."""
        return self._error

    def timestamp(self) -> tuple[int, int]:
        """``(type, ms since the epoch)``; the time means nothing if `TIMESTAMP_NOT_AVAILABLE`."""
        return self._timestamp

    def latency(self) -> float | None:
        """Seconds from `produce()` to the broker's acknowledgement, or None if not known."""
        return self._latency

    def leader_epoch(self) -> int | None:
        """The leader epoch of the message's offset, or None if not available."""
        return self._leader_epoch

    def delivery_count(self) -> int | None:
        """How many times a share consumer was given this record, or None (KIP-932)."""
        return self._delivery_count

    def set_headers(self, headers: Any) -> None:
        """Replace the headers."""
        self._headers = headers

    def set_key(self, key: Any) -> None:
        """Replace the key."""
        self._key = key

    def set_value(self, value: Any) -> None:
        """Replace the value."""
        self._value = value

    def set_topic(self, topic: Any) -> None:
        """Replace the topic name."""
        self._topic = topic

    def set_error(self, error: Any) -> None:
        """Replace the error."""
        self._error = error

    def __len__(self) -> int:
        """The value's size (bytes), 0 without a value."""
        return 0 if self._value is None else len(self._value)

    def _identity(self) -> tuple[Any, ...]:
        # confluent-kafka compares these; latency and delivery_count do not take part.
        return (
            self._topic,
            self._partition,
            self._offset,
            self._key,
            self._value,
            self._headers,
            self._error,
            self._timestamp,
            self._leader_epoch,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self._identity() == other._identity()

    __hash__ = None  # type: ignore[assignment]  # mutable, unhashable as confluent-kafka's

    def __repr__(self) -> str:
        value = repr(self._value)
        if len(value) > 60:
            value = value[:57] + "..."
        return (
            f"Message(topic={self._topic!r}, partition={self._partition}, offset={self._offset}, "
            f"key={self._key!r}, value={value}, error={self._error!r})"
        )

    def _repr_html_(self) -> str:
        def text(data: str | bytes | None) -> str | None:
            return text_of(data) if isinstance(data, bytes) else data

        headers = ", ".join(f"{k}={text(v)}" for k, v in self._headers or ())
        return Table(
            ["topic", "partition", "offset", "timestamp", "key", "value", "headers", "error"],
            [
                (
                    self._topic,
                    self._partition,
                    self._offset,
                    self._timestamp[1],
                    text(self._key),
                    text(self._value),
                    headers,
                    self._error.name() if self._error is not None else None,
                )
            ],
        )._repr_html_()


class TopicPartition:
    """A topic partition, with an offset and what an operation on it reported.

    Equality, hashing and ordering use (topic, partition) only, as in confluent-kafka.
    """

    __slots__ = ("_error", "_leader_epoch", "_metadata", "_offset", "_partition", "_topic")

    _topic: str
    _partition: int
    _offset: int
    _metadata: str | None
    _leader_epoch: int | None
    _error: KafkaError | None

    def __init__(
        self,
        topic: str,
        partition: int = PARTITION_UA,
        offset: int = OFFSET_INVALID,
        metadata: str | None = None,
        leader_epoch: int | None = None,
    ) -> None:
        if not isinstance(topic, str):
            raise TypeError(f"argument 1 must be str, not {type(topic).__name__}")
        if "\x00" in topic:
            raise ValueError("embedded null character")
        if metadata is not None and not isinstance(metadata, str):
            raise TypeError(f"argument 4 must be str, not {type(metadata).__name__}")
        self._topic = topic
        self._partition = _checked_int(partition, _INT32)
        self._offset = _checked_int(offset, _INT64)
        self._metadata = metadata
        self._leader_epoch = _non_negative(leader_epoch, _INT32)
        self._error = None

    @classmethod
    def _make(
        cls,
        topic: str,
        partition: int,
        offset: int = OFFSET_INVALID,
        metadata: str | None = None,
        leader_epoch: int | None = None,
        error: KafkaError | None = None,
    ) -> TopicPartition:
        """A partition result from values the client already checked, with its `error`."""
        tp = cls.__new__(cls)
        tp._topic = topic
        tp._partition = partition
        tp._offset = offset
        tp._metadata = metadata
        tp._leader_epoch = None if leader_epoch is None or leader_epoch < 0 else leader_epoch
        tp._error = error
        return tp

    @property
    def topic(self) -> str:
        """Topic name."""
        return self._topic

    @property
    def partition(self) -> int:
        """Partition number (-1 when unassigned)."""
        return self._partition

    @partition.setter
    def partition(self, value: int) -> None:
        self._partition = _checked_int(value, _INT32)

    @property
    def offset(self) -> int:
        """Offset, or one of `OFFSET_BEGINNING`, `OFFSET_END`, `OFFSET_STORED`, `OFFSET_INVALID`."""
        return self._offset

    @offset.setter
    def offset(self, value: int) -> None:
        self._offset = _checked_int(value, _INT64)

    @property
    def metadata(self) -> str | None:
        """Metadata committed with the offset, or None."""
        return self._metadata

    @property
    def leader_epoch(self) -> int | None:
        """Leader epoch of the offset, or None if not known."""
        return self._leader_epoch

    @property
    def error(self) -> KafkaError | None:
        """The error an operation reported for this partition, or None."""
        return self._error

    def __hash__(self) -> int:
        return hash(self._topic) ^ self._partition

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TopicPartition):
            return NotImplemented
        return self._topic == other._topic and self._partition == other._partition

    def __ne__(self, other: object) -> bool:
        if not isinstance(other, TopicPartition):
            return NotImplemented
        return self._topic != other._topic or self._partition != other._partition

    def __lt__(self, other: TopicPartition) -> bool:
        if not isinstance(other, TopicPartition):
            return NotImplemented
        return (self._topic, self._partition) < (other._topic, other._partition)

    def __le__(self, other: TopicPartition) -> bool:
        if not isinstance(other, TopicPartition):
            return NotImplemented
        return (self._topic, self._partition) <= (other._topic, other._partition)

    def __gt__(self, other: TopicPartition) -> bool:
        if not isinstance(other, TopicPartition):
            return NotImplemented
        return (self._topic, self._partition) > (other._topic, other._partition)

    def __ge__(self, other: TopicPartition) -> bool:
        if not isinstance(other, TopicPartition):
            return NotImplemented
        return (self._topic, self._partition) >= (other._topic, other._partition)

    def __repr__(self) -> str:
        epoch = "None" if self._leader_epoch is None else str(self._leader_epoch)
        error = "None" if self._error is None else str(self._error)
        return (
            f"TopicPartition{{topic={self._topic},partition={self._partition},"
            f"offset={self._offset},leader_epoch={epoch},error={error}}}"
        )

    __str__ = __repr__


def _checked_int(value: object, bounds: tuple[int, int]) -> int:
    """`value` as a C integer within `bounds`, failing as CPython's argument parsing does."""
    if not isinstance(value, int):
        raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
    if value < bounds[0]:
        raise OverflowError("signed integer is less than minimum")
    if value > bounds[1]:
        raise OverflowError("signed integer is greater than maximum")
    return int(value)


def _non_negative(value: int | None, bounds: tuple[int, int]) -> int | None:
    """A checked integer, or None where librdkafka has none (None or negative)."""
    if value is None:
        return None
    checked = _checked_int(value, bounds)
    return None if checked < 0 else checked
