"""Schema evolution: add, drop, rename, widen and move columns without rewriting data.

Rows written under any older schema read correctly under the new one (renamed columns by
id, added ones as their default, widened ones cast), older versions keep their schema,
refused changes leave the table as it was, and compaction rewrites old files into the
current schema. The property test at the end checks random interleavings of writes,
schema changes and compactions against an oracle over plain rows.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import azof
from azof.format import decode_snapshot, encode_snapshot
from azof.format.snapshot import thaw
from azof.format.types import is_widening
from azof.write.append import append_data

MS = pa.timestamp("ms", tz="UTC")
SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("event_time", MS),
        ("px", pa.float32()),
        ("volume", pa.int32()),
        ("legacy", pa.string()),
    ]
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def table() -> azof.Table:
    """``prices`` with two appends under the first schema."""
    lake = azof.Lakehouse(f"memory://{uuid.uuid4().hex}")
    created = lake.create_table("prices", SCHEMA)
    created.append(
        [
            {"key": "a", "event_time": "2024-01-01", "px": 1.5, "volume": 10, "legacy": "x"},
            {"key": "b", "event_time": "2024-01-02", "px": 2.5, "volume": 20, "legacy": "y"},
        ]
    )
    created.append([{"key": "a", "event_time": "2024-02-01", "px": 3.0, "volume": 30}])
    return created


def rows(table: azof.Table, **kwargs: Any) -> list[dict[str, Any]]:
    return table.scan(**kwargs).sort_by("key").to_pylist()


def state(table: azof.Table) -> tuple[int, list[str], list[str]]:
    """What a refused change must leave alone: version, snapshots and data files."""
    names = sorted(obj.path for obj in table.storage.list(""))
    return table.refresh().version, [n for n in names if n.endswith(".json")], names


# -- the example ---------------------------------------------------------------------


def test_evolve_example(table: azof.Table) -> None:
    before = rows(table)
    version = (
        table.evolve()
        .add_column("currency", pa.string())
        .rename_column("px", "price")
        .widen("volume", pa.int64())
        .drop_column("legacy")
        .commit()
    )
    assert version == 3 == table.version
    assert table.schema == pa.schema(
        [
            pa.field("key", pa.string(), nullable=False),
            pa.field("event_time", MS, nullable=False),
            ("price", pa.float32()),
            ("volume", pa.int64()),
            ("currency", pa.string()),
        ]
    )
    expected = [
        {"key": r["key"], "event_time": r["event_time"], "price": r["px"],
         "volume": r["volume"], "currency": None}
        for r in before
    ]  # fmt: skip
    assert rows(table) == expected
    assert rows(table, version=2) == before  # older versions keep their schema
    assert table.scan(version=2).schema.names == ["key", "event_time", "px", "volume", "legacy"]
    commit = table.log()[-1]
    assert (commit.operation, commit.rows, commit.files) == ("evolve", 0, 0)
    assert table.snapshot.commit is not None
    # nested lists of a frozen summary read as tuples: compare the JSON form
    assert thaw(table.snapshot.commit.summary) == {
        "schema_id": 1,
        "changes": [
            {"op": "add", "name": "currency", "type": "string", "nullable": True},
            {"op": "rename", "name": "px", "to": "price"},
            {"op": "widen", "name": "volume", "type": "int64"},
            {"op": "drop", "name": "legacy"},
        ],
    }
    # appends under the new schema; reopened, the table reads the same
    table.append([{"key": "c", "event_time": "2024-03-01", "price": 9.0, "volume": 2**40,
                   "currency": "EUR"}])  # fmt: skip
    reopened = azof.Lakehouse(table.lakehouse.uri).table("prices")
    assert rows(reopened)[-1] == {"key": "c", "event_time": utc("2024-03-01"), "price": 9.0,
                                  "volume": 2**40, "currency": "EUR"}  # fmt: skip
    assert rows(reopened, as_of="2024-01-15", known_at=reopened.log()[2].time) == [
        {"key": "a", "event_time": utc("2024-01-01"), "px": 1.5, "volume": 10, "legacy": "x"},
        {"key": "b", "event_time": utc("2024-01-02"), "px": 2.5, "volume": 20, "legacy": "y"},
    ]


def test_old_names_are_refused_with_what_became_of_them(table: azof.Table) -> None:
    table.evolve().rename_column("px", "price").drop_column("legacy").commit()
    with pytest.raises(azof.SchemaMismatchError, match="'px' was renamed to 'price' at version 3"):
        table.append([{"key": "a", "event_time": "2024-05-01", "px": 1.0}])
    with pytest.raises(azof.SchemaMismatchError, match="'legacy' was dropped at version 3"):
        table.append([{"key": "a", "event_time": "2024-05-01", "legacy": "z"}])
    table.evolve().rename_column("price", "px2").commit()
    with pytest.raises(azof.SchemaMismatchError, match="'price' was renamed to 'px2' at version 4"):
        table.append([{"key": "a", "event_time": "2024-05-01", "price": 1.0}])
    with pytest.raises(azof.SchemaMismatchError, match="'px' was renamed to 'px2' at version 3"):
        table.append([{"key": "a", "event_time": "2024-05-01", "px": 1.0}])
    # a missing nullable column is fine: it is null
    table.append([{"key": "z", "event_time": "2024-05-01"}])
    assert rows(table)[-1] == {"key": "z", "event_time": utc("2024-05-01"), "px2": None,
                               "volume": None}  # fmt: skip


def test_defaults_fill_old_rows_and_missing_columns(table: azof.Table) -> None:
    table.evolve().add_column("qty", pa.int64(), nullable=False, default=0).add_column(
        "currency", pa.string(), default="USD", before="px"
    ).add_column("day", pa.date32(), default="2024-01-01").add_column(
        "at", pa.timestamp("us", tz="UTC"), default="2024-01-01T12:00:00Z"
    ).add_column("d", pa.decimal128(6, 2), default=Decimal("1.5")).commit()
    assert table.schema.names == ["key", "event_time", "currency", "px", "volume", "legacy",
                                  "qty", "day", "at", "d"]  # fmt: skip
    table.append([{"key": "c", "event_time": "2024-03-01", "qty": 5, "currency": None}])
    got = {r["key"]: r for r in rows(table)}
    assert (got["a"]["qty"], got["a"]["currency"], got["a"]["d"]) == (0, "USD", Decimal("1.50"))
    assert got["b"]["day"].isoformat() == "2024-01-01"
    assert got["b"]["at"] == datetime(2024, 1, 1, 12, tzinfo=UTC)
    assert (got["c"]["qty"], got["c"]["currency"], got["c"]["d"]) == (5, None, Decimal("1.50"))
    table.compact()  # rewritten files hold the defaults; the answer is the same
    assert {r["key"]: r for r in rows(table)} == got
    with pytest.raises(azof.SchemaMismatchError, match="'qty' has 1 null"):
        table.append([{"key": "d", "event_time": "2024-03-01", "qty": None}])


def test_widen_every_kind(table: azof.Table) -> None:
    table.evolve().add_column("u", pa.uint8()).add_column("d", pa.decimal128(5, 2)).add_column(
        "t", pa.timestamp("s", tz="UTC")
    ).add_column("b", pa.binary()).commit()
    table.append([{"key": "a", "event_time": "2024-04-01", "u": 200, "d": Decimal("123.45"),
                   "t": datetime(2024, 1, 1, tzinfo=UTC), "b": b"x"}])  # fmt: skip
    before = rows(table)
    table.evolve().widen("px", pa.float64()).widen("volume", pa.int64()).widen(
        "u", pa.uint16()
    ).widen("u", pa.int32()).widen("d", pa.decimal256(40, 2)).widen(
        "t", pa.timestamp("ns", tz="UTC")
    ).widen("legacy", pa.large_string()).widen("b", pa.large_binary()).commit()
    assert [str(t) for t in table.schema.types[2:]] == [
        "double", "int64", "large_string", "int32", "decimal256(40, 2)",
        "timestamp[ns, tz=UTC]", "large_binary",
    ]  # fmt: skip
    assert rows(table) == before
    table.compact()
    assert rows(table) == before


def test_widening_to_nanoseconds_checks_the_stored_values(table: azof.Table) -> None:
    table.evolve().add_column("t", pa.timestamp("ms", tz="UTC")).rename_column("t", "when").commit()
    for key, year in (("a", 2200), ("b", 2500)):
        when = datetime(year, 1, 1, tzinfo=UTC)
        table.append([{"key": key, "event_time": "2024-04-01", "when": when}])
    version, before = table.version, rows(table)
    ns = pa.timestamp("ns", tz="UTC")
    with pytest.raises(azof.InvalidArgumentError, match=r"cannot widen column 'at' to timestamp"):
        table.evolve().rename_column("when", "at").widen("at", ns).commit()
    assert table.refresh().version == version  # nothing committed
    assert rows(table) == before
    table.evolve().widen("when", pa.timestamp("us", tz="UTC")).commit()  # microseconds hold it
    assert rows(table) == before
    table.delete(["b"], "2024-05-01")
    table.compact()  # b's year-2500 value stays in the history (as of April)
    with pytest.raises(azof.InvalidArgumentError, match="outside what nanoseconds can hold"):
        table.evolve().widen("when", ns).commit()


@pytest.mark.parametrize(
    ("old", "new", "widens"),
    [
        (pa.int8(), pa.int16(), True),
        (pa.int32(), pa.int64(), True),
        (pa.int64(), pa.int32(), False),
        (pa.uint8(), pa.uint64(), True),
        (pa.uint16(), pa.int32(), True),
        (pa.uint16(), pa.int16(), False),
        (pa.int8(), pa.uint16(), False),
        (pa.float32(), pa.float64(), True),
        (pa.int32(), pa.float64(), False),
        (pa.decimal128(5, 2), pa.decimal128(9, 2), True),
        (pa.decimal128(5, 2), pa.decimal128(9, 3), False),
        (pa.timestamp("ms", "UTC"), pa.timestamp("us", "Etc/UTC"), True),
        (pa.timestamp("ms"), pa.timestamp("us", "UTC"), False),
        (pa.timestamp("us"), pa.timestamp("ms"), False),
        (pa.string(), pa.large_string(), True),
        (pa.string(), pa.binary(), False),
        (pa.int64(), pa.int64(), False),
    ],
)
def test_is_widening(old: pa.DataType, new: pa.DataType, widens: bool) -> None:
    assert is_widening(old, new) is widens


def test_reorder_and_move(table: azof.Table) -> None:
    table.evolve().reorder(["legacy", "volume", "px"]).commit()
    assert table.schema.names[2:] == ["legacy", "volume", "px"]
    table.evolve().move_column("px", before="legacy").move_column("legacy", after="volume").commit()
    assert table.schema.names[2:] == ["px", "volume", "legacy"]
    assert rows(table)[0] == {"key": "a", "event_time": utc("2024-02-01"), "px": 3.0,
                              "volume": 30, "legacy": None}  # fmt: skip
    assert table.scan(columns=["legacy", "key"]).column_names == ["legacy", "key"]


def test_ids_are_never_reused(table: azof.Table) -> None:
    table.evolve().drop_column("legacy").add_column("legacy", pa.int64()).commit()
    columns = {c.name: c for c in table.snapshot.schema.columns}
    assert (columns["legacy"].id, table.snapshot.schema.new_column_id) == (4, 5)
    assert rows(table)[1]["legacy"] is None  # the old 'legacy' (id 3) is not read
    table.evolve().drop_column("legacy").commit()
    table.evolve().add_column("n", pa.int8()).commit()
    assert table.snapshot.schema.column("n").id == 5  # 4 was dropped: max id + 1 is not enough


# -- refusals --------------------------------------------------------------------------------

REFUSALS: list[tuple[Callable[[Any], Any], str]] = [
    (lambda u: u.drop_column("key"), "cannot drop column 'key': it is a key or event-time"),
    (lambda u: u.drop_column("event_time"), "cannot drop column 'event_time'"),
    (lambda u: u.rename_column("key", "px"), "the table already has a column 'px'"),
    (lambda u: u.rename_column("event_time", "_azof_t"), "'_azof_t' is reserved"),
    (lambda u: u.widen("event_time", pa.timestamp("us", "UTC")), "the type of 'event_time'"),
    (lambda u: u.widen("volume", pa.int16()), "cannot narrow column 'volume' from int32 to int16"),
    (lambda u: u.widen("px", pa.int64()), "from float to int64: a type may only widen"),
    (lambda u: u.widen("volume", pa.int32()), "it already is int32"),
    (lambda u: u.add_column("px", pa.int64()), "already has a column 'px'"),
    (lambda u: u.rename_column("px", "volume"), "already has a column 'volume'"),
    (lambda u: u.add_column("key", pa.int64()), "'key' is reserved"),
    (lambda u: u.add_column("_azof_x", pa.int64()), "'_azof_x' is reserved"),
    (lambda u: u.drop_column("nope"), "cannot drop column 'nope': there is no such column"),
    (lambda u: u.rename_column("nope", "x"), "cannot rename column 'nope': there is no such"),
    (lambda u: u.widen("nope", pa.int64()), "'nope': there is no such column"),
    (lambda u: u.move_column("nope", before="px"), "cannot move column 'nope'"),
    (lambda u: u.move_column("px", before="px"), "next to itself"),
    (lambda u: u.move_column("px"), "exactly one of before/after"),
    (lambda u: u.add_column("q", pa.int64(), nullable=False), "not nullable without a default"),
    (lambda u: u.add_column("q", pa.int64(), default="7"), "default '7' does not fit int64"),
    (lambda u: u.add_column("q", pa.int8(), default=300), "default 300 does not fit int8"),
    (lambda u: u.add_column("q", pa.list_(pa.int8()), default=[1]), "default for a list<"),
    (lambda u: u.add_column("q", "int64"), "'int64' is not a pyarrow type"),
    (lambda u: u.reorder(["px", "volume"]), "name every value column once (missing 'legacy'"),
    (lambda u: u.reorder(["px", "px", "x"]), "unknown 'x'; repeated 'px'"),
    (lambda u: u.drop_column("px").widen("px", pa.float64()), "'px': there is no such column"),
]


@pytest.mark.parametrize(("change", "message"), REFUSALS)
def test_refused_changes_leave_the_table_unchanged(
    table: azof.Table, change: Callable[[Any], Any], message: str
) -> None:
    before = state(table)
    with pytest.raises(azof.InvalidArgumentError, match="table 'prices'") as caught:
        change(table.evolve()).commit()
    assert message in str(caught.value)
    assert state(table) == before


def test_nothing_to_commit(table: azof.Table) -> None:
    before = state(table)
    with pytest.raises(azof.InvalidArgumentError, match="no schema changes to commit"):
        table.evolve().commit()
    update = table.evolve()
    update.add_column("x", pa.int64())  # a new update is returned; this one is still empty
    with pytest.raises(azof.InvalidArgumentError, match="no schema changes to commit"):
        update.commit()
    assert state(table) == before


def test_a_failing_change_refuses_the_whole_update(table: azof.Table) -> None:
    before = state(table)
    update = table.evolve().add_column("currency", pa.string())
    with pytest.raises(azof.InvalidArgumentError, match="no such column"):
        update.drop_column("nope")
    assert update.schema.names[-1] == "currency"  # a preview; nothing committed yet
    assert state(table) == before


# -- concurrency -----------------------------------------------------------------------------


def test_concurrent_evolve_revalidates_or_conflicts(table: azof.Table) -> None:
    other = azof.Lakehouse(table.lakehouse.uri).table("prices")
    still_applies = other.evolve().add_column("currency", pa.string())
    no_longer = other.evolve().rename_column("px", "p2")
    table.evolve().rename_column("px", "price").commit()  # lands first (version 3)
    assert still_applies.commit() == 4  # re-checked against version 3's schema
    assert other.schema.names[2:] == ["price", "volume", "legacy", "currency"]
    before = state(table)
    with pytest.raises(azof.CommitConflictError, match=r"no such column.*changed by version 4"):
        no_longer.commit()
    assert state(table) == before


def test_racing_evolves_from_threads(table: azof.Table) -> None:
    errors: list[Exception] = []

    def add(name: str) -> None:
        try:
            azof.Lakehouse(table.lakehouse.uri).table("prices").evolve().add_column(
                name, pa.int64()
            ).commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(f"c{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    schema = table.refresh().snapshot.schema
    assert sorted(c.name for c in schema.columns[3:]) == ["c0", "c1", "c2", "c3"]
    assert sorted(c.id for c in schema.columns) == [1, 2, 3, 4, 5, 6, 7]
    assert schema.schema_id == 4


def test_an_append_racing_an_evolve_reads_under_the_new_schema(table: azof.Table) -> None:
    stale = table.snapshot  # an append that read the schema before the evolve landed
    table.evolve().rename_column("px", "price").add_column(
        "qty", pa.int64(), nullable=False, default=1
    ).widen("volume", pa.int64()).commit()
    data = [{"key": "r", "event_time": "2024-06-01", "px": 7.0, "volume": 70, "legacy": "l"}]
    append_data(table.storage, "prices", stale, data)
    assert rows(table.refresh())[-1] == {"key": "r", "event_time": utc("2024-06-01"),
                                         "price": 7.0, "volume": 70, "legacy": "l",
                                         "qty": 1}  # fmt: skip


# -- files and format ------------------------------------------------------------------------


def test_compaction_rewrites_files_into_the_current_schema(tmp_path: Path) -> None:
    table = azof.Lakehouse(tmp_path).create_table("t", SCHEMA)
    table.append([{"key": "a", "event_time": "2024-01-01", "px": 1.0, "volume": 1}])
    table.evolve().rename_column("px", "price").widen("volume", pa.int64()).drop_column(
        "legacy"
    ).add_column("n", pa.int16(), default=3).commit()
    before = rows(table)
    table.compact()
    assert rows(table) == before
    written = [f for f in table.snapshot.files()]
    assert written
    assert all(f.schema_id == 1 for f in written)
    stored = pq.read_schema(tmp_path / "t" / written[0].file)
    assert stored.names == ["key", "event_time", "_azof_deleted", "price", "volume", "n"]
    ids = [stored.field(n).metadata[b"PARQUET:field_id"] for n in ("price", "volume", "n")]
    assert (ids, stored.field("volume").type) == ([b"1", b"2", b"4"], pa.int64())


def test_snapshot_json_of_an_evolved_table(table: azof.Table) -> None:
    raw = json.loads(table.storage.read("s2.json"))
    assert raw["format_version"] == 2
    assert "schema_id" not in raw["schema"]
    table.evolve().rename_column("px", "price").drop_column("legacy").add_column(
        "c", pa.int64(), default=5
    ).commit()
    raw = json.loads(table.storage.read("s3.json"))
    assert raw["format_version"] == 3
    schema = raw["schema"]
    assert (schema["schema_id"], schema["next_column_id"]) == (1, 5)
    assert schema["columns"] == [
        {"id": 1, "name": "price", "type": "float32", "nullable": True,
         "renames": [{"from": "px", "version": 3}]},
        {"id": 2, "name": "volume", "type": "int32", "nullable": True},
        {"id": 4, "name": "c", "type": "int64", "nullable": True, "default": 5,
         "added_in_schema": 1},
    ]  # fmt: skip
    assert schema["dropped"] == [{"id": 3, "name": "legacy", "version": 3}]
    table.append([{"key": "q", "event_time": "2024-07-01"}])
    raw = json.loads(table.storage.read("s4.json"))
    assert raw["deltas"][-1]["schema_id"] == 1
    assert "schema_id" not in raw["deltas"][0]
    decoded = decode_snapshot(table.storage.read("s4.json"), table="t", file="s4.json", version=4)
    again = decode_snapshot(encode_snapshot(decoded), table="t", file="s4.json", version=4)
    assert again == decoded
    assert decoded.format_version == 3


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s["columns"][2].update(default="x"), "'x' does not fit int64"),
        (lambda s: s.update(next_column_id=3), "next_column_id 3 is not above every column id"),
        (lambda s: s["dropped"][0].update(id=2), "a dropped column's id is used again"),
        (lambda s: s["columns"][2].update(added_in_schema=2), "added_in_schema is above"),
        (lambda s: s["columns"][0].update(renames="px"), "'renames' is not a list"),
        (lambda s: s.update(schema_id=-1), "schema_id -1 is not a whole number"),
    ],
)
def test_corrupt_evolution_fields_are_refused(
    table: azof.Table, edit: Callable[[dict[str, Any]], Any], message: str
) -> None:
    table.evolve().rename_column("px", "price").drop_column("legacy").add_column(
        "c", pa.int64(), default=5
    ).commit()
    raw = json.loads(table.storage.read("s3.json"))
    edit(raw["schema"])
    with pytest.raises(azof.CorruptTableError, match=message):
        decode_snapshot(json.dumps(raw).encode(), table="t", file="s3.json", version=3)


def test_a_file_lacking_a_column_it_was_written_with_is_corrupt(tmp_path: Path) -> None:
    table = azof.Lakehouse(tmp_path).create_table("t", SCHEMA)
    table.append([{"key": "a", "event_time": "2024-01-01", "px": 1.0, "volume": 1}])
    table.evolve().add_column("late", pa.int64()).rename_column("px", "price").commit()
    assert rows(table)[0]["late"] is None  # written before 'late' existed: fine
    path = tmp_path / "t" / table.snapshot.deltas[0].file
    stored = pq.read_table(path)
    pq.write_table(stored.drop_columns(["px"]), path)  # lost 'px' (id 1): corrupt
    with pytest.raises(azof.CorruptTableError, match=r"has no column 'price' \(field id 1\)"):
        table.scan()
    pq.write_table(
        stored.set_column(3, stored.schema.field(3).with_type(pa.string()), pa.array(["x"])), path
    )
    with pytest.raises(azof.CorruptTableError, match="'price' \\(stored as 'px'\\) is string"):
        table.scan()


# -- seed tables (no field ids: columns by the name they were created with) ------------------


def test_seed_table_evolves_and_compacts(seed_copy: Callable[[str], Path]) -> None:
    folder = seed_copy("table2")
    table = azof.Lakehouse(folder.parent).table("table2")
    times = [None, "2024-01-15", "2024-02-20", "2024-03-15"]
    before = [rows(table, as_of=t) for t in times]
    table.evolve().rename_column("value1", "label").rename_column("value2", "value1").drop_column(
        "created"
    ).add_column("created", pa.string(), default="new").commit()
    assert table.snapshot.format_version == 3
    for as_of, old in zip(times, before, strict=True):
        expected = [
            {"key": r["key"], "event_time": r["event_time"], "label": r["value1"],
             "value1": r["value2"], "is_active": r["is_active"], "created": "new"}
            for r in old
        ]  # fmt: skip
        assert rows(table, as_of=as_of) == expected
    table.compact(azof.CompactionPolicy(segment="month"))
    for as_of, old in zip(times, before, strict=True):
        assert [r["label"] for r in rows(table, as_of=as_of)] == [r["value1"] for r in old]
    assert rows(table, version=1, as_of=times[1]) == before[1]  # the seed version, by name
