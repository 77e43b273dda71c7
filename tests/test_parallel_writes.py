"""Appends cut a large bucket into key ranges, sorted and written in parallel: the answers
stay the oracle's (ties, deletes, compactions), every key stays in one file, files are
sorted."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import azof
import azof.write.files as files
from strategies import as_of_days, maintained_operations
from test_writes_oracle import check_sequence


@pytest.fixture(autouse=True)
def tiny_ranges() -> Iterator[None]:
    """Every bucket of more than one row is cut into up to 4 ranges."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(files, "PARALLEL_ROWS", 1)
        patch.setattr(files, "MAX_WRITERS", 4)
        patch.setattr(files.os, "cpu_count", lambda: 4)
        yield


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ops=maintained_operations, days=as_of_days, versions=st.lists(st.integers(0, 20), max_size=3)
)
def test_ranged_appends_match_oracle(
    ops: list[tuple[Any, ...]], days: list[float | None], versions: list[int]
) -> None:
    check_sequence(azof.Lakehouse(f"memory://{uuid.uuid4().hex}"), ops, days, versions)


def test_an_append_is_split_into_sorted_files_of_disjoint_keys() -> None:
    lake = azof.Lakehouse(f"memory://{uuid.uuid4().hex}")
    schema = pa.schema(
        [("key", pa.int64()), ("event_time", pa.timestamp("us", tz="UTC")), ("v", pa.int64())]
    )
    table = lake.create_table("t", schema)
    n = 10_000
    keys = [(i * 7919) % 1000 for i in range(n)]  # 1000 keys, ten rows each, shuffled
    times = [1_700_000_000_000_000 + (i % 3) for i in range(n)]  # ties on (key, time)
    table.append(pa.table({"key": keys, "event_time": times, "v": list(range(n))}, schema))
    written = list(table.snapshot.files())
    assert len(written) == 4
    seen: set[int] = set()
    for data_file in written:
        rows = pq.read_table(pa.BufferReader(table.storage.read(data_file.file)))
        file_keys = rows.column("key").to_pylist()
        assert file_keys == sorted(file_keys)
        assert not seen & set(file_keys)
        seen |= set(file_keys)
        assert data_file.sorted
        assert data_file.rows == rows.num_rows
    assert seen == set(keys)
    latest = table.scan()
    assert latest.num_rows == 1000
    # the last row of each (key, time) wins; time 2 is the greatest
    expected = {}
    for i, (k, t) in enumerate(zip(keys, times, strict=True)):
        if (k not in expected) or t >= expected[k][0]:
            expected[k] = (t, i)
    got = dict(zip(latest.column("key").to_pylist(), latest.column("v").to_pylist(), strict=True))
    assert got == {k: i for k, (_, i) in expected.items()}


@pytest.mark.parametrize("key_type", [pa.string(), pa.int64()])
def test_pivots_cut_evenly_and_skip_repeats(key_type: pa.DataType) -> None:
    values = list(range(1000))
    keys = pa.chunked_array(
        [
            pa.array(
                [str(v).zfill(4) if key_type == pa.string() else v for v in reversed(values)],
                key_type,
            )
        ]
    )
    pivots = files.key_pivots(keys, 4)
    assert len(pivots) == 3
    assert [p.as_py() for p in pivots] == sorted(p.as_py() for p in pivots)
    same = pa.chunked_array([pa.array([keys[0].as_py()] * 100, key_type)])
    assert len(files.key_pivots(same, 4)) == 1
    assert files.key_pivots(keys, 1) == []
    part = files.key_range(pa.table({"key": keys}), keys.combine_chunks(), pivots[0], pivots[1])
    assert pc.min(part.column("key")).as_py() == pivots[0].as_py()
    assert pc.max(part.column("key")).as_py() < pivots[1].as_py()
