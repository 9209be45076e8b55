"""The kernel-side driver of the cluster core: its event loop and its network.

`SimulatedLoop` (virtual time, deterministic) or `RealTimeLoop` (one background thread) supply
the core's `Timers`; `SimulatedNetwork` is its `Transport`, with fault injection, in both modes.
Only this layer creates threads; the cluster core never imports it.
"""

from kstream_nb.runtime.cluster import Cluster, ProduceError
from kstream_nb.runtime.loop import EventLoop, RealTimeLoop, SimulatedLoop, Timer
from kstream_nb.runtime.network import SimulatedNetwork

__all__ = [
    "Cluster",
    "EventLoop",
    "ProduceError",
    "RealTimeLoop",
    "SimulatedLoop",
    "SimulatedNetwork",
    "Timer",
]
