"""Writers killed with SIGKILL at random moments, and several writer processes racing.

The worker tags each commit with its (worker, batch), so after any kill the oracle is
rebuilt from the commits that landed, and compared with what the worker acknowledged.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa

import azof
from append_worker import batch_rows, command

SCHEMA = pa.schema(
    [("key", pa.string()), ("event_time", pa.timestamp("ms", tz="UTC")), ("value", pa.int64())]
)
ROWS = 200


def start_worker(
    lake: str, table: str, options: dict[str, Any], worker: int, batches: int, pause: float = 0.0
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *command(lake, table, options, worker, batches, ROWS, pause)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def acks(output: str) -> set[tuple[int, int]]:
    return {
        (int(parts[1]), int(parts[2]))
        for parts in (line.split() for line in output.splitlines())
        if parts and parts[0] == "ack"
    }


def landed(log: list[azof.Commit]) -> list[tuple[int, int]]:
    """(worker, batch) of every append commit, in version order."""
    assert [c.version for c in log] == list(range(len(log)))  # no holes
    return [
        (int(c.properties["worker"]), int(c.properties["batch"]))
        for c in log
        if c.operation == "append" and "worker" in c.properties
    ]


def expected_keys(commits: list[tuple[int, int]]) -> list[str]:
    return sorted(k for w, b in commits for k in batch_rows(w, b, ROWS).column("key").to_pylist())


def run_crashes(
    lake_uri: str,
    options: dict[str, Any],
    kills: int,
    seed: int,
    window: tuple[float, float] = (0.4, 1.2),
    per_table: int = 10,
) -> None:
    """``kills`` runs of a worker killed after a random time; a new table every
    ``per_table`` runs keeps the histories (and the checks) short."""
    for first in range(0, kills, per_table):
        crash_one_table(
            lake_uri,
            options,
            range(first, min(kills, first + per_table)),
            random.Random(seed + first),
            window,
        )


def crash_one_table(
    lake_uri: str,
    options: dict[str, Any],
    runs: range,
    rng: random.Random,
    window: tuple[float, float],
) -> None:
    lake = azof.Lakehouse(lake_uri, storage_options=options or None)
    name = f"crash{uuid.uuid4().hex[:6]}"
    lake.create_table(name, SCHEMA)
    for run in runs:
        proc = start_worker(lake_uri, name, options, run, 500, pause=0.01)
        time.sleep(rng.uniform(*window))
        proc.kill()
        out, _ = proc.communicate()
        table = lake.table(name)  # the table opens after any kill
        commits = landed(table.log())
        assert acks(out) <= set(commits), "an acknowledged commit was lost"
        mine = [c for c in commits if c[0] == run]
        assert len(mine) <= len(acks(out)) + 1  # at most the commit in flight landed
        assert mine == [(run, b) for b in range(len(mine))]
        assert sorted(table.scan().column("key").to_pylist()) == expected_keys(commits)
    table = lake.table(name)
    table.append(batch_rows(10_000, 0, ROWS), properties={"worker": "10000", "batch": "0"})
    assert sorted(table.scan().column("key").to_pylist()) == expected_keys(landed(table.log()))


def run_concurrent(lake_uri: str, options: dict[str, Any], writers: int, batches: int) -> None:
    lake = azof.Lakehouse(lake_uri, storage_options=options or None)
    name = f"race{uuid.uuid4().hex[:6]}"
    lake.create_table(name, SCHEMA)
    procs = [start_worker(lake_uri, name, options, w, batches) for w in range(writers)]
    acknowledged: set[tuple[int, int]] = set()
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        acknowledged |= acks(out)
    assert len(acknowledged) == writers * batches
    table = lake.table(name)
    commits = landed(table.log())
    assert sorted(commits) == sorted(acknowledged)  # each batch committed exactly once
    keys = table.scan().column("key").to_pylist()
    assert sorted(keys) == expected_keys(commits)
    assert sum(f.rows or 0 for f in table.snapshot.files()) == writers * batches * ROWS


def test_sigkill_writer_on_local_disk(tmp_path: Path) -> None:
    run_crashes(str(tmp_path), {}, kills=30, seed=1)


def test_concurrent_writer_processes_on_local_disk(tmp_path: Path) -> None:
    run_concurrent(str(tmp_path), {}, writers=4, batches=15)
