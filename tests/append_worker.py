"""A writer process for crash and concurrency tests (run as a script, not collected).

    python append_worker.py LAKE TABLE OPTIONS_JSON WORKER BATCHES ROWS [PAUSE]

appends BATCHES deterministic batches of ROWS rows each; after every commit it prints
``ack WORKER BATCH VERSION`` and flushes, so the parent knows what was acknowledged.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

import azof

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def batch_rows(worker: int, batch: int, rows: int) -> pa.Table:
    """Distinct keys per (worker, batch, row); event times late and out of order on purpose."""
    keys = [f"w{worker}-b{batch}-r{r}" for r in range(rows)]
    times = [EPOCH + timedelta(hours=(batch * 7919 + r * 104729) % 5000) for r in range(rows)]
    return pa.table(
        {
            "key": keys,
            "event_time": pa.array(times, pa.timestamp("ms", tz="UTC")),
            "value": [batch * 1000 + r for r in range(rows)],
        }
    )


def command(
    lake: str,
    table: str,
    options: dict[str, Any],
    worker: int,
    batches: int,
    rows: int,
    pause: float = 0.0,
) -> list[str]:
    """The arguments that run this script (after the Python executable)."""
    args = [lake, table, json.dumps(options), str(worker), str(batches), str(rows), str(pause)]
    return [str(Path(__file__).resolve()), *args]


def main() -> None:
    lake_uri, table_name, options, worker, batches, rows = sys.argv[1:7]
    pause = float(sys.argv[7]) if len(sys.argv) > 7 else 0.0
    lake = azof.Lakehouse(lake_uri, storage_options=json.loads(options) or None)
    table = lake.table(table_name)
    for batch in range(int(batches)):
        version = table.append(
            batch_rows(int(worker), batch, int(rows)),
            properties={"worker": worker, "batch": str(batch)},
        )
        print(f"ack {worker} {batch} {version}", flush=True)
        time.sleep(pause)


if __name__ == "__main__":
    main()
