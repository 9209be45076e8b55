"""Idempotent producers' state in one partition log (Kafka's ProducerStateManager, KIP-98).

For each producer id the log remembers its epoch and its last five batches (first and last
sequence numbers, offsets). A leader uses it to drop retried duplicates (answering with the
original offsets) and to refuse gaps and fenced epochs; followers keep it too, so that a new
leader can continue. It is rebuilt from the batch headers when the log opens.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from kstream_nb.log.errors import (
    InvalidProducerEpochError,
    OutOfOrderSequenceError,
    UnknownProducerIdError,
)

__all__ = ["BatchMetadata", "ProducerEntry", "ProducerStateManager"]

NUM_BATCHES_TO_RETAIN = 5  # Kafka keeps the last 5: max.in.flight.requests.per.connection <= 5
_INT32_MAX = 2**31 - 1


@dataclass(frozen=True, slots=True)
class BatchMetadata:
    first_seq: int
    last_seq: int
    first_offset: int
    last_offset: int
    max_timestamp: int


@dataclass(slots=True)
class ProducerEntry:
    producer_id: int
    epoch: int
    batches: deque[BatchMetadata] = field(
        default_factory=lambda: deque(maxlen=NUM_BATCHES_TO_RETAIN)
    )

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else -1


def _next_seq(seq: int) -> int:
    return 0 if seq == _INT32_MAX else seq + 1


class ProducerStateManager:
    """Producer id -> `ProducerEntry` for one partition."""

    __slots__ = ("producers",)

    def __init__(self) -> None:
        self.producers: dict[int, ProducerEntry] = {}

    def check(
        self, producer_id: int, epoch: int, first_seq: int, last_seq: int
    ) -> BatchMetadata | None:
        """Validate a leader append; returns the earlier batch when this one is a duplicate."""
        entry = self.producers.get(producer_id)
        if entry is None:
            if first_seq != 0:
                raise UnknownProducerIdError(
                    f"producer id {producer_id} has no state in this partition and its batch "
                    f"starts at sequence {first_seq}, not 0; the producer must reset its sequence"
                )
            return None
        if epoch < entry.epoch:
            raise InvalidProducerEpochError(
                f"producer id {producer_id} epoch {epoch} is older than the current epoch "
                f"{entry.epoch}: a newer instance of this producer fenced it"
            )
        if epoch > entry.epoch:
            if first_seq != 0:
                raise OutOfOrderSequenceError(
                    f"a new epoch {epoch} of producer id {producer_id} must start at sequence 0, "
                    f"not {first_seq}"
                )
            return None
        for batch in entry.batches:
            if batch.first_seq == first_seq and batch.last_seq == last_seq:
                return batch
        expected = _next_seq(entry.last_seq)
        if first_seq != expected:
            raise OutOfOrderSequenceError(
                f"producer id {producer_id} sent sequence {first_seq}, expected {expected}: "
                "an earlier batch is missing"
            )
        return None

    def update(
        self,
        producer_id: int,
        epoch: int,
        first_seq: int,
        last_seq: int,
        first_offset: int,
        last_offset: int,
        max_timestamp: int,
    ) -> None:
        """Record an appended batch (leader or follower)."""
        entry = self.producers.get(producer_id)
        if entry is None or epoch > entry.epoch:
            entry = ProducerEntry(producer_id, epoch)
            self.producers[producer_id] = entry
        elif epoch < entry.epoch:
            return
        entry.batches.append(
            BatchMetadata(first_seq, last_seq, first_offset, last_offset, max_timestamp)
        )

    def clear(self) -> None:
        self.producers.clear()
