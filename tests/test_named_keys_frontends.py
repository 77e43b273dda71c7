"""Tables with their own key and event-time names through the read and write front ends
(issue 15 with issue 16): ``write_table`` creates them from text times, ``TableScan``
pushes filters on key columns below the merge, lazy Polars pushes them into the source,
and every answer equals the naive oracle's."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import azof

ROWS = [  # (sensor_id, metric, reading_ts, value)
    ("s1", "temp", "2024-01-01T00:00:00", 20.0),
    ("s1", "temp", "2024-01-03T00:00:00", 21.5),
    ("s1", "hum", "2024-01-02T00:00:00", 40.0),
    ("s2", "temp", "2024-01-02T12:00:00", 18.0),
    ("s2", "temp", "2024-01-01T00:00:00", 17.0),  # late: older than the row before
    ("s2", "hum", "2024-01-04T00:00:00", 55.0),
]


def oracle(as_of: str, sensor: str | None = None) -> list[tuple[str, str, float]]:
    """Latest row per (sensor_id, metric) with reading_ts <= as_of (text compares as time)."""
    as_of = as_of if "T" in as_of else f"{as_of}T00:00:00"
    latest: dict[tuple[str, str], tuple[str, float]] = {}
    for sensor_id, metric, ts, value in ROWS:
        if ts <= as_of and (
            (sensor_id, metric) not in latest or ts >= latest[(sensor_id, metric)][0]
        ):
            latest[(sensor_id, metric)] = (ts, value)
    return sorted((s, m, v) for (s, m), (_, v) in latest.items() if sensor is None or s == sensor)


def rows_of(table: pa.Table) -> list[tuple[str, str, float]]:
    data = table.select(["sensor_id", "metric", "value"]).to_pylist()
    return sorted((r["sensor_id"], r["metric"], r["value"]) for r in data)


@pytest.fixture
def readings(tmp_path: Path) -> azof.Table:
    frame = pd.DataFrame(ROWS, columns=["sensor_id", "metric", "reading_ts", "value"])
    azof.write_table(
        f"{tmp_path}/readings", frame, key=["sensor_id", "metric"], event_time="reading_ts"
    )
    return azof.Lakehouse(tmp_path).table("readings")


def test_write_table_creates_a_named_composite_table_from_text_times(
    readings: azof.Table,
) -> None:
    assert readings.key_columns == ("sensor_id", "metric")
    assert readings.event_time_column == "reading_ts"
    assert pa.types.is_timestamp(readings.schema.field("reading_ts").type)
    for as_of in ["2024-01-01T00:00:00", "2024-01-02T12:00:00", "2024-01-05T00:00:00"]:
        assert rows_of(readings.scan(as_of)) == oracle(as_of)


def test_table_scan_pushes_key_column_filters_below_the_merge(readings: azof.Table) -> None:
    scan = readings.scanner("2024-01-03", filter="sensor_id = 's2'")
    assert scan.pushed_filter is not None
    assert scan.filter is None
    assert rows_of(scan.to_arrow()) == oracle("2024-01-03", "s2")
    assert scan.count() == len(oracle("2024-01-03", "s2"))
    by_tuple = readings.scanner("2024-01-03", filter=[("sensor_id", "=", "s2")])
    assert rows_of(by_tuple.to_arrow()) == oracle("2024-01-03", "s2")
    value = readings.scanner("2024-01-05", filter="value > 30")  # above the merge
    assert value.pushed_filter is None
    assert rows_of(value.to_arrow()) == [r for r in oracle("2024-01-05") if r[2] > 30]
    with pytest.raises(azof.InvalidArgumentError, match="sensor_id, metric, reading_ts"):
        readings.scanner().prune_keys(pc.field("value") > 1)


def test_lazy_polars_pushes_key_columns_into_the_source(readings: azof.Table) -> None:
    pl = pytest.importorskip("polars")
    lazy = readings.to_polars("2024-01-03", lazy=True)
    keyed = lazy.filter(pl.col("sensor_id") == "s1")
    assert "sensor_id" in keyed.explain()
    assert rows_of(keyed.collect().to_arrow()) == oracle("2024-01-03", "s1")
    valued = lazy.filter(pl.col("value") < 21)  # a value filter stays above the merge
    expected = [r for r in oracle("2024-01-03") if r[2] < 21]
    assert rows_of(valued.collect().to_arrow()) == expected


def test_sql_streams_named_tables(readings: azof.Table, tmp_path: Path) -> None:
    lake = azof.Lakehouse(tmp_path)
    query = (
        "SELECT sensor_id, metric, value FROM readings AT ('2024-01-03') "
        "WHERE sensor_id = 's2' ORDER BY metric"
    )
    answer = azof.ExecutionContext(lake).sql(query).to_arrow_table()
    assert rows_of(answer) == oracle("2024-01-03", "s2")
