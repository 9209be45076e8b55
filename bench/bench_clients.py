"""Clients vs mockafka-py: per-message produce() + flush(), poll() and consume(1000) throughput.

kstream_nb's `Producer` and `Consumer` on a 3-broker `Cluster` in real time (topic `bench`, 3
partitions, replication factor 3, `acks=all`, other producer settings at their defaults) beside
mockafka-py, an in-memory confluent-kafka mock with no brokers and no replication, doing the same
work in the same rounds. Each round, for each system:

1. produce: a fresh topic, then one `produce(topic, value, partition=i % 3)` per record and one
   `flush()`. mockafka needs an explicit partition, so both get the same round robin. When
   kstream_nb's queue is full (`queue.buffering.max.messages`, 100 000 by default) `produce()`
   raises BufferError; the loop then calls `poll(1.0)` and retries, as confluent-kafka's examples
   do. mockafka never raises it (and never calls delivery callbacks, so neither side sets one).
2. poll: a new consumer reads every record back with one `poll(1.0)` per record.
3. consume(1000): another new consumer reads them all again with `consume(1000, 1.0)`.

The consumers have `group.id`, `auto.offset.reset=earliest` and `enable.auto.commit=False`.
kstream_nb's consumer uses `assign()` of the 3 partitions from offset 0 (no group rebalance, so
it is deterministic); mockafka's `assign()` is a no-op, so it uses `subscribe()`. Both loops
check `error()` and keep `value()` of every message. Outside the clock every round checks that
every record was stored once (per-partition counts; for kstream_nb the leader's high watermark
and all 3 replicas' log end offsets), and that each consumer saw every value exactly once and
nothing more. kstream_nb gets a fresh cluster each round (its start is outside the clock), so
every round writes to an empty `bench` topic; mockafka gets a cleared store. The pre-built
values are `gc.freeze()`d, so the collector's full passes do not walk the bench's own data.

The same kstream_nb workload on a `simulated=True` cluster is an extra row: its wall time is pure
CPU (one thread, no waiting out the 1 ms link latency). Usage:
`python bench/bench_clients.py [--quick] [--repeat N] [--warmup N] [--records N] [--no-simulated]`,
or `--profile real|simulated` to cProfile one kstream_nb produce + poll run.
"""

from __future__ import annotations

import contextlib
import cProfile
import gc
import importlib.metadata
import itertools
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka.admin import NewTopic

try:
    from mockafka import FakeAdminClientImpl, FakeConsumer, FakeProducer
    from mockafka.kafka_store import KafkaStore
except ImportError:  # the peer is not a dependency of the project: see bench/RESULTS.md
    raise SystemExit(
        "bench_clients.py compares with mockafka-py; install it with "
        "`pip install --no-deps mockafka-py==0.2.3` (it pins aiokafka<0.13 but runs with ours)"
    ) from None

import kstream_nb
from bench_cluster import BROKERS, running_cluster
from harness import (
    Timing,
    Trial,
    fmt_count,
    fmt_ratio,
    git_revision,
    machine_facts,
    make_parser,
    markdown_table,
    measure,
    print_profile,
    rate_ratio,
)
from kstream_nb import Cluster, Consumer, Producer, TopicPartition

TOPIC = "bench"
PARTITIONS = 3
REPLICATION = 3
RECORD_BYTES = 100
CONSUME_BATCH = 1000
BOOTSTRAP = "localhost:9092"
POLL_TIMEOUT_S = 1.0  # per poll() / consume() call
MAX_EMPTY_POLLS = 30  # consecutive empty answers before a read is declared hung
BUFFER_FULL_POLL_S = 1.0  # poll(timeout) after a BufferError, before retrying the produce()
FLUSH_TIMEOUT_S = 300.0
GOAL = 3.0  # kstream_nb (real time, RF=3, acks=all) / mockafka, for produce and for poll

PRODUCE, POLL, CONSUME = "produce() + flush()", "poll()", f"consume({CONSUME_BATCH})"
OPERATIONS = (PRODUCE, POLL, CONSUME)
KS_REAL = "kstream_nb, real time"
KS_SIM = "kstream_nb, simulated time"
MOCK = "mockafka-py"
MOCKAFKA_VERSION = importlib.metadata.version("mockafka-py")


def record_count(quick: bool) -> int:
    return 50_000 if quick else 1_000_000


def make_values(records: int) -> list[bytes]:
    """`records` distinct 100-byte values, in sorted order: a 10-digit sequence number + padding."""
    padding = os.urandom(RECORD_BYTES - 10)
    return [b"%010d" % i + padding for i in range(records)]


def expected_counts(records: int) -> list[int]:
    """Records per partition under the round robin `partition=i % PARTITIONS`."""
    return [len(range(p, records, PARTITIONS)) for p in range(PARTITIONS)]


# -- the systems -----------------------------------------------------------------------------


class KStreamSystem:
    """kstream_nb: a fresh 3-broker cluster per round, with topic `bench` at RF=3."""

    def __init__(self, *, simulated: bool) -> None:
        self.simulated = simulated
        self.name = KS_SIM if simulated else KS_REAL
        self._stack: contextlib.ExitStack | None = None
        self.cluster: Cluster | None = None

    def open(self) -> None:
        self.close()
        self._stack = contextlib.ExitStack()
        self.cluster = self._stack.enter_context(running_cluster(simulated=self.simulated))
        self.cluster.create_topic(TOPIC, PARTITIONS, REPLICATION)

    def close(self) -> None:
        """Stop the cluster (checks that its thread and data dir are gone)."""
        stack, self._stack, self.cluster = self._stack, None, None
        if stack is not None:
            stack.close()

    def producer(self) -> Producer:
        return Producer({"bootstrap.servers": BOOTSTRAP, "acks": "all"})

    def consumer(self, group: str) -> Consumer:
        consumer = Consumer(
            {
                "bootstrap.servers": BOOTSTRAP,
                "group.id": group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        consumer.assign([TopicPartition(TOPIC, p, 0) for p in range(PARTITIONS)])
        return consumer

    def close_consumer(self, consumer: Consumer) -> None:
        consumer.close()

    def check_stored(self, counts: Sequence[int]) -> None:
        """Each partition's leader high watermark and every replica's log end offset."""
        assert self.cluster is not None
        snapshot = self.cluster.describe()
        for partition, count in enumerate(counts):
            state = snapshot.partition(TOPIC, partition)
            leader = next(r for r in state.replica_states if r.broker_id == state.leader)
            ends = sorted(r.log_end_offset for r in state.replica_states)
            if leader.high_watermark != count or ends != [count] * REPLICATION:
                raise RuntimeError(
                    f"{self.name}: {TOPIC}-{partition} has high watermark "
                    f"{leader.high_watermark} and replica log ends {ends}; expected {count}"
                )
            if len(state.isr) != REPLICATION:
                raise RuntimeError(f"{self.name}: {TOPIC}-{partition} ISR is {state.isr}")


class MockafkaSystem:
    """mockafka-py: its process-wide in-memory store, cleared each round."""

    name = MOCK

    def open(self) -> None:
        admin = FakeAdminClientImpl(clean=True)
        admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS)])

    def close(self) -> None:
        KafkaStore.fresh()

    def producer(self) -> FakeProducer:
        return FakeProducer({"bootstrap.servers": BOOTSTRAP, "acks": "all"})

    def consumer(self, group: str) -> FakeConsumer:
        consumer = FakeConsumer(
            {
                "bootstrap.servers": BOOTSTRAP,
                "group.id": group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        consumer.subscribe([TOPIC])  # its assign() does nothing
        return consumer

    def close_consumer(self, consumer: FakeConsumer) -> None:
        consumer.close()

    def check_stored(self, counts: Sequence[int]) -> None:
        store = KafkaStore()
        stored = [len(store.get_messages_in_partition(TOPIC, p)) for p in range(PARTITIONS)]
        if stored != list(counts):
            raise RuntimeError(f"{self.name}: partitions hold {stored}; expected {list(counts)}")


System = KStreamSystem | MockafkaSystem


# -- the timed loops -------------------------------------------------------------------------


def produce_all(producer: Any, values: Sequence[bytes]) -> tuple[int, int]:
    """One produce() per value (round robin over the partitions), then flush().

    Returns (messages flush() left undelivered, times produce() raised BufferError).
    """
    produce = producer.produce
    full = 0
    for value, partition in zip(values, itertools.cycle(range(PARTITIONS))):
        try:
            produce(TOPIC, value, partition=partition)
        except BufferError:
            while True:
                full += 1
                producer.poll(BUFFER_FULL_POLL_S)
                try:
                    produce(TOPIC, value, partition=partition)
                    break
                except BufferError:
                    pass
    return producer.flush(FLUSH_TIMEOUT_S), full


def poll_all(consumer: Any, records: int, got: list[bytes]) -> int:
    """poll() until `records` messages came; keeps each value. Returns the empty polls."""
    poll, append = consumer.poll, got.append
    empty = run = 0
    while len(got) < records:
        msg = poll(POLL_TIMEOUT_S)
        if msg is None:
            empty += 1
            run += 1
            if run > MAX_EMPTY_POLLS:
                raise TimeoutError(f"poll(): {run} empty answers after {len(got)} messages")
            continue
        run = 0
        if msg.error() is not None:
            raise RuntimeError(f"poll() returned an error: {msg.error()}")
        append(msg.value())
    return empty


def consume_all(consumer: Any, records: int, got: list[bytes]) -> int:
    """consume(1000) until `records` messages came; keeps each value. Returns empty answers."""
    consume, append = consumer.consume, got.append
    empty = run = 0
    while len(got) < records:
        msgs = consume(CONSUME_BATCH, POLL_TIMEOUT_S)
        if not msgs:
            empty += 1
            run += 1
            if run > MAX_EMPTY_POLLS:
                raise TimeoutError(f"consume(): {run} empty answers after {len(got)} messages")
            continue
        run = 0
        for msg in msgs:
            if msg.error() is not None:
                raise RuntimeError(f"consume() returned an error: {msg.error()}")
            append(msg.value())
    return empty


def check_values(what: str, got: list[bytes], values: list[bytes]) -> None:
    """`got` holds every value of `values` (sorted, distinct) exactly once."""
    if len(got) == len(values) and sorted(got) == values:
        return
    seen = Counter(got)
    missing = sum(1 for v in values if v not in seen)
    repeated = sum(n - 1 for n in seen.values() if n > 1)
    foreign = sum(1 for v in seen if v not in set(values))
    raise RuntimeError(
        f"{what}: {len(got)} values for {len(values)} records; {missing} missing, "
        f"{repeated} repeated, {foreign} never produced"
    )


# -- trials ----------------------------------------------------------------------------------


@dataclass
class Stats:
    """What the loops saw beside the timings, summed over every round (warm-up included)."""

    buffer_full: int = 0
    empty_polls: int = 0
    rounds: int = 0


class Workload:
    """One system's round: produce the values, read them with poll(), then with consume().

    The three trials share the round's topic, so `measure` must run them in this order. The
    produce trial opens the topic (a fresh cluster, or a cleared store); consume() closes it.
    """

    def __init__(self, system: System, values: list[bytes]) -> None:
        self.system = system
        self.values = values
        self.counts = expected_counts(len(values))
        self.produced = False
        self.stats = {op: Stats() for op in OPERATIONS}

    def trials(self) -> dict[str, Trial]:
        name = self.system.name
        return {
            f"{name}: {PRODUCE}": self._produce_trial,
            f"{name}: {POLL}": lambda: self._read_trial(POLL, poll_all),
            f"{name}: {CONSUME}": lambda: self._read_trial(CONSUME, consume_all, last=True),
        }

    @contextlib.contextmanager
    def _produce_trial(self) -> Iterator[Callable[[], object]]:
        self.produced = False
        self.system.open()
        producer = self.system.producer()
        result: list[tuple[int, int]] = []
        yield lambda: result.append(produce_all(producer, self.values))
        left, full = result[0]
        if left != 0 or (isinstance(producer, Producer) and len(producer) != 0):
            raise RuntimeError(f"{self.system.name}: flush() left {left} messages undelivered")
        self.system.check_stored(self.counts)
        stats = self.stats[PRODUCE]
        stats.buffer_full += full
        stats.rounds += 1
        self.produced = True

    @contextlib.contextmanager
    def _read_trial(
        self, op: str, read: Callable[[Any, int, list[bytes]], int], *, last: bool = False
    ) -> Iterator[Callable[[], object]]:
        if not self.produced:
            raise RuntimeError(f"{self.system.name}: {op} ran before this round's produce")
        consumer = self.system.consumer(f"bench-{'poll' if op == POLL else 'consume'}")
        got: list[bytes] = []
        empty: list[int] = []
        yield lambda: empty.append(read(consumer, len(self.values), got))
        check_values(f"{self.system.name}: {op}", got, self.values)
        extra = consumer.poll(0)
        if extra is not None:
            raise RuntimeError(f"{self.system.name}: {op} read everything, then got {extra!r}")
        self.system.close_consumer(consumer)
        stats = self.stats[op]
        stats.empty_polls += empty[0]
        stats.rounds += 1
        if last:
            self.produced = False
            self.system.close()


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Move what is alive now (the pre-built values, modules) out of the collector's sight.

    A full collection walks every tracked object; without this, each one would also walk the
    bench's own list of pre-built values, which no real producer or consumer holds. Objects the
    systems create while they run (stores, buffers, messages) are collected as usual.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


# -- reporting -------------------------------------------------------------------------------


def results_table(timings: dict[str, Timing], systems: Sequence[str], records: int) -> str:
    header = [
        "operation",
        "system",
        "records",
        "records/s",
        "µs/record",
        "vs mockafka",
        "spread",
    ]
    rows = []
    for op in OPERATIONS:
        baseline = timings[f"{MOCK}: {op}"]
        for system in systems:
            timing = timings[f"{system}: {op}"]
            if system == MOCK:
                label = f"mockafka-py {MOCKAFKA_VERSION}"
            else:
                label = system + ", RF=3, acks=all"
            rows.append(
                [
                    op,
                    label,
                    fmt_count(records),
                    fmt_count(timing.rate(records)),
                    f"{timing.median / records * 1e6:.2f}",
                    fmt_ratio(rate_ratio(timing, baseline)),
                    f"{timing.spread:.0%}",
                ]
            )
    return markdown_table(header, rows)


def goals_table(timings: dict[str, Timing], records: int) -> str:
    rows = []
    for op in (PRODUCE, POLL):
        subject, baseline = timings[f"{KS_REAL}: {op}"], timings[f"{MOCK}: {op}"]
        ratio = rate_ratio(subject, baseline)
        rows.append(
            [
                f"{op}: kstream_nb (real time, RF=3, acks=all) >= {GOAL:g}x mockafka-py",
                f"{fmt_ratio(ratio)} ({fmt_count(subject.rate(records))} vs "
                f"{fmt_count(baseline.rate(records))} records/s)",
                "**yes**" if ratio >= GOAL else f"**no**, {GOAL / ratio:.1f}x short",
            ]
        )
    return markdown_table(["goal", "this run", "met?"], rows)


def notes(workloads: Sequence[Workload]) -> list[str]:
    lines = []
    for w in workloads:
        produce, polls, consumes = (w.stats[op] for op in OPERATIONS)
        lines.append(
            f"- {w.system.name}: produce() raised BufferError "
            f"{produce.buffer_full / produce.rounds:.1f} times per round; empty answers: "
            f"{polls.empty_polls} from poll(), {consumes.empty_polls} from consume() "
            f"(over all {produce.rounds} rounds, warm-up included)"
        )
    return lines


# -- profiling -------------------------------------------------------------------------------


def profile(records: int, simulated: bool, top: int = 25) -> None:
    """cProfile one kstream_nb produce run and one poll() run (the calling thread only)."""
    workload = Workload(KStreamSystem(simulated=simulated), make_values(records))
    with contextlib.ExitStack() as cleanup, frozen_heap():
        cleanup.callback(workload.system.close)
        for op, trial in list(workload.trials().items())[:2]:
            with trial() as body:
                profiler = cProfile.Profile()
                profiler.runcall(body)
            print_profile(profiler, f"{op}, {records} records", top)


# -- main ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run every system's rounds and print the Markdown tables; returns the exit status."""
    parser = make_parser(__doc__.splitlines()[0] if __doc__ else "clients bench")
    parser.add_argument(
        "--records", type=int, default=None, help="records per round (default 1 M; 50 k quick)"
    )
    parser.add_argument(
        "--no-simulated", action="store_true", help="skip the kstream_nb simulated-time rows"
    )
    parser.add_argument(
        "--profile",
        choices=("real", "simulated"),
        default=None,
        help="only cProfile one kstream_nb produce and poll run in real or simulated time",
    )
    args = parser.parse_args(argv)
    records = args.records if args.records is not None else record_count(args.quick)
    if records < 1:
        parser.error("--records must be at least 1")
    if args.profile is not None:
        profile(records, simulated=args.profile == "simulated")
        return 0
    source = Path(kstream_nb.__file__).parent
    revision = git_revision(source)
    threads_before = set(threading.enumerate())
    started = time.perf_counter()

    values = make_values(records)
    systems: list[System] = [KStreamSystem(simulated=False)]
    if not args.no_simulated:
        systems.append(KStreamSystem(simulated=True))
    systems.append(MockafkaSystem())
    workloads = [Workload(s, values) for s in systems]
    trials: dict[str, Trial] = {}
    for w in workloads:
        trials.update(w.trials())
    print(
        f"{records} records x {args.warmup + args.repeat} rounds x {len(trials)} trials ...",
        file=sys.stderr,
        flush=True,
    )
    with contextlib.ExitStack() as cleanup, frozen_heap():
        for s in systems:
            cleanup.callback(s.close)
        timings = measure(trials, repeat=args.repeat, warmup=args.warmup)
    leftover = [t for t in threading.enumerate() if t not in threads_before]
    if leftover:
        raise RuntimeError(f"threads left running: {leftover}")
    elapsed = time.perf_counter() - started

    command = "python bench/bench_clients.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"`{command.strip()}` — {machine_facts()}; {elapsed:.0f} s")
    print(f"kstream_nb from {source} at git {revision}; mockafka-py {MOCKAFKA_VERSION}")
    print(
        f"\nMedians of {args.repeat} rounds after {args.warmup} warm-up; {records} records of "
        f"{RECORD_BYTES}-byte values, no key, round robin over {PARTITIONS} partitions; "
        f"kstream_nb: {BROKERS} brokers, RF={REPLICATION}, acks=all, other producer settings "
        "default, a fresh cluster per round, consumers assign() all partitions from offset 0 "
        "(mockafka: subscribe()); the pre-built values are gc.freeze()d; vs mockafka = rate "
        "over mockafka-py's in the same round, median over rounds.\n"
    )
    print(results_table(timings, [s.name for s in systems], records))
    print("\nGoals" + (" (--quick: too few records to judge)" if args.quick else "") + "\n")
    print(goals_table(timings, records))
    print()
    print("\n".join(notes(workloads)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
