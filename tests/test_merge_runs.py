"""The merge of sorted runs (``merge_sorted_runs``) against the general merge
(``merge_latest``), and the order codes it sorts by, on random runs of every key kind."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from azof.scan.merge import PRIORITY, merge_latest, merge_sorted_runs, order_codes

STRING_KEYS = st.one_of(
    st.sampled_from(["", "a", "a\x00", "a\x00b", "ab", "b", "é", "\x7f", "\x80", "zz"]),
    st.text(max_size=10),
    st.text(alphabet="ab", min_size=7, max_size=9),  # around the 8-byte codes
    st.text(alphabet="ab", min_size=60, max_size=70),  # around the widest codes
)
KINDS: dict[str, tuple[pa.DataType, st.SearchStrategy[Any]]] = {
    "string": (pa.string(), STRING_KEYS),
    "large_string": (pa.large_string(), STRING_KEYS),
    "fixed width": (pa.string(), st.text(alphabet="xyz\u00e9", min_size=3, max_size=3)),
    "int64": (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    "int8": (pa.int8(), st.integers(-128, 127)),
    "uint64": (pa.uint64(), st.integers(0, 2**64 - 1)),
    "date32": (pa.date32(), st.integers(-5, 5)),
    "timestamp": (pa.timestamp("us", tz="UTC"), st.integers(-(2**40), 2**40)),
}


def _runs(kind: str, data: st.DataObject) -> pa.Table:
    """Runs (one per priority, in random priority order), each sorted by key then time;
    times from a small set so that ties across runs are common."""
    dtype, keys = KINDS[kind]
    pool = data.draw(st.lists(keys, min_size=1, max_size=6, unique=True))
    run_count = data.draw(st.integers(1, 4))
    priorities = data.draw(st.permutations(range(run_count)))
    rows: list[tuple[Any, int, int, int]] = []
    for priority in priorities:
        run = data.draw(st.lists(st.tuples(st.sampled_from(pool), st.integers(0, 3)), max_size=10))
        ordered = sorted(run, key=lambda r: (_order(dtype, r[0]), r[1]))
        rows.extend((key, time, priority, number) for number, (key, time) in enumerate(ordered))
    return pa.table(
        {
            "key": pa.array([r[0] for r in rows], dtype),
            "event_time": pa.array([r[1] for r in rows], pa.timestamp("ms", tz="UTC")),
            "value": pa.array([r[3] for r in rows], pa.int64()),
            PRIORITY: pa.array([r[2] for r in rows], pa.int32()),
        }
    )


def _order(dtype: pa.DataType, key: Any) -> Any:
    return key.encode() if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) else key


def _last_per_key_and_time(table: pa.Table) -> pa.Table:
    """Within each run keep the last row of each (key, event_time): a sorted run's
    candidate is its last row, the general merge takes the first in input order."""
    keep = []
    rows = table.to_pylist()
    for index, row in enumerate(rows):
        following = rows[index + 1] if index + 1 < len(rows) else None
        same = following is not None and all(
            following[c] == row[c] for c in ("key", "event_time", PRIORITY)
        )
        if not same:
            keep.append(index)
    return table.take(pa.array(keep, pa.int64()))


@pytest.mark.parametrize("kind", sorted(KINDS))
@given(data=st.data())
@settings(max_examples=60, deadline=None)
def test_merge_sorted_runs_agrees_with_the_general_merge(kind: str, data: st.DataObject) -> None:
    table = _runs(kind, data)
    up_to = data.draw(st.one_of(st.none(), st.integers(-1, 4)))
    got = merge_sorted_runs(table, ["key"], "event_time", up_to)
    if up_to is not None:  # rows after up_to are left out before the merge
        table = table.filter(pc.field("event_time") <= pa.scalar(up_to, table["event_time"].type))
    expected = merge_latest(_last_per_key_and_time(table), ["key"], "event_time")
    assert got.to_pylist() == expected.to_pylist()


@pytest.mark.parametrize("kind", sorted(KINDS))
@given(data=st.data())
@settings(max_examples=40, deadline=None)
def test_order_codes_order_like_the_keys(kind: str, data: st.DataObject) -> None:
    dtype, keys = KINDS[kind]
    values = data.draw(st.lists(keys, max_size=12))
    array = pa.array(values, dtype)
    codes = order_codes(pa.chunked_array([array[:3], array[3:]], dtype))
    if codes is None:  # only strings with zero bytes or longer than the widest code
        assert any("\x00" in v or len(v.encode()) > 64 for v in values)
        return
    expected = sorted(range(len(values)), key=lambda i: (_order(dtype, values[i]), i))
    assert list(np.argsort(codes, kind="stable")) == expected
    for i in range(len(values) - 1):
        assert (codes[i] == codes[i + 1]) == (values[i] == values[i + 1])
