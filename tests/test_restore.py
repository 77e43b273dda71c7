"""``Table.restore`` and ``azof restore``: an earlier version's state, as a new commit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import azof
from azof.write.commit import upgrade

SCHEMA = pa.schema(
    [("key", pa.string()), ("event_time", pa.timestamp("ms", "UTC")), ("v", pa.int64())]
)
TIMES = [None, "2024-01-15", "2024-02-15", "2024-03-15"]


@pytest.fixture
def table(tmp_path: Path) -> azof.Table:
    """v1, v2: January and February; v3: compaction; v4: a bad load; v5: schema change."""
    t = azof.Lakehouse(tmp_path).create_table("t", SCHEMA)
    t.append([{"key": k, "event_time": "2024-01-10", "v": 1} for k in "abc"])
    t.append([{"key": k, "event_time": "2024-02-10", "v": 2} for k in "ab"])
    t.compact(azof.CompactionPolicy(segment="month", buckets=2))
    t.append([{"key": k, "event_time": "2024-01-20", "v": -999} for k in "abcd"])  # bad
    t.evolve().add_column("note", pa.string()).commit()
    return t


def answers(table: azof.Table, **read: Any) -> list[list[dict[str, Any]]]:
    return [table.scan(as_of=t, **read).sort_by("key").to_pylist() for t in TIMES]


def test_restore_brings_back_an_earlier_state(table: azof.Table) -> None:
    assert table.version == 5
    good = answers(table, version=3)
    landed = table.restore(3)
    assert landed == 6
    assert answers(table) == good
    assert table.schema == table.snapshot_at(3).schema.to_arrow()  # the column is gone
    assert table.bucket_count() == 2
    commit = table.log()[-1]
    assert (commit.operation, commit.parent) == ("restore", 5)
    assert table.snapshot.commit is not None
    assert table.snapshot.commit.summary == {"restored_version": 3}
    # the versions in between stay readable, and the table goes on from the restored state
    assert answers(table, version=5) != good
    table.append([{"key": "e", "event_time": "2024-03-01", "v": 5}])
    assert sorted(table.scan().column("key").to_pylist()) == ["a", "b", "c", "e"]
    reopened = azof.Lakehouse(table.lakehouse.uri).table("t")
    assert reopened.scan().equals(table.scan())
    before = answers(table)
    table.compact()
    assert answers(table) == before


def test_restore_by_known_at_and_no_op(table: azof.Table) -> None:
    known = table.log()[2].time  # when version 2 landed
    assert table.restore(known_at=known) == 6
    assert answers(table) == answers(table, version=2)
    assert table.restore(6) == 6  # already the latest: nothing committed
    assert table.version == 6
    with pytest.raises(azof.InvalidArgumentError, match="version= or known_at="):
        table.restore()
    with pytest.raises(azof.VersionNotFoundError):
        table.restore(99)


def test_restore_refuses_missing_files_and_races(
    table: azof.Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = next(f for f in table.snapshot_at(1).files())
    kept = (tmp_path / "t" / victim.file).read_bytes()
    (tmp_path / "t" / victim.file).unlink()
    with pytest.raises(azof.CorruptTableError, match="which is missing"):
        table.restore(1)
    (tmp_path / "t" / victim.file).write_bytes(kept)
    assert table.refresh().version == 5  # nothing committed

    other = azof.Lakehouse(table.lakehouse.uri).table("t")
    real_upgrade = upgrade

    def racing(parent: Any, version: int, info: Any, **changes: Any) -> Any:
        if info.operation == "restore" and other.version == 5:
            other.put("z", "2024-03-01", v=0)  # lands version 6 while the restore builds
        return real_upgrade(parent, version, info, **changes)

    monkeypatch.setattr("azof.table.upgrade", racing)  # the commit protocol stays real
    with pytest.raises(azof.CommitConflictError, match="landed while restoring"):
        table.restore(1)
    assert table.refresh().version == 6
    assert table.log()[-1].operation == "append"


def test_azof_restore_cli(table: azof.Table, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from azof.cli.app import cli

    runner = CliRunner()
    where = ["restore", "--path", str(tmp_path), "--table", "t"]
    done = runner.invoke(cli, [*where, "--version", "3"])
    assert done.exit_code == 0, done.output
    assert done.output.strip() == "t: restored version 3 as version 6"
    again = runner.invoke(cli, [*where, "--version", "6"])
    assert again.output.strip() == "t: nothing to restore: version 6 is the latest"
    missing = runner.invoke(cli, where)
    assert missing.exit_code == 2
    assert "--version N or --known-at TIME" in missing.output


def test_restore_a_seed_version(seed_copy: Any) -> None:
    folder = seed_copy("table0")
    table = azof.Lakehouse(folder.parent).table("table0")
    seed_version = table.version
    expected = [table.scan(as_of=t).sort_by("key").to_pylist() for t in (None, "2024-02-17")]
    schema = table.schema
    row = {name: None for name in schema.names}
    row.update(key=table.scan().column("key")[0].as_py(), event_time="2024-03-01")
    table.append([row])
    assert table.restore(seed_version) == seed_version + 2
    assert [table.scan(as_of=t).sort_by("key").to_pylist() for t in (None, "2024-02-17")] == (
        expected
    )
    assert table.snapshot.format_version >= 2  # the restored seed tree, written by azof
