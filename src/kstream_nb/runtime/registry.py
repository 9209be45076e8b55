"""Which in-kernel cluster answers to which `bootstrap.servers` address.

A running `Cluster` registers the addresses it advertises (`localhost:9092,...`); clients find it
by any of them, with `localhost`, `127.0.0.1` and `::1` treated alike. The most recently started
cluster wins an address two clusters share.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from kstream_nb.errors import ErrorCode, KafkaApiError

if TYPE_CHECKING:
    from kstream_nb.runtime.cluster import Cluster

__all__ = ["NoClusterError", "find_cluster", "register", "unregister"]

_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}
_lock = threading.Lock()
# normalized "host:port" -> clusters answering to it, oldest first
_by_address: dict[str, list[Cluster]] = {}


class NoClusterError(KafkaApiError):
    """No in-kernel cluster answers to any of the given addresses."""

    code = ErrorCode.BROKER_NOT_AVAILABLE


def _normalize(address: str) -> str:
    text = address.strip().lower()
    for prefix in ("plaintext://", "tcp://"):
        text = text.removeprefix(prefix)
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, "9092"
    if host in _LOOPBACK:
        host = "localhost"
    return f"{host}:{port}"


def register(cluster: Cluster, addresses: list[str]) -> None:
    with _lock:
        for address in addresses:
            _by_address.setdefault(_normalize(address), []).append(cluster)


def unregister(cluster: Cluster) -> None:
    with _lock:
        for address in list(_by_address):
            clusters = [c for c in _by_address[address] if c is not cluster]
            if clusters:
                _by_address[address] = clusters
            else:
                del _by_address[address]


def find_cluster(bootstrap_servers: str) -> Cluster:
    """The running cluster that answers to one of the comma-separated addresses."""
    addresses = [a for a in bootstrap_servers.split(",") if a.strip()]
    if not addresses:
        raise NoClusterError(
            "bootstrap.servers is empty; give the cluster's address, like localhost:9092"
        )
    with _lock:
        for address in addresses:
            clusters = _by_address.get(_normalize(address))
            if clusters:
                return clusters[-1]
        running = sorted(_by_address)
    hint = (
        f"running clusters answer to {', '.join(running)}"
        if running
        else "no cluster is running: start one with Cluster.start() or %kafka cluster start"
    )
    raise NoClusterError(f"no in-kernel cluster answers to {bootstrap_servers!r}; {hint}")
