"""`LiveChart`: any Altair chart, rendered offline, with rows streamed into one of its datasets.

Altair's own `JupyterChart` resends all the data on every change; a `LiveChart` sends each new
row once (a custom message the front end inserts into the running Vega view) and both sides keep
only the last `window` rows. Rows are made JSON-safe on the way in: datetimes, dates and times
become ISO 8601 strings (`datetime.isoformat()`, as Altair writes DataFrames; a naive datetime is
read by the browser as local time), timedeltas become seconds, NaN and infinities become null,
numpy values their Python ones, and anything else unknown its `str()`.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, Self, TypeAlias

import altair as alt
import anywidget
import traitlets
from ipywidgets import widget_serialization  # type: ignore[import-untyped]

from kstream_nb.clock import parse_duration_ms
from kstream_nb.jupyter.poller import MIN_INTERVAL_S, Poller
from kstream_nb.jupyter.vega import VegaRuntime, runtime

__all__ = ["LiveChart", "Row", "RowSource"]

#: One row: column name -> JSON-safe value.
Row: TypeAlias = dict[str, Any]
#: What `append` takes: a dict, an iterable of dicts, a polars/pandas DataFrame, or None.
Rows: TypeAlias = Any
#: A `source` for polling: returns new rows (as `append` takes them) or None for nothing new.
RowSource: TypeAlias = Callable[[], Any]

_COMPOSITIONS = ("layer", "hconcat", "vconcat", "concat")
_ALTAIR_EMPTY = "empty"  # Altair's placeholder dataset for a chart built with no data
_poller_names = itertools.count(1)


# --- rows ---------------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    """`value` as something JSON carries unchanged (see the module docstring for the rules)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return None if value != value else value.isoformat()  # pandas' NaT is != itself
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return _json_value(float(value))
    if isinstance(value, Enum):
        return _json_value(value.value)
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_value(v) for v in value]
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode()
        except UnicodeDecodeError:
            return bytes(value).hex()
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist) and type(value).__module__ == "numpy":
        return _json_value(tolist())
    return str(value)


def _records(rows: Rows) -> list[Row]:
    """`rows` as a list of JSON-safe dicts; raises TypeError (and keeps nothing) on a non-row."""
    if rows is None:
        return []
    items: Iterable[Any]
    if isinstance(rows, Mapping):
        items = [rows]
    elif callable(getattr(rows, "to_dicts", None)):  # polars
        items = rows.to_dicts()
    elif callable(getattr(rows, "to_dict", None)) and hasattr(rows, "columns"):  # pandas
        items = rows.to_dict("records")
    elif isinstance(rows, Iterable) and not isinstance(rows, str | bytes):
        items = rows
    else:
        raise TypeError(
            f"rows are a dict, a list of dicts or a DataFrame, not {type(rows).__name__}"
        )
    out: list[Row] = []
    for item in items:
        if not isinstance(item, Mapping):
            raise TypeError(f"each row is a dict of column -> value, not {type(item).__name__}")
        out.append({str(k): _json_value(v) for k, v in item.items()})
    return out


# --- spec ---------------------------------------------------------------------------------


def _views(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """`spec` and every view nested in it (layers, concatenations, facet/repeat inner specs)."""
    yield spec
    for key in _COMPOSITIONS:
        children = spec.get(key)
        if isinstance(children, list):
            for child in children:
                if isinstance(child, dict):
                    yield from _views(child)
    inner = spec.get("spec")
    if isinstance(inner, dict):
        yield from _views(inner)


def _inline_rows(values: Any, where: str) -> list[Row]:
    if not isinstance(values, list) or not all(isinstance(v, Mapping) for v in values):
        raise ValueError(
            f"{where} is not a list of records, so it cannot seed a stream; "
            "give the chart rows as dicts (a DataFrame or alt.Data(values=[{...}, ...]))"
        )
    return _records(values)


def _to_spec(chart: Any) -> dict[str, Any]:
    if isinstance(chart, alt.TopLevelMixin):
        return chart.to_dict()
    if isinstance(chart, Mapping):
        return copy.deepcopy(dict(chart))
    raise TypeError(
        f"LiveChart draws an Altair chart or a Vega-Lite spec dict, not {type(chart).__name__}"
    )


def prepare_spec(chart: Any, dataset: str) -> tuple[dict[str, Any], list[Row] | None]:
    """The chart's spec reading `dataset` by name, and the inline rows moved out of it (or None).

    A chart over `alt.Data(name=dataset)` is used as is. A chart over inline rows (a DataFrame,
    `alt.Data(values=...)`: Altair writes `data.values` or a top-level `datasets` entry) has
    that one source renamed to `dataset`, its rows returned so they become the first rows.
    """
    spec = _to_spec(chart)
    datasets = spec.get("datasets")
    if not isinstance(datasets, dict):
        datasets = {}
    holders = [v for v in _views(spec) if isinstance(v.get("data"), dict)]

    def placeholder(name: object) -> bool:
        return name == _ALTAIR_EMPTY and datasets.get(_ALTAIR_EMPTY) == [{}]

    def done(rows: list[Row] | None) -> tuple[dict[str, Any], list[Row] | None]:
        if "datasets" in spec and not datasets:
            del spec["datasets"]
        return spec, rows

    named = [h["data"] for h in holders if h["data"].get("name") == dataset]
    if named:
        rows: list[Row] | None = None
        if dataset in datasets:
            rows = _inline_rows(datasets.pop(dataset), f"datasets[{dataset!r}]")
        for data in named:
            if "values" in data:
                rows = _inline_rows(data.pop("values"), f"the values of dataset {dataset!r}")
        return done(rows)

    # No data goes by that name: adopt the chart's one inline source, if it has exactly one.
    sources: dict[str, list[dict[str, Any]]] = {}
    for holder in holders:
        data = holder["data"]
        if "values" in data:
            key = "values:" + json.dumps(data["values"], sort_keys=True, default=str)
        elif isinstance(data.get("name"), str) and data["name"] in datasets:
            if placeholder(data["name"]):
                continue
            key = "datasets:" + data["name"]
        else:
            continue
        sources.setdefault(key, []).append(data)
    if len(sources) == 1:
        (key, group), rows = next(iter(sources.items())), None
        for data in group:
            if "values" in data:
                rows = _inline_rows(data.pop("values"), "the chart's inline data")
            else:
                rows = _inline_rows(datasets.pop(data.pop("name")), "the chart's inline data")
            data["name"] = dataset
        return done(rows)
    if len(sources) > 1:
        raise ValueError(
            f"the chart has {len(sources)} different inline datasets and LiveChart streams into "
            f"one: build the streamed part over alt.Data(name={dataset!r}) (or pass the name of "
            "the dataset to stream as dataset=...)"
        )
    names = sorted(
        {h["data"]["name"] for h in holders if isinstance(h["data"].get("name"), str)}
        - {_ALTAIR_EMPTY}
    )
    if names:
        raise ValueError(
            f"the chart has no dataset named {dataset!r} (it reads {', '.join(map(repr, names))}):"
            f" pass dataset={names[0]!r}, or build the chart over alt.Data(name={dataset!r})"
        )
    raise ValueError(
        "the chart has no dataset to stream into: build it over a named dataset, e.g. "
        f"alt.Chart(alt.Data(name={dataset!r})), or over sample rows (a DataFrame or "
        "alt.Data(values=[...])) that the stream then extends"
    )


def _shorthand(field: str, default_type: str) -> str:
    """Altair shorthand with a type: named data has no DataFrame for Altair to infer one from."""
    return field if ":" in field else f"{field}:{default_type}"


def _interval_s(interval: str | float) -> float:
    """Seconds between polls: text like "250ms"/"2s", or a number of seconds like the widgets'."""
    if isinstance(interval, bool) or not isinstance(interval, str | int | float):
        raise TypeError(f"interval is text like '500ms' or a number of seconds, not {interval!r}")
    seconds = parse_duration_ms(interval) / 1000 if isinstance(interval, str) else interval
    if not seconds >= 0:
        raise ValueError(f"interval cannot be negative, got {interval!r}")
    return max(MIN_INTERVAL_S, float(seconds))


# --- widget -------------------------------------------------------------------------------


class LiveChart(anywidget.AnyWidget):
    """An Altair chart whose dataset `dataset` grows by `append()`, keeping the last `window` rows.

    Each append sends only its rows to the front end; a poller can feed it from `source`.
    """

    _esm = Path(__file__).parent / "static" / "chart.js"

    #: The Vega-Lite spec drawn; it reads `dataset` by name (inline rows are moved out of it).
    spec = traitlets.Dict().tag(sync=True)
    #: The named dataset rows stream into.
    dataset = traitlets.Unicode("data", read_only=True).tag(sync=True)
    #: How many rows are kept (here and in every view); older rows drop off.
    window = traitlets.Int(1000).tag(sync=True)
    #: Vega's renderer: "svg" or "canvas" (faster for many marks).
    renderer = traitlets.CaselessStrEnum(("svg", "canvas"), default_value="svg").tag(sync=True)
    _runtime = traitlets.Instance(VegaRuntime).tag(sync=True, **widget_serialization)

    def __init__(
        self,
        chart: Any,
        *,
        dataset: str = "data",
        window: int = 1000,
        source: RowSource | None = None,
        interval: str | float = "1s",
        renderer: str = "svg",
        replace: bool = False,
    ) -> None:
        """Draw `chart` (Altair or a spec dict); poll `source` every `interval` if given.

        `interval` is text like "500ms" or "2s", or a number of seconds; at least 0.1 s. With
        `replace`, what `source` returns is the whole dataset (a table's snapshot), not new rows.
        """
        self._replace = replace
        self._poller: Poller | None = None  # first: close() runs from __del__ even on a failure
        self._control = threading.RLock()  # start/stop
        self._lock = threading.RLock()  # rows and the order of the messages that carry them
        window = self._check_window(window)
        self._interval_s = _interval_s(interval)
        spec, rows = prepare_spec(chart, dataset)
        self._rows: deque[Row] = deque(rows or (), maxlen=window)
        self._source = source
        self.set_trait("dataset", dataset)
        super().__init__(spec=spec, window=window, renderer=renderer, _runtime=runtime())
        self.on_msg(self._on_front_end_msg)
        if source is not None:
            self.start()

    @classmethod
    def line(
        cls,
        x: str,
        y: str,
        color: str | None = None,
        title: str | None = None,
        *,
        dataset: str = "data",
        window: int = 1000,
        source: RowSource | None = None,
        interval: str | float = "1s",
        width: int | None = 480,
        height: int | None = 200,
        point: bool = False,
    ) -> Self:
        """A line chart of `y` over `x` (one line per `color`), for throughput and lag over time.

        Fields are Altair shorthand; without a type, x is temporal, y quantitative, color nominal.
        """
        encoding: dict[str, str] = {"x": _shorthand(x, "T"), "y": _shorthand(y, "Q")}
        if color is not None:
            encoding["color"] = _shorthand(color, "N")
        chart = alt.Chart(alt.NamedData(name=dataset)).mark_line(point=point).encode(**encoding)
        props: dict[str, Any] = {}
        if title is not None:
            props["title"] = title
        if width is not None:
            props["width"] = width
        if height is not None:
            props["height"] = height
        if props:
            chart = chart.properties(**props)
        return cls(chart, dataset=dataset, window=window, source=source, interval=interval)

    # --- rows ---

    @property
    def rows(self) -> list[Row]:
        """A copy of the rows kept (the last `window`), oldest first."""
        with self._lock:
            return [dict(row) for row in self._rows]

    def append(self, rows: Rows) -> None:
        """Add a dict, a list of dicts or a DataFrame; only these rows go to the front end.

        Safe to call from any thread: rows from one thread keep their order.
        """
        new = _records(rows)
        if not new:
            return
        with self._lock:
            self._rows.extend(new)
            keep = self._rows.maxlen or len(new)
            self.send({"type": "append", "rows": new[-keep:]})

    def clear(self) -> None:
        """Drop every row, here and in every view."""
        self._reset([])

    def replace(self, rows: Rows) -> None:
        """Make `rows` the whole dataset (e.g. a table that changed), here and in every view."""
        self._reset(_records(rows)[-(self._rows.maxlen or 1) :])

    def _reset(self, rows: list[Row]) -> None:
        with self._lock:
            self._rows.clear()
            self._rows.extend(rows)
            self.send({"type": "reset", "rows": list(self._rows)})

    def _on_front_end_msg(self, _widget: object, content: Any, _buffers: object) -> None:
        # A view (or a page that just loaded the model) asks for the rows it missed.
        if isinstance(content, dict) and content.get("type") == "sync":
            with self._lock:
                self.send({"type": "reset", "rows": list(self._rows)})

    @staticmethod
    def _check_window(window: int) -> int:
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window is the number of rows kept, at least 1, not {window!r}")
        return window

    @traitlets.validate("window")
    def _validate_window(self, proposal: dict[str, Any]) -> int:
        return self._check_window(proposal["value"])

    @traitlets.observe("window")
    def _window_changed(self, change: dict[str, Any]) -> None:
        with self._lock:
            self._rows = deque(self._rows, maxlen=change["new"])

    @traitlets.validate("spec")
    def _validate_spec(self, proposal: dict[str, Any]) -> dict[str, Any]:
        # A new spec carrying its own rows (not over the named dataset) restarts the stream
        # from those rows; a spec over alt.Data(name=dataset) keeps the rows there are.
        spec, rows = prepare_spec(proposal["value"], self.dataset)
        if rows is not None:
            self._reset(rows[-self.window :])
        return spec

    # --- polling ---

    @property
    def running(self) -> bool:
        """Whether a poller thread is calling `source`."""
        poller = self._poller
        return poller is not None and poller.running

    @property
    def error(self) -> BaseException | None:
        """The last exception `source` raised (polling goes on regardless), or None."""
        poller = self._poller
        return None if poller is None else poller.error

    def start(self, source: RowSource | None = None, interval: str | float | None = None) -> Self:
        """Poll `source` (or the one given before) every `interval` on a daemon thread.

        `source()` returns a row, a list of rows, a DataFrame, or None when there is nothing new.
        """
        with self._control:
            if source is not None:
                self._source = source
            if interval is not None:
                self._interval_s = _interval_s(interval)
            if self._source is None:
                raise ValueError(
                    "LiveChart has no source to poll: call start(source=fn), where fn() returns "
                    "a row (dict), a list of rows, or None when there is nothing new"
                )
            self._stop_poller()
            name = f"kstream-nb-chart-{self.dataset}-{next(_poller_names)}"
            self._poller = Poller(self._tick, self._interval_s, name).start()
        return self

    def stop(self) -> None:
        """Stop polling and wait for the poller thread to end."""
        with self._control:
            self._stop_poller()

    def _stop_poller(self) -> None:
        poller = self._poller  # kept once stopped: `error` still tells what went wrong
        if poller is not None:
            poller.stop(timeout=10.0)

    def _tick(self) -> bool | None:
        source = self._source
        if source is None:
            return False
        rows = source()
        if self._replace:
            if rows is not None:
                self.replace(rows)
        else:
            self.append(rows)
        return None

    def close(self) -> None:
        """Stop polling, then close the widget (its views go away)."""
        if getattr(self, "_poller", None) is not None:  # close() also runs from __del__
            self.stop()
        super().close()

    # --- display ---

    def _describe(self, *, rows: bool) -> str:
        count = f", rows={len(self._rows)}" if rows else ""
        return f"LiveChart(dataset={self.dataset!r}{count}, window={self.window})"

    def __repr__(self) -> str:
        return self._describe(rows=True)

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        # The text/plain a saved notebook holds leaves out the row count: a poller may or may
        # not have ticked when the cell displayed the chart, and nbval compares this text.
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        return {**data, "text/plain": self._describe(rows=False)}, metadata
