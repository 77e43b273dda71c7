"""A maintenance process for crash and concurrency tests (run as a script, not collected).

    python maintenance_worker.py LAKE TABLE OPTIONS_JSON OPERATION SETTINGS_JSON

loops one OPERATION on the table — ``compact``, ``vacuum``, ``restore``, ``evolve`` or
``append`` — until ``settings["rounds"]`` rounds ran (``0``: no limit) or the file
``settings["stop"]`` exists, sleeping ``settings["pause"]`` seconds between rounds. It
prints ``ready`` once the table is open (and, for compaction, has pending deltas); with
``settings["wait"]`` it then waits for a line on stdin before the first round (so a parent
can start it ahead of time). Then it prints one line per landed operation, flushed, so the
parent knows what was acknowledged:

- ``ack WORKER BATCH VERSION``: an append of ``append_worker.batch_rows(WORKER, BATCH,
  settings["rows"])`` (WORKER is ``settings["worker"]``, BATCH counts from 0), committed
  with properties ``worker`` and ``batch`` as ``append_worker.py`` does

- ``compacted VERSION``
- ``vacuumed LATEST EXPIRED DELETED`` (the latest version after it, how many versions
  expired, how many files were deleted); settings ``retain_versions`` and ``grace``
- ``restored VERSION TARGET``: VERSION now has the state of TARGET, a random retained
  version among the last ``settings["choose"]`` (default 8) before the latest
- ``evolved VERSION COLUMN``: VERSION added the nullable int64 column COLUMN (a fresh name
  each round)

Before a restore it prints ``restoring TARGET``, so a parent that kills it knows which
restore may have landed without an ack. A round that loses a race
(``CommitConflictError``, or a restore target vacuumed meanwhile) is skipped; any other
error ends the process with a traceback (a non-zero exit the test reports).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import sys
import time
import uuid
from typing import Any

import pyarrow as pa

import azof
from append_worker import batch_rows


def say(line: str) -> None:
    print(line, flush=True)


def compact_once(table: azof.Table, settings: dict[str, Any], rng: random.Random) -> None:
    segment = settings.get("segment") or rng.choice(["day", "week", "month"])
    stats = table.compact(azof.CompactionPolicy(segment=segment))
    if stats.version is not None:
        say(f"compacted {stats.version}")


def vacuum_once(table: azof.Table, settings: dict[str, Any], rng: random.Random) -> None:
    result = table.vacuum(
        retain_versions=settings.get("retain_versions"), grace=settings.get("grace", "30s")
    )
    landed = getattr(result, "version", None)  # the vacuum's own commit, where it lands one
    latest = landed if isinstance(landed, int) else table.refresh().version
    say(f"vacuumed {latest} {len(result.expired_versions)} {len(result.deleted_files)}")


def restore_once(table: azof.Table, settings: dict[str, Any], rng: random.Random) -> None:
    table.refresh()
    earlier = [v for v in table.versions() if v < table.version]
    if not earlier:
        return
    target = rng.choice(earlier[-int(settings.get("choose", 8)) :])
    say(f"restoring {target}")
    version = table.restore(version=target)
    say(f"restored {version} {target}")


def evolve_once(table: azof.Table, settings: dict[str, Any], rng: random.Random) -> None:
    column = f"x{uuid.uuid4().hex[:10]}"
    version = table.evolve().add_column(column, pa.int64()).commit()
    say(f"evolved {version} {column}")


def append_once(table: azof.Table, settings: dict[str, Any], rng: random.Random) -> None:
    worker, batch = int(settings["worker"]), int(settings.get("batch", 0))
    version = table.append(
        batch_rows(worker, batch, int(settings["rows"])),
        properties={"worker": str(worker), "batch": str(batch)},
    )
    settings["batch"] = batch + 1
    say(f"ack {worker} {batch} {version}")


OPERATIONS = {
    "append": append_once,
    "compact": compact_once,
    "vacuum": vacuum_once,
    "restore": restore_once,
    "evolve": evolve_once,
}


def main() -> None:
    lake_uri, table_name, options, operation, settings_json = sys.argv[1:6]
    settings: dict[str, Any] = json.loads(settings_json)
    step = OPERATIONS[operation]
    rng = random.Random(settings.get("seed"))
    lake = azof.Lakehouse(lake_uri, storage_options=json.loads(options) or None)
    table = lake.table(table_name)
    if operation == "compact":  # race the appends rather than find an empty table
        waited = time.monotonic() + 30
        while not table.snapshot.deltas and time.monotonic() < waited:
            time.sleep(0.02)
            table.refresh()
    say("ready")
    if settings.get("wait"):
        sys.stdin.readline()
    rounds = int(settings.get("rounds", 0))
    stop = settings.get("stop")
    done = 0
    while (rounds == 0 or done < rounds) and not (stop and os.path.exists(stop)):
        # lost a race: nothing landed, try again next round
        with contextlib.suppress(azof.CommitConflictError, azof.VersionNotFoundError):
            step(table, settings, rng)
        done += 1
        time.sleep(float(settings.get("pause", 0.02)))


if __name__ == "__main__":
    main()
