"""The simulated network: latency, FIFO per link, silent drops on faults, counters, both loops."""

from __future__ import annotations

import threading
from random import Random

import pytest

from kstream_nb.cluster.environment import MessageHandler, Transport
from kstream_nb.runtime import RealTimeLoop, SimulatedLoop, SimulatedNetwork
from tests.runtime.conftest import START_MS

Inbox = list[tuple[int, int, object]]  # (arrival ms, source, message)


def _recorder(loop: SimulatedLoop, inbox: Inbox) -> MessageHandler:
    return lambda src, message: inbox.append((loop.now_ms(), src, message))


def _attach(network: SimulatedNetwork, loop: SimulatedLoop, *nodes: int) -> dict[int, Inbox]:
    inboxes: dict[int, Inbox] = {}
    for node in nodes:
        inboxes[node] = []
        network.register(node, _recorder(loop, inboxes[node]))
    return inboxes


def test_is_the_cores_transport(loop: SimulatedLoop) -> None:
    transport: Transport = SimulatedNetwork(loop)
    transport.register(1, lambda src, message: None)
    transport.unregister(1)


def test_a_message_arrives_after_the_link_latency(
    loop: SimulatedLoop, network: SimulatedNetwork
) -> None:
    inbox = _attach(network, loop, 1, 2)
    network.send(1, 2, "hello")
    loop.advance(0)
    assert inbox[2] == []  # never delivered inside send, nor before the latency
    loop.advance(1)
    assert inbox[2] == [(START_MS + 1, 1, "hello")]
    network.set_latency(1, 2, 50)
    network.send(2, 1, "slow")  # both directions are slow
    loop.advance(49)
    assert inbox[1] == []
    loop.advance(1)
    assert inbox[1] == [(START_MS + 51, 2, "slow")]


def test_a_node_reaches_itself_without_latency(
    loop: SimulatedLoop, network: SimulatedNetwork
) -> None:
    inbox = _attach(network, loop, 1)
    network.isolate(1)
    network.send(1, 1, "self")
    assert inbox[1] == []
    loop.advance(0)
    assert inbox[1] == [(START_MS, 1, "self")]
    assert network.reachable_from(1) == {1}


def test_a_link_never_reorders_even_when_it_gets_faster(
    loop: SimulatedLoop, network: SimulatedNetwork
) -> None:
    inbox = _attach(network, loop, 1, 2)
    network.set_latency(1, 2, 100)
    network.send(1, 2, "first")
    network.set_latency(1, 2, 1)
    network.send(1, 2, "second")
    loop.advance(99)
    assert inbox[2] == []
    loop.advance(1)
    assert [message for _, _, message in inbox[2]] == ["first", "second"]


def test_jitter_keeps_links_fifo_and_replays_with_the_same_seed() -> None:
    def run(seed: int) -> Inbox:
        loop = SimulatedLoop(start_ms=START_MS)
        network = SimulatedNetwork(loop, rng=Random(seed))
        inbox = _attach(network, loop, 1, 2)
        network.set_latency(1, 2, 5, jitter_ms=20)
        for index in range(50):
            network.send(1, 2, index)
            loop.advance(1)
        loop.advance("1s")
        return inbox[2]

    first = run(seed=11)
    assert [message for _, _, message in first] == list(range(50))
    assert first == run(seed=11)
    assert first != run(seed=12)


def test_unregistered_ends_drop_silently(loop: SimulatedLoop, network: SimulatedNetwork) -> None:
    inbox = _attach(network, loop, 1)
    network.send(1, 9, "to nobody")
    network.send(9, 1, "from nobody")
    loop.advance(10)
    assert inbox[1] == []
    assert network.stats() == {"sent": 2, "delivered": 0, "dropped": 2, "in_flight": 0}


def test_cut_drops_both_directions_until_healed(
    loop: SimulatedLoop, network: SimulatedNetwork
) -> None:
    inbox = _attach(network, loop, 1, 2, 3)
    network.cut_link(1, 2)
    assert not network.is_reachable(1, 2)
    assert not network.is_reachable(2, 1)
    assert network.is_reachable(1, 3)
    network.send(1, 2, "lost")
    network.send(2, 1, "lost")
    network.send(1, 3, "kept")
    loop.advance(10)
    assert inbox[1] == inbox[2] == []
    assert [message for _, _, message in inbox[3]] == ["kept"]
    network.heal_link(2, 1)
    network.send(1, 2, "back")
    loop.advance(10)
    assert [message for _, _, message in inbox[2]] == ["back"]


def test_isolate_cuts_a_node_from_everyone(loop: SimulatedLoop, network: SimulatedNetwork) -> None:
    inbox = _attach(network, loop, 1, 2, 3)
    network.isolate(2)
    assert network.reachable_from(2) == {2}
    assert network.reachable_from(1) == {1, 3}
    for other in (1, 3):
        network.send(2, other, "out")
        network.send(other, 2, "in")
    loop.advance(10)
    assert inbox == {1: [], 2: [], 3: []}
    inbox.update(_attach(network, loop, 4))  # a node registered later is cut off too
    network.send(4, 2, "late")
    loop.advance(10)
    assert inbox[2] == []
    network.heal_node(2)
    assert network.reachable_from(2) == {1, 2, 3, 4}


def test_heal_restores_links_isolation_and_latency(
    loop: SimulatedLoop, network: SimulatedNetwork
) -> None:
    inbox = _attach(network, loop, 1, 2, 3)
    network.cut_link(1, 2)
    network.isolate(3)
    network.set_latency(1, 3, 500)
    network.heal()
    assert network.reachable_from(1) == {1, 2, 3}
    assert network.latency_ms(1, 3) == 1
    network.send(1, 2, "a")
    network.send(1, 3, "b")
    loop.advance(1)
    assert len(inbox[2]) == len(inbox[3]) == 1


def test_a_message_in_flight_is_dropped_if_the_link_is_cut_when_it_lands(
    loop: SimulatedLoop, network: SimulatedNetwork
) -> None:
    inbox = _attach(network, loop, 1, 2)
    network.set_latency(1, 2, 10)
    network.send(1, 2, "doomed")
    network.send(1, 2, "survives")
    loop.advance(5)
    network.cut_link(1, 2)
    assert network.stats()["in_flight"] == 2
    loop.advance(5)
    network.heal_link(1, 2)
    loop.advance(5)
    assert inbox[2] == []
    network.send(1, 2, "after")
    loop.advance(10)
    assert [message for _, _, message in inbox[2]] == ["after"]
    assert network.stats() == {"sent": 3, "delivered": 1, "dropped": 2, "in_flight": 0}


def test_a_restarted_node_does_not_get_its_previous_lifes_messages(
    loop: SimulatedLoop, network: SimulatedNetwork
) -> None:
    _attach(network, loop, 1)
    old: Inbox = []
    network.register(2, _recorder(loop, old))
    network.set_latency(1, 2, 10)
    network.send(1, 2, "to the old broker")
    network.unregister(2)
    network.unregister(2)  # idempotent
    new: Inbox = []
    network.register(2, _recorder(loop, new))
    network.send(1, 2, "to the new broker")
    loop.advance(10)
    assert old == []
    assert [message for _, _, message in new] == ["to the new broker"]


def test_counters_add_up(loop: SimulatedLoop, network: SimulatedNetwork) -> None:
    _attach(network, loop, 1, 2)
    for index in range(10):
        network.send(1, 2, index)
    network.cut_link(1, 2)
    network.send(1, 2, "cut")
    assert network.stats() == {"sent": 11, "delivered": 0, "dropped": 1, "in_flight": 10}
    network.heal()
    loop.advance(1)
    assert network.stats() == {"sent": 11, "delivered": 10, "dropped": 1, "in_flight": 0}
    assert network.nodes == {1, 2}


def test_bad_arguments_say_what_is_wrong(loop: SimulatedLoop, network: SimulatedNetwork) -> None:
    _attach(network, loop, 1)
    with pytest.raises(ValueError, match="already registered"):
        network.register(1, lambda src, message: None)
    with pytest.raises(ValueError, match=">= 0"):
        network.set_latency(1, 2, -1)
    with pytest.raises(ValueError, match="default_latency_ms"):
        SimulatedNetwork(loop, default_latency_ms=-1)


def test_ping_pong_over_the_real_time_loop(real_loop: RealTimeLoop) -> None:
    network = SimulatedNetwork(real_loop, default_latency_ms=2)
    threads: list[str] = []
    done = threading.Event()

    def node_1(src: int, message: object) -> None:
        threads.append(threading.current_thread().name)
        done.set()

    def node_2(src: int, message: object) -> None:
        threads.append(threading.current_thread().name)
        network.send(2, src, f"pong for {message}")

    def setup() -> None:
        network.register(1, node_1)
        network.register(2, node_2)
        network.send(1, 2, "ping")

    real_loop.run_sync(setup)
    assert done.wait(2.0)
    assert threads == ["kstream-nb-test", "kstream-nb-test"]
    assert real_loop.run_sync(network.stats)["delivered"] == 2
