"""Compaction in bounded memory: the input passes, the spill, and answers when spilling.

Spilling is forced on small tables by setting the thresholds of :mod:`azof.compact.spill`
to their minimum (every read, group and addition as small as can be), so that the disk
path runs; answers must equal those before compaction, the oracle, and the in-memory run.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import azof
import azof.compact.rewrite
import azof.compact.spill
from azof.compact.spill import Spill, profile_inputs
from azof.compact.tree import leaves, period_starts
from azof.scan.plan import rank_files
from strategies import COMPOSITE, as_of_days, maintained_operations
from test_writes_oracle import PROPERTY, check_sequence

SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("event_time", pa.timestamp("ms", tz="UTC")),
        ("v", pa.int64()),
        ("note", pa.string()),
    ]
)
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


class _Recorder:
    """Counts the bytes every :class:`Spill` of a test wrote to disk."""

    def __init__(self) -> None:
        self.spilled = 0

    def spill(self, parts: int, budget: int | None = None) -> Spill:
        recorder = self

        class Recorded(Spill):
            def close(self) -> None:
                recorder.spilled += self.spilled_bytes
                super().close()

        return Recorded(parts, budget)


@pytest.fixture
def forced(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[_Recorder]:
    """Spill everything: one file read at a time, one leaf per group, no memory budget; the
    spill's temporary files go under ``tmp_path / "spill"``, which must end up empty."""
    recorder = _Recorder()
    folder = tmp_path / "spill"
    folder.mkdir()
    monkeypatch.setattr(azof.compact.spill, "SPILL_BYTES", 0)
    monkeypatch.setattr(azof.compact.spill, "READ_ROWS", 1)
    monkeypatch.setattr(azof.compact.spill, "GROUP_ROWS", 1)
    monkeypatch.setattr(azof.compact.rewrite, "Spill", recorder.spill)
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield recorder
    assert list(folder.iterdir()) == []  # every spill removed its files


def rows(rng: np.random.Generator, n: int, days: int, keys: int) -> pa.Table:
    """``n`` random events of ``keys`` keys over ``days`` days from 2024-01-01, with ties
    (few distinct times per day) and repeated keys."""
    offsets = rng.integers(0, days, n) * 86_400_000 + rng.integers(0, 3, n) * 3_600_000
    times = np.datetime64("2024-01-01", "ms") + offsets.astype("timedelta64[ms]")
    return pa.table(
        {
            "key": pa.array([f"k{i}" for i in rng.integers(0, keys, n)]),
            "event_time": pa.array(times).cast(SCHEMA.field("event_time").type),
            "v": pa.array(rng.integers(-1000, 1000, n)),
            "note": pa.array([f"n{i % 7}" for i in range(n)]),
        }
    )


def lake_at(folder: Path) -> azof.Lakehouse:
    folder.mkdir(parents=True)
    return azof.Lakehouse(folder)


def build(lake: azof.Lakehouse, seed: int = 7) -> azof.Table:
    """Appends in arrival order with late rows, corrections (same key and time) and
    deletes: a history over about nine months."""
    rng = np.random.default_rng(seed)
    table = lake.create_table("t", SCHEMA)
    for month in range(9):
        table.append(rows(rng, 300, 30 * (month + 1), 60))  # late rows reach back to January
        if month % 3 == 2:
            table.delete(
                [f"k{i}" for i in rng.integers(0, 60, 5)], EPOCH + timedelta(days=29 * month)
            )
    return table


TIMES: list[Any] = [None] + [
    EPOCH + timedelta(days=d, hours=h) for d in range(-1, 280, 9) for h in (0, 1)
]


def answers(table: azof.Table, **kwargs: Any) -> list[pa.Table]:
    return [table.scan(as_of=t, **kwargs) for t in TIMES]


def assert_same(left: list[pa.Table], right: list[pa.Table]) -> None:
    for when, a, b in zip(TIMES, left, right, strict=True):
        assert a.sort_by("key").equals(b.sort_by("key")), when


@pytest.mark.parametrize(
    ("segment", "buckets"), [("month", 0), ("week", 3), ("quarter", 1), ("day", 2)]
)
def test_spilled_full_rebuild_keeps_every_answer(
    forced: _Recorder, tmp_path: Path, segment: str, buckets: int
) -> None:
    table = build(lake_at(tmp_path / "lake"))
    before = answers(table)
    table.compact(azof.CompactionPolicy(segment=segment, buckets=buckets, bucket_keys=20))
    assert forced.spilled > 0
    assert table.snapshot.deltas == ()
    assert_same(answers(table), before)


def test_spilled_incremental_compaction_keeps_every_answer(forced: _Recorder) -> None:
    lake = azof.Lakehouse(f"memory://{uuid.uuid4().hex}")
    table = build(lake)
    policy = azof.CompactionPolicy(segment="month", buckets=2)
    table.compact(policy)
    rng = np.random.default_rng(11)
    table.append(rows(rng, 200, 200, 80))  # late rows from January on, and new keys
    table.delete(["k3", "k70"], EPOCH + timedelta(days=150))
    table.append(
        rows(rng, 50, 3, 60).set_column(  # rows at the tree's last leaf
            1, "event_time", pa.array([EPOCH + timedelta(days=270)] * 50, SCHEMA.field(1).type)
        )
    )
    before, spilled = answers(table), forced.spilled
    stats = table.compact(policy)
    assert stats.leaves_rewritten > 1
    assert forced.spilled > spilled
    assert_same(answers(table), before)


def test_spilling_writes_what_memory_writes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The same table compacted in memory and through the disk: the same tree, files of
    the same rows, and the same answers."""
    build(lake_at(tmp_path / "a"))
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    policy = azof.CompactionPolicy(segment="month", buckets=2)
    in_memory = azof.Lakehouse(tmp_path / "a").table("t")
    in_memory.compact(policy)
    with monkeypatch.context() as patch:
        patch.setattr(azof.compact.spill, "SPILL_BYTES", 0)
        patch.setattr(azof.compact.spill, "READ_ROWS", 1)
        patch.setattr(azof.compact.spill, "GROUP_ROWS", 1)
        spilled = azof.Lakehouse(tmp_path / "b").table("t")
        spilled.compact(policy)

    def described(table: azof.Table) -> list[Any]:
        out: list[Any] = []
        for leaf in leaves(table.snapshot.segments):
            out.append((leaf.id, leaf.start, leaf.end, leaf.tip_from))
            for files in (leaf.base, leaf.deltas, leaf.tip):
                out.append(
                    sorted(
                        (f.bucket, f.rows, f.start, f.end, f.min_key, f.max_key, f.derived)
                        for f in files
                    )
                )
        return out

    assert described(spilled) == described(in_memory)
    for leaf_a, leaf_b in zip(
        leaves(in_memory.snapshot.segments), leaves(spilled.snapshot.segments), strict=True
    ):
        for files_a, files_b in ((leaf_a.base, leaf_b.base), (leaf_a.deltas, leaf_b.deltas)):
            read_a = sorted(files_a, key=lambda f: f.bucket)
            read_b = sorted(files_b, key=lambda f: f.bucket)
            for a, b in zip(read_a, read_b, strict=True):
                table_a = pq.read_table(tmp_path / "a" / "t" / a.file)
                table_b = pq.read_table(tmp_path / "b" / "t" / b.file)
                assert table_a.equals(table_b)
    assert_same(answers(spilled), answers(in_memory))


def test_spill_keeps_the_order_of_each_partition(tmp_path: Path) -> None:
    """Rows come back in the order they were added, from disk and memory alike."""
    additions = [
        (pa.table({"x": list(range(start, start + 10))}), np.arange(10, dtype=np.int64) % 3)
        for start in range(0, 50, 10)
    ]
    budgets = [0, 1_000_000, 100]  # always to disk, never, and now and then
    for budget in budgets:
        with Spill(4, budget) as spill:
            for table, part in additions:
                spill.add(table, part)
            for part in range(3):
                taken = spill.take(part)
                assert taken is not None
                assert taken.column("x").to_pylist() == [x for x in range(50) if x % 10 % 3 == part]
                assert spill.take(part) is None  # taken once
            assert spill.take(3) is None  # never added to


@pytest.mark.parametrize("level", ["year", "quarter", "month", "week", "day", "hour"])
@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_profile_counts_keys_and_rows_per_period(level: str, unit: str) -> None:
    """The input pass's periods are those of :func:`period_starts` (before 1970 too), with
    their row counts, and its key count is exact."""
    rng = np.random.default_rng(3)
    dtype = pa.timestamp(unit, tz="UTC")
    lake = azof.Lakehouse(f"memory://{uuid.uuid4().hex}")
    table = lake.create_table(
        "t", pa.schema([("key", pa.int64()), ("event_time", dtype), ("v", pa.int64())])
    )
    written = []
    for _ in range(3):
        seconds = rng.integers(-400 * 86_400, 800 * 86_400, 500)
        part = pa.table(
            {
                "key": pa.array(rng.integers(0, 400, 500)),
                "event_time": pa.array(seconds.astype("datetime64[s]")).cast(dtype),
                "v": pa.array(np.arange(500)),
            }
        )
        table.append(part)
        written.append(part)
    everything = pa.concat_tables(written)
    snapshot = table.snapshot
    found = profile_inputs(table.storage, "t", snapshot, rank_files(snapshot), level, True)
    assert found.keys == len(set(everything.column("key").to_pylist()))
    assert sorted(found.periods) == period_starts(everything.column("event_time"), level)
    assert sum(found.periods.values()) == everything.num_rows
    per_unit = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit]
    instants = everything.column("event_time").cast(pa.int64()).to_numpy() * per_unit
    starts = np.asarray(sorted(found.periods))
    counts = np.bincount(np.searchsorted(starts, instants, side="right") - 1)
    assert dict(zip(starts.tolist(), counts.tolist(), strict=True)) == found.periods


@settings(PROPERTY, max_examples=30)
@given(
    ops=maintained_operations, days=as_of_days, versions=st.lists(st.integers(0, 20), max_size=3)
)
def test_spilled_compactions_match_oracle(
    ops: list[tuple[Any, ...]], days: list[float | None], versions: list[int]
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(azof.compact.spill, "SPILL_BYTES", 0)
        patch.setattr(azof.compact.spill, "READ_ROWS", 1)
        patch.setattr(azof.compact.spill, "GROUP_ROWS", 1)
        check_sequence(azof.Lakehouse(f"memory://{uuid.uuid4().hex}"), ops, days, versions)


@settings(PROPERTY, max_examples=20)
@given(
    ops=maintained_operations, days=as_of_days, versions=st.lists(st.integers(0, 20), max_size=3)
)
def test_spilled_compactions_of_a_composite_key_match_oracle(
    ops: list[tuple[Any, ...]], days: list[float | None], versions: list[int]
) -> None:
    """The spilling compaction (every row through the spill files) on a composite key of
    mixed types with named columns."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(azof.compact.spill, "SPILL_BYTES", 0)
        patch.setattr(azof.compact.spill, "READ_ROWS", 1)
        patch.setattr(azof.compact.spill, "GROUP_ROWS", 1)
        lake = azof.Lakehouse(f"memory://{uuid.uuid4().hex}")
        check_sequence(lake, ops, days, versions, COMPOSITE)
