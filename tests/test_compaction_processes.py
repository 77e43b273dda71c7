"""Compaction killed with SIGKILL at random moments, and compaction racing append processes."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa

import azof
from append_worker import batch_rows
from test_crash_and_concurrency import SCHEMA, acks, expected_keys, landed, start_worker

COMPACTOR = str(Path(__file__).with_name("compact_worker.py"))


def start_compactor(
    lake: str, table: str, options: dict[str, Any], segment: str, rounds: int
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, COMPACTOR, lake, table, json.dumps(options), segment, str(rounds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def snapshot_answers(table: azof.Table, times: list[Any]) -> list[pa.Table]:
    return [table.scan(as_of=t) for t in times]


TIMES = [None, "2024-01-20", "2024-03-01T12:00:00Z", "2024-05-15", "2024-07-25"]


def run_compaction_crashes(lake_uri: str, options: dict[str, Any], kills: int, seed: int) -> None:
    rng = random.Random(seed)
    lake = azof.Lakehouse(lake_uri, storage_options=options or None)
    name = f"ccrash{uuid.uuid4().hex[:6]}"
    table = lake.create_table(name, SCHEMA)
    for batch in range(kills * 3):
        table.append(batch_rows(0, batch, 60))
        if batch % 3 == 2:
            before = snapshot_answers(table, TIMES)
            segment = rng.choice(["day", "week", "month"])
            proc = start_compactor(lake_uri, name, options, segment, 1)
            time.sleep(rng.uniform(0.5, 1.3))
            proc.kill()
            proc.communicate()
            table = lake.table(name)  # opens after any kill
            assert snapshot_answers(table, TIMES) == before
            if rng.random() < 0.3:  # sometimes finish the job in-process
                table.compact(azof.CompactionPolicy(segment=segment))
                assert snapshot_answers(table, TIMES) == before
    table.vacuum(grace="0s")  # files of killed compactions are removed, answers stand
    assert snapshot_answers(lake.table(name), TIMES) == before
    table.append(batch_rows(1, 0, 5))
    assert table.scan().num_rows == before[0].num_rows + 5


def run_compaction_race(lake_uri: str, options: dict[str, Any]) -> None:
    lake = azof.Lakehouse(lake_uri, storage_options=options or None)
    name = f"crace{uuid.uuid4().hex[:6]}"
    lake.create_table(name, SCHEMA)
    writers = [start_worker(lake_uri, name, options, w, 12) for w in range(2)]
    compactor = start_compactor(lake_uri, name, options, "week", 8)
    acknowledged: set[tuple[int, int]] = set()
    for proc in writers:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        acknowledged |= acks(out)
    out, err = compactor.communicate(timeout=600)
    assert compactor.returncode == 0, err
    table = lake.table(name)
    commits = landed(table.log())
    assert sorted(commits) == sorted(acknowledged)
    assert any(c.operation == "compact" for c in table.log())
    assert sorted(table.scan().column("key").to_pylist()) == expected_keys(commits)
    table.compact(azof.CompactionPolicy(segment="week"))
    assert sorted(table.scan().column("key").to_pylist()) == expected_keys(commits)


def test_sigkill_compaction_on_local_disk(tmp_path: Path) -> None:
    run_compaction_crashes(str(tmp_path), {}, kills=12, seed=7)


def test_compaction_racing_appends_on_local_disk(tmp_path: Path) -> None:
    run_compaction_race(str(tmp_path), {})
