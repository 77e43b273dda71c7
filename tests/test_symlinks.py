"""Symbolic links in a local table's folder never take azof outside it (azof issue 14):
listings skip links, vacuum leaves what they point to alone, and reads, writes and deletes
of a path a link takes out of the table are a clear StorageError."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import azof
from azof.storage import open_storage, refuse_links_out

SCHEMA = {"key": pa.string(), "event_time": pa.timestamp("us", tz="UTC"), "v": pa.int64()}
THREE_DAYS_AGO = time.time() - 3 * 86_400


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the lakehouse holding old Parquet-named files (which a vacuum
    with the default grace would delete if it listed them)."""
    folder = tmp_path / "outside"
    (folder / "sub").mkdir(parents=True)
    for path in (folder / "old.parquet", folder / "sub" / "deep.parquet"):
        path.write_bytes(b"precious")
        os.utime(path, (THREE_DAYS_AGO, THREE_DAYS_AGO))
    return folder


def files_below(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def make_table(tmp_path: Path) -> azof.Table:
    lake = tmp_path / "lake"
    lake.mkdir()
    table = azof.Lakehouse(lake).create_table("t", SCHEMA)
    table.put("a", "2024-01-01", v=1)
    return table


def test_vacuum_leaves_files_behind_links_alone(tmp_path: Path, outside: Path) -> None:
    table = make_table(tmp_path)
    data = tmp_path / "lake" / "t" / "data"
    os.symlink(outside, data / "escape")  # a folder outside the table
    os.symlink(outside / "old.parquet", data / "escape.parquet")  # a file outside it
    os.symlink(data, data / "alias")  # a loop inside the table
    os.symlink(tmp_path / "nowhere", data / "dangling.parquet")
    unreferenced = data / "orphan.parquet"  # a real leftover: vacuum deletes it
    unreferenced.write_bytes(b"orphan")
    os.utime(unreferenced, (THREE_DAYS_AGO, THREE_DAYS_AGO))
    listed = [o.path for o in table.storage.list("")]
    assert not any("escape" in p or "alias" in p or "dangling" in p for p in listed)
    assert "data/orphan.parquet" in listed
    result = table.vacuum(grace="0s")
    assert result.deleted_files == ["data/orphan.parquet"]
    assert files_below(outside) == ["old.parquet", "sub/deep.parquet"]
    assert (outside / "old.parquet").read_bytes() == b"precious"
    assert os.path.islink(data / "escape")
    assert os.path.islink(data / "escape.parquet")
    assert table.scan().column("v").to_pylist() == [1]
    assert table.verify() == 1


def test_listing_skips_links_of_every_kind(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "lake"
    (root / "t" / "data").mkdir(parents=True)
    (root / "t" / "data" / "real.parquet").write_bytes(b"x")
    (root / "t" / "s0.json").write_bytes(b"{}")
    os.symlink(root / "t" / "data" / "real.parquet", root / "t" / "data" / "inside.parquet")
    os.symlink(root / "t" / "data", root / "t" / "linked-data")
    os.symlink(outside, root / "linked-table")
    storage = open_storage(root)
    assert sorted(o.path for o in storage.list("")) == ["t/data/real.parquet", "t/s0.json"]
    assert [o.path for o in storage.list("t", recursive=False)] == ["t/s0.json"]
    assert storage.list_dirs("") == ["t"]
    assert storage.list_dirs("t") == ["data"]
    assert storage.list("t/linked-data") == []
    assert storage.list("linked-table") == []
    table = storage.child("t")
    assert [o.path for o in table.list("data")] == ["data/real.parquet"]
    assert table.read("data/inside.parquet") == b"x"  # a link inside the root reads
    info = table.list("data")[0]
    assert info.size == 1
    assert abs(info.last_modified.timestamp() - os.stat(root / "t/data/real.parquet").st_mtime) < 1


def test_reads_writes_and_deletes_refuse_paths_leaving_the_root(
    tmp_path: Path, outside: Path
) -> None:
    root = tmp_path / "lake"
    (root / "t").mkdir(parents=True)
    os.symlink(outside, root / "t" / "data")
    storage = open_storage(root).child("t")
    for call, doing in (
        (lambda: storage.read("data/old.parquet"), "read"),
        (lambda: storage.read_range("data/old.parquet", 0, 2), "read"),
        (lambda: storage.open_input("data/old.parquet"), "read"),
        (lambda: storage.write("data/new.parquet", b"n"), "write"),
        (lambda: storage.write_if_absent("data/new.parquet", b"n"), "create"),
        (lambda: storage.delete("data/old.parquet"), "delete"),
        (lambda: storage.delete("data/sub/deep.parquet"), "delete"),
    ):
        with pytest.raises(azof.StorageError, match=rf"refusing to {doing} .*outside"):
            call()
    filesystem = storage.arrow_filesystem()  # Arrow's own: readers check each file first
    with pytest.raises(azof.StorageError, match="refusing to read"):
        refuse_links_out(filesystem, "data/old.parquet")
    refuse_links_out(filesystem, "s1.json")  # a path inside the root: fine
    assert files_below(outside) == ["old.parquet", "sub/deep.parquet"]


def test_a_table_folder_that_is_a_link_works(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    lake = tmp_path / "lake"
    lake.mkdir()
    azof.Lakehouse(elsewhere).create_table("t", SCHEMA).put("a", "2024-01-01", v=1)
    os.symlink(elsewhere / "t", lake / "t")
    table = azof.Lakehouse(lake).table("t")  # the root of a table's storage may be a link
    table.put("b", "2024-01-02", v=2)
    assert table.scan().column("v").to_pylist() == [1, 2]
    assert table.verify() == 2
    assert table.vacuum(grace="0s").deleted_files == []


@pytest.mark.parametrize("link", ["file", "folder"])
def test_scan_of_a_file_behind_a_link_out_of_the_table_is_refused(
    tmp_path: Path, outside: Path, link: str
) -> None:
    table = make_table(tmp_path)
    folder = tmp_path / "lake" / "t"
    (name,) = [o.path for o in table.storage.list("data")]
    if link == "file":
        shutil.move(folder / name, outside / "moved.parquet")
        os.symlink(outside / "moved.parquet", folder / name)
    else:
        shutil.move(folder / "data", outside / "data")
        os.symlink(outside / "data", folder / "data")
    reopened = azof.Lakehouse(tmp_path / "lake").table("t")
    for read in (
        reopened.scan,
        lambda: reopened.scan(filter=pc.field("key") == "a"),
        lambda: reopened.to_batches().read_all(),
        lambda: reopened.history("a"),
    ):
        with pytest.raises(azof.StorageError, match=r"symbolic link .* outside"):
            read()
    with pytest.raises(azof.CorruptTableError, match="missing"):
        reopened.verify()
    reopened.vacuum(grace="0s")
    assert (outside / ("moved.parquet" if link == "file" else name)).exists()
