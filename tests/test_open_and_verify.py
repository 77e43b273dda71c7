"""Opening a table reads its snapshot, not a listing of its data files; ``Table.verify``
(and ``azof verify``) checks every data file of a version without reading rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import azof
from azof.storage import Storage

SCHEMA = pa.schema(
    [("key", pa.string()), ("event_time", pa.timestamp("ms", "UTC")), ("v", pa.int64())]
)


@pytest.fixture
def lake(tmp_path: Path) -> azof.Lakehouse:
    """Table ``t``: three appends (versions 1-3), then a compaction (version 4)."""
    lakehouse = azof.Lakehouse(tmp_path)
    table = lakehouse.create_table("t", SCHEMA)
    for month in (1, 2, 3):
        table.append(
            [{"key": k, "event_time": f"2024-0{month}-1{i}", "v": month * 10 + i}
             for i, k in enumerate("abcd")]
        )  # fmt: skip
    table.compact(azof.CompactionPolicy(segment="month", buckets=2))
    return lakehouse


class Listings:
    """Counts the listings that storage objects make (the real listing still runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, bool]] = []
        real = Storage.list

        def counting(storage: Storage, prefix: str = "", recursive: bool = True) -> Any:
            self.calls.append((prefix, recursive))
            return real(storage, prefix, recursive)

        monkeypatch.setattr(Storage, "list", counting)


def test_opening_lists_nothing(lake: azof.Lakehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    listings = Listings(monkeypatch)
    table = azof.Lakehouse(lake.uri).table("t")
    pinned = azof.Lakehouse(lake.uri).table("t", version=2)
    assert (table.version, pinned.version) == (4, 2)
    assert listings.calls == []


def test_open_at_a_version_pins_it(lake: azof.Lakehouse) -> None:
    latest = lake.table("t")
    pinned = lake.table("t", version=2)
    assert pinned.scan().equals(latest.scan(version=2))
    assert pinned.scan(as_of="2024-01-31").equals(latest.scan(as_of="2024-01-31", version=2))
    assert pinned.scan().num_rows == 4
    assert not pinned.scan().equals(latest.scan())
    assert pinned.refresh().version == 4
    with pytest.raises(azof.VersionNotFoundError, match="no version 9"):
        lake.table("t", version=9)
    for bad in (-1, True, "2"):
        with pytest.raises(azof.InvalidArgumentError, match="whole number"):
            lake.table("t", version=bad)  # type: ignore[arg-type]
    with pytest.raises(azof.TableNotFoundError, match="tables here: t"):
        lake.table("nope", version=0)
    with pytest.raises(azof.TableNotFoundError, match="tables here: t"):
        lake.table("nope")


def test_verify_a_sound_table(lake: azof.Lakehouse) -> None:
    table = lake.table("t")
    files = {f.file for f in table.snapshot.files()}
    assert table.verify() == len(files) > 0
    assert table.verify(version=1) == 1


def test_verify_reports_every_damaged_file(lake: azof.Lakehouse, tmp_path: Path) -> None:
    table = lake.table("t")
    files = sorted({f.file for f in table.snapshot.files()})
    assert len(files) >= 3
    (tmp_path / "t" / files[0]).unlink()
    (tmp_path / "t" / files[1]).unlink()
    (tmp_path / "t" / files[2]).write_bytes(b"not parquet")
    reopened = lake.table("t")  # opening still works: it reads the snapshot only
    with pytest.raises(azof.CorruptTableError) as caught:
        reopened.verify()
    message = str(caught.value)
    assert f"3 of the {len(files)} data files of version 4 are damaged" in message
    for name in files[:2]:
        assert f"s4.json names data file {name}, which is missing" in message
    assert f"data file {files[2]}, which is not readable Parquet" in message
    assert "restore them or read another version" in message
    raised = []  # a read fails only if it plans a damaged file
    for as_of in (None, "2024-01-31", "2024-02-29", "2024-03-31"):
        try:
            reopened.scan(as_of=as_of)
        except azof.CorruptTableError as exc:
            raised.append(str(exc))
    assert raised
    assert all("s4.json names data file" in text for text in raised)
    assert reopened.verify(version=0) == 0  # the empty first version has no files


def test_verify_names_a_file_of_another_table(lake: azof.Lakehouse, tmp_path: Path) -> None:
    table = lake.table("t")
    (tmp_path / "other").mkdir()
    other = azof.Lakehouse(tmp_path / "other").create_table(
        "o", pa.schema([("key", pa.string()), ("event_time", pa.timestamp("ms", "UTC"))])
    )
    other.append([{"key": "x", "event_time": "2024-01-01"}])
    stranger = next(iter(other.snapshot.files())).file
    victim = next(iter(table.snapshot.files())).file
    (tmp_path / "t" / victim).write_bytes((tmp_path / "other" / "o" / stranger).read_bytes())
    with pytest.raises(azof.CorruptTableError, match=f"{victim} has no column 'v'"):
        table.verify()


def test_log_reads_commit_records_only(lake: azof.Lakehouse, tmp_path: Path) -> None:
    table = lake.table("t")
    commits = table.log()
    assert [c.operation for c in commits] == ["create", "append", "append", "append", "compact"]
    assert [c.parent for c in commits] == [None, 0, 1, 2, 3]
    assert [c.rows for c in commits[1:4]] == [4, 4, 4]
    assert table.log(limit=2) == commits[-2:]
    assert table.log(limit=0) == []
    assert table.log(limit=99) == commits
    for bad in (-1, True, "2"):
        with pytest.raises(azof.InvalidArgumentError, match="limit"):
            table.log(limit=bad)  # type: ignore[arg-type]
    # the same from a fresh process's view: nothing cached, commits read from the files
    assert azof.Lakehouse(lake.uri).table("t").log() == commits
    # a damaged file list in an old snapshot does not hide the log; reading it fails
    path = tmp_path / "t" / "s2.json"
    path.write_text(path.read_text().replace('"file": "data/', '"file": "../'))
    reopened = azof.Lakehouse(lake.uri).table("t")
    assert reopened.log() == commits
    with pytest.raises(azof.CorruptTableError, match=r"s2\.json"):
        reopened.scan(version=2)
