"""Read cost vs history depth, before and after compaction.

The same keys get one event per month for 12, 48 and 192 months (history 1x, 4x, 16x).
For each depth the table is written in monthly commits, then compacted with the default
policy (year -> quarter). We time a current scan and a mid-history as-of scan, each the
median of several runs, against a floor measured in the same run: reading one Parquet
file that holds exactly the answer. After compaction the read cost should stay nearly
flat as history grows; before it, it grows with history.

    .venv/bin/python benchmarks/history_depth.py [--keys 20000] [--write-doc]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from report import machine, publish
from timing import median_time

import azof

SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("event_time", pa.timestamp("ms", tz="UTC")),
        ("revenue", pa.int64()),
        ("industry", pa.string()),
    ]
)
START = datetime(2000, 1, 1, tzinfo=UTC)


def month_batch(keys: int, month: int, rng: np.random.Generator) -> pa.Table:
    base = START + timedelta(days=30.44 * month)
    offsets = rng.integers(0, 28 * 86_400_000, keys)
    times = np.datetime64(base.replace(tzinfo=None), "ms") + offsets.astype("timedelta64[ms]")
    return pa.table(
        {
            "key": [f"K{i:07d}" for i in range(keys)],
            "event_time": pa.array(times, pa.timestamp("ms")).cast(pa.timestamp("ms", tz="UTC")),
            "revenue": rng.integers(0, 1_000_000, keys),
            "industry": pa.array(rng.choice(["Software", "Retail", "Banks", "Oil"], keys)),
        }
    )


def floor_time(answer: pa.Table, folder: Path) -> float:
    path = folder / "floor.parquet"
    pq.write_table(answer, path)
    return median_time(lambda: pq.read_table(path))


def measure(keys: int, months: int, root: Path) -> dict[str, float]:
    rng = np.random.default_rng(months)
    lake = azof.Lakehouse(root)
    table = lake.create_table(f"depth{months}", SCHEMA)
    begin = time.perf_counter()
    for month in range(months):
        table.append(month_batch(keys, month, rng))
    write = time.perf_counter() - begin
    middle = START + timedelta(days=30.44 * months / 2)
    before_current = median_time(lambda: table.scan(), runs=3)
    before_middle = median_time(lambda: table.scan(as_of=middle), runs=3)
    begin = time.perf_counter()
    table.compact()
    compact = time.perf_counter() - begin
    current = median_time(lambda: table.scan())
    mid = median_time(lambda: table.scan(as_of=middle))
    return {
        "rows": keys * months,
        "write": write,
        "compact": compact,
        "before_current": before_current,
        "before_middle": before_middle,
        "current": current,
        "middle": mid,
        "floor_current": floor_time(table.scan(), root),
        "floor_middle": floor_time(table.scan(as_of=middle), root),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--depths", default="12,48,192", help="months of history")
    parser.add_argument("--write-doc", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    rows = []
    for months in (int(m) for m in args.depths.split(",")):
        with tempfile.TemporaryDirectory() as folder:
            result = measure(args.keys, months, Path(folder))
        rows.append((months, result))
        print(months, {k: round(v, 4) for k, v in result.items()}, flush=True)
    first = rows[0][1]
    lines = [
        "| history | rows | write | compact | current scan: uncompacted / compacted (x floor)"
        " | mid-history scan: uncompacted / compacted (x floor) |",
        "|---|---|---|---|---|---|",
    ]
    for months, r in rows:
        lines.append(
            f"| {months // rows[0][0]}x ({months} months) | {r['rows']:,} | {r['write']:.2f} s "
            f"| {r['compact']:.2f} s | {r['before_current'] * 1000:.0f} ms / "
            f"{r['current'] * 1000:.1f} ms ({r['current'] / r['floor_current']:.1f}x) | "
            f"{r['before_middle'] * 1000:.0f} ms / {r['middle'] * 1000:.1f} ms "
            f"({r['middle'] / r['floor_middle']:.1f}x) |"
        )
    last = rows[-1][1]
    body = (
        f"Command: `.venv/bin/python benchmarks/history_depth.py --keys {args.keys} "
        f"--depths {args.depths} --write-doc`\n\nMachine: {machine()}\n\n"
        f"{args.keys:,} keys, one event per key per month, written in monthly commits, then "
        "compacted with the default policy (year -> quarter leaves). Floor: reading one "
        "Parquet file that holds exactly the answer, in the same run.\n\n"
        + "\n".join(lines)
        + f"\n\nFrom 1x to {rows[-1][0] // rows[0][0]}x history the compacted current scan "
        f"went from {first['current'] * 1000:.1f} ms to {last['current'] * 1000:.1f} ms and "
        f"the mid-history scan from {first['middle'] * 1000:.1f} ms to "
        f"{last['middle'] * 1000:.1f} ms: an as-of read touches one base (all keys) plus "
        "the events of one quarter, whatever the depth.\n"
    )
    publish("Compaction: read cost vs history depth", body, write_doc=args.write_doc)


if __name__ == "__main__":
    main()
