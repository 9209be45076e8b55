"""Live widgets over a cluster: dashboard, tail, consumer group and event log (anywidget).

Each widget asks the cluster to publish one probe (`Cluster.watch`), reads the newest result on
its own poller thread at most about 10 times a second, and pushes only what changed to the page.
The cluster never waits for a widget; a widget stops when it is closed or its cluster stops.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from importlib import resources
from typing import Any, ClassVar

import anywidget
import msgspec
import traitlets

from kstream_nb.cluster import ClusterCore, ClusterEvent, ClusterSnapshot, GroupSnapshot
from kstream_nb.cluster.events import GroupRebalanceCompleted
from kstream_nb.jupyter.poller import Poller
from kstream_nb.log import Record
from kstream_nb.runtime import Cluster
from kstream_nb.runtime.cluster import tail_records
from kstream_nb.runtime.views import (
    broker_rows,
    event_summary,
    format_time,
    leader_offsets,
    partition_mark,
    visible_partitions,
)
from kstream_nb.table import text_of

__all__ = [
    "ClusterWidget",
    "Dashboard",
    "EventLog",
    "GroupView",
    "Tail",
    "record_row",
    "render_text",
    "render_value",
]

_names = itertools.count(1)


def _module(name: str) -> str:
    """A widget's ES module: the shared helpers followed by the widget's own file."""
    static = resources.files("kstream_nb.jupyter") / "static"
    return (static / "common.js").read_text() + "\n" + (static / name).read_text()


def render_text(data: bytes | None) -> str:
    """A key or value on one line: text as written, else hex (for tables)."""
    return "null" if data is None else text_of(data)


def render_value(data: bytes | None) -> str:
    """A key or value as a person reads it: pretty JSON, else text, else hex."""
    if data is None:
        return "null"
    text = text_of(data)
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    if isinstance(parsed, (dict, list)):
        return json.dumps(parsed, indent=2, ensure_ascii=False)
    return text


class ClusterFeed:
    """One cluster watch read by one poller thread: `on_update(latest)` when it changed.

    Ends by itself when the cluster stops (`on_stop` runs then) or when `close()` is called.
    """

    def __init__(
        self,
        cluster: Cluster,
        probe: Callable[[ClusterCore], Any],
        interval: float,
        on_update: Callable[[Any], None],
        on_stop: Callable[[], None],
        name: str,
    ) -> None:
        self._watch = cluster.watch(probe, f"{max(1, int(interval * 1000))}ms")
        self._on_update = on_update
        self._on_stop = on_stop
        self._seen = self._watch.version
        if self._watch.latest is not None:
            on_update(self._watch.latest)
        self._poller = Poller(self._tick, interval, f"kstream-nb-{name}-{next(_names)}")
        self._poller.start()

    def _tick(self) -> bool:
        watch = self._watch
        if watch.closed:
            self._on_stop()
            return False
        if watch.version != self._seen:
            self._seen = watch.version
            if watch.latest is not None:
                self._on_update(watch.latest)
        return True

    @property
    def running(self) -> bool:
        return self._poller.running

    def close(self) -> None:
        self._poller.stop()
        self._watch.close()


class ClusterWidget(anywidget.AnyWidget):
    """Base: fed by one `ClusterFeed`; `state` = running | stopped."""

    state = traitlets.Unicode("running").tag(sync=True)
    #: Seconds between refreshes (at least 0.1: about 10 updates a second at most).
    interval: ClassVar[float] = 0.25

    def __init__(
        self,
        cluster: Cluster,
        probe: Callable[[ClusterCore], Any],
        *,
        interval: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.cluster = cluster
        self._feed = ClusterFeed(
            cluster,
            probe,
            self.interval if interval is None else interval,
            self._refresh,
            self._stopped,
            type(self).__name__.lower(),
        )

    def _stopped(self) -> None:
        self.state = "stopped"

    def _refresh(self, latest: Any) -> None:
        with self.hold_sync():
            self.update(latest)

    def update(self, latest: Any) -> None:
        """Set traits from the probe's newest result (runs on the poller thread)."""
        raise NotImplementedError

    @property
    def running(self) -> bool:
        """Whether the poller thread still refreshes this widget."""
        return self._feed.running

    def close(self) -> None:
        """Stop refreshing, release the watch and close the widget in the page."""
        feed = getattr(self, "_feed", None)  # None: __init__ failed before the thread
        if feed is not None:
            feed.close()
        super().close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe_target()})"

    def describe_target(self) -> str:
        return f"cluster at {self.cluster.bootstrap_servers}"


class Dashboard(ClusterWidget):
    """Brokers and partitions: leaders, replicas, ISR, offsets; changes flash as they happen."""

    _esm = _module("dashboard.js")
    brokers: traitlets.List[dict[str, Any]] = traitlets.List().tag(sync=True)
    partitions: traitlets.List[dict[str, Any]] = traitlets.List().tag(sync=True)
    time = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        cluster: Cluster,
        *,
        topics: list[str] | None = None,
        internal: bool = False,
        interval: float | None = None,
    ) -> None:
        self.topics = topics
        self.internal = internal
        network = cluster.network
        super().__init__(
            cluster, lambda core: (core.describe(), network.isolated), interval=interval
        )

    def update(self, latest: tuple[ClusterSnapshot, frozenset[int]]) -> None:
        snapshot, isolated = latest
        partitions = []
        for p in visible_partitions(snapshot, self.topics, internal=self.internal):
            offsets = leader_offsets(p)
            start, hw, end = offsets if offsets else (None, None, None)
            partitions.append(
                {
                    "topic": p.topic,
                    "partition": p.partition,
                    "leader": p.leader,
                    "epoch": p.leader_epoch,
                    "replicas": list(p.replicas),
                    "isr": list(p.isr),
                    "log_start": start,
                    "high_watermark": hw,
                    "log_end": end,
                    "mark": partition_mark(p) or "",
                }
            )
        self.brokers = broker_rows(snapshot, isolated)
        self.partitions = partitions
        self.time = format_time(snapshot.time_ms)


def record_row(
    partition: int, record: Record, render: Callable[[bytes | None], str] = render_value
) -> dict[str, Any]:
    """One record as the tail shows it (a missing key stays None; a tombstone reads null)."""
    return {
        "partition": partition,
        "offset": record.offset,
        "timestamp": format_time(record.timestamp),
        "key": None if record.key is None else render(record.key),
        "value": render(record.value),
        "headers": ", ".join(f"{k}={render(v)}" for k, v in record.headers),
    }


class Tail(ClusterWidget):
    """The newest records of a topic (key, pretty value, headers, partition, offset, time)."""

    _esm = _module("tail.js")
    topic = traitlets.Unicode().tag(sync=True)
    records: traitlets.List[dict[str, Any]] = traitlets.List().tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)

    def __init__(
        self, cluster: Cluster, topic: str, *, rows: int = 20, interval: float | None = None
    ) -> None:
        self.rows = rows
        cluster.topic(topic).partitions  # noqa: B018 -- a missing topic fails here, clearly

        def probe(core: ClusterCore) -> tuple[list[tuple[int, Record]], int]:
            total = 0
            for p in core.describe().partitions:
                offsets = leader_offsets(p) if p.topic == topic else None
                if offsets:
                    total += offsets[1] - offsets[0]
            return tail_records(core, topic, rows), total

        super().__init__(cluster, probe, interval=interval, topic=topic)

    def update(self, latest: tuple[list[tuple[int, Record]], int]) -> None:
        found, total = latest
        self.records = [record_row(p, r) for p, r in found]
        self.total = total

    def describe_target(self) -> str:
        return f"topic {self.topic!r}, newest {self.rows}"


class EventLog(ClusterWidget):
    """The cluster's events as they happen (the `__kstream_events` topic), newest first."""

    _esm = _module("events.js")
    events: traitlets.List[dict[str, Any]] = traitlets.List().tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)

    def __init__(self, cluster: Cluster, *, rows: int = 50, interval: float | None = None) -> None:
        self.rows = rows
        super().__init__(
            cluster, lambda core: (len(core.events), core.events[-rows:]), interval=interval
        )

    def update(self, latest: tuple[int, list[ClusterEvent]]) -> None:
        total, events = latest
        first = total - len(events)
        self.events = [
            {
                "index": first + i,
                "time": format_time(e.time_ms),
                "type": type(e).__name__,
                "details": event_summary(e),
            }
            for i, e in enumerate(events)
        ]
        self.total = total

    def describe_target(self) -> str:
        return f"newest {self.rows} events"


def _group_state(group: GroupSnapshot | None) -> dict[str, Any]:
    if group is None:
        return {}
    return {
        "state": group.state,
        "generation": group.generation,
        "protocol": group.protocol,
        "coordinator": group.coordinator,
        "total_lag": group.total_lag,
        "members": [
            {
                "member_id": m.member_id,
                "instance": m.group_instance_id,
                "partitions": [f"{t}-{p}" for t, p in m.assignment],
            }
            for m in group.members
        ],
        "offsets": [
            {
                "tp": f"{o.topic}-{o.partition}",
                "owner": o.owner,
                "committed": o.committed,
                "high_watermark": o.high_watermark,
                "lag": o.lag,
            }
            for o in group.offsets
        ],
    }


class GroupView(ClusterWidget):
    """A consumer group: members, assignment, committed offset and lag, rebalance timeline."""

    _esm = _module("group.js")
    group_id = traitlets.Unicode().tag(sync=True)
    group = traitlets.Dict().tag(sync=True)
    timeline: traitlets.List[dict[str, Any]] = traitlets.List().tag(sync=True)

    def __init__(
        self,
        cluster: Cluster,
        group_id: str,
        *,
        generations: int = 8,
        interval: float | None = None,
    ) -> None:
        self.generations = generations

        def probe(
            core: ClusterCore,
        ) -> tuple[GroupSnapshot | None, list[GroupRebalanceCompleted]]:
            group = next((g for g in core.describe_groups() if g.group_id == group_id), None)
            done = [
                e
                for e in core.events
                if isinstance(e, GroupRebalanceCompleted) and e.group_id == group_id
            ]
            return group, done[-generations:]

        super().__init__(cluster, probe, interval=interval, group_id=group_id)

    def update(self, latest: tuple[GroupSnapshot | None, list[GroupRebalanceCompleted]]) -> None:
        group, done = latest
        self.group = _group_state(group)
        self.timeline = [
            {
                "generation": e.generation,
                "time": format_time(e.time_ms),
                "duration_ms": e.duration_ms,
                "reason": e.reason,
                "assignment": {m: [f"{t}-{p}" for t, p in tps] for m, tps in e.assignment.items()},
            }
            for e in done
        ]

    def describe_target(self) -> str:
        return f"group {self.group_id!r}"


def snapshot_json(snapshot: ClusterSnapshot) -> str:
    """A snapshot as JSON (for debugging a widget from Python)."""
    return msgspec.json.encode(snapshot).decode()
