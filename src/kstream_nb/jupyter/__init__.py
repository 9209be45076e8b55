"""The notebook layer: `%kafka` magics, `%%produce`, live widgets and streaming Altair charts.

`%load_ext kstream_nb` registers the magics. Nothing below this package imports IPython or widgets.
"""

from __future__ import annotations

from typing import Any

from kstream_nb.jupyter.chart import LiveChart
from kstream_nb.jupyter.live import LagChart, LagView, TopicView
from kstream_nb.jupyter.session import session
from kstream_nb.jupyter.streams_view import StoreView, table_chart, table_rows
from kstream_nb.jupyter.widgets import Dashboard, EventLog, GroupView, Tail
from kstream_nb.runtime import Cluster

__all__ = [
    "Dashboard",
    "EventLog",
    "GroupView",
    "LagChart",
    "LagView",
    "LiveChart",
    "StoreView",
    "Tail",
    "TopicView",
    "current_cluster",
    "load_ipython_extension",
    "table_chart",
    "table_rows",
    "unload_ipython_extension",
    "use_cluster",
]


def current_cluster() -> Cluster:
    """The cluster `%kafka` commands act on (started by `%kafka cluster start`)."""
    return session.cluster


def use_cluster(cluster: Cluster) -> Cluster:
    """Let `%kafka` commands act on a cluster started in Python with `Cluster.start(...)`."""
    session.adopt(cluster)
    return cluster


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext kstream_nb`: register `%kafka`, `%%produce` and their `%config` options."""
    from kstream_nb.jupyter.magics import KafkaMagics

    magics = KafkaMagics(ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)


def unload_ipython_extension(ipython: Any) -> None:
    """`%unload_ext kstream_nb`: stop the cluster (the magics stay until the kernel restarts)."""
    session.stop()
