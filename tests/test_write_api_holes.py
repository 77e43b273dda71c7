"""Holes in the write API (azof issue 14): put's reserved names, the buffered writer's state,
buffer and deletes, commit properties, create_table's schema forms, raw errors."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import azof
from azof.format.snapshot import thaw
from azof.format.types import UnknownTypeError, type_from_json

US = pa.timestamp("us", tz="UTC")
PRICES = pa.schema([("key", pa.string()), ("event_time", US), ("px", pa.float64())])


def memory_lake() -> azof.Lakehouse:
    return azof.Lakehouse(f"memory://{uuid.uuid4().hex}")


def day(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def state(table: azof.Table, as_of: Any = None) -> list[tuple[Any, ...]]:
    rows = table.refresh().scan(as_of).sort_by("key").to_pylist()
    return [(r["key"], r["event_time"], r["px"]) for r in rows]


def data_files(table: azof.Table) -> list[str]:
    return sorted(o.path for o in table.storage.list("data"))


# -- 1. put refuses values named like the key, the event time or a reserved column ------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"key": "c"}, "not as key="),
        ({"event_time": "2025-01-01"}, "not as event_time="),
        ({"_azof_deleted": True}, "'_azof_deleted' is reserved"),
        ({"_azof_other": 1}, "'_azof_other' is reserved"),
    ],
)
def test_put_refuses_reserved_value_names(values: dict[str, Any], message: str) -> None:
    table = memory_lake().create_table("p", PRICES)
    with pytest.raises(azof.InvalidArgumentError, match=message):
        table.put("b", "2024-01-01", **values)
    with table.writer() as writer, pytest.raises(azof.InvalidArgumentError, match=message):
        writer.put("b", "2024-01-01", **values)
    assert table.refresh().version == 0
    assert writer.versions == []


# -- 2. the buffered writer ---------------------------------------------------------------------


def test_closed_writer_refuses_every_call() -> None:
    table = memory_lake().create_table("p", PRICES)
    writer = table.writer()
    writer.put("a", "2024-01-01", px=1.0)
    writer.close()
    writer.close()  # closing twice is fine
    assert writer.closed
    assert writer.versions == [1]
    calls = {
        "put": lambda: writer.put("x", "2024-01-01", px=1.0),
        "write": lambda: writer.write([{"key": "x", "event_time": "2024-01-01"}]),
        "delete": lambda: writer.delete("a"),
        "flush": writer.flush,
        "__enter__": writer.__enter__,
    }
    for name, call in calls.items():
        with pytest.raises(azof.InvalidArgumentError, match=rf"{name}\(\) on a closed writer"):
            call()
    with table.writer() as scoped:
        scoped.put("b", "2024-01-01", px=2.0)
    with pytest.raises(azof.InvalidArgumentError, match="closed writer"):
        scoped.put("c", "2024-01-01", px=3.0)
    assert state(table) == [("a", day("2024-01-01"), 1.0), ("b", day("2024-01-01"), 2.0)]


def test_writer_mixes_puts_and_writes_of_fewer_columns() -> None:
    schema = PRICES.append(pa.field("venue", pa.string()))
    table = memory_lake().create_table("p", schema)
    with table.writer() as writer:
        writer.put("a", "2024-01-01", px=1.0)  # no venue
        writer.write(
            pa.table(
                {"key": ["b"], "event_time": pa.array([day("2024-01-02")], US), "venue": ["X"]}
            )
        )
        writer.put("c", "2024-01-03")
        writer.write({"key": ["d"], "event_time": ["2024-01-04"], "px": [4.0], "venue": ["Y"]})
    assert writer.versions == [1]
    rows = table.scan().sort_by("key")
    assert rows.column("px").to_pylist() == [1.0, None, None, 4.0]
    assert rows.column("venue").to_pylist() == [None, "X", None, "Y"]


def test_writer_keeps_its_buffer_until_the_commit_lands(tmp_path: Path) -> None:
    table = azof.Lakehouse(tmp_path).create_table("p", PRICES)
    writer = table.writer()
    writer.put("a", "2024-01-01", px=1.0)
    writer.write([{"key": "b", "event_time": "2024-01-01", "px": 2.0}])
    data = tmp_path / "p" / "data"
    shutil.rmtree(data, ignore_errors=True)
    data.write_bytes(b"not a folder")  # every data file write fails now
    with pytest.raises(azof.StorageError):
        writer.flush()
    assert writer.buffered == 2
    assert table.refresh().version == 0
    data.unlink()
    assert writer.flush() == 1
    assert writer.buffered == 0
    assert [k for k, _, _ in state(table)] == ["a", "b"]


def test_writer_keeps_its_buffer_when_the_schema_changed_meanwhile() -> None:
    lake = memory_lake()
    table = lake.create_table("p", PRICES)
    writer = table.writer()
    writer.put("a", "2024-01-01", px=1.0)
    lake.table("p").evolve().rename_column("px", "price").commit()
    with pytest.raises(azof.SchemaMismatchError, match="renamed to 'price'"):
        writer.flush()
    assert writer.buffered == 1
    assert lake.table("p").version == 1


def test_writer_batch_rows_is_checked() -> None:
    table = memory_lake().create_table("p", PRICES)
    for bad in ("x", 0, -3, 2.5, True, None):
        with pytest.raises(azof.InvalidArgumentError, match="batch_rows"):
            table.writer(batch_rows=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "error", "message"),
    [
        (
            {"px": "x"},
            azof.SchemaMismatchError,
            "column 'px' is double in the table, but row 0 holds 'x' \\(str\\)",
        ),
        ({"px": [1, "a"]}, azof.SchemaMismatchError, "column 'px'"),
        ({"px": object()}, azof.SchemaMismatchError, "column 'px'"),
        ({"nope": 1.0}, azof.SchemaMismatchError, "unknown column"),
    ],
)
def test_writer_put_refuses_a_bad_value_as_append_does(
    values: dict[str, Any], error: type[Exception], message: str
) -> None:
    table = memory_lake().create_table("p", PRICES)
    with pytest.raises(error, match=message):
        table.append([{"key": "z", "event_time": "2024-01-01", **values}])
    writer = table.writer(batch_rows=2)
    writer.put("a", "2024-01-01", px=1.0)
    with pytest.raises(error, match=message):
        writer.put("z", "2024-01-01", **values)
    assert writer.buffered == 1
    writer.put("b", "2024-01-01", px=2.0)  # the batch is full: commits a and b
    assert writer.versions == [1]
    assert [k for k, _, _ in state(table)] == ["a", "b"]


def test_writer_put_checks_keys_nulls_and_required_columns() -> None:
    schema = pa.schema(
        [("key", pa.int64()), ("event_time", US), ("n", pa.int32(), False), ("s", pa.string())]
    )
    table = memory_lake().create_table("t", schema)
    writer = table.writer()
    with pytest.raises(azof.SchemaMismatchError, match="'key' has 1 null"):
        writer.put(None, "2024-01-01", n=1)
    with pytest.raises(
        azof.SchemaMismatchError, match="'key' is int64 in the table, but row 0 holds 'a'"
    ):
        writer.put("a", "2024-01-01", n=1)
    with pytest.raises(azof.SchemaMismatchError, match="lacks column 'n'"):
        writer.put(1, "2024-01-01")
    with pytest.raises(azof.SchemaMismatchError, match="'n' has 1 null"):
        writer.put(1, "2024-01-01", n=None)
    with pytest.raises(azof.SchemaMismatchError, match="'n'"):
        writer.put(1, "2024-01-01", n=2**40)
    writer.put(1, "2024-01-01", n=7, s=None)
    writer.put(2, "2024-01-01", n=8, s="x")
    assert writer.buffered == 2
    assert writer.flush() == 1
    assert table.scan().column("n").to_pylist() == [7, 8]


def test_writer_put_takes_what_an_append_takes() -> None:
    import decimal

    import numpy as np

    schema = pa.schema(
        [
            ("key", pa.uint64()),
            ("event_time", pa.timestamp("ns", tz="UTC")),
            ("i8", pa.int8()),
            ("u", pa.uint64()),
            ("dec", pa.decimal128(6, 2)),
            ("f", pa.float64()),
            ("ms", pa.timestamp("ms", tz="UTC")),
            ("tags", pa.list_(pa.string())),
        ]
    )
    table = memory_lake().create_table("t", schema)
    row: dict[str, Any] = {
        "i8": np.int64(-3),
        "u": 2**64 - 1,
        "dec": decimal.Decimal("12.34"),
        "f": 2**53,
        "ms": dt.datetime(2024, 1, 1, 0, 0, 0, 5000),
        "tags": ["a", "b"],
    }
    with table.writer() as writer:
        writer.put(2**63 + 1, "2024-01-01T00:00:00.000000001", **row)
        with pytest.raises(azof.SchemaMismatchError, match="'i8'"):
            writer.put(1, "2024-01-01", i8=300)
        with pytest.raises(azof.SchemaMismatchError, match="'dec'"):
            writer.put(1, "2024-01-01", dec=decimal.Decimal("1.234"))
        with pytest.raises(azof.SchemaMismatchError, match="'f'"):
            writer.put(1, "2024-01-01", f=2**60 + 1)
    table.put(2, "2024-01-01", **row)
    (first,) = table.scan(filter=pc.field("key") > 2).to_pylist()
    assert first["u"] == 2**64 - 1
    assert first["dec"] == decimal.Decimal("12.34")
    assert first["tags"] == ["a", "b"]
    assert first["event_time"].value == 1_704_067_200_000_000_001  # to the nanosecond
    assert table.scan().num_rows == 2


def test_writer_put_takes_timestamp_text_in_value_columns() -> None:
    schema = PRICES.append(pa.field("seen", pa.timestamp("ms", tz="UTC")))
    table = memory_lake().create_table("p", schema)
    writer = table.writer()
    writer.put("a", "2024-01-01", seen="2024-01-05T10:00:00")
    writer.put("b", "2024-01-01", seen=day("2024-01-06"))
    with pytest.raises(azof.SchemaMismatchError, match="'seen'"):
        writer.put("c", "2024-01-01", seen="2024-01-05T10:00:00.000001")  # finer than ms
    writer.flush()
    assert table.scan().column("seen").to_pylist() == [
        dt.datetime(2024, 1, 5, 10, tzinfo=dt.UTC),
        day("2024-01-06"),
    ]


def test_writer_delete_commits_tombstones_with_the_batch() -> None:
    table = memory_lake().create_table("p", PRICES)
    table.append(
        [
            {"key": "a", "event_time": day("2024-01-01"), "px": 1.0},
            {"key": "b", "event_time": day("2024-01-01"), "px": 2.0},
        ]
    )
    with table.writer() as writer:
        writer.put("c", "2024-01-01", px=3.0)
        writer.delete(["a", "b"], "2024-02-01")
        writer.delete([])  # nothing
    assert writer.versions == [2]
    assert table.log()[-1].operation == "append"
    assert state(table) == [("c", day("2024-01-01"), 3.0)]
    assert [k for k, _, _ in state(table, "2024-01-15")] == ["a", "b", "c"]
    with table.writer() as deleting:
        deleting.delete("c", day("2024-03-01"))
    assert table.log()[-1].operation == "delete"
    assert state(table) == []


def test_writer_later_call_wins_at_the_same_key_and_time() -> None:
    table = memory_lake().create_table("p", PRICES)
    with table.writer() as writer:
        writer.put("a", "2024-01-01", px=1.0)
        writer.delete("a", "2024-01-01")  # after the put: deleted
        writer.delete("b", "2024-01-01")
        writer.put("b", "2024-01-01", px=2.0)  # after the delete: present
        writer.write([{"key": "c", "event_time": "2024-01-01", "px": 3.0}])
        writer.delete("c", "2024-01-01")
        writer.delete("d", "2024-01-01")
        writer.write([{"key": "d", "event_time": "2024-01-01", "px": 4.0}])
    assert writer.versions == [1]
    assert state(table) == [("b", day("2024-01-01"), 2.0), ("d", day("2024-01-01"), 4.0)]


def test_writer_delete_in_a_table_with_required_columns() -> None:
    schema = PRICES.append(pa.field("n", pa.int32(), nullable=False))
    table = memory_lake().create_table("p", schema)
    with table.writer() as writer:
        writer.put("a", "2024-01-01", px=1.0, n=1)
        writer.put("b", "2024-01-01", px=2.0, n=2)
        writer.delete("a", "2024-01-02")
    assert table.scan().column("key").to_pylist() == ["b"]


def test_writer_delete_defaults_to_now_and_checks_keys() -> None:
    table = memory_lake().create_table("p", PRICES)
    table.put("a", "2024-01-01", px=1.0)
    before = dt.datetime.now(dt.UTC)
    with table.writer() as writer:
        writer.delete("a")
        with pytest.raises(azof.InvalidArgumentError, match="key type"):
            writer.delete([object()])
        assert writer.buffered == 1
    assert table.scan().num_rows == 0
    assert table.scan(before - dt.timedelta(seconds=1)).num_rows == 1


def test_writer_refused_write_buffers_none_of_its_rows() -> None:
    table = memory_lake().create_table("p", PRICES)
    writer = table.writer()
    writer.put("a", "2024-01-01", px=1.0)
    rows = [
        {"key": "b", "event_time": "2024-01-01", "px": 2.0},
        {"key": "c", "event_time": "2024-01-01", "px": "bad"},
    ]
    with pytest.raises(azof.SchemaMismatchError, match="'px'"):
        writer.write(rows)
    schema = pa.schema([("key", pa.string()), ("event_time", US), ("px", pa.float64())])
    good = pa.record_batch([["b"], pa.array([day("2024-01-01")], US), [2.0]], schema=schema)
    no_key = pa.record_batch([[None], pa.array([day("2024-01-01")], US), [3.0]], schema=schema)
    stream = pa.RecordBatchReader.from_batches(schema, [good, no_key])
    with pytest.raises(azof.SchemaMismatchError, match="'key' has 1 null"):
        writer.write(stream)
    assert writer.buffered == 1
    writer.close()
    assert [k for k, _, _ in state(table)] == ["a"]


def test_append_names_the_column_of_an_unreadable_python_value() -> None:
    table = memory_lake().create_table("p", PRICES.append(pa.field("n", pa.int64())))
    for rows in (
        [{"key": "a", "event_time": "2024-01-01", "n": 2**70}],
        [
            {"key": "a", "event_time": "2024-01-01", "n": 1},
            {"key": "b", "event_time": "2024-01-01", "n": "x"},
        ],
        {"key": ["a"], "event_time": ["2024-01-01"], "n": [object()]},
    ):
        with pytest.raises(
            azof.SchemaMismatchError, match=r"column 'n' is int64 in the table, but row \d holds"
        ):
            table.append(rows)
    assert table.refresh().version == 0
    assert data_files(table) == []


# -- 4. commit properties are strings -------------------------------------------------------------


@pytest.mark.parametrize(
    "properties",
    [{"a": 1}, {"a": None}, {"a": "x", "b": ["y"]}, {1: "x"}, [("a", "b")], "a=b"],
)
def test_commit_properties_must_map_strings_to_strings(properties: Any) -> None:
    table = memory_lake().create_table("p", PRICES)
    row = [{"key": "a", "event_time": "2024-01-01", "px": 1.0}]
    with pytest.raises(azof.InvalidArgumentError, match="commit properties"):
        table.append(row, properties=properties)
    with pytest.raises(azof.InvalidArgumentError, match="commit properties"):
        table.delete("a", "2024-01-01", properties=properties)
    with pytest.raises(azof.InvalidArgumentError, match="commit properties"):
        table.delete([], properties=properties)
    with pytest.raises(azof.InvalidArgumentError, match="commit properties"):
        table.evolve().add_column("venue", pa.string()).commit(properties=properties)
    assert table.refresh().version == 0
    assert data_files(table) == []


def test_commit_properties_are_stored_as_given() -> None:
    lake = memory_lake()
    table = lake.create_table("p", PRICES)
    table.append([{"key": "a", "event_time": "2024-01-01", "px": 1.0}], properties={"job": "7"})
    table.delete("a", "2024-02-01", properties={"why": ""})
    table.evolve().add_column("venue", pa.string()).commit(properties={"ticket": "T-1"})
    reopened = lake.table("p")
    assert [c.properties for c in reopened.log()[1:]] == [
        {"job": "7"},
        {"why": ""},
        {"ticket": "T-1"},
    ]


# -- 5. create_table takes a mapping of column name to type ---------------------------------------


def test_create_table_takes_a_mapping_in_order() -> None:
    lake = memory_lake()
    columns = {"key": pa.int64(), "event_time": US, "b": pa.string(), "a": pa.float64()}
    table = lake.create_table("m", columns)
    assert table.schema.names == ["key", "event_time", "b", "a"]
    assert table.schema.field("a").type == pa.float64()
    assert table.schema.field("b").nullable
    table.put(1, "2024-01-01", a=1.5, b="x")
    assert lake.create_table("m", columns, exist_ok=True).version == 1
    assert lake.create_table("m", pa.schema(list(columns.items())), exist_ok=True).version == 1


@pytest.mark.parametrize(
    ("schema", "error", "message"),
    [
        ([("key", pa.string())], azof.InvalidArgumentError, "not list"),
        ("key string", azof.InvalidArgumentError, "not str"),
        (None, azof.InvalidArgumentError, "not NoneType"),
        ({"key": "no-such-type", "event_time": US}, azof.InvalidArgumentError, "mapping"),
        ({"key": pa.string()}, azof.SchemaMismatchError, "needs a 'event_time'"),
        (
            {"key": pa.string(), "event_time": US, "iv": pa.month_day_nano_interval()},
            azof.InvalidArgumentError,
            "column 'iv'",
        ),
    ],
)
def test_create_table_refuses_other_schemas_clearly(
    schema: Any, error: type[Exception], message: str
) -> None:
    lake = memory_lake()
    with pytest.raises(error, match=message):
        lake.create_table("t", schema)
    assert lake.tables() == []


# -- 6. UnknownTypeError is an AzofError ----------------------------------------------------------


def test_unknown_type_error_is_an_azof_error_and_a_value_error() -> None:
    with pytest.raises(UnknownTypeError) as caught:
        type_from_json("no-such-type")
    assert isinstance(caught.value, azof.AzofError)
    assert isinstance(caught.value, azof.InvalidArgumentError)
    assert isinstance(caught.value, ValueError)
    schema = {"key": pa.string(), "event_time": US, "r": pa.run_end_encoded(pa.int32(), pa.int8())}
    with pytest.raises(azof.AzofError, match="column 'r'"):
        memory_lake().create_table("t", schema)


# -- 7. restatements across schema changes ---------------------------------------------------------


def test_restatements_since_a_version_before_schema_changes() -> None:
    from azof.temporal import restatements

    schema = pa.schema([("key", pa.string()), ("event_time", US), ("n", pa.int32())])
    table = memory_lake().create_table("t", schema)
    table.append(
        [
            {"key": "a", "event_time": day("2024-01-01"), "n": 1},
            {"key": "b", "event_time": day("2024-01-01"), "n": 2},
            {"key": "c", "event_time": day("2024-01-01"), "n": 3},
        ]
    )  # version 1
    (
        table.evolve()
        .rename_column("n", "qty")
        .widen("qty", pa.int64())
        .add_column("venue", pa.string(), default="X")
        .commit()
    )  # version 2
    table.append(
        [
            {"key": "a", "event_time": day("2024-01-01"), "qty": 10},  # a correction
            {"key": "d", "event_time": day("2024-01-01"), "qty": 2**40},  # new
        ]
    )
    table.put("b", "2024-01-01", qty=2, venue="Y")
    table.delete("c", day("2024-01-01"))
    got = restatements(table, None, since_version=1)
    assert got.column_names == [
        "key",
        "change",
        "old_event_time",
        "old_qty",
        "old_venue",
        "new_event_time",
        "new_qty",
        "new_venue",
    ]
    rows = [(r["key"], r["change"], r["old_qty"], r["old_venue"], r["new_qty"], r["new_venue"])
            for r in got.to_pylist()]  # fmt: skip
    assert rows == [
        ("a", "changed", 1, "X", 10, "X"),
        ("b", "changed", 2, "X", 2, "Y"),
        ("c", "removed", 3, "X", None, None),
        ("d", "added", None, None, 2**40, "X"),
    ]
    # the old answer is the one a scan of version 1 gave, under today's names
    old = table.scan(version=1).sort_by("key")
    assert old.column("n").to_pylist() == [1, 2, 3]
    assert table.restatements(None, since_version=0).num_rows == 3
    assert table.restatements(None, since_version=2, columns=["venue"]).num_rows == 3
    # since_version later than version: both read under the later schema too
    assert restatements(table, None, since_version=5, version=1).num_rows == 4


# -- 3. filters on uint64 keys of 2**63 and more ------------------------------------------------

BIG = 2**63 + 5


@pytest.mark.parametrize("where", ["memory", "local"])
def test_uint64_key_filters_answer_with_keys_past_the_signed_range(
    tmp_path: Path, where: str
) -> None:
    lake = memory_lake() if where == "memory" else azof.Lakehouse(tmp_path)
    schema = {"key": pa.uint64(), "event_time": US, "v": pa.uint64(), "n": pa.int32()}
    table = lake.create_table("u", schema)
    table.append({"key": [BIG, 1], "event_time": ["2024-01-01"] * 2, "v": [BIG, 2], "n": [1, 2]})
    table.append(
        {"key": [7, 2**64 - 1], "event_time": ["2024-01-02"] * 2, "v": [3, 4], "n": [3, 4]}
    )

    def keys(condition: Any) -> list[int]:
        return sorted(table.scan(filter=condition).column("key").to_pylist())

    assert keys(pc.field("key") == 1) == [1]
    assert keys(pc.field("key") > 3) == [7, BIG, 2**64 - 1]
    assert keys(pc.field("key") <= 7) == [1, 7]
    assert keys(pc.field("key").isin([1, 7])) == [1, 7]
    assert keys(pc.field("key") == pa.scalar(BIG, pa.uint64())) == [BIG]
    assert keys((pc.field("key") == 1) | (pc.field("v") == 3)) == [1, 7]
    assert keys(pc.field("v") == 2) == [1]  # a value column: filtered after the merge
    assert keys((pc.field("v") >= 3) & (pc.field("n") > -5)) == [7, BIG, 2**64 - 1]
    assert table.to_batches(filter=pc.field("key") == 7).read_all().num_rows == 1
    with pytest.raises(azof.InvalidArgumentError, match="with -1, which no value"):
        table.scan(filter=pc.field("key") > -1)
    with pytest.raises(azof.InvalidArgumentError, match="cannot be evaluated on the unsigned"):
        table.scan(filter=pc.field("key") == 1.5)


def test_sql_predicates_on_uint64_keys() -> None:
    from azof.predicate import parse_predicate

    table = memory_lake().create_table("u", {"key": pa.uint64(), "event_time": US})
    table.append({"key": [BIG, 1, 2], "event_time": ["2024-01-01"] * 3})
    for sql, expected in (("key = 1", [1]), ("key IN (1, 2)", [1, 2]), ("key > 1", [2, BIG])):
        condition = parse_predicate(sql, table.schema)
        assert sorted(table.scan(filter=condition).column("key").to_pylist()) == expected
    with pytest.raises(azof.InvalidArgumentError, match="whole numbers"):
        parse_predicate("key = 1.5", table.schema)


# -- 6. no raw exceptions from the paths above -----------------------------------------------------


def test_delete_of_no_iterable_is_an_invalid_argument() -> None:
    table = memory_lake().create_table("p", PRICES)
    with pytest.raises(azof.InvalidArgumentError, match="needs the keys to delete or where"):
        table.delete(None)
    with pytest.raises(azof.InvalidArgumentError, match="iterable of keys"):
        table.delete(3.5)
    with table.writer() as writer, pytest.raises(azof.InvalidArgumentError, match="iterable"):
        writer.delete(3.5)
    assert table.refresh().version == 0


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ("x", "mapping of names to JSON values"),
        ({"when": dt.datetime(2024, 1, 1)}, "'when' is not a JSON value"),
        ({"ratio": float("nan")}, "'ratio' is not a JSON value"),
        ({1: "x"}, "names must be strings"),
    ],
)
def test_create_table_refuses_properties_that_are_not_json(properties: Any, message: str) -> None:
    lake = memory_lake()
    with pytest.raises(azof.InvalidArgumentError, match=message):
        lake.create_table("t", PRICES, properties=properties)
    assert lake.tables() == []
    table = lake.create_table("t", PRICES, properties={"owner": "ops", "limits": [1, None]})
    assert thaw(lake.table("t").snapshot.properties) == {"owner": "ops", "limits": [1, None]}
    assert table.version == 0


# -- 5. every malformed input is a SchemaMismatchError / InvalidArgumentError ------------------

WITH_TEXT = PRICES.append(pa.field("s", pa.string()))
ROW = {"key": "a", "event_time": day("2024-01-01")}


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ([{**ROW, "s": True}], azof.SchemaMismatchError, "'s' is string in the table, but row 0"),
        ([{**ROW, "s": 7}], azof.SchemaMismatchError, "'s' is string in the table"),
        ([{**ROW, "px": 10**400}], azof.SchemaMismatchError, "'px' is double in the table"),
        ([{**ROW, "": 1}], azof.SchemaMismatchError, "unknown column"),
        ([{**ROW, "k y": 1}], azof.SchemaMismatchError, "unknown column"),
        ([{**ROW, "s": pd.NaT}], azof.SchemaMismatchError, "'s' is string in the table"),
        ([{**ROW, "px": pd.NaT}], azof.SchemaMismatchError, "'px' is double in the table"),
        ([{**ROW, 3: 1}], azof.SchemaMismatchError, "column names must be strings"),
        ([{**ROW, "_azof_deleted": "x"}], azof.SchemaMismatchError, "'_azof_deleted' is bool"),
        (
            pd.DataFrame([{**ROW, "s": True}, {**ROW, "s": "x"}]),
            azof.SchemaMismatchError,
            "'s' is string in the table, but row 0 holds True",
        ),
        (
            pd.DataFrame([{**ROW, "px": pd.NaT}]),
            azof.SchemaMismatchError,
            "'px'",
        ),
        (
            pd.DataFrame([{**ROW, "event_time": "2024-01-01", "px": 1}, {**ROW, "event_time": 5}]),
            azof.SchemaMismatchError,
            "'event_time', row 1: 5 \\(int\\) is not a timestamp",
        ),
        ({"key": ["a", "b"], "event_time": ["2024-01-01"]}, azof.SchemaMismatchError, "lengths"),
        ({"key": "a", "event_time": ["2024-01-01"]}, azof.InvalidArgumentError, "holds a str"),
        ({"key": 5, "event_time": ["2024-01-01"]}, azof.InvalidArgumentError, "holds a int"),
        (pd.NaT, azof.InvalidArgumentError, "cannot write a NaTType"),
        ([{**ROW}, 5], azof.InvalidArgumentError, "item 1 is a int"),
    ],
)
def test_malformed_python_input_is_refused_with_its_place(
    data: Any, error: type[Exception], message: str
) -> None:
    """Found by tests/test_fuzz_inputs.py: raw ArrowTypeError, OverflowError, KeyError,
    ValueError and AttributeError from Python values that do not fit."""
    table = memory_lake().create_table("p", WITH_TEXT)
    with pytest.raises(error, match=message):
        table.append(data)
    with table.writer() as writer, pytest.raises(error, match=message):
        writer.write(data)
    assert table.refresh().version == 0
    assert data_files(table) == []


@pytest.mark.parametrize("names", [[None, None, "key", "key"], [[1, 2]], [{"a": 1}], ["px", "px"]])
def test_reorder_with_strange_names_is_refused(names: list[Any]) -> None:
    """Found by tests/test_fuzz_inputs.py: a raw TypeError sorting None among names."""
    table = memory_lake().create_table("p", PRICES)
    with pytest.raises(azof.InvalidArgumentError, match="cannot reorder the columns"):
        table.evolve().reorder(names).commit()
    assert table.refresh().version == 0


def test_a_row_that_leaves_out_a_column_with_a_default_gets_the_default() -> None:
    """In a list of row dicts, a key a row lacks is that column's default (as for a column
    every row lacks); an explicit None is null; put() alike."""
    table = azof.Lakehouse(f"memory://{uuid.uuid4().hex}").create_table(
        "t", pa.schema([("key", pa.string()), ("event_time", pa.timestamp("ms", tz="UTC"))])
    )
    table.evolve().add_column("cur", pa.string(), default="USD").add_column(
        "since", pa.timestamp("ms", tz="UTC"), default="2020-01-01T00:00:00Z"
    ).commit()
    table.append(
        [
            {"key": "a", "event_time": "2024-01-01", "cur": "EUR"},
            {"key": "b", "event_time": "2024-01-01"},
            {"key": "c", "event_time": "2024-01-01", "cur": None, "since": None},
        ]
    )
    table.put("d", "2024-01-01")
    rows = {r["key"]: (r["cur"], r["since"]) for r in table.scan().to_pylist()}
    since = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    assert rows["a"] == ("EUR", since)
    assert rows["b"] == ("USD", since)
    assert rows["c"] == (None, None)
    assert rows["d"] == ("USD", since)
