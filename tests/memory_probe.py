"""Peak memory of one read or compaction, in a fresh process: the script the memory tests
run, and their shared helpers.

    python memory_probe.py LAKE TABLE stream [MERGE_ROWS] | scan | compact | read
                                      | datafusion MERGE_ROWS | duckdb MERGE_ROWS | idle [ENGINE]

prints ``rows peak_rss_bytes``: the full current state read through ``to_batches`` with
``merge_rows=MERGE_ROWS`` (each batch dropped at once) or ``scan`` (materialised); a
compaction with the thresholds of :mod:`azof.compact.spill` scaled down to the tests'
sizes (rows written); every event of the table read at once (``read``: what holding the
history costs); ``SELECT count(*), avg(amount)`` over the current state run by DataFusion
(:class:`azof.sql.ExecutionContext`) or DuckDB (:func:`azof.duckdb.sql`) with that
``merge_rows`` (rows: the count); or nothing (``idle``: the baseline of an interpreter with
azof and pyarrow loaded, the table opened, and ``ENGINE`` (``datafusion``/``duckdb``)
imported if given).
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pyarrow as pa

import azof

SCHEMA = pa.schema(
    [
        ("key", pa.int64()),
        ("event_time", pa.timestamp("ms", tz="UTC")),
        ("payload", pa.string()),
        ("amount", pa.float64()),
    ]
)
"""The memory tests' table schema."""
COMPACTION = azof.CompactionPolicy(segment="month", buckets=2)
MIB = 1024 * 1024


def probe(lake: Path, table: str, *mode: str) -> tuple[int, int]:
    """(rows, peak RSS in bytes) of one ``mode`` run in a fresh process."""
    out = subprocess.run(
        [sys.executable, __file__, str(lake), table, *mode],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout.split()
    return int(out[0]), int(out[1])


def main() -> None:
    lake, name, mode = sys.argv[1:4]
    table = azof.Lakehouse(lake).table(name)
    rows = 0
    if mode == "stream":
        merge_rows = int(sys.argv[4]) if len(sys.argv) > 4 else 1_000_000
        for batch in table.to_batches(merge_rows=merge_rows):
            rows += batch.num_rows
    elif mode == "scan":
        rows = table.scan().num_rows
    elif mode == "compact":
        import azof.compact.spill as spill

        # the tests' tables are small: a few MiB in memory, then to disk; small reads
        spill.SPILL_BYTES = 4 * 1024 * 1024
        spill.READ_ROWS = 64 * 1024
        spill.GROUP_ROWS = 32 * 1024
        rows = table.compact(COMPACTION).rows_written
    elif mode == "read":
        from azof.scan.plan import rank_files
        from azof.scan.read import read_rows

        snapshot = table.snapshot
        columns = [c.name for c in snapshot.schema.columns]
        rows = read_rows(table.storage, name, snapshot, rank_files(snapshot), columns).num_rows
    elif mode in ("datafusion", "duckdb"):
        rows = aggregate(lake, name, mode, int(sys.argv[4]))
    elif mode == "idle" and len(sys.argv) > 4:
        __import__(sys.argv[4])
    print(rows, peak_rss())


def aggregate(lake: str, name: str, engine: str, merge_rows: int) -> int:
    """The row count that ``engine`` answers for ``SELECT count(*), avg(amount)``."""
    query = f"SELECT count(*) AS n, avg(amount) AS mean FROM {name}"
    if engine == "datafusion":
        from azof.sql import ExecutionContext

        result = ExecutionContext(lake, merge_rows=merge_rows).sql(query).to_pylist()
        return int(result[0]["n"])
    import duckdb

    import azof.duckdb

    con = duckdb.connect()
    ((count, _),) = azof.duckdb.sql(con, lake, query, merge_rows=merge_rows).fetchall()
    return int(count)


def peak_rss() -> int:
    """This process's peak resident memory in bytes. On Linux from VmHWM, which a new
    program starts afresh (ru_maxrss would carry the parent's peak across exec)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


if __name__ == "__main__":
    main()
