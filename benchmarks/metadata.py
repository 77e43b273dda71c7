"""Metadata costs as a table grows in files: one small append, and opening the table.

For tables of about 100, 1,000 and 8,000 live data files, azof and Delta Lake (the
baseline, measured in the same run) each append one row (median of ``--runs`` commits) and
open the table (median of ``--runs`` opens in this process). The azof table is 12 monthly
leaves in ``B`` hash buckets (a base and a delta per leaf and bucket, plus the tips); the
Delta table holds the same rows partitioned into as many files.

    .venv/bin/python benchmarks/metadata.py [--sizes 100,1000,8000] [--runs 15] [--write-doc]
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
from report import machine, publish
from timing import median_time

import azof

SCHEMA = pa.schema(
    [("key", pa.int64()), ("event_time", pa.timestamp("ms", tz="UTC")), ("value", pa.float64())]
)
START = datetime(2024, 1, 1, tzinfo=UTC)
KEYS_PER_BUCKET = 20


def rows(keys: int) -> pa.Table:
    """Every key once a month for a year."""
    ids = np.tile(np.arange(keys, dtype=np.int64), 12)
    months = np.repeat(np.arange(12), keys)
    times = [START + timedelta(days=30 * int(m) + 1) for m in months]
    return pa.table(
        {"key": ids, "event_time": pa.array(times, SCHEMA.field(1).type),
         "value": np.random.default_rng(0).random(len(ids))},
        SCHEMA,
    )  # fmt: skip


def one_row(n: int) -> pa.Table:
    when = pa.array([START + timedelta(days=400, seconds=n)], SCHEMA.field(1).type)
    return pa.table({"key": [n], "event_time": when, "value": [1.0]}, SCHEMA)


def measure_azof(folder: Path, buckets: int, runs: int) -> dict[str, float]:
    table = azof.Lakehouse(folder).create_table("t", SCHEMA)
    table.append(rows(buckets * KEYS_PER_BUCKET))
    table.compact(azof.CompactionPolicy(segment="month", levels=("month",), buckets=buckets))
    files = len({f.file for f in table.snapshot.files()})
    first_open = median_time(lambda: azof.Lakehouse(folder).table("t"), 1, warm_up=False)
    counter = iter(range(10**9))
    append = median_time(lambda: table.append(one_row(next(counter))), runs, warm_up=False)
    reopen = median_time(lambda: azof.Lakehouse(folder).table("t"), runs, warm_up=False)
    return {"files": files, "append": append, "first_open": first_open, "open": reopen}


def measure_delta(folder: Path, files: int, runs: int) -> dict[str, float]:
    from deltalake import DeltaTable, write_deltalake

    data = rows(max(files, 1) * 2)
    part = pa.array(np.arange(data.num_rows) % files, pa.int64())
    write_deltalake(str(folder), data.append_column("part", part), partition_by=["part"])
    counter = iter(range(10**9))

    def append() -> None:
        row = one_row(next(counter))
        write_deltalake(str(folder), row.append_column("part", pa.array([0])), mode="append")

    live = len(DeltaTable(str(folder)).file_uris())
    return {"files": live, "append": median_time(append, runs, warm_up=False),
            "open": median_time(lambda: DeltaTable(str(folder)), runs, warm_up=False)}  # fmt: skip


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,8000")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--write-doc", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    lines = [
        f"Command: `.venv/bin/python benchmarks/metadata.py --sizes {args.sizes} "
        f"--runs {args.runs}{' --write-doc' if args.write_doc else ''}`",
        "",
        f"Machine: {machine(('pyarrow', 'deltalake'))}",
        "",
        "One row appended to a table of N live data files (median of "
        f"{args.runs} commits), and opening the table (median of {args.runs} opens in one "
        "process; azof's first open in a process decodes and checks the whole tree, later "
        "opens of the same tree reuse it). Local disk. An azof commit writes the snapshot "
        "(every live file's record) but reuses the encoded tree of its parent, so its cost "
        "follows the pending deltas, not the tree.",
        "",
        "| live files (azof / Delta) | azof append | Delta append | azof first open | "
        "azof open | Delta open |",
        "|---|---|---|---|---|---|",
    ]
    for size in sizes:
        buckets = max(1, round(size / 22))  # 12 deltas, 11 bases (not the first) and a tip
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            (root / "azof").mkdir()
            ours = measure_azof(root / "azof", buckets, args.runs)
            theirs = measure_delta(root / "delta", int(ours["files"]), args.runs)
        lines.append(
            f"| {ours['files']:,.0f} / {theirs['files']:,.0f} | {ms(ours['append'])} | "
            f"{ms(theirs['append'])} | {ms(ours['first_open'])} | {ms(ours['open'])} | "
            f"{ms(theirs['open'])} |"
        )
        print(lines[-1], flush=True)
    publish("Metadata: appends and opens as files grow", "\n".join(lines), write_doc=args.write_doc)


if __name__ == "__main__":
    main()
