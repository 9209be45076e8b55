"""Cluster metadata as KRaft keeps it: a log of typed records, and the image they build.

The controller appends records to `__cluster_metadata-0`; every broker keeps a replica of that log
and applies the same records to its own `MetadataImage`, so all of them agree on brokers, topics,
leaders, epochs and ISRs once they have applied the same offset.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "NO_LEADER",
    "BrokerFenced",
    "BrokerRegistered",
    "BrokerState",
    "BrokerUnfenced",
    "MetadataImage",
    "MetadataRecord",
    "PartitionRecord",
    "PartitionState",
    "ProducerIdsAllocated",
    "TopicConfigChanged",
    "TopicImage",
    "TopicRecord",
    "TopicRemoved",
    "decode_record",
    "encode_record",
]

NO_LEADER = -1


class BrokerRegistered(msgspec.Struct, frozen=True, tag=True):
    """A broker (re)joined, with a new incarnation epoch; it starts fenced."""

    broker_id: int
    broker_epoch: int
    rack: str | None = None


class BrokerFenced(msgspec.Struct, frozen=True, tag=True):
    """The controller stopped trusting a broker (missed heartbeats or shut down)."""

    broker_id: int
    reason: str


class BrokerUnfenced(msgspec.Struct, frozen=True, tag=True):
    """A registered broker has caught up with metadata and may lead partitions."""

    broker_id: int


class ProducerIdsAllocated(msgspec.Struct, frozen=True, tag=True):
    """Producer ids below `next_producer_id` are taken (InitProducerId, KIP-98)."""

    next_producer_id: int


class TopicRecord(msgspec.Struct, frozen=True, tag=True):
    """A topic exists, with its id and config overrides."""

    name: str
    topic_id: str
    config: dict[str, str]


class TopicConfigChanged(msgspec.Struct, frozen=True, tag=True):
    """New config overrides for a topic (all of them, replacing the previous set)."""

    name: str
    config: dict[str, str]


class TopicRemoved(msgspec.Struct, frozen=True, tag=True):
    """A topic was deleted."""

    name: str


class PartitionRecord(msgspec.Struct, frozen=True, tag=True):
    """The whole state of one partition: KRaft's PartitionRecord and PartitionChangeRecord."""

    topic: str
    partition: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader: int
    leader_epoch: int
    partition_epoch: int
    reason: str = ""


MetadataRecord = (
    BrokerRegistered
    | BrokerFenced
    | BrokerUnfenced
    | TopicRecord
    | TopicConfigChanged
    | TopicRemoved
    | PartitionRecord
    | ProducerIdsAllocated
)

_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(MetadataRecord)


def encode_record(record: MetadataRecord) -> bytes:
    return _ENCODER.encode(record)


def decode_record(data: bytes) -> MetadataRecord:
    record: MetadataRecord = _DECODER.decode(data)
    return record


class BrokerState(msgspec.Struct):
    """What the metadata says of a broker."""

    broker_id: int
    broker_epoch: int
    rack: str | None
    fenced: bool = True


PartitionState = PartitionRecord


class TopicImage(msgspec.Struct):
    """A topic in the image: id, config overrides, partitions by index."""

    name: str
    topic_id: str
    config: dict[str, str]
    partitions: dict[int, PartitionState]


class MetadataImage:
    """The state built by applying metadata records in order."""

    __slots__ = ("brokers", "next_producer_id", "offset", "topics")

    def __init__(self) -> None:
        self.brokers: dict[int, BrokerState] = {}
        self.topics: dict[str, TopicImage] = {}
        self.offset = 0  # the number of records applied: the next metadata offset
        self.next_producer_id = 0

    def apply(self, record: MetadataRecord) -> None:
        match record:
            case BrokerRegistered(broker_id=bid, broker_epoch=epoch, rack=rack):
                self.brokers[bid] = BrokerState(bid, epoch, rack, fenced=True)
            case BrokerFenced(broker_id=bid):
                if bid in self.brokers:
                    self.brokers[bid].fenced = True
            case BrokerUnfenced(broker_id=bid):
                if bid in self.brokers:
                    self.brokers[bid].fenced = False
            case TopicRecord(name=name, topic_id=topic_id, config=config):
                self.topics[name] = TopicImage(name, topic_id, dict(config), {})
            case TopicConfigChanged(name=name, config=config):
                if name in self.topics:
                    self.topics[name].config = dict(config)
            case TopicRemoved(name=name):
                self.topics.pop(name, None)
            case ProducerIdsAllocated(next_producer_id=next_id):
                self.next_producer_id = max(self.next_producer_id, next_id)
            case PartitionRecord(topic=topic, partition=partition):
                if topic in self.topics:
                    self.topics[topic].partitions[partition] = record
        self.offset += 1

    def partition(self, topic: str, partition: int) -> PartitionState | None:
        image = self.topics.get(topic)
        return None if image is None else image.partitions.get(partition)

    def live_brokers(self) -> list[int]:
        """Registered, unfenced brokers, by id."""
        return sorted(b.broker_id for b in self.brokers.values() if not b.fenced)
