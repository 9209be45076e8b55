"""Append to a Kafka-format partition log, read it back, and show the files Kafka would write.

Run: python examples/log_demo.py [--dir DIR]   (without --dir, a temporary folder is used)
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from kstream_nb.clock import ManualClock
from kstream_nb.log import BatchBuilder, Compression, LogConfig, PartitionLog, decode_records


def run(directory: Path) -> None:
    clock = ManualClock(1_700_000_000_000)
    config = LogConfig.from_properties({"segment.bytes": 1200, "retention.ms": 3_600_000})
    orders = [
        {"order_id": f"ORD-{i}", "customer_id": f"CUST-{i % 3}", "amount": round(10 + i * 7.5, 2)}
        for i in range(60)
    ]
    with PartitionLog(directory / "orders-0", config, clock) as log:
        for start in range(0, len(orders), 10):
            batch = BatchBuilder(Compression.ZSTD if start % 20 else Compression.NONE)
            for order in orders[start : start + 10]:
                batch.append(
                    order["customer_id"].encode(), json.dumps(order).encode(), clock.now_ms()
                )
            info = log.append_as_leader(batch.build())
            print(f"appended offsets {info.first_offset}-{info.last_offset}")
            clock.advance("10min")
        log.update_high_watermark(log.log_end_offset)
        print(f"\n{log}")
        for segment in log.segments:
            print(
                f"  segment {segment.log_path.name}: {segment.size} bytes, "
                f"offsets {segment.base_offset}..{segment.next_offset - 1}"
            )

        first = list(decode_records(log.read(0, max_bytes=600)))
        print(f"\nread from offset 0 with max_bytes=600: {len(first)} records, e.g.")
        print(f"  offset {first[0].offset} key={first[0].key!r} value={first[0].value!r}")

        found = log.offset_for_timestamp(1_700_000_000_000 + 25 * 60_000)
        print(f"\nfirst record at or after +25 min: {found}")

        clock.advance("40min")
        deleted = log.delete_old_segments()
        print(f"\n40 minutes later, retention.ms=3600000 (1 h) deleted {deleted} segment(s): {log}")
    print(f"\nfiles in {directory / 'orders-0'}:")
    for path in sorted((directory / "orders-0").iterdir()):
        print(f"  {path.name}  ({path.stat().st_size} bytes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="keep the log here instead of a temp folder")
    args = parser.parse_args()
    if args.dir is not None:
        run(args.dir)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            run(Path(tmp))


if __name__ == "__main__":
    main()
