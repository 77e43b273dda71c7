"""Hypothesis strategies shared by the property tests: random write sequences.

An operation is ``("append", rows)`` with rows ``(key, day, value)``, ``("delete", keys,
day)`` or ``("read",)`` (a point where tests may check a read). Keys and days come from
small sets so that ties, corrections, late and out-of-order rows are common.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Layout:
    """How a test table names its key and event time. The oracle's keys are the values of
    ``keys`` (the letters of ``KEYS`` themselves for the plain layout; tuples of the key
    columns' values for a composite key), so the oracle orders them as the table must."""

    names: tuple[str, ...]
    time: str
    fields: tuple[pa.Field[Any], ...]
    keys: dict[str, Any]

    def schema(self, *values: pa.Field[Any]) -> pa.Schema:
        time = pa.field(self.time, pa.timestamp("ms", tz="UTC"))
        return pa.schema([*self.fields, time, *values])

    def create(self, lake: azof.Lakehouse, name: str, *values: pa.Field[Any]) -> azof.Table:
        key = self.names if len(self.names) > 1 else self.names[0]
        return lake.create_table(name, self.schema(*values), key=key, event_time=self.time)

    def key_of(self, row: dict[str, Any]) -> Any:
        """The oracle's key of an answer's row."""
        if len(self.names) == 1:
            return row[self.names[0]]
        return tuple(row[name] for name in self.names)

    def columns(self, keys: list[Any]) -> dict[str, list[Any]]:
        """The key columns of the oracle's ``keys``."""
        if len(self.names) == 1:
            return {self.names[0]: list(keys)}
        return {name: [k[i] for k in keys] for i, name in enumerate(self.names)}

    def translate(self, ops: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """``ops`` with the letters of ``KEYS`` replaced by this layout's keys."""
        out: list[tuple[Any, ...]] = []
        for op in ops:
            if op[0] == "append":
                out.append((op[0], [(self.keys[k], d, v) for k, d, v in op[1]]))
            elif op[0] == "delete":
                out.append((op[0], [self.keys[k] for k in op[1]], op[2]))
            else:
                out.append(op)
        return out

    def oracle_keys(self, letters: list[str] | None) -> list[Any] | None:
        return None if letters is None else [self.keys[k] for k in letters]


PLAIN = Layout(
    ("key",), "event_time", (pa.field("key", pa.string()),), {k: k for k in [*KEYS, "zz"]}
)
COMPOSITE = Layout(
    ("sensor_id", "metric"),
    "reading_ts",
    (pa.field("sensor_id", pa.string()), pa.field("metric", pa.int32())),
    # tuples whose order (lexicographic, the int column numerically) is not the letters'
    {"a": ("y", 1), "b": ("x", 10), "c": ("x", 2), "d": ("x", -3), "e": ("", 7), "zz": ("zz", 0)},
)
"""A composite key of mixed types (string + int32) and an event time of its own name."""


def _delete_keys(layout: Layout, keys: list[Any], day_number: int) -> Any:
    """The keys of a delete in one of the forms ``delete`` takes (a composite key: a list of
    tuples, a dict of lists or an Arrow table of the key columns, by the day)."""
    if len(layout.names) == 1 or day_number % 3 == 0:
        return keys
    if day_number % 3 == 1:
        return layout.columns(keys)
    return pa.table(layout.columns(keys), pa.schema(layout.fields))


def apply_op(
    table: azof.Table, op: tuple[Any, ...], *, bucketed: bool = True, layout: Layout = PLAIN
) -> int:
    """Run one operation on ``table``; the version after it. A compaction uses the op's
    hash buckets (0: auto, 2 keys a bucket) unless not ``bucketed`` (the default policy's).
    Keys are the ``layout``'s (translate the ops first)."""
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
        times = pa.array([day(d) for _, d, _ in op[1]], table.schema.field(layout.time).type)
        data = {**layout.columns([k for k, _, _ in op[1]]), layout.time: times,
                "value": [v for _, _, v in op[1]]}  # fmt: skip
        table.append(pa.table(data, table.schema))
    else:
        table.delete(_delete_keys(layout, op[1], op[2]), event_time=day(op[2]))
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
