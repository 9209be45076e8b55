"""confluent-kafka's `AdminClient` and its request/result types, for an in-kernel cluster.

```python
from kstream_nb.client.admin import AdminClient, NewTopic
admin = AdminClient({"bootstrap.servers": "localhost:9092"})
for topic, future in admin.create_topics([NewTopic("orders", 3, 3)]).items():
    future.result()  # None, or raises KafkaException(KafkaError(TOPIC_ALREADY_EXISTS, ...))
```

Every request returns `ClusterFuture`s keyed as confluent-kafka keys them. The cluster answers
on its own thread; on a simulated cluster `future.result()` runs the cluster until answered.
Failures are `KafkaException(KafkaError)` with Kafka's codes. Where this cluster does not do
something Kafka does, the future fails with `KafkaError._NOT_IMPLEMENTED` and says so.

Differences from Kafka, on purpose: topic futures complete once the change has reached every
running broker (new partitions have leaders), so the topic is usable when `result()` returns;
`operation_timeout` is checked but that wait is bounded by `request_timeout` (default
`socket.timeout.ms`). Retriable errors (leader or coordinator moving) are retried within it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import Any, Final, TypeVar

from kstream_nb.client.config import ProducerConfig
from kstream_nb.client.error import KafkaError, KafkaException, from_api_error, from_error_code
from kstream_nb.client.future import ClusterFuture
from kstream_nb.client.message import OFFSET_INVALID, TopicPartition
from kstream_nb.client.metadata import ClusterMetadata, cluster_metadata, connect
from kstream_nb.cluster import BrokerConfig, ClusterCore
from kstream_nb.cluster.group_coordinator import GroupDescription, OffsetAndMetadata
from kstream_nb.errors import ErrorCode, KafkaApiError, KStreamNbError
from kstream_nb.log import LogConfig
from kstream_nb.runtime import Cluster

__all__ = [
    "AdminClient",
    "AlterConfigOpType",
    "ConfigEntry",
    "ConfigResource",
    "ConfigSource",
    "ConsumerGroupDescription",
    "ConsumerGroupListing",
    "ConsumerGroupState",
    "ConsumerGroupTopicPartitions",
    "ConsumerGroupType",
    "DeletedRecords",
    "IsolationLevel",
    "ListConsumerGroupsResult",
    "ListOffsetsResultInfo",
    "MemberAssignment",
    "MemberDescription",
    "NewPartitions",
    "NewTopic",
    "Node",
    "OffsetSpec",
    "ResourceType",
]

E = TypeVar("E", bound=Enum)

# -- enums (confluent-kafka's names and values) ---------------------------------------------


class _Ordered(Enum):
    def __lt__(self, other: object) -> bool:
        if not isinstance(other, type(self)):
            return NotImplemented
        return bool(self.value < other.value)


class ResourceType(_Ordered):
    """Kinds of Kafka resources."""

    UNKNOWN = 0
    ANY = 1
    TOPIC = 2
    GROUP = 3
    BROKER = 4
    TRANSACTIONAL_ID = 5


class ConfigSource(Enum):
    """Where a described config value comes from."""

    UNKNOWN_CONFIG = 0
    DYNAMIC_TOPIC_CONFIG = 1
    DYNAMIC_BROKER_CONFIG = 2
    DYNAMIC_DEFAULT_BROKER_CONFIG = 3
    STATIC_BROKER_CONFIG = 4
    DEFAULT_CONFIG = 5
    GROUP_CONFIG = 8


class AlterConfigOpType(Enum):
    """What `incremental_alter_configs` does with one `ConfigEntry`."""

    SET = 0
    DELETE = 1
    APPEND = 2
    SUBTRACT = 3


class ConsumerGroupState(_Ordered):
    """A consumer group's state, as the group coordinator reports it."""

    UNKNOWN = 0
    UNKOWN = 0  # confluent-kafka's deprecated alias of UNKNOWN (sic)
    PREPARING_REBALANCING = 1
    COMPLETING_REBALANCING = 2
    STABLE = 3
    DEAD = 4
    EMPTY = 5


class ConsumerGroupType(_Ordered):
    """The group protocol: classic (JoinGroup/SyncGroup) or consumer (KIP-848)."""

    UNKNOWN = 0
    CONSUMER = 1
    CLASSIC = 2


class IsolationLevel(_Ordered):
    """Which offsets `list_offsets` may return."""

    READ_UNCOMMITTED = 0
    READ_COMMITTED = 1


def _to_enum(value: E | str | int, enum: type[E]) -> E:
    if isinstance(value, enum):
        return value
    if isinstance(value, str):
        try:
            return enum[value.upper()]
        except KeyError:
            raise ValueError(f"Unknown value {value!r} for {enum.__name__}") from None
    return enum(value)


# -- request types --------------------------------------------------------------------------


class NewTopic:
    """A topic to create: partitions and replication factor (-1: the broker's default)."""

    def __init__(
        self,
        topic: str,
        num_partitions: int = -1,
        replication_factor: int = -1,
        replica_assignment: list[list[int]] | None = None,
        config: dict[str, str] | None = None,
    ) -> None:
        if not isinstance(topic, str):
            raise TypeError(f"argument 1 must be str, not {type(topic).__name__}")
        self.topic = topic
        self.num_partitions = _int_arg(num_partitions)
        self.replication_factor = _int_arg(replication_factor)
        if replica_assignment is not None and not isinstance(replica_assignment, list):
            raise TypeError("replica_assignment must be a list of lists of broker ids")
        self.replica_assignment = replica_assignment
        if config is not None and not isinstance(config, dict):
            raise TypeError("config must be a dict of str: str")
        self.config = config

    def _key(self) -> tuple[str, int, int]:
        return (self.topic, self.num_partitions, self.replication_factor)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NewTopic) and self._key() == other._key()

    def __lt__(self, other: NewTopic) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"NewTopic(topic={self.topic},num_partitions={self.num_partitions})"

    __str__ = __repr__


class NewPartitions:
    """Grow a topic to `new_total_count` partitions."""

    def __init__(
        self, topic: str, new_total_count: int, replica_assignment: list[list[int]] | None = None
    ) -> None:
        if not isinstance(topic, str):
            raise TypeError(f"argument 1 must be str, not {type(topic).__name__}")
        self.topic = topic
        self.new_total_count = _int_arg(new_total_count)
        self.replica_assignment = replica_assignment

    def _key(self) -> tuple[str, int]:
        return (self.topic, self.new_total_count)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NewPartitions) and self._key() == other._key()

    def __lt__(self, other: NewPartitions) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"NewPartitions(topic={self.topic},new_total_count={self.new_total_count})"

    __str__ = __repr__


def _int_arg(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
    return value


class ConfigEntry:
    """One config property: described by `describe_configs`, or an incremental change."""

    def __init__(
        self,
        name: str,
        value: str | None,
        source: ConfigSource = ConfigSource.UNKNOWN_CONFIG,
        is_read_only: bool = False,
        is_default: bool = False,
        is_sensitive: bool = False,
        is_synonym: bool = False,
        synonyms: dict[str, ConfigEntry] | None = None,
        incremental_operation: AlterConfigOpType | None = None,
    ) -> None:
        self.name = name
        self.value = value
        self.source = source
        self.is_read_only = bool(is_read_only)
        self.is_default = bool(is_default)
        self.is_sensitive = bool(is_sensitive)
        self.is_synonym = bool(is_synonym)
        self.synonyms: dict[str, ConfigEntry] = synonyms if synonyms is not None else {}
        self.incremental_operation = incremental_operation

    def __repr__(self) -> str:
        return f'ConfigEntry({self.name}="{self.value}")'

    def __str__(self) -> str:
        return f'{self.name}="{self.value}"'


@functools.total_ordering
class ConfigResource:
    """A resource with configuration: a topic (by name) or a broker (by id, as text)."""

    Type = ResourceType

    def __init__(
        self,
        restype: ResourceType | str | int,
        name: str,
        set_config: dict[str, str] | None = None,
        described_configs: dict[str, ConfigEntry] | None = None,
        error: KafkaError | None = None,
        incremental_configs: list[ConfigEntry] | None = None,
    ) -> None:
        if name is None:
            raise ValueError("Expected resource name to be a string")
        if isinstance(restype, str):
            try:
                restype = ResourceType[restype.upper()]
            except KeyError:
                raise ValueError(
                    f'Unknown resource type "{restype}": should be a ConfigResource.Type'
                ) from None
        elif not isinstance(restype, ResourceType):
            restype = ResourceType(restype)
        self.restype = restype
        self.restype_int = int(restype.value)
        self.name = name
        self.set_config_dict: dict[str, str] = dict(set_config or {})
        self.incremental_configs: list[ConfigEntry] = list(incremental_configs or [])
        self.configs = described_configs
        self.error = error

    def __repr__(self) -> str:
        if self.error is not None:
            return f"ConfigResource({self.restype},{self.name},{self.error!r})"
        return f"ConfigResource({self.restype},{self.name})"

    def __hash__(self) -> int:
        return hash((self.restype, self.name))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConfigResource):
            return NotImplemented
        return (self.restype, self.name) == (other.restype, other.name)

    def __lt__(self, other: ConfigResource) -> bool:
        return (self.restype.value, self.name) < (other.restype.value, other.name)

    def __len__(self) -> int:
        return len(self.set_config_dict)

    def set_config(self, name: str, value: str, overwrite: bool = True) -> None:
        """Set a value for `alter_configs` (kept for compatibility)."""
        if overwrite or name not in self.set_config_dict:
            self.set_config_dict[name] = value

    def add_incremental_config(self, config_entry: ConfigEntry) -> None:
        """Add a change (its `incremental_operation` says which) for `incremental_alter_configs`."""
        self.incremental_configs.append(config_entry)


class OffsetSpec:
    """Which offset `list_offsets` looks up: earliest, latest, max timestamp, or a time."""

    _EARLIEST: Final = -2
    _LATEST: Final = -1
    _MAX_TIMESTAMP: Final = -3

    def __init__(self, index: int) -> None:
        if index < 0 and index not in (self._EARLIEST, self._LATEST, self._MAX_TIMESTAMP):
            raise KeyError(index)
        self._value = index

    @classmethod
    def earliest(cls) -> OffsetSpec:
        return cls(cls._EARLIEST)

    @classmethod
    def latest(cls) -> OffsetSpec:
        return cls(cls._LATEST)

    @classmethod
    def max_timestamp(cls) -> OffsetSpec:
        return cls(cls._MAX_TIMESTAMP)

    @classmethod
    def for_timestamp(cls, timestamp: int) -> OffsetSpec:
        """The first offset whose timestamp is at or after `timestamp` (ms)."""
        return cls(timestamp)

    @property
    def timestamp(self) -> int | None:
        """The time looked up, for a `for_timestamp` spec."""
        return self._value if self._value >= 0 else None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OffsetSpec) and self._value == other._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __lt__(self, other: OffsetSpec) -> bool:
        return self._value < other._value

    def __repr__(self) -> str:
        names = {-2: "earliest()", -1: "latest()", -3: "max_timestamp()"}
        return f"OffsetSpec.{names.get(self._value, f'for_timestamp({self._value})')}"


class ConsumerGroupTopicPartitions:
    """A group and some of its partitions (None: all), for the group-offset requests."""

    def __init__(self, group_id: str, topic_partitions: list[TopicPartition] | None = None) -> None:
        self.group_id = group_id
        self.topic_partitions = topic_partitions

    def __repr__(self) -> str:
        return f"ConsumerGroupTopicPartitions({self.group_id!r}, {self.topic_partitions!r})"


# -- result types ---------------------------------------------------------------------------


class ListOffsetsResultInfo:
    """`list_offsets`' answer for one partition (timestamp -1 for earliest and latest)."""

    def __init__(self, offset: int, timestamp: int, leader_epoch: int) -> None:
        self.offset = offset
        self.timestamp = timestamp
        self.leader_epoch: int | None = leader_epoch if leader_epoch >= 0 else None

    def __repr__(self) -> str:
        return (
            f"ListOffsetsResultInfo(offset={self.offset}, timestamp={self.timestamp}, "
            f"leader_epoch={self.leader_epoch})"
        )


class DeletedRecords:
    """`delete_records`' answer: the partition's new low watermark (log start offset)."""

    def __init__(self, low_watermark: int) -> None:
        self.low_watermark = low_watermark

    def __repr__(self) -> str:
        return f"DeletedRecords(low_watermark={self.low_watermark})"


class Node:
    """A broker: id, host, port, rack."""

    def __init__(self, id: int, host: str, port: int, rack: str | None = None) -> None:
        self.id = id
        self.id_string = str(id)
        self.host = host
        self.port = port
        self.rack = rack

    def __str__(self) -> str:
        rack = f"(Rack - {self.rack})" if self.rack else ""
        return f"({self.id}) {self.host}:{self.port} {rack}"

    def __repr__(self) -> str:
        return f"Node({self.id}, {self.host}:{self.port})"


class ConsumerGroupListing:
    """One group in `list_consumer_groups`' answer."""

    def __init__(
        self,
        group_id: str,
        is_simple_consumer_group: bool,
        state: ConsumerGroupState | str | int | None = None,
        type: ConsumerGroupType | str | int | None = None,
    ) -> None:
        self.group_id = group_id
        self.is_simple_consumer_group = is_simple_consumer_group
        self.state = None if state is None else _to_enum(state, ConsumerGroupState)
        self.type = None if type is None else _to_enum(type, ConsumerGroupType)

    def __repr__(self) -> str:
        return f"ConsumerGroupListing({self.group_id!r}, state={self.state})"


class ListConsumerGroupsResult:
    """`list_consumer_groups`' answer: the groups, and errors from brokers that failed."""

    def __init__(
        self,
        valid: list[ConsumerGroupListing] | None = None,
        errors: list[Exception] | None = None,
    ) -> None:
        self.valid = valid
        self.errors = errors


class MemberAssignment:
    """The partitions assigned to one group member."""

    def __init__(self, topic_partitions: list[TopicPartition] | None) -> None:
        self.topic_partitions = topic_partitions or []

    def __repr__(self) -> str:
        return f"MemberAssignment({self.topic_partitions!r})"


class MemberDescription:
    """One member of a described group."""

    def __init__(
        self,
        member_id: str,
        client_id: str,
        host: str,
        assignment: MemberAssignment,
        group_instance_id: str | None = None,
        target_assignment: MemberAssignment | None = None,
    ) -> None:
        self.member_id = member_id
        self.client_id = client_id
        self.host = host
        self.assignment = assignment
        self.target_assignment = target_assignment
        self.group_instance_id = group_instance_id

    def __repr__(self) -> str:
        return f"MemberDescription({self.member_id!r}, client_id={self.client_id!r})"


class ConsumerGroupDescription:
    """`describe_consumer_groups`' answer for one group."""

    def __init__(
        self,
        group_id: str,
        is_simple_consumer_group: bool,
        members: list[MemberDescription],
        partition_assignor: str,
        state: ConsumerGroupState | str | int | None,
        coordinator: Node,
        authorized_operations: list[Any] | None = None,
        type: ConsumerGroupType | str | int = ConsumerGroupType.UNKNOWN,
    ) -> None:
        self.group_id = group_id
        self.is_simple_consumer_group = is_simple_consumer_group
        self.members = members
        self.partition_assignor = partition_assignor
        self.state = None if state is None else _to_enum(state, ConsumerGroupState)
        self.coordinator = coordinator
        self.authorized_operations = authorized_operations or None
        self.type = _to_enum(type, ConsumerGroupType)

    def __repr__(self) -> str:
        return (
            f"ConsumerGroupDescription({self.group_id!r}, state={self.state}, "
            f"members={len(self.members)})"
        )


# -- the client -----------------------------------------------------------------------------

_PENDING: Final = object()
"""What a request step returns while it waits (for a reply, or for brokers to catch up)."""

_POLL_MS = 10
_MAX_TIMEOUT_MS = 3_600_000
# Worth retrying within the request timeout: a leader or coordinator is moving or starting.
_RETRY: Final = frozenset(
    {
        ErrorCode.LEADER_NOT_AVAILABLE,
        ErrorCode.NOT_LEADER_OR_FOLLOWER,
        ErrorCode.COORDINATOR_NOT_AVAILABLE,
        ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
        ErrorCode.NOT_COORDINATOR,
        ErrorCode.NOT_CONTROLLER,
        ErrorCode.REQUEST_TIMED_OUT,
    }
)
_GROUP_STATES = {
    "Empty": ConsumerGroupState.EMPTY,
    "PreparingRebalance": ConsumerGroupState.PREPARING_REBALANCING,
    "CompletingRebalance": ConsumerGroupState.COMPLETING_REBALANCING,
    "Stable": ConsumerGroupState.STABLE,
    "Dead": ConsumerGroupState.DEAD,
}
_LIST_CONFIGS = frozenset({"cleanup.policy"})
_MEMBER_HOST = "/127.0.0.1"  # members connect from inside this process

Step = Callable[[bool], object]
"""One attempt at a request on the cluster's thread; the argument says the deadline passed.
Returns the result, `_PENDING` to be called again, or raises (KafkaApiError is retried when
its code is in `_RETRY`)."""


class AdminClient:
    """Kafka's admin API with confluent-kafka's signatures, answered by an in-kernel cluster."""

    def __init__(self, conf: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        # librdkafka runs an admin client on a producer handle: it accepts a producer's config.
        self._config = ProducerConfig.from_dict(conf or {}, **kwargs)
        self._cluster: Cluster = connect(self._config.bootstrap_servers)

    # -- topics ----------------------------------------------------------------------------

    def create_topics(
        self,
        new_topics: list[NewTopic],
        *,
        operation_timeout: float = 0,
        request_timeout: float | None = None,
        validate_only: bool = False,
    ) -> dict[str, ClusterFuture[None]]:
        """Create topics; each future gives None once the topic's partitions have leaders."""
        _non_empty_list(new_topics, NewTopic, "Expected non-empty list of NewTopic objects")
        self._timeout_ms("operation_timeout", operation_timeout)
        jobs: dict[str, tuple[ClusterFuture[Any], Step]] = {}
        for new in new_topics:
            step = _failing(_invalid_arg("Duplicate topics not allowed"))
            if new.topic not in jobs:
                step = self._create_topic_step(new, validate_only)
            jobs[new.topic] = (ClusterFuture(self._cluster), step)
        return self._launch(jobs, request_timeout)

    def _create_topic_step(self, new: NewTopic, validate_only: bool) -> Step:
        created = False

        def step(last: bool) -> object:
            nonlocal created
            core = self._cluster.core
            if not created:
                placed = (
                    None
                    if new.replica_assignment is None
                    else [tuple(r) for r in new.replica_assignment]
                )
                partitions = None if new.num_partitions == -1 else new.num_partitions
                factor = None if new.replication_factor == -1 else new.replication_factor
                core.create_topic(
                    new.topic,
                    partitions,
                    factor,
                    new.config,
                    validate_only=validate_only,
                    assignment=placed,
                )
                if validate_only:
                    return None
                created = True
            return None if last or _leaders_ready(core, new.topic) else _PENDING

        return step

    def delete_topics(
        self,
        topics: list[str],
        *,
        operation_timeout: float = 0,
        request_timeout: float | None = None,
    ) -> dict[str, ClusterFuture[None]]:
        """Delete topics; each future gives None once every running broker has dropped it."""
        if not isinstance(topics, list):
            raise TypeError(f"argument 1 must be list, not {type(topics).__name__}")
        _non_empty_list(topics, str, "Expected non-empty list of topic strings")
        self._timeout_ms("operation_timeout", operation_timeout)
        jobs: dict[str, tuple[ClusterFuture[Any], Step]] = {}
        for topic in topics:
            step = _failing(_invalid_arg("Duplicate topics not allowed"))
            if topic not in jobs:
                step = self._delete_topic_step(topic)
            jobs[topic] = (ClusterFuture(self._cluster), step)
        return self._launch(jobs, request_timeout)

    def _delete_topic_step(self, topic: str) -> Step:
        deleted = False

        def step(last: bool) -> object:
            nonlocal deleted
            core = self._cluster.core
            if not deleted:
                core.delete_topic(topic)
                deleted = True
            gone = all(topic not in b.metadata.image.topics for b in core.brokers.values())
            return None if last or gone else _PENDING

        return step

    def create_partitions(
        self,
        new_partitions: list[NewPartitions],
        *,
        operation_timeout: float = 0,
        request_timeout: float | None = None,
        validate_only: bool = False,
    ) -> dict[str, ClusterFuture[None]]:
        """Grow topics; each future gives None once the new partitions have leaders."""
        _non_empty_list(
            new_partitions, NewPartitions, "Expected non-empty list of NewPartitions objects"
        )
        self._timeout_ms("operation_timeout", operation_timeout)
        jobs: dict[str, tuple[ClusterFuture[Any], Step]] = {}
        for new in new_partitions:
            step = _failing(_invalid_arg("Duplicate topics not allowed"))
            if new.topic not in jobs:
                step = self._create_partitions_step(new, validate_only)
            jobs[new.topic] = (ClusterFuture(self._cluster), step)
        return self._launch(jobs, request_timeout)

    def _create_partitions_step(self, new: NewPartitions, validate_only: bool) -> Step:
        created = False

        def step(last: bool) -> object:
            nonlocal created
            core = self._cluster.core
            if not created:
                placed = (
                    None
                    if new.replica_assignment is None
                    else [tuple(r) for r in new.replica_assignment]
                )
                if validate_only:
                    core.create_partitions(
                        new.topic, new.new_total_count, validate_only=True, assignment=placed
                    )
                    return None
                core.create_partitions(new.topic, new.new_total_count, assignment=placed)
                created = True
            return None if last or _leaders_ready(core, new.topic) else _PENDING

        return step

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> ClusterMetadata:
        """Brokers and topics (or one topic) as the cluster's metadata has them now."""
        try:
            return cluster_metadata(self._cluster, topic)
        except (KStreamNbError, RuntimeError) as exc:
            if isinstance(exc, KafkaException):
                raise
            raise KafkaException(KafkaError(KafkaError._TRANSPORT, str(exc))) from None

    # -- configs ---------------------------------------------------------------------------

    def describe_configs(
        self, resources: list[ConfigResource], *, request_timeout: float | None = None
    ) -> dict[ConfigResource, ClusterFuture[dict[str, ConfigEntry]]]:
        """Every config of each topic or broker, by name, with where its value comes from."""
        _non_empty_list(
            resources, ConfigResource, "Expected non-empty list of ConfigResource objects"
        )
        too_many = sum(1 for r in resources if r.restype == ResourceType.BROKER) > 1
        jobs: dict[ConfigResource, tuple[ClusterFuture[Any], Step]] = {}
        for resource in resources:
            step = (
                _failing(
                    KafkaException(
                        KafkaError(
                            KafkaError._CONFLICT,
                            "Only one ConfigResource of type BROKER is allowed per call",
                        )
                    )
                )
                if too_many
                else self._describe_config_step(resource)
            )
            jobs[resource] = (ClusterFuture(self._cluster), step)
        return self._launch(jobs, request_timeout)

    def _describe_config_step(self, resource: ConfigResource) -> Step:
        def step(last: bool) -> object:
            core = self._cluster.core
            if resource.restype == ResourceType.TOPIC:
                return _topic_config_entries(core, resource.name)
            if resource.restype == ResourceType.BROKER:
                return _broker_config_entries(core, _broker_id(core, resource))
            raise _unsupported_resource(resource)

        return step

    def incremental_alter_configs(
        self,
        resources: list[ConfigResource],
        *,
        request_timeout: float | None = None,
        validate_only: bool = False,
        broker: int | None = None,
    ) -> dict[ConfigResource, ClusterFuture[None]]:
        """Apply SET, DELETE, APPEND and SUBTRACT changes to topic configs, atomically per topic.

        DELETE removes an override (the broker default applies again). Broker configs are fixed
        at `Cluster.start`.
        """
        if not isinstance(resources, list):
            raise TypeError("Expected list of ConfigResource")
        for resource in resources:
            if not isinstance(resource, ConfigResource):
                raise TypeError(f"Expected list of {ConfigResource!r}")
            if not resource.incremental_configs:
                raise ValueError(
                    "expected non-empty list of ConfigEntry to alter incrementally in "
                    "incremental_configs field"
                )
            for entry in resource.incremental_configs:
                if not isinstance(entry, ConfigEntry):
                    raise TypeError("Expected list of ConfigEntry in incremental_configs")
                if not isinstance(entry.incremental_operation, AlterConfigOpType):
                    raise TypeError("incremental_operation must be an AlterConfigOpType")
                if entry.incremental_operation != AlterConfigOpType.DELETE and (
                    entry.value is None
                ):
                    raise TypeError("Required attribute .value missing")
        jobs: dict[ConfigResource, tuple[ClusterFuture[Any], Step]] = {}
        for resource in resources:
            jobs[resource] = (
                ClusterFuture(self._cluster),
                self._alter_config_step(resource, validate_only),
            )
        return self._launch(jobs, request_timeout)

    def _alter_config_step(self, resource: ConfigResource, validate_only: bool) -> Step:
        target: dict[str, str] | None = None

        def step(last: bool) -> object:
            nonlocal target
            core = self._cluster.core
            if resource.restype == ResourceType.BROKER:
                _broker_id(core, resource)
                raise _not_implemented(
                    "broker configs cannot change while the cluster runs; pass them to "
                    "Cluster.start(config={...}) instead"
                )
            if resource.restype != ResourceType.TOPIC:
                raise _unsupported_resource(resource)
            name = resource.name
            if target is None:
                image = core.image.topics.get(name)
                if image is None:
                    raise _unknown_topic(name)
                new = _altered_overrides(core, name, image.config, resource.incremental_configs)
                if validate_only:
                    return None
                if new != image.config:
                    core.alter_topic_config(name, new, replace=True)
                target = new
            seen = all(
                (t := b.metadata.image.topics.get(name)) is None or t.config == target
                for b in core.brokers.values()
            )
            return None if last or seen else _PENDING

        return step

    # -- consumer groups -------------------------------------------------------------------

    def list_consumer_groups(
        self,
        *,
        request_timeout: float | None = None,
        states: set[ConsumerGroupState] | None = None,
        types: set[ConsumerGroupType] | None = None,
    ) -> ClusterFuture[ListConsumerGroupsResult]:
        """Every consumer group on every running broker (Dead groups only when asked for)."""
        if states is not None:
            if not isinstance(states, set):
                raise TypeError("'states' must be a set")
            if not all(isinstance(s, ConsumerGroupState) for s in states):
                raise TypeError("All elements of states must be of type ConsumerGroupState")
        if types is not None:
            if not isinstance(types, set):
                raise TypeError("'types' must be a set")
            if not all(isinstance(t, ConsumerGroupType) for t in types):
                raise TypeError("All elements of types must be of type ConsumerGroupType")

        def step(last: bool) -> object:
            listings: dict[str, ConsumerGroupListing] = {}
            for broker in self._cluster.core.brokers.values():
                for group_id, protocol_type, state_name in broker.groups.list_groups():
                    state = _GROUP_STATES.get(state_name, ConsumerGroupState.UNKNOWN)
                    if protocol_type not in ("consumer", "") or group_id in listings:
                        continue
                    if (state not in states) if states else state == ConsumerGroupState.DEAD:
                        continue
                    if types and ConsumerGroupType.CLASSIC not in types:
                        continue
                    listings[group_id] = ConsumerGroupListing(
                        group_id, protocol_type == "", state, ConsumerGroupType.CLASSIC
                    )
            return ListConsumerGroupsResult([listings[g] for g in sorted(listings)], [])

        future: ClusterFuture[ListConsumerGroupsResult] = ClusterFuture(self._cluster)
        self._launch({None: (future, step)}, request_timeout)
        return future

    def describe_consumer_groups(
        self,
        group_ids: list[str],
        *,
        request_timeout: float | None = None,
        include_authorized_operations: bool = False,
    ) -> dict[str, ClusterFuture[ConsumerGroupDescription]]:
        """Members, assignments, state and coordinator of each group."""
        if not isinstance(group_ids, list):
            raise TypeError("Expected input to be list of group ids to be described")
        if not group_ids:
            raise ValueError("Expected at least one group to be described")
        jobs: dict[str, tuple[ClusterFuture[Any], Step]] = {}
        for group_id in group_ids:
            jobs[group_id] = (ClusterFuture(self._cluster), self._describe_group_step(group_id))
        return self._launch(jobs, request_timeout)

    def _describe_group_step(self, group_id: str) -> Step:
        def step(last: bool) -> object:
            coordinator, _ = self._cluster.core.group_coordinator(group_id)
            described = coordinator.describe(group_id)
            if described is None or described.state == "Dead":
                raise KafkaApiError(
                    f"group {group_id!r} does not exist; list_consumer_groups() shows the "
                    "groups there are",
                    code=ErrorCode.GROUP_ID_NOT_FOUND,
                )
            return self._group_description(described)

        return step

    def _group_description(self, described: GroupDescription) -> ConsumerGroupDescription:
        members = [
            MemberDescription(
                m.member_id,
                m.client_id,
                _MEMBER_HOST,
                MemberAssignment([TopicPartition(t, p) for t, p in m.assignment]),
                m.group_instance_id,
            )
            for m in described.members
        ]
        return ConsumerGroupDescription(
            described.group_id,
            described.protocol_type == "",
            members,
            described.protocol or "",
            _GROUP_STATES.get(described.state, ConsumerGroupState.UNKNOWN),
            self._node(described.coordinator),
            type=ConsumerGroupType.CLASSIC,
        )

    def _node(self, broker_id: int) -> Node:
        cluster = self._cluster
        address = cluster.bootstrap_servers.split(",")[cluster.broker_ids.index(broker_id)]
        host, _, port = address.rpartition(":")
        return Node(broker_id, host, int(port), cluster.core.racks.get(broker_id))

    def list_consumer_group_offsets(
        self,
        list_consumer_group_offsets_request: list[ConsumerGroupTopicPartitions],
        *,
        require_stable: bool = False,
        request_timeout: float | None = None,
    ) -> dict[str, ClusterFuture[ConsumerGroupTopicPartitions]]:
        """A group's committed offsets (OFFSET_INVALID where none is committed)."""
        requests = list_consumer_group_offsets_request
        _check_group_request(requests, "listing", offsets_given=False)
        jobs: dict[str, tuple[ClusterFuture[Any], Step]] = {}
        for request in requests:
            jobs[request.group_id] = (
                ClusterFuture(self._cluster),
                self._list_group_offsets_step(request),
            )
        return self._launch(jobs, request_timeout)

    def _list_group_offsets_step(self, request: ConsumerGroupTopicPartitions) -> Step:
        group_id = request.group_id

        def step(last: bool) -> object:
            coordinator, _ = self._cluster.core.group_coordinator(group_id)
            asked = request.topic_partitions
            wanted = None if asked is None else [(tp.topic, tp.partition) for tp in asked]
            committed = coordinator.committed(group_id, wanted)
            keys = sorted(committed) if wanted is None else wanted
            partitions = []
            for topic, partition in keys:
                found = committed.get((topic, partition))
                if found is None:
                    partitions.append(TopicPartition._make(topic, partition, OFFSET_INVALID))
                else:
                    partitions.append(
                        TopicPartition._make(
                            topic,
                            partition,
                            found.offset,
                            found.metadata or None,
                            found.leader_epoch,
                        )
                    )
            return ConsumerGroupTopicPartitions(group_id, partitions)

        return step

    def alter_consumer_group_offsets(
        self,
        alter_consumer_group_offsets_request: list[ConsumerGroupTopicPartitions],
        *,
        request_timeout: float | None = None,
    ) -> dict[str, ClusterFuture[ConsumerGroupTopicPartitions]]:
        """Commit offsets for a group with no active members (as `kafka-consumer-groups
        --reset-offsets` does)."""
        requests = alter_consumer_group_offsets_request
        _check_group_request(requests, "altering", offsets_given=True)
        jobs: dict[str, tuple[ClusterFuture[Any], Step]] = {}
        for request in requests:
            future: ClusterFuture[Any] = ClusterFuture(self._cluster)
            jobs[request.group_id] = (future, self._alter_group_offsets_step(request, future))
        return self._launch(jobs, request_timeout)

    def _alter_group_offsets_step(
        self, request: ConsumerGroupTopicPartitions, future: ClusterFuture[Any]
    ) -> Step:
        group_id = request.group_id
        partitions = list(request.topic_partitions or [])
        offsets = {
            (tp.topic, tp.partition): OffsetAndMetadata(
                tp.offset, tp.metadata or "", -1 if tp.leader_epoch is None else tp.leader_epoch
            )
            for tp in partitions
        }
        sent = False

        def answered(error: ErrorCode) -> None:
            nonlocal sent
            if future.done():
                return
            if error == ErrorCode.NONE:
                future.set_result(
                    ConsumerGroupTopicPartitions(
                        group_id,
                        [
                            TopicPartition._make(
                                tp.topic, tp.partition, tp.offset, tp.metadata, tp.leader_epoch
                            )
                            for tp in partitions
                        ],
                    )
                )
            elif error in _RETRY:
                sent = False  # the next step sends it again, to the new coordinator
            else:
                future.set_exception(KafkaException(from_error_code(error)))

        def step(last: bool) -> object:
            nonlocal sent
            if sent:
                return _PENDING
            coordinator, index = self._cluster.core.group_coordinator(group_id)
            described = coordinator.describe(group_id)
            if described is not None and described.members:
                raise KafkaApiError(
                    f"group {group_id!r} has {len(described.members)} active member(s); stop "
                    "its consumers (close them) before altering its offsets",
                    code=ErrorCode.UNKNOWN_MEMBER_ID,
                )
            sent = True
            coordinator.commit(group_id, index, -1, "", offsets, answered)
            return _PENDING

        return step

    def delete_consumer_groups(
        self, group_ids: list[str], *, request_timeout: float | None = None
    ) -> dict[str, ClusterFuture[None]]:
        """Delete groups without members, with their committed offsets."""
        if not isinstance(group_ids, list):
            raise TypeError("Expected input to be list of group ids to be deleted")
        if not group_ids:
            raise ValueError("Expected at least one group to be deleted")
        for group_id in group_ids:
            if not isinstance(group_id, str):
                raise ValueError(f"Expected list of {str!r}")
        jobs: dict[str, tuple[ClusterFuture[Any], Step]] = {}
        for group_id in group_ids:
            jobs[group_id] = (ClusterFuture(self._cluster), self._delete_group_step(group_id))
        return self._launch(jobs, request_timeout)

    def _delete_group_step(self, group_id: str) -> Step:
        def step(last: bool) -> object:
            coordinator, _ = self._cluster.core.group_coordinator(group_id)
            error = coordinator.delete(group_id)
            if error == ErrorCode.NON_EMPTY_GROUP:
                raise KafkaApiError(
                    f"group {group_id!r} still has members; close its consumers first",
                    code=error,
                )
            if error == ErrorCode.GROUP_ID_NOT_FOUND:
                raise KafkaApiError(
                    f"group {group_id!r} does not exist; list_consumer_groups() shows the "
                    "groups there are",
                    code=error,
                )
            if error != ErrorCode.NONE:
                raise KafkaApiError(f"deleting group {group_id!r} failed", code=error)
            return None

        return step

    # -- offsets and records ---------------------------------------------------------------

    def list_offsets(
        self,
        topic_partition_offsets: dict[TopicPartition, OffsetSpec],
        *,
        isolation_level: IsolationLevel | None = None,
        request_timeout: float | None = None,
    ) -> dict[TopicPartition, ClusterFuture[ListOffsetsResultInfo]]:
        """The earliest, latest, max-timestamp or at-a-time offset of each partition."""
        if not isinstance(topic_partition_offsets, dict):
            raise TypeError(
                "Expected topic_partition_offsets to be dict of [TopicPartitions,OffsetSpec] "
                "for list offsets request"
            )
        for tp, spec in topic_partition_offsets.items():
            _check_partition(tp)
            if spec is None:
                raise TypeError("OffsetSpec cannot be None")
            if not isinstance(spec, OffsetSpec):
                raise TypeError("Value must be a OffsetSpec")
        if isolation_level is not None and not isinstance(isolation_level, IsolationLevel):
            raise TypeError("isolation_level argument should be an IsolationLevel")
        jobs: dict[TopicPartition, tuple[ClusterFuture[Any], Step]] = {}
        for tp, spec in topic_partition_offsets.items():
            key = TopicPartition(tp.topic, tp.partition, spec._value)
            jobs[key] = (
                ClusterFuture(self._cluster),
                self._list_offsets_step(tp.topic, tp.partition, spec._value),
            )
        return self._launch(jobs, request_timeout)

    def _list_offsets_step(self, topic: str, partition: int, spec: int) -> Step:
        def step(last: bool) -> object:
            core = self._cluster.core
            error, offset, timestamp = core.list_offsets(topic, partition, spec)
            _raise_for(error, topic, partition)
            epoch = core.leader_epoch_of(topic, partition, offset) if timestamp >= 0 else -1
            return ListOffsetsResultInfo(offset, timestamp, epoch)

        return step

    def delete_records(
        self,
        topic_partition_offsets: list[TopicPartition],
        *,
        request_timeout: float | None = None,
        operation_timeout: float | None = None,
    ) -> dict[TopicPartition, ClusterFuture[DeletedRecords]]:
        """Delete every record before each partition's offset (OFFSET_END: all of them)."""
        if not isinstance(topic_partition_offsets, list):
            raise TypeError(
                f"Expected Request to be a list, got '{type(topic_partition_offsets).__name__}' "
            )
        for tp in topic_partition_offsets:
            if not isinstance(tp, TopicPartition):
                raise TypeError(
                    "Element of the request list must be of type 'TopicPartition' got "
                    f"'{type(tp).__name__}' "
                )
            if tp.partition < 0:
                raise ValueError("'partition' cannot be negative")
        if operation_timeout is not None:
            self._timeout_ms("operation_timeout", operation_timeout)
        jobs: dict[TopicPartition, tuple[ClusterFuture[Any], Step]] = {}
        for tp in topic_partition_offsets:
            step = _failing(_invalid_arg("Duplicate partitions not allowed"))
            if tp not in jobs:
                step = self._delete_records_step(tp.topic, tp.partition, tp.offset)
            jobs[tp] = (ClusterFuture(self._cluster), step)
        return self._launch(jobs, request_timeout)

    def _delete_records_step(self, topic: str, partition: int, offset: int) -> Step:
        def step(last: bool) -> object:
            error, low_watermark = self._cluster.core.delete_records(topic, partition, offset)
            _raise_for(error, topic, partition)
            return DeletedRecords(low_watermark)

        return step

    # -- running requests on the cluster ---------------------------------------------------

    def _timeout_ms(self, name: str, seconds: float | None) -> int:
        """A timeout argument in ms (None or <= 0: socket.timeout.ms), checked as librdkafka."""
        if seconds is None:
            return self._config.socket_timeout_ms
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise TypeError(f'"{name}" must be a number of seconds')
        ms = int(seconds * 1000)
        if ms < -1 or ms > _MAX_TIMEOUT_MS:
            raise ValueError(
                f'Invalid value type for "{name}": expecting integer in range -1..{_MAX_TIMEOUT_MS}'
            )
        return ms if ms > 0 else self._config.socket_timeout_ms

    def _launch(
        self, jobs: dict[Any, tuple[ClusterFuture[Any], Step]], request_timeout: float | None
    ) -> dict[Any, Any]:
        """Start every job on the cluster's thread; each retries until `request_timeout`."""
        timeout_ms = self._timeout_ms("request_timeout", request_timeout)
        cluster = self._cluster
        loop = cluster._loop

        def run(future: ClusterFuture[Any], step: Step, deadline: int) -> None:
            if future.done():
                return
            last = loop.now_ms() >= deadline
            try:
                value = step(last)
            except KafkaApiError as exc:
                if exc.code in _RETRY and not last:
                    loop.call_later(_POLL_MS, lambda: run(future, step, deadline))
                else:
                    future.set_exception(KafkaException(from_api_error(exc)))
                return
            except Exception as exc:  # KafkaException, or a bug: the caller sees it either way
                future.set_exception(exc)
                return
            if value is not _PENDING:
                if not future.done():
                    future.set_result(value)
            elif last:
                future.set_exception(
                    KafkaException(
                        KafkaError(
                            KafkaError._TIMED_OUT,
                            f"no answer within {timeout_ms} ms; try a longer request_timeout",
                        )
                    )
                )
            else:
                loop.call_later(_POLL_MS, lambda: run(future, step, deadline))

        def start() -> None:
            deadline = loop.now_ms() + timeout_ms
            for future, step in jobs.values():
                run(future, step, deadline)

        try:
            cluster._call(start)
        except (KStreamNbError, RuntimeError) as exc:  # the cluster stopped
            error = KafkaException(KafkaError(KafkaError._TRANSPORT, str(exc)))
            for future, _ in jobs.values():
                if not future.done():
                    future.set_exception(error)
        return {key: future for key, (future, _) in jobs.items()}

    def __repr__(self) -> str:
        return f"AdminClient({self._config.bootstrap_servers!r})"


# -- helpers (run on the cluster's thread) --------------------------------------------------


def _non_empty_list(items: object, kind: type, message: str) -> None:
    if not isinstance(items, list) or not items:
        raise ValueError(message)
    for item in items:
        if not isinstance(item, kind):
            raise TypeError(f"Expected list of {kind.__name__} objects, got {type(item).__name__}")


def _check_partition(tp: object) -> None:
    if tp is None:
        raise TypeError("partition cannot be None")
    if not isinstance(tp, TopicPartition):
        raise TypeError("partition must be a TopicPartition")
    if not tp.topic:
        raise ValueError("partition topic name cannot be empty")
    if tp.partition < 0:
        raise ValueError("partition index must be non-negative")


def _check_group_request(
    requests: object, action: str, *, offsets_given: bool
) -> list[ConsumerGroupTopicPartitions]:
    """confluent-kafka's checks of a list/alter consumer group offsets request."""
    if requests is None:
        raise TypeError("request cannot be None")
    if not isinstance(requests, list):
        raise TypeError("request must be a list")
    if len(requests) != 1:
        raise ValueError(f"Currently we support {action} offsets for a single consumer group only")
    for request in requests:
        if not isinstance(request, ConsumerGroupTopicPartitions):
            raise TypeError("Expected list of 'ConsumerGroupTopicPartitions'")
        if not isinstance(request.group_id, str):
            raise TypeError("'group_id' must be a string")
        if not request.group_id:
            raise ValueError("'group_id' cannot be empty")
        partitions = request.topic_partitions
        if partitions is None:
            if offsets_given:
                raise ValueError("'topic_partitions' cannot be null")
            continue
        if not isinstance(partitions, list):
            raise TypeError("'topic_partitions' must be a list")
        if not partitions:
            raise ValueError("'topic_partitions' cannot be empty")
        for tp in partitions:
            if tp is None:
                raise ValueError("Element of 'topic_partitions' cannot be None")
            if not isinstance(tp, TopicPartition):
                raise TypeError("Element of 'topic_partitions' must be of type TopicPartition")
            if not tp.topic:
                raise ValueError(
                    "Element of 'topic_partitions' must not have 'topic' attribute as Empty"
                )
            if tp.partition < 0:
                raise ValueError(
                    "Element of 'topic_partitions' must not have negative 'partition' value"
                )
            if offsets_given and tp.offset < 0:
                raise ValueError(
                    "Element of 'topic_partitions' must not have negative value for 'offset' field"
                )
            if not offsets_given and tp.offset != OFFSET_INVALID:
                raise ValueError("Element of 'topic_partitions' must not have 'offset' value")
    return requests


def _failing(exc: Exception) -> Step:
    def step(last: bool) -> object:
        raise exc

    return step


def _invalid_arg(message: str) -> KafkaException:
    return KafkaException(KafkaError(KafkaError._INVALID_ARG, message))


def _not_implemented(message: str) -> KafkaException:
    return KafkaException(
        KafkaError(KafkaError._NOT_IMPLEMENTED, f"not supported by kstream_nb: {message}")
    )


def _unknown_topic(name: str) -> KafkaApiError:
    return KafkaApiError(
        f"topic {name!r} does not exist; list_topics() shows the topics there are",
        code=ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    )


def _unsupported_resource(resource: ConfigResource) -> Exception:
    if resource.restype in (ResourceType.UNKNOWN, ResourceType.ANY):
        return KafkaApiError(
            f"{resource.restype} is not a resource type configs belong to; use TOPIC or BROKER",
            code=ErrorCode.INVALID_REQUEST,
        )
    return _not_implemented(f"{resource.restype} configs; use TOPIC or BROKER resources")


def _raise_for(error: ErrorCode, topic: str, partition: int) -> None:
    if error == ErrorCode.NONE:
        return
    if error == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
        message = (
            f"{topic}-{partition} does not exist; list_topics() shows the partitions there are"
        )
    elif error == ErrorCode.OFFSET_OUT_OF_RANGE:
        message = (
            f"the offset is outside {topic}-{partition}; give one between the low and high "
            "watermarks, or OFFSET_END (-1) for all records"
        )
    elif error in (ErrorCode.LEADER_NOT_AVAILABLE, ErrorCode.NOT_LEADER_OR_FOLLOWER):
        message = (
            f"{topic}-{partition} has no leader now; restart a stopped replica, or retry once a "
            "new leader is elected"
        )
    else:
        message = f"{topic}-{partition}: {error.name}"
    raise KafkaApiError(message, code=error)


def _leaders_ready(core: ClusterCore, topic: str) -> bool:
    """Every partition of `topic` has a running leader that knows it leads."""
    image = core.image.topics.get(topic)
    if image is None:
        return False
    for index, state in image.partitions.items():
        broker = core.brokers.get(state.leader)
        local = broker.partitions.get((topic, index)) if broker is not None else None
        if local is None or not local.is_leader:
            return False
    return True


def _topic_config_entries(core: ClusterCore, name: str) -> dict[str, ConfigEntry]:
    image = core.image.topics.get(name)
    if image is None:
        raise _unknown_topic(name)
    broker_defaults = core.config.topic_defaults()
    effective = LogConfig.from_properties(image.config, broker_defaults).to_properties()
    from_broker = broker_defaults.to_properties()
    kafka_defaults = LogConfig().to_properties()
    entries = {}
    for key, value in effective.items():
        if key in image.config:
            source = ConfigSource.DYNAMIC_TOPIC_CONFIG
        elif from_broker[key] != kafka_defaults[key]:
            source = ConfigSource.STATIC_BROKER_CONFIG  # a `log.*` setting of the cluster
        else:
            source = ConfigSource.DEFAULT_CONFIG
        entries[key] = ConfigEntry(
            key, value, source, is_default=source == ConfigSource.DEFAULT_CONFIG
        )
    return entries


def _broker_id(core: ClusterCore, resource: ConfigResource) -> int:
    try:
        broker_id = int(resource.name)
    except ValueError:
        raise _invalid_arg(
            f"Expected an int32 broker_id for ConfigResource(type=BROKER, name={resource.name})"
        ) from None
    if broker_id not in core.brokers:
        raise KafkaApiError(
            f"broker {broker_id} is not running; brokers are {core.broker_ids}",
            code=ErrorCode.BROKER_NOT_AVAILABLE,
        )
    return broker_id


def _config_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _broker_config_entries(core: ClusterCore, broker_id: int) -> dict[str, ConfigEntry]:
    """The broker's settings by Kafka name; all read-only (fixed at `Cluster.start`)."""
    defaults = BrokerConfig()
    entries = {
        "broker.id": ConfigEntry(
            "broker.id", str(broker_id), ConfigSource.STATIC_BROKER_CONFIG, is_read_only=True
        )
    }
    rack = core.racks.get(broker_id)
    if rack is not None:
        entries["broker.rack"] = ConfigEntry(
            "broker.rack", rack, ConfigSource.STATIC_BROKER_CONFIG, is_read_only=True
        )
    for field in dataclasses.fields(BrokerConfig):
        key = field.name.replace("_", ".")
        value = getattr(core.config, field.name)
        is_default = value == getattr(defaults, field.name)
        source = ConfigSource.DEFAULT_CONFIG if is_default else ConfigSource.STATIC_BROKER_CONFIG
        entries[key] = ConfigEntry(
            key, _config_text(value), source, is_read_only=True, is_default=is_default
        )
    return entries


def _altered_overrides(
    core: ClusterCore, name: str, current: Mapping[str, str], changes: Iterable[ConfigEntry]
) -> dict[str, str]:
    """A topic's overrides after incremental changes, checked as the controller checks them."""
    known = LogConfig().to_properties()
    base = core.config.topic_defaults()
    effective = LogConfig.from_properties(current, base).to_properties()
    new = dict(current)
    seen: set[str] = set()
    for entry in changes:
        key, op = entry.name, entry.incremental_operation
        if key in seen:
            raise KafkaApiError(
                f"config {key!r} appears twice in one request; give each key once",
                code=ErrorCode.INVALID_REQUEST,
            )
        seen.add(key)
        if key not in known:
            raise KafkaApiError(
                f"unknown topic config {key!r}; known keys are: {', '.join(sorted(known))}",
                code=ErrorCode.INVALID_CONFIG,
            )
        if op == AlterConfigOpType.SET:
            new[key] = str(entry.value)
        elif op == AlterConfigOpType.DELETE:
            new.pop(key, None)
        else:
            if key not in _LIST_CONFIGS:
                raise KafkaApiError(
                    f"{op.name if op else op} works on list configs only and {key!r} is not one; "
                    "use SET",
                    code=ErrorCode.INVALID_CONFIG,
                )
            items = [v for v in new.get(key, effective[key]).split(",") if v]
            values = [v.strip() for v in str(entry.value).split(",") if v.strip()]
            if op == AlterConfigOpType.APPEND:
                items += [v for v in values if v not in items]
            else:
                items = [v for v in items if v not in values]
            new[key] = ",".join(items)
    LogConfig.from_properties(new, base)  # INVALID_CONFIG for a bad value
    return new
