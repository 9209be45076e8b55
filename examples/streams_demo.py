"""The seed's Kafka Streams topology, in Python, on an in-kernel cluster.

Filters high-value orders, counts orders per customer (through a repartition topic), enriches
orders with a customers table, and counts orders per customer per hour; then prints what it
wrote and what its stores hold. `python examples/streams_demo.py` (simulated time: a second).
"""

from __future__ import annotations

import json

from kstream_nb import Cluster, Consumer, Producer, TopicPartition
from kstream_nb.streams import KafkaStreams, Serdes, StreamsBuilder, TimeWindows


def main() -> None:
    config = {"group.initial.rebalance.delay.ms": 0}
    with Cluster.start(brokers=3, simulated=True, seed=7, config=config) as cluster:
        for topic in ("orders", "customers", "high-value-orders", "enriched-orders"):
            cluster.create_topic(topic, partitions=3, replication_factor=3)

        # Kafka Streams places keys with murmur2, as Java producers do.
        producer = Producer(
            {"bootstrap.servers": cluster.bootstrap_servers, "partitioner": "murmur2_random"}
        )
        now = cluster.now_ms()
        for customer, name in [("CUST-1", "Ada"), ("CUST-2", "Grace")]:
            producer.produce("customers", json.dumps({"name": name}), customer, timestamp=now)
        orders = [
            ("CUST-1", "ORD-1", 99.99),
            ("CUST-2", "ORD-2", 1500.0),
            ("CUST-1", "ORD-3", 42.0),
            ("CUST-2", "ORD-4", 2500.0),
        ]
        for i, (customer, order_id, amount) in enumerate(orders):
            order = {"order_id": order_id, "customer_id": customer, "amount": amount}
            producer.produce("orders", json.dumps(order), customer, timestamp=now + 1 + i)
        producer.flush(10)

        builder = StreamsBuilder()
        orders_stream = builder.stream("orders")
        high_value = orders_stream.filter(lambda key, order: order["amount"] > 1000)
        by_customer = orders_stream.group_by(lambda key, order: order["customer_id"]).count()
        customers = builder.table("customers")
        enriched = orders_stream.join(customers, lambda order, c: {**order, "name": c["name"]})
        per_hour = (
            orders_stream.group_by_key()
            .windowed_by(TimeWindows.of_size_with_no_grace("1h"))
            .count()
        )
        high_value.to("high-value-orders")
        enriched.to("enriched-orders")
        topology = builder.build()
        print(topology.describe())

        settings = {
            "application.id": "order-stream-processor",
            "bootstrap.servers": cluster.bootstrap_servers,
            "default.key.serde": Serdes.String(),
            "default.value.serde": Serdes.Json(),
        }
        with KafkaStreams(topology, settings) as streams:
            processed = streams.run(count=2 + 4 + 4)  # customers, orders, repartitioned orders
            print(f"processed {processed} records")
            print("orders per customer:", dict(streams.store(by_customer.store_name).all()))
            hourly = streams.store(per_hour.store_name).all()
            print("orders per customer per hour:", [(k, w.start, n) for (k, w), n in hourly])

        reader = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": "demo"})
        try:
            for topic in ("high-value-orders", "enriched-orders"):
                reader.assign([TopicPartition(topic, p, 0) for p in range(3)])
                rows = sorted(
                    json.loads(m.value() or b"null")["order_id"] for m in reader.consume(100, 1.0)
                )
                print(f"{topic}: {rows}")
        finally:
            reader.close()


if __name__ == "__main__":
    main()
