"""Durations (``parse_duration``) and the words ``now`` / ``today`` as an event time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import azof
from azof.timestamps import parse_as_of, parse_duration

SECOND = 1_000_000_000


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1h30m", 5_400),
        ("1h 30m 15s", 5_415),
        ("2w1d", 15 * 86_400),
        ("90", 90),
        ("1.5", 1.5),
        (90, 90),
        (2.5, 2.5),
        ("P7D", 7 * 86_400),
        ("PT90M", 5_400),
        ("P1DT12H", 129_600),
        ("pt1h30m", 5_400),
        ("P2W", 14 * 86_400),
        ("PT0.5S", 0.5),
        ("7d", 7 * 86_400),
        (timedelta(minutes=3), 180),
    ],
)
def test_durations_accepted(value: Any, seconds: float) -> None:
    assert parse_duration(value) == int(seconds * SECOND)


@pytest.mark.parametrize(
    "value", ["P", "PT", "P1Y", "P1M", "1h30", "h", "-5", -5, True, "1.5.2", float("nan")]
)
def test_durations_refused(value: Any) -> None:
    with pytest.raises(azof.InvalidArgumentError, match="cannot read"):
        parse_duration(value, "grace")


def test_as_of_words() -> None:
    now = 1_717_243_200 * SECOND + 12_345  # 2024-06-01T12:00:00Z and a bit
    assert parse_as_of("now", now=now) == now
    assert parse_as_of(" Today ", now=now) == 1_717_200_000 * SECOND
    assert parse_as_of("2024-06-01", now=now) == 1_717_200_000 * SECOND


def test_scan_as_of_now_and_today(tmp_path: Path) -> None:
    table = azof.Lakehouse(tmp_path).create_table(
        "t", pa.schema([("key", pa.string()), ("event_time", pa.timestamp("us", "UTC"))])
    )
    past = datetime.now(UTC) - timedelta(days=2)
    future = datetime.now(UTC) + timedelta(days=2)
    table.append([{"key": "a", "event_time": past}, {"key": "b", "event_time": future}])
    assert table.scan("now").column("key").to_pylist() == ["a"]
    assert table.scan("today").column("key").to_pylist() == ["a"]
