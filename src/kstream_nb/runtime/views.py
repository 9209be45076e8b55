"""Tables of what a cluster holds, shared by reprs, magics and widgets (one wording everywhere)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import msgspec

from kstream_nb.cluster import ClusterEvent, ClusterSnapshot, GroupSnapshot, PartitionSnapshot
from kstream_nb.table import Table

__all__ = [
    "broker_rows",
    "brokers_table",
    "event_summary",
    "events_table",
    "format_time",
    "group_table",
    "groups_table",
    "leader_offsets",
    "partitions_table",
    "topics_table",
    "visible_partitions",
]


def format_time(ms: int) -> str:
    """Epoch milliseconds as UTC `YYYY-MM-DD HH:MM:SS.mmm` (what tables and widgets show)."""
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}"


def is_internal(topic: str) -> bool:
    return topic.startswith("__")


def leader_offsets(p: PartitionSnapshot) -> tuple[int, int, int] | None:
    """(log start, high watermark, log end) at the leader, or None while it is offline."""
    for replica in p.replica_states:
        if replica.broker_id == p.leader and replica.online:
            return replica.log_start_offset, replica.high_watermark, replica.log_end_offset
    return None


def partition_mark(p: PartitionSnapshot) -> str | None:
    if p.offline:
        return "offline"
    if p.under_replicated:
        return "under-replicated"
    return None


def broker_rows(snapshot: ClusterSnapshot, isolated: Iterable[int] = ()) -> list[dict[str, Any]]:
    """Each broker: id, status (up, down, fenced, or isolated by the network), controller,
    rack and how many partitions it leads."""
    cut_off = set(isolated)
    return [
        {
            "id": b.broker_id,
            "status": "isolated" if b.broker_id in cut_off and b.status != "down" else b.status,
            "controller": b.is_controller,
            "rack": b.rack,
            "leaders": sum(1 for p in snapshot.partitions if p.leader == b.broker_id),
        }
        for b in snapshot.brokers
    ]


def visible_partitions(
    snapshot: ClusterSnapshot, topics: Collection[str] | None = None, *, internal: bool = False
) -> list[PartitionSnapshot]:
    """The partitions of `topics`, or of every topic (internal ones only when asked)."""
    if topics is not None:
        return [p for p in snapshot.partitions if p.topic in topics]
    return [p for p in snapshot.partitions if internal or not is_internal(p.topic)]


def brokers_table(
    snapshot: ClusterSnapshot, isolated: Iterable[int] = (), bootstrap: str | None = None
) -> Table:
    rows = [
        (b["id"], b["status"], "yes" if b["controller"] else "", b["rack"], b["leaders"])
        for b in broker_rows(snapshot, isolated)
    ]
    return Table(
        ["broker", "status", "controller", "rack", "leaders"],
        rows,
        title="Brokers",
        footer=f"bootstrap.servers={bootstrap}" if bootstrap else None,
        marks=[None if r[1] == "up" else str(r[1]) for r in rows],
    )


def partitions_table(
    snapshot: ClusterSnapshot, topic: str | None = None, *, internal: bool = False
) -> Table:
    rows, marks = [], []
    for p in visible_partitions(snapshot, None if topic is None else (topic,), internal=internal):
        offsets = leader_offsets(p)
        start, hw, end = offsets if offsets else (None, None, None)
        leader = p.leader if not p.offline else "none"
        rows.append(
            (p.topic, p.partition, leader, p.leader_epoch, p.replicas, p.isr, start, hw, end)
        )
        marks.append(partition_mark(p))
    return Table(
        [
            "topic",
            "partition",
            "leader",
            "epoch",
            "replicas",
            "isr",
            "log start",
            "high watermark",
            "log end",
        ],
        rows,
        title=f"Partitions of {topic}" if topic else "Partitions",
        marks=marks,
    )


def topics_table(
    snapshot: ClusterSnapshot, configs: Mapping[str, Mapping[str, str]], *, internal: bool = False
) -> Table:
    by_topic: dict[str, list[PartitionSnapshot]] = {}
    for p in snapshot.partitions:
        if internal or not is_internal(p.topic):
            by_topic.setdefault(p.topic, []).append(p)
    rows, marks = [], []
    for name, parts in sorted(by_topic.items()):
        records = 0
        for p in parts:
            offsets = leader_offsets(p)
            if offsets:
                records += offsets[1] - offsets[0]
        rf = max((len(p.replicas) for p in parts), default=0)
        config = ",".join(f"{k}={v}" for k, v in sorted(configs.get(name, {}).items()))
        rows.append((name, len(parts), rf, records, config))
        bad = [partition_mark(p) for p in parts if partition_mark(p)]
        marks.append(f"{len(bad)} partition(s) {bad[0]}" if bad else None)
    return Table(
        ["topic", "partitions", "replication factor", "records", "config"],
        rows,
        title="Topics",
        marks=marks,
    )


def group_table(group: GroupSnapshot) -> Table:
    rows = [
        (o.topic, o.partition, o.owner, o.committed, o.high_watermark, o.lag) for o in group.offsets
    ]
    members = ", ".join(
        m.member_id + (f" ({m.group_instance_id})" if m.group_instance_id else "")
        for m in group.members
    )
    return Table(
        ["topic", "partition", "member", "committed", "high watermark", "lag"],
        rows,
        title=(
            f"Group {group.group_id}: {group.state}, generation {group.generation}, "
            f"protocol {group.protocol or '-'}, coordinator {group.coordinator}"
        ),
        footer=f"members: {members or '(none)'}; total lag {group.total_lag}",
    )


def groups_table(groups: Sequence[GroupSnapshot]) -> Table:
    return Table(
        ["group", "state", "generation", "protocol", "members", "coordinator", "lag"],
        [
            (
                g.group_id,
                g.state,
                g.generation,
                g.protocol,
                len(g.members),
                g.coordinator,
                g.total_lag,
            )
            for g in groups
        ],
        title="Consumer groups",
    )


def event_summary(event: ClusterEvent) -> str:
    """`key=value` pairs of an event, without its time (one line for tables and widgets)."""
    fields = msgspec.to_builtins(event)
    return ", ".join(
        f"{k}={v}" for k, v in fields.items() if k not in ("time_ms", "type") and v not in ("", ())
    )


def events_table(events: Sequence[ClusterEvent]) -> Table:
    return Table(
        ["time", "event", "details"],
        [(format_time(e.time_ms), type(e).__name__, event_summary(e)) for e in events],
        title="Cluster events",
    )
