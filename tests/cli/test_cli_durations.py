"""``--as-of now|today`` and the duration forms through the console script."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa

import azof
from azof.timestamps import format_instant


def test_cli_says_which_instant_now_was(azof_cli, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    azof.Lakehouse(lake).create_table(
        "t", pa.schema([("key", pa.string()), ("event_time", pa.timestamp("us", "UTC"))])
    )
    before = time.time_ns()
    result = azof_cli("scan", "--path", lake, "--table", "t", "--as-of", "now")
    assert result.code == 0, result
    label, _, instant = result.stderr.strip().partition(": ")
    assert label == "--as-of now"
    assert format_instant(before)[:16] <= instant <= format_instant(time.time_ns())
    result = azof_cli("scan", "--path", lake, "--table", "t", "--as-of", "today")
    assert result.stderr.strip().endswith("T00:00:00.000Z"), result


def test_cli_vacuum_takes_iso_durations(azof_cli, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    azof.Lakehouse(lake).create_table(
        "t", pa.schema([("key", pa.string()), ("event_time", pa.timestamp("us", "UTC"))])
    )
    result = azof_cli(
        "vacuum", "--path", lake, "--table", "t", "--older-than", "P7D", "--grace", "1h30m"
    )
    assert result.code == 0, result
    result = azof_cli("vacuum", "--path", lake, "--table", "t", "--grace", "P1Y")
    result.assert_clean_error("--grace")
