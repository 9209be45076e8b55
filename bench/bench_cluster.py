"""Cluster throughput and failover: acks=all produce at RF=3 beside RF=1, and leader failover time.

Produce: 100-byte records in batches of 100, acks=all, on a 3-broker `Cluster` in real time. A
topic with replication factor 3 and one with replication factor 1 live on the same cluster and
their trials interleave round by round, so the ratio RF=3 / RF=1 is the cost of replication.
A pipelining client keeps `WINDOW` produce requests in flight on the cluster's loop thread. The
same workload in simulated time shows the pure CPU cost per record (no thread, no idle waits).

Failover: the time from `kill_broker(leader)` (or a controlled `shutdown_broker(leader)`) to the
first acks=all write acknowledged by the new leader, retrying every `RETRY_MS`, each trial on a
fresh cluster. Usage: `python bench/bench_cluster.py [--quick] [--repeat N] [--profile]`.
"""

from __future__ import annotations

import contextlib
import cProfile
import functools
import itertools
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kstream_nb
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
from kstream_nb import Cluster, ErrorCode
from kstream_nb.cluster import ProduceResult
from kstream_nb.log import BatchBuilder

BROKERS = 3
RECORD_BYTES = 100
BATCH_RECORDS = 100
WINDOW = 50  # produce requests in flight, as a pipelining client keeps them
PRODUCE_TIMEOUT_MS = 30_000
WAIT_S = 300.0  # a produce run that takes longer than this has hung
SEED = 7
# Failover probing: one acks=all write at a time, retried every RETRY_MS after an error.
RETRY_MS = 10
ATTEMPT_TIMEOUT_MS = 200
FAILOVER_WAIT_S = 60.0
FAST_DETECTION = {"broker.session.timeout.ms": 1000, "broker.heartbeat.interval.ms": 200}
DEFAULT_SESSION_MS = 9_000  # BrokerConfig's (and Kafka's) broker.session.timeout.ms
DEFAULT_HEARTBEAT_MS = 2_000

PRODUCE_TOPICS = ((1, 3), (1, 1), (3, 3), (3, 1))  # (partitions, replication factor)
SIMULATED_TOPICS = ((1, 3), (1, 1))
KILL = "kill leader"
SHUTDOWN = "controlled shutdown of leader"


def record_count(quick: bool) -> int:
    """Records per produce trial: 3000 batches of 100, or 200 batches in a `--quick` run."""
    return 20_000 if quick else 300_000


def topic_name(partitions: int, rf: int) -> str:
    return f"bench-p{partitions}-rf{rf}"


def encode_batch(timestamp: int) -> bytes:
    """One batch of `BATCH_RECORDS` records with a `RECORD_BYTES` random value and no key."""
    builder = BatchBuilder()
    builder.extend(itertools.repeat((None, os.urandom(RECORD_BYTES), timestamp), BATCH_RECORDS))
    return builder.build()


@contextlib.contextmanager
def running_cluster(
    *, simulated: bool = False, config: Mapping[str, Any] | None = None
) -> Iterator[Cluster]:
    """`Cluster.start(brokers=3)`, stopped on exit; checks its thread and temp dir are gone."""
    with Cluster.start(brokers=BROKERS, simulated=simulated, seed=SEED, config=config) as cluster:
        yield cluster
    thread = getattr(cluster._loop, "_thread", None)
    if thread is not None and thread.is_alive():
        raise RuntimeError(f"{cluster!r} left its loop thread running")
    if cluster.data_dir.exists():
        raise RuntimeError(f"{cluster!r} left its data dir {cluster.data_dir}")


def log_end_offset(cluster: Cluster, topic: str, partition: int) -> int:
    """The partition leader's log end offset."""
    state = cluster.describe().partition(topic, partition)
    return next(r.log_end_offset for r in state.replica_states if r.broker_id == state.leader)


class Pipeline:
    """A client that keeps up to `WINDOW` acks=all produce requests in flight.

    Everything but `run` and `check` runs on the cluster's loop thread. A callback only counts
    the answer and schedules the next submissions with `call_soon`: producing from inside a
    produce callback re-enters `Broker._complete_pending` (see bench/RESULTS.md).
    """

    def __init__(self, cluster: Cluster, topic: str, partitions: int, batch: bytes, batches: int):
        self.cluster = cluster
        self.topic = topic
        self.batch = batch
        self.batches = batches
        self.starts = {p: log_end_offset(cluster, topic, p) for p in range(partitions)}
        self.results: dict[int, list[ProduceResult]] = {p: [] for p in range(partitions)}
        self.sent = 0
        self.acked = 0
        self.in_flight = 0
        self.scheduled = False
        self.done = threading.Event()
        self._callbacks = [functools.partial(self._acked, p) for p in range(partitions)]

    def run(self) -> None:
        """Submit every batch and wait until all are answered."""
        self.scheduled = True
        self.cluster._loop.call_soon(self._pump)
        if self.cluster.simulated:
            self.cluster.wait_until(self.done.is_set, timeout="1h", what="every produce answer")
        elif not self.done.wait(WAIT_S):
            raise TimeoutError(f"{self.acked} of {self.batches} produce requests answered")

    def _pump(self) -> None:
        self.scheduled = False
        produce, partitions = self.cluster.core.produce, len(self._callbacks)
        while self.in_flight < WINDOW and self.sent < self.batches:
            partition = self.sent % partitions
            self.sent += 1
            self.in_flight += 1
            produce(
                self.topic,
                partition,
                self.batch,
                acks=-1,
                timeout_ms=PRODUCE_TIMEOUT_MS,
                callback=self._callbacks[partition],
            )

    def _acked(self, partition: int, result: ProduceResult) -> None:
        self.results[partition].append(result)
        self.in_flight -= 1
        self.acked += 1
        if self.acked == self.batches:
            self.done.set()
        elif not self.scheduled:
            self.scheduled = True
            self.cluster._loop.call_soon(self._pump)

    def check(self) -> None:
        """Every answer is NONE, and each partition's base offsets follow one another."""
        if self.acked != self.batches:
            raise RuntimeError(f"{self.acked} answers for {self.batches} produce requests")
        for partition, results in self.results.items():
            for result in results:
                if result.error != ErrorCode.NONE:
                    raise RuntimeError(
                        f"produce to {self.topic}-{partition}: {result.error.name} {result.message}"
                    )
            offsets = sorted(r.base_offset for r in results)
            start = self.starts[partition]
            expected = list(range(start, start + len(results) * BATCH_RECORDS, BATCH_RECORDS))
            if offsets != expected:
                raise RuntimeError(
                    f"{self.topic}-{partition}: base offsets are not consecutive batches of "
                    f"{BATCH_RECORDS} from {start}"
                )


def produce_trial(cluster: Cluster, topic: str, partitions: int, batches: int) -> Trial:
    """A trial that produces `batches` batches to `topic`, spread round robin over partitions."""
    batch = encode_batch(cluster.now_ms())

    @contextlib.contextmanager
    def trial() -> Iterator[Callable[[], object]]:
        pipeline = Pipeline(cluster, topic, partitions, batch, batches)
        yield pipeline.run
        pipeline.check()

    return trial


@dataclass(frozen=True, slots=True)
class ProduceCase:
    """One produce trial's timings."""

    time: str  # "real" or "simulated"
    partitions: int
    rf: int
    records: int
    log_bytes: int
    timing: Timing
    baseline: Timing  # the RF=1 trial with the same time and partitions


def run_produce(
    *, simulated: bool, topics: Sequence[tuple[int, int]], records: int, repeat: int, warmup: int
) -> list[ProduceCase]:
    """Create every topic on one 3-broker cluster and interleave their produce trials."""
    batches = records // BATCH_RECORDS
    with running_cluster(simulated=simulated) as cluster:
        trials: dict[tuple[int, int], Trial] = {}
        for partitions, rf in topics:
            cluster.create_topic(topic_name(partitions, rf), partitions, rf)
            trials[partitions, rf] = produce_trial(
                cluster, topic_name(partitions, rf), partitions, batches
            )
        batch_bytes = len(encode_batch(cluster.now_ms()))
        timings = measure(
            {topic_name(p, rf): trial for (p, rf), trial in trials.items()},
            repeat=repeat,
            warmup=warmup,
        )
    return [
        ProduceCase(
            "simulated" if simulated else "real",
            p,
            rf,
            records,
            batches * batch_bytes,
            timings[topic_name(p, rf)],
            timings[topic_name(p, 1)],
        )
        for p, rf in topics
    ]


class FailoverProbe:
    """Writes one acks=all batch at a time, every `RETRY_MS` after an answer, until one is
    acknowledged by a leader other than `old_leader`; runs on the cluster's loop thread.

    `seconds` is from `start()` (just before the fault) to that acknowledgement, by the probe's
    own clock: `Cluster.shutdown_broker` returns only after polling for the broker's exit, so
    the harness's timing of the whole body would add up to one 10 ms poll.
    """

    def __init__(self, cluster: Cluster, topic: str, old_leader: int, batch: bytes) -> None:
        self.cluster = cluster
        self.topic = topic
        self.old_leader = old_leader
        self.batch = batch
        self.old_leader_acks = 0
        self.errors: dict[str, int] = {}
        self.started = self.acked = 0.0
        self.done = threading.Event()

    @property
    def seconds(self) -> float:
        return self.acked - self.started

    def start(self) -> None:
        self.started = time.perf_counter()
        self.cluster._loop.call_soon(self._attempt)

    def wait(self) -> None:
        if not self.done.wait(FAILOVER_WAIT_S):
            raise TimeoutError(
                f"no write acknowledged by a new leader of {self.topic}-0 within "
                f"{FAILOVER_WAIT_S:.0f} s; errors {self.errors}"
            )

    def _attempt(self) -> None:
        core = self.cluster.core
        state = core.image.partition(self.topic, 0)
        # ClusterCore.produce routes by this same image, on this same thread.
        leader = -1 if state is None else state.leader
        core.produce(
            self.topic,
            0,
            self.batch,
            acks=-1,
            timeout_ms=ATTEMPT_TIMEOUT_MS,
            callback=functools.partial(self._answered, leader),
        )

    def _answered(self, leader: int, result: ProduceResult) -> None:
        if result.error == ErrorCode.NONE and leader != self.old_leader:
            self.acked = time.perf_counter()
            self.done.set()
            return
        if result.error == ErrorCode.NONE:
            self.old_leader_acks += 1
        else:
            self.errors[result.error.name] = self.errors.get(result.error.name, 0) + 1
        self.cluster._loop.call_later(RETRY_MS, self._attempt)


@dataclass(slots=True)
class FailoverCase:
    """One failover scenario: the probes' times (warm-up rounds too) and other answers."""

    scenario: str
    config: Mapping[str, Any]
    seconds: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    timing: Timing | None = None  # the timed rounds' probe times


def failover_trial(case: FailoverCase) -> Trial:
    """A fresh cluster with one RF=3 topic; the timed body fails its leader over."""
    topic = "failover"

    @contextlib.contextmanager
    def trial() -> Iterator[Callable[[], object]]:
        with running_cluster(config=case.config) as cluster:
            cluster.create_topic(topic, 1, 3)
            batch = encode_batch(cluster.now_ms())
            first = cluster.produce_batch(topic, 0, batch, acks="all")
            if first.error != ErrorCode.NONE:
                raise RuntimeError(f"the first write failed: {first.error.name} {first.message}")
            leader = cluster.describe().partition(topic, 0).leader
            probe = FailoverProbe(cluster, topic, leader, batch)

            def body() -> None:
                probe.start()  # its first write is in flight when the fault lands
                if case.scenario == KILL:
                    cluster.kill_broker(leader)
                else:
                    cluster.shutdown_broker(leader)
                probe.wait()

            yield body
            case.seconds.append(probe.seconds)
            if probe.old_leader_acks:
                case.errors["acked by the old leader"] = (
                    case.errors.get("acked by the old leader", 0) + probe.old_leader_acks
                )
            for name, count in probe.errors.items():
                case.errors[name] = case.errors.get(name, 0) + count
            new_leader = cluster.describe().partition(topic, 0).leader
            if new_leader in (leader, -1):
                raise RuntimeError(f"leadership did not move off broker {leader}")

    return trial


def run_failover(
    cases: Sequence[FailoverCase], *, repeat: int, warmup: int
) -> Sequence[FailoverCase]:
    """Interleave the scenarios round by round, each round on fresh clusters."""
    measure({_failover_key(c): failover_trial(c) for c in cases}, repeat=repeat, warmup=warmup)
    for case in cases:
        case.timing = Timing(_failover_key(case), tuple(case.seconds[warmup:]))
    return cases


def _failover_key(case: FailoverCase) -> str:
    session = case.config.get("broker.session.timeout.ms", DEFAULT_SESSION_MS)
    return f"{case.scenario}, session {session} ms"


def produce_table(cases: Sequence[ProduceCase]) -> str:
    header = [
        "time",
        "partitions",
        "RF",
        "records",
        "records/s",
        "MB/s",
        "µs/record",
        "vs RF=1",
        "spread",
    ]
    rows = [
        [
            c.time,
            c.partitions,
            c.rf,
            fmt_count(c.records),
            fmt_count(c.timing.rate(c.records)),
            f"{c.timing.rate(c.log_bytes) / 1e6:.1f}",
            f"{c.timing.median / c.records * 1e6:.2f}",
            fmt_ratio(rate_ratio(c.timing, c.baseline)),
            f"{c.timing.spread:.0%}",
        ]
        for c in cases
    ]
    return markdown_table(header, rows)


def failover_table(cases: Sequence[FailoverCase]) -> str:
    header = [
        "scenario",
        "session ms",
        "heartbeat ms",
        "rounds",
        "to new leader's first ack (s)",
        "min-max (s)",
        "other answers (all rounds)",
    ]
    rows: list[list[object]] = []
    for c in cases:
        assert c.timing is not None
        rows.append(
            [
                c.scenario,
                c.config.get("broker.session.timeout.ms", DEFAULT_SESSION_MS),
                c.config.get("broker.heartbeat.interval.ms", DEFAULT_HEARTBEAT_MS),
                len(c.timing.seconds),
                f"{c.timing.median:.3f}",
                f"{min(c.timing.seconds):.3f}-{max(c.timing.seconds):.3f}",
                ", ".join(f"{name} {n}" for name, n in sorted(c.errors.items())) or "none",
            ]
        )
    return markdown_table(header, rows)


def replication_cost(cases: Sequence[ProduceCase]) -> list[str]:
    """RF=3 / RF=1 per time mode and partition count, with both rates."""
    return [
        f"- {c.time} time, {c.partitions} partition(s): RF={c.rf} / RF=1 = "
        f"{fmt_ratio(rate_ratio(c.timing, c.baseline))} "
        f"({fmt_count(c.timing.rate(c.records))} vs {fmt_count(c.baseline.rate(c.records))} "
        "records/s)"
        for c in cases
        if c.rf != 1
    ]


def profile(records: int, top: int = 25) -> None:
    """cProfile one RF=3 produce run in simulated time; print the top functions by own time."""
    with running_cluster(simulated=True) as cluster:
        topic = topic_name(1, 3)
        cluster.create_topic(topic, 1, 3)
        pipeline = Pipeline(
            cluster, topic, 1, encode_batch(cluster.now_ms()), records // BATCH_RECORDS
        )
        profiler = cProfile.Profile()
        profiler.runcall(pipeline.run)
        pipeline.check()
    print_profile(profiler, f"RF=3, 1 partition, simulated time, {records} records", top)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the produce and failover cases, print the Markdown tables; returns the exit status."""
    parser = make_parser(__doc__.splitlines()[0] if __doc__ else "cluster bench")
    parser.add_argument(
        "--default-kills",
        type=int,
        default=None,
        help="rounds of kill failover with the default 9 s session timeout "
        "(default 3; 0 with --quick)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="only cProfile one RF=3 run in simulated time"
    )
    args = parser.parse_args(argv)
    records = record_count(args.quick)
    if args.profile:
        profile(records)
        return 0
    default_kills = (0 if args.quick else 3) if args.default_kills is None else args.default_kills
    source = Path(kstream_nb.__file__).parent
    revision = git_revision(source)
    threads_before = set(threading.enumerate())
    started = time.perf_counter()

    print("produce, real time ...", file=sys.stderr, flush=True)
    cases = run_produce(
        simulated=False,
        topics=PRODUCE_TOPICS,
        records=records,
        repeat=args.repeat,
        warmup=args.warmup,
    )
    print("produce, simulated time ...", file=sys.stderr, flush=True)
    cases += run_produce(
        simulated=True,
        topics=SIMULATED_TOPICS,
        records=records,
        repeat=args.repeat,
        warmup=args.warmup,
    )
    print("failover, fast detection ...", file=sys.stderr, flush=True)
    failovers = list(
        run_failover(
            [
                FailoverCase(KILL, FAST_DETECTION),
                FailoverCase(SHUTDOWN, FAST_DETECTION),
            ],
            repeat=args.repeat,
            warmup=args.warmup,
        )
    )
    if default_kills > 0:
        print(f"failover, default session timeout x{default_kills} ...", file=sys.stderr)
        failovers += run_failover(
            [FailoverCase(KILL, {}), FailoverCase(SHUTDOWN, {})],
            repeat=default_kills,
            warmup=0,
        )
    leftover = [t for t in threading.enumerate() if t not in threads_before]
    if leftover:
        raise RuntimeError(f"threads left running: {leftover}")
    elapsed = time.perf_counter() - started

    command = "python bench/bench_cluster.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"`{command.strip()}` — {machine_facts()}; {elapsed:.0f} s")
    print(f"kstream_nb from {source} at git {revision}")
    print(
        f"\nProduce: medians of {args.repeat} rounds after {args.warmup} warm-up; "
        f"{BROKERS} brokers; acks=all; batches of {BATCH_RECORDS} records of {RECORD_BYTES}-byte "
        f"values, no key, no compression; {WINDOW} requests in flight; MB = 10^6 bytes of "
        "batches sent (not counting replicas); µs/record = wall time per record; "
        "vs RF=1 = rate over the RF=1 topic's, same cluster, paired by round.\n"
    )
    print(produce_table(cases))
    print("\nReplication cost" + (" (--quick: too few records to judge)" if args.quick else ""))
    print("\n".join(replication_cost(cases)))
    print(
        f"\nFailover: RF=3, 1 partition, fresh cluster per round; one acks=all write at a time "
        f"({ATTEMPT_TIMEOUT_MS} ms timeout), retried {RETRY_MS} ms after each answer; time from "
        "the fault to the first write acknowledged by the new leader; warm-up rounds as above, "
        "none for the default session timeout (one round takes ~10 s).\n"
    )
    print(failover_table(failovers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
