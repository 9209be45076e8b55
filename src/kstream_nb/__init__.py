"""kstream_nb: a Jupyter-native event-streaming workbench.

A Kafka-compatible cluster, a Kafka-Streams-style engine and SQL over the topic logs, all inside
one Python kernel. In a notebook, `%load_ext kstream_nb` adds the `%kafka` and `%%produce` magics.
"""

from typing import Any

from kstream_nb.client import (
    OFFSET_BEGINNING,
    OFFSET_END,
    OFFSET_INVALID,
    OFFSET_STORED,
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    TIMESTAMP_NOT_AVAILABLE,
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
from kstream_nb.sql import scan, sql  # noqa: F401 -- also installs Topic.scan and Cluster.sql

__version__ = "0.1.0"


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext kstream_nb`: the `%kafka` and `%%produce` magics (see kstream_nb.jupyter)."""
    from kstream_nb.jupyter import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from kstream_nb.jupyter import unload_ipython_extension as unload

    unload(ipython)


__all__ = [
    "OFFSET_BEGINNING",
    "OFFSET_END",
    "OFFSET_INVALID",
    "OFFSET_STORED",
    "TIMESTAMP_CREATE_TIME",
    "TIMESTAMP_LOG_APPEND_TIME",
    "TIMESTAMP_NOT_AVAILABLE",
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
    "load_ipython_extension",
    "parse_duration_ms",
    "unload_ipython_extension",
]
