"""Writes: column types, input kinds, the buffered writer, deletes, seed upgrade, bad input."""

from __future__ import annotations

import datetime as dt
import decimal
import shutil
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import azof

MS = pa.timestamp("ms", tz="UTC")
PRICES = pa.schema([("key", pa.string()), ("event_time", MS), ("px", pa.float64())])


def memory_lake() -> azof.Lakehouse:
    return azof.Lakehouse(f"memory://{uuid.uuid4().hex}")


def data_files(table: azof.Table) -> list[str]:
    return sorted(o.path for o in table.storage.list("data"))


ALL_TYPES = pa.schema(
    [
        ("key", pa.int64()),
        ("event_time", pa.timestamp("us", tz="UTC")),
        ("i8", pa.int8()),
        ("i16", pa.int16()),
        ("i32", pa.int32()),
        ("u8", pa.uint8()),
        ("u64", pa.uint64()),
        ("f32", pa.float32()),
        ("f64", pa.float64()),
        ("dec", pa.decimal128(12, 3)),
        ("s", pa.string()),
        ("b", pa.binary()),
        ("flag", pa.bool_()),
        ("d", pa.date32()),
        ("t", pa.time64("us")),
        ("ts_naive", pa.timestamp("ns")),
        ("ts_zone", pa.timestamp("s", tz="Europe/Paris")),
        ("ints", pa.list_(pa.int32())),
        ("point", pa.struct([("x", pa.float64()), ("y", pa.float64())])),
    ]
)


def test_every_parquet_type_round_trips_with_nulls() -> None:
    table = memory_lake().create_table("types", ALL_TYPES)
    row: dict[str, Any] = {
        "key": 7,
        "event_time": dt.datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=dt.UTC),
        "i8": -8,
        "i16": -16,
        "i32": -32,
        "u8": 200,
        "u64": 2**63 + 5,
        "f32": 1.5,
        "f64": 2.25,
        "dec": decimal.Decimal("123.456"),
        "s": "héllo",
        "b": b"\x00\x01",
        "flag": True,
        "d": dt.date(2024, 2, 29),
        "t": dt.time(13, 14, 15, 161718),
        "ts_naive": dt.datetime(2020, 1, 1, 1, 2, 3),
        "ts_zone": dt.datetime(2020, 6, 1, 10, 0, tzinfo=dt.UTC),
        "ints": [1, None, 3],
        "point": {"x": 1.0, "y": -1.0},
    }
    empty = {name: None for name in ALL_TYPES.names} | {"key": 8, "event_time": row["event_time"]}
    table.append(pa.Table.from_pylist([row, empty], schema=ALL_TYPES))
    result = table.scan()
    assert result.schema.names == ALL_TYPES.names
    got = result.to_pylist()
    assert got[0]["u64"] == 2**63 + 5
    assert got[0]["dec"] == decimal.Decimal("123.456")
    assert got[0]["point"] == {"x": 1.0, "y": -1.0}
    assert got[0]["ints"] == [1, None, 3]
    assert got[0]["t"] == row["t"]
    assert got[0]["d"] == row["d"]
    assert all(got[1][name] is None for name in ALL_TYPES.names[2:])
    assert lake_reopen(table).scan().equals(result)


def lake_reopen(table: azof.Table) -> azof.Table:
    return table.lakehouse.table(table.name)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda rows: rows, id="list-of-dicts"),
        pytest.param(lambda rows: {k: [r[k] for r in rows] for k in rows[0]}, id="dict-of-lists"),
        pytest.param(lambda rows: pa.Table.from_pylist(rows), id="arrow-table"),
        pytest.param(
            lambda rows: pa.RecordBatchReader.from_batches(
                pa.Table.from_pylist(rows).schema, pa.Table.from_pylist(rows).to_batches(1)
            ),
            id="record-batch-reader",
        ),
        pytest.param(lambda rows: __import__("pandas").DataFrame(rows), id="pandas"),
    ],
)
def test_input_kinds(make: Any) -> None:
    table = memory_lake().create_table("p", PRICES)
    rows = [
        {"key": "A", "event_time": dt.datetime(2024, 1, 2, tzinfo=dt.UTC), "px": 1.0},
        {"key": "A", "event_time": dt.datetime(2024, 1, 3, tzinfo=dt.UTC), "px": 2.0},
        {"key": "B", "event_time": dt.datetime(2024, 1, 1, tzinfo=dt.UTC), "px": 3.0},
    ]
    table.append(make(rows))
    assert table.scan().column("px").to_pylist() == [2.0, 3.0]


def test_polars_input() -> None:
    pl = pytest.importorskip("polars")
    table = memory_lake().create_table("p", PRICES)
    frame = pl.DataFrame(
        {"key": ["A"], "event_time": [dt.datetime(2024, 1, 2, tzinfo=dt.UTC)], "px": [4.0]}
    )
    table.append(frame)
    assert table.scan().column("px").to_pylist() == [4.0]
    assert pl.from_arrow(table.scan()).height == 1


def test_naive_event_times_are_utc_and_later_duplicate_wins() -> None:
    table = memory_lake().create_table("p", PRICES)
    table.append(
        pa.table(
            {
                "key": ["A", "A"],
                "event_time": pa.array([dt.datetime(2024, 1, 2)] * 2, pa.timestamp("ms")),
                "px": [1.0, 2.0],
            }
        )
    )
    assert table.scan(as_of="2024-01-02T00:00:00Z").to_pylist() == [
        {"key": "A", "event_time": dt.datetime(2024, 1, 2, tzinfo=dt.UTC), "px": 2.0}
    ]
    assert table.scan(as_of="2024-01-01T23:59:59.999Z").num_rows == 0


def test_correction_in_a_later_commit_replaces_the_row() -> None:
    table = memory_lake().create_table("p", PRICES)
    first = table.put("A", "2024-01-02", px=1.0)
    table.put("A", "2024-01-02", px=1.5)
    assert table.scan().column("px").to_pylist() == [1.5]
    assert table.scan(version=first).column("px").to_pylist() == [1.0]


def test_delete_is_an_event() -> None:
    table = memory_lake().create_table("p", PRICES)
    table.put("A", "2024-01-02", px=1.0)
    table.delete("A", event_time="2024-03-01")
    assert table.scan(as_of="2024-02-29T23:59:59Z").num_rows == 1
    assert table.scan(as_of="2024-03-01").num_rows == 0
    table.put("A", "2024-04-01", px=3.0)
    assert table.scan().column("px").to_pylist() == [3.0]
    table.put("A", "2024-02-01", px=2.0)  # late row before the delete
    assert table.scan(as_of="2024-03-15").num_rows == 0
    assert table.scan(as_of="2024-02-15").column("px").to_pylist() == [2.0]


def test_writer_batches_and_discards_on_error() -> None:
    table = memory_lake().create_table("p", PRICES)
    with table.writer(batch_rows=2) as writer:
        writer.put("A", "2024-01-01", px=1.0)
        writer.put("B", "2024-01-01", px=2.0)  # flush: one commit
        writer.put("C", "2024-01-01", px=3.0)
    assert len(writer.versions) == 2
    assert table.scan().num_rows == 3
    version = table.version

    def fail_midway() -> None:
        with table.writer() as failing:
            failing.put("D", "2024-01-01", px=4.0)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_midway()
    assert table.refresh().version == version


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"key": ["A", "B"], "event_time": ["2024-01-01", "yesterday"], "px": [1.0, 2.0]},
            "column 'event_time', row 1: cannot read 'yesterday' as a timestamp",
        ),
        (
            {"key": ["A"], "event_time": ["2024-01-01T00:00:00.0001"], "px": [1.0]},
            "column 'event_time', row 0: .* is finer than the column's unit",
        ),
        (
            {"key": ["A"], "event_time": [dt.datetime(2024, 1, 1)], "px": ["x"]},
            "column 'px' is string in the data but double in the table",
        ),
        (
            {"key": [None], "event_time": [dt.datetime(2024, 1, 1)], "px": [1.0]},
            "column 'key' has 1 null",
        ),
        ({"key": ["A"], "event_time": [None], "px": [1.0]}, "column 'event_time' has 1 null"),
        (
            {"key": ["A"], "event_time": [dt.datetime(2024, 1, 1)], "px": [1.0], "zz": [1]},
            "unknown column\\(s\\) 'zz'",
        ),
        ({"event_time": [dt.datetime(2024, 1, 1)], "px": [1.0]}, "no 'key' column"),
        (
            {"key": [1], "event_time": [dt.datetime(2024, 1, 1)], "px": [1.0]},
            "column 'key' is int64 in the data but string",
        ),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(data: dict[str, Any], message: str) -> None:
    table = memory_lake().create_table("p", PRICES)
    table.put("A", "2023-01-01", px=0.5)
    before_version, before_files = table.version, data_files(table)
    with pytest.raises(azof.SchemaMismatchError, match=message):
        table.append(pa.table(data))
    assert table.refresh().version == before_version
    assert data_files(table) == before_files
    assert table.scan().column("px").to_pylist() == [0.5]


def test_bad_timestamp_in_put_is_a_value_error() -> None:
    table = memory_lake().create_table("p", PRICES)
    with pytest.raises(azof.InvalidArgumentError, match="'yesterday'"):
        table.put("A", "yesterday", px=1.0)
    with pytest.raises(ValueError, match=r"finer than the column's unit \(ms\)"):
        table.put("A", "2024-01-01T00:00:00.0001Z", px=1.0)
    assert table.refresh().version == 0


def test_create_table_errors() -> None:
    lake = memory_lake()
    lake.create_table("p", PRICES)
    with pytest.raises(azof.TableExistsError, match="already exists"):
        lake.create_table("p", PRICES)
    assert lake.create_table("p", PRICES, exist_ok=True).version == 0
    with pytest.raises(azof.TableExistsError, match="exists with another schema"):
        lake.create_table("p", PRICES.append(pa.field("extra", pa.string())), exist_ok=True)
    # an evolved table whose columns now match is the same table (ids and history aside)
    evolved = lake.table("p")
    evolved.evolve().add_column("note", pa.string()).drop_column("note").commit()
    evolved.evolve().rename_column("px", "price").rename_column("price", "px").commit()
    assert lake.create_table("p", PRICES, exist_ok=True).version == evolved.version
    with pytest.raises(azof.SchemaMismatchError, match="needs a 'event_time' column"):
        lake.create_table("q", pa.schema([("key", pa.string())]))
    with pytest.raises(azof.SchemaMismatchError, match="event_time must be a timestamp"):
        lake.create_table("q", pa.schema([("key", pa.string()), ("event_time", pa.int64())]))
    with pytest.raises(azof.SchemaMismatchError, match="key type double"):
        lake.create_table("q", pa.schema([("key", pa.float64()), ("event_time", MS)]))
    with pytest.raises(azof.InvalidArgumentError, match="table name"):
        lake.create_table("../x", PRICES)
    assert lake.tables() == ["p"]


def test_writing_to_a_seed_table_upgrades_it(seed_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(seed_dir / "table0", tmp_path / "table0")
    lake = azof.Lakehouse(tmp_path)
    table = lake.table("table0")
    before = table.scan(as_of="2024-02-17T00:00:00Z")
    version = table.put("4", "2024-05-01", value="new")
    assert version == 2
    reopened = lake.table("table0")
    assert reopened.snapshot.format_version == 2
    assert reopened.scan(as_of="2024-02-17T00:00:00Z").equals(before)
    assert reopened.scan().column("value").to_pylist() == ["abc2", "xyz2", "www2", "new"]
    assert reopened.scan(version=1).num_rows == 3
    assert [c.operation for c in reopened.log()] == ["seed", "append"]
