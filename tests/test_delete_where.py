"""Delete by predicate (issue 15): ``t.delete(where=..., event_time=E)`` writes a tombstone
at E for every key whose state as of E matches, checked against the naive oracle under late
data, corrections, deletes and compaction; and ``azof delete --where``."""

from __future__ import annotations

import uuid
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import azof
from naive import latest_per_key
from strategies import (
    append_op,
    apply_op,
    as_of_days,
    as_of_time,
    compact_op,
    day,
    delete_op,
    rows_of,
)

SCHEMA = pa.schema(
    [("key", pa.string()), ("event_time", pa.timestamp("ms", tz="UTC")), ("value", pa.int64())]
)

delete_where_op = st.tuples(
    st.just("delete where"),
    st.sampled_from(["sql", "dnf", "expression"]),
    st.sampled_from([">", "<=", "="]),
    st.integers(-1000, 1000),
    st.integers(0, 30),
)
ops_with_delete_where = st.lists(
    st.one_of(append_op, append_op, delete_op, compact_op, delete_where_op, delete_where_op),
    min_size=1,
    max_size=10,
)


def predicate(form: str, op: str, bound: int) -> Any:
    if form == "sql":
        return f"value {op} {bound}"
    if form == "dnf":
        return [("value", op, bound)]
    field = pc.field("value")
    return {">": field > bound, "<=": field <= bound, "=": field == bound}[op]


def matches(value: int | None, op: str, bound: int) -> bool:
    if value is None:
        return False
    return {">": value > bound, "<=": value <= bound, "=": value == bound}[op]


def answer(table: azof.Table, as_of: Any) -> dict[str, tuple[Any, int]]:
    return {r["key"]: (r["event_time"], r["value"]) for r in table.scan(as_of).to_pylist()}


def expected(rows: list[dict[str, Any]], as_of: Any) -> dict[str, tuple[Any, int]]:
    return {k: (r["event_time"], r["value"]) for k, r in latest_per_key(rows, as_of).items()}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops_with_delete_where, days=as_of_days)
def test_delete_where_matches_the_oracle(ops: list[tuple[Any, ...]], days: list[Any]) -> None:
    table = azof.Lakehouse(f"memory://{uuid.uuid4().hex}").create_table("t", SCHEMA)
    written: list[dict[str, Any]] = []
    for op in ops:
        if op[0] != "delete where":
            apply_op(table, op)
            written += rows_of(op)
            continue
        _, form, comparison, bound, when = op
        state = latest_per_key(written, day(when))
        doomed = sorted(k for k, r in state.items() if matches(r["value"], comparison, bound))
        before = table.version
        version = table.delete(where=predicate(form, comparison, bound), event_time=day(when))
        assert (version == before) == (not doomed)
        written += [
            {"key": k, "event_time": day(when), "value": None, "_deleted": True} for k in doomed
        ]
        assert answer(table, day(when)) == expected(written, day(when))
    for d in days:
        assert answer(table, as_of_time(d)) == expected(written, as_of_time(d)), d


def filled_table() -> azof.Table:
    table = azof.Lakehouse(f"memory://{uuid.uuid4().hex}").create_table(
        "t", SCHEMA.append(pa.field("status", pa.string()))
    )
    table.append(
        [
            {"key": "a", "event_time": "2024-01-01", "value": 1, "status": "open"},
            {"key": "b", "event_time": "2024-01-01", "value": 2, "status": "closed"},
            {"key": "a", "event_time": "2024-03-01", "value": 3, "status": "closed"},
            {"key": "c", "event_time": "2024-01-01", "value": 4, "status": None},
        ]
    )
    return table


def test_delete_where_uses_the_state_as_of_its_event_time() -> None:
    table = filled_table()
    version = table.delete(where="status = 'closed'", event_time="2024-02-01")
    assert version == 2
    assert table.log(limit=1)[0].operation == "delete"
    assert sorted(table.scan("2024-02-01")["key"].to_pylist()) == ["a", "c"]  # b gone
    assert sorted(table.scan()["key"].to_pylist()) == ["a", "c"]  # a closed later: kept
    assert sorted(table.scan("2024-01-31")["key"].to_pylist()) == ["a", "b", "c"]
    # a null status matches neither the condition nor its negation (SQL)
    assert table.delete(where="status <> 'closed'", event_time="2024-02-01") == 3
    assert table.scan("2024-02-01")["key"].to_pylist() == ["c"]


def test_delete_where_without_event_time_deletes_now() -> None:
    table = filled_table()
    table.delete(where=[("value", ">=", 3)])
    assert table.scan()["key"].to_pylist() == ["b"]  # a (3) and c (4) deleted now...
    assert sorted(table.scan("2024-06-01")["key"].to_pylist()) == ["a", "b", "c"]  # not then


def test_delete_where_that_matches_nothing_commits_nothing() -> None:
    table = filled_table()
    assert table.delete(where="value > 100", event_time="2024-02-01") == 1
    assert table.refresh().version == 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: t.delete(["a"], "2024-01-01", where="value > 1"), "not both"),
        (lambda t: t.delete(), "needs the keys to delete or where"),
        (lambda t: t.delete(where="nope > 1"), "unknown column 'nope'"),
        (lambda t: t.delete(where="value >", event_time="2024-01-01"), "cannot parse"),
        (lambda t: t.delete(where="value > 1", event_time="soon"), "cannot read 'soon'"),
        (lambda t: t.delete(where=5), "filter cannot be a int"),
    ],
)
def test_bad_delete_where_writes_nothing(call: Any, message: str) -> None:
    table = filled_table()
    with pytest.raises(azof.InvalidArgumentError, match=message):
        call(table)
    assert table.refresh().version == 1
