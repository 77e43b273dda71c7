"""Property test: random interleavings of appends, deletes, schema changes (add, drop,
rename, widen, move, reorder; some refused) and compactions, read at random event times and
at older versions, equal an oracle that applies the same changes to plain rows.

The oracle keeps each row's values by column id, and a schema as a list of columns
``(id, name, type, default)``; a read projects the latest row per key (``naive``) onto the
schema of the version read: a column the row was written without reads its default.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import azof
from naive import latest_per_key
from strategies import KEYS, as_of_days, as_of_time, day

TYPES = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.float32(), pa.float64(),
         pa.string(), pa.large_string()]  # fmt: skip
WIDER = {
    pa.int8(): [pa.int16(), pa.int32(), pa.int64()],
    pa.int16(): [pa.int32(), pa.int64()],
    pa.int32(): [pa.int64()],
    pa.float32(): [pa.float64()],
    pa.string(): [pa.large_string()],
}
NAMES = ["v", "s", "px", "price", "qty", "w", "x", "y"]
DEFAULTS = {"int": 7, "float": 0.5, "string": "dflt"}


@dataclass(frozen=True)
class Col:
    id: int
    name: str
    type: pa.DataType
    nullable: bool = True
    default: Any = None


def kind(dtype: pa.DataType) -> str:
    if pa.types.is_integer(dtype):
        return "int"
    return "float" if pa.types.is_floating(dtype) else "string"


def value(seed: int, column: Col) -> Any:
    """A value of the row seed for a column, fitting every type it can widen to."""
    return {"int": seed + column.id, "float": seed / 4, "string": f"s{seed}:{column.id}"}[
        kind(column.type)
    ]


# -- strategies ------------------------------------------------------------------------------

target = st.integers(0, 11)  # 0: key, 1: event_time, else a value column
add_change = st.tuples(
    st.just("add"), st.sampled_from(NAMES), st.sampled_from(TYPES), st.booleans(), st.booleans()
)
schema_change = st.one_of(
    add_change,
    add_change,
    st.tuples(st.just("drop"), target),
    st.tuples(st.just("rename"), target, st.sampled_from(NAMES)),
    st.tuples(st.just("widen"), target, st.sampled_from(TYPES)),
    st.tuples(st.just("move"), target, target, st.booleans()),
    st.tuples(st.just("reorder"), st.integers(0, 1000)),
)  # fmt: skip
evolve_op = st.tuples(st.just("evolve"), st.lists(schema_change, min_size=1, max_size=3))
append_op = st.tuples(
    st.just("append"),
    st.lists(st.tuples(st.sampled_from(KEYS), st.integers(0, 30), st.integers(-50, 50)),
             min_size=1, max_size=6),
    st.integers(0, 15),  # bit i set: leave the i-th value column out of this append
)  # fmt: skip
delete_op = st.tuples(
    st.just("delete"), st.lists(st.sampled_from(KEYS), min_size=1, max_size=2, unique=True),
    st.integers(0, 30),
)  # fmt: skip
compact_op = st.tuples(st.just("compact"), st.sampled_from(["year", "quarter", "month"]),
                       st.sampled_from([0, 1, 2]))  # fmt: skip
evolution_operations = st.lists(
    st.one_of(append_op, append_op, delete_op, evolve_op, evolve_op, compact_op),
    min_size=1,
    max_size=12,
)


# -- the oracle ------------------------------------------------------------------------------


class Refused(Exception):
    """The oracle's verdict: azof must refuse this evolve and change nothing."""


def target_name(columns: list[Col], index: int) -> str:
    if index < 2:
        return ["key", "event_time"][index]
    return columns[(index - 2) % len(columns)].name if columns else "nope"


def _target(change: tuple[Any, ...]) -> int:
    """The column a change is about; renames pick value columns (renaming the key or the
    event time is allowed and changes the format: tests/test_named_keys.py covers it)."""
    return max(change[1], 2) if change[0] == "rename" else int(change[1])


def find(columns: list[Col], name: str) -> Col:
    for column in columns:
        if column.name == name:
            return column
    raise Refused(name)


def call_for(columns: list[Col], change: tuple[Any, ...]) -> Any:
    """The update method call that makes ``change`` (names resolved as the oracle does)."""
    op = change[0]
    if op == "add":
        _, name, dtype, nullable, with_default = change
        default = DEFAULTS[kind(dtype)] if with_default else None
        return lambda u: u.add_column(name, dtype, nullable=nullable, default=default)
    if op == "reorder":
        order = list(columns)
        random.Random(change[1]).shuffle(order)
        return lambda u: u.reorder([c.name for c in order])
    name = target_name(columns, _target(change))
    if op == "drop":
        return lambda u: u.drop_column(name)
    if op == "rename":
        return lambda u: u.rename_column(name, change[2])
    if op == "widen":
        return lambda u: u.widen(name, change[2])
    anchor = target_name(columns, change[2])
    where = {"before": anchor} if change[3] else {"after": anchor}
    return lambda u: u.move_column(name, **where)


def oracle_change(
    columns: list[Col], next_id: int, change: tuple[Any, ...]
) -> tuple[list[Col], int]:
    """The oracle schema after one change; :class:`Refused` if azof must refuse it."""
    names = [c.name for c in columns]
    op = change[0]
    if op == "add":
        _, name, dtype, nullable, with_default = change
        default = DEFAULTS[kind(dtype)] if with_default else None
        if name in names or (not nullable and default is None):
            raise Refused(change)
        return [*columns, Col(next_id, name, dtype, nullable, default)], next_id + 1
    if op == "reorder":
        order = list(columns)
        random.Random(change[1]).shuffle(order)
        return order, next_id
    column = find(columns, target_name(columns, _target(change)))
    if op == "drop":
        return [c for c in columns if c.id != column.id], next_id
    if op == "rename":
        if change[2] in names:
            raise Refused(change)
        return [replace(c, name=change[2]) if c.id == column.id else c for c in columns], next_id
    if op == "widen":
        if change[2] not in WIDER.get(column.type, []):
            raise Refused(change)
        return [replace(c, type=change[2]) if c.id == column.id else c for c in columns], next_id
    anchor = find(columns, target_name(columns, change[2]))
    if anchor.id == column.id:
        raise Refused(change)
    rest = [c for c in columns if c.id != column.id]
    at = rest.index(anchor) + (0 if change[3] else 1)
    return [*rest[:at], column, *rest[at:]], next_id


@dataclass
class Oracle:
    columns: list[Col]
    next_id: int
    rows: list[dict[str, Any]]

    def answer(self, as_of: Any) -> dict[str, tuple[Any, ...]]:
        latest = latest_per_key(self.rows, as_of)
        return {
            key: (row["event_time"], *(row["values"].get(c.id, c.default) for c in self.columns))
            for key, row in latest.items()
        }

    def schema(self) -> list[tuple[str, pa.DataType]]:
        return [(c.name, c.type) for c in self.columns]


def answer(table: azof.Table, **kwargs: Any) -> tuple[list[tuple[str, pa.DataType]], dict]:
    scanned = table.scan(**kwargs)
    schema = [(f.name, f.type) for f in scanned.schema][2:]
    names = scanned.column_names[1:]
    return schema, {r["key"]: tuple(r[n] for n in names) for r in scanned.to_pylist()}


def apply(table: azof.Table, oracle: Oracle, op: tuple[Any, ...]) -> Oracle:
    if op[0] == "compact":
        table.compact(azof.CompactionPolicy(segment=op[1], buckets=op[2], bucket_keys=2))
        return oracle
    if op[0] == "delete":
        table.delete(op[1], event_time=day(op[2]))
        gone = [{"key": k, "event_time": day(op[2]), "_deleted": True, "values": {}} for k in op[1]]
        return replace(oracle, rows=oracle.rows + gone)
    if op[0] == "append":
        kept = [c for i, c in enumerate(oracle.columns) if not (op[2] >> i) & 1]
        data = [
            {"key": k, "event_time": day(d), **{c.name: value(v, c) for c in kept}}
            for k, d, v in op[1]
        ]
        table.append(data)
        written = [
            {"key": k, "event_time": day(d), "_deleted": False,
             "values": {c.id: value(v, c) if c in kept else c.default for c in oracle.columns}}
            for k, d, v in op[1]
        ]  # fmt: skip
        return replace(oracle, rows=oracle.rows + written)
    columns, next_id, update = oracle.columns, oracle.next_id, table.evolve()
    before = table.version
    for change in op[1]:
        call = call_for(columns, change)
        try:
            columns, next_id = oracle_change(columns, next_id, change)
        except Refused:
            with pytest.raises(azof.InvalidArgumentError, match="table 't': cannot"):
                call(update)
            assert table.refresh().version == before, op  # nothing of the update landed
            event(f"refused: {change[0]}")
            return oracle
        update = call(update)
    assert update.commit() == before + 1
    event(f"evolved: {', '.join(change[0] for change in op[1])}")
    return replace(oracle, columns=columns, next_id=next_id)


PROPERTY = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(ops=evolution_operations, days=as_of_days, picks=st.lists(st.integers(0, 30), max_size=3))
def test_evolution_matches_oracle(
    ops: list[tuple[Any, ...]], days: list[float | None], picks: list[int]
) -> None:
    lake = azof.Lakehouse(f"memory://{uuid.uuid4().hex}")
    first = [("v", pa.int16()), ("s", pa.string())]
    table = lake.create_table(
        "t", pa.schema([("key", pa.string()), ("event_time", pa.timestamp("ms", "UTC")), *first])
    )
    oracle = Oracle([Col(i + 1, n, t) for i, (n, t) in enumerate(first)], 3, [])
    landed = [(0, oracle)]
    for op in ops:
        oracle = apply(table, oracle, op)
        landed.append((table.version, oracle))
    times = [as_of_time(d) for d in days]
    for as_of in times:
        assert answer(table, as_of=as_of) == (oracle.schema(), oracle.answer(as_of)), as_of
    for pick in picks:  # older versions answer with their own schema
        version, then = landed[pick % len(landed)]
        for as_of in times[:2]:
            expected = (then.schema(), then.answer(as_of))
            assert answer(table, as_of=as_of, version=version) == expected, (version, as_of)
    reopened = lake.table("t")
    assert answer(reopened) == (oracle.schema(), oracle.answer(None))
    if oracle.columns:  # a subset of the columns, in the order asked
        last = oracle.columns[-1].name
        scanned = reopened.scan(columns=[last, "key"])
        assert scanned.column_names == [last, "key"]
        position = len(oracle.columns)
        expected_last = {k: v[position] for k, v in oracle.answer(None).items()}
        assert dict(zip(scanned["key"].to_pylist(), scanned[last].to_pylist(), strict=True)) == (
            expected_last
        )
