"""kstream_nb: a Jupyter-native event-streaming workbench.

A Kafka-compatible cluster, a Kafka-Streams-style engine and SQL over the topic logs, all inside
one Python kernel. So far: the storage engine (`kstream_nb.log`) and the in-kernel
cluster (`kstream_nb.cluster`, driven by `kstream_nb.runtime`).
"""

from kstream_nb.client import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from kstream_nb.client.admin import (
    AdminClient,
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    IsolationLevel,
    Node,
)
from kstream_nb.clock import Clock, ManualClock, SystemClock, parse_duration_ms
from kstream_nb.errors import ErrorCode, KafkaApiError, KStreamNbError
from kstream_nb.runtime import Cluster

__version__ = "0.1.0"

__all__ = [
    "AdminClient",
    "Clock",
    "Cluster",
    "Consumer",
    "ConsumerGroupState",
    "ConsumerGroupTopicPartitions",
    "ErrorCode",
    "IsolationLevel",
    "KStreamNbError",
    "KafkaApiError",
    "KafkaError",
    "KafkaException",
    "ManualClock",
    "Message",
    "Node",
    "Producer",
    "SystemClock",
    "TopicPartition",
    "__version__",
    "parse_duration_ms",
]
