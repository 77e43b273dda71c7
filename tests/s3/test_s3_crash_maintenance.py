"""Maintenance processes racing append processes, and killed with SIGKILL, on a real
S3-compatible server (a shorter subset of ``tests/test_crash_maintenance.py``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the shared test helpers

from test_crash_maintenance import run_maintenance_kills, run_maintenance_race


def test_s3_compaction_and_vacuum_loops_racing_appends(
    s3_lake: str, s3_storage_options: dict[str, Any], tmp_path: Path
) -> None:
    run_maintenance_race(
        s3_lake, s3_storage_options, tmp_path, ["compact", "vacuum"], seed=15, batches=20
    )


@pytest.mark.parametrize("operation", ["vacuum", "restore"])
def test_s3_sigkill_maintenance(
    s3_lake: str, s3_storage_options: dict[str, Any], tmp_path: Path, operation: str
) -> None:
    seed = {"vacuum": 505, "restore": 606}[operation]
    run_maintenance_kills(
        s3_lake, s3_storage_options, tmp_path, operation, seed=seed, rounds=3, batches=30
    )
