"""Streams: a tumbling one-hour window count by customer, end to end, vs Polars' group_by_dynamic.

A real-time 3-broker cluster holds `orders` (3 partitions, replication factor 3): N orders (1
million by default) of about 90 bytes of JSON keyed by customer (10 000 customers), with event
times spread over 24 hours. The topology

    builder.stream("orders").group_by_key()
        .windowed_by(TimeWindows.of_size_with_no_grace("1h")).count("per-hour", retention="1d")
        .to_stream().to("orders-per-hour", value_serde=Serdes.Long())

runs with `KafkaStreams.run()` (Kafka Streams' defaults: record cache, 30 s commit interval,
at least once; the brokers' group.initial.rebalance.delay.ms is 0) from the group join to the
last result written and committed: events per
second end to end (read, deserialize, aggregate, write changelog and results). The lower bound
is Polars computing the same counts with `group_by_dynamic` over the same rows already in
memory, in the same run. The counts must match. The bench's own rows are `gc.freeze()`d
before the rounds, so the collector's full passes do not walk them.

Usage: `python bench/bench_streams.py [--quick] [--records N] [--repeat N]`.
"""

from __future__ import annotations

import gc
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    Timing,
    fmt_count,
    fmt_ratio,
    git_revision,
    machine_facts,
    make_parser,
    markdown_table,
)
from kstream_nb import Cluster
from kstream_nb.log import BatchBuilder
from kstream_nb.streams import KafkaStreams, Serdes, StreamsBuilder, TimeWindows

CUSTOMERS = 10_000
PARTITIONS = 3
HOUR = 3_600_000
GOAL = 200_000

Rows = list[tuple[str, bytes, int]]


def make_rows(records: int, start_ms: int, seed: int = 11) -> Rows:
    rng = random.Random(seed)
    rows = []
    for i in range(records):
        customer = f"CUST-{rng.randrange(CUSTOMERS):06d}"
        ts = start_ms + rng.randrange(24 * HOUR)
        amount = rng.randrange(1, 100_000) / 100
        value = (
            f'{{"order_id": "ORD-2026-11-27-{i:010d}", "customer_id": "{customer}", '
            f'"amount": {amount}}}'
        ).encode()
        rows.append((customer, value, ts))
    rows.sort(key=lambda r: r[2])  # event time mostly in order, as producers write
    return rows


def fill(cluster: Cluster, rows: Rows) -> None:
    """Produce keyed rows in batches, each key to the partition a Java producer would pick."""
    from kstream_nb.client.partitioner import murmur2

    batches: list[BatchBuilder] = [BatchBuilder() for _ in range(PARTITIONS)]
    for customer, value, ts in rows:
        key = customer.encode()
        p = murmur2(key, PARTITIONS)
        batches[p].append(key, value, ts)
        if len(batches[p]) >= 1000:
            cluster.produce_batch("orders", p, batches[p].build(), acks="all", timeout="60s")
            batches[p] = BatchBuilder()
    for p, builder in enumerate(batches):
        if len(builder):
            cluster.produce_batch("orders", p, builder.build(), acks="all", timeout="60s")


def topology() -> StreamsBuilder:
    builder = StreamsBuilder()
    (
        builder.stream("orders")
        .group_by_key()
        .windowed_by(TimeWindows.of_size_with_no_grace("1h"))
        .count("per-hour", retention="1d")  # keep the day's windows, to check them all
        .to_stream()
        .to("orders-per-hour", value_serde=Serdes.Long())
    )
    return builder


def run_streams(
    cluster: Cluster, records: int, app: str
) -> tuple[float, dict[tuple[str, int], int]]:
    config = {
        "application.id": app,
        "bootstrap.servers": cluster.bootstrap_servers,
        "default.key.serde": Serdes.String(),
        "default.value.serde": Serdes.Json(),
    }
    with KafkaStreams(topology().build(), config) as streams:
        start = time.perf_counter()
        done = streams.run(count=records, timeout=600)
        seconds = time.perf_counter() - start
        if done != records:
            raise AssertionError(f"processed {done} of {records} records")
        counts = {(k, w.start): n for (k, w), n in streams.store("per-hour").all()}
    return seconds, counts


def run_polars(rows: Rows) -> tuple[float, dict[tuple[str, int], int]]:
    frame = pl.DataFrame(
        {"customer_id": [r[0] for r in rows], "ts": [r[2] for r in rows]},
    ).with_columns(pl.from_epoch("ts", time_unit="ms").alias("timestamp"))
    start = time.perf_counter()
    out = (
        frame.sort("timestamp")
        .group_by_dynamic("timestamp", every="1h", group_by="customer_id")
        .agg(pl.len().alias("n"))
    )
    seconds = time.perf_counter() - start
    counts = {
        (c, int(t.timestamp() * 1000)): n
        for c, t, n in out.select("customer_id", "timestamp", "n").iter_rows()
    }
    return seconds, counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--records", type=int, default=None, help="orders (1 000 000)")
    args = parser.parse_args(argv)
    records = args.records or (20_000 if args.quick else 1_000_000)
    repeat = 1 if args.quick else args.repeat
    print(f"`python bench/bench_streams.py{' --quick' if args.quick else ''}` — {machine_facts()}")
    print(f"kstream_nb at git {git_revision(Path(__file__).resolve().parent.parent)}\n")
    streams_times: list[float] = []
    polars_times: list[float] = []
    # No initial rebalance delay (3 s by default, Kafka's too): the clock starts at run().
    with Cluster.start(brokers=3, config={"group.initial.rebalance.delay.ms": 0}) as cluster:
        cluster.create_topic("orders", partitions=PARTITIONS, replication_factor=3)
        cluster.create_topic("orders-per-hour", partitions=PARTITIONS, replication_factor=3)
        start_ms = cluster.now_ms() - 48 * HOUR
        start_ms -= start_ms % HOUR
        rows = make_rows(records, start_ms)
        fill(cluster, rows)
        # The bench's own copy of the input (for Polars and the check) is not part of the
        # system under test: frozen, the collector's full passes do not walk it (as
        # bench_clients.py does with its values).
        gc.freeze()
        for round_no in range(repeat):
            seconds, counts = run_streams(cluster, records, f"bench-{round_no}")
            streams_times.append(seconds)
            p_seconds, expected = run_polars(rows)
            polars_times.append(p_seconds)
            if counts != expected:
                raise AssertionError("the streams counts differ from Polars'")
    streams_timing = Timing("streams", tuple(streams_times))
    polars_timing = Timing("polars", tuple(polars_times))
    s, p = streams_timing.median, polars_timing.median
    header = ["path", "events", "median s", "events/s", "vs Polars", "rounds", "spread"]
    rows_out = [
        [
            "KafkaStreams, end to end",
            fmt_count(records),
            f"{s:.2f}",
            fmt_count(records / s),
            fmt_ratio(p / s),
            len(streams_times),
            f"{streams_timing.spread:.0%}",
        ],
        [
            "Polars group_by_dynamic (in memory)",
            fmt_count(records),
            f"{p:.3f}",
            fmt_count(records / p),
            "1.00x",
            len(polars_times),
            f"{polars_timing.spread:.0%}",
        ],
    ]
    print(markdown_table(header, rows_out))
    rounds = ", ".join(fmt_count(records / t) for t in streams_times)
    print(
        f"\nKafkaStreams events/s round by round: {rounds} (spread: (slowest - fastest) / median)"
    )
    rate = records / s
    verdict = "MET" if rate >= GOAL else "MISSED"
    print(f"\nGoal: >= {fmt_count(GOAL)} events/s end to end: {fmt_count(rate)} -> {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
