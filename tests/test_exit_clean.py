"""Processes that scan a ``memory://`` lake (the Python filesystem bridge that S3 and GCS
use too) exit cleanly: no SIGABRT ("terminate called without an active exception") from an
Arrow thread that releases a bridged file while the interpreter finalizes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RUNS = 20
AT_ONCE = 4  # concurrent processes: the crash needs the scheduling a loaded machine gives

SCRIPT = """
import pyarrow as pa
import azof

lake = azof.Lakehouse("memory://exit")
ms = pa.timestamp("ms", "UTC")
schema = pa.schema([("key", pa.string()), ("event_time", ms), ("v", pa.int64())])
table = lake.create_table("t", schema)
for i in range(3):
    keys = [f"k{j}" for j in range(100)]
    times = pa.array([i * 1000] * 100, ms)
    table.append(pa.table({"key": keys, "event_time": times, "v": range(100)}, schema=schema))
assert table.scan().num_rows == 100
"""


def test_processes_that_scan_memory_lakes_exit_with_code_0(tmp_path: Path) -> None:
    script = tmp_path / "scan_and_exit.py"
    script.write_text(SCRIPT)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    results: list[tuple[int, str]] = []
    for start in range(0, RUNS, AT_ONCE):
        processes = [
            subprocess.Popen(
                [sys.executable, str(script)], stderr=subprocess.PIPE, env=env, text=True
            )
            for _ in range(start, min(start + AT_ONCE, RUNS))
        ]
        for process in processes:
            _, stderr = process.communicate(timeout=120)
            results.append((process.returncode, stderr))
    failed = [(code, stderr[-300:]) for code, stderr in results if code != 0]
    assert not failed, f"{len(failed)} of {RUNS} processes failed: {failed[:3]}"
