"""What the deterministic cluster core needs from the outside: time, timers and a transport.

The core creates no thread, socket or timer of its own. The runtime layer implements these
protocols twice: a simulated loop (virtual time, seeded, deterministic) and a real-time loop (a
background thread). Nodes are brokers, addressed by broker id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

__all__ = ["MessageHandler", "TimerHandle", "Timers", "Transport"]

MessageHandler = Callable[[int, object], None]  # (source node id, message)


class TimerHandle(Protocol):
    """A scheduled callback that can be cancelled before it runs."""

    def cancel(self) -> None: ...


class Timers(Protocol):
    """The cluster's clock and its only way to run something later."""

    def now_ms(self) -> int: ...

    def call_later(self, delay_ms: int, callback: Callable[[], None]) -> TimerHandle: ...


class Transport(Protocol):
    """Delivers messages between nodes, later, in order per link, or not at all (faults)."""

    def register(self, node_id: int, handler: MessageHandler) -> None: ...

    def unregister(self, node_id: int) -> None: ...

    def send(self, src: int, dst: int, message: object) -> None: ...
