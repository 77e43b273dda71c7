"""Manifests (format 5, spec 19): commits that cost what they change, reads that fetch only
the manifests their as-of time needs, vacuum and restore over manifests, corrupt or missing
manifests, and the oracle over any sequence of writes, compactions and vacuums with every
file record in (small, chunked, merged) manifests."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import azof
from azof import manifests, tablelog
from azof.format import DataFile, encode_snapshot
from azof.format.manifest import decode_manifest, encode_manifest
from azof.format.schema_codec import Context
from strategies import COMPOSITE, as_of_days, maintained_operations, operations
from test_writes_oracle import PROPERTY, check_sequence

SCHEMA = pa.schema(
    [("key", pa.string()), ("event_time", pa.timestamp("ms", tz="UTC")), ("value", pa.int64())]
)


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every record in manifests of at most 3 records, pending manifests merged in pairs."""
    monkeypatch.setattr(manifests, "INLINE_SEGMENT_FILES", 0)
    monkeypatch.setattr(manifests, "INLINE_OPEN_FILES", 0)
    monkeypatch.setattr(manifests, "INLINE_PENDING_FILES", 0)
    monkeypatch.setattr(manifests, "CHUNK_FILES", 3)
    monkeypatch.setattr(manifests, "MERGE_FANOUT", 2)
    monkeypatch.setattr(manifests, "_LEVELS", (2, 4))
    yield
    manifests.clear_cache()


def snapshot_json(folder: Path, version: int) -> dict[str, Any]:
    return json.loads((folder / f"s{version}.json").read_bytes())  # type: ignore[no-any-return]


def manifest_files(folder: Path) -> set[str]:
    return {f"manifests/{p.name}" for p in (folder / "manifests").glob("*.json.gz")}


def filled(lake: azof.Lakehouse, name: str = "t", *, keys: int = 40) -> azof.Table:
    table = lake.create_table(name, SCHEMA)
    for month in range(1, 7):
        table.append(
            [{"key": f"k{i}", "event_time": f"2024-{month:02d}-0{1 + i % 5}", "value": month}
             for i in range(keys)]
        )  # fmt: skip
    table.compact(azof.CompactionPolicy(segment="month", levels=("month",), buckets=4))
    return table


# -- the oracle, every record in manifests -----------------------------------------------


@settings(PROPERTY, max_examples=30)
@given(ops=operations, days=as_of_days, versions=st.lists(st.integers(0, 20), max_size=3))
def test_appends_and_deletes_in_manifests_match_oracle(
    tiny: None, ops: list[tuple[Any, ...]], days: list[float | None], versions: list[int]
) -> None:
    check_sequence(azof.Lakehouse(f"memory://{uuid.uuid4().hex}"), ops, days, versions)


@settings(PROPERTY, max_examples=40)
@given(
    ops=maintained_operations, days=as_of_days, versions=st.lists(st.integers(0, 20), max_size=3)
)
def test_compaction_and_vacuum_in_manifests_match_oracle(
    tiny: None, ops: list[tuple[Any, ...]], days: list[float | None], versions: list[int]
) -> None:
    check_sequence(azof.Lakehouse(f"memory://{uuid.uuid4().hex}"), ops, days, versions)


@settings(PROPERTY, max_examples=15)
@given(
    ops=maintained_operations, days=as_of_days, versions=st.lists(st.integers(0, 20), max_size=3)
)
def test_composite_keys_in_manifests_on_local_disk_match_oracle(
    tiny: None,
    tmp_path: Path,
    ops: list[tuple[Any, ...]],
    days: list[float | None],
    versions: list[int],
) -> None:
    folder = tmp_path / uuid.uuid4().hex
    folder.mkdir()
    check_sequence(azof.Lakehouse(folder), ops, days, versions, COMPOSITE)


# -- what a commit writes ----------------------------------------------------------------


def test_a_large_table_keeps_its_records_in_manifests_and_appends_reuse_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manifests, "INLINE_SEGMENT_FILES", 10)
    table = filled(azof.Lakehouse(tmp_path))
    folder = tmp_path / "t"
    compacted = snapshot_json(folder, table.version)
    assert compacted["format_version"] == 5
    assert compacted["schema_version"] == 2
    named = {m["path"] for s in compacted["segments"] for m in s.get("manifests", [])}
    assert named
    assert named <= manifest_files(folder)
    assert all("base" not in s and "delta" not in s for s in compacted["segments"][:-1])

    before = manifest_files(folder)
    version = table.put("k1", "2024-06-20", value=99)
    appended = snapshot_json(folder, version)
    # the append names the same segment manifests and writes none: its delta is inline
    assert {m["path"] for s in appended["segments"] for m in s.get("manifests", [])} == named
    assert manifest_files(folder) == before
    assert [d["seq"] for d in appended["deltas"]] == [version]
    assert len((folder / f"s{version}.json").read_bytes()) < 64 * 1024

    reopened = azof.Lakehouse(tmp_path).table("t")
    assert reopened.scan().to_pydict() == table.scan().to_pydict()
    row = reopened.scan(filter=pa.compute.field("key") == "k1").to_pylist()[0]
    assert row["value"] == 99


def test_pending_deltas_move_into_manifests_that_merge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manifests, "INLINE_PENDING_FILES", 2)
    monkeypatch.setattr(manifests, "MERGE_FANOUT", 3)
    monkeypatch.setattr(manifests, "_LEVELS", (6, 12))
    lake = azof.Lakehouse(tmp_path)
    table = lake.create_table("t", SCHEMA)
    for i in range(40):
        table.put(f"k{i % 7}", f"2024-01-{1 + i % 28:02d}", value=i)
        raw = snapshot_json(tmp_path / "t", table.version)
        assert len(raw["deltas"]) <= 2
        assert len(raw.get("pending_manifests", [])) <= 2 * 3 + 2  # per size class, bounded
    refs = snapshot_json(tmp_path / "t", table.version)["pending_manifests"]
    assert sum(r["files"] for r in refs) + len(snapshot_json(tmp_path / "t", 40)["deltas"]) == 40
    assert max(r["files"] for r in refs) > 3  # merged
    assert len(table.snapshot.deltas) == 40
    expected = {}
    for i in range(40):
        key, when = f"k{i % 7}", f"2024-01-{1 + i % 28:02d}"
        if key not in expected or when >= expected[key][0]:
            expected[key] = (when, i)
    got = {r["key"]: r["value"] for r in azof.Lakehouse(tmp_path).table("t").scan().to_pylist()}
    assert got == {k: v for k, (_, v) in expected.items()}
    table.compact()
    assert "pending_manifests" not in snapshot_json(tmp_path / "t", table.version)


def test_a_manifest_table_that_shrinks_goes_back_to_its_old_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manifests, "INLINE_SEGMENT_FILES", 0)
    monkeypatch.setattr(manifests, "INLINE_OPEN_FILES", 0)
    table = filled(azof.Lakehouse(tmp_path), keys=5)
    assert snapshot_json(tmp_path / "t", table.version)["format_version"] == 5
    monkeypatch.setattr(manifests, "INLINE_SEGMENT_FILES", 10_000)
    table.compact(azof.CompactionPolicy(segment="year", levels=("year",), buckets=1))
    raw = snapshot_json(tmp_path / "t", table.version)
    assert raw["format_version"] == 2
    assert "schema_version" not in raw


# -- reads fetch only what T needs ---------------------------------------------------------


def test_a_scan_reads_only_the_manifests_of_its_path(tiny: None, tmp_path: Path) -> None:
    table = filled(azof.Lakehouse(tmp_path))
    folder = tmp_path / "t"
    raw = snapshot_json(folder, table.version)
    march = next(s for s in raw["segments"] if s["start"].startswith("2024-03"))
    keep = {m["path"] for m in march["manifests"]}
    expected = table.scan(as_of="2024-03-15").to_pydict()
    for path in manifest_files(folder) - keep:  # every other segment's manifests go
        (folder / path).unlink()
    manifests.clear_cache()

    reopened = azof.Lakehouse(tmp_path).table("t")
    assert reopened.scan(as_of="2024-03-15").to_pydict() == expected
    assert "plan:" in reopened.scanner(as_of="2024-03-15").explain()
    with pytest.raises(azof.CorruptTableError, match=r"names manifest manifests/.*missing"):
        reopened.snapshot.files()
    with pytest.raises(azof.CorruptTableError, match="missing"):
        reopened.verify()


def test_a_corrupt_manifest_is_a_clear_error(tiny: None, tmp_path: Path) -> None:
    table = filled(azof.Lakehouse(tmp_path), keys=5)
    folder = tmp_path / "t"
    path = snapshot_json(folder, table.version)["segments"][0]["manifests"][0]["path"]
    body = json.loads(gzip.decompress((folder / path).read_bytes()))
    body["columns"]["file"][0] = "../outside.parquet"
    (folder / path).write_bytes(gzip.compress(json.dumps(body).encode()))
    manifests.clear_cache()
    with pytest.raises(azof.CorruptTableError, match=r"manifests/.*'\.\./outside\.parquet'"):
        azof.Lakehouse(tmp_path).table("t").snapshot.files()
    (folder / path).write_bytes(b"not gzip")
    manifests.clear_cache()
    with pytest.raises(azof.CorruptTableError, match="not a readable manifest"):
        azof.Lakehouse(tmp_path).table("t").snapshot.files()
    del table


def test_a_reference_outside_manifests_is_refused(tiny: None, tmp_path: Path) -> None:
    table = filled(azof.Lakehouse(tmp_path), keys=5)
    folder = tmp_path / "t"
    raw = snapshot_json(folder, table.version)
    raw["segments"][0]["manifests"][0]["path"] = "data/x.json.gz"
    (folder / f"s{table.version}.json").write_text(json.dumps(raw))
    with pytest.raises(azof.CorruptTableError, match="is not under manifests/"):
        azof.Lakehouse(tmp_path).table("t")


# -- maintenance ------------------------------------------------------------------------


def test_vacuum_keeps_manifests_of_retained_versions_and_deletes_the_rest(
    tiny: None, tmp_path: Path
) -> None:
    table = filled(azof.Lakehouse(tmp_path))
    folder = tmp_path / "t"
    for i in range(5):
        table.put(f"n{i}", "2024-07-01", value=i)
    table.compact()
    (folder / "manifests" / "stray.json.gz").write_bytes(b"left by a failed commit")
    result = table.vacuum(retain_versions=1, grace="0s")
    live = {m.path for m in table.snapshot.manifests()}
    assert manifest_files(folder) == live
    assert any(p.startswith("manifests/") for p in result.deleted_files)
    manifests.clear_cache()
    reopened = azof.Lakehouse(tmp_path).table("t")
    assert reopened.scan().num_rows == 45
    reopened.verify()


def test_restore_reuses_the_manifests_of_the_version_it_restores(
    tiny: None, tmp_path: Path
) -> None:
    table = filled(azof.Lakehouse(tmp_path))
    folder = tmp_path / "t"
    target = table.version
    expected = table.scan().to_pydict()
    named = {m["path"] for s in snapshot_json(folder, target)["segments"] for m in s["manifests"]}
    table.put("k1", "2024-12-01", value=-1)
    table.compact(azof.CompactionPolicy(segment="year", levels=("year",), buckets=2))
    version = table.restore(target)
    raw = snapshot_json(folder, version)
    assert {m["path"] for s in raw["segments"] for m in s["manifests"]} == named
    assert azof.Lakehouse(tmp_path).table("t").scan().to_pydict() == expected


def test_encoding_a_snapshot_read_only_in_part_keeps_its_references(
    tiny: None, tmp_path: Path
) -> None:
    table = filled(azof.Lakehouse(tmp_path), keys=5)
    skeleton = tablelog.load_snapshot(table.storage, "t", table.version, whole=False)
    assert not skeleton.complete
    assert skeleton.file_count() == table.snapshot.file_count()
    assert encode_snapshot(skeleton) == encode_snapshot(table.snapshot)


def test_an_append_reads_no_segment_manifest(tiny: None, tmp_path: Path) -> None:
    """An append keeps the tree as it is: it reads only the pending manifests, so a table of
    a million files appends without decoding them."""
    table = filled(azof.Lakehouse(tmp_path))
    folder = tmp_path / "t"
    raw = snapshot_json(folder, table.version)
    tree = {m["path"] for s in raw["segments"] for m in s["manifests"]}
    moved = folder.parent / "aside"
    moved.mkdir()
    for path in tree:
        (folder / path).rename(moved / Path(path).name)
    manifests.clear_cache()
    fresh = azof.Lakehouse(tmp_path).table("t")
    version = fresh.put("k1", "2024-06-30", value=7)
    assert {m["path"] for s in snapshot_json(folder, version)["segments"]
            for m in s["manifests"]} == tree  # fmt: skip
    for path in tree:
        (moved / Path(path).name).rename(folder / path)
    assert azof.Lakehouse(tmp_path).table("t").scan(as_of="2024-06-30").num_rows == 40


# -- the manifest codec ------------------------------------------------------------------

_instants = st.integers(0, 4_000_000_000_000_000_000)


@st.composite
def data_files(draw: st.DrawFn, composite: bool) -> DataFile:
    start = draw(st.one_of(st.none(), _instants))
    end = draw(st.one_of(st.none(), _instants.filter(lambda e: start is None or e >= start)))
    key = st.tuples(st.text(max_size=3), st.integers(-5, 5)) if composite else st.integers(-3, 3)
    low, high = draw(key), draw(key)
    if not composite:
        low, high = min(low, high), max(low, high)
    buckets = draw(st.integers(1, 8))
    rows = draw(st.one_of(st.none(), st.integers(0, 10**12)))
    return DataFile(
        f"data/{draw(st.uuids()).hex}.parquet", start=start, end=end,
        seq=draw(st.integers(0, 2**40)), rows=rows,
        size=draw(st.one_of(st.none(), st.integers(0, 2**62))),
        bucket=draw(st.integers(0, buckets - 1)), buckets=buckets,
        min_key=draw(st.one_of(st.none(), st.just(low))),
        max_key=draw(st.one_of(st.none(), st.just(high))),
        tombstones=draw(st.integers(0, rows or 0)), derived=draw(st.booleans()),
        sorted=draw(st.booleans()), schema_id=draw(st.integers(0, 3)),
    )  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(composite=st.booleans(), data=st.data())
def test_a_manifest_round_trips_every_record(composite: bool, data: st.DataObject) -> None:
    files = tuple(data.draw(st.lists(data_files(composite), max_size=6)))
    roles = "".join(data.draw(st.sampled_from("bdt")) for _ in files)
    ctx = Context("t", "manifests/m.json.gz", 5)
    ctx.key_kinds = (str, int) if composite else (int,)
    again = decode_manifest(encode_manifest("u", roles, files), ctx)
    assert again == (roles, files)


def test_the_open_leaf_stays_inline_so_a_current_read_needs_no_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manifests, "INLINE_SEGMENT_FILES", 0)
    table = filled(azof.Lakehouse(tmp_path))
    folder = tmp_path / "t"
    raw = snapshot_json(folder, table.version)
    last = raw["segments"][-1]
    assert "end" not in last
    assert "manifests" not in last
    assert last["base"]
    assert all("manifests" in s for s in raw["segments"][:-1])
    expected = table.scan().to_pydict()
    for path in manifest_files(folder):  # no manifest is needed for the current state
        (folder / path).unlink()
    manifests.clear_cache()
    assert azof.Lakehouse(tmp_path).table("t").scan().to_pydict() == expected


def test_schema_commit_and_counts_need_no_manifest(tiny: None, tmp_path: Path) -> None:
    table = filled(azof.Lakehouse(tmp_path))
    for path in manifest_files(tmp_path / "t"):
        (tmp_path / "t" / path).unlink()
    manifests.clear_cache()
    fresh = azof.Lakehouse(tmp_path).table("t")
    skeleton = fresh.snapshot_at(whole=False)
    assert not skeleton.complete
    assert skeleton.schema.names == table.snapshot.schema.names
    assert skeleton.file_count() == table.snapshot.file_count()
    assert fresh.bucket_count() == 4
    assert fresh.log(limit=2)[-1].operation == "compact"
    with pytest.raises(azof.CorruptTableError, match="missing"):
        fresh.snapshot_at()


def test_long_keys_keep_every_snapshot_small(tmp_path: Path) -> None:
    """Inline records are bounded by bytes too: a few files whose key bounds are long move
    into manifests, so no commit writes a large snapshot."""
    table = azof.Lakehouse(tmp_path).create_table("t", SCHEMA)
    for i in range(40):
        long = f"{i:03d}" + "k" * 1000
        table.append([{"key": long + "a", "event_time": f"2024-01-{1 + i % 28:02d}",
                       "value": i}, {"key": long + "z", "event_time": "2024-02-01",
                                     "value": i}])  # fmt: skip
    table.compact(azof.CompactionPolicy(segment="month", levels=("month",), buckets=2))
    table.append([{"key": "x" * 1000, "event_time": "2024-03-01", "value": -1}])
    sizes = [p.stat().st_size for p in (tmp_path / "t").glob("s*.json")]
    assert max(sizes) < 64 * 1024
    assert manifest_files(tmp_path / "t")
    assert azof.Lakehouse(tmp_path).table("t").scan().num_rows == 81
