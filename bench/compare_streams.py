"""Streams bench, paired: two git revisions alternated run by run, for a noisy machine.

The same bench (this tree's `bench_streams.run_streams`: 1 M orders on a fresh 3-broker
cluster, the hourly count end to end) runs once per process on a checkout of each revision in
turn, `--pairs` times. Machine noise moves both sides of a pair alike, so the ratio of each
pair says more than two separate runs of `bench_streams.py` do.

Usage: `python bench/compare_streams.py OLD [NEW] [--pairs N] [--records N]` (NEW: HEAD).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

# One round in a child process, on the kstream_nb of PYTHONPATH; prints events/s.
_ONE_ROUND = """
import gc, sys
sys.path.insert(0, {bench!r})
import bench_streams as b
from kstream_nb import Cluster
n = {records}
with Cluster.start(brokers=3, config={{"group.initial.rebalance.delay.ms": 0}}) as cluster:
    cluster.create_topic("orders", partitions=b.PARTITIONS, replication_factor=3)
    cluster.create_topic("orders-per-hour", partitions=b.PARTITIONS, replication_factor=3)
    start_ms = cluster.now_ms() - 48 * b.HOUR
    rows = b.make_rows(n, start_ms - start_ms % b.HOUR)
    b.fill(cluster, rows)
    gc.freeze()
    seconds, _ = b.run_streams(cluster, n, "paired")
print(n / seconds)
"""


def one_round(src: Path, records: int) -> float:
    code = _ONE_ROUND.format(bench=str(BENCH), records=records)
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout.split()[-1])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="the revision to compare against")
    parser.add_argument("new", nargs="?", default="HEAD", help="the revision measured (HEAD)")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    rates: dict[str, list[float]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {}
        for side in ("old", "new"):
            tree = Path(tmp) / side
            revision = getattr(args, side)
            add = ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), revision]
            subprocess.run(add, check=True)
            trees[side] = tree
        try:
            for pair in range(args.pairs):
                for side in ("old", "new"):
                    rates[side].append(one_round(trees[side] / "src", args.records))
                print(
                    f"pair {pair + 1}: old {rates['old'][-1]:,.0f}, new {rates['new'][-1]:,.0f} "
                    f"events/s, new/old {rates['new'][-1] / rates['old'][-1]:.2f}x",
                    flush=True,
                )
        finally:
            for tree in trees.values():
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                    check=False,
                )
    ratios = [n / o for o, n in zip(rates["old"], rates["new"], strict=True)]
    print(
        f"\n{args.old} vs {args.new}, {args.records:,} orders, {args.pairs} pairs: medians "
        f"{statistics.median(rates['old']):,.0f} vs {statistics.median(rates['new']):,.0f} "
        f"events/s; new/old per pair {min(ratios):.2f}x-{max(ratios):.2f}x, "
        f"median {statistics.median(ratios):.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
