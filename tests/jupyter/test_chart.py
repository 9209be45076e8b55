"""LiveChart from Python: spec handling, only new rows on the wire, windows, threads, polling."""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import json
import math
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import altair as alt
import comm
import pytest
import traitlets
from comm.base_comm import BaseComm

from kstream_nb.jupyter.chart import LiveChart
from kstream_nb.jupyter.vega import VegaRuntime, runtime

POINTS = [{"x": 1, "y": 10}, {"x": 2, "y": 20}, {"x": 3, "y": 30}]


class RecordingComm(BaseComm):
    """A comm that keeps what it would have published to the front end."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.published: list[tuple[str, Any]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(
        self,
        msg_type: str,
        data: Any = None,
        metadata: Any = None,
        buffers: Any = None,
        **keys: Any,
    ) -> None:
        self.published.append((msg_type, data))


@pytest.fixture(autouse=True)
def recording_comms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(comm, "create_comm", RecordingComm)


@pytest.fixture
def make() -> Iterator[Callable[..., LiveChart]]:
    """Build LiveCharts that are closed (and their pollers joined) at the end of the test."""
    charts: list[LiveChart] = []

    def build(chart: Any = None, **kwargs: Any) -> LiveChart:
        if chart is None:
            chart = alt.Chart(alt.NamedData(name=kwargs.get("dataset", "data"))).mark_point()
        made = LiveChart(chart, **kwargs)
        charts.append(made)
        return made

    yield build
    for chart in charts:
        chart.close()


def customs(chart: LiveChart) -> list[dict[str, Any]]:
    """The custom messages `chart` sent to its front end, oldest first."""
    assert isinstance(chart.comm, RecordingComm)
    return [
        data["content"]
        for msg_type, data in chart.comm.published
        if msg_type == "comm_msg" and data.get("method") == "custom"
    ]


def from_front_end(chart: LiveChart, content: dict[str, Any]) -> None:
    """Deliver `content` as the front end's `model.send(content)` would."""
    data = {"method": "custom", "content": content}
    chart.comm.handle_msg({"content": {"comm_id": chart.model_id, "data": data}, "buffers": []})


def pollers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("kstream-nb-chart")]


def scatter(data: Any) -> alt.Chart:
    return alt.Chart(data).mark_point().encode(x="x:Q", y="y:Q")


# --- spec ---------------------------------------------------------------------------------


def test_a_chart_over_the_named_dataset_is_drawn_as_is(make: Callable[..., LiveChart]) -> None:
    chart = make(scatter(alt.Data(name="data")))
    assert chart.spec["data"] == {"name": "data"}
    assert chart.spec["encoding"]["x"] == {"field": "x", "type": "quantitative"}
    assert chart.rows == []
    named = make(scatter(alt.NamedData(name="metrics")), dataset="metrics")
    assert named.spec["data"] == {"name": "metrics"}
    assert named.dataset == "metrics"


def test_inline_values_move_into_the_streamed_dataset(make: Callable[..., LiveChart]) -> None:
    chart = make(scatter(alt.Data(values=POINTS)))
    assert chart.spec["data"] == {"name": "data"}
    assert "values" not in json.dumps(chart.spec)
    assert chart.rows == POINTS
    chart.append({"x": 4, "y": 40})
    assert chart.rows == [*POINTS, {"x": 4, "y": 40}]


def test_altairs_datasets_form_moves_into_the_streamed_dataset(
    make: Callable[..., LiveChart],
) -> None:
    source = scatter(alt.InlineData(values=POINTS))
    assert "datasets" in source.to_dict()  # Altair names it data-<hash> at the top level
    chart = make(source)
    assert chart.spec["data"] == {"name": "data"}
    assert "datasets" not in chart.spec
    assert chart.rows == POINTS


def test_a_spec_dict_with_the_named_dataset_inline_gives_its_rows(
    make: Callable[..., LiveChart],
) -> None:
    spec = {
        "data": {"name": "ticks"},
        "datasets": {"ticks": POINTS, "other": [{"a": 1}]},
        "mark": "point",
        "encoding": {"x": {"field": "x", "type": "quantitative"}},
    }
    chart = make(spec, dataset="ticks")
    assert chart.rows == POINTS
    assert chart.spec["datasets"] == {"other": [{"a": 1}]}
    assert spec["datasets"]["ticks"] == POINTS  # the caller's dict is not touched


def test_a_layer_sharing_inline_data_streams_into_it(make: Callable[..., LiveChart]) -> None:
    line = alt.Chart(alt.Data(values=POINTS)).mark_line().encode(x="x:Q", y="y:Q")
    chart = make(line + line.mark_point())  # Altair hoists the shared data to the top
    assert chart.spec["data"] == {"name": "data"}
    assert "values" not in json.dumps(chart.spec)
    assert chart.rows == POINTS
    spec = {"layer": [{"data": {"values": POINTS}, "mark": m} for m in ("line", "point")]}
    layered = make(spec)
    assert [layer["data"] for layer in layered.spec["layer"]] == [{"name": "data"}] * 2
    assert layered.rows == POINTS


def test_a_static_layer_next_to_the_named_dataset_stays(make: Callable[..., LiveChart]) -> None:
    rule = alt.Chart(alt.Data(values=[{"limit": 25}])).mark_rule().encode(y="limit:Q")
    chart = make(scatter(alt.Data(name="data")) + rule)
    assert chart.spec["layer"][0]["data"] == {"name": "data"}
    assert chart.spec["layer"][1]["data"] == {"values": [{"limit": 25}]}
    assert chart.rows == []


def test_window_keeps_the_last_inline_rows(make: Callable[..., LiveChart]) -> None:
    assert make(scatter(alt.Data(values=POINTS)), window=2).rows == POINTS[-2:]


@pytest.mark.parametrize(
    ("chart", "dataset", "says"),
    [
        (alt.Chart().mark_point().encode(x="x:Q"), "data", "alt.Chart(alt.Data(name='data'))"),
        (scatter("https://example.com/data.csv"), "data", "no dataset to stream into"),
        (scatter(alt.Data(name="other")), "data", "pass dataset='other'"),
        ({"data": {"name": "a"}, "mark": "point"}, "b", "no dataset named 'b'"),
        (
            scatter(alt.Data(values=POINTS)) + scatter(alt.Data(values=[{"x": 9, "y": 9}])),
            "data",
            "2 different inline datasets",
        ),
        ({"data": {"values": "x,y\n1,2"}, "mark": "point"}, "data", "not a list of records"),
    ],
)
def test_a_chart_with_no_dataset_to_stream_into_is_refused(
    chart: Any, dataset: str, says: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        LiveChart(chart, dataset=dataset)


def test_not_a_chart_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="Altair chart or a Vega-Lite spec dict"):
        LiveChart(42)


def test_dataset_is_fixed_after_construction(make: Callable[..., LiveChart]) -> None:
    chart = make()
    with pytest.raises(traitlets.TraitError):
        chart.dataset = "other"  # type: ignore[misc]


def test_a_new_spec_with_rows_restarts_from_them(make: Callable[..., LiveChart]) -> None:
    chart = make(scatter(alt.Data(name="data")))
    chart.append(POINTS)
    chart.spec = scatter(alt.Data(name="data")).mark_line().to_dict()
    assert chart.rows == POINTS  # over the named dataset: the stream goes on
    chart.spec = scatter(alt.Data(values=[{"x": 0, "y": 0}])).to_dict()
    assert chart.spec["data"] == {"name": "data"}
    assert chart.rows == [{"x": 0, "y": 0}]
    assert customs(chart)[-1] == {"type": "reset", "rows": [{"x": 0, "y": 0}]}
    with pytest.raises(ValueError, match="no dataset named 'data'"):
        chart.spec = scatter(alt.Data(name="elsewhere")).to_dict()


def test_line_builds_a_time_series_over_the_named_dataset(
    make: Callable[..., LiveChart],
) -> None:
    chart = LiveChart.line("time", "lag", color="partition", title="lag", window=7)
    try:
        spec = chart.spec
        assert spec["mark"]["type"] == "line"
        assert spec["data"] == {"name": "data"}
        assert spec["title"] == "lag"
        assert spec["encoding"]["x"] == {"field": "time", "type": "temporal"}
        assert spec["encoding"]["y"] == {"field": "lag", "type": "quantitative"}
        assert spec["encoding"]["color"] == {"field": "partition", "type": "nominal"}
        assert chart.window == 7
    finally:
        chart.close()
    typed = LiveChart.line("offset:Q", "n:O", dataset="m", width=None, height=None)
    try:
        assert typed.spec["encoding"]["x"]["type"] == "quantitative"
        assert typed.spec["encoding"]["y"]["type"] == "ordinal"
        assert typed.spec["data"] == {"name": "m"}
        assert "width" not in typed.spec
    finally:
        typed.close()


# --- rows on the wire ---------------------------------------------------------------------


def test_append_sends_only_the_new_rows(make: Callable[..., LiveChart]) -> None:
    chart = make(scatter(alt.Data(values=POINTS)))
    chart.append({"x": 4, "y": 40})
    chart.append([{"x": 5, "y": 50}, {"x": 6, "y": 60}])
    chart.append([])
    chart.append(None)
    assert customs(chart) == [
        {"type": "append", "rows": [{"x": 4, "y": 40}]},
        {"type": "append", "rows": [{"x": 5, "y": 50}, {"x": 6, "y": 60}]},
    ]
    assert len(chart.rows) == 6
    assert "values" not in json.dumps(chart.get_state())  # the spec never carries the rows


def test_the_state_refers_to_the_runtime_not_the_bundle(make: Callable[..., LiveChart]) -> None:
    chart = make()
    state = chart.get_state()
    assert state["_runtime"] == f"IPY_MODEL_{runtime().model_id}"
    assert len(json.dumps(state)) < 20_000  # the esm and the spec; not 900 KB of Vega


def test_a_sync_request_is_answered_with_the_current_rows(
    make: Callable[..., LiveChart],
) -> None:
    chart = make(scatter(alt.Data(values=POINTS)), window=3)
    chart.append({"x": 4, "y": 40})
    from_front_end(chart, {"type": "sync"})
    assert customs(chart)[-1] == {"type": "reset", "rows": [*POINTS[1:], {"x": 4, "y": 40}]}
    from_front_end(chart, {"type": "something else"})
    assert len(customs(chart)) == 2


def test_clear_drops_every_row_everywhere(make: Callable[..., LiveChart]) -> None:
    chart = make(scatter(alt.Data(values=POINTS)))
    chart.clear()
    assert chart.rows == []
    assert customs(chart) == [{"type": "reset", "rows": []}]


def test_window_trims_rows_and_the_batch_sent(make: Callable[..., LiveChart]) -> None:
    chart = make(window=3)
    chart.append([{"n": n} for n in range(5)])
    assert chart.rows == [{"n": 2}, {"n": 3}, {"n": 4}]
    assert customs(chart) == [{"type": "append", "rows": [{"n": 2}, {"n": 3}, {"n": 4}]}]
    chart.append({"n": 5})
    assert chart.rows == [{"n": 3}, {"n": 4}, {"n": 5}]
    chart.window = 2
    assert chart.rows == [{"n": 4}, {"n": 5}]
    chart.window = 10
    chart.append({"n": 6})
    assert len(chart.rows) == 3
    for bad in (0, -1):
        with pytest.raises((ValueError, traitlets.TraitError)):
            chart.window = bad
    with pytest.raises(ValueError, match="at least 1"):
        LiveChart(alt.Chart(alt.NamedData(name="data")).mark_point(), window=0)


def test_rows_is_a_copy(make: Callable[..., LiveChart]) -> None:
    chart = make()
    chart.append({"n": 1})
    rows = chart.rows
    rows[0]["n"] = 99
    rows.append({"n": 2})
    assert chart.rows == [{"n": 1}]


class Colour(enum.Enum):
    RED = "red"


def test_values_become_json_safe() -> None:
    chart = LiveChart(alt.Chart(alt.NamedData(name="data")).mark_point())
    try:
        when = dt.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=dt.UTC)
        chart.append(
            {
                "at": when,
                "naive": dt.datetime(2024, 5, 6, 7, 8, 9),
                "day": dt.date(2024, 5, 6),
                "took": dt.timedelta(milliseconds=1500),
                "nan": math.nan,
                "inf": math.inf,
                "price": Decimal("1.25"),
                "colour": Colour.RED,
                "tags": ("a", "b"),
                "nested": {1: {"ok"}},
                "raw": b"\xff",
                "text": b"hi",
                7: "int key",
            }
        )
        row = chart.rows[0]
        assert row == {
            "at": "2024-05-06T07:08:09.123000+00:00",
            "naive": "2024-05-06T07:08:09",
            "day": "2024-05-06",
            "took": 1.5,
            "nan": None,
            "inf": None,
            "price": 1.25,
            "colour": "red",
            "tags": ["a", "b"],
            "nested": {"1": ["ok"]},
            "raw": "ff",
            "text": "hi",
            "7": "int key",
        }
        json.dumps(customs(chart), allow_nan=False)
    finally:
        chart.close()


def test_dataframes_append_as_records(make: Callable[..., LiveChart]) -> None:
    class PolarsLike:
        def to_dicts(self) -> list[dict[str, Any]]:
            return [{"n": 1}, {"n": 2}]

    class PandasLike:
        columns = ("n",)

        def to_dict(self, orient: str) -> list[dict[str, Any]]:
            assert orient == "records"
            return [{"n": 3}]

    chart = make()
    chart.append(PolarsLike())
    chart.append(PandasLike())
    chart.append(row for row in [{"n": 4}])
    assert [r["n"] for r in chart.rows] == [1, 2, 3, 4]


def test_a_bad_row_adds_nothing(make: Callable[..., LiveChart]) -> None:
    chart = make()
    for bad in (5, "text", [{"n": 1}, "not a row"]):
        with pytest.raises(TypeError, match="dict"):
            chart.append(bad)
    assert chart.rows == []
    assert customs(chart) == []


def test_appends_from_many_threads_lose_nothing_and_keep_order(
    make: Callable[..., LiveChart],
) -> None:
    threads, per_thread = 8, 400
    chart = make(window=threads * per_thread)
    small = make(window=50)
    start = threading.Barrier(threads)

    def work(t: int) -> None:
        start.wait()
        for i in range(per_thread):
            row = {"t": t, "i": i}
            chart.append(row)
            small.append([row, {"t": t, "i": i, "again": True}])

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    rows = chart.rows
    assert len(rows) == threads * per_thread
    for t in range(threads):
        assert [r["i"] for r in rows if r["t"] == t] == list(range(per_thread))
    # What the front end rebuilds from the messages, in order, is what Python holds.
    sent = [row for msg in customs(chart) for row in msg["rows"]]
    assert sent == rows
    replayed = [row for msg in customs(small) for row in msg["rows"]][-50:]
    assert replayed == small.rows
    assert len(small.rows) == 50


# --- polling ------------------------------------------------------------------------------


def test_a_source_is_polled_until_stopped(make: Callable[..., LiveChart]) -> None:
    done = threading.Event()
    calls = itertools.count()

    def source() -> Any:
        n = next(calls)
        if n >= 3:
            done.set()
            return None  # nothing new
        return {"n": n} if n % 2 == 0 else [{"n": n}]

    chart = make(source=source, interval="100ms")
    assert chart.running
    assert done.wait(5)
    chart.stop()
    assert not chart.running
    assert not pollers()
    assert [r["n"] for r in chart.rows] == [0, 1, 2]
    assert chart.error is None


def test_start_takes_a_source_and_close_joins_the_thread(
    make: Callable[..., LiveChart],
) -> None:
    chart = make()
    with pytest.raises(ValueError, match="no source"):
        chart.start()
    ticked = threading.Event()

    def source() -> dict[str, int]:
        ticked.set()
        return {"n": 1}

    assert chart.start(source=source, interval=0.1) is chart
    assert ticked.wait(5)
    assert len(pollers()) == 1
    chart.start(interval="200ms")  # restarts with the same source: still one thread
    assert len(pollers()) == 1
    chart.close()
    assert not chart.running
    assert not pollers()


def test_a_failing_source_keeps_polling(make: Callable[..., LiveChart]) -> None:
    calls = itertools.count()
    recovered = threading.Event()

    def source() -> dict[str, int]:
        n = next(calls)
        if n == 0:
            raise RuntimeError("broker away")
        recovered.set()
        return {"n": n}

    chart = make(source=source, interval=0.1)
    assert recovered.wait(5)
    chart.stop()
    assert isinstance(chart.error, RuntimeError)
    assert chart.rows[0] == {"n": 1}


def test_interval_is_checked(make: Callable[..., LiveChart]) -> None:
    with pytest.raises(ValueError, match="duration"):
        make(interval="soon")
    with pytest.raises(TypeError, match="interval"):
        make(interval=[1])
    assert not pollers()


# --- display ------------------------------------------------------------------------------


def test_repr_is_stable_text(make: Callable[..., LiveChart]) -> None:
    chart = make(scatter(alt.Data(values=POINTS)), window=100)
    assert repr(chart) == "LiveChart(dataset='data', rows=3, window=100)"
    bundle = chart._repr_mimebundle_()
    assert bundle is not None
    data, _ = bundle
    # The saved text/plain leaves out the row count, which a poller may change at any time.
    assert data["text/plain"] == "LiveChart(dataset='data', window=100)"
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == chart.model_id
    chart.close()
    assert repr(chart) == "LiveChart(dataset='data', rows=3, window=100)"
    assert "0x" not in repr(runtime())


# --- the Vega runtime ---------------------------------------------------------------------


def test_one_runtime_is_shared_by_every_chart(make: Callable[..., LiveChart]) -> None:
    first, second = make(), make(scatter(alt.Data(values=POINTS)))
    shared = runtime()
    assert isinstance(shared, VegaRuntime)
    assert first._runtime is shared
    assert second._runtime is shared
    assert runtime() is shared
    assert shared.version.startswith("vega-bundle-")
    assert "vegaEmbed" in shared.bundle
    assert "export" in shared.bundle  # an ES module, imported from a Blob URL in the page
    assert len(shared.bundle) > 500_000


def test_a_closed_runtime_is_replaced() -> None:
    old = runtime()
    old.close()
    new = runtime()
    assert new is not old
    assert new.version == old.version
    assert new.comm is not None


@pytest.mark.skipif(shutil.which("node") is None, reason="no node to syntax-check the ES module")
def test_the_front_end_module_parses(tmp_path: Path) -> None:
    module = tmp_path / "chart.mjs"
    module.write_text(str(LiveChart._esm))
    subprocess.run(["node", "--check", str(module)], check=True, timeout=60)


def test_no_sleeping_needed_for_a_first_tick(make: Callable[..., LiveChart]) -> None:
    # The first poll happens as the thread starts, not an interval later.
    ticked = threading.Event()
    began = time.monotonic()
    chart = make(source=lambda: ticked.set(), interval="10s")
    assert ticked.wait(5)
    assert time.monotonic() - began < 5
    chart.close()
    assert not pollers()
