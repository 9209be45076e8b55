"""`Topic` and `ConsumerGroup`: named handles on a cluster's topics and groups, with rich reprs.

A handle holds only a name; every attribute reads the cluster now, so a handle kept in a notebook
variable never goes stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from kstream_nb.cluster import GroupSnapshot, PartitionSnapshot
from kstream_nb.errors import ErrorCode, KafkaApiError
from kstream_nb.runtime.extensions import analytics
from kstream_nb.runtime.views import group_table, partitions_table
from kstream_nb.table import Table, Tables

if TYPE_CHECKING:
    import msgspec
    import polars as pl

    from kstream_nb.log import Record
    from kstream_nb.runtime.cluster import Cluster

__all__ = ["ConsumerGroup", "Topic"]


class Topic:
    """A topic of a cluster: partitions, offsets, config, newest records."""

    def __init__(self, cluster: Cluster, name: str) -> None:
        self.cluster = cluster
        self.name = name

    @property
    def partitions(self) -> list[PartitionSnapshot]:
        """Leader, replicas, ISR and offsets of each partition, now."""
        found = [p for p in self.cluster.describe().partitions if p.topic == self.name]
        if not found:
            raise KafkaApiError(
                f"topic {self.name!r} does not exist; create it first "
                "(cluster.create_topic or %kafka topic create)",
                code=ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            )
        return found

    @property
    def config(self) -> dict[str, str]:
        """The topic's config overrides (everything else is the broker default)."""
        return self.cluster.topic_configs().get(self.name, {})

    def tail(self, n: int = 10, partition: int | None = None) -> list[tuple[int, Record]]:
        """The newest `n` committed records, as (partition, record), newest first."""
        return self.cluster.tail(self.name, n, partition)

    def scan(
        self,
        *,
        value_format: Literal["raw", "json"] | None = None,
        schema: type[msgspec.Struct] | Mapping[str, Any] | None = None,
        include_control: bool = False,
    ) -> pl.LazyFrame:
        """A Polars LazyFrame of the topic's records as of now: one row per record.

        Bounded by each partition's high watermark when `scan()` is called (what a
        read_uncommitted consumer reading from the start sees). `value_format="json"` (or a
        `schema`: msgspec Struct or Polars schema) adds a typed column per JSON field and
        `value_error` for values that are not JSON objects. Filters on partition, offset and
        timestamp skip whole files.
        """
        frame: pl.LazyFrame = analytics("scan")(
            self.cluster,
            self.name,
            value_format=value_format,
            schema=schema,
            include_control=include_control,
        )
        return frame

    def describe(self) -> Tables:
        self.partitions  # noqa: B018 -- raises a clear error for a missing topic
        config = self.config
        return Tables(
            partitions_table(self.cluster.describe(), self.name),
            Table(["config", "value"], sorted(config.items()), title=f"Config of {self.name}"),
        )

    def __repr__(self) -> str:
        if self.cluster.stopped:
            return f"Topic({self.name!r}, cluster stopped)"
        return str(self.describe())

    def _repr_html_(self) -> str:
        if self.cluster.stopped:
            return f"<code>Topic({self.name!r}, cluster stopped)</code>"
        return self.describe()._repr_html_()


class ConsumerGroup:
    """A consumer group: state, members, assignment, committed offsets and lag."""

    def __init__(self, cluster: Cluster, group_id: str) -> None:
        self.cluster = cluster
        self.group_id = group_id

    def snapshot(self) -> GroupSnapshot:
        for group in self.cluster.groups():
            if group.group_id == self.group_id:
                return group
        down = self.cluster.call(lambda: self.cluster.core.coordinator_down(self.group_id))
        if down is not None:
            index, leader = down
            raise KafkaApiError(
                f"the coordinator of group {self.group_id!r} (the leader of "
                f"__consumer_offsets-{index}, last broker {leader}) is not available: the group "
                "is unknown until a new leader loads it, after the controller fences the dead "
                "broker (broker.session.timeout.ms); retry then",
                code=ErrorCode.COORDINATOR_NOT_AVAILABLE,
            )
        raise KafkaApiError(
            f"there is no consumer group {self.group_id!r} (a group exists once a consumer "
            "with that group.id joins or commits)",
            code=ErrorCode.GROUP_ID_NOT_FOUND,
        )

    @property
    def lag(self) -> int:
        """Total records between the committed offsets and the high watermarks."""
        return self.snapshot().total_lag

    def describe(self) -> Table:
        return group_table(self.snapshot())

    def __repr__(self) -> str:
        if self.cluster.stopped:
            return f"ConsumerGroup({self.group_id!r}, cluster stopped)"
        return str(self.describe())

    def _repr_html_(self) -> str:
        if self.cluster.stopped:
            return f"<code>ConsumerGroup({self.group_id!r}, cluster stopped)</code>"
        return self.describe()._repr_html_()
