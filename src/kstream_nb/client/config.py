"""Client configuration, checked as confluent-kafka and librdkafka check it.

`ProducerConfig.from_dict(conf)` and `ConsumerConfig.from_dict(conf)` take the dict a user passes
to `Producer(conf)` / `Consumer(conf)`. Every property librdkafka 2.x knows is accepted (also
those this client ignores), aliases resolve to librdkafka's names, values are parsed from their
text as librdkafka parses them, and the cross-property rules librdkafka applies when it creates a
client are applied too. Failures are confluent-kafka's, message for message: an unknown key or a
bad value raises ``KafkaException(KafkaError(_INVALID_ARG, ...))``, a non-callable callback a
`TypeError`.

Defaults are librdkafka 2.x's (CONFIGURATION.md). The result is a frozen dataclass with the
familiar names in snake_case (``linger_ms``, ``acks``, ``retries``, ...), librdkafka's adjusted
values (an idempotent producer gets ``acks=-1``, a consumer's `fetch_max_bytes` is capped by
`queued.max.messages.kbytes`, ...), and every property the user set in `properties`.

Only ``security.protocol=plaintext`` is accepted: the in-kernel cluster has no TLS or SASL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, TypeAlias, cast

from kstream_nb.client.error import KafkaError, KafkaException
from kstream_nb.client.message import Message, TopicPartition
from kstream_nb.log import Compression

__all__ = [
    "ALIASES",
    "PROPERTIES",
    "ClientConfig",
    "CommitCallback",
    "ConfigProperty",
    "ConsumerConfig",
    "DeliveryCallback",
    "ErrorCallback",
    "ProducerConfig",
    "StatsCallback",
    "ThrottleCallback",
]

ErrorCallback: TypeAlias = Callable[[KafkaError], None]
ThrottleCallback: TypeAlias = Callable[[Any], None]
StatsCallback: TypeAlias = Callable[[str], None]
DeliveryCallback: TypeAlias = Callable[[KafkaError | None, Message], None]
CommitCallback: TypeAlias = Callable[[KafkaError | None, list[TopicPartition]], None]

Kind: TypeAlias = Literal["str", "int", "float", "bool", "enum", "flags", "ptr", "internal"]
Scope: TypeAlias = Literal["*", "P", "C"]

_INT32_MAX = 2**31 - 1
_IDEMPOTENT_MAX_IN_FLIGHT = 5


@dataclass(frozen=True, slots=True)
class ConfigProperty:
    """One librdkafka configuration property: its type, allowed values and default."""

    name: str
    kind: Kind
    scope: Scope = "*"
    """Which clients use it: ``P`` producer, ``C`` consumer, ``*`` both (others ignore it)."""
    default: object = None
    low: float = 0
    high: float = 0
    values: tuple[str, ...] = ()
    """An enum's or a flag set's values; for ``partitioner`` the accepted names."""
    named: tuple[tuple[str, int], ...] = ()
    """Words an integer property also takes (``acks=all`` is -1)."""
    topic: bool = False
    """A topic-level property: setting one makes librdkafka check the topic rules at creation."""
    required: bool = False
    """A string librdkafka refuses to reset to nothing."""
    rejected: str | None = None
    """librdkafka refuses to set the property at all, with this message."""


def _str(
    name: str, default: str | None = None, scope: Scope = "*", *, required: bool = False
) -> ConfigProperty:
    return ConfigProperty(name, "str", scope, default, required=required)


def _int(
    name: str,
    low: int,
    high: int,
    default: int,
    scope: Scope = "*",
    *,
    topic: bool = False,
    named: tuple[tuple[str, int], ...] = (),
) -> ConfigProperty:
    return ConfigProperty(name, "int", scope, default, low, high, named=named, topic=topic)


def _float(name: str, low: float, high: float, default: float, scope: Scope) -> ConfigProperty:
    return ConfigProperty(name, "float", scope, default, low, high)


def _bool(name: str, default: bool, scope: Scope = "*", *, topic: bool = False) -> ConfigProperty:
    return ConfigProperty(name, "bool", scope, default, topic=topic)


def _enum(
    name: str, values: str, default: str, scope: Scope = "*", *, topic: bool = False
) -> ConfigProperty:
    return ConfigProperty(name, "enum", scope, default, values=tuple(values.split()), topic=topic)


def _flags(name: str, values: str, default: tuple[str, ...] = ()) -> ConfigProperty:
    return ConfigProperty(name, "flags", "*", default, values=tuple(values.split()))


def _ptr(name: str, scope: Scope = "*", *, topic: bool = False) -> ConfigProperty:
    return ConfigProperty(name, "ptr", scope, topic=topic)


def _internal(name: str) -> ConfigProperty:
    return ConfigProperty(name, "internal")


def _rejected(name: str, message: str) -> ConfigProperty:
    return ConfigProperty(name, "str", rejected=message)


_FEATURES = (
    "gzip snappy ssl sasl regex lz4 sasl_gssapi sasl_plain sasl_scram plugins zstd "
    "sasl_oauthbearer http oidc"
)
_DEBUG_CONTEXTS = (
    "generic broker topic metadata feature queue msg protocol cgrp security fetch interceptor "
    "plugin consumer admin eos mock assignor conf telemetry all"
)
_PARTITIONERS = (
    "random",
    "consistent",
    "consistent_random",
    "murmur2",
    "murmur2_random",
    "fnv1a",
    "fnv1a_random",
)
_KINIT_CMD = (
    'kinit -R -t "%{sasl.kerberos.keytab}" -k %{sasl.kerberos.principal} || '
    'kinit -t "%{sasl.kerberos.keytab}" -k %{sasl.kerberos.principal}'
)

# Every property librdkafka 2.16 accepts (hidden ones included), by its canonical name. Types and
# ranges were read back from librdkafka 2.16 itself; defaults are CONFIGURATION.md's.
PROPERTIES: Mapping[str, ConfigProperty] = MappingProxyType(
    {
        prop.name: prop
        for prop in (
            # Global, both clients.
            _flags("builtin.features", _FEATURES, tuple(_FEATURES.split())),
            _str("client.id", "rdkafka"),
            _str("client.software.name", "librdkafka"),
            _str("client.software.version"),
            _str("metadata.broker.list"),
            _int("message.max.bytes", 1000, 1_000_000_000, 1_000_000),
            _int("message.copy.max.bytes", 0, 1_000_000_000, 65535),
            _int("receive.message.max.bytes", 1000, _INT32_MAX, 100_000_000),
            _int("max.in.flight.requests.per.connection", 1, 1_000_000, 1_000_000),
            _int("metadata.request.timeout.ms", 10, 900_000, 10),
            _enum("metadata.recovery.strategy", "none rebootstrap", "rebootstrap"),
            _int("metadata.recovery.rebootstrap.trigger.ms", 0, _INT32_MAX, 300_000),
            _int("topic.metadata.refresh.interval.ms", -1, 3_600_000, 300_000),
            _int("metadata.max.age.ms", 1, 86_400_000, 900_000),
            _int("topic.metadata.refresh.fast.interval.ms", 1, 60_000, 100),
            _int("topic.metadata.refresh.fast.cnt", 0, 1000, 10),
            _bool("topic.metadata.refresh.sparse", True),
            _int("topic.metadata.propagation.max.ms", 0, 3_600_000, 30_000),
            _str("topic.blacklist"),
            _flags("debug", _DEBUG_CONTEXTS),
            _int("socket.timeout.ms", 10, 300_000, 60_000),
            _int("socket.blocking.max.ms", 1, 60_000, 1000),
            _int("socket.send.buffer.bytes", 0, 100_000_000, 0),
            _int("socket.receive.buffer.bytes", 0, 100_000_000, 0),
            _bool("socket.keepalive.enable", False),
            _bool("socket.nagle.disable", True),
            _int("socket.max.fails", 0, 1_000_000, 1),
            _int("broker.address.ttl", 0, 86_400_000, 1000),
            _enum("broker.address.family", "any v4 v6", "any"),
            _int("socket.connection.setup.timeout.ms", 1000, _INT32_MAX, 30_000),
            _int("connections.max.idle.ms", 0, _INT32_MAX, 0),
            _bool("enable.sparse.connections", True),
            _int("reconnect.backoff.jitter.ms", 0, 3_600_000, 0),
            _int("reconnect.backoff.ms", 0, 3_600_000, 100),
            _int("reconnect.backoff.max.ms", 0, 3_600_000, 10_000),
            _int("statistics.interval.ms", 0, 86_400_000, 0),
            _int("enabled_events", 0, _INT32_MAX, 0),
            _ptr("error_cb"),
            _ptr("throttle_cb"),
            _ptr("stats_cb"),
            _ptr("log_cb"),
            _int("log_level", 0, 7, 6),
            _bool("log.queue", False),
            _bool("log.thread.name", True),
            _bool("enable.random.seed", True),
            _bool("log.connection.close", True),
            _ptr("background_event_cb"),
            _ptr("socket_cb"),
            _ptr("connect_cb"),
            _ptr("closesocket_cb"),
            _ptr("open_cb"),
            _ptr("resolve_cb"),
            _ptr("opaque"),
            _ptr("default_topic_conf"),
            _int("internal.termination.signal", 0, 128, 0),
            _bool("api.version.request", True),
            _int("api.version.request.timeout.ms", 1, 300_000, 10_000),
            _int("api.version.fallback.ms", 0, 604_800_000, 0),
            _str("broker.version.fallback", "0.10.0", required=True),
            _bool("allow.auto.create.topics", False),
            _enum("security.protocol", "plaintext ssl sasl_plaintext sasl_ssl", "plaintext"),
            _str("ssl.cipher.suites"),
            _str("ssl.curves.list"),
            _str("ssl.sigalgs.list"),
            _str("ssl.key.location"),
            _str("ssl.key.password"),
            _str("ssl.key.pem"),
            _internal("ssl_key"),
            _str("ssl.certificate.location"),
            _str("ssl.certificate.pem"),
            _internal("ssl_certificate"),
            _str("ssl.ca.location"),
            _str("https.ca.location"),
            _str("https.ca.pem"),
            _str("ssl.ca.pem"),
            _internal("ssl_ca"),
            _rejected(
                "ssl.ca.certificate.stores",
                'Configuration property "ssl.ca.certificate.stores" not supported in this '
                "build: configuration only valid on Windows",
            ),
            _str("ssl.crl.location"),
            _str("ssl.keystore.location"),
            _str("ssl.keystore.password"),
            _str("ssl.providers"),
            _str("ssl.engine.location"),
            _str("ssl.engine.id", "dynamic"),
            _ptr("ssl_engine_callback_data"),
            _bool("enable.ssl.certificate.verification", True),
            _enum("ssl.endpoint.identification.algorithm", "none https", "https"),
            _ptr("ssl.certificate.verify_cb"),
            _rejected(
                "ssl.truststore.location",
                "Java TrustStores are not supported, use `ssl.ca.location` and a certificate "
                "file instead. See https://github.com/confluentinc/librdkafka/wiki/"
                "Using-SSL-with-librdkafka for more information.",
            ),
            _rejected(
                "sasl.jaas.config",
                "Java JAAS configuration is not supported, see https://github.com/confluentinc/"
                "librdkafka/wiki/Using-SASL-with-librdkafka for more information.",
            ),
            _str("sasl.mechanisms", "GSSAPI", required=True),
            _str("sasl.kerberos.service.name", "kafka"),
            _str("sasl.kerberos.principal", "kafkaclient"),
            _str("sasl.kerberos.kinit.cmd", _KINIT_CMD),
            _str("sasl.kerberos.keytab"),
            _int("sasl.kerberos.min.time.before.relogin", 0, 86_400_000, 60_000),
            _str("sasl.username"),
            _str("sasl.password"),
            _str("sasl.oauthbearer.config"),
            _bool("enable.sasl.oauthbearer.unsecure.jwt", False),
            _ptr("oauthbearer_token_refresh_cb"),
            _bool("enable_sasl_queue", False),
            _enum("sasl.oauthbearer.method", "default oidc", "default"),
            _str("sasl.oauthbearer.client.id"),
            _str("sasl.oauthbearer.client.credentials.client.id"),
            _str("sasl.oauthbearer.client.secret"),
            _str("sasl.oauthbearer.client.credentials.client.secret"),
            _str("sasl.oauthbearer.scope"),
            _str("sasl.oauthbearer.extensions"),
            _str("sasl.oauthbearer.token.endpoint.url"),
            _str("sasl.oauthbearer.sub.claim.name", "sub"),
            _enum(
                "sasl.oauthbearer.grant.type",
                "client_credentials urn:ietf:params:oauth:grant-type:jwt-bearer",
                "client_credentials",
            ),
            _enum("sasl.oauthbearer.assertion.algorithm", "RS256 ES256", "RS256"),
            _str("sasl.oauthbearer.assertion.private.key.file"),
            _str("sasl.oauthbearer.assertion.private.key.passphrase"),
            _str("sasl.oauthbearer.assertion.private.key.pem"),
            _str("sasl.oauthbearer.assertion.file"),
            _str("sasl.oauthbearer.assertion.claim.aud"),
            _int("sasl.oauthbearer.assertion.claim.exp.seconds", 1, _INT32_MAX, 300),
            _str("sasl.oauthbearer.assertion.claim.iss"),
            _bool("sasl.oauthbearer.assertion.claim.jti.include", False),
            _int("sasl.oauthbearer.assertion.claim.nbf.seconds", 0, _INT32_MAX, 60),
            _str("sasl.oauthbearer.assertion.claim.sub"),
            _str("sasl.oauthbearer.assertion.jwt.template.file"),
            _enum("sasl.oauthbearer.metadata.authentication.type", "none azure_imds", "none"),
            _str("plugin.library.paths"),
            _internal("interceptors"),
            _str("client.rack"),
            _enum(
                "client.dns.lookup",
                "use_all_dns_ips resolve_canonical_bootstrap_servers_only",
                "use_all_dns_ips",
            ),
            _bool("enable.metrics.push", True),
            _int("test.mock.num.brokers", 0, 10_000, 0),
            _int("test.mock.broker.rtt", 0, 3_600_000, 0),
            # Consumer.
            _str("group.id", None, "C"),
            _str("group.instance.id", None, "C"),
            _str("partition.assignment.strategy", "range,roundrobin", "C"),
            _int("session.timeout.ms", 1, 3_600_000, 45_000, "C"),
            _int("heartbeat.interval.ms", 1, 3_600_000, 3000, "C"),
            _str("group.protocol.type", "consumer", "C"),
            _enum("group.protocol", "classic consumer", "classic", "C"),
            _str("group.remote.assignor", None, "C"),
            _int("coordinator.query.interval.ms", 1, 3_600_000, 600_000, "C"),
            _int("max.poll.interval.ms", 1, 86_400_000, 300_000, "C"),
            _int("max.poll.records", 1, _INT32_MAX, 500, "C"),
            _str("share.acknowledgement.mode", "implicit", "C"),
            _bool("enable.auto.commit", True, "C"),
            _int("auto.commit.interval.ms", 0, 86_400_000, 5000, "C"),
            _bool("enable.auto.offset.store", True, "C"),
            _int("queued.min.messages", 1, 10_000_000, 100_000, "C"),
            _int("queued.max.messages.kbytes", 1, 2_097_151, 65536, "C"),
            _int("fetch.wait.max.ms", 0, 300_000, 500, "C"),
            _int("fetch.queue.backoff.ms", 0, 300_000, 1000, "C"),
            _int("fetch.message.max.bytes", 1, 1_000_000_000, 1_048_576, "C"),
            _int("fetch.max.bytes", 0, 2_147_483_135, 52_428_800, "C"),
            # Checked against 1..100000000 when a consumer is created (see _finish_consumer).
            _int("fetch.min.bytes", 0, _INT32_MAX, 1, "C"),
            _int("fetch.error.backoff.ms", 0, 300_000, 500, "C"),
            _enum("offset.store.method", "none file broker", "broker", "C"),
            _enum("isolation.level", "read_uncommitted read_committed", "read_committed", "C"),
            _ptr("consume_cb", "C"),
            _ptr("rebalance_cb", "C"),
            _ptr("offset_commit_cb", "C"),
            _bool("enable.partition.eof", False, "C"),
            _bool("check.crcs", False, "C"),
            # Producer.
            _str("transactional.id", None, "P"),
            _int("transaction.timeout.ms", 1000, _INT32_MAX, 60_000, "P"),
            _bool("enable.idempotence", False, "P"),
            _bool("enable.gapless.guarantee", False, "P"),
            _int("queue.buffering.max.messages", 0, _INT32_MAX, 100_000, "P"),
            _int("queue.buffering.max.kbytes", 1, _INT32_MAX, 1_048_576, "P"),
            _float("queue.buffering.max.ms", 0, 900_000, 5.0, "P"),
            _int("message.send.max.retries", 0, _INT32_MAX, _INT32_MAX, "P"),
            _int("retry.backoff.ms", 1, 300_000, 100),
            _int("retry.backoff.max.ms", 1, 300_000, 1000),
            _int("queue.buffering.backpressure.threshold", 1, 1_000_000, 1, "P"),
            _enum("compression.codec", "none gzip snappy lz4 zstd", "none", "P"),
            _int("batch.num.messages", 1, 1_000_000, 10_000, "P"),
            _int("batch.size", 1, _INT32_MAX, 1_000_000, "P"),
            _bool("delivery.report.only.error", False, "P"),
            _ptr("dr_cb", "P"),
            _ptr("dr_msg_cb", "P"),
            _int("sticky.partitioning.linger.ms", 0, 900_000, 10, "P"),
            # Topic-level (librdkafka's default topic config).
            _int("request.required.acks", -1, 1000, -1, "P", topic=True, named=(("all", -1),)),
            _int("request.timeout.ms", 1, 900_000, 30_000, "P", topic=True),
            _int("message.timeout.ms", 0, _INT32_MAX, 300_000, "P", topic=True),
            _enum("queuing.strategy", "fifo lifo", "fifo", "P", topic=True),
            _bool("produce.offset.report", False, "P", topic=True),
            ConfigProperty(
                "partitioner",
                "str",
                "P",
                "consistent_random",
                values=_PARTITIONERS,
                topic=True,
                required=True,
            ),
            _ptr("partitioner_cb", "P", topic=True),
            _ptr("msg_order_cmp", "P", topic=True),
            _int("compression.level", -1, 12, -1, "P", topic=True),
            _bool("auto.commit.enable", True, "C", topic=True),
            _enum(
                "auto.offset.reset",
                "smallest earliest beginning largest latest end error",
                "largest",
                "C",
                topic=True,
            ),
            _str("offset.store.path", "."),
            _int("offset.store.sync.interval.ms", -1, 86_400_000, -1, "C", topic=True),
            _int("consume.callback.max.messages", 0, 1_000_000, 0, "C", topic=True),
        )
    }
)

# The other names librdkafka takes for a property.
ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "bootstrap.servers": "metadata.broker.list",
        "max.in.flight": "max.in.flight.requests.per.connection",
        "sasl.mechanism": "sasl.mechanisms",
        "linger.ms": "queue.buffering.max.ms",
        "retries": "message.send.max.retries",
        "compression.type": "compression.codec",
        "acks": "request.required.acks",
        "delivery.timeout.ms": "message.timeout.ms",
        "max.partition.fetch.bytes": "fetch.message.max.bytes",
    }
)

# Keys confluent-kafka handles itself (Python objects), by client.
_COMMON_CALLBACKS = ("error_cb", "throttle_cb", "stats_cb", "oauth_cb", "logger")
_ASSIGNOR_PROTOCOLS = {"range": "eager", "roundrobin": "eager", "cooperative-sticky": "cooperative"}
_C_SPACE = " \t\n\v\f\r"
_STRTOL = re.compile(r"[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_STRTOD = re.compile(
    r"[ \t\n\v\f\r]*([+-]?(?:"
    r"0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?[0-9]+)?"  # hexadecimal
    r"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?"  # decimal
    r"|inf(?:inity)?|nan))",
    re.IGNORECASE,
)
_UNCHANGED = object()


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientConfig:
    """Settings both clients use; field names are the familiar property names in snake_case."""

    bootstrap_servers: str | None = None
    client_id: str = "rdkafka"
    client_rack: str | None = None
    message_max_bytes: int = 1_000_000
    receive_message_max_bytes: int = 100_000_000
    max_in_flight_requests_per_connection: int = 1_000_000
    socket_timeout_ms: int = 60_000
    metadata_max_age_ms: int = 900_000
    topic_metadata_refresh_interval_ms: int = 300_000
    topic_metadata_propagation_max_ms: int = 30_000
    retry_backoff_ms: int = 100
    retry_backoff_max_ms: int = 1000
    statistics_interval_ms: int = 0
    api_version_request: bool = True
    allow_auto_create_topics: bool = False
    security_protocol: str = "plaintext"
    debug: tuple[str, ...] = ()
    log_level: int = 6
    error_cb: ErrorCallback | None = None
    throttle_cb: ThrottleCallback | None = None
    stats_cb: StatsCallback | None = None
    oauth_cb: Callable[..., Any] | None = None
    logger: Any = None
    properties: Mapping[str, object] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    """Every property the user set, by librdkafka's name, as parsed (before adjustments)."""

    @property
    def bootstrap_addresses(self) -> tuple[str, ...]:
        """`bootstrap_servers` split into ``host:port`` entries (comma or space separated)."""
        return tuple(part for part in re.split(r"[,\s]+", self.bootstrap_servers or "") if part)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProducerConfig(ClientConfig):
    """A producer's settings, with librdkafka's defaults and adjustments applied."""

    acks: int = -1
    linger_ms: float = 5.0
    batch_size: int = 1_000_000
    batch_num_messages: int = 10_000
    compression_type: Compression = Compression.NONE
    compression_level: int = -1
    retries: int = _INT32_MAX
    delivery_timeout_ms: int = 300_000
    request_timeout_ms: int = 30_000
    enable_idempotence: bool = False
    enable_gapless_guarantee: bool = False
    partitioner: str = "consistent_random"
    sticky_partitioning_linger_ms: int = 10
    queue_buffering_max_messages: int = 100_000
    queue_buffering_max_kbytes: int = 1_048_576
    transactional_id: str | None = None
    transaction_timeout_ms: int = 60_000
    delivery_report_only_error: bool = False
    on_delivery: DeliveryCallback | None = None

    @classmethod
    def from_dict(cls, config: Mapping[Any, Any] | None = None, /, **kwargs: Any) -> ProducerConfig:
        """Check `config` (keyword arguments override it) as `confluent_kafka.Producer` does."""
        parsed = _parse_config("producer", config, kwargs)
        return cls(**_common_fields(parsed), **_producer_fields(parsed))


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsumerConfig(ClientConfig):
    """A consumer's settings, with librdkafka's defaults and adjustments applied."""

    group_id: str
    group_instance_id: str | None = None
    group_protocol: Literal["classic", "consumer"] = "classic"
    group_remote_assignor: str | None = None
    partition_assignment_strategy: tuple[str, ...] = ("range", "roundrobin")
    session_timeout_ms: int = 45_000
    heartbeat_interval_ms: int = 3000
    max_poll_interval_ms: int = 300_000
    coordinator_query_interval_ms: int = 600_000
    enable_auto_commit: bool = True
    auto_commit_interval_ms: int = 5000
    enable_auto_offset_store: bool = True
    auto_offset_reset: Literal["earliest", "latest", "error"] = "latest"
    isolation_level: Literal["read_committed", "read_uncommitted"] = "read_committed"
    enable_partition_eof: bool = False
    fetch_min_bytes: int = 1
    fetch_max_bytes: int = 52_428_800
    fetch_wait_max_ms: int = 500
    max_partition_fetch_bytes: int = 1_048_576
    fetch_error_backoff_ms: int = 500
    fetch_queue_backoff_ms: int = 1000
    queued_min_messages: int = 100_000
    queued_max_messages_kbytes: int = 65536
    check_crcs: bool = False
    on_commit: CommitCallback | None = None

    @classmethod
    def from_dict(cls, config: Mapping[Any, Any] | None = None, /, **kwargs: Any) -> ConsumerConfig:
        """Check `config` (keyword arguments override it) as `confluent_kafka.Consumer` does."""
        parsed = _parse_config("consumer", config, kwargs)
        return cls(**_common_fields(parsed), **_consumer_fields(parsed))


@dataclass(slots=True)
class _Parsed:
    """What a config dict set: librdkafka properties and Python objects, then the effective
    values after librdkafka's adjustments."""

    client: Literal["producer", "consumer"]
    values: dict[str, object] = field(default_factory=dict)
    """Property name -> parsed value, for each property set (librdkafka's "modified")."""
    objects: dict[str, object] = field(default_factory=dict)
    """confluent-kafka's Python-object keys (callbacks, logger) -> the object."""
    topic_conf: bool = False
    effective: dict[str, object] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        if name in self.effective:
            return self.effective[name]
        if name in self.values:
            return self.values[name]
        return PROPERTIES[name].default

    def modified(self, name: str) -> bool:
        return name in self.values


def _parse_config(
    client: Literal["producer", "consumer"],
    config: Mapping[Any, Any] | None,
    kwargs: Mapping[str, Any],
) -> _Parsed:
    if config is not None and not isinstance(config, Mapping):
        raise TypeError("expected configuration dict")
    conf: dict[Any, Any] = dict(config or {})
    conf.update(kwargs)
    if client == "consumer" and conf.get("group.id") in (None, ""):
        raise ValueError("Failed to create consumer: group.id must be set")

    parsed = _Parsed(client)
    # confluent-kafka sets these first, and passes debug through str() even when it is None.
    if "debug" in conf:
        _set(parsed, "debug", str(conf.pop("debug")))
    if "plugin.library.paths" in conf:
        raise _invalid(
            "plugin.library.paths is not supported by kstream_nb: librdkafka plugins cannot load "
            "into the in-kernel client; remove the property"
        )
    if "default.topic.config" in conf:
        topic_config = conf.pop("default.topic.config")
        if not isinstance(topic_config, Mapping):
            raise TypeError("default.topic.config must be a dict of topic properties")
        conf.update(topic_config)

    for key, value in conf.items():
        name = str(key)
        if name in _COMMON_CALLBACKS or (client, name) in _CLIENT_SPECIALS:
            _set_python_object(parsed, name, value)
        else:
            _set(parsed, name, None if value is None else str(value))

    if client == "producer":
        _finish_producer(parsed)
    else:
        _finish_consumer(parsed)
    _finish_common(parsed)
    return parsed


_CLIENT_SPECIALS = {
    ("producer", "on_delivery"),
    ("producer", "delivery.report.only.error"),
    ("consumer", "on_commit"),
}


def _set_python_object(parsed: _Parsed, name: str, value: object) -> None:
    """confluent-kafka's own keys, with its checks and messages."""
    if name == "logger":
        parsed.objects[name] = value
    elif name == "delivery.report.only.error":
        if not isinstance(value, bool):
            raise TypeError(
                f"Expected delivery.report.only.error to be bool type, not {type(value).__name__}"
            )
        parsed.values[name] = value
    elif name in ("on_delivery", "on_commit"):
        if not callable(value):
            raise _invalid(f"{name} requires a callable object")
        parsed.objects[name] = value
    else:
        if not callable(value):
            error = ValueError if name == "throttle_cb" else TypeError
            raise error(f"expected {name} property as a callable function")
        parsed.objects[name] = value


def _set(parsed: _Parsed, name: str, raw: str | None) -> None:
    """Set one librdkafka property from its text, as `rd_kafka_conf_set` does."""
    prop = PROPERTIES.get(ALIASES.get(name, name))
    if prop is None:
        raise _invalid(f'No such configuration property: "{name}"')
    if raw == "":
        raw = None  # librdkafka reads an empty string as no value
    value = _parse_value(prop, raw, parsed.values.get(prop.name, prop.default))
    if value is _UNCHANGED:
        return
    if prop.name == "security.protocol" and value != "plaintext":
        raise _invalid(
            f'Configuration property "security.protocol" value "{value}" is not supported by '
            "kstream_nb: the in-kernel cluster speaks plaintext only; remove the property or set "
            'it to "plaintext"'
        )
    parsed.values[prop.name] = value
    parsed.topic_conf = parsed.topic_conf or prop.topic


def _parse_value(prop: ConfigProperty, raw: str | None, current: object) -> object:
    name = prop.name
    if prop.rejected is not None:
        raise _invalid(prop.rejected)
    if prop.kind == "ptr":
        raise _invalid(f'Property "{name}" must be set through dedicated .._set_..() function')
    if prop.kind == "internal":
        raise _invalid(f'Internal property "{name}" not settable')
    if prop.kind == "str":
        if raw is None:
            if prop.required:
                raise _invalid(f'Invalid value for configuration property "{name}": (null)')
            return prop.default
        if prop.values:
            raw = raw.lstrip(_C_SPACE)
            if raw not in prop.values:
                raise _invalid(f'Invalid value for configuration property "{name}": {raw}')
        return raw
    if prop.kind == "int":
        if raw is None:
            raise _invalid(f'Integer configuration property "{name}" cannot be set to empty value')
        folded = raw.lower()
        for word, number in prop.named:
            if folded == word:
                return number
        integer = _strtol(raw)
        if integer is None:
            raise _invalid(f'Invalid value for configuration property "{name}"')
        if not prop.low <= integer <= prop.high:
            raise _invalid(
                f'Configuration property "{name}" value {integer} is outside allowed range '
                f"{int(prop.low)}..{int(prop.high)}\n"
            )
        return integer
    if prop.kind == "float":
        if raw is None:
            raise _invalid(f'Float configuration property "{name}" cannot be set to empty value')
        real = _strtod(raw)
        if real is None:
            raise _invalid(f'Invalid value for configuration property "{name}"')
        if real < prop.low or real > prop.high:  # NaN passes, as in C
            raise _invalid(
                f'Configuration property "{name}" value {real:g} is outside allowed range '
                f"{prop.low:g}..{prop.high:g}\n"
            )
        return real
    if prop.kind == "bool":
        if raw is None:
            raise _invalid(f'Bool configuration property "{name}" cannot be set to empty value')
        folded = raw.lower()
        if folded in ("true", "t") or raw == "1":
            return True
        if folded in ("false", "f") or raw == "0":
            return False
        raise _invalid(f'Expected bool value for "{name}": true or false')
    # enum / flags
    if raw is None:
        raise _invalid(f'Configuration property "{name}" cannot be set to empty value')
    if prop.kind == "enum":
        token = raw.lstrip(_C_SPACE)  # librdkafka trims the left side only
        if not token:
            return _UNCHANGED
        return _match(prop, token)
    chosen = set(cast(tuple[str, ...], current)) if prop.name != "debug" else set()
    for part in raw.split(","):
        token = part.lstrip(_C_SPACE)
        remove = token.startswith("-")
        token = token[1:] if token[:1] in "+-" and token else token
        if not token:
            continue
        value = _match(prop, token)
        if remove:
            chosen.discard(value)
        else:
            chosen.add(value)
    return tuple(value for value in prop.values if value in chosen)


def _match(prop: ConfigProperty, token: str) -> str:
    folded = token.lower()
    for value in prop.values:
        if value.lower() == folded:
            return value
    raise _invalid(f'Invalid value "{token}" for configuration property "{prop.name}"')


def _strtol(text: str) -> int | None:
    """C's ``(int)strtol(text, &end, 0)``: the longest integer prefix, wrapped to 32 bits."""
    match = _STRTOL.match(text)
    if match is None:
        return None
    sign, digits = match.groups()
    if digits[:2] in ("0x", "0X"):
        number = int(digits[2:], 16)
    elif digits.startswith("0"):
        number = int(digits, 8)
    else:
        number = int(digits)
    number = max(-(2**63), min(2**63 - 1, -number if sign == "-" else number))
    return (number + 2**31) % 2**32 - 2**31


def _strtod(text: str) -> float | None:
    """C's ``strtod``: the longest floating-point prefix of `text`."""
    match = _STRTOD.match(text)
    if match is None:
        return None
    number = match.group(1)
    if "x" in number.lower() and "n" not in number.lower():
        return float.fromhex(number)
    return float(number)


def _invalid(message: str) -> KafkaException:
    return KafkaException(KafkaError(KafkaError._INVALID_ARG, message))


def _failed(parsed: _Parsed, message: str) -> KafkaException:
    return _invalid(f"Failed to create {parsed.client}: {message}")


def _finish_producer(parsed: _Parsed) -> None:
    """librdkafka's producer rules at creation (`rd_kafka_conf_finalize`)."""
    eff = parsed.effective
    idempotent = bool(parsed.get("enable.idempotence"))
    transactional = parsed.get("transactional.id") is not None
    if transactional:
        if not idempotent:
            if parsed.modified("enable.idempotence"):
                raise _failed(parsed, "`transactional.id` requires `enable.idempotence=true`")
            idempotent = True
        # At least one request must fit in the transaction timeout.
        txn_timeout = int(parsed.get("transaction.timeout.ms"))
        if not parsed.modified("socket.timeout.ms"):
            eff["socket.timeout.ms"] = max(txn_timeout - 100, 900)
        elif txn_timeout + 100 < int(parsed.get("socket.timeout.ms")):
            raise _failed(
                parsed, "`socket.timeout.ms` must be set <= `transaction.timeout.ms` + 100"
            )
    eff["enable.idempotence"] = idempotent
    if idempotent:
        if parsed.modified("max.in.flight.requests.per.connection"):
            if int(parsed.get("max.in.flight.requests.per.connection")) > _IDEMPOTENT_MAX_IN_FLIGHT:
                raise _failed(
                    parsed, "`max.in.flight` must be set <= 5 when `enable.idempotence` is true"
                )
        else:
            eff["max.in.flight.requests.per.connection"] = min(
                int(parsed.get("max.in.flight.requests.per.connection")),
                _IDEMPOTENT_MAX_IN_FLIGHT,
            )
        if parsed.modified("message.send.max.retries"):
            if int(parsed.get("message.send.max.retries")) < 1:
                raise _failed(
                    parsed, "`retries` must be set >= 1 when `enable.idempotence` is true"
                )
        else:
            eff["message.send.max.retries"] = _INT32_MAX
        if (
            parsed.modified("queue.buffering.backpressure.threshold")
            and int(parsed.get("queue.buffering.backpressure.threshold")) > 1
        ):
            raise _failed(
                parsed,
                "`queue.buffering.backpressure.threshold` must be set to 1 when "
                "`enable.idempotence` is true",
            )
        eff["queue.buffering.backpressure.threshold"] = 1
    elif parsed.get("enable.gapless.guarantee") and parsed.modified("enable.gapless.guarantee"):
        raise _failed(
            parsed, "`enable.gapless.guarantee` requires `enable.idempotence` to be enabled"
        )

    linger = float(parsed.get("queue.buffering.max.ms"))
    if not parsed.modified("sticky.partitioning.linger.ms"):
        eff["sticky.partitioning.linger.ms"] = int(min(900_000, 2 * linger))

    # The topic rules: librdkafka checks them at creation only if a topic-level property was set
    # (otherwise when the producer first uses a topic); the adjustments always apply.
    message_timeout = int(parsed.get("message.timeout.ms"))
    if parsed.topic_conf and message_timeout != 0 and message_timeout <= linger:
        if parsed.modified("queue.buffering.max.ms"):
            raise _failed(parsed, "`message.timeout.ms` must be greater than `linger.ms`")
        eff["queue.buffering.max.ms"] = message_timeout - 0.1
    if idempotent:
        if parsed.modified("request.required.acks"):
            if parsed.get("request.required.acks") != -1:
                raise _failed(
                    parsed, "`acks` must be set to `all` when `enable.idempotence` is true"
                )
        else:
            eff["request.required.acks"] = -1
        if parsed.modified("queuing.strategy") and parsed.get("queuing.strategy") != "fifo":
            raise _failed(
                parsed, "`queuing.strategy` must be set to `fifo` when `enable.idempotence` is true"
            )
        if transactional:
            txn_timeout = int(parsed.get("transaction.timeout.ms"))
            if not parsed.modified("message.timeout.ms"):
                eff["message.timeout.ms"] = txn_timeout
            elif message_timeout > txn_timeout:
                raise _failed(
                    parsed, "`message.timeout.ms` must be set <= `transaction.timeout.ms`"
                )


def _finish_consumer(parsed: _Parsed) -> None:
    """librdkafka's consumer rules at creation."""
    eff = parsed.effective
    if not 1 <= int(parsed.get("fetch.min.bytes")) <= 100_000_000:
        raise _failed(
            parsed,
            'Configuration property "fetch.min.bytes" value is outside allowed range 1..100000000',
        )
    if int(parsed.get("max.poll.interval.ms")) < int(parsed.get("session.timeout.ms")):
        raise _failed(parsed, "`max.poll.interval.ms`must be >= `session.timeout.ms`")
    message_max = int(parsed.get("message.max.bytes"))
    fetch_max = int(parsed.get("fetch.max.bytes"))
    if parsed.modified("fetch.max.bytes"):
        if fetch_max < message_max:
            raise _failed(parsed, "`fetch.max.bytes` must be >= `message.max.bytes`")
    else:
        queued_max = int(parsed.get("queued.max.messages.kbytes")) * 1024
        fetch_max = eff["fetch.max.bytes"] = max(min(fetch_max, queued_max), message_max)
    receive_max = int(parsed.get("receive.message.max.bytes"))
    if parsed.modified("receive.message.max.bytes"):
        if fetch_max + 512 > receive_max:
            raise _failed(parsed, "`receive.message.max.bytes` must be >= `fetch.max.bytes` + 512")
    else:
        eff["receive.message.max.bytes"] = max(receive_max, fetch_max + 512)
    eff["enable.idempotence"] = False

    if parsed.get("group.protocol") == "consumer":
        # KIP-848: the broker assigns and times out members.
        if parsed.modified("partition.assignment.strategy"):
            raise _failed(
                parsed,
                "`partition.assignment.strategy` is not supported for `group.protocol=consumer`. "
                "Use `group.remote.assignor` instead",
            )
        for name in ("session.timeout.ms", "heartbeat.interval.ms"):
            if parsed.modified(name):
                raise _failed(
                    parsed,
                    f"`{name}` is not supported for `group.protocol=consumer` or share consumer. "
                    "It is defined broker side",
                )
        if parsed.modified("group.protocol.type"):
            raise _failed(
                parsed,
                "`group.protocol.type` is not supported for `group.protocol=consumer` or share "
                "consumer",
            )
        eff["partition.assignment.strategy"] = ()


def _assignors(parsed: _Parsed) -> tuple[str, ...]:
    """`partition.assignment.strategy` as librdkafka reads it (`rd_kafka_assignors_init`)."""
    text = str(parsed.get("partition.assignment.strategy"))
    consumer_protocol = parsed.get("group.protocol.type") == "consumer"
    names: list[str] = []
    rest = text
    while rest:
        rest = rest.lstrip(" ,")  # librdkafka skips spaces and commas before a name, not after
        name, _, rest = rest.partition(",")
        if name not in _ASSIGNOR_PROTOCOLS or not consumer_protocol:
            raise _failed(parsed, f"Unsupported partition.assignment.strategy: {name}")
        if name not in names:
            names.append(name)
    if len({_ASSIGNOR_PROTOCOLS[name] for name in names}) > 1:
        raise _failed(
            parsed,
            f"All partition.assignment.strategy ({text}) assignors must have the same protocol "
            "type, online migration between assignors with different protocol types is not "
            "supported",
        )
    return tuple(names)


def _finish_common(parsed: _Parsed) -> None:
    eff = parsed.effective
    if "partition.assignment.strategy" not in eff:
        # librdkafka reads the assignors when it creates any client, a producer too.
        eff["partition.assignment.strategy"] = _assignors(parsed)
    refresh = int(parsed.get("topic.metadata.refresh.interval.ms"))
    if not parsed.modified("metadata.max.age.ms") and refresh > 0:
        eff["metadata.max.age.ms"] = refresh * 3
    if int(parsed.get("reconnect.backoff.max.ms")) < int(parsed.get("reconnect.backoff.ms")):
        raise _failed(parsed, "`reconnect.backoff.max.ms` must be >= `reconnect.backoff.ms`")
    if not parsed.modified("allow.auto.create.topics"):
        # librdkafka's producer may auto-create topics by default, its consumer may not.
        eff["allow.auto.create.topics"] = parsed.client == "producer"


def _common_fields(parsed: _Parsed) -> dict[str, Any]:
    get = parsed.get
    objects = parsed.objects
    return {
        "bootstrap_servers": get("metadata.broker.list"),
        "client_id": get("client.id"),
        "client_rack": get("client.rack"),
        "message_max_bytes": get("message.max.bytes"),
        "receive_message_max_bytes": get("receive.message.max.bytes"),
        "max_in_flight_requests_per_connection": get("max.in.flight.requests.per.connection"),
        "socket_timeout_ms": get("socket.timeout.ms"),
        "metadata_max_age_ms": get("metadata.max.age.ms"),
        "topic_metadata_refresh_interval_ms": get("topic.metadata.refresh.interval.ms"),
        "topic_metadata_propagation_max_ms": get("topic.metadata.propagation.max.ms"),
        "retry_backoff_ms": get("retry.backoff.ms"),
        "retry_backoff_max_ms": get("retry.backoff.max.ms"),
        "statistics_interval_ms": get("statistics.interval.ms"),
        "api_version_request": get("api.version.request"),
        "allow_auto_create_topics": get("allow.auto.create.topics"),
        "security_protocol": get("security.protocol"),
        "debug": get("debug"),
        "log_level": get("log_level"),
        "error_cb": objects.get("error_cb"),
        "throttle_cb": objects.get("throttle_cb"),
        "stats_cb": objects.get("stats_cb"),
        "oauth_cb": objects.get("oauth_cb"),
        "logger": objects.get("logger"),
        "properties": MappingProxyType(dict(parsed.values)),
    }


def _producer_fields(parsed: _Parsed) -> dict[str, Any]:
    get = parsed.get
    return {
        "acks": get("request.required.acks"),
        "linger_ms": float(get("queue.buffering.max.ms")),
        "batch_size": get("batch.size"),
        "batch_num_messages": get("batch.num.messages"),
        "compression_type": Compression.from_name(str(get("compression.codec"))),
        "compression_level": get("compression.level"),
        "retries": get("message.send.max.retries"),
        "delivery_timeout_ms": get("message.timeout.ms"),
        "request_timeout_ms": get("request.timeout.ms"),
        "enable_idempotence": get("enable.idempotence"),
        "enable_gapless_guarantee": get("enable.gapless.guarantee"),
        "partitioner": get("partitioner"),
        "sticky_partitioning_linger_ms": get("sticky.partitioning.linger.ms"),
        "queue_buffering_max_messages": get("queue.buffering.max.messages"),
        "queue_buffering_max_kbytes": get("queue.buffering.max.kbytes"),
        "transactional_id": get("transactional.id"),
        "transaction_timeout_ms": get("transaction.timeout.ms"),
        "delivery_report_only_error": get("delivery.report.only.error"),
        "on_delivery": parsed.objects.get("on_delivery"),
    }


def _consumer_fields(parsed: _Parsed) -> dict[str, Any]:
    get = parsed.get
    reset = str(get("auto.offset.reset"))
    return {
        "group_id": get("group.id"),
        "group_instance_id": get("group.instance.id"),
        "group_protocol": get("group.protocol"),
        "group_remote_assignor": get("group.remote.assignor"),
        "partition_assignment_strategy": get("partition.assignment.strategy"),
        "session_timeout_ms": get("session.timeout.ms"),
        "heartbeat_interval_ms": get("heartbeat.interval.ms"),
        "max_poll_interval_ms": get("max.poll.interval.ms"),
        "coordinator_query_interval_ms": get("coordinator.query.interval.ms"),
        "enable_auto_commit": get("enable.auto.commit"),
        "auto_commit_interval_ms": get("auto.commit.interval.ms"),
        "enable_auto_offset_store": get("enable.auto.offset.store"),
        "auto_offset_reset": _OFFSET_RESETS[reset],
        "isolation_level": get("isolation.level"),
        "enable_partition_eof": get("enable.partition.eof"),
        "fetch_min_bytes": get("fetch.min.bytes"),
        "fetch_max_bytes": get("fetch.max.bytes"),
        "fetch_wait_max_ms": get("fetch.wait.max.ms"),
        "max_partition_fetch_bytes": get("fetch.message.max.bytes"),
        "fetch_error_backoff_ms": get("fetch.error.backoff.ms"),
        "fetch_queue_backoff_ms": get("fetch.queue.backoff.ms"),
        "queued_min_messages": get("queued.min.messages"),
        "queued_max_messages_kbytes": get("queued.max.messages.kbytes"),
        "check_crcs": get("check.crcs"),
        "on_commit": parsed.objects.get("on_commit"),
    }


# librdkafka's auto.offset.reset words -> what they mean.
_OFFSET_RESETS: dict[str, Literal["earliest", "latest", "error"]] = {
    "smallest": "earliest",
    "earliest": "earliest",
    "beginning": "earliest",
    "largest": "latest",
    "latest": "latest",
    "end": "latest",
    "error": "error",
}
