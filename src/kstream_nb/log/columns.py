"""Records as columns: record batches decoded straight into Arrow, JSON values into typed columns.

The decoder walks aiokafka's compiled codec once per record and fills column lists; the JSON
reader hands whole columns to Polars' NDJSON reader and falls back to msgspec value by value only
when some value spoils that. Neither ever fails on bad values: they get a `value_error`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import msgspec
import polars as pl
import pyarrow as pa
from aiokafka.record.default_records import DefaultRecordBatch as _AioBatch

from kstream_nb.log.batch import TimestampType, iter_batches
from kstream_nb.log.errors import CorruptRecordError

__all__ = [
    "HEADER_TYPE",
    "JSON_PREFIX",
    "RECORD_SCHEMA",
    "as_type",
    "concat_json",
    "decode_records_table",
    "json_columns",
    "looks_like_json",
    "strict_json_columns",
    "unify_schemas",
]

JSON_PREFIX = "value."
_READ_CHUNK = 8 << 20

HEADER_TYPE = pa.list_(pa.struct([("key", pa.string()), ("value", pa.binary())]))
RECORD_SCHEMA = pa.schema(
    [
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("timestamp", pa.timestamp("ms", tz="UTC")),
        ("timestamp_type", pa.string()),
        ("key", pa.binary()),
        ("value", pa.binary()),
        ("headers", HEADER_TYPE),
        ("leader_epoch", pa.int32()),
        ("producer_id", pa.int64()),
        ("producer_epoch", pa.int16()),
        ("is_transactional", pa.bool_()),
        ("is_control", pa.bool_()),
    ]
)
_TIMESTAMP_TYPES = {
    TimestampType.CREATE_TIME: "CreateTime",
    TimestampType.LOG_APPEND_TIME: "LogAppendTime",
}
_JSON_OBJECT = msgspec.json.Decoder(dict[str, Any])


class _Columns:
    """Column lists filled record by record (the codec's hot loop), then turned into Arrow."""

    __slots__ = (
        "control",
        "epochs",
        "headers",
        "keys",
        "offsets",
        "producer_epochs",
        "producer_ids",
        "timestamp_types",
        "timestamps",
        "transactional",
        "values",
    )

    def __init__(self) -> None:
        self.offsets: list[int] = []
        self.timestamps: list[int] = []
        self.keys: list[bytes | None] = []
        self.values: list[bytes | None] = []
        self.headers: list[list[tuple[str, bytes | None]]] | None = None
        self.timestamp_types: list[str] = []
        self.epochs: list[int] = []
        self.producer_ids: list[int] = []
        self.producer_epochs: list[int] = []
        self.transactional: list[bool] = []
        self.control: list[bool] = []

    def add_batches(self, data: bytes | bytearray | memoryview, lo: int, hi: int) -> None:
        """Every record with lo <= offset < hi from the whole batches in `data`."""
        offsets, timestamps, keys, values = self.offsets, self.timestamps, self.keys, self.values
        for batch in iter_batches(data, strict=False):
            if batch.last_offset < lo or batch.base_offset >= hi:
                continue
            before = len(offsets)
            try:
                for rec in _AioBatch(batch.data):
                    offset = rec.offset
                    if lo <= offset < hi:
                        offsets.append(offset)
                        timestamps.append(rec.timestamp)
                        keys.append(rec.key)
                        values.append(rec.value)
                        if rec.headers:
                            self._add_headers(rec.headers)
                        elif self.headers is not None:
                            self.headers.append([])
            except Exception as exc:  # aiokafka raises its own and builtin errors on bad bytes
                raise CorruptRecordError(
                    f"record batch at offset {batch.base_offset} cannot be decoded: {exc}"
                ) from exc
            n = len(offsets) - before
            self.timestamp_types.extend([_TIMESTAMP_TYPES[batch.timestamp_type]] * n)
            self.epochs.extend([batch.partition_leader_epoch] * n)
            self.producer_ids.extend([batch.producer_id] * n)
            self.producer_epochs.extend([batch.producer_epoch] * n)
            self.transactional.extend([batch.is_transactional] * n)
            self.control.extend([batch.is_control] * n)

    def _add_headers(self, headers: Iterable[tuple[str, bytes | None]]) -> None:
        if self.headers is None:
            self.headers = [[] for _ in range(len(self.offsets) - 1)]
        self.headers.append(list(headers))

    def table(self, partition: int) -> pa.Table:
        n = len(self.offsets)
        if self.headers is None:
            headers = pa.ListArray.from_arrays(
                pa.array([0] * (n + 1), pa.int32()), pa.array([], HEADER_TYPE.value_type)
            )
        else:
            headers = pa.array(self.headers, HEADER_TYPE)
        return pa.Table.from_arrays(
            [
                pa.array([partition] * n, pa.int32()),
                pa.array(self.offsets, pa.int64()),
                pa.array(self.timestamps, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
                pa.array(self.timestamp_types, pa.string()),
                pa.array(self.keys, pa.binary()),
                pa.array(self.values, pa.binary()),
                headers,
                pa.array(self.epochs, pa.int32()),
                pa.array(self.producer_ids, pa.int64()),
                pa.array(self.producer_epochs, pa.int16()),
                pa.array(self.transactional, pa.bool_()),
                pa.array(self.control, pa.bool_()),
            ],
            schema=RECORD_SCHEMA,
        )


def decode_records_table(
    fd: int, start: int, end: int, partition: int, lo: int = 0, hi: int = 2**63 - 1
) -> pa.Table:
    """The records with lo <= offset < hi in bytes [start, end) of a `.log`, as Arrow."""
    columns = _Columns()
    pos = start
    carry = b""
    while pos < end:
        chunk = carry + os.pread(fd, min(_READ_CHUNK, end - pos), pos)
        if len(chunk) == len(carry):
            break  # the file is shorter than it was said to be (truncated meanwhile)
        pos += len(chunk) - len(carry)
        used = _whole_batches_length(chunk)
        columns.add_batches(memoryview(chunk)[:used], lo, hi)
        carry = chunk[used:]
    return columns.table(partition)


def _whole_batches_length(data: bytes) -> int:
    """How many leading bytes of `data` are whole batches."""
    pos = 0
    while len(data) - pos >= 12:
        length = int.from_bytes(data[pos + 8 : pos + 12], "big", signed=True)
        if length <= 0 or pos + 12 + length > len(data):
            break
        pos += 12 + length
    return pos


def json_columns(values: pa.Array | pa.ChunkedArray, *, strict: bool) -> pl.DataFrame | None:
    """Typed columns `value.<field>` plus `value_error` from JSON object values.

    With `strict` (a topic declared JSON) every value gets its columns and invalid ones an error
    message. Otherwise (detection) None unless most non-null values are JSON objects: one bad
    record does not stop a JSON topic from being read as one.
    """
    frame = strict_json_columns(values)
    if strict or looks_like_json(frame, len(values) - values.null_count):
        return frame
    return None


def concat_json(frames: list[pl.DataFrame], values: Callable[[], pa.ChunkedArray]) -> pl.DataFrame:
    """JSON columns of consecutive runs of values, as one frame.

    Runs parsed apart may disagree on a field's type (a number here, an object there); then
    the values are parsed again together, which keeps such a field as JSON text.
    """
    try:
        return pl.concat(frames, how="diagonal_relaxed")
    except pl.exceptions.PolarsError:
        return strict_json_columns(values())


def unify_schemas(frames: list[pl.DataFrame]) -> dict[str, pl.DataType]:
    """The columns of `frames` with one type each: Polars' supertype, else String."""
    try:
        return dict(pl.concat([f.head(0) for f in frames], how="diagonal_relaxed").schema)
    except pl.exceptions.PolarsError:
        pass
    out: dict[str, pl.DataType] = {}
    for frame in frames:
        for name, dtype in frame.schema.items():
            known = out.get(name)
            if known is None or known == dtype:
                out[name] = dtype
                continue
            try:
                merged = pl.concat(
                    [pl.DataFrame(schema={name: known}), pl.DataFrame(schema={name: dtype})],
                    how="vertical_relaxed",
                )
                out[name] = merged.schema[name]
            except pl.exceptions.PolarsError:
                out[name] = pl.String()
    return out


def as_type(column: pl.Expr, source: pl.DataType, target: pl.DataType) -> pl.Expr:
    """Cast a JSON column to the unified type; what cannot be cast becomes null, and nested
    values that must become text become JSON text."""
    if target == pl.String and isinstance(source, pl.Struct):
        return column.struct.json_encode()
    if target == pl.String and isinstance(source, pl.List | pl.Array):
        return column.map_elements(
            lambda v: msgspec.json.encode(v.to_list()).decode(), return_dtype=pl.String
        )
    return column.cast(target, strict=False)


def looks_like_json(frame: pl.DataFrame, present: int) -> bool:
    """Whether most of the `present` (non-null) values parsed into `frame` are JSON objects."""
    bad = frame.height - frame.get_column("value_error").null_count()
    return present > 0 and frame.width > 1 and bad * 2 <= present


def strict_json_columns(values: pa.Array | pa.ChunkedArray) -> pl.DataFrame:
    """`json_columns(strict=True)`: never fails, one row per value."""
    series = pl.Series("value", values, dtype=pl.Binary)
    present = series.drop_nulls()
    if len(present) == 0:
        return pl.DataFrame([pl.Series("value_error", [None] * len(series), dtype=pl.String)])
    frame = _ndjson_fast(present)
    if frame is not None:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("value_error"))
        if present.len() != series.len():
            frame = _scatter(frame, series.is_not_null())
    else:
        frame = _json_slow(series)
    return frame.rename({c: JSON_PREFIX + c for c in frame.columns if c != "value_error"})


def _ndjson_fast(present: pl.Series) -> pl.DataFrame | None:
    """All values at once through Polars' NDJSON reader; None if any value spoils that."""
    if present.bin.contains(b"\n").any():
        return None
    buf = b"\n".join(present.to_list())
    try:
        frame = pl.read_ndjson(buf, infer_schema_length=None)
    except Exception:  # any invalid value: fall back to checking them one by one
        return None
    if frame.height != present.len() or frame.width == 0:
        return None
    return frame


def _scatter(frame: pl.DataFrame, mask: pl.Series) -> pl.DataFrame:
    """Rows of `frame` placed where `mask` is true, nulls elsewhere (tombstones, bad values)."""
    positions = mask.cast(pl.Int64).cum_sum() - 1
    index = pl.select(pl.when(mask).then(positions).cast(pl.UInt32)).to_series()
    return frame.select(pl.all().gather(index))


def _json_slow(series: pl.Series) -> pl.DataFrame:
    rows: list[dict[str, Any] | None] = []
    errors: list[str | None] = []
    for raw in series.to_list():
        if raw is None:
            rows.append(None)
            errors.append(None)
            continue
        try:
            rows.append(_JSON_OBJECT.decode(raw))
            errors.append(None)
        except msgspec.ValidationError:
            rows.append(None)
            errors.append("value is JSON but not an object")
        except msgspec.DecodeError as exc:
            rows.append(None)
            errors.append(f"invalid JSON: {exc}")
    error_column = pl.Series("value_error", errors, dtype=pl.String)
    good = [r for r in rows if r is not None]
    if not good:
        return pl.DataFrame([error_column])
    typed = _objects_frame(good)
    if typed.width == 0:
        return pl.DataFrame([error_column])
    frame = _scatter(typed, pl.Series([r is not None for r in rows]))
    return frame.with_columns(error_column)


def _objects_frame(objects: list[dict[str, Any]]) -> pl.DataFrame:
    """Decoded JSON objects as columns. A field whose values disagree on type (a number here,
    an object there) becomes text: strings as they are, the rest as JSON, as Polars' NDJSON
    reader does; Polars would otherwise turn some of them into nulls."""
    kinds: dict[str, set[type]] = {}
    for obj in objects:
        for key, value in obj.items():
            if value is not None:
                number = isinstance(value, int | float) and not isinstance(value, bool)
                kinds.setdefault(key, set()).add(float if number else type(value))
    mixed = {k for k, v in kinds.items() if len(v) > 1}
    if mixed:
        encode = msgspec.json.encode
        objects = [
            {k: _text(v, encode) if k in mixed else v for k, v in obj.items()} for obj in objects
        ]
    return pl.from_dicts(objects, infer_schema_length=None, strict=False)


def _text(value: Any, encode: Callable[[Any], bytes]) -> Any:
    return value if value is None or isinstance(value, str) else encode(value).decode()
