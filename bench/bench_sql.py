"""SQL over the log vs a consumer loop: one GROUP BY three ways over the same topic.

A real-time cluster (3 brokers) holds `orders`: 3 partitions, replication factor 1, 64 MiB
segments, N records (10 million by default) of about 100 bytes of JSON, e.g.
`{"order_id": "ORD-2026-11-27-0000000042", "customer_id": "CUST-000042", "amount": 123.45}`
(10 000 customers).
The records are produced as pre-built batches of 1000 (outside the clock), and the columnar
twins of the sealed segments are written in the background; the run waits for them.

Then, each round, the same question: `SELECT customer_id, count(*), sum(amount) FROM orders
GROUP BY customer_id`

1. `cluster.sql(...)`: DuckDB over the twins plus the decoded active segments;
2. `cluster.topic("orders").scan(value_format="json")`, grouped and collected in Polars;
3. a `Consumer` (assign the 3 partitions from the beginning, `consume(10000, 1.0)`) that decodes
   every value with msgspec and sums in a Python dict: what one writes without SQL.

Every path's answer is checked against the others. Each query path's time includes taking its
snapshot. `cluster.flush_twins()` has written the twins and decoded the active segments (the
runtime does both in the background as data arrives); the first query of each engine is
reported apart as "first" (files read for the first time, the engine's own start-up). The
consumer loop takes half a minute at 10 M records, so it runs `--consumer-rounds` times (1).

Usage: `python bench/bench_sql.py [--quick] [--records N] [--repeat N] [--consumer-rounds N]`.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import msgspec
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import fmt_count, fmt_ratio, git_revision, machine_facts, make_parser, markdown_table
from kstream_nb import Cluster, Consumer, TopicPartition
from kstream_nb.log import BatchBuilder

QUERY = "SELECT customer_id, count(*) AS n, sum(amount) AS total FROM orders GROUP BY customer_id"
CUSTOMERS = 10_000
PARTITIONS = 3
BATCH = 1000

Answer = dict[str, tuple[int, float]]


def fill(cluster: Cluster, records: int, seed: int = 7) -> int:
    """Produce `records` JSON orders round robin over the partitions; returns bytes of values."""
    rng = random.Random(seed)
    now = cluster.now_ms()
    total = 0
    for start in range(0, records, BATCH * PARTITIONS):
        for p in range(PARTITIONS):
            builder = BatchBuilder()
            for i in range(start + p, min(start + BATCH * PARTITIONS, records), PARTITIONS):
                customer = rng.randrange(CUSTOMERS)
                amount = rng.randrange(1, 100_000) / 100
                value = (
                    f'{{"order_id": "ORD-2026-11-27-{i:010d}", '
                    f'"customer_id": "CUST-{customer:06d}", "amount": {amount}}}'
                ).encode()
                total += len(value)
                builder.append(None, value, now)
            if len(builder):
                result = cluster.produce_batch("orders", p, builder.build(), acks=1, timeout="60s")
                if result.error.name != "NONE":
                    raise RuntimeError(f"produce failed: {result.error.name}")
    return total


def by_sql(cluster: Cluster) -> Answer:
    return {c: (n, t) for c, n, t in cluster.sql(QUERY).fetchall()}


def by_polars(cluster: Cluster) -> Answer:
    frame = (
        cluster.topic("orders")
        .scan(value_format="json")
        .group_by("customer_id")
        .agg(pl.len().alias("n"), pl.col("amount").sum().alias("total"))
        .collect()
    )
    return {c: (n, t) for c, n, t in frame.iter_rows()}


class Order(msgspec.Struct):
    order_id: str
    customer_id: str
    amount: float


def by_consumer(cluster: Cluster, records: int) -> Answer:
    consumer = Consumer(
        {
            "bootstrap.servers": cluster.bootstrap_servers,
            "group.id": "bench-sql",
            "enable.auto.commit": False,
        }
    )
    decode = msgspec.json.Decoder(Order).decode
    counts: dict[str, int] = {}
    sums: dict[str, float] = {}
    seen = 0
    try:
        consumer.assign([TopicPartition("orders", p, 0) for p in range(PARTITIONS)])
        while seen < records:
            for msg in consumer.consume(10_000, 1.0):
                if msg.error() is not None:
                    raise RuntimeError(str(msg.error()))
                order = decode(msg.value())  # type: ignore[arg-type]
                counts[order.customer_id] = counts.get(order.customer_id, 0) + 1
                sums[order.customer_id] = sums.get(order.customer_id, 0.0) + order.amount
                seen += 1
    finally:
        consumer.close()
    return {c: (n, sums[c]) for c, n in counts.items()}


def same(a: Answer, b: Answer) -> bool:
    return a.keys() == b.keys() and all(
        a[k][0] == b[k][0] and abs(a[k][1] - b[k][1]) <= 1e-6 * max(1.0, abs(a[k][1])) for k in a
    )


def timed(fn, *args):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--records", type=int, default=None, help="records (10 000 000)")
    parser.add_argument("--consumer-rounds", type=int, default=1)
    parser.add_argument("--segment-bytes", type=int, default=64 << 20)
    args = parser.parse_args(argv)
    records = args.records or (200_000 if args.quick else 10_000_000)
    repeat = 2 if args.quick else args.repeat
    segment_bytes = min(args.segment_bytes, 4 << 20) if args.quick else args.segment_bytes
    print(f"`python bench/bench_sql.py{' --quick' if args.quick else ''}` — {machine_facts()}")
    print(f"kstream_nb at git {git_revision(Path(__file__).resolve().parent.parent)}\n")
    with Cluster.start(brokers=3) as cluster:
        cluster.create_topic(
            "orders",
            partitions=PARTITIONS,
            replication_factor=1,
            config={"segment.bytes": segment_bytes},
        )
        start = time.perf_counter()
        value_bytes = fill(cluster, records)
        produced = time.perf_counter() - start
        start = time.perf_counter()
        cluster.flush_twins(timeout="30min")
        twins_wait = time.perf_counter() - start
        print(
            f"Produced {fmt_count(records)} records ({value_bytes / records:.0f}-byte values) in "
            f"{produced:.1f} s; twins done {twins_wait:.1f} s after the last produce.\n"
        )
        first_sql, expected = timed(by_sql, cluster)
        first_polars, answer = timed(by_polars, cluster)
        if not same(answer, expected):
            raise AssertionError("Polars and DuckDB disagree")
        sql_times: list[float] = []
        polars_times: list[float] = []
        for _ in range(repeat):
            seconds, answer = timed(by_sql, cluster)
            sql_times.append(seconds)
            if not same(answer, expected):
                raise AssertionError("DuckDB answers changed between rounds")
            seconds, answer = timed(by_polars, cluster)
            polars_times.append(seconds)
            if not same(answer, expected):
                raise AssertionError("Polars answers changed between rounds")
        consumer_times = []
        for _ in range(args.consumer_rounds):
            seconds, answer = timed(by_consumer, cluster, records)
            consumer_times.append(seconds)
            if not same(answer, expected):
                raise AssertionError("the consumer loop and SQL disagree")
    consumer = statistics.median(consumer_times)
    rows = []
    for name, times, first in (
        ("cluster.sql (DuckDB)", sql_times, first_sql),
        ("topic.scan() (Polars)", polars_times, first_polars),
        ("Consumer loop (Python)", consumer_times, None),
    ):
        median = statistics.median(times)
        spread = (max(times) - min(times)) / median
        rows.append(
            [
                name,
                fmt_count(records),
                f"{median:.3f}",
                "-" if first is None else f"{first:.3f}",
                fmt_count(records / median),
                fmt_ratio(consumer / median),
                f"{spread:.0%}",
                len(times),
            ]
        )
    print(
        f"{QUERY}; {len(expected)} groups. Medians of the timed rounds; first = the engine's "
        "first query of the run; vs consumer = consumer seconds / these seconds.\n"
    )
    header = [
        "path",
        "records",
        "median s",
        "first s",
        "records/s",
        "vs consumer",
        "spread",
        "rounds",
    ]
    print(markdown_table(header, rows))
    sql_median, polars_median = statistics.median(sql_times), statistics.median(polars_times)
    print("\nGoals:")
    for name, median in (("cluster.sql", sql_median), ("scan()", polars_median)):
        print(f"- {name} under 1 s: {median:.3f} s -> {'MET' if median < 1 else 'MISSED'}")
        ratio = consumer / median
        verdict = "MET" if ratio >= 50 else "MISSED"
        print(f"- {name} >= 50x the consumer loop: {ratio:.0f}x -> {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
