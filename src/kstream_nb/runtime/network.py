"""The inter-broker network, in process, with the faults a real one has.

`SimulatedNetwork` implements `kstream_nb.cluster.environment.Transport` on top of any `Timers`
(a `SimulatedLoop` for tests, the `RealTimeLoop` for live demos), so killing a broker, cutting a
link or slowing one down is a method call, and the same faults replay exactly in virtual time.
Like a real network it drops silently: the core learns of a fault only by timeouts.
"""

from __future__ import annotations

from collections import deque
from random import Random

from kstream_nb.cluster.environment import MessageHandler, Timers

__all__ = ["SimulatedNetwork"]

_Link = tuple[int, int]  # (source node id, destination node id): one direction


class SimulatedNetwork:
    """Delivers `handler(src, message)` after the link's latency, in send order per link.

    Delivery is never synchronous: `send` only schedules it on `timers`. A message is dropped
    (and counted) when, at send or at delivery time, the link is cut, either end is isolated,
    the source or destination is not registered, or the destination re-registered since the
    send (a restarted broker does not receive its previous life's messages). A node always
    reaches itself, with no latency unless `set_latency(n, n, ms)` says otherwise.

    Not thread-safe: with a `RealTimeLoop`, call it on the loop thread (`loop.run_sync`).
    """

    def __init__(
        self, timers: Timers, *, default_latency_ms: int = 1, rng: Random | None = None
    ) -> None:
        if default_latency_ms < 0:
            raise ValueError(f"default_latency_ms must be >= 0, got {default_latency_ms}")
        self._timers = timers
        self._rng = rng if rng is not None else Random(0)
        self.default_latency_ms = default_latency_ms
        self._handlers: dict[int, MessageHandler] = {}
        # node id -> registration count; a message carries its destination's at send time.
        self._incarnations: dict[int, int] = {}
        self._cut: set[_Link] = set()
        self._isolated: set[int] = set()
        self._latency_ms: dict[_Link, int] = {}
        self._jitter_ms: dict[_Link, int] = {}
        # link -> messages in flight, oldest first: (destination incarnation, message).
        self._in_flight: dict[_Link, deque[tuple[int, object]]] = {}
        # link -> latest scheduled delivery time (ms), so a faster latency cannot overtake.
        self._last_due_ms: dict[_Link, int] = {}
        self._sent = 0
        self._delivered = 0
        self._dropped = 0

    # -- Transport -------------------------------------------------------------------------

    def register(self, node_id: int, handler: MessageHandler) -> None:
        """Attach a node; messages sent to it from now on reach `handler(src, message)`."""
        if node_id in self._handlers:
            raise ValueError(f"node {node_id} is already registered; unregister it first")
        self._handlers[node_id] = handler
        self._incarnations[node_id] = self._incarnations.get(node_id, 0) + 1

    def unregister(self, node_id: int) -> None:
        """Detach a node (idempotent); messages in flight to it are dropped on arrival."""
        self._handlers.pop(node_id, None)

    def send(self, src: int, dst: int, message: object) -> None:
        self._sent += 1
        if src not in self._handlers or dst not in self._handlers:
            self._dropped += 1
            return
        if not self.is_reachable(src, dst):
            self._dropped += 1
            return
        link = (src, dst)
        now = self._timers.now_ms()
        due = now + self.latency_ms(src, dst)
        jitter = self._jitter_ms.get(link, 0)
        if jitter:
            due += self._rng.randint(0, jitter)
        due = max(due, self._last_due_ms.get(link, due))
        self._last_due_ms[link] = due
        queue = self._in_flight.get(link)
        if queue is None:
            queue = self._in_flight[link] = deque()
        queue.append((self._incarnations[dst], message))
        # Each timer delivers the link's oldest message, not "its own", so a link stays FIFO
        # even if timers with equal or skewed due times fire in another order.
        self._timers.call_later(due - now, lambda: self._deliver_next(link))

    def _deliver_next(self, link: _Link) -> None:
        queue = self._in_flight[link]
        incarnation, message = queue.popleft()
        if not queue:
            del self._in_flight[link]
        src, dst = link
        handler = self._handlers.get(dst)
        if (
            handler is None
            or self._incarnations[dst] != incarnation
            or not self.is_reachable(src, dst)
        ):
            self._dropped += 1
            return
        self._delivered += 1
        handler(src, message)

    # -- faults ----------------------------------------------------------------------------

    def cut_link(self, a: int, b: int) -> None:
        """Cut the link between `a` and `b`, both directions; a node's link to itself stays up."""
        if a != b:
            self._cut.update(((a, b), (b, a)))

    def heal_link(self, a: int, b: int) -> None:
        """Undo `cut_link(a, b)` (an isolated end stays isolated)."""
        self._cut.difference_update(((a, b), (b, a)))

    def isolate(self, node: int) -> None:
        """Cut `node` off from every other node, including nodes registered later."""
        self._isolated.add(node)

    def heal_node(self, node: int) -> None:
        """Undo `isolate(node)` (links cut one by one stay cut)."""
        self._isolated.discard(node)

    def heal_all_of(self, node: int) -> None:
        """Undo every fault touching `node`: its isolation, its cut links, its slow links."""
        self._isolated.discard(node)
        self._cut = {link for link in self._cut if node not in link}
        for links in (self._latency_ms, self._jitter_ms):
            for link in [link for link in links if node in link]:
                del links[link]

    @property
    def isolated(self) -> frozenset[int]:
        """Nodes cut off from every other node."""
        return frozenset(self._isolated)

    @property
    def cut_links(self) -> frozenset[tuple[int, int]]:
        """Cut links, each once as (lower id, higher id)."""
        return frozenset((a, b) for a, b in self._cut if a < b)

    @property
    def slow_links(self) -> dict[tuple[int, int], int]:
        """Links with added latency, each once as (lower id, higher id) -> ms."""
        return {(a, b): ms for (a, b), ms in self._latency_ms.items() if a < b}

    def heal(self) -> None:
        """Back to a healthy network: no cuts, no isolation, default latency everywhere."""
        self._cut.clear()
        self._isolated.clear()
        self._latency_ms.clear()
        self._jitter_ms.clear()

    def set_latency(self, a: int, b: int, ms: int, *, jitter_ms: int = 0) -> None:
        """Make the link between `a` and `b` (both directions) take `ms` (+ 0..`jitter_ms`).

        Jitter is drawn from the network's `rng`; it never reorders a link.
        """
        if ms < 0 or jitter_ms < 0:
            raise ValueError(f"latency and jitter must be >= 0 ms, got {ms} and {jitter_ms}")
        for link in ((a, b), (b, a)):
            self._latency_ms[link] = ms
            if jitter_ms:
                self._jitter_ms[link] = jitter_ms
            else:
                self._jitter_ms.pop(link, None)

    def latency_ms(self, src: int, dst: int) -> int:
        """The base latency of the link `src` -> `dst` (without jitter)."""
        default = 0 if src == dst else self.default_latency_ms
        return self._latency_ms.get((src, dst), default)

    def is_reachable(self, a: int, b: int) -> bool:
        """Whether the link `a` -> `b` is up (registration aside): not cut, neither end isolated."""
        if a == b:
            return True
        return (a, b) not in self._cut and a not in self._isolated and b not in self._isolated

    def reachable_from(self, node: int) -> set[int]:
        """Registered nodes `node` can reach now, itself included if registered."""
        return {other for other in self._handlers if self.is_reachable(node, other)}

    # -- observation -----------------------------------------------------------------------

    @property
    def nodes(self) -> frozenset[int]:
        """The registered node ids."""
        return frozenset(self._handlers)

    def stats(self) -> dict[str, int]:
        """Message counters: sent = delivered + dropped + in_flight."""
        in_flight = sum(len(queue) for queue in self._in_flight.values())
        return {
            "sent": self._sent,
            "delivered": self._delivered,
            "dropped": self._dropped,
            "in_flight": in_flight,
        }

    def __repr__(self) -> str:
        return f"SimulatedNetwork(nodes={sorted(self._handlers)}, stats={self.stats()})"
