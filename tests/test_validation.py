"""Broken tables are refused with an error that names the table, the file and the fault.

Each test copies a seed table into ``tmp_path``, breaks one thing, and opens and scans it.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import azof
from azof.storage import open_storage

Copy = Callable[[str], Path]
Raw = dict[str, Any]


def edit_snapshot(folder: Path, change: Callable[[Raw], Any]) -> None:
    path = folder / "s1.json"
    raw = json.loads(path.read_text())
    change(raw)
    path.write_text(json.dumps(raw, indent=1))


def open_and_scan(folder: Path) -> pa.Table:
    return azof.Lakehouse(folder.parent).table(folder.name).scan()


def assert_refused(folder: Path, error: type[Exception], *fragments: str) -> str:
    """Opening and scanning the table raises ``error``, naming the table and ``fragments``."""
    with pytest.raises(error) as caught:
        open_and_scan(folder)
    message = str(caught.value)
    for fragment in (f"table {folder.name!r}", *fragments):
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def segment(raw: Raw) -> Raw:
    first: Raw = raw["segments"][0]
    return first


def delta(raw: Raw) -> Raw:
    first: Raw = segment(raw)["delta"][0]
    return first


# -- the snapshot JSON ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["{not json", "", '{"schema": ', "\xff\xfe"])
def test_unreadable_json(seed_copy: Copy, text: str) -> None:
    folder = seed_copy("table0")
    (folder / "s1.json").write_bytes(text.encode("latin-1"))
    assert_refused(folder, azof.CorruptTableError, "s1.json", "not readable JSON")


def test_snapshot_not_an_object(seed_copy: Copy) -> None:
    folder = seed_copy("table0")
    (folder / "s1.json").write_text("[1, 2]")
    assert_refused(folder, azof.CorruptTableError, "s1.json", "not a JSON object")


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        (lambda raw: raw.pop("schema"), "'schema'"),
        (lambda raw: raw["schema"].pop("columns"), "missing field 'columns'"),
        (lambda raw: raw["schema"]["columns"][0].pop("name"), "missing field 'name'"),
        (lambda raw: raw["schema"]["columns"][0].pop("data_type"), "missing field 'data_type'"),
        (lambda raw: raw.pop("segments"), "missing field 'segments'"),
        (lambda raw: segment(raw).pop("start"), "missing field 'start'"),
        (lambda raw: delta(raw).pop("start"), "missing field 'start'"),
        (lambda raw: delta(raw).pop("file"), "missing field 'file'"),
    ],
    ids=[
        "schema",
        "columns",
        "column name",
        "data_type",
        "segments",
        "segment start",
        "delta start",
        "delta file",
    ],
)
def test_missing_fields(seed_copy: Copy, change: Callable[[Raw], Any], fault: str) -> None:
    folder = seed_copy("table0")
    edit_snapshot(folder, change)
    assert_refused(folder, azof.CorruptTableError, "s1.json", fault)


def test_missing_field_names_the_segment(seed_copy: Copy) -> None:
    folder = seed_copy("table0")
    edit_snapshot(folder, lambda raw: delta(raw).pop("file"))
    assert_refused(folder, azof.CorruptTableError, "segment '10'", "missing field 'file'")


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("segment start", "2024-13-01T00:00:00.000Z"),
        ("segment start", "soon"),
        ("segment end", "2024-12-31T25:00:00.000Z"),
        ("delta start", "02/01/2024"),
        ("delta end", "2024-04-01T00:00:00.000+99:00"),
        ("segment start", 20240101),
        ("delta end", ["2024-04-01"]),
    ],
)
def test_bad_timestamps(seed_copy: Copy, where: str, value: Any) -> None:
    folder = seed_copy("table0")
    owner, field = where.split()

    def change(raw: Raw) -> None:
        (segment(raw) if owner == "segment" else delta(raw))[field] = value

    edit_snapshot(folder, change)
    message = assert_refused(folder, azof.CorruptTableError, "s1.json", repr(value))
    assert "RFC 3339" in message
    assert field in message


def test_segment_start_after_end(seed_copy: Copy) -> None:
    folder = seed_copy("table0")
    edit_snapshot(folder, lambda raw: segment(raw).update(end="2023-12-31T00:00:00.000Z"))
    assert_refused(folder, azof.CorruptTableError, "s1.json", "segment '10'", "is after end")


def test_delta_start_after_end(seed_copy: Copy) -> None:
    folder = seed_copy("table0")
    edit_snapshot(folder, lambda raw: delta(raw).update(end="2024-01-15T00:00:00.000Z"))
    assert_refused(folder, azof.CorruptTableError, "delta1.parquet", "is after end")


CHILD_SEGMENTS = {
    "starts before its parent": {"start": "2023-12-01T00:00:00.000Z"},
    "open in a closed parent": {"start": "2024-02-01T00:00:00.000Z"},
    "ends after its parent": {
        "start": "2024-02-01T00:00:00.000Z",
        "end": "2025-01-01T00:00:00.000Z",
    },
}


@pytest.mark.parametrize("case", CHILD_SEGMENTS)
def test_child_segment_outside_its_parent(seed_copy: Copy, case: str) -> None:
    folder = seed_copy("table0")

    def change(raw: Raw) -> None:
        segment(raw)["end"] = "2024-12-31T23:59:59.999Z"
        segment(raw)["segments"] = [{"id": "11", **CHILD_SEGMENTS[case]}]

    edit_snapshot(folder, change)
    assert_refused(
        folder, azof.CorruptTableError, "s1.json", "segment '11'", "outside its parent segment '10'"
    )


DELTAS_OUTSIDE = {
    "starts before its segment": ({}, {"start": "2023-12-31T23:59:59.999Z"}),
    "ends after its segment": ({"end": "2024-03-01T00:00:00.000Z"}, {}),
    "open in a closed segment": ({"end": "2024-12-31T00:00:00.000Z"}, {"end": None}),
}


@pytest.mark.parametrize("case", DELTAS_OUTSIDE)
def test_delta_outside_its_segment(seed_copy: Copy, case: str) -> None:
    folder = seed_copy("table0")
    segment_change, delta_change = DELTAS_OUTSIDE[case]

    def change(raw: Raw) -> None:
        segment(raw).update(segment_change)
        delta(raw).update(delta_change)
        if delta(raw).get("end", "") is None:
            del delta(raw)["end"]

    edit_snapshot(folder, change)
    assert_refused(
        folder, azof.CorruptTableError, "s1.json", "delta1.parquet", "outside its segment"
    )


@pytest.mark.parametrize("data_type", ["Float", "string", "", 7, None])
def test_unknown_data_type(seed_copy: Copy, data_type: Any) -> None:
    folder = seed_copy("table0")
    edit_snapshot(folder, lambda raw: raw["schema"]["columns"][0].update(data_type=data_type))
    message = assert_refused(folder, azof.CorruptTableError, "s1.json")
    assert "data_type" in message
    assert "'value'" in message or "column 0" in message


@pytest.mark.parametrize("name", ["value", "key", "event_time"])
def test_duplicated_or_reserved_column(seed_copy: Copy, name: str) -> None:
    folder = seed_copy("table0")
    column = {"name": name, "data_type": "String", "nullable": True}
    edit_snapshot(folder, lambda raw: raw["schema"]["columns"].append(column))
    assert_refused(folder, azof.CorruptTableError, "s1.json", repr(name), "duplicated or reserved")


def test_unsupported_format_version(seed_copy: Copy) -> None:
    folder = seed_copy("table0")
    edit_snapshot(folder, lambda raw: raw.update(format_version=99))
    message = assert_refused(folder, azof.UnsupportedFormatError, "s1.json", "format_version 99")
    assert "upgrade azof" in message


# -- version.txt ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["abc", "", "-1", "1.0", "one", "0x1"])
def test_version_hint_not_a_number(seed_copy: Copy, text: str) -> None:
    folder = seed_copy("table0")
    (folder / "version.txt").write_text(text)
    assert_refused(
        folder, azof.CorruptTableError, "version.txt", repr(text), "not a snapshot number"
    )


def test_version_hint_names_a_missing_snapshot(seed_copy: Copy) -> None:
    folder = seed_copy("table0")
    (folder / "version.txt").write_text("5")
    assert_refused(folder, azof.CorruptTableError, "version.txt", "s5.json is missing")


def test_version_hint_without_its_snapshot(seed_copy: Copy) -> None:
    folder = seed_copy("table0")
    (folder / "s1.json").unlink()
    assert_refused(folder, azof.CorruptTableError, "version.txt", "s1.json is missing")


# -- data file names must stay inside the table folder -------------------------------------

BAD_NAMES = [
    "/etc/passwd",
    "/tmp/base.parquet",
    "../table1/delta1.parquet",
    "sub/../../table1/delta1.parquet",
    "./delta1.parquet",
    "a//delta1.parquet",
    "s3://x/y",
    "file:///etc/passwd",
    "memory://seed/table1/delta1.parquet",
    "c:delta1.parquet",
    "C:\\Windows\\win.ini",
    "..\\table1\\delta1.parquet",
    "sub\\delta1.parquet",
    "\\\\server\\share\\x.parquet",
    "delta1.parquet\n",
    "",
]


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize("where", ["delta", "base"])
def test_data_file_names_outside_the_table_are_refused(
    seed_copy: Copy, name: str, where: str
) -> None:
    folder = seed_copy("table0")
    seed_copy("table1")  # a real sibling table the bad names could reach

    def change(raw: Raw) -> None:
        (delta(raw) if where == "delta" else segment(raw))["file"] = name

    edit_snapshot(folder, change)
    message = assert_refused(folder, azof.CorruptTableError, "s1.json", repr(name))
    assert "refusing to read" in message or "not a non-empty string" in message


def test_sibling_table_file_is_never_read(seed_copy: Copy) -> None:
    """A name reaching a real Parquet file of a sibling table gives an error, not its rows."""
    folder = seed_copy("table0")
    sibling = seed_copy("table1")
    edit_snapshot(folder, lambda raw: delta(raw).update(file="../table1/delta2.parquet"))
    (folder / "delta1.parquet").unlink()
    lake = azof.Lakehouse(folder.parent)
    with pytest.raises(azof.CorruptTableError, match=re.escape("'../table1/delta2.parquet'")):
        lake.table("table0").scan()
    assert (sibling / "delta2.parquet").exists()
    assert lake.table("table1").scan().num_rows == 2  # the sibling itself is fine


def test_data_file_in_a_sub_folder_is_fine(seed_copy: Copy) -> None:
    folder = seed_copy("table0")
    (folder / "data").mkdir()
    shutil.move(folder / "delta1.parquet", folder / "data" / "delta1.parquet")
    edit_snapshot(folder, lambda raw: delta(raw).update(file="data/delta1.parquet"))
    assert sorted(open_and_scan(folder).column("value").to_pylist()) == ["abc2", "www2", "xyz2"]


# -- data files ----------------------------------------------------------------------------


def test_missing_data_file(seed_copy: Copy) -> None:
    folder = seed_copy("table0")
    (folder / "delta1.parquet").unlink()
    assert_refused(folder, azof.CorruptTableError, "s1.json", "delta1.parquet", "missing")


def test_missing_data_file_in_memory(seed_dir: Path) -> None:
    uri = f"memory://{uuid.uuid4().hex}"
    storage = open_storage(uri)
    for path in (seed_dir / "table0").iterdir():
        if path.name != "base.parquet":
            storage.write(f"table0/{path.name}", path.read_bytes())
    table = azof.Lakehouse(uri).table("table0")  # opening reads the snapshot only
    with pytest.raises(azof.CorruptTableError, match=r"table 'table0'.*base\.parquet.*missing"):
        table.scan()
    with pytest.raises(azof.CorruptTableError, match=r"base\.parquet, which is missing"):
        table.verify()


def write_base(folder: Path, table: pa.Table) -> None:
    pq.write_table(table, folder / "base.parquet")


def seed_base(folder: Path) -> pa.Table:
    return pq.read_table(folder / "base.parquet")


def test_data_file_column_of_another_type(seed_copy: Copy) -> None:
    folder = seed_copy("table0")
    base = seed_base(folder)
    write_base(folder, base.set_column(2, "value", pa.array([1, 2], pa.int64())))
    assert_refused(
        folder, azof.CorruptTableError, "base.parquet", "'value'", "int64", "declares string"
    )


def test_data_file_key_of_another_type(seed_copy: Copy) -> None:
    folder = seed_copy("table0")
    base = seed_base(folder)
    write_base(folder, base.set_column(0, "key", pa.array([1, 2], pa.int64())))
    assert_refused(folder, azof.CorruptTableError, "base.parquet", "'key'", "int64")


def test_data_file_event_time_of_another_unit(seed_copy: Copy) -> None:
    folder = seed_copy("table0")
    base = seed_base(folder)
    event_time = base.column("event_time").cast(pa.timestamp("us", tz="UTC"))
    write_base(folder, base.set_column(1, "event_time", event_time))
    assert_refused(folder, azof.CorruptTableError, "base.parquet", "'event_time'", "timestamp[us")


def test_data_file_without_a_declared_column(seed_copy: Copy) -> None:
    folder = seed_copy("table0")
    write_base(folder, seed_base(folder).drop_columns(["value"]))
    assert_refused(folder, azof.CorruptTableError, "base.parquet", "no column 'value'")


def test_data_file_that_is_not_parquet(seed_copy: Copy) -> None:
    folder = seed_copy("table0")
    (folder / "delta1.parquet").write_bytes(b"key,event_time,value\n1,2024-02-01,abc2\n")
    assert_refused(folder, azof.CorruptTableError, "delta1.parquet", "not readable Parquet")


def test_broken_file_not_planned_is_not_read(seed_copy: Copy) -> None:
    """Validation of a data file happens when a scan reads it; other times still answer."""
    folder = seed_copy("table1")
    (folder / "delta2.parquet").write_bytes(b"not parquet")
    table = azof.Lakehouse(folder.parent).table("table1")
    assert table.scan(as_of="2024-03-01").column("value").to_pylist() == ["abc2", "xyz2"]
    with pytest.raises(azof.CorruptTableError, match=r"delta2\.parquet"):
        table.scan()


# -- names the caller gets wrong -----------------------------------------------------------


def test_unknown_table(seed_dir: Path) -> None:
    lake = azof.Lakehouse(seed_dir)
    with pytest.raises(azof.TableNotFoundError) as caught:
        lake.table("nope")
    assert isinstance(caught.value, KeyError)
    assert "'nope'" in str(caught.value)
    assert "table0" in str(caught.value)  # lists what is there


def test_unknown_table_is_a_key_error(seed_dir: Path) -> None:
    with pytest.raises(KeyError):
        azof.Lakehouse(seed_dir).table("nope")


@pytest.mark.parametrize("columns", [["nope"], ["key", "Value"], ["value", "nope", "zz"]])
def test_unknown_column(seed_dir: Path, columns: list[str]) -> None:
    table = azof.Lakehouse(seed_dir).table("table0")
    unknown = [c for c in columns if c not in ("key", "value")]
    with pytest.raises(azof.InvalidArgumentError) as caught:
        table.scan(columns=columns)
    assert isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert "table 'table0'" in message
    for name in unknown:
        assert repr(name) in message
    assert "key, event_time, value" in message  # what the table has


# -- further faults found in review ---------------------------------------------------------


def test_delta_given_as_a_bare_string(seed_copy: Copy) -> None:
    folder = seed_copy("table0")
    edit_snapshot(folder, lambda raw: segment(raw).update(delta=["delta1.parquet"]))
    assert_refused(folder, azof.CorruptTableError, "s1.json", "a delta is not an object")


@pytest.mark.parametrize("value", ["many", -3, True, 1.5])
def test_bad_commit_counts(seed_copy: Copy, value: Any) -> None:
    folder = seed_copy("table0")
    edit_snapshot(
        folder,
        lambda raw: raw.update(
            format_version=2,
            schema={"columns": [{"id": 1, "name": "value", "type": "string"}]},
            commit={"time": "2024-01-01T00:00:00.000Z", "added_rows": value},
        ),
    )
    assert_refused(folder, azof.CorruptTableError, "s1.json", "added_rows")


@pytest.mark.parametrize("version", [0, -1])
def test_format_version_below_one(seed_copy: Copy, version: int) -> None:
    folder = seed_copy("table0")
    edit_snapshot(folder, lambda raw: raw.update(format_version=version))
    message = assert_refused(folder, azof.CorruptTableError, "s1.json", "is not a version")
    assert "newer" not in message


@pytest.mark.parametrize(
    ("field", "value", "fault"),
    [
        ("key_type", "float64", "key_type double"),
        ("event_time_type", "int64", "event_time_type int64"),
    ],
)
def test_format2_key_and_event_time_types(
    seed_copy: Copy, field: str, value: str, fault: str
) -> None:
    folder = seed_copy("table0")
    edit_snapshot(
        folder,
        lambda raw: raw.update(
            format_version=2,
            schema={field: value, "columns": [{"id": 1, "name": "value", "type": "string"}]},
        ),
    )
    assert_refused(folder, azof.CorruptTableError, "s1.json", fault)


def test_as_of_finer_than_the_event_time_unit_is_floored(seed_dir: Path) -> None:
    # between the last millisecond of 2000 and the next segment's start
    table = azof.Lakehouse(seed_dir).table("financials")
    assert table.scan(as_of="2000-12-31T23:59:59.9995Z").equals(
        table.scan(as_of="2000-12-31T23:59:59.999Z")
    )
