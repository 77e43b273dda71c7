"""Exports: azof's CSV and JSON-lines writers vs pyarrow's CSV writer and polars' NDJSON.

Builds 2M rows shaped like ``azof history`` output (key, valid_from, valid_to with nulls
for open intervals, a float, an integer and a text column), then times in one process, in
``--runs`` rounds after a warm-up round (each round runs every writer once, in a rotating
order), writing to a file in a temporary folder:

* ``azof scan/history -o out.csv``'s writer (:func:`azof.cli.output.write_arrow`) vs
  ``pyarrow.csv.write_csv`` of the same rows;
* ``-o out.jsonl``'s writer vs polars' ``write_ndjson`` (polars is an optional extra: the
  comparison is skipped without it).

    .venv/bin/python benchmarks/export.py [--rows 2000000] [--runs 5] [--write-doc]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
from report import machine, publish

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


def rounds(writers: dict[str, Callable[[], object]], runs: int) -> dict[str, list[float]]:
    """Seconds of each writer in each of ``runs`` rounds (after a warm-up round); a round
    runs every writer once, in an order that rotates, so that a busy spell of the shared
    machine falls on all of them alike."""
    names = list(writers)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(runs + 1):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            begin = time.perf_counter()
            writers[name]()
            if round_index:
                seconds[name].append(time.perf_counter() - begin)
    return seconds


def paired_ratio(seconds: dict[str, list[float]], writer: str, baseline: str) -> float:
    """The median, over rounds, of ``writer``'s time over ``baseline``'s in the round."""
    pairs = zip(seconds[writer], seconds[baseline], strict=True)
    return statistics.median(ours / theirs for ours, theirs in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write-doc", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    table = history_rows(args.rows)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        writers: dict[str, Callable[[], object]] = {
            "azof CSV": lambda: write_arrow(table, "csv", out / "a.csv"),
            "pyarrow write_csv": lambda: pcsv.write_csv(table, str(out / "p.csv")),
            "azof JSON lines": lambda: write_arrow(table, "json", out / "a.jsonl"),
        }
        try:
            import polars as pl
        except ImportError:
            pl = None
        if pl is not None:
            frame = pl.from_arrow(table)
            assert isinstance(frame, pl.DataFrame)
            writers["polars write_ndjson"] = lambda: frame.write_ndjson(out / "p.jsonl")
        with contextlib.redirect_stderr(io.StringIO()):  # "wrote N rows to ..." lines
            seconds = rounds(writers, args.runs)
    lines = [f"| {name} | {statistics.median(times):.2f} s |" for name, times in seconds.items()]
    notes = [f"azof CSV: {paired_ratio(seconds, 'azof CSV', 'pyarrow write_csv'):.2f}x "
             "pyarrow's `write_csv`"]  # fmt: skip
    if "polars write_ndjson" in seconds:
        ratio = paired_ratio(seconds, "azof JSON lines", "polars write_ndjson")
        notes.append(f"JSON lines: {ratio:.2f}x polars' `write_ndjson`")
    body = (
        f"Command: `.venv/bin/python benchmarks/export.py --rows {args.rows} --runs {args.runs}"
        f" --write-doc`\n\nMachine: {machine(('pyarrow', 'polars'))}; load average "
        f"{load:.1f} when the run started (the machine is shared: other work slows every "
        "figure alike).\n\n"
        f"{args.rows:,} rows shaped like `azof history` output (string key, two "
        "millisecond timestamps, a float, an integer, a text column that needs CSV quotes), "
        f"written to a local file. {args.runs} rounds after a warm-up round, each running "
        "every writer once in a rotating order; the table gives each writer's median time, "
        "the ratios are the medians over rounds of azof's time over the baseline's in the "
        "same round. azof's writers format timestamps as RFC 3339 UTC text "
        "(`2024-03-15T14:30:00.000Z`); pyarrow's CSV writer and polars write them their "
        "own way.\n\n"
        "| writer | median time |\n|---|---|\n"
        + "\n".join(lines)
        + "\n\n"
        + "; ".join(notes)
        + ".\n"
    )
    publish("Exports (CSV, JSON lines)", body, write_doc=args.write_doc)


if __name__ == "__main__":
    main()
