"""Analytics over topics without consuming them: Polars `LazyFrame`s and DuckDB views.

Both read the columnar twins (Parquet) of sealed segments and decode only what has no twin yet,
bounded by each partition's high watermark at the moment the query starts.
`cluster.topic("orders").scan()` and `cluster.sql("SELECT ...")` are the ways in.
"""

from kstream_nb.runtime import extensions
from kstream_nb.sql.duck import connect, sql, topic_names
from kstream_nb.sql.scan import Bounds, bounds_of, scan, scan_snapshot
from kstream_nb.sql.snapshot import Snapshot, take_snapshot

__all__ = [
    "Bounds",
    "Snapshot",
    "bounds_of",
    "connect",
    "scan",
    "scan_snapshot",
    "sql",
    "take_snapshot",
    "topic_names",
]

extensions.register_analytics(scan=scan, sql=sql)
