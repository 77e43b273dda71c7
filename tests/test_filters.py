"""``filter=`` as users write it (issue 15): SQL text, DNF tuples or a pyarrow expression,
resolved by one function (azof.filters.resolve_filter) for every read path."""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import azof
from azof.scan.read import ScanMetrics

SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("event_time", pa.timestamp("ms", tz="UTC")),
        ("industry", pa.string()),
        ("revenue", pa.float64()),
        ("staff", pa.int32()),
        ("founded", pa.date32()),
    ]
)
ROWS = [
    ("a", "Software", 2e9, 10, date(2001, 1, 1)),
    ("b", "Software", 5e8, None, date(1999, 5, 1)),
    ("c", "Retail", 3e9, 30, None),
    ("d", None, 1e9, 40, date(2010, 1, 1)),
    ("e", "Energy", None, 50, date(2020, 2, 2)),
]


@pytest.fixture(scope="module")
def table() -> azof.Table:
    t = azof.Lakehouse(f"memory://{uuid.uuid4().hex}").create_table("firms", SCHEMA)
    t.append(
        [
            {"key": k, "event_time": "2024-01-01", "industry": i, "revenue": r, "staff": s,
             "founded": f}
            for k, i, r, s, f in ROWS
        ]
    )  # fmt: skip
    t.put("a", "2024-06-01", industry="Software", revenue=2.5e9, staff=11)
    return t


def keys(t: azof.Table, filter: Any, **kwargs: Any) -> list[str]:
    return sorted(t.scan(filter=filter, **kwargs).column("key").to_pylist())


@pytest.mark.parametrize(
    ("sql", "dnf", "expression", "expected"),
    [
        (
            "industry = 'Software' AND revenue > 1e9",
            [("industry", "=", "Software"), ("revenue", ">", 1e9)],
            (pc.field("industry") == "Software") & (pc.field("revenue") > 1e9),
            ["a"],
        ),
        (
            "industry = 'Retail' OR staff >= 40",
            [[("industry", "==", "Retail")], [("staff", ">=", 40)]],
            (pc.field("industry") == "Retail") | (pc.field("staff") >= 40),
            ["c", "d", "e"],
        ),
        (
            "industry IN ('Energy', 'Retail')",
            [("industry", "in", ["Energy", "Retail"])],
            pc.field("industry").isin(["Energy", "Retail"]),
            ["c", "e"],
        ),
        (
            "industry NOT IN ('Software')",
            [("industry", "not in", {"Software"})],
            ~pc.field("industry").isin(["Software"]) & pc.field("industry").is_valid(),
            ["c", "e"],  # SQL: a null industry is in no list and out of none
        ),
        (
            "founded < DATE '2005-01-01'",
            [("founded", "<", date(2005, 1, 1))],
            pc.field("founded") < pa.scalar(date(2005, 1, 1)),
            ["b"],  # a's latest row has no founded date
        ),
        (
            "event_time > '2024-03-01'",
            [("event_time", ">", "2024-03-01")],
            pc.field("event_time") > pa.scalar(datetime(2024, 3, 1, tzinfo=UTC)),
            ["a"],
        ),
        (
            "staff <> 10 AND revenue <= 3e9",
            [("staff", "!=", 10), ("revenue", "<=", 3_000_000_000)],
            (pc.field("staff") != 10) & (pc.field("revenue") <= 3e9),
            ["a", "c", "d"],
        ),
        ("key = 'b'", ("key", "=", "b"), pc.field("key") == "b", ["b"]),
    ],
)
def test_sql_dnf_and_expressions_answer_alike(
    table: azof.Table, sql: str, dnf: Any, expression: pc.Expression, expected: list[str]
) -> None:
    for form in (sql, dnf, expression):
        assert keys(table, form) == expected
        assert sorted(table.to_batches(filter=form).read_all().column("key").to_pylist()) == (
            expected
        )
        assert sorted(table.to_pandas(filter=form)["key"]) == expected


def test_filters_hold_as_of_an_event_time_and_version(table: azof.Table) -> None:
    assert keys(table, [("staff", "=", 10)], as_of="2024-02-01") == ["a"]
    assert keys(table, "staff = 11", as_of="2024-02-01") == []
    assert keys(table, "staff = 11", version=1) == []
    assert keys(table, [("staff", "=", 11)]) == ["a"]


def test_a_key_filter_in_any_form_is_pushed_down(table: azof.Table) -> None:
    for form in ("key = 'c'", [("key", "=", "c")], pc.field("key") == "c"):
        metrics = ScanMetrics()
        assert keys(table, form, metrics=metrics) == ["c"]
        assert metrics.files_read <= 1


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("nope = 1", "unknown column 'nope'"),
        ([("nope", "=", 1)], "unknown column 'nope'"),
        (pc.field("nope") == 1, "does not fit the table"),
        ([("staff", "~", 1)], "unknown operator '~'"),
        ([("staff", "in", 5)], "takes a list of values"),
        ([("staff", "=", object())], "cannot be compared"),
        ([("staff", "=", float("nan"))], "cannot be compared"),
        ([], "empty list"),
        ([("staff", "=", 1), [("staff", "=", 2)]], "mixes conditions"),
        ([("staff", "=")], "not a condition"),
        ([("staff", "=", "many")], "staff"),
        (5, "filter cannot be a int"),
        ("staff >", "cannot parse"),
    ],
)
def test_bad_filters_are_clear_errors(table: azof.Table, bad: Any, message: str) -> None:
    with pytest.raises(azof.InvalidArgumentError, match=message):
        table.scan(filter=bad)


# -- property: DNF tuples against a naive evaluation of SQL's three-valued logic ------------

OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
INDUSTRIES = ["Energy", "Retail", "Software", "X"]
conditions = st.one_of(
    st.tuples(st.just("staff"), st.sampled_from(list(OPS)), st.integers(0, 60)),
    st.tuples(st.just("industry"), st.sampled_from(list(OPS)), st.sampled_from(INDUSTRIES)),
    st.tuples(
        st.just("staff"),
        st.sampled_from(["in", "not in"]),
        st.lists(st.integers(0, 60), min_size=1, max_size=3),
    ),
)


def holds(row: dict[str, Any], condition: tuple[str, str, Any]) -> bool:
    name, op, value = condition
    if row[name] is None:
        return False  # unknown: the row is not returned, whatever the operator
    if op == "in":
        return row[name] in value
    if op == "not in":
        return row[name] not in value
    return OPS[op](row[name], value)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(conditions, min_size=1, max_size=3), min_size=1, max_size=3))
def test_dnf_matches_a_naive_evaluation(table: azof.Table, dnf: list[list[Any]]) -> None:
    rows = table.scan().to_pylist()
    expected = sorted(r["key"] for r in rows if any(all(holds(r, c) for c in conj) for conj in dnf))
    assert keys(table, dnf) == expected
