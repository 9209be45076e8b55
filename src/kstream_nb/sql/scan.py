"""`scan()`: a Polars `LazyFrame` over a topic's twins and decoded tails.

The frame is a Polars IO source: when it is collected, Polars hands us the columns it needs and
its filter. Filters on `partition`, `offset` and `timestamp` are checked against what each twin
holds (kept in memory, no file opened), so a query over one partition's last minute reads only
the files that can hold it; Parquet row-group statistics then prune inside those files.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
import polars as pl

from kstream_nb.errors import KStreamNbError
from kstream_nb.log.columns import JSON_PREFIX, RECORD_SCHEMA, as_type, json_columns
from kstream_nb.runtime.cluster import Cluster
from kstream_nb.sql.snapshot import Snapshot, TailPiece, TwinPiece, take_snapshot

__all__ = ["RECORD_COLUMNS", "ScanFormat", "output_name", "polars_schema", "scan", "scan_snapshot"]

ScanFormat = Literal["raw", "json"]
RECORD_COLUMNS: tuple[str, ...] = tuple(RECORD_SCHEMA.names)
_RECORD_POLARS = pl.from_arrow(RECORD_SCHEMA.empty_table()).schema  # type: ignore[union-attr]
_PRUNABLE = ("partition", "offset", "timestamp")
_UNBOUNDED = (-(2**63), 2**63 - 1)


def output_name(field: str) -> str:
    """The column a JSON field becomes: its name, or `value_<name>` if a record column has it."""
    return f"value_{field}" if field in RECORD_COLUMNS or field == "value_error" else field


# -- value schemas ---------------------------------------------------------------------------

_PY_TYPES: dict[Any, pl.DataType] = {
    int: pl.Int64(),
    float: pl.Float64(),
    str: pl.String(),
    bool: pl.Boolean(),
    bytes: pl.Binary(),
    dt.datetime: pl.Datetime("us"),
    dt.date: pl.Date(),
}


def polars_schema(schema: type[msgspec.Struct] | Mapping[str, Any]) -> dict[str, pl.DataType]:
    """A Polars schema from a msgspec Struct (its fields' simple types) or a Polars schema."""
    if isinstance(schema, Mapping):
        return {str(k): _polars_dtype(k, v) for k, v in schema.items()}
    if not (isinstance(schema, type) and issubclass(schema, msgspec.Struct)):
        raise KStreamNbError(
            f"schema must be a msgspec Struct class or a Polars schema (dict of name to dtype), "
            f"got {schema!r}"
        )
    return {f.encode_name: _dtype_of(f.type) for f in msgspec.structs.fields(schema)}


def _polars_dtype(name: object, dtype: Any) -> pl.DataType:
    if isinstance(dtype, pl.DataType):
        return dtype
    if isinstance(dtype, type) and issubclass(dtype, pl.DataType):
        return dtype()
    if dtype in _PY_TYPES:
        return _PY_TYPES[dtype]
    raise KStreamNbError(
        f"schema field {name!r} has type {dtype!r}; use a Polars dtype (pl.Int64, pl.String, ...)"
    )


def _dtype_of(tp: Any) -> pl.DataType:
    info = msgspec.inspect.type_info(tp)
    if isinstance(info, msgspec.inspect.UnionType):
        options = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
        return _dtype_of_info(options[0]) if len(options) == 1 else pl.String()
    return _dtype_of_info(info)


def _dtype_of_info(info: msgspec.inspect.Type) -> pl.DataType:
    simple: dict[type[msgspec.inspect.Type], pl.DataType] = {
        msgspec.inspect.IntType: pl.Int64(),
        msgspec.inspect.FloatType: pl.Float64(),
        msgspec.inspect.StrType: pl.String(),
        msgspec.inspect.BoolType: pl.Boolean(),
        msgspec.inspect.DateTimeType: pl.Datetime("us"),
        msgspec.inspect.DateType: pl.Date(),
    }
    for kind, dtype in simple.items():
        if isinstance(info, kind):
            return dtype
    if isinstance(info, msgspec.inspect.ListType):
        return pl.List(_dtype_of_info(info.item_type))
    return pl.String()


# -- pruning ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Bounds:
    """What a filter says about partition, offset and timestamp (ms), as inclusive ranges."""

    partitions: set[int] | None = None
    offset: tuple[int, int] = _UNBOUNDED
    timestamp: tuple[int, int] = _UNBOUNDED

    def admits(self, partition: int, first: int, last: int, min_ts: int, max_ts: int) -> bool:
        if self.partitions is not None and partition not in self.partitions:
            return False
        if last < self.offset[0] or first > self.offset[1]:
            return False
        return not (max_ts < self.timestamp[0] or min_ts > self.timestamp[1])

    def narrow(self, column: str, lo: int, hi: int) -> None:
        if column == "partition":
            allowed = set(range(max(lo, 0), hi + 1)) if hi - lo < 1 << 16 else None
            if allowed is not None:
                self.partitions = allowed if self.partitions is None else self.partitions & allowed
            return
        old = self.offset if column == "offset" else self.timestamp
        new = (max(old[0], lo), min(old[1], hi))
        if column == "offset":
            self.offset = new
        else:
            self.timestamp = new


def bounds_of(predicate: pl.Expr | None) -> Bounds:
    """Read the conjunction of simple comparisons in `predicate`; anything else bounds nothing.

    Pruning only ever skips files that cannot match: an unrecognised filter reads everything.
    """
    bounds = Bounds()
    if predicate is None:
        return bounds
    try:
        tree = json.loads(predicate.meta.serialize(format="json"))
    except Exception:  # expressions with Python functions cannot be serialised
        return bounds
    _visit(tree, bounds)
    return bounds


_FLIP = {"Gt": "Lt", "GtEq": "LtEq", "Lt": "Gt", "LtEq": "GtEq", "Eq": "Eq"}


def _visit(node: Any, bounds: Bounds) -> None:
    if not isinstance(node, dict):
        return
    if "BinaryExpr" in node:
        expr = node["BinaryExpr"]
        op = expr.get("op")
        if op in ("And", "LogicalAnd"):
            _visit(expr["left"], bounds)
            _visit(expr["right"], bounds)
            return
        left, right = expr.get("left"), expr.get("right")
        if _column(left) is None and _column(right) is not None:
            left, right, op = right, left, _FLIP.get(op)
        column = _column(left)
        if column is None or op not in _FLIP:
            return
        values = _literal(right, column)
        if values is None or len(values) != 1:
            return
        v = values[0]
        lo, hi = {
            "Eq": (v, v),
            "Gt": (v + 1, _UNBOUNDED[1]),
            "GtEq": (v, _UNBOUNDED[1]),
            "Lt": (_UNBOUNDED[0], v - 1),
            "LtEq": (_UNBOUNDED[0], v),
        }[op]
        bounds.narrow(column, lo, hi)
    elif "Function" in node:
        fn = node["Function"]
        inputs = fn.get("input", [])
        kind = fn.get("function", {})
        boolean = kind.get("Boolean") if isinstance(kind, dict) else None
        if not isinstance(boolean, dict) or not inputs:
            return
        column = _column(inputs[0])
        if column is None:
            return
        if "IsIn" in boolean and len(inputs) == 2 and column == "partition":
            values = _literal(inputs[1], column, flatten=True)
            if values is not None:
                allowed = set(values)
                bounds.partitions = (
                    allowed if bounds.partitions is None else bounds.partitions & allowed
                )
        elif "IsBetween" in boolean and len(inputs) == 3:
            lo_values, hi_values = _literal(inputs[1], column), _literal(inputs[2], column)
            if lo_values and hi_values and len(lo_values) == len(hi_values) == 1:
                closed = boolean["IsBetween"].get("closed", "Both")
                lo = lo_values[0] + (0 if closed in ("Both", "Left") else 1)
                hi = hi_values[0] - (0 if closed in ("Both", "Right") else 1)
                bounds.narrow(column, lo, hi)


def _column(node: Any) -> str | None:
    if isinstance(node, dict) and isinstance(node.get("Column"), str):
        name = node["Column"]
        return name if name in _PRUNABLE else None
    return None


def _literal(node: Any, column: str, *, flatten: bool = False) -> list[int] | None:
    """A constant sub-expression's value(s) as integers (timestamps in ms), or None."""
    try:
        expr = pl.Expr.deserialize(io.StringIO(json.dumps(node)), format="json")
        if expr.meta.root_names():
            return None
        values = pl.select(expr).to_series().to_list()
    except Exception:  # not a constant we can evaluate
        return None
    if flatten and len(values) == 1 and isinstance(values[0], list):
        values = values[0]
    out = []
    for v in values:
        if isinstance(v, bool) or v is None:
            return None
        if isinstance(v, dt.datetime):
            if column != "timestamp":
                return None
            moment = v if v.tzinfo else v.replace(tzinfo=dt.UTC)
            out.append(int(moment.timestamp() * 1000))
        elif isinstance(v, int):
            out.append(v)
        else:
            return None
    return out


# -- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Plan:
    value_format: ScanFormat
    typed: dict[str, pl.DataType]  # JSON field -> dtype, in output order
    include_control: bool

    @property
    def schema(self) -> dict[str, pl.DataType]:
        out: dict[str, pl.DataType] = dict(_RECORD_POLARS)
        if self.value_format == "json":
            for name, dtype in self.typed.items():
                out[output_name(name)] = dtype
            out["value_error"] = pl.String()
        return out


def _typed_frame(values: pl.Series, plan: _Plan) -> pl.DataFrame:
    """The JSON columns (renamed, cast to the plan's types) for `values`, parsed now."""
    frame = json_columns(values.to_arrow(), strict=True)
    assert frame is not None  # strict parsing always answers
    return _conform(frame, plan)


def _conform(frame: pl.DataFrame, plan: _Plan) -> pl.DataFrame:
    columns = []
    for name, dtype in plan.typed.items():
        source = JSON_PREFIX + name
        if source in frame.columns:
            cast = as_type(pl.col(source), frame.schema[source], dtype)
            columns.append(frame.select(cast.alias(output_name(name))).to_series())
        else:
            columns.append(
                pl.repeat(None, frame.height, dtype=dtype, eager=True).alias(output_name(name))
            )
    if "value_error" in frame.columns:
        columns.append(frame.get_column("value_error").cast(pl.String))
    else:
        columns.append(
            pl.repeat(None, frame.height, dtype=pl.String, eager=True).alias("value_error")
        )
    return pl.DataFrame(columns)


def _visible(
    frame: pl.LazyFrame, lo: int, hi: int, bounded: bool, control: bool, plan: _Plan
) -> pl.LazyFrame:
    if bounded:
        frame = frame.filter((pl.col("offset") >= lo) & (pl.col("offset") < hi))
    if control and not plan.include_control:
        frame = frame.filter(~pl.col("is_control"))
    return frame


def _twin_frame(piece: TwinPiece, plan: _Plan, needed: list[str]) -> pl.LazyFrame:
    info = piece.info
    has_typed = len(info.json_schema) > 0
    frame = pl.scan_parquet(info.path)
    record_cols = [c for c in needed if c in RECORD_COLUMNS]
    want_typed = plan.value_format == "json" and any(c not in RECORD_COLUMNS for c in needed)
    read = set(record_cols) | {"offset"} if piece.needs_bounds else set(record_cols)
    if info.has_control and not plan.include_control:
        read.add("is_control")
    if want_typed and has_typed:
        typed_names = [
            JSON_PREFIX + n for n in plan.typed if JSON_PREFIX + n in info.json_schema.names
        ]
        has_error = "value_error" in info.json_schema.names
        frame = frame.select([*sorted(read), *typed_names, *(["value_error"] if has_error else [])])
        frame = _visible(frame, piece.lo, piece.hi, piece.needs_bounds, info.has_control, plan)
        exprs = []
        stored = pl.DataFrame(pl.from_arrow(info.json_schema.empty_table())).schema
        for name, dtype in plan.typed.items():
            source = JSON_PREFIX + name
            col = (
                as_type(pl.col(source), stored[source], dtype)
                if source in typed_names
                else pl.lit(None, dtype)
            )
            exprs.append(col.alias(output_name(name)))
        exprs.append(
            pl.col("value_error") if has_error else pl.lit(None, pl.String).alias("value_error")
        )
        return frame.with_columns(exprs)
    if want_typed:
        read.add("value")
    frame = frame.select(sorted(read))
    frame = _visible(frame, piece.lo, piece.hi, piece.needs_bounds, info.has_control, plan)
    if want_typed:  # this twin has no typed columns: parse its values now (read once)
        rows = frame.collect()
        frame = pl.concat(
            [rows, _typed_frame(rows.get_column("value"), plan)], how="horizontal"
        ).lazy()
    return frame


def _tail_frame(piece: TailPiece, plan: _Plan, needed: list[str]) -> pl.LazyFrame:
    frame = pl.DataFrame(pl.from_arrow(piece.table, rechunk=False))
    if plan.value_format == "json" and any(c not in RECORD_COLUMNS for c in needed):
        frame = pl.concat([frame, _conform(piece.json(), plan)], how="horizontal")
    if not plan.include_control:
        frame = frame.filter(~pl.col("is_control"))
    return frame.lazy()


def _source(snapshot: Snapshot, plan: _Plan):  # type: ignore[no-untyped-def]
    schema = plan.schema

    def read(
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        columns = list(schema) if with_columns is None else list(with_columns)
        needed = list(
            dict.fromkeys(
                [*columns, *(predicate.meta.root_names() if predicate is not None else [])]
            )
        )
        bounds = bounds_of(predicate)
        frames: list[pl.LazyFrame] = []
        candidates: list[TwinPiece | TailPiece] = [*snapshot.twins, *snapshot.tails]
        pieces = [
            p
            for p in candidates
            if bounds.admits(
                p.partition, p.first_offset, p.last_offset, p.min_timestamp, p.max_timestamp
            )
        ]
        pieces.sort(key=lambda p: (p.partition, p.first_offset))
        snapshot.files_read.extend(f"{p.partition}/{p.name}" for p in pieces)
        for piece in pieces:
            if isinstance(piece, TwinPiece):
                frame = _twin_frame(piece, plan, needed)
            else:
                frame = _tail_frame(piece, plan, needed)
            if predicate is not None:
                frame = frame.filter(predicate)
            frames.append(frame.select(columns))
        remaining = n_rows
        for result in pl.collect_all(frames):
            if remaining is not None:
                if remaining <= 0:
                    return
                result = result.head(remaining)
                remaining -= result.height
            yield result.cast({c: schema[c] for c in columns}, strict=False)

    return read


def scan_snapshot(
    cluster: Cluster,
    topic: str,
    *,
    value_format: ScanFormat | None = None,
    schema: type[msgspec.Struct] | Mapping[str, Any] | None = None,
    include_control: bool = False,
) -> tuple[pl.LazyFrame, Snapshot]:
    """`scan()` plus the snapshot behind it (whose `files_read` tells what a query opened)."""
    fmt: ScanFormat = value_format or ("json" if schema is not None else "raw")
    if fmt not in ("raw", "json"):
        raise KStreamNbError(
            f"value_format must be 'raw' or 'json', got {value_format!r} (Avro comes with the "
            "schema registry)"
        )
    snapshot = take_snapshot(cluster, topic)
    typed: dict[str, pl.DataType] = {}
    if fmt == "json":
        typed = polars_schema(schema) if schema is not None else snapshot.json_fields(detect=False)
    plan = _Plan(fmt, typed, include_control)
    frame = _io_source(snapshot, plan)
    return frame, snapshot


def _io_source(snapshot: Snapshot, plan: _Plan) -> pl.LazyFrame:
    from polars.io.plugins import register_io_source

    return register_io_source(
        _source(snapshot, plan),
        schema=plan.schema,
        explain_name=f"kstream_nb topic {snapshot.topic}",
    )


def scan(
    cluster: Cluster,
    topic: str,
    *,
    value_format: ScanFormat | None = None,
    schema: type[msgspec.Struct] | Mapping[str, Any] | None = None,
    include_control: bool = False,
) -> pl.LazyFrame:
    """A Polars LazyFrame over `topic` as of now (see `Topic.scan`)."""
    return scan_snapshot(
        cluster, topic, value_format=value_format, schema=schema, include_control=include_control
    )[0]
