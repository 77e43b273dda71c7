"""Exports: azof's CSV and JSON-lines writers vs pyarrow's CSV writer and polars' NDJSON.

Builds 2M rows shaped like ``azof history`` output (key, valid_from, valid_to with nulls
for open intervals, a float, an integer and a text column), then times in one process,
each the median of ``--runs`` after a warm-up, writing to a file in a temporary folder:

* ``azof scan/history -o out.csv``'s writer (:func:`azof.cli.output.write_arrow`) vs
  ``pyarrow.csv.write_csv`` of the same rows;
* ``-o out.jsonl``'s writer vs polars' ``write_ndjson`` (polars is an optional extra: the
  comparison is skipped without it).

    .venv/bin/python benchmarks/export.py [--rows 2000000] [--runs 3] [--write-doc]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
from report import machine, publish
from timing import median_time

from azof.cli.output import write_arrow

DAY_MS = 86_400_000


def history_rows(rows: int) -> pa.Table:
    """``rows`` validity intervals of 10,000 keys (every 50th interval is open)."""
    index = pa.array(range(rows), pa.int64())
    keys = pc.binary_join_element_wise("k", pc.cast(pc.divide(index, 200), pa.string()), "")
    start = pc.multiply(pc.add(pc.divide(index, 7), 1_500_000), DAY_MS)
    end = pc.if_else(pc.equal(pc.bit_wise_and(index, 63), 0), None, pc.add(start, 30 * DAY_MS))
    notes = pc.if_else(pc.equal(pc.bit_wise_and(index, 3), 0), 'restated, see "memo"', "ok")
    return pa.table(
        {
            "key": keys,
            "valid_from": start.cast(pa.timestamp("ms", "UTC")),
            "valid_to": end.cast(pa.int64()).cast(pa.timestamp("ms", "UTC")),
            "price": pc.divide(index.cast(pa.float64()), 7.0),
            "volume": pc.multiply(index, 3),
            "note": notes,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write-doc", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    table = history_rows(args.rows)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        times = {
            "azof CSV": median_time(lambda: write_arrow(table, "csv", out / "a.csv"), args.runs),
            "pyarrow write_csv": median_time(
                lambda: pcsv.write_csv(table, str(out / "p.csv")), args.runs
            ),
            "azof JSON lines": median_time(
                lambda: write_arrow(table, "json", out / "a.jsonl"), args.runs
            ),
        }
        try:
            import polars as pl
        except ImportError:
            pl = None
        if pl is not None:
            frame = pl.from_arrow(table)
            assert isinstance(frame, pl.DataFrame)
            times["polars write_ndjson"] = median_time(
                lambda: frame.write_ndjson(out / "p.jsonl"), args.runs
            )
    csv_ratio = times["azof CSV"] / times["pyarrow write_csv"]
    lines = [f"| {name} | {seconds:.2f} s |" for name, seconds in times.items()]
    json_note = ""
    if "polars write_ndjson" in times:
        json_ratio = times["azof JSON lines"] / times["polars write_ndjson"]
        json_note = f"; JSON lines: {json_ratio:.2f}x polars' `write_ndjson`"
    body = (
        f"Command: `.venv/bin/python benchmarks/export.py --rows {args.rows} --runs {args.runs}"
        f" --write-doc`\n\nMachine: {machine(('pyarrow', 'polars'))}; load average "
        f"{load:.1f} when the run started (the machine is shared: other work slows every "
        "figure alike).\n\n"
        f"{args.rows:,} rows shaped like `azof history` output (string key, two "
        "millisecond timestamps, a float, an integer, a text column that needs CSV quotes), "
        f"written to a local file; median of {args.runs} runs after a warm-up. azof's "
        "writers format timestamps as RFC 3339 UTC text (pyarrow's CSV writer does not).\n\n"
        "| writer | time |\n|---|---|\n" + "\n".join(lines) + "\n\n"
        f"azof CSV: {csv_ratio:.2f}x pyarrow's `write_csv`{json_note}.\n"
    )
    publish("Exports (CSV, JSON lines)", body, write_doc=args.write_doc)


if __name__ == "__main__":
    main()
