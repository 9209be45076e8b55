"""A broker's replica of the metadata log (`__cluster_metadata-0`) and the image it builds."""

from __future__ import annotations

from pathlib import Path

from kstream_nb.clock import Clock
from kstream_nb.cluster.metadata import (
    MetadataImage,
    MetadataRecord,
    decode_record,
    encode_record,
)
from kstream_nb.log import BatchBuilder, LogConfig, PartitionLog

__all__ = ["METADATA_TOPIC", "MetadataLog"]

METADATA_TOPIC = "__cluster_metadata"
_CONFIG = LogConfig.from_properties({"retention.ms": -1, "segment.bytes": 8 * 1024 * 1024})


class MetadataLog:
    """Metadata records on disk, replayed into a `MetadataImage` when the broker starts."""

    def __init__(self, log_dir: Path, clock: Clock) -> None:
        self._clock = clock
        self.log = PartitionLog(log_dir / f"{METADATA_TOPIC}-0", _CONFIG, clock)
        self.records: list[MetadataRecord] = []
        self.image = MetadataImage()
        for record in self.log.records():
            assert record.value is not None
            decoded = decode_record(record.value)
            self.records.append(decoded)
            self.image.apply(decoded)

    @property
    def offset(self) -> int:
        """The number of records held: the offset of the next one."""
        return len(self.records)

    def append(self, records: list[MetadataRecord] | tuple[MetadataRecord, ...]) -> int:
        """Append and apply records; returns the offset of the first."""
        start = self.offset
        if not records:
            return start
        builder = BatchBuilder()
        now = self._clock.now_ms()
        for record in records:
            builder.append(None, encode_record(record), now)
        self.log.append_as_leader(builder.build())
        self.log.update_high_watermark(self.log.log_end_offset)
        for record in records:
            self.records.append(record)
            self.image.apply(record)
        return start

    def apply_from(self, start_offset: int, records: tuple[MetadataRecord, ...]) -> bool:
        """Apply records sent by the controller if they continue this log; False on a gap."""
        if start_offset > self.offset:
            return False
        fresh = records[self.offset - start_offset :]
        if fresh:
            self.append(list(fresh))
        return True

    def truncate_to(self, offset: int) -> None:
        """Drop records at and after `offset` (a diverged copy) and rebuild the image."""
        if offset >= self.offset:
            return
        self.log.truncate_to(offset)
        # A batch (one controller decision) that straddles `offset` goes whole.
        self.records = self.records[: self.log.log_end_offset]
        self.image = MetadataImage()
        for record in self.records:
            self.image.apply(record)

    def close(self) -> None:
        self.log.close()

    def crash(self) -> None:
        self.log.crash()
