"""The commit protocol's guarantees, one reproduced race each (spec 11.1, 11.2, 13.4, 14).

Each test replays a race that lost data before the protocol fix, deterministically: the
"slow" operation is run with the snapshot it read before the other operations landed.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pyarrow as pa
import pytest

import azof
from azof import tablelog
from azof.compact.policy import CompactionPolicy
from azof.compact.rewrite import compact_snapshot
from azof.write.append import append_data

SCHEMA = pa.schema(
    [("key", pa.string()), ("event_time", pa.timestamp("ms", tz="UTC")), ("px", pa.float64())]
)


def _table(name: str) -> azof.Table:
    lake = azof.Lakehouse(f"memory://protocol-{name}-{time.time_ns()}")
    return lake.create_table("t", SCHEMA)


def _rows(key: str, px: float, day: int = 1) -> list[dict[str, object]]:
    return [{"key": key, "event_time": f"2024-01-{day:02d}", "px": px}]


def _state(table: azof.Table) -> dict[str, float]:
    scan = table.refresh().scan()
    return dict(zip(scan["key"].to_pylist(), scan["px"].to_pylist(), strict=True))


def test_vacuum_during_a_slow_write_never_frees_a_snapshot_number() -> None:
    a = _table("reuse")
    b = a.lakehouse.table("t")
    stale = a.snapshot  # writer A read version N and is still writing its file
    for i in range(5):  # meanwhile B commits N+1..N+5 and vacuums them away
        b.append(_rows(f"b{i}", float(i)))
    expired = b.vacuum(retain_versions=1, grace="0s").expired_versions
    assert expired == [0, 1, 2, 3, 4]
    # A's commit now lands: its create-if-absent of s<N+1> meets the marker and rebases
    landed = append_data(a.storage, "t", stale, _rows("a", 9.0), parent_read_at=time.monotonic())
    assert landed is not None
    assert landed.version == 6
    assert _state(a.lakehouse.table("t")) == {"a": 9.0, **{f"b{i}": float(i) for i in range(5)}}
    assert a.lakehouse.table("t").versions() == [5, 6]


def test_a_stale_hint_does_not_move_readers_backwards() -> None:
    table = _table("hint")
    for i in range(4):
        table.append(_rows(f"k{i}", float(i)))
    reader = table.lakehouse.table("t")
    assert reader.version == 4
    table.storage.write(tablelog.VERSION_HINT, b"1")  # a racing writer's late hint
    assert reader.refresh().version == 4
    assert table.lakehouse.table("t").version == 4  # a fresh reader probes past the hint
    table.vacuum(retain_versions=1, grace="0s")  # s1.json is now a marker
    assert table.lakehouse.table("t").version == 4


def test_expired_versions_read_as_gone_and_their_numbers_stay_taken() -> None:
    table = _table("marker")
    for i in range(3):
        table.append(_rows(f"k{i}", float(i)))
    table.vacuum(retain_versions=1, grace="0s")
    assert table.versions() == [3]
    with pytest.raises(azof.VersionNotFoundError):
        table.lakehouse.table("t", version=1)
    assert not table.storage.write_if_absent("s1.json", b"{}")
    assert [c.version for c in table.log()] == [3]


def test_markers_go_once_older_than_an_hour() -> None:
    table = _table("markers-age")
    for i in range(3):
        table.append(_rows(f"k{i}", float(i)))
    table.vacuum(retain_versions=1, grace="0s")
    names = {o.path for o in table.storage.list("", recursive=False)}
    assert {"s0.json", "s1.json", "s2.json"} <= names  # markers
    table.vacuum(grace="0s")  # too young to go
    assert "s0.json" in {o.path for o in table.storage.list("", recursive=False)}
    from azof.compact.vacuum import vacuum_table

    vacuum_table(
        table.storage,
        "t",
        table.refresh().snapshot,
        table.snapshot_at,
        table.commit_time,
        retain_versions=None,
        older_than=None,
        grace=0,
        now=time.time_ns() + 2 * 3_600 * 10**9,
        dry_run=False,
    )
    names = {o.path for o in table.storage.list("", recursive=False)}
    assert not {"s0.json", "s1.json", "s2.json"} & names
    assert table.lakehouse.table("t").version == 3


def test_compaction_overlapping_a_restore_does_not_bring_undone_data_back() -> None:
    table = _table("restore")
    good = table.append(_rows("A", 1.0))
    table.append(_rows("A", -999.0, day=2))  # a bad load
    read_by_compaction = table.snapshot  # a compaction starts
    table.lakehouse.table("t").restore(version=good)  # another process undoes the load
    with pytest.raises(azof.CommitConflictError, match="restore"):
        compact_snapshot(table.storage, "t", read_by_compaction, CompactionPolicy(segment="month"))
    assert _state(table) == {"A": 1.0}


def test_restore_keeps_files_a_vacuum_released_within_the_grace() -> None:
    table = _table("restore-vacuum")
    first = table.append(_rows("A", 1.0))
    table.append(_rows("A", 2.0, day=2))
    table.compact(CompactionPolicy(segment="month"))
    target = table.lakehouse.table("t", version=first)  # a restore read version 1 ...
    target_files = {f.file for f in target.snapshot.files()}
    result = table.lakehouse.table("t").vacuum(retain_versions=1, grace="1h")
    assert first in result.expired_versions
    assert target_files <= set(result.released_files)
    assert not set(result.deleted_files) & target_files  # released, kept for the grace
    existing = {o.path for o in table.storage.list("data")}
    assert target_files <= existing
    # a later vacuum deletes them once the grace has passed and nothing references them
    later = table.lakehouse.table("t").vacuum(grace=timedelta(0))
    assert target_files <= set(later.deleted_files)
    assert _state(table) == {"A": 2.0}


def test_a_cold_open_reads_the_hint_then_the_snapshot_and_its_successor_at_once() -> None:
    """Opening sends three requests: ``version.txt``, then ``s<N>.json`` and a ``HEAD`` of
    ``s<N+1>.json`` together (their overlap is timed on a real S3 server in tests/s3)."""
    table = _table("open")
    table.append(_rows("k", 1.0))
    requests = table.storage.requests
    before = requests.snapshot()
    assert table.lakehouse.table("t").version == 1
    after = requests.snapshot()
    assert {kind: after[kind] - before.get(kind, 0) for kind in after} == {
        **{kind: 0 for kind in after},
        "get": 2,
        "head": 1,
    }
    table.storage.write(tablelog.VERSION_HINT, b"0")  # stale: s1.json exists
    assert table.lakehouse.table("t").version == 1
