"""`sql()`: DuckDB over the topic logs, every topic a view by its name.

Each query gets its own in-memory DuckDB connection whose views read a snapshot of each topic
the query names: twins straight from Parquet, tails as registered Arrow tables. The snapshot
lives as long as the connection (and every relation made from it) does.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable

import duckdb
import polars as pl
import pyarrow.compute as pc

from kstream_nb.cluster.core import EVENTS_TOPIC
from kstream_nb.errors import KStreamNbError
from kstream_nb.log.columns import JSON_PREFIX, RECORD_SCHEMA
from kstream_nb.runtime.cluster import Cluster
from kstream_nb.sql.scan import output_name
from kstream_nb.sql.snapshot import Snapshot, TwinPiece, take_snapshot

__all__ = ["connect", "sql", "topic_names"]

_DUCK_TYPES = {
    pl.Int8: "TINYINT",
    pl.Int16: "SMALLINT",
    pl.Int32: "INTEGER",
    pl.Int64: "BIGINT",
    pl.UInt8: "UTINYINT",
    pl.UInt16: "USMALLINT",
    pl.UInt32: "UINTEGER",
    pl.UInt64: "UBIGINT",
    pl.Float32: "FLOAT",
    pl.Float64: "DOUBLE",
    pl.Boolean: "BOOLEAN",
    pl.String: "VARCHAR",
}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def topic_names(cluster: Cluster) -> list[str]:
    """Every topic a query can name: user topics, internal ones, and the cluster's events."""
    return [*cluster.call(lambda: sorted(cluster.core.image.topics)), EVENTS_TOPIC]


def _referenced(names: Iterable[str], query: str) -> list[str]:
    text = query.lower()
    return [n for n in names if n.lower() in text]


def _value_format(cluster: Cluster, topic: str) -> str:
    if topic == EVENTS_TOPIC:
        return "json"
    configs = cluster.topic_configs().get(topic, {})
    return configs.get("kstream.value.format", "auto")


def _create_view(con: duckdb.DuckDBPyConnection, snapshot: Snapshot, fmt: str, n: int) -> None:
    typed = {} if fmt == "raw" else snapshot.json_fields(detect=fmt != "json")
    tails = snapshot.tail_records()
    tail_typed = snapshot.tail_json().to_arrow() if typed and tails.num_rows else None
    if tail_typed is not None:
        for name in tail_typed.column_names:
            tails = tails.append_column(name, tail_typed.column(name))
    control = tails.column("is_control")
    if pc.any(control).as_py():  # rare (transactions): filtering copies every column
        tails = tails.filter(pc.invert(control))
    json_topic = bool(typed) or fmt == "json"
    record_cols = [_quote(c) for c in RECORD_SCHEMA.names]

    def typed_exprs(present: set[str]) -> list[str]:
        exprs = []
        for name, dtype in typed.items():
            source = JSON_PREFIX + name
            duck = _DUCK_TYPES.get(type(dtype), "JSON")
            if source in present:
                exprs.append(f"TRY_CAST({_quote(source)} AS {duck}) AS {_quote(output_name(name))}")
            else:
                path = _literal("$." + '"' + name.replace('"', '\\"') + '"')
                parsed = "TRY(CAST(decode(value) AS JSON))"
                extract = "json_extract_string" if duck != "JSON" else "json_extract"
                target = _quote(output_name(name))
                exprs.append(f"TRY_CAST({extract}({parsed}, {path}) AS {duck}) AS {target}")
        if json_topic:
            exprs.append(
                "value_error" if "value_error" in present else "NULL::VARCHAR AS value_error"
            )
        return exprs

    parts: list[str] = []
    plain: dict[tuple[str, ...], list[TwinPiece]] = {}
    for twin in snapshot.twins:
        names = tuple(f.name for f in twin.info.json_schema)
        if twin.needs_bounds or twin.info.has_control:
            where = ["NOT is_control"]
            if twin.needs_bounds:
                where.append(f'"offset" >= {twin.lo} AND "offset" < {twin.hi}')
            cols = [*record_cols, *typed_exprs(set(names))]
            parts.append(
                f"SELECT {', '.join(cols)} FROM read_parquet({_literal(str(twin.info.path))}) "
                f"WHERE {' AND '.join(where)}"
            )
        else:
            plain.setdefault(names, []).append(twin)
    for names, twins in plain.items():
        files = ", ".join(_literal(str(t.info.path)) for t in twins)
        cols = [*record_cols, *typed_exprs(set(names))]
        parts.append(f"SELECT {', '.join(cols)} FROM read_parquet([{files}])")
    tail_name = f"__kstream_tail_{n}"
    present = set(tail_typed.column_names) if tail_typed is not None else set()
    con.register(tail_name, tails)
    parts.append(
        f"SELECT {', '.join([*record_cols, *typed_exprs(present)])} FROM {_quote(tail_name)}"
    )
    body = " UNION ALL BY NAME ".join(parts)
    columns = [
        c if c != '"value"' or not json_topic else "TRY(CAST(decode(value) AS JSON)) AS value"
        for c in record_cols
    ]
    extra = [_quote(output_name(n)) for n in typed] + (["value_error"] if json_topic else [])
    con.execute(
        f"CREATE VIEW {_quote(snapshot.topic)} AS SELECT {', '.join([*columns, *extra])} "
        f"FROM ({body})"
    )


def connect(cluster: Cluster, topics: Iterable[str]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with a view of each of `topics`, snapshotted now."""
    # Timestamps are shown and bucketed in UTC, whatever the machine's zone: the same query gives
    # the same answer everywhere (and a saved notebook output stays true).
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # after connecting: ICU, built in, is loaded by then
    snapshots: list[Snapshot] = []
    try:
        for n, topic in enumerate(topics):
            snapshot = take_snapshot(cluster, topic)
            snapshots.append(snapshot)
            _create_view(con, snapshot, _value_format(cluster, topic), n)
    except BaseException:
        for snapshot in snapshots:
            snapshot.close()
        con.close()
        raise
    weakref.finalize(con, _close_all, snapshots)
    return con


def _close_all(snapshots: list[Snapshot]) -> None:
    for snapshot in snapshots:
        snapshot.close()


def sql(cluster: Cluster, query: str) -> duckdb.DuckDBPyRelation:
    """Run `query` over the topics it names; a relation (`.pl()`, `.arrow()`, `.df()`)."""
    if not query.strip():
        raise KStreamNbError("the query is empty; write e.g. SELECT count(*) FROM orders")
    con = connect(cluster, _referenced(topic_names(cluster), query))
    relation = con.sql(query)
    if relation is None:
        raise KStreamNbError(
            "cluster.sql() answers queries (SELECT, WITH, DESCRIBE, ...); the topics are "
            "read-only views, so write to them with a Producer"
        )
    return relation
