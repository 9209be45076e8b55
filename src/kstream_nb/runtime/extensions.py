"""Hooks that higher layers fill in, so that `cluster.sql()` and `topic.scan()` can live on the
objects users hold while their code lives above the runtime (`kstream_nb.sql`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kstream_nb.errors import KStreamNbError

__all__ = ["analytics", "register_analytics"]

_ANALYTICS: dict[str, Callable[..., Any]] = {}


def register_analytics(*, scan: Callable[..., Any], sql: Callable[..., Any]) -> None:
    """Install the implementations of `Topic.scan` and `Cluster.sql` (done by `kstream_nb.sql`)."""
    _ANALYTICS.update(scan=scan, sql=sql)


def analytics(name: str) -> Callable[..., Any]:
    try:
        return _ANALYTICS[name]
    except KeyError:
        raise KStreamNbError(
            f"{name}() needs kstream_nb.sql: `import kstream_nb.sql` (importing kstream_nb does it)"
        ) from None
