"""The client layer: confluent-kafka's API for the in-kernel cluster.

`Producer` and `Consumer` (with consumer groups) on the foundation they are built on:
`KafkaError` / `KafkaException` with librdkafka's error codes, `Message` and `TopicPartition`,
librdkafka's partitioners, and configuration checked as librdkafka checks it. Names that
confluent-kafka also has are spelled as it spells them; `bootstrap.servers` names an in-kernel
cluster by the addresses it advertises (`localhost:9092,...`).
"""

from kstream_nb.client.config import ConsumerConfig, ProducerConfig
from kstream_nb.client.consumer import Consumer
from kstream_nb.client.error import KafkaError, KafkaException, from_api_error, from_error_code
from kstream_nb.client.message import (
    OFFSET_BEGINNING,
    OFFSET_END,
    OFFSET_INVALID,
    OFFSET_STORED,
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    TIMESTAMP_NOT_AVAILABLE,
    Message,
    TopicPartition,
)
from kstream_nb.client.metadata import (
    BrokerMetadata,
    ClusterMetadata,
    PartitionMetadata,
    TopicMetadata,
)
from kstream_nb.client.partitioner import (
    Partitioner,
    StickyPartitioner,
    consistent,
    fnv1a,
    murmur2,
)
from kstream_nb.client.producer import Producer

__all__ = [
    "OFFSET_BEGINNING",
    "OFFSET_END",
    "OFFSET_INVALID",
    "OFFSET_STORED",
    "TIMESTAMP_CREATE_TIME",
    "TIMESTAMP_LOG_APPEND_TIME",
    "TIMESTAMP_NOT_AVAILABLE",
    "BrokerMetadata",
    "ClusterMetadata",
    "Consumer",
    "ConsumerConfig",
    "KafkaError",
    "KafkaException",
    "Message",
    "PartitionMetadata",
    "Partitioner",
    "Producer",
    "ProducerConfig",
    "StickyPartitioner",
    "TopicMetadata",
    "TopicPartition",
    "consistent",
    "fnv1a",
    "from_api_error",
    "from_error_code",
    "murmur2",
]
