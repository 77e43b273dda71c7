"""SQL headline query: azof's ExecutionContext vs DuckDB over every raw row.

Times the seed's headline query on ``financials`` (as of 2019-01-17, Software, top 5 by
revenue) three ways in one run, checks that they agree, and prints the section "SQL
headline query" of docs/benchmarks.md (which ``--write-doc`` updates):

* ``azof.sql.ExecutionContext`` (DataFusion over the as-of scan);
* ``azof.duckdb.sql`` (DuckDB over the same as-of scan);
* DuckDB alone over all rows of all the table's Parquet files: ``arg_max`` per key of the
  rows with ``event_time <= T``, then the same filter, order and limit (no azof at all).

    .venv/bin/python benchmarks/sql_headline.py [--lake ../shared/seed-tables] [--runs 9]
        [--write-doc]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
from report import machine, publish

import azof
import azof.duckdb
from azof.sql import ExecutionContext

T = "2019-01-17T00:00:00.000Z"
HEADLINE = f"""SELECT key AS symbol, revenue, net_income
FROM financials AT ('{T}')
WHERE industry IN ('Software')
ORDER BY revenue DESC LIMIT 5"""
RAW = """WITH latest AS (
    SELECT key, arg_max({{'industry': industry, 'revenue': revenue,
                          'net_income': net_income}}, event_time) AS r
    FROM read_parquet('{files}')
    WHERE event_time <= TIMESTAMPTZ '2019-01-17 00:00:00+00'
    GROUP BY key)
SELECT key AS symbol, r.revenue AS revenue, r.net_income AS net_income
FROM latest WHERE r.industry IN ('Software')
ORDER BY revenue DESC NULLS FIRST LIMIT 5"""

Rows = list[dict[str, Any]]


def timed(run: Callable[[], Rows], runs: int) -> tuple[float, float, Rows]:
    """(first run, median of the next ``runs``) in seconds, and the answer."""
    started = time.perf_counter()
    answer = run()
    first = time.perf_counter() - started
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return first, statistics.median(times), answer


def main() -> None:
    default_lake = Path(__file__).resolve().parents[2] / "shared" / "seed-tables"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, default=default_lake)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--write-doc", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    lake = azof.Lakehouse(args.lake)
    folder = args.lake / "financials"
    files = sorted(folder.glob("*.parquet"))
    raw_rows = duckdb.sql(f"SELECT count(*) FROM read_parquet('{folder}/*.parquet')").fetchall()
    raw_count = int(raw_rows[0][0])

    ctx = ExecutionContext(lake)
    scan_times: list[float] = []

    def run_azof() -> Rows:
        answer = ctx.sql(HEADLINE).to_arrow_table().to_pylist()
        scan_times.append(ctx.last_scans[0].seconds)
        return answer

    azof_first, azof_median, azof_answer = timed(run_azof, args.runs)
    scan = ctx.last_scans[0]
    scan_median = statistics.median(scan_times[1:])

    con = duckdb.connect()
    via_first, via_median, via_answer = timed(
        lambda: azof.duckdb.sql(con, lake, HEADLINE).to_arrow_table().to_pylist(), args.runs
    )
    azof.duckdb.release(con)

    raw_con = duckdb.connect()
    raw_sql = RAW.format(files=f"{folder}/*.parquet")
    raw_first, raw_median, raw_answer = timed(
        lambda: raw_con.sql(raw_sql).to_arrow_table().to_pylist(), args.runs
    )

    if not (azof_answer == via_answer == raw_answer):
        raise SystemExit(
            f"the answers differ:\n azof: {azof_answer}\n azof.duckdb: {via_answer}\n"
            f" raw DuckDB: {raw_answer}"
        )
    symbols = ", ".join(row["symbol"] for row in azof_answer)
    ms = 1000.0
    body = f"""Command: `.venv/bin/python benchmarks/sql_headline.py --runs {args.runs} --write-doc`

Machine: {machine(("pyarrow", "datafusion", "duckdb", "sqlglot"))}; load average
{load:.1f} when the run started (other work on the machine slows every figure alike).

The seed's headline query on `financials` ({len(files)} Parquet files, {raw_count:,} rows):

```sql
{HEADLINE}
```

All three answer {symbols}. Times are the first (cold) run and the median of
the next {args.runs}, in one process. The raw DuckDB query reads every row of every file:
`arg_max` of the row per key with `event_time <= T`, then the same filter, order and limit.

| engine | first run | median |
|---|---|---|
| `azof.sql.ExecutionContext` (DataFusion) | {azof_first * ms:.1f} ms | {azof_median * ms:.1f} ms |
| of which the as-of scan | | {scan_median * ms:.1f} ms |
| `azof.duckdb.sql` | {via_first * ms:.1f} ms | {via_median * ms:.1f} ms |
| DuckDB over all raw rows | {raw_first * ms:.1f} ms | {raw_median * ms:.1f} ms |

The as-of scan reads {scan.metrics.files_read} of the {scan.metrics.files_planned} files \
the segment tree plans for T (out of {len(files)}): {scan.metrics.rows_read:,} rows, \
columns {", ".join(scan.columns)}.
"""
    publish("SQL headline query", body, write_doc=args.write_doc)


if __name__ == "__main__":
    main()
