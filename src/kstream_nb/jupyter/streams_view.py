"""Live views of a streams application's tables: a chart of a windowed table.

`table_chart(streams, orders_per_hour)` draws one line per key over window starts, redrawn
from the application's store (read through its record cache) whenever the table changed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import altair as alt

from kstream_nb.jupyter.chart import LiveChart
from kstream_nb.streams import KafkaStreams, KTable, Window

__all__ = ["table_chart", "table_rows"]


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
    store = table.store_name if isinstance(table, KTable) else table
    if store is None:
        raise ValueError(
            "this table has no store to read: chart a table read with builder.table() or made "
            "by an aggregation (count, reduce, aggregate)"
        )
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
