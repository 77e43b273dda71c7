"""The write-path guarantees on a real S3-compatible server: the oracle property (a shorter
run), writers killed with SIGKILL, racing writer processes, and compaction under both."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the shared test helpers

import azof
from strategies import as_of_days, maintained_operations
from test_compaction_processes import run_compaction_crashes, run_compaction_race
from test_crash_and_concurrency import run_concurrent, run_crashes
from test_writes_oracle import check_sequence


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ops=maintained_operations, days=as_of_days, versions=st.lists(st.integers(0, 20), max_size=2)
)
def test_s3_matches_oracle(
    s3_lake: str,
    s3_storage_options: dict[str, Any],
    ops: list[tuple[Any, ...]],
    days: list[float | None],
    versions: list[int],
) -> None:
    lake = azof.Lakehouse(f"{s3_lake}/{uuid.uuid4().hex[:8]}", storage_options=s3_storage_options)
    check_sequence(lake, ops, days, versions)


def test_s3_sigkill_writer(s3_lake: str, s3_storage_options: dict[str, Any]) -> None:
    run_crashes(s3_lake, s3_storage_options, kills=30, seed=3, window=(0.5, 1.3))


def test_s3_concurrent_writer_processes(s3_lake: str, s3_storage_options: dict[str, Any]) -> None:
    run_concurrent(s3_lake, s3_storage_options, writers=4, batches=5)


def test_s3_sigkill_compaction(s3_lake: str, s3_storage_options: dict[str, Any]) -> None:
    run_compaction_crashes(s3_lake, s3_storage_options, kills=6, seed=11)


def test_s3_compaction_racing_appends(s3_lake: str, s3_storage_options: dict[str, Any]) -> None:
    run_compaction_race(s3_lake, s3_storage_options)
