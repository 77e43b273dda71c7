"""Peak memory of one compaction, in a fresh process (run as a script, not collected).

    python compact_memory_probe.py LAKE TABLE compact|read|idle

prints ``rows peak_rss_bytes``: a compaction with the thresholds of
:mod:`azof.compact.spill` scaled down to the test's size (rows written), every event of
the table read at once (``read``: what holding the history costs; rows read), or nothing
(``idle``: an interpreter with azof and pyarrow loaded and the table opened).
"""

from __future__ import annotations

import resource
import sys

import azof
import azof.compact.spill
from azof.scan.plan import rank_files
from azof.scan.read import read_rows

POLICY = azof.CompactionPolicy(segment="month", buckets=2)


def main() -> None:
    lake, name, mode = sys.argv[1:4]
    table = azof.Lakehouse(lake).table(name)
    rows = 0
    if mode == "compact":
        # the test's tables are small: a few MiB in memory, then to disk; small reads
        azof.compact.spill.SPILL_BYTES = 4 * 1024 * 1024
        azof.compact.spill.READ_ROWS = 64 * 1024
        azof.compact.spill.GROUP_ROWS = 32 * 1024
        rows = table.compact(POLICY).rows_written
    elif mode == "read":
        snapshot = table.snapshot
        columns = [c.name for c in snapshot.schema.columns]
        rows = read_rows(table.storage, name, snapshot, rank_files(snapshot), columns).num_rows
    print(rows, peak_rss())


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
