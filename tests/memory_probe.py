"""Peak memory of one read, in a fresh process (run as a script, not collected).

    python memory_probe.py LAKE TABLE stream|scan|idle [MERGE_ROWS]

prints ``rows peak_rss_bytes``: the full current state read through ``to_batches`` with
``merge_rows=MERGE_ROWS`` (each batch dropped at once) or ``scan`` (materialised), or
nothing read (``idle``: the baseline of an interpreter with azof and pyarrow loaded and the
table opened).
"""

from __future__ import annotations

import resource
import sys

import azof


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
