"""A compaction process for crash and concurrency tests (run as a script, not collected).

    python compact_worker.py LAKE TABLE OPTIONS_JSON SEGMENT ROUNDS

compacts ROUNDS times with the given leaf segment, printing ``compacted VERSION`` after
each landed compaction. It starts once the table has pending deltas (or after 30 s), so
that its rounds race the appends instead of finding an empty table.
"""

from __future__ import annotations

import json
import sys
import time

import azof


def main() -> None:
    lake_uri, table_name, options, segment, rounds = sys.argv[1:6]
    lake = azof.Lakehouse(lake_uri, storage_options=json.loads(options) or None)
    table = lake.table(table_name)
    waited = time.monotonic() + 30
    while not table.snapshot.deltas and time.monotonic() < waited:
        time.sleep(0.02)
        table.refresh()
    policy = azof.CompactionPolicy(segment=segment)
    for _ in range(int(rounds)):
        try:
            stats = table.compact(policy)
        except azof.CommitConflictError:
            continue
        print(f"compacted {stats.version}", flush=True)
        time.sleep(0.05)


if __name__ == "__main__":
    main()
