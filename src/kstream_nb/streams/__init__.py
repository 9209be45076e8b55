"""Kafka Streams' DSL and runtime in Python: topologies of streams and tables, windows, state.

Build with `StreamsBuilder`, test with `TopologyTestDriver` (no cluster, event time), run with
`KafkaStreams` on the in-kernel cluster.
"""

from kstream_nb.streams.driver import TestInputTopic, TestOutputTopic, TopologyTestDriver
from kstream_nb.streams.dsl import (
    KGroupedStream,
    KStream,
    KTable,
    SessionWindowedKStream,
    SlidingWindowedKStream,
    StreamsBuilder,
    Suppressed,
    TimeWindowedKStream,
    session_windowed_serde,
    windowed_serde,
)
from kstream_nb.streams.errors import StreamsError
from kstream_nb.streams.kafka_streams import KafkaStreams, ReadOnlyStore
from kstream_nb.streams.processor_api import (
    Cancellable,
    Processor,
    ProcessorContext,
    PunctuationType,
    Record,
)
from kstream_nb.streams.serdes import Serde, Serdes, SerializationError
from kstream_nb.streams.stores import KeyValueStore, WindowStore
from kstream_nb.streams.topology import Topology
from kstream_nb.streams.windows import (
    JoinWindows,
    SessionWindow,
    SessionWindows,
    SlidingWindows,
    TimeWindows,
    Window,
    Windowed,
)

__all__ = [
    "Cancellable",
    "JoinWindows",
    "KGroupedStream",
    "KStream",
    "KTable",
    "KafkaStreams",
    "KeyValueStore",
    "Processor",
    "ProcessorContext",
    "PunctuationType",
    "ReadOnlyStore",
    "Record",
    "Serde",
    "Serdes",
    "SerializationError",
    "SessionWindow",
    "SessionWindowedKStream",
    "SessionWindows",
    "SlidingWindowedKStream",
    "SlidingWindows",
    "StreamsBuilder",
    "StreamsError",
    "Suppressed",
    "TestInputTopic",
    "TestOutputTopic",
    "TimeWindowedKStream",
    "TimeWindows",
    "Topology",
    "TopologyTestDriver",
    "Window",
    "WindowStore",
    "Windowed",
    "session_windowed_serde",
    "windowed_serde",
]
