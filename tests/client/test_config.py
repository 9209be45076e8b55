"""Client configuration fails and defaults as confluent-kafka 2.x / librdkafka 2.x do.

Most tests here are differential: the same dict goes to `confluent_kafka.Producer`/`Consumer`
(which need no broker to be created) and to our `from_dict`, and the outcomes must be equal,
down to the exception type, the error code and the message.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from kstream_nb.client import ConsumerConfig, KafkaError, KafkaException, ProducerConfig
from kstream_nb.client.config import ALIASES, PROPERTIES
from kstream_nb.log import Compression

B = {"bootstrap.servers": "localhost:9092"}
QUIET = {"log_level": 0}  # keep librdkafka from logging to stderr


@pytest.fixture(scope="module")
def ck() -> ModuleType:
    module: ModuleType = pytest.importorskip("confluent_kafka")
    return module


def outcome_of(build: Any) -> tuple[Any, ...]:
    """("OK",) or (exception type, [error code], message) of calling `build`."""
    try:
        made = build()
        if hasattr(made, "close"):
            made.close()  # a confluent Consumer
        return ("OK",)
    except (KafkaException, TypeError, ValueError) as exc:
        return describe(exc)
    except Exception as exc:  # confluent_kafka.KafkaException is not ours
        return describe(exc)


def describe(exc: BaseException) -> tuple[Any, ...]:
    arg = exc.args[0] if exc.args else None
    if arg is not None and hasattr(arg, "code") and hasattr(arg, "str"):
        return (type(exc).__name__, arg.code(), arg.str())
    return (type(exc).__name__, str(arg))


def check_same(ck: ModuleType, kind: str, config: dict[Any, Any]) -> None:
    conf = {**QUIET, **config}
    if kind == "P":
        theirs = outcome_of(lambda: ck.Producer(dict(conf)))
        ours = outcome_of(lambda: ProducerConfig.from_dict(dict(conf)))
    else:
        theirs = outcome_of(lambda: ck.Consumer(dict(conf)))
        ours = outcome_of(lambda: ConsumerConfig.from_dict(dict(conf)))
    assert ours == theirs


PRODUCER_CASES: list[dict[Any, Any]] = [
    # unknown keys, aliases resolved in messages
    {"no.such": 1},
    {"Linger.ms": 5},
    {5: 5},
    {"linger_ms": 5},
    {"acks": "maybe"},
    {"acks": -2},
    {"acks": 1001},
    {"acks": "ALL"},
    {"acks": " all"},
    {"acks": True},
    {"acks": None},
    {"acks": "-1abc"},
    # integers: C strtol, range, 32-bit wrap
    {"batch.num.messages": "10abc"},
    {"batch.num.messages": " 10"},
    {"batch.num.messages": "0x10"},
    {"batch.num.messages": "010"},
    {"batch.num.messages": "08"},
    {"batch.num.messages": 1.5},
    {"batch.num.messages": ""},
    {"batch.num.messages": "   "},
    {"batch.num.messages": "-"},
    {"batch.num.messages": 10**12},
    {"batch.num.messages": "99999999999999999999999"},
    {"batch.size": 0},
    {"batch.size": 2147483648},
    {"message.max.bytes": 100},
    {"message.max.bytes": 1000000001},
    {"socket.timeout.ms": 1},
    {"retry.backoff.ms": 0},
    {"request.timeout.ms": 0},
    {"statistics.interval.ms": -1},
    {"queue.buffering.max.kbytes": 0},
    # floats: C strtod
    {"linger.ms": -1},
    {"linger.ms": 900001},
    {"linger.ms": 0.5},
    {"linger.ms": "abc"},
    {"linger.ms": "5ms"},
    {"linger.ms": "0x1p3"},
    {"linger.ms": "infinity"},
    {"linger.ms": "nan"},
    {"linger.ms": 1e10},
    {"linger.ms": None},
    {"linger.ms": True},
    {"linger.ms": b"5"},
    # booleans
    {"enable.idempotence": "maybe"},
    {"enable.idempotence": 2},
    {"enable.idempotence": "TRUE"},
    {"enable.idempotence": "t"},
    {"enable.idempotence": 0},
    {"enable.idempotence": ""},
    {"enable.idempotence": "True "},
    {"api.version.request": "nope"},
    # enums and flags
    {"compression.type": "brotli"},
    {"compression.type": "SNAPPY"},
    {"compression.type": " gzip"},
    {"compression.type": "gzip "},
    {"compression.type": "inherit"},
    {"compression.codec": "uncompressed"},
    {"compression.type": None},
    {"security.protocol": "foo"},
    {"security.protocol": "PLAINTEXT"},
    {"debug": "foo"},
    {"debug": "all"},
    {"debug": "broker, topic"},
    {"debug": "broker ,topic"},
    {"debug": "-broker,+msg"},
    {"debug": ","},
    {"debug": ""},
    {"debug": None},
    # validated strings
    {"partitioner": "foo"},
    {"partitioner": "Murmur2"},
    {"partitioner": " murmur2"},
    {"partitioner": "murmur2 "},
    {"partitioner": ""},
    {"sasl.mechanism": ""},
    {"broker.version.fallback": None},
    {"client.id": None},
    {"client.id": 5},
    {"bootstrap.servers": 9092},
    # properties librdkafka will not take from a dict
    {"log_cb": print},
    {"dr_msg_cb": print},
    {"partitioner_cb": print},
    {"opaque": 1},
    {"interceptors": 1},
    {"ssl_key": 1},
    {"ssl.truststore.location": "x"},
    {"sasl.jaas.config": "x"},
    {"ssl.ca.certificate.stores": "x"},
    # confluent-kafka's Python-object keys
    {"error_cb": 5},
    {"error_cb": None},
    {"stats_cb": 5},
    {"throttle_cb": 5},
    {"oauth_cb": 5},
    {"logger": 5},
    {"on_delivery": 5},
    {"on_commit": print},
    {"delivery.report.only.error": True},
    {"delivery.report.only.error": "x"},
    {"delivery.report.only.error": 1},
    {"default.topic.config": {"acks": "maybe"}},
    {"default.topic.config": {"no.such": 1}},
    # consumer properties are accepted (and ignored) by a producer
    {"group.id": "g", "auto.offset.reset": "earliest"},
    {"partition.assignment.strategy": "foo"},
    # rules at creation
    {"enable.idempotence": True, "acks": 1},
    {"enable.idempotence": True, "max.in.flight": 6},
    {"enable.idempotence": True, "max.in.flight.requests.per.connection": 5},
    {"enable.idempotence": True, "retries": 0},
    {"enable.idempotence": True, "queue.buffering.backpressure.threshold": 2},
    {"enable.idempotence": True, "queuing.strategy": "lifo"},
    {"enable.idempotence": True, "acks": 1, "max.in.flight": 10},
    {"enable.gapless.guarantee": True},
    {"transactional.id": "x"},
    {"transactional.id": "x", "enable.idempotence": False},
    {"transactional.id": "x", "acks": 1},
    {"transactional.id": "x", "delivery.timeout.ms": 70000},
    {"transactional.id": "x", "socket.timeout.ms": 70000},
    {"delivery.timeout.ms": 100, "linger.ms": 200},
    {"delivery.timeout.ms": 5},
    {"delivery.timeout.ms": 0, "linger.ms": 200},
    {"partitioner": "murmur2", "linger.ms": 900000},
    {"linger.ms": 400000},
    {"reconnect.backoff.max.ms": 10, "reconnect.backoff.ms": 100},
]

CONSUMER_CASES: list[dict[Any, Any]] = [
    {"group.id": "g"},
    {"group.id": 5},
    {"group.id": "g", "auto.offset.reset": "foo"},
    {"group.id": "g", "auto.offset.reset": "none"},
    {"group.id": "g", "auto.offset.reset": "SMALLEST"},
    {"group.id": "g", "auto.offset.reset": "earliest "},
    {"group.id": "g", "isolation.level": "foo"},
    {"group.id": "g", "enable.auto.commit": "nope"},
    {"group.id": "g", "auto.commit.interval.ms": -5},
    {"group.id": "g", "session.timeout.ms": 0},
    {"group.id": "g", "heartbeat.interval.ms": 0},
    {"group.id": "g", "max.poll.interval.ms": 1000, "session.timeout.ms": 45000},
    {"group.id": "g", "fetch.max.bytes": 100, "message.max.bytes": 1000},
    {"group.id": "g", "fetch.max.bytes": 2000000, "receive.message.max.bytes": 2000511},
    {"group.id": "g", "fetch.min.bytes": 0},
    {"group.id": "g", "fetch.min.bytes": 100000001},
    {"group.id": "g", "max.partition.fetch.bytes": 0},
    {
        "group.id": "g",
        "max.poll.interval.ms": 100,
        "session.timeout.ms": 200,
        "fetch.max.bytes": 10,
    },
    {"group.id": "g", "on_commit": 5},
    {"group.id": "g", "on_delivery": print},
    {"group.id": "g", "partition.assignment.strategy": "Range"},
    {"group.id": "g", "partition.assignment.strategy": "cooperative-sticky"},
    {"group.id": "g", "partition.assignment.strategy": "roundrobin, range"},
    {"group.id": "g", "partition.assignment.strategy": "range ,roundrobin"},
    {"group.id": "g", "partition.assignment.strategy": ", range,,"},
    {"group.id": "g", "partition.assignment.strategy": ","},
    {"group.id": "g", "partition.assignment.strategy": "cooperative-sticky,range"},
    {"group.id": "g", "partition.assignment.strategy": None},
    {"group.id": "g", "group.protocol.type": "x"},
    {"group.id": "g", "group.protocol": "consumer"},
    {"group.id": "g", "group.protocol": "consumer", "partition.assignment.strategy": "range"},
    {"group.id": "g", "group.protocol": "consumer", "session.timeout.ms": 45000},
    {"group.id": "g", "group.protocol": "consumer", "heartbeat.interval.ms": 1000},
    {"group.id": "g", "default.topic.config": {"auto.offset.reset": "smallest"}},
    {"group.id": "g", "delivery.report.only.error": "x"},
    {"group.id": "g", "linger.ms": 5},
    {"bootstrap.servers": "localhost:9092"},
]


@pytest.mark.parametrize("config", PRODUCER_CASES, ids=repr)
def test_producer_config_fails_as_confluent_does(ck: ModuleType, config: dict[Any, Any]) -> None:
    check_same(ck, "P", {**B, **config})


@pytest.mark.parametrize("config", CONSUMER_CASES, ids=repr)
def test_consumer_config_fails_as_confluent_does(ck: ModuleType, config: dict[Any, Any]) -> None:
    check_same(ck, "C", {**B, **config})


def test_every_property_name_is_one_librdkafka_knows(ck: ModuleType) -> None:
    unknown = []
    for name in [*PROPERTIES, *ALIASES]:
        if name == "plugin.library.paths":
            continue  # loads a shared library in librdkafka
        try:
            ck.Producer({**QUIET, name: None})
        except ck.KafkaException as exc:
            if exc.args[0].str().startswith("No such configuration property"):
                unknown.append(name)
        except (TypeError, ValueError):
            pass  # a callback key confluent-kafka checks itself: known
    assert unknown == []


def test_unknown_key_error_is_exactly_confluents() -> None:
    with pytest.raises(KafkaException) as caught:
        ProducerConfig.from_dict({"bootstrap.servers": "localhost:1", "no.such": 1})
    err = caught.value.args[0]
    assert isinstance(err, KafkaError)
    assert err.code() == KafkaError._INVALID_ARG
    assert err.str() == 'No such configuration property: "no.such"'


def test_seed_producer_config() -> None:
    config = ProducerConfig.from_dict(
        {
            "bootstrap.servers": "localhost:9092",
            "client.id": "order-service",
            "acks": "all",
            "retries": 3,
            "retry.backoff.ms": 1000,
            "enable.idempotence": True,
            "compression.type": "snappy",
            "batch.size": 16384,
            "linger.ms": 10,
        }
    )
    assert config.bootstrap_servers == "localhost:9092"
    assert config.bootstrap_addresses == ("localhost:9092",)
    assert config.client_id == "order-service"
    assert config.acks == -1
    assert config.retries == 3
    assert config.retry_backoff_ms == 1000
    assert config.enable_idempotence
    assert config.compression_type is Compression.SNAPPY
    assert config.batch_size == 16384
    assert config.linger_ms == 10.0
    assert config.max_in_flight_requests_per_connection == 5  # idempotence caps it
    assert config.sticky_partitioning_linger_ms == 20  # 2 x linger.ms
    assert config.properties["request.required.acks"] == -1
    assert config.properties["queue.buffering.max.ms"] == 10.0
    assert "max.in.flight.requests.per.connection" not in config.properties


def test_seed_consumer_config() -> None:
    config = ConsumerConfig.from_dict(
        {
            "bootstrap.servers": "localhost:9092",
            "group.id": "order-processor",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "max.poll.interval.ms": 300000,
            "session.timeout.ms": 45000,
        }
    )
    assert config.group_id == "order-processor"
    assert config.auto_offset_reset == "earliest"
    assert not config.enable_auto_commit
    assert config.max_poll_interval_ms == 300_000
    assert config.session_timeout_ms == 45_000


def test_seed_transactional_config() -> None:
    config = ProducerConfig.from_dict(
        {
            "bootstrap.servers": "localhost:9092",
            "transactional.id": "order-processor-1",
            "enable.idempotence": True,
        }
    )
    assert config.transactional_id == "order-processor-1"
    assert config.enable_idempotence
    assert config.delivery_timeout_ms == config.transaction_timeout_ms == 60_000
    assert config.socket_timeout_ms == 59_900  # transaction.timeout.ms - 100


def test_producer_defaults_are_librdkafkas() -> None:
    config = ProducerConfig.from_dict({})
    assert config == ProducerConfig(
        allow_auto_create_topics=True,  # librdkafka's producer default
        properties=config.properties,
    )
    assert (config.acks, config.linger_ms, config.batch_size, config.batch_num_messages) == (
        -1,
        5.0,
        1_000_000,
        10_000,
    )
    assert config.compression_type is Compression.NONE
    assert config.retries == 2**31 - 1
    assert config.delivery_timeout_ms == 300_000
    assert config.request_timeout_ms == 30_000
    assert config.message_max_bytes == 1_000_000
    assert config.max_in_flight_requests_per_connection == 1_000_000
    assert config.partitioner == "consistent_random"
    assert config.sticky_partitioning_linger_ms == 10
    assert config.queue_buffering_max_messages == 100_000
    assert config.queue_buffering_max_kbytes == 1_048_576
    assert not config.enable_idempotence
    assert config.client_id == "rdkafka"
    assert config.bootstrap_servers is None
    assert config.security_protocol == "plaintext"
    assert dict(config.properties) == {}


def test_consumer_defaults_are_librdkafkas() -> None:
    config = ConsumerConfig.from_dict({"group.id": "g"})
    assert config.auto_offset_reset == "latest"
    assert config.enable_auto_commit
    assert config.auto_commit_interval_ms == 5000
    assert config.enable_auto_offset_store
    assert config.session_timeout_ms == 45_000
    assert config.heartbeat_interval_ms == 3000
    assert config.max_poll_interval_ms == 300_000
    assert config.partition_assignment_strategy == ("range", "roundrobin")
    assert config.isolation_level == "read_committed"
    assert not config.enable_partition_eof
    assert config.fetch_min_bytes == 1
    assert config.fetch_wait_max_ms == 500
    assert config.max_partition_fetch_bytes == 1_048_576
    # fetch.max.bytes is capped by queued.max.messages.kbytes (64 MiB) unless set.
    assert config.fetch_max_bytes == 52_428_800
    assert not config.allow_auto_create_topics
    assert config.group_protocol == "classic"
    assert config.group_instance_id is None


def test_consumer_adjusts_fetch_max_bytes_as_librdkafka() -> None:
    config = ConsumerConfig.from_dict({"group.id": "g", "queued.max.messages.kbytes": 1024})
    assert config.fetch_max_bytes == 1024 * 1024
    config = ConsumerConfig.from_dict({"group.id": "g", "queued.max.messages.kbytes": 1})
    assert config.fetch_max_bytes == config.message_max_bytes
    assert config.receive_message_max_bytes == 100_000_000


def test_consumer_group_id_is_required() -> None:
    for conf in ({}, {"group.id": None}, {"group.id": ""}):
        with pytest.raises(ValueError, match=r"Failed to create consumer: group\.id must be set"):
            ConsumerConfig.from_dict(conf)


@pytest.mark.parametrize(
    ("word", "meaning"),
    [
        ("smallest", "earliest"),
        ("earliest", "earliest"),
        ("beginning", "earliest"),
        ("largest", "latest"),
        ("latest", "latest"),
        ("END", "latest"),
        ("error", "error"),
    ],
)
def test_auto_offset_reset_words(word: str, meaning: str) -> None:
    config = ConsumerConfig.from_dict({"group.id": "g", "auto.offset.reset": word})
    assert config.auto_offset_reset == meaning


def test_assignment_strategies_are_parsed() -> None:
    config = ConsumerConfig.from_dict(
        {"group.id": "g", "partition.assignment.strategy": " cooperative-sticky,"}
    )
    assert config.partition_assignment_strategy == ("cooperative-sticky",)


def test_callbacks_and_logger_pass_through() -> None:
    def on_delivery(err: KafkaError | None, msg: Any) -> None:
        pass

    def on_error(err: KafkaError) -> None:
        pass

    def on_commit(err: KafkaError | None, partitions: Any) -> None:
        pass

    logger = object()
    producer = ProducerConfig.from_dict(
        {"on_delivery": on_delivery, "error_cb": on_error, "logger": logger}
    )
    assert producer.on_delivery is on_delivery
    assert producer.error_cb is on_error
    assert producer.logger is logger
    consumer = ConsumerConfig.from_dict({"group.id": "g"}, on_commit=on_commit, stats_cb=print)
    assert consumer.on_commit is on_commit
    assert consumer.stats_cb is print


def test_keyword_arguments_override_the_dict() -> None:
    config = ProducerConfig.from_dict({"client.id": "a"}, **{"client.id": "b"})
    assert config.client_id == "b"
    with pytest.raises(TypeError, match="expected configuration dict"):
        ProducerConfig.from_dict(["client.id"])  # type: ignore[arg-type]


def test_default_topic_config_is_merged() -> None:
    config = ProducerConfig.from_dict({"default.topic.config": {"acks": 1, "linger.ms": 2}})
    assert (config.acks, config.linger_ms) == (1, 2.0)


def test_only_plaintext_is_accepted() -> None:
    assert ProducerConfig.from_dict({"security.protocol": "PLAINTEXT"}).security_protocol == (
        "plaintext"
    )
    for protocol in ("ssl", "sasl_plaintext", "SASL_SSL"):
        with pytest.raises(KafkaException) as caught:
            ProducerConfig.from_dict({"security.protocol": protocol})
        err = caught.value.args[0]
        assert err.code() == KafkaError._INVALID_ARG
        assert "plaintext only" in err.str()
        assert protocol.lower() in err.str()


def test_plugins_are_refused_with_a_clear_message() -> None:
    with pytest.raises(KafkaException, match=r"plugin\.library\.paths is not supported"):
        ProducerConfig.from_dict({"plugin.library.paths": "monitoring-interceptor"})


def test_properties_hold_what_was_set_by_librdkafka_name() -> None:
    config = ConsumerConfig.from_dict(
        {"group.id": "g", "max.partition.fetch.bytes": "2048", "debug": "cgrp,fetch"}
    )
    assert config.properties == {
        "group.id": "g",
        "fetch.message.max.bytes": 2048,
        "debug": ("cgrp", "fetch"),
    }
    assert config.max_partition_fetch_bytes == 2048
    assert config.debug == ("cgrp", "fetch")
    with pytest.raises(TypeError):
        config.properties["x"] = 1  # type: ignore[index]


def test_configs_are_frozen() -> None:
    config = ProducerConfig.from_dict({})
    with pytest.raises(AttributeError):
        config.acks = 1  # type: ignore[misc]
