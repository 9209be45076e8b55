"""The curriculum's Python snippets, verbatim but for `from confluent_kafka` -> `from kstream_nb`.

They are read from ../shared/seed/kafka-deep-dive.md, so the tests follow the curriculum.
The consumer loops run forever by design; the test stops them the way a user would, with
KeyboardInterrupt (raised from `print` after the expected number of orders).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from kstream_nb import Cluster

# The curriculum lives in ../shared/seed beside the repository; a copy is kept in tests/ so the
# snippets run wherever the repository is checked out (the shared one wins when present).
_SHARED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "kafka-deep-dive.md"
SEED = _SHARED if _SHARED.exists() else Path(__file__).parent / "data" / "kafka-deep-dive.md"


def snippet(first_line: str) -> str:
    """The python code block of the seed whose first line is `first_line`, import changed."""
    blocks = re.findall(r"```python\n(.*?)```", SEED.read_text(), re.S)
    for block in blocks:
        if block.startswith(first_line):
            return block.replace("from confluent_kafka import", "from kstream_nb import")
    raise AssertionError(f"no python block starts with {first_line!r}")


def test_basic_producer(cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(snippet("from confluent_kafka import Producer\nimport json"), "seed", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    delivered = [line for line in out if line.startswith("Message delivered to orders [")]
    assert len(delivered) == 100
    records = [r for p in range(3) for r in cluster.read("orders", p)]
    assert len(records) == 100
    orders = [json.loads(r.value or b"") for r in records]
    assert {o["order_id"] for o in orders} == {f"ORD-{i}" for i in range(100)}
    assert all(dict(r.headers)["event_type"] == b"order_created" for r in records)
    # Same key, same partition: the key is the order id, so each order id is in one place.
    assert len({(r.key, p) for p in range(3) for r in cluster.read("orders", p)}) == 100


class _Stop:
    """`print` that raises KeyboardInterrupt after `limit` processed orders."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lines: list[str] = []

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.lines.append(" ".join(str(a) for a in args))
        if sum(1 for line in self.lines if line.startswith("Processing order")) >= self.limit:
            raise KeyboardInterrupt


def _produce_orders(cluster: Cluster, count: int) -> None:
    for i in range(count):
        order = {"order_id": f"ORD-{i}", "customer_id": f"CUST-{i % 10}", "amount": 99.99}
        cluster.produce(
            "orders", json.dumps(order).encode(), key=order["order_id"].encode(), partition=i % 3
        )


def test_consumer_group_with_manual_commits(cluster: Cluster) -> None:
    _produce_orders(cluster, 30)
    stop = _Stop(30)
    code = snippet("from confluent_kafka import Consumer, KafkaError, KafkaException")
    exec(compile(code, "seed", "exec"), {"print": stop})
    processed = [line for line in stop.lines if line.startswith("Processing order")]
    assert sorted(processed) == sorted(f"Processing order: ORD-{i}" for i in range(30))
    # Each order is committed after it is processed; the interrupt came inside the 30th
    # order's processing, so 29 are committed and the 30th will be delivered again
    # (at-least-once).
    coordinator, _ = cluster.core.group_coordinator("order-processor")
    committed = coordinator.committed("order-processor")
    assert sum(o.offset for o in committed.values()) == 29


def test_batch_consumer_with_retries_and_a_dead_letter_queue(cluster: Cluster) -> None:
    _produce_orders(cluster, 12)
    namespace: dict[str, Any] = {}
    exec(
        compile(snippet("from confluent_kafka import Consumer\nimport json"), "seed", "exec"),
        namespace,
    )

    class Orders(namespace["BatchOrderConsumer"]):  # type: ignore[misc]
        """The seed leaves process_order and the DLQ to the reader; fill them in."""

        dead: list[dict[str, Any]]

        def process_order(self, order: dict[str, Any]) -> None:
            if order["order_id"].endswith("3"):
                raise ValueError("cannot process")

        def send_to_dlq(self, msg: dict[str, Any]) -> None:
            self.dead.append(msg)

    consumer = Orders(
        {
            "bootstrap.servers": "localhost:9092",
            "group.id": "batch",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        },
        batch_size=100,
    )
    consumer.dead = []
    consumer.consumer.subscribe(["orders"])
    batch = consumer.consume_batch()
    assert len(batch) == 12
    consumer.process_with_retry(batch)
    consumer.consumer.commit()
    assert [m["value"]["order_id"] for m in consumer.dead] == ["ORD-3"]
    consumer.consumer.close()
