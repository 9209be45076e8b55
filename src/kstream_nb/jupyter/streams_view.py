"""Live views of a streams application's tables: a chart of a windowed table.

`table_chart(streams, orders_per_hour)` draws one line per key over window starts, redrawn
from the application's store (read through its record cache) whenever the table changed.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import altair as alt
import anywidget
import traitlets

from kstream_nb.jupyter.chart import LiveChart
from kstream_nb.jupyter.poller import Poller
from kstream_nb.jupyter.widgets import _module
from kstream_nb.streams import KafkaStreams, KTable, Window

__all__ = ["StoreView", "table_chart", "table_rows"]


def _text(key: Any) -> str:
    if isinstance(key, bytes):
        return key.decode(errors="replace")
    return str(key)


def table_rows(streams: KafkaStreams, store: str) -> list[dict[str, Any]]:
    """The table's rows now: key, window start and end (ISO, UTC) and value, oldest first."""
    rows = []
    for key, value in streams.store(store).all():
        if isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], Window):
            inner, window = key
            rows.append(
                {
                    "key": _text(inner),
                    "window_start": _iso(window.start),
                    "window_end": _iso(window.end),
                    "value": value,
                }
            )
        else:
            rows.append({"key": _text(key), "value": value})
    rows.sort(key=lambda r: (r.get("window_start", ""), r["key"]))
    return rows


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).isoformat()


def table_chart(
    streams: KafkaStreams,
    table: KTable | str,
    *,
    title: str | None = None,
    interval: str | float = "1s",
    window: int = 5000,
    width: int = 520,
    height: int = 220,
) -> LiveChart:
    """A live line chart of a windowed table: value per window start, one line per key.

    For a table without windows, one bar per key. Polls the application's store every
    `interval` and redraws only when the table changed.
    """
    store = _store_name(table)
    windowed = streams.topology.stores[store].kind == "window"
    last: list[list[dict[str, Any]] | None] = [None]

    def source() -> list[dict[str, Any]] | None:
        rows = table_rows(streams, store)
        if rows == last[0]:
            return None
        last[0] = rows
        return rows

    data = alt.NamedData(name="table")
    if windowed:
        chart = (
            alt.Chart(data)
            .mark_line(point=True)
            .encode(
                x=alt.X("window_start:T", title="window start"),
                y=alt.Y("value:Q", title=store),
                color="key:N",
            )
        )
    else:
        chart = alt.Chart(data).mark_bar().encode(x="key:N", y=alt.Y("value:Q", title=store))
    chart = chart.properties(width=width, height=height, title=title or store)
    return LiveChart(
        chart, dataset="table", window=window, source=source, interval=interval, replace=True
    )


def _store_name(table: KTable | str) -> str:
    store = table.store_name if isinstance(table, KTable) else table
    if store is None:
        raise ValueError(
            "this table has no store to read: show a table read with builder.table() or made "
            "by an aggregation (count, reduce, aggregate)"
        )
    return store


class StoreView(anywidget.AnyWidget):
    """A streams application's table as a live HTML table: the newest `rows` rows, changed
    values flashing. Refreshed by a poller thread until `close()` or the application stops."""

    _esm = _module("store.js")
    title = traitlets.Unicode("").tag(sync=True)
    columns: traitlets.List[str] = traitlets.List().tag(sync=True)
    rows: traitlets.List[list[Any]] = traitlets.List().tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)
    state = traitlets.Unicode("running").tag(sync=True)

    def __init__(
        self,
        streams: KafkaStreams,
        table: KTable | str,
        *,
        rows: int = 50,
        interval: float = 0.5,
    ) -> None:
        store = _store_name(table)
        super().__init__(title=store)
        self.streams = streams
        self.store = store
        self.limit = rows
        self._lock = threading.Lock()
        self._poller = Poller(self._tick, interval, f"kstream-nb-store-{store}").start()

    def _tick(self) -> bool | None:
        if self.streams.state in ("NOT_RUNNING", "ERROR"):
            self.state = self.streams.state.lower().replace("_", " ")
            return False
        found = table_rows(self.streams, self.store)
        windowed = bool(found) and "window_start" in found[0]
        columns = ["key", "window start", "window end", "value"] if windowed else ["key", "value"]
        fields = ["key", "window_start", "window_end", "value"] if windowed else ["key", "value"]
        shown = [[_cell(r[f]) for f in fields] for r in found[-self.limit :]]
        with self.hold_sync():
            self.columns = columns
            self.rows = shown
            self.total = len(found)
        return None

    def close(self) -> None:
        poller = getattr(self, "_poller", None)
        if poller is not None:
            poller.stop(timeout=5.0)
        super().close()

    def __repr__(self) -> str:
        return f"StoreView({self.store!r}, rows={self.total})"


def _cell(value: Any) -> str:
    """A table cell: text as it is, anything else as JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)
