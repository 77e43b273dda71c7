"""SQL (DataFusion and DuckDB) over a table with a composite key and its own event-time
name: the names in answers and table functions, and key filters pushed below the merge."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pyarrow as pa
import pytest

import azof
import azof.duckdb
from azof.sql import ExecutionContext, ScanRecord

duckdb = pytest.importorskip("duckdb")

SCHEMA = pa.schema(
    [
        ("sensor_id", pa.string()),
        ("metric", pa.string()),
        ("reading_ts", pa.timestamp("ms", tz="UTC")),
        ("value", pa.float64()),
    ]
)
READINGS = [("s1", "temp", 1, 1.0), ("s1", "hum", 2, 2.0), ("s2", "temp", 3, 3.0)]


def when(day: int) -> dt.datetime:
    return dt.datetime(2024, 1, day, tzinfo=dt.UTC)


@pytest.fixture
def lake() -> azof.Lakehouse:
    lake = azof.Lakehouse(f"memory://{uuid.uuid4().hex}")
    table = lake.create_table(
        "readings", SCHEMA, key=["sensor_id", "metric"], event_time="reading_ts"
    )
    for sensor, metric, day, value in READINGS:  # one file each: pruning is visible
        table.put((sensor, metric), when(day), value=value)
    table.put(("s1", "temp"), when(4), value=4.0)
    return lake


def run(engine: str, lake: azof.Lakehouse, query: str) -> tuple[pa.Table, list[ScanRecord]]:
    if engine == "datafusion":
        context = ExecutionContext(lake)
        return context.sql(query).to_arrow_table(), context.last_scans
    scans: list[ScanRecord] = []
    relation = azof.duckdb.sql(duckdb.connect(), lake, query, scans=scans)
    return relation.to_arrow_table(), scans


ENGINES = ["datafusion", "duckdb"]


def rows(table: pa.Table) -> list[dict[str, Any]]:
    return sorted(table.to_pylist(), key=str)


@pytest.mark.parametrize("engine", ENGINES)
def test_scans_answer_with_the_names(engine: str, lake: azof.Lakehouse) -> None:
    got, _ = run(engine, lake, "SELECT * FROM readings AT ('2024-01-03T12:00:00Z')")
    assert got.column_names == ["sensor_id", "metric", "reading_ts", "value"]
    assert [(r["sensor_id"], r["metric"], r["value"]) for r in rows(got)] == [
        ("s1", "hum", 2.0),
        ("s1", "temp", 1.0),
        ("s2", "temp", 3.0),
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_composite_key_filters_are_pushed_down(engine: str, lake: azof.Lakehouse) -> None:
    query = "SELECT value FROM readings WHERE sensor_id = 's1' AND metric = 'temp'"
    got, scans = run(engine, lake, query)
    assert got.column("value").to_pylist() == [4.0]
    (scan,) = scans
    assert scan.filter_sql is not None
    assert "sensor_id" in scan.filter_sql
    assert "metric" in scan.filter_sql
    assert scan.metrics.files_read == 2  # of 4: the others' key bounds rule them out
    got, scans = run(engine, lake, "SELECT * FROM readings WHERE reading_ts >= '2024-01-03'")
    assert sorted(got.column("value").to_pylist()) == [3.0, 4.0]
    assert scans[0].filter_sql is not None
    assert "reading_ts" in scans[0].filter_sql


@pytest.mark.parametrize("engine", ENGINES)
def test_table_functions_use_the_names(engine: str, lake: azof.Lakehouse) -> None:
    got, _ = run(engine, lake, "SELECT * FROM azof_history('readings')")
    assert got.column_names == [
        "sensor_id",
        "metric",
        "valid_from",
        "valid_to",
        "is_deleted",
        "value",
    ]
    assert got.num_rows == 4
    got, _ = run(engine, lake, "SELECT * FROM azof_changes('readings', '2024-01-02', NULL)")
    assert got.column_names[:3] == ["sensor_id", "metric", "change"]
    assert "after_reading_ts" in got.column_names
    query = (
        "WITH l AS (SELECT 's1' AS sensor_id, 'temp' AS metric, "
        "TIMESTAMP '2024-01-02 00:00:00' AS ts) "
        "SELECT value FROM azof_asof_join('readings', 'l')"
    )
    got, _ = run(engine, lake, query)
    assert got.column("value").to_pylist() == [1.0]


@pytest.mark.parametrize("engine", ENGINES)
def test_composite_keys_in_table_functions(engine: str, lake: azof.Lakehouse) -> None:
    query = "SELECT * FROM azof_history('readings', keys => 's1,temp,s2,temp')"
    got, _ = run(engine, lake, query)
    assert [(r["sensor_id"], r["metric"]) for r in got.to_pylist()] == [
        ("s1", "temp"),
        ("s1", "temp"),
        ("s2", "temp"),
    ]
    with pytest.raises(azof.InvalidArgumentError, match="list their values key by key"):
        run(engine, lake, "SELECT * FROM azof_history('readings', keys => 's1')")
