"""``to_batches`` merges a large bucket in key ranges of about ``merge_rows`` rows; the
stream must still equal ``scan`` exactly (rows, order, schema) for every read.

Files here are written with tiny row groups, so that ranges (cut at row groups) are many
even in small tables; a spy counts the ranges to show the ranged path ran.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import azof
import azof.write.files
from azof.scan import stream
from azof.scan.read import BucketReader, ScanRequest, execute_scan
from azof.scan.stream import iter_scan, key_bounds, range_condition
from naive import latest_per_key
from strategies import apply_op, as_of_days, as_of_time, maintained_operations, rows_of

MS = pa.timestamp("ms", tz="UTC")
ROW_GROUP_ROWS = 10


@pytest.fixture(autouse=True)
def small_row_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file written in a test here has row groups of a few rows."""
    monkeypatch.setattr(azof.write.files, "ROW_GROUP_ROWS", ROW_GROUP_ROWS)


class RangeSpy:
    """Records the merge steps of streams: (bucket, key range or None for the whole,
    files read)."""

    def __init__(self) -> None:
        self.steps: list[tuple[int, str | None, int]] = []

    def ranged(self) -> int:
        return sum(1 for _, key_range, _ in self.steps if key_range is not None)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> RangeSpy:
    found = RangeSpy()
    merged = BucketReader.merged

    def recording(
        self: BucketReader,
        bucket: int,
        planned: Any,
        key_range: pc.Expression | None = None,
    ) -> pa.Table:
        found.steps.append((bucket, None if key_range is None else str(key_range), len(planned)))
        return merged(self, bucket, planned, key_range)

    monkeypatch.setattr(BucketReader, "merged", recording)
    return found


def lake() -> azof.Lakehouse:
    return azof.Lakehouse(f"memory://{uuid.uuid4().hex}")


def check(table: azof.Table, merge_rows: int = 7, **kwargs: Any) -> pa.Table:
    """The stream with ``merge_rows`` equals ``scan`` exactly; returns it."""
    expected = table.scan(**kwargs)
    reader = table.to_batches(merge_rows=merge_rows, batch_size=5, **kwargs)
    got = reader.read_all()
    assert got.schema == expected.schema
    assert got.equals(expected), kwargs
    return got


def events(keys: np.ndarray[Any, Any], days: np.ndarray[Any, Any], seed: int) -> pa.Table:
    return pa.table(
        {
            "key": keys,
            "event_time": pa.array(
                np.datetime64("2024-01-01", "ms") + days.astype("timedelta64[D]")
            ).cast(MS),
            "value": np.arange(len(keys), dtype=np.int64) + 1000 * seed,
            "label": pa.array([f"l{seed}-{k % 7}" for k in range(len(keys))]),
        }
    )


def build(
    key_type: pa.DataType, keys: list[Any], where: azof.Lakehouse | None = None
) -> azof.Table:
    """Many appends (late rows, ties between appends, deletes), a compaction, then pending
    deltas, deletes and ties on top of the compacted tree."""
    schema = pa.schema(
        [("key", key_type), ("event_time", MS), ("value", pa.int64()), ("label", pa.string())]
    )
    table = (where or lake()).create_table("t", schema)
    rng = np.random.default_rng(7)
    pool = pa.array(keys, key_type)
    for seed in range(12):
        chosen = pool.take(pa.array(rng.integers(0, len(keys), 40)))
        table.append(events(chosen, rng.integers(0, 150, 40), seed))
        if seed % 4 == 3:
            table.delete(
                pool.take(pa.array(rng.integers(0, len(keys), 3))).to_pylist(), "2024-02-10"
            )
    tie = pool.take(pa.array([0, 1, 2]))
    table.append(events(tie, np.array([30, 30, 30]), 50))
    table.append(events(tie, np.array([30, 30, 30]), 51))  # same (key, time): this one wins
    table.compact(azof.CompactionPolicy(segment="month"))
    for seed in range(60, 64):
        chosen = pool.take(pa.array(rng.integers(0, len(keys), 30)))
        table.append(events(chosen, rng.integers(0, 200, 30), seed))
    table.append(events(tie, np.array([30, 30, 30]), 65))  # a pending delta wins the tie
    table.delete(pool.take(pa.array([3, 4])).to_pylist(), "2024-05-01")
    return table


READS: list[dict[str, Any]] = [
    {},
    {"as_of": "2024-02-01"},
    {"as_of": "2024-02-10T00:00:00Z"},
    {"as_of": "2024-04-15T12:00:00"},
    {"as_of": "2023-06-01"},
    {"columns": ["value"]},
    {"columns": ["key", "label"], "as_of": "2024-03-01"},
    {"filter": pc.field("value") > 3000},
    {"filter": pc.field("label") == "l60-1", "columns": ["event_time"]},
]


@pytest.mark.parametrize(
    ("key_type", "keys"),
    [
        (pa.string(), [f"k{i:03d}" for i in range(120)]),
        (pa.large_string(), [f"{chr(0x61 + i % 26)}é{i}" for i in range(120)]),
        (pa.int64(), list(range(-60, 60))),
        (pa.uint64(), [2**64 - 1 - i for i in range(60)] + list(range(60))),
        (pa.int16(), list(range(0, 1200, 10))),
    ],
)
def test_ranged_stream_equals_scan(spy: RangeSpy, key_type: pa.DataType, keys: list[Any]) -> None:
    table = build(key_type, keys)
    for read in READS:
        check(table, **read)
    first = keys[5]
    check(table, filter=pc.field("key") >= pa.scalar(first, key_type))  # pushed down
    versions = table.versions()
    check(table, version=versions[len(versions) // 2], as_of="2024-03-01")
    check(table, known_at=table.log()[3].time)
    assert spy.ranged() > 20


def test_ranges_come_in_key_order_within_a_bucket(spy: RangeSpy) -> None:
    table = build(pa.string(), [f"k{i:03d}" for i in range(120)])
    table.compact(azof.CompactionPolicy(segment="month", buckets=3))
    got = check(table, merge_rows=10)
    starts = 0
    for bucket in range(3):
        part = table.scan(bucket=bucket)
        assert got.slice(starts, part.num_rows).equals(part)
        streamed = table.to_batches(bucket=bucket, merge_rows=10, batch_size=5).read_all()
        assert streamed.equals(part)
        keys = part.column("key").to_pylist()
        assert keys == sorted(keys)
        starts += part.num_rows
    assert {b for b, r, _ in spy.steps if r is not None} == {0, 1, 2}


def test_to_batches_refuses_a_bucket_out_of_range() -> None:
    table = build(pa.string(), [f"k{i:03d}" for i in range(30)])
    for bucket in (1, -1, True, "0"):
        with pytest.raises(azof.InvalidArgumentError, match=r"bucket .* is not in 0\.\.0"):
            table.to_batches(bucket=bucket)  # type: ignore[arg-type]


def test_ranged_stream_on_local_disk(spy: RangeSpy, tmp_path: Path) -> None:
    table = build(pa.string(), [f"k{i:03d}" for i in range(120)], azof.Lakehouse(tmp_path))
    for read in READS[:4]:
        check(table, **read)
    assert spy.ranged() > 10


def test_a_small_bucket_is_merged_whole(spy: RangeSpy) -> None:
    table = build(pa.int64(), list(range(100)))
    rows = sum(f.rows or 0 for f in table.snapshot_at(None, None).deltas) + 10**6
    check(table, merge_rows=rows)
    assert spy.steps
    assert spy.ranged() == 0


def test_evolved_schema(spy: RangeSpy) -> None:
    schema = pa.schema(
        [("key", pa.string()), ("event_time", MS), ("px", pa.float32()), ("qty", pa.int32())]
    )
    table = lake().create_table("t", schema)
    keys = [f"k{i:02d}" for i in range(40)]
    for n in range(3):
        table.append(
            [
                {"key": k, "event_time": f"2024-01-{n + 2:02d}", "px": n + i / 4, "qty": i}
                for i, k in enumerate(keys)
            ]
        )
    table.compact(azof.CompactionPolicy(segment="month"))
    first_schema = table.version
    (
        table.evolve()
        .rename_column("px", "price")
        .widen("qty", pa.int64())
        .add_column("currency", pa.string(), default="EUR")
        .commit()
    )
    table.append(
        [
            {"key": k, "event_time": "2024-02-01", "price": 9.5, "qty": 2**40, "currency": "USD"}
            for k in keys[::3]
        ]
    )
    table.evolve().drop_column("currency").add_column("note", pa.string()).commit()
    table.append([{"key": k, "event_time": "2024-01-03", "note": "late"} for k in keys[::5]])
    for read in [{}, {"as_of": "2024-01-02T12:00:00"}, {"columns": ["qty", "note"]}]:
        check(table, **read)
    assert "px" in check(table, version=first_schema).column_names
    table.compact(azof.CompactionPolicy(segment="month"))
    check(table)
    check(table, as_of="2024-01-03")
    assert spy.ranged() > 10


def test_seed_like_unsorted_and_shared_files_are_merged_whole(spy: RangeSpy) -> None:
    """A bucket with files of another bucket count (pending deltas written before the
    count changed) takes its share of their rows: it is merged whole, and right."""
    table = build(pa.string(), [f"k{i:03d}" for i in range(60)])
    before = table.snapshot_at(None, None)
    table.compact(azof.CompactionPolicy(segment="month", buckets=2))
    after = table.snapshot_at(None, None)
    assert before.buckets == 1
    assert after.buckets == 2
    mixed = replace(after, deltas=before.deltas)  # files of 1 bucket in a 2-bucket snapshot
    request = ScanRequest()
    expected = execute_scan(table.storage, "t", mixed, request)
    parts = list(iter_scan(table.storage, "t", mixed, request, merge_rows=3))
    assert pa.concat_tables(parts).equals(expected)
    assert spy.ranged() == 0


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "100", None])
def test_merge_rows_is_checked_at_once(bad: Any) -> None:
    table = lake().create_table("t", pa.schema([("key", pa.string()), ("event_time", MS)]))
    with pytest.raises(azof.InvalidArgumentError, match="merge_rows must be a whole number"):
        table.to_batches(merge_rows=bad)
    with pytest.raises(azof.InvalidArgumentError, match="merge_rows"):
        iter_scan(table.storage, "t", table.snapshot_at(None, None), ScanRequest(), merge_rows=bad)


def test_key_bounds_follow_row_groups() -> None:
    table = lake().create_table(
        "t", pa.schema([("key", pa.int64()), ("event_time", MS), ("value", pa.int64())])
    )
    table.append(events(np.arange(100), np.zeros(100), 0).drop_columns(["label"]))
    snapshot = table.snapshot_at(None, None)
    from azof.scan.plan import plan_files

    planned = plan_files(snapshot, None)
    rows = sum(f.file.rows or 0 for f in planned)
    assert rows == 100
    bounds = key_bounds(table.storage, "t", planned, pa.int64(), None, 10)
    values = [b.as_py() for b in bounds]
    assert values == sorted(set(values))
    assert values
    assert all(v % ROW_GROUP_ROWS == 0 for v in values)  # where row groups start
    assert all(b - a >= 8 for a, b in itertools.pairwise(values))  # about 10 rows each
    assert key_bounds(table.storage, "t", planned, pa.int64(), None, 1000) == []
    as_of = pc.field("event_time") <= pa.scalar(-1, MS)  # prunes every row group
    assert key_bounds(table.storage, "t", planned, pa.int64(), as_of, 10) == []


def test_range_condition() -> None:
    keys = pa.table({"key": pa.array([f"k{i}" for i in range(30)])})
    edges = [None, *(pa.scalar(b) for b in ["k12", "k20", "k3"]), None]
    pieces = [
        keys.filter(range_condition(low, high)).column("key").to_pylist()
        for low, high in itertools.pairwise(edges)
    ]
    assert [len(piece) for piece in pieces] == [4, 9, 10, 7]
    assert sorted(k for piece in pieces for k in piece) == sorted(keys.column("key").to_pylist())


def test_a_range_opens_only_the_files_that_reach_into_it(spy: RangeSpy) -> None:
    table = lake().create_table(
        "t", pa.schema([("key", pa.int64()), ("event_time", MS), ("value", pa.int64())])
    )
    for low in range(0, 400, 100):  # four files of disjoint keys
        keys = np.arange(low, low + 100)
        table.append(events(keys, np.zeros(100), 0).drop_columns(["label"]))
    check(table, merge_rows=30)
    assert spy.ranged() > 8
    assert max(files for _, key_range, files in spy.steps if key_range is not None) <= 2


# -- the property: random writes, any cuts ---------------------------------------------------

SCHEMA = pa.schema([("key", pa.string()), ("event_time", MS), ("value", pa.int64())])
PROPERTY = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
cuts = st.lists(st.sampled_from(["", "a", "b", "bb", "c", "cz", "d", "e", "f"]), max_size=4)


def streamed(table: azof.Table, merge_rows: int, **kwargs: Any) -> pa.Table:
    return table.to_batches(merge_rows=merge_rows, batch_size=3, **kwargs).read_all()


def oracle(rows: list[dict[str, Any]], as_of: Any) -> dict[str, tuple[Any, int]]:
    return {k: (r["event_time"], r["value"]) for k, r in latest_per_key(rows, as_of).items()}


def answer(table: pa.Table) -> dict[str, tuple[Any, int]]:
    return {r["key"]: (r["event_time"], r["value"]) for r in table.to_pylist()}


@PROPERTY
@given(ops=maintained_operations, days=as_of_days, merge_rows=st.integers(1, 6))
def test_stream_matches_scan_and_oracle(
    ops: list[tuple[Any, ...]], days: list[float | None], merge_rows: int
) -> None:
    table = lake().create_table("t", SCHEMA)
    written: list[dict[str, Any]] = []
    with mock.patch.object(azof.write.files, "ROW_GROUP_ROWS", 2):  # ranges in tiny tables
        for op in ops:
            apply_op(table, op)
            written += rows_of(op)
    for d in days:
        as_of = as_of_time(d)
        got = streamed(table, merge_rows, as_of=as_of)
        assert got.equals(table.scan(as_of=as_of))
        assert answer(got) == oracle(written, as_of)


@PROPERTY
@given(ops=maintained_operations, days=as_of_days, chosen=cuts)
def test_any_cuts_give_the_answer(
    ops: list[tuple[Any, ...]], days: list[float | None], chosen: list[str]
) -> None:
    """Correctness does not hang on where ranges are cut: any ascending keys will do,
    whether or not the table holds them."""
    table = lake().create_table("t", SCHEMA)
    written: list[dict[str, Any]] = []
    for op in ops:
        apply_op(table, op)
        written += rows_of(op)
    bounds = [pa.scalar(c) for c in sorted(set(chosen))]
    with mock.patch.object(stream, "key_bounds", return_value=bounds):
        for d in [None, *days]:
            as_of = as_of_time(d)
            got = streamed(table, 1, as_of=as_of)
            assert got.equals(table.scan(as_of=as_of))
            assert answer(got) == oracle(written, as_of)


def test_seed_tables_stream_whole_then_in_ranges_once_compacted(
    spy: RangeSpy, seed_copy: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seed files are not sorted: their buckets are merged whole. Compaction rewrites them
    sorted, and then the stream cuts ranges."""
    monkeypatch.setattr(azof.write.files, "ROW_GROUP_ROWS", 500)
    table = azof.Lakehouse(seed_copy("financials").parent).table("financials")
    for as_of in [None, "2019-01-17", "2012-06-30"]:
        check(table, merge_rows=1000, as_of=as_of)
    assert spy.steps
    assert spy.ranged() == 0
    table.compact()
    for as_of in [None, "2019-01-17"]:
        check(table, merge_rows=1000, as_of=as_of)
    assert spy.ranged() > 10
