"""Hypothesis strategies shared by the property tests: random write sequences.

An operation is ``("append", rows)`` with rows ``(key, day, value)``, ``("delete", keys,
day)`` or ``("read",)`` (a point where tests may check a read). Keys and days come from
small sets so that ties, corrections, late and out-of-order rows are common.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from hypothesis import strategies as st

import azof

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
KEYS = ["a", "b", "c", "d", "e"]


def day(n: int) -> datetime:
    """Event day ``n``: 13 days apart, so that 31 days span a year (many segments)."""
    return EPOCH + timedelta(days=13 * n)


row = st.tuples(st.sampled_from(KEYS), st.integers(0, 30), st.integers(-1000, 1000))
append_op = st.tuples(st.just("append"), st.lists(row, min_size=1, max_size=8))
delete_op = st.tuples(
    st.just("delete"),
    st.lists(st.sampled_from(KEYS), min_size=1, max_size=3, unique=True),
    st.integers(0, 30),
)
write_op = st.one_of(append_op, append_op, delete_op)
operations = st.lists(write_op, min_size=1, max_size=8)
compact_op = st.tuples(
    st.just("compact"),
    st.sampled_from(["year", "quarter", "month", "week", "day"]),
    st.sampled_from([0, 0, 1, 2, 3]),  # hash buckets; 0 = auto (with 2 keys per bucket)
)
vacuum_op = st.tuples(st.just("vacuum"), st.integers(1, 4))
maintained_operations = st.lists(
    st.one_of(append_op, append_op, append_op, delete_op, compact_op, compact_op, vacuum_op),
    min_size=1,
    max_size=12,
)
as_of_days = st.lists(
    st.one_of(
        st.none(),
        st.builds(lambda d, half: d + half, st.integers(-1, 32), st.sampled_from([0.0, 0.5])),
    ),
    min_size=1,
    max_size=6,
)


def as_of_time(d: float | None) -> datetime | None:
    return None if d is None else EPOCH + timedelta(days=13 * d)


def rows_of(op: tuple[Any, ...]) -> list[dict[str, Any]]:
    """The oracle's rows for one write operation, in input order (none for maintenance)."""
    if op[0] in ("compact", "vacuum"):
        return []
    if op[0] == "append":
        return [
            {"key": k, "event_time": day(d), "value": v, "_deleted": False} for k, d, v in op[1]
        ]
    return [{"key": k, "event_time": day(op[2]), "value": None, "_deleted": True} for k in op[1]]


def apply_op(table: azof.Table, op: tuple[Any, ...], *, bucketed: bool = True) -> int:
    """Run one operation on ``table``; the version after it. A compaction uses the op's
    hash buckets (0: auto, 2 keys a bucket) unless not ``bucketed`` (the default policy's)."""
    if op[0] == "compact":
        if bucketed:
            buckets = op[2] if len(op) > 2 else 0
            policy = azof.CompactionPolicy(segment=op[1], buckets=buckets, bucket_keys=2)
        else:
            policy = azof.CompactionPolicy(segment=op[1])
        table.compact(policy)
    elif op[0] == "vacuum":
        table.vacuum(retain_versions=op[1], grace="0s")
    elif op[0] == "append":
        times = pa.array([day(d) for _, d, _ in op[1]], table.schema.field("event_time").type)
        data = {"key": [k for k, _, _ in op[1]], "event_time": times,
                "value": [v for _, _, v in op[1]]}  # fmt: skip
        table.append(pa.table(data, table.schema))
    else:
        table.delete(op[1], event_time=day(op[2]))
    return table.version


# -- temporal queries (tests/temporal) ------------------------------------------------------

optional_day = st.one_of(
    st.none(),
    st.builds(lambda d, half: d + half, st.integers(-1, 32), st.sampled_from([0.0, 0.5])),
)
windows = st.tuples(optional_day, optional_day).map(
    lambda w: w if None in w or w[0] <= w[1] else (w[1], w[0])
)
"""``(start, end)`` event days, either open (``None``), ``start <= end``."""
key_choices = st.one_of(
    st.none(), st.lists(st.sampled_from([*KEYS, "zz"]), min_size=0, max_size=3, unique=True)
)
"""``None`` (every key) or a few keys, perhaps one the table never held."""
left_rows = st.lists(
    st.tuples(
        st.sampled_from([*KEYS, "zz"]),
        st.builds(lambda d, frac: d + frac, st.integers(-2, 32), st.sampled_from([0.0, 0.5])),
    ),
    min_size=0,
    max_size=40,
)
"""Rows of a frame to join: ``(key, event day)`` at events, between them, before the first."""
