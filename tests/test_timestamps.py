"""``azof.timestamps``: every accepted form of an instant, and refusals that name the value."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

import azof
from azof.timestamps import (
    format_instant,
    instant_to_datetime,
    parse_duration,
    parse_instant,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def nanos(when: datetime, extra: int = 0) -> int:
    """Nanoseconds since the epoch of an aware datetime, computed without azof."""
    return (when - EPOCH) // timedelta(microseconds=1) * 1_000 + extra


NOON = datetime(2024, 3, 15, 14, 30, tzinfo=UTC)

ACCEPTED: list[tuple[Any, int]] = [
    ("2024-03-15", nanos(datetime(2024, 3, 15, tzinfo=UTC))),
    ("2024-03-15T14:30", nanos(NOON)),
    ("2024-03-15T14:30:00", nanos(NOON)),
    ("2024-03-15 14:30:00", nanos(NOON)),
    ("2024-03-15T14:30:00Z", nanos(NOON)),
    ("2024-03-15T14:30:00z", nanos(NOON)),
    ("  2024-03-15T14:30:00Z  ", nanos(NOON)),
    ("2024-03-15T14:30:00.5Z", nanos(NOON, 500_000_000)),
    ("2024-03-15T14:30:00,25Z", nanos(NOON, 250_000_000)),
    ("2024-03-15T14:30:00.000Z", nanos(NOON)),
    ("2024-03-15T14:30:00.123456789Z", nanos(NOON, 123_456_789)),
    ("2024-03-15T16:30:00+02:00", nanos(NOON)),
    ("2024-03-15T16:30:00+0200", nanos(NOON)),
    ("2024-03-15T16:30:00+02", nanos(NOON)),
    ("2024-03-15T09:30:00-05:00", nanos(NOON)),
    ("2024-03-15T20:00:00+05:30", nanos(NOON)),
    ("1969-12-31T23:59:59.999Z", -1_000_000),
    ("1500-01-01", nanos(datetime(1500, 1, 1, tzinfo=UTC))),
    (NOON, nanos(NOON)),
    (datetime(2024, 3, 15, 14, 30), nanos(NOON)),
    (datetime(2024, 3, 15, 15, 30, tzinfo=ZoneInfo("Europe/Paris")), nanos(NOON)),
    (datetime(2024, 3, 15, 14, 30, 0, 7, tzinfo=UTC), nanos(NOON, 7_000)),
    (NOON.astimezone(timezone(timedelta(hours=-7))), nanos(NOON)),
    (datetime(1, 1, 1, tzinfo=UTC), nanos(datetime(1, 1, 1, tzinfo=UTC))),
    (datetime(9999, 12, 31, 23, 59, 59), nanos(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))),
    (date(2024, 3, 15), nanos(datetime(2024, 3, 15, tzinfo=UTC))),
    (pd.Timestamp("2024-03-15 14:30:00", tz="UTC"), nanos(NOON)),
    (pd.Timestamp("2024-03-15 14:30:00"), nanos(NOON)),
    (pd.Timestamp("2024-03-15 10:30:00.000000001", tz="America/New_York"), nanos(NOON, 1)),
    (np.datetime64("2024-03-15T14:30:00.000000001"), nanos(NOON, 1)),
    (np.datetime64("2024-03-15T14:30:00", "s"), nanos(NOON)),
    (np.datetime64("2024-03-15T14:30", "m"), nanos(NOON)),
    (np.datetime64("2024-03-15", "D"), nanos(datetime(2024, 3, 15, tzinfo=UTC))),
    (np.datetime64("2024-03", "M"), nanos(datetime(2024, 3, 1, tzinfo=UTC))),
    (np.datetime64("2024", "Y"), nanos(datetime(2024, 1, 1, tzinfo=UTC))),
    # Outside numpy's nanosecond range (1678-2262): must not wrap around.
    (np.datetime64("1500-01-01"), nanos(datetime(1500, 1, 1, tzinfo=UTC))),
    (np.datetime64("2300-01-01T00:00:00"), nanos(datetime(2300, 1, 1, tzinfo=UTC))),
]


@pytest.mark.parametrize(("value", "expected"), ACCEPTED, ids=repr)
def test_parse_instant_accepts(value: Any, expected: int) -> None:
    assert parse_instant(value) == expected


REFUSED: list[tuple[Any, str]] = [
    ("2024-13-01", "'2024-13-01'"),
    ("2024-02-30", "'2024-02-30'"),
    ("2024-01-01T25:00", "'2024-01-01T25:00'"),
    ("2024-01-01T12:00:60", "'2024-01-01T12:00:60'"),
    ("2024-01-01T12:00:00+25:00", "'2024-01-01T12:00:00+25:00'"),
    ("yesterday", "'yesterday'"),
    ("now", "'now'"),
    ("", "''"),
    ("2024-1-1", "'2024-1-1'"),
    ("20240101", "'20240101'"),
    ("2024-01-01T12", "'2024-01-01T12'"),
    ("2024-01-01T12:00:00 UTC", "'2024-01-01T12:00:00 UTC'"),
    ("2024-01-01T12:00:00.1234567891Z", "'2024-01-01T12:00:00.1234567891Z'"),
    (12345, "12345"),
    (1.5, "1.5"),
    (True, "True"),
    (None, "None"),
    (b"2024-01-01", "b'2024-01-01'"),
    ([2024, 1, 1], "[2024, 1, 1]"),
    (pd.NaT, "NaT"),
    (np.datetime64("NaT"), "NaT"),
]


@pytest.mark.parametrize(("value", "shown"), REFUSED, ids=repr)
def test_parse_instant_refuses(value: Any, shown: str) -> None:
    with pytest.raises(azof.InvalidArgumentError, match=re.escape(shown)) as caught:
        parse_instant(value, "as_of")
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).startswith("as_of: ")


@pytest.mark.parametrize(
    "instant",
    [0, -1, 1, 1_000_000, -1_000_000, 1_710_513_000_123_456_789, nanos(NOON), -(10**18)],
)
def test_format_and_parse_round_trip(instant: int) -> None:
    text = format_instant(instant)
    assert text.endswith("Z")
    assert parse_instant(text) == instant


def test_format_instant_digits() -> None:
    assert format_instant(nanos(NOON)) == "2024-03-15T14:30:00.000Z"
    assert format_instant(nanos(NOON, 5_000)) == "2024-03-15T14:30:00.000005Z"
    assert format_instant(nanos(NOON, 5)) == "2024-03-15T14:30:00.000000005Z"
    assert format_instant(-1_000_000) == "1969-12-31T23:59:59.999Z"


def test_instant_to_datetime() -> None:
    assert instant_to_datetime(nanos(NOON, 1_999)) == NOON + timedelta(microseconds=1)
    assert instant_to_datetime(-1) == EPOCH - timedelta(microseconds=1)  # rounds down
    assert instant_to_datetime(0).tzinfo is not None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(days=1), 86_400 * 10**9),
        ("30s", 30 * 10**9),
        ("15m", 15 * 60 * 10**9),
        ("12h", 12 * 3600 * 10**9),
        ("7d", 7 * 86_400 * 10**9),
        ("2w", 14 * 86_400 * 10**9),
        (" 1.5h ", 5_400 * 10**9),
    ],
)
def test_parse_duration(value: Any, expected: int) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize("value", ["7 days", "soon", "", None, "-1d", "P1Y"])
def test_parse_duration_refuses(value: Any) -> None:
    with pytest.raises(azof.InvalidArgumentError, match=re.escape(repr(value))):
        parse_duration(value, "retain")


@pytest.mark.parametrize("value", ["2024-13-01", "yesterday", 12345, pd.NaT])
def test_scan_refuses_bad_as_of(seed_dir: Path, value: Any) -> None:
    table = azof.Lakehouse(seed_dir).table("table0")
    with pytest.raises(azof.InvalidArgumentError, match=r"as_of: .*" + re.escape(str(value))):
        table.scan(as_of=value)
    with pytest.raises(azof.InvalidArgumentError, match=r"known_at: .*" + re.escape(str(value))):
        table.scan(known_at=value)
