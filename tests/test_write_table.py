"""One-line writes (issue 15): azof.write_table creates and fills a table from any input in
one call; a Lakehouse on a local folder that does not exist yet creates it on first write."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import azof

TEXT_ROWS = [
    {"key": "s1", "event_time": "2024-01-01T10:00:00", "value": 1.5},
    {"key": "s2", "event_time": "2024-01-01T12:00:00+02:00", "value": 2.5},
    {"key": "s1", "event_time": "2024-01-02", "value": 3.5},
]
EXPECTED = [
    ("s1", datetime(2024, 1, 2, tzinfo=UTC), 3.5),
    ("s2", datetime(2024, 1, 1, 10, tzinfo=UTC), 2.5),
]


def state(table: azof.Table) -> list[tuple[Any, ...]]:
    rows = table.refresh().scan().sort_by("key").to_pylist()
    return [(r["key"], r["event_time"], r["value"]) for r in rows]


class Stream:
    """Any object with the Arrow PyCapsule stream interface."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        return self.table.__arrow_c_stream__(requested_schema)


def forms() -> Iterator[tuple[str, Any]]:
    arrow = pa.Table.from_pylist(TEXT_ROWS)
    yield "pandas", pd.DataFrame(TEXT_ROWS)
    yield "arrow", arrow
    yield (
        "reader",
        pa.RecordBatchReader.from_batches(arrow.schema, arrow.to_batches(max_chunksize=1)),
    )
    yield "capsule", Stream(arrow)
    yield "rows", TEXT_ROWS
    yield "columns", {name: [r[name] for r in TEXT_ROWS] for name in TEXT_ROWS[0]}
    pl = pytest.importorskip("polars")
    yield "polars", pl.DataFrame(TEXT_ROWS)


@pytest.mark.parametrize(
    "form", ["pandas", "arrow", "reader", "capsule", "rows", "columns", "polars"]
)
def test_one_call_creates_and_fills_a_table(tmp_path: Path, form: str) -> None:
    data = dict(forms())[form]
    table = azof.write_table(
        tmp_path / "lake" / "readings", data, key="key", event_time="event_time"
    )
    assert table.version == 1
    assert state(table) == EXPECTED
    assert table.schema.field("event_time").type == pa.timestamp("us", tz="UTC")
    assert azof.Lakehouse(tmp_path / "lake").tables() == ["readings"]


def test_append_mode_appends_to_an_existing_table(tmp_path: Path) -> None:
    target = f"{tmp_path}/readings"
    azof.write_table(target, TEXT_ROWS, key="key", event_time="event_time")
    later = [{"key": "s2", "event_time": "2024-01-03", "value": 9.0}]
    table = azof.write_table(target, pd.DataFrame(later), properties={"job": "x"})
    assert table.version == 2
    assert state(table)[1] == ("s2", datetime(2024, 1, 3, tzinfo=UTC), 9.0)
    assert table.log(limit=1)[0].properties == {"job": "x"}
    assert azof.write_table(table, later).version == 3  # a Table as the target
    with pytest.raises(azof.InvalidArgumentError, match="keyed by key, not by sensor"):
        azof.write_table(target, later, key="sensor")
    with pytest.raises(azof.InvalidArgumentError, match="event-time column 'event_time'"):
        azof.write_table(target, later, event_time="ts")


@pytest.mark.parametrize("mode", ["error", "create"])
def test_error_and_create_modes_refuse_an_existing_table(tmp_path: Path, mode: str) -> None:
    lake = f"memory://{uuid.uuid4().hex}"
    table = azof.write_table(f"{lake}/t", TEXT_ROWS, key="key", event_time="event_time", mode=mode)
    assert table.version == 1
    with pytest.raises(azof.TableExistsError, match="mode='append'"):
        azof.write_table(f"{lake}/t", TEXT_ROWS, mode=mode)
    with pytest.raises(azof.TableExistsError):
        azof.write_table(table, TEXT_ROWS, mode=mode)
    assert azof.Lakehouse(lake).table("t").version == 1


def test_creating_needs_the_key_and_event_time_columns(tmp_path: Path) -> None:
    with pytest.raises(azof.InvalidArgumentError, match=r"key=\.\.\., event_time=\.\.\."):
        azof.write_table(tmp_path / "t", TEXT_ROWS)
    with pytest.raises(azof.SchemaMismatchError, match="no column 'event_time'"):
        azof.write_table(tmp_path / "t", [{"key": "a"}], key="key", event_time="event_time")
    assert azof.Lakehouse(tmp_path).tables() == []


def test_own_column_names_are_kept_or_refused_clearly(tmp_path: Path) -> None:
    """Before create_table takes key and event-time names, other names are a clear error;
    after, the table keeps them."""
    rows = [{"sensor": r["key"], "ts": r["event_time"], "value": r["value"]} for r in TEXT_ROWS]
    if "key" not in inspect.signature(azof.Lakehouse.create_table).parameters:
        with pytest.raises(azof.InvalidArgumentError, match="rename the data's columns sensor"):
            azof.write_table(tmp_path / "t", rows, key="sensor", event_time="ts")
        assert azof.Lakehouse(tmp_path).tables() == []
        return
    table = azof.write_table(tmp_path / "t", rows, key="sensor", event_time="ts")
    assert table.scan().column_names[:2] == ["sensor", "ts"]


def row(**values: Any) -> dict[str, Any]:
    return {"key": "a", "event_time": "2024-01-01", "value": 1.0, **values}


@pytest.mark.parametrize(
    ("rows", "error", "message"),
    [
        ([row(), row(key=None)], azof.SchemaMismatchError, "'key' has 1 null"),
        ([row(key=None)], azof.SchemaMismatchError, "key type null of column .key."),
        ([row(event_time="soon")], azof.SchemaMismatchError, "row 0: cannot read 'soon'"),
        ([row(event_time="1500-01-01")], azof.SchemaMismatchError, "outside the supported"),
        ([row(), row(value="x")], azof.SchemaMismatchError, "cannot make a table"),
        ([row(key=1.5)], azof.SchemaMismatchError, "key type double"),
        ([row(event_time=5)], azof.SchemaMismatchError, "event_time must be a timestamp"),
        ([5], azof.InvalidArgumentError, "must hold dicts"),
        ("text", azof.InvalidArgumentError, "cannot write a str"),
    ],
)
def test_bad_data_creates_nothing(
    tmp_path: Path, rows: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        azof.write_table(tmp_path / "lake" / "t", rows, key="key", event_time="event_time")
    assert not (tmp_path / "lake" / "t").exists()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("memory://only", "names no table"),
        ("s3://bucket", "names no table"),
        ("", "must be '<lakehouse>/<table>'"),
        (5, "must be '<lakehouse>/<table>'"),
        ("memory://x/bad name", "table name 'bad name' is not valid"),
    ],
)
def test_bad_targets(target: Any, message: str) -> None:
    with pytest.raises(azof.InvalidArgumentError, match=message):
        azof.write_table(target, TEXT_ROWS, key="key", event_time="event_time")


def test_bad_modes_and_keys(tmp_path: Path) -> None:
    with pytest.raises(azof.InvalidArgumentError, match="mode 'overwrite' is not one of"):
        azof.write_table(tmp_path / "t", TEXT_ROWS, mode="overwrite")  # type: ignore[arg-type]
    for key in ([], [""], 5, ["key", 3]):
        with pytest.raises(azof.InvalidArgumentError, match="key must be a column name"):
            azof.write_table(tmp_path / "t", TEXT_ROWS, key=key, event_time="event_time")  # type: ignore[arg-type]


def test_a_stream_is_read_batch_by_batch(tmp_path: Path) -> None:
    pulled: list[int] = []
    schema = pa.schema([("key", pa.int64()), ("event_time", pa.string()), ("value", pa.float64())])

    def batches() -> Iterator[pa.RecordBatch]:
        for i in range(20):
            pulled.append(i)
            yield pa.record_batch(
                [pa.array([i]), pa.array([f"2024-01-01T00:00:{i:02d}"]), pa.array([float(i)])],
                schema=schema,
            )

    reader = pa.RecordBatchReader.from_batches(schema, batches())
    table = azof.write_table(tmp_path / "t", reader, key="key", event_time="event_time")
    assert pulled == list(range(20))
    assert table.scan().num_rows == 20


# -- a Lakehouse on a local folder that does not exist yet -------------------------------------


def test_a_missing_local_folder_is_created_by_the_first_write(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "lake"
    lake = azof.Lakehouse(folder)
    assert lake.tables() == []
    with pytest.raises(azof.TableNotFoundError, match="does not exist \\(the first write creates"):
        lake.table("t")
    assert not (tmp_path / "new").exists()  # reads create nothing
    schema = pa.schema([("key", pa.string()), ("event_time", pa.timestamp("ms", tz="UTC"))])
    table = lake.create_table("t", schema)
    table.put("a", "2024-01-01")
    assert folder.is_dir()
    assert azof.Lakehouse(folder).table("t").scan().num_rows == 1
    assert azof.Lakehouse(f"file://{tmp_path}/other").tables() == []


def test_a_file_is_no_lakehouse_folder(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(azof.InvalidArgumentError, match="is a file, not a folder"):
        azof.Lakehouse(afile)
