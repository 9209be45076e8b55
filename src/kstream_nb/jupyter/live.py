"""Live charts of a cluster: a topic's offsets and throughput, a group's lag, over time.

Each is a few `LiveChart`s fed by one `ClusterFeed`: the cluster publishes a snapshot, the feed's
thread turns it into rows and appends them; only new rows travel to the page.
"""

from __future__ import annotations

from typing import Any

import ipywidgets  # type: ignore[import-untyped]

from kstream_nb.cluster import ClusterCore, ClusterSnapshot, GroupSnapshot
from kstream_nb.jupyter.chart import LiveChart
from kstream_nb.jupyter.widgets import ClusterFeed
from kstream_nb.runtime import Cluster
from kstream_nb.runtime.views import leader_offsets

__all__ = ["LagChart", "LagView", "TopicView"]


class TopicView(ipywidgets.VBox):  # type: ignore[misc]
    """Offsets per partition over time, and messages per second, of one topic."""

    def __init__(
        self, cluster: Cluster, topic: str, *, interval: float = 0.5, window: int = 600
    ) -> None:
        cluster.topic(topic).partitions  # noqa: B018 -- a missing topic fails here, clearly
        self.cluster = cluster
        self.topic = topic
        self.offsets = LiveChart.line(
            "time",
            "high watermark",
            color="partition",
            title=f"{topic}: high watermark per partition",
            window=window,
        )
        self.throughput = LiveChart.line(
            "time", "messages/s", title=f"{topic}: messages per second", window=window
        )
        self._previous: tuple[int, int] | None = None  # (time ms, total high watermark)
        super().__init__([self.offsets, self.throughput])
        self._feed = ClusterFeed(
            cluster, lambda core: core.describe(), interval, self._update, lambda: None, "topic"
        )

    def _update(self, snapshot: ClusterSnapshot) -> None:
        rows, total = [], 0
        for p in snapshot.partitions:
            offsets = leader_offsets(p) if p.topic == self.topic else None
            if offsets is None:
                continue
            total += offsets[1]
            rows.append(
                {
                    "time": snapshot.time_ms,
                    "partition": str(p.partition),
                    "high watermark": offsets[1],
                    "log end offset": offsets[2],
                }
            )
        self.offsets.append(rows)
        previous, self._previous = self._previous, (snapshot.time_ms, total)
        if previous is not None and snapshot.time_ms > previous[0]:
            rate = (total - previous[1]) * 1000 / (snapshot.time_ms - previous[0])
            self.throughput.append({"time": snapshot.time_ms, "messages/s": round(rate, 1)})

    @property
    def running(self) -> bool:
        return self._feed.running

    def close(self) -> None:
        # Also runs from __del__ after a failed __init__: close only what was made.
        for part in ("_feed", "offsets", "throughput"):
            made = self.__dict__.get(part)
            if made is not None:
                made.close()
        super().close()

    def __repr__(self) -> str:
        return f"TopicView(topic {self.topic!r})"


class LagChart(LiveChart):
    """A consumer group's lag per partition over time (committed offset to high watermark)."""

    def __init__(
        self, cluster: Cluster, group_id: str, *, interval: float = 0.5, window: int = 600
    ) -> None:
        chart = LiveChart.line(
            "time", "lag", color="partition", title=f"lag of group {group_id}", window=window
        )
        super().__init__(chart.spec, window=window)
        chart.close()
        self.cluster = cluster
        self.group_id = group_id

        def probe(core: ClusterCore) -> tuple[int, GroupSnapshot | None]:
            found = next((g for g in core.describe_groups() if g.group_id == group_id), None)
            return core.timers.now_ms(), found

        self._feed = ClusterFeed(cluster, probe, interval, self._update, lambda: None, "lag")

    def _update(self, latest: tuple[int, GroupSnapshot | None]) -> None:
        now, group = latest
        if group is None:
            return
        self.append(
            [
                {"time": now, "partition": f"{o.topic}-{o.partition}", "lag": o.lag}
                for o in group.offsets
                if o.lag is not None
            ]
        )

    @property
    def feeding(self) -> bool:
        return self._feed.running

    def close(self) -> None:
        feed = getattr(self, "_feed", None)
        if feed is not None:
            feed.close()
        super().close()

    def __repr__(self) -> str:
        return f"LagChart(group {self.group_id!r})"

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        return {**data, "text/plain": repr(self)}, metadata


class LagView(ipywidgets.VBox):  # type: ignore[misc]
    """A consumer group's members, assignment and lag table, above its lag over time."""

    def __init__(self, cluster: Cluster, group_id: str, *, interval: float = 0.25) -> None:
        from kstream_nb.jupyter.widgets import GroupView

        self.group_id = group_id
        self.group = GroupView(cluster, group_id, interval=interval)
        self.chart = LagChart(cluster, group_id, interval=max(interval, 0.5))
        super().__init__([self.group, self.chart])

    def close(self) -> None:
        for part in ("group", "chart"):
            made = self.__dict__.get(part)
            if made is not None:
                made.close()
        super().close()

    def __repr__(self) -> str:
        return f"LagView(group {self.group_id!r})"
