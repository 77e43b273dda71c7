"""Test lakehouses for the SQL tests (used by ``conftest.py``; tests import their constants
from here, never from ``conftest``): a table with many versions (late data, a delete) for
the bitemporal clauses, and a seed-format table with small row groups for pruning."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

import azof
from azof.storage import open_storage
from azof.timestamps import format_instant

MS = pa.timestamp("ms", tz="UTC")


# -- "prices": several versions, late data and a delete ------------------------------------

PRICES_SCHEMA = pa.schema(
    [("key", pa.string()), ("event_time", MS), ("px", pa.int64()), ("sector", pa.string())]
)
T = "2024-01-31"  # the event time most tests read "prices" at


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Prices:
    """A memory lakehouse whose table ``prices`` has versions 0-5:

    v1 a, b, c on Jan 1; v2 a, b on Feb 1; v3 late data: a on Jan 15, c on Jan 20;
    v4 delete b on Jan 25; v5 d on Jan 10. As of Jan 31: v2 a=1 b=10 c=100; v3 a=15 b=10
    c=150; v4 a=15 c=150; v5 adds d=1000. Current (v5): a=2 b=20 c=150 d=1000.
    """

    uri: str
    table: azof.Table
    known_at: dict[int, str]  # version -> its commit time (RFC 3339)


def build_prices() -> Prices:
    uri = f"memory://sql-prices-{uuid.uuid4().hex}"
    lake = azof.Lakehouse(uri)
    table = lake.create_table("prices", PRICES_SCHEMA)
    table.append(
        [
            {"key": "a", "event_time": at("2024-01-01"), "px": 1, "sector": "tech"},
            {"key": "b", "event_time": at("2024-01-01"), "px": 10, "sector": "energy"},
            {"key": "c", "event_time": at("2024-01-01"), "px": 100, "sector": "tech"},
        ]
    )
    table.append(
        [
            {"key": "a", "event_time": at("2024-02-01"), "px": 2, "sector": "tech"},
            {"key": "b", "event_time": at("2024-02-01"), "px": 20, "sector": "energy"},
        ]
    )
    table.append(
        [
            {"key": "a", "event_time": at("2024-01-15"), "px": 15, "sector": "tech"},
            {"key": "c", "event_time": at("2024-01-20"), "px": 150, "sector": "energy"},
        ]
    )
    table.delete("b", at("2024-01-25"))
    table.put("d", at("2024-01-10"), px=1000, sector="tech")
    assert table.versions() == [0, 1, 2, 3, 4, 5]
    known_at = {v: format_instant(table.commit_time(v)) for v in table.versions()}
    return Prices(uri=uri, table=table, known_at=known_at)


# -- "hours": a seed-format table with small row groups -------------------------------------

JAN1 = at("2024-01-01")
FEB1 = at("2024-02-01")
HOUR_KEYS = [f"k{i:03d}" for i in range(100)]


def _parquet(rows: list[dict[str, Any]]) -> bytes:
    table = pa.table(
        {
            "key": pa.array([r["key"] for r in rows], pa.string()),
            "event_time": pa.array([r["event_time"] for r in rows], MS),
            "value": pa.array([r["value"] for r in rows], pa.int64()),
            "note": pa.array([r["note"] for r in rows], pa.string()),
        }
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=10)
    return bytes(sink.getvalue().to_pybytes())


def _rfc3339(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


HOURS_BASE = [
    {"key": k, "event_time": JAN1, "value": i, "note": "x" * 50} for i, k in enumerate(HOUR_KEYS)
]
HOURS_DELTA = [
    {"key": k, "event_time": FEB1 + timedelta(hours=i), "value": 1000 + i, "note": "y" * 50}
    for i, k in enumerate(HOUR_KEYS)
]


def build_hours() -> str:
    """A memory lakehouse (bytes read are counted) with table ``hours``: 100 keys; a base
    as of Jan 1 (value i) and a delta with key i at Feb 1 + i hours (value 1000 + i), each
    file in 10 row groups sorted by key and by event time."""
    uri = f"memory://sql-hours-{uuid.uuid4().hex}"
    columns = [
        {"name": "value", "data_type": "Int", "nullable": False},
        {"name": "note", "data_type": "String", "nullable": False},
    ]
    end = FEB1 + timedelta(hours=99)
    snapshot = {
        "schema": {"columns": columns},
        "segments": [
            {
                "id": "1",
                "start": _rfc3339(JAN1),
                "file": "base.parquet",
                "delta": [{"file": "delta.parquet", "start": _rfc3339(FEB1), "end": _rfc3339(end)}],
            }
        ],
    }
    storage = open_storage(uri)
    storage.write("hours/base.parquet", _parquet(HOURS_BASE))
    storage.write("hours/delta.parquet", _parquet(HOURS_DELTA))
    storage.write("hours/s1.json", json.dumps(snapshot).encode())
    storage.write("hours/version.txt", b"1")
    return uri
