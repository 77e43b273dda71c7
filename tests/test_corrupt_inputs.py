"""No snapshot or data file bricks azof (issue 14): regression tests.

- the decoder bounds every count it trusts (buckets, counts, nesting, name lengths, ids);
- ``verify`` checks the rows of every file against its record, and reads refuse null keys;
- ``Snapshot``/``CommitInfo`` are frozen all the way down;
- an invalid stored policy is a ``CorruptTableError`` for ``table.policy`` and only an
  ``AzofWarning`` for the append that landed before the automatic compaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import azof
from azof.errors import AzofWarning, CorruptTableError
from azof.format import decode_snapshot, encode_snapshot
from azof.format.buckets import bucket_of

Raw = dict[str, Any]
SCHEMA = pa.schema(
    [("key", pa.string()), ("event_time", pa.timestamp("ms", tz="UTC")), ("v", pa.int64())]
)
ROWS = [
    {"key": "a", "event_time": "2024-01-01", "v": 1},
    {"key": "b", "event_time": "2024-02-01", "v": 2},
    {"key": "c", "event_time": "2024-03-01", "v": 3},
]


def make_table(tmp_path: Path, *, compacted: bool = False) -> azof.Table:
    (tmp_path / "lake").mkdir()
    table = azof.Lakehouse(tmp_path / "lake").create_table("t", SCHEMA)
    table.append(ROWS)
    if compacted:
        table.compact(azof.CompactionPolicy(segment="month", buckets=2))
        table.append([{"key": "d", "event_time": "2024-04-01", "v": 4}])
    return table


def folder(table: azof.Table, tmp_path: Path) -> Path:
    return tmp_path / "lake" / table.name


def commit_edited(table: azof.Table, tmp_path: Path, change: Callable[[Raw], Any]) -> str:
    """Write the latest snapshot, changed by ``change``, as the next version; its name."""
    base = folder(table, tmp_path)
    latest = table.refresh().version
    raw = json.loads((base / f"s{latest}.json").read_text())
    change(raw)
    raw["version"] = latest + 1
    raw["parent_version"] = latest
    name = f"s{latest + 1}.json"
    (base / name).write_text(json.dumps(raw))
    (base / "version.txt").write_text(str(latest + 1))
    return name


def refused(table: azof.Table, tmp_path: Path, change: Callable[[Raw], Any], *words: str) -> None:
    name = commit_edited(table, tmp_path, change)
    with pytest.raises(CorruptTableError) as caught:
        azof.Lakehouse(tmp_path / "lake").table(table.name).scan()
    for fragment in ("table 't'", name, *words):
        assert fragment in str(caught.value), f"{fragment!r} not in {caught.value}"


def first_file(raw: Raw) -> Raw:
    record: Raw = raw["deltas"][0]
    return record


def leaf(raw: Raw) -> Raw:
    node: Raw = raw["segments"][0]
    while node.get("segments"):
        node = node["segments"][-1]
    return node


# -- 1. bounds on what a snapshot says ----------------------------------------------------


@pytest.mark.parametrize("buckets", [10**12, 4097])
def test_huge_snapshot_bucket_count_is_refused(tmp_path: Path, buckets: int) -> None:
    table = make_table(tmp_path)
    refused(table, tmp_path, lambda raw: raw.update(buckets=buckets), "buckets", str(buckets))


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("buckets", 10**12, ("buckets", "above 4096")),
        ("seq", 2**64, ("seq", "64-bit")),
        ("rows", 2**70, ("rows", "64-bit")),
        ("bytes", 10**30, ("bytes",)),
        ("tombstones", 5, ("tombstones", "above rows")),
        ("min_key", 7, ("min_key", "string key")),
        ("min_key", {"a": 1}, ("min_key",)),
        ("max_key", "0", ("min_key", "max_key", "in order")),
        ("file", "d/" + "x" * 2000 + ".parquet", ("longer than 1024",)),
    ],
)
def test_record_numbers_and_keys_are_bounded(
    tmp_path: Path, field: str, value: Any, words: tuple[str, ...]
) -> None:
    table = make_table(tmp_path)
    refused(table, tmp_path, lambda raw: first_file(raw).update({field: value}), *words)


def test_deeply_nested_segments_are_refused(tmp_path: Path) -> None:
    table = make_table(tmp_path, compacted=True)

    def nest(raw: Raw) -> None:
        node = leaf(raw)
        for _ in range(40):
            child = {"id": "n", "start": node["start"], "base": [], "delta": []}
            if node.get("end"):
                child["end"] = node["end"]
            node.pop("tip", None)
            node.pop("tip_from", None)
            node["segments"] = [child]
            node = child

    refused(table, tmp_path, nest, "nest deeper than 32")


def test_json_nested_beyond_the_parser_is_refused(tmp_path: Path) -> None:
    table = make_table(tmp_path)
    base = folder(table, tmp_path)
    text = (base / "s1.json").read_text()
    deep = text[:-1] + ', "extra": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (base / "s2.json").write_text(deep)
    (base / "version.txt").write_text("2")
    with pytest.raises(CorruptTableError, match=r"s2\.json: not readable JSON"):
        azof.Lakehouse(tmp_path / "lake").table("t")


def test_column_ids_fit_parquet_field_ids(tmp_path: Path) -> None:
    table = make_table(tmp_path)
    refused(table, tmp_path, lambda raw: raw["schema"]["columns"][0].update(id=2**40), "id")


def test_tree_levels_are_bounded(tmp_path: Path) -> None:
    table = make_table(tmp_path, compacted=True)
    refused(table, tmp_path, lambda raw: raw["tree"].update(levels=["day"] * 100), "tree")


# -- 2. verify checks rows; reads refuse what they cannot merge -----------------------------


def rewrite_file(table: azof.Table, tmp_path: Path, change: Callable[[pa.Table], pa.Table]) -> str:
    data_file = next(table.refresh().snapshot.files())
    path = folder(table, tmp_path) / data_file.file
    pq.write_table(change(pq.read_table(path)), path)
    return data_file.file


def set_column(name: str, values: pa.Array[Any]) -> Callable[[pa.Table], pa.Table]:
    def change(rows: pa.Table) -> pa.Table:
        index = rows.schema.get_field_index(name)
        return rows.set_column(index, pa.field(name, values.type), values)

    return change


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (set_column("key", pa.array([None, "b", "c"])), ("column 'key'", "nulls")),
        (
            set_column("event_time", pa.array([None, 1, 2], pa.timestamp("ms", tz="UTC"))),
            ("column 'event_time'", "nulls"),
        ),
        (set_column("_azof_deleted", pa.array([0, 0, 1], pa.int8())), ("_azof_deleted", "int8")),
        (
            set_column("event_time", pa.array([0, 1, 2], pa.timestamp("ms", tz="UTC"))),
            ("column 'event_time'", "before the record's start"),
        ),
        (set_column("key", pa.array(["a", "b", "z"])), ("column 'key'", "max_key")),
        (set_column("key", pa.array(["c", "b", "a"])), ("not sorted",)),
        (lambda rows: rows.slice(0, 2), ("holds 2 rows", "rows 3")),
    ],
)
def test_verify_checks_rows_against_the_record(
    tmp_path: Path, change: Callable[[pa.Table], pa.Table], words: tuple[str, ...]
) -> None:
    table = make_table(tmp_path)
    name = rewrite_file(table, tmp_path, change)
    with pytest.raises(CorruptTableError) as caught:
        table.verify()
    for fragment in ("table 't'", name, *words):
        assert fragment in str(caught.value), f"{fragment!r} not in {caught.value}"


def test_verify_checks_the_bucket_of_every_key(tmp_path: Path) -> None:
    table = make_table(tmp_path, compacted=True)
    record = next(f for f in table.snapshot.files() if f.buckets == 2)
    path = folder(table, tmp_path) / record.file
    rows = pq.read_table(path)
    keys = pa.array([f"k{i}" for i in range(20)])
    stranger = keys.filter(pa.array(bucket_of(keys, 2) != record.bucket))[0]
    pq.write_table(
        set_column("key", pa.array([stranger, *rows["key"][1:].to_pylist()]))(rows), path
    )
    with pytest.raises(CorruptTableError, match=f"{record.file} column 'key' holds a key outside"):
        table.verify()


def test_verify_passes_a_sound_table(tmp_path: Path) -> None:
    table = make_table(tmp_path, compacted=True)
    assert table.verify() == len({f.file for f in table.snapshot.files()})


def test_scan_and_compaction_refuse_null_keys(tmp_path: Path) -> None:
    table = make_table(tmp_path)
    name = rewrite_file(table, tmp_path, set_column("key", pa.array([None, "b", "c"])))
    for action in (table.scan, table.compact):
        with pytest.raises(CorruptTableError, match=f"{name} column 'key' holds nulls"):
            action()
    assert table.history("b").num_rows == 1  # a read of other keys filters the nulls out


def test_scan_refuses_a_non_boolean_tombstone_column(tmp_path: Path) -> None:
    table = make_table(tmp_path)
    change = set_column("_azof_deleted", pa.array(["no", "no", "yes"]))
    name = rewrite_file(table, tmp_path, change)
    for action in (table.scan, table.compact):
        with pytest.raises(CorruptTableError, match=f"{name} column '_azof_deleted' is string"):
            action()


# -- 3. frozen means frozen --------------------------------------------------------------


def test_snapshot_mappings_are_read_only(tmp_path: Path) -> None:
    table = make_table(tmp_path)
    table.set_policy(azof.CompactionPolicy(segment="month", levels=("year", "month")))
    snapshot = table.snapshot
    assert snapshot.commit is not None
    with pytest.raises(TypeError):
        snapshot.policy["segment"] = "day"  # type: ignore[index]
    with pytest.raises(TypeError):
        snapshot.properties["x"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        snapshot.commit.summary["policy"]["auto"] = True
    with pytest.raises(TypeError):
        snapshot.commit.properties["x"] = "y"  # type: ignore[index]
    with pytest.raises(AttributeError):
        snapshot.policy["levels"].append("day")
    assert snapshot.policy["levels"] == ("year", "month")
    assert table.policy.segment == "month"
    again = decode_snapshot(encode_snapshot(snapshot), table="t", file="x", version=2)
    assert again == snapshot
    assert json.loads(encode_snapshot(snapshot))["commit"]["summary"]["policy"]["levels"] == [
        "year",
        "month",
    ]


def test_snapshots_built_from_dicts_do_not_share_them(tmp_path: Path) -> None:
    table = make_table(tmp_path)
    policy = {"segment": "day", "levels": ["day"]}
    built = azof.format.Snapshot(
        format_version=2, version=9, schema=table.snapshot.schema, policy=policy
    )
    policy["segment"] = "year"
    policy["levels"].append("hour")  # type: ignore[attr-defined]
    assert built.policy == {"segment": "day", "levels": ("day",)}


# -- 4. an invalid stored policy ---------------------------------------------------------


def test_invalid_stored_policy_is_a_clear_error(tmp_path: Path) -> None:
    table = make_table(tmp_path)
    commit_edited(table, tmp_path, lambda raw: raw.update(policy={"segment": "fortnight"}))
    reopened = azof.Lakehouse(tmp_path / "lake").table("t")
    with pytest.raises(CorruptTableError, match=r"policy field 'segment'.*set_policy"):
        _ = reopened.policy
    with pytest.raises(CorruptTableError, match="policy field 'segment'"):
        reopened.compact()


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"auto": True, "max_deltas": 1, "segment": "fortnight"}, "segment"),
        ({"auto": True, "max_deltas": "one"}, "max_deltas"),
        ({"auto": True, "max_deltas": 1, "levels": 5}, "levels"),
        ({"auto": True, "max_deltas": 1, "buckets": 10**9}, "buckets"),
        ({"auto": "yes"}, "auto"),
    ],
)
def test_append_lands_despite_an_invalid_stored_policy(
    tmp_path: Path, policy: Raw, field: str
) -> None:
    table = make_table(tmp_path)
    commit_edited(table, tmp_path, lambda raw: raw.update(policy=policy))
    reopened = azof.Lakehouse(tmp_path / "lake").table("t")
    with pytest.warns(AzofWarning, match=rf"version 3 landed.*policy field '{field}'.*set_policy"):
        version = reopened.append([{"key": "z", "event_time": "2024-05-01", "v": 9}])
    assert version == 3
    assert azof.Lakehouse(tmp_path / "lake").table("t").scan().num_rows == 4
    reopened.set_policy(azof.CompactionPolicy())
    assert reopened.policy == azof.CompactionPolicy()
