"""Start a 3-broker cluster in this process, kill a leader, and watch leadership and the ISR move.

Run: python examples/cluster_demo.py [--simulated]
"""

from __future__ import annotations

import argparse
import json

from kstream_nb import Cluster
from kstream_nb.cluster import ClusterSnapshot
from kstream_nb.cluster.events import IsrChanged, LeaderElected


def show(title: str, snapshot: ClusterSnapshot) -> None:
    print(f"\n== {title}")
    brokers = ", ".join(
        f"{b.broker_id}:{b.status}{' (controller)' if b.is_controller else ''}"
        for b in snapshot.brokers
    )
    print(f"brokers  {brokers}")
    print("partition  leader  epoch  replicas   isr        high watermark / log end per replica")
    for p in snapshot.partitions:
        offsets = "  ".join(
            f"{r.broker_id}:{r.high_watermark}/{r.log_end_offset}"
            if r.online
            else f"{r.broker_id}:down"
            for r in p.replica_states
        )
        leader = "none" if p.offline else str(p.leader)
        print(
            f"{p.topic}-{p.partition:<4}  {leader:>6}  {p.leader_epoch:>5}  "
            f"{list(p.replicas)!s:<9}  {list(p.isr)!s:<9}  {offsets}"
        )


def run(simulated: bool) -> None:
    config = {
        "broker.session.timeout.ms": 2000,
        "broker.heartbeat.interval.ms": 300,
        "replica.lag.time.max.ms": 3000,
    }
    with Cluster.start(brokers=3, config=config, simulated=simulated, seed=7) as cluster:
        print(f"{cluster} on {cluster.bootstrap_servers}")
        cluster.create_topic(
            "orders", partitions=3, replication_factor=3, config={"min.insync.replicas": 2}
        )
        for i in range(9):
            order = {"order_id": f"ORD-{i}", "customer_id": f"CUST-{i % 4}", "amount": 10.0 * i}
            cluster.produce(
                "orders",
                json.dumps(order).encode(),
                key=order["customer_id"].encode(),
                partition=i % 3,
                acks="all",
            )
        show("9 orders written with acks=all", cluster.describe())

        victim = cluster.describe().partition("orders", 0).leader
        print(f"\nkilling broker {victim}, the leader of orders-0 ...")
        cluster.kill_broker(victim)
        cluster.wait_until(
            lambda: cluster.core.describe().partition("orders", 0).leader not in (-1, victim),
            timeout="20s",
            what="a new leader for orders-0",
        )
        show(f"broker {victim} is down: new leaders, shrunk ISRs", cluster.describe())

        result = cluster.produce("orders", b'{"order_id": "ORD-9"}', partition=0, acks="all")
        print(
            f"\nstill writable with acks=all (min.insync.replicas=2): offset {result.base_offset}"
        )

        cluster.restart_broker(victim)
        cluster.wait_until(
            lambda: all(len(p.isr) == 3 for p in cluster.core.describe().partitions),
            timeout="30s",
            what="every replica back in sync",
        )
        show(f"broker {victim} restarted, caught up and rejoined every ISR", cluster.describe())

        print("\nwhat happened (from the __kstream_events topic):")
        for event in cluster.events():
            if isinstance(event, LeaderElected):
                print(
                    f"  leader of {event.topic}-{event.partition}: {event.previous_leader} -> "
                    f"{event.leader} (epoch {event.leader_epoch}, {event.reason})"
                )
            elif isinstance(event, IsrChanged):
                print(
                    f"  ISR of {event.topic}-{event.partition}: {list(event.previous_isr)} -> "
                    f"{list(event.isr)} ({event.reason})"
                )
        records = cluster.read("orders", 0)
        print(f"\norders-0 holds {len(records)} records; nothing acknowledged was lost")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulated", action="store_true", help="use simulated time")
    run(parser.parse_args().simulated)


if __name__ == "__main__":
    main()
