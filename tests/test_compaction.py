"""Compaction and vacuum: tree shape, policies, seed tables, retention and safety."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

import azof
from azof.storage import open_storage

SCHEMA = pa.schema(
    [("key", pa.string()), ("event_time", pa.timestamp("ms", tz="UTC")), ("v", pa.int64())]
)
TIMES = [None, "2023-12-31", "2024-01-15", "2024-02-29T23:59:59.999Z", "2024-06-30", "2025-01-01"]


def make_table(lake: azof.Lakehouse | None = None) -> azof.Table:
    lake = lake or azof.Lakehouse(f"memory://{uuid.uuid4().hex}")
    table = lake.create_table("t", SCHEMA)
    for month in range(1, 8):
        table.append(
            [
                {
                    "key": f"k{i}",
                    "event_time": f"2024-{month:02d}-{i + 1:02d}",
                    "v": month * 100 + i,
                }
                for i in range(5)
            ]
        )
    table.delete(["k1"], event_time="2024-03-10")
    return table


def answers(table: azof.Table, **kwargs: object) -> list[list[dict[str, object]]]:
    return [table.scan(as_of=t, **kwargs).to_pylist() for t in TIMES]


def test_compaction_builds_a_tree_and_keeps_every_answer() -> None:
    table = make_table()
    before, version_before = answers(table), table.version
    stats = table.compact(azof.CompactionPolicy(segment="month"))
    assert stats.version == version_before + 1
    assert stats.leaves_rewritten == 7
    assert answers(table) == before
    assert answers(table, version=version_before) == before  # old versions still read
    assert table.snapshot.deltas == ()
    years = table.snapshot.segments
    assert [s.id for s in years] == ["2024"]
    assert [s.id for s in years[0].children] == [f"2024-{m:02d}" for m in range(1, 8)]
    leaf = years[0].children[3]  # April: base = state before April, deltas = April events
    assert leaf.base
    assert all(f.derived for f in leaf.base)
    assert sum(f.rows or 0 for f in leaf.base) == 5  # k1's tombstone is kept in the base
    metrics = azof.ScanMetrics()
    table.scan(as_of="2024-04-20", metrics=metrics)
    assert metrics.files_planned == 2  # one base plus the deltas after it
    assert table.compact().version is None or table.snapshot.deltas == ()


def test_late_data_after_compaction_then_folded_in() -> None:
    table = make_table()
    table.compact(azof.CompactionPolicy(segment="month"))
    table.put("k2", "2024-02-20", v=-1)  # late: into a compacted month
    table.put("k9", "2023-06-01", v=-2)  # older than the whole tree
    after_late = answers(table)
    assert table.scan(as_of="2024-02-25").to_pylist()[2]["v"] == -1
    stats = table.compact(azof.CompactionPolicy(segment="month"))
    assert stats.leaves_rewritten == 8  # 2023-06 is new, then every month from February
    assert answers(table) == after_late
    assert [s.id for s in table.snapshot.segments] == ["2023", "2024"]


def test_changing_the_policy_rebuilds_and_set_policy_is_stored() -> None:
    table = make_table()
    before = answers(table)
    table.compact(azof.CompactionPolicy(segment="week"))
    table.set_policy(azof.CompactionPolicy(segment="quarter", max_deltas=2, auto=True))
    assert table.policy.segment == "quarter"
    assert table.policy.levels == ("year", "quarter")
    table.compact()
    assert [s.id for s in table.snapshot.segments[0].children] == ["2024-Q1", "2024-Q2", "2024-Q3"]
    assert answers(table) == before
    table.put("k0", "2024-08-30", v=1)
    table.put("k0", "2024-08-31", v=2)  # second pending delta: auto-compaction
    assert table.snapshot.deltas == ()
    assert table.log()[-1].operation == "compact"
    assert azof.Lakehouse(table.lakehouse.uri).table("t").policy.auto is True


def test_a_failed_automatic_compaction_leaves_the_append_landed(tmp_path: Path) -> None:
    table = azof.Lakehouse(tmp_path).create_table("t", SCHEMA)
    table.set_policy(azof.CompactionPolicy(segment="month", max_deltas=2, auto=True))
    first = table.put("k0", "2024-01-10", v=1)
    hidden = tmp_path / "t" / table.snapshot.deltas[0].file
    hidden.rename(tmp_path / "away")  # while it is away, compaction cannot read it
    with pytest.warns(azof.AzofWarning, match=r"version 3 landed, but the automatic compaction"):
        landed = table.put("k1", "2024-01-11", v=2)
    assert (first, landed) == (2, 3)
    reopened = azof.Lakehouse(tmp_path).table("t")
    assert reopened.version == 3
    assert [c.operation for c in reopened.log()][-1] == "append"
    assert [d.min_key for d in reopened.snapshot.deltas] == ["k0", "k1"]  # still pending
    (tmp_path / "away").rename(hidden)
    assert reopened.scan().column("v").to_pylist() == [1, 2]
    reopened.compact()  # the retry the warning asks for
    assert reopened.snapshot.deltas == ()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"segment": "fortnight"}, "segment 'fortnight'"),
        ({"segment": "month", "levels": ("month", "year")}, "coarse to fine"),
        ({"segment": "day", "levels": ("year", "week", "day")}, "weeks do not nest"),
        ({"max_deltas": 0}, "max_deltas must be"),
    ],
)
def test_bad_policies_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(azof.InvalidArgumentError, match=message):
        azof.CompactionPolicy(**kwargs)  # type: ignore[arg-type]


def test_seed_table_compacts_and_vacuums(seed_copy: Callable[[str], Path]) -> None:
    folder = seed_copy("financials")
    lake = azof.Lakehouse(folder.parent)
    table = lake.table("financials")
    times = [None, "2001-02-03", "2010-06-30T23:59:59.999Z", "2019-01-17T00:00:00Z"]
    before = [table.scan(as_of=t) for t in times]
    table.compact()
    assert all(table.scan(as_of=t).equals(b) for t, b in zip(times, before, strict=True))
    result = table.vacuum(retain_versions=1, grace="0s")
    assert result.expired_versions == [1]
    assert len(result.deleted_files) >= 169
    reopened = lake.table("financials")
    assert reopened.versions() == [2]
    assert all(reopened.scan(as_of=t).equals(b) for t, b in zip(times, before, strict=True))
    assert (folder / "version.txt").read_text() == "2"


def test_vacuum_dry_run_retention_and_grace(tmp_path: Path) -> None:
    table = make_table(azof.Lakehouse(tmp_path))
    table.compact(azof.CompactionPolicy(segment="month"))
    storage = table.storage
    storage.write("data/orphan-of-a-failed-commit.parquet", b"PAR1")
    files_before = {o.path for o in storage.list("")}
    every_version = table.versions()
    dry = table.vacuum(retain_versions=2, grace="0s", dry_run=True)
    assert dry.dry_run
    assert "data/orphan-of-a-failed-commit.parquet" in dry.deleted_files
    assert {o.path for o in storage.list("")} == files_before  # nothing deleted
    assert table.vacuum(grace="1h").deleted_files == []  # the orphan is too young to go
    kept = table.vacuum(older_than="7d", grace="0s")  # all younger than 7 days: kept
    assert kept.expired_versions == []
    assert kept.deleted_files == ["data/orphan-of-a-failed-commit.parquet"]
    result = table.vacuum(retain_versions=2, grace="0s")
    assert result.expired_versions == every_version[:-2]
    for version in table.versions():  # every retained version still reads
        table.scan(version=version)
        table.scan(as_of="2024-03-01", version=version)
    with pytest.raises(azof.VersionNotFoundError):
        table.scan(version=every_version[0])
    time.sleep(0.01)
    assert table.vacuum(older_than="0s", grace="0s").expired_versions == every_version[-2:-1]
    assert table.versions() == [table.version]


def test_vacuum_argument_errors() -> None:
    table = make_table()
    with pytest.raises(azof.InvalidArgumentError, match="retain_versions"):
        table.vacuum(retain_versions=0)
    with pytest.raises(azof.InvalidArgumentError, match="older_than"):
        table.vacuum(older_than="a week")


def test_memory_storage_sees_vacuum(tmp_path: Path) -> None:
    uri = f"memory://{uuid.uuid4().hex}"
    table = make_table(azof.Lakehouse(uri))
    table.compact()
    table.vacuum(retain_versions=1, grace="0s")
    files = {o.path for o in open_storage(uri).list("t/data")}
    assert files == {f"t/{f.file}" for f in table.snapshot.files()}


def test_leaf_deltas_are_cut_by_time_and_reads_skip_the_pieces_after_t(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from azof.compact import rewrite

    monkeypatch.setattr(rewrite, "DELTA_PIECE_ROWS", 4)
    table = make_table()
    before = answers(table) + [table.scan(as_of=f"2024-06-{d:02d}").to_pylist() for d in (1, 3, 6)]
    table.compact(azof.CompactionPolicy(segment="quarter"))
    q2 = table.snapshot.segments[0].children[1]
    assert q2.id == "2024-Q2"
    pieces = sorted(q2.deltas, key=lambda f: f.start or 0)
    assert len(pieces) == 4  # 15 events of April to June, about 4 rows a piece
    assert all(f.sorted for f in pieces)
    for earlier, later in itertools.pairwise(pieces):  # disjoint in time, in time order
        assert earlier.end is not None
        assert later.start is not None
        assert earlier.end < later.start
    after = answers(table) + [table.scan(as_of=f"2024-06-{d:02d}").to_pylist() for d in (1, 3, 6)]
    assert after == before
    metrics = azof.ScanMetrics()
    table.scan(as_of="2024-04-03", metrics=metrics)
    assert metrics.files_planned == 2  # the base and the first piece only
