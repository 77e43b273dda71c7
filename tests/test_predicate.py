"""``azof.predicate``: SQL predicates as pyarrow expressions, checked against DuckDB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from azof import InvalidArgumentError
from azof.predicate import UnsupportedPredicateError, parse_predicate, translate_predicate

MS = 86_400_000  # one day in milliseconds
ROWS = pa.table(
    {
        "key": pa.array(["a", "b", "c", "d", "e", "f"]),
        "n": pa.array([1, 2, None, 4, -5, 2], pa.int64()),
        "f": pa.array([1.5, None, 3.0, 4.0, -0.5, 2.0], pa.float64()),
        "s": pa.array(["abc", "ABD", None, "x_y", "50%", "a\\b"]),
        "b": pa.array([True, False, None, True, False, None]),
        "ts": pa.array([0, MS, 2 * MS, None, 4 * MS, 5 * MS], pa.timestamp("ms", "UTC")),
        "naive": pa.array([0, MS * 1000, None, 3 * MS * 1000, 0, 0], pa.timestamp("us")),
        "Mixed Case": pa.array([10, 20, 30, 40, 50, 60], pa.int32()),
    }
)


def keys(sql: str) -> list[str]:
    return ROWS.filter(parse_predicate(sql, ROWS.schema))["key"].to_pylist()


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("key = 'a'", "a"),
        ("n = 2", "bf"),
        ("n <> 2", "ade"),
        ("n != 2", "ade"),
        ("n == 2", "bf"),
        ("n < 2", "ae"),
        ("n <= 2", "abef"),
        ("n > 1", "bdf"),
        ("n >= 4", "d"),
        ("2 < n", "d"),
        ("n = -5", "e"),
        ("n > 1.5", "bdf"),
        ("n = '4'", "d"),
        ("f = 1.5", "a"),
        ("f > 2", "cd"),
        ("f < 0", "e"),
        ("n IN (1, 4)", "ad"),
        ("n NOT IN (1, 4)", "bef"),
        ("n IN (1, NULL)", "a"),
        ("n NOT IN (1, NULL)", ""),
        ("key IN ('a', 'f', 'zz')", "af"),
        ("n BETWEEN 1 AND 2", "abf"),
        ("n NOT BETWEEN 1 AND 2", "de"),
        ("n IS NULL", "c"),
        ("n IS NOT NULL", "abdef"),
        ("n = NULL", ""),
        ("NOT n = 2", "ade"),
        ("NOT (n = 2 OR n = 1)", "de"),
        ("(n = 2 OR n = 1) AND f > 1.6", "f"),
        ("n = 2 OR n = 1 AND f > 1.6", "bf"),
        ("s LIKE 'a%'", "af"),
        ("s LIKE 'AB_'", "b"),
        ("s NOT LIKE 'a%'", "bde"),
        ("s ILIKE 'ab%'", "ab"),
        ("s NOT ILIKE 'ab%'", "def"),
        ("s LIKE 'x!_y' ESCAPE '!'", "d"),
        ("s LIKE '%!%' ESCAPE '!'", "e"),
        ("s LIKE 'a\\b'", "f"),
        ("b", "ad"),
        ("NOT b", "be"),
        ("b = TRUE", "ad"),
        ("b = 'false'", "be"),
        ("b IS TRUE", "ad"),
        ("b IS NOT TRUE", "bcef"),
        ("b IS FALSE", "be"),
        ("b IS NOT FALSE", "acdf"),
        ("TRUE", "abcdef"),
        ("FALSE", ""),
        ("NULL", ""),
        ("1 = 1", "abcdef"),
        ("ts >= '1970-01-03'", "cef"),
        ("ts < TIMESTAMP '1970-01-02 00:00:00'", "a"),
        ("ts = '1970-01-02T00:00:00Z'", "b"),
        ("ts = '1970-01-02T02:00:00+02:00'", "b"),
        ("ts = '1970-01-02T00:00:00.000000001'", ""),
        ("ts > '1970-01-02T00:00:00.000000001'", "cef"),
        ("ts IN ('1970-01-01', '1970-01-05', '1970-01-05T00:00:00.5')", "ae"),
        ("ts BETWEEN DATE '1970-01-02' AND '1970-01-05'", "bce"),
        ("naive >= TIMESTAMP '1970-01-02'", "bd"),
        ("naive = DATE '1970-01-04'", "d"),
        ('"Mixed Case" > 30', "def"),
        ("N = 1 AND KEY = 'a'", "a"),
        ("((n = 1))", "a"),
        ("n = 1 -- a comment", "a"),
        ("key = 'it''s'", ""),
    ],
)
def test_translation(sql: str, expected: str) -> None:
    assert "".join(keys(sql)) == expected


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("n =", "cannot parse the predicate 'n ='"),
        ("n = 'abc", "cannot parse"),
        ("n = 1 s", "unexpected 's'"),
        ("n = 1; DROP TABLE t", "must be one condition"),
        ("nope = 1", "unknown column 'nope'"),
        ('"N" = 1', "unknown column 'N'"),
        ("key = 5", "5 cannot be compared with key, which is string"),
        ("n = 'abc'", "'abc' does not fit column n (int64)"),
        ("n = TRUE", "TRUE cannot be compared with n"),
        ("ts > 5", "use a timestamp"),
        ("ts > 'yesterday'", "cannot read 'yesterday' as a timestamp"),
        ("naive > TIMESTAMP 'soon'", "cannot read 'soon' as a timestamp"),
        ("ts = DATE '2024-02-30'", "is not a date"),
        ('"Mixed Case" = 3000000000', "does not fit column"),
        ("n", "'n' is not a condition"),
        ("1", "'1' is not a condition"),
        ("n LIKE '1%'", "LIKE needs a string column"),
        ("s LIKE n", "must be a string literal"),
        ("s LIKE 'a' ESCAPE '!!'", "ESCAPE takes one character"),
        ("key = n", "does not fit the column types"),
        ("n IN ()", "IN needs at least one value"),
    ],
)
def test_invalid(sql: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        parse_predicate(sql, ROWS.schema)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("lower(s) = 'abc'", "LOWER(s)"),
        ("n + 1 > 2", "n + 1"),
        ("t.n = 1", "t.n"),
        ("n IN (SELECT 1)", "SELECT 1"),
        ("n IN (n, 1)", "not 'n'"),
        ("n IS 5", "n IS 5"),
        ("n BETWEEN SYMMETRIC 2 AND 1", "SYMMETRIC"),
        ("n = CAST('1' AS INT)", "CAST('1' AS INT)"),
        ("ts > CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"),
        ("n IS DISTINCT FROM 1", "n IS DISTINCT FROM 1"),
        ("SELECT 1", "SELECT 1"),
    ],
)
def test_unsupported_names_the_text(sql: str, named: str) -> None:
    with pytest.raises(UnsupportedPredicateError) as info:
        parse_predicate(sql, ROWS.schema)
    assert named in str(info.value)


def test_unknown_column_lists_the_columns() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        parse_predicate("value = 1", ROWS.schema)
    assert str(info.value) == (
        "unknown column 'value' in the predicate; columns: key, n, f, s, b, ts, naive, Mixed Case"
    )


def test_timestamp_literal_takes_the_column_unit() -> None:
    schema = pa.schema([("ts", pa.timestamp("ms", "UTC"))])
    expression = parse_predicate("ts = '2024-03-15T14:30:00+01:00'", schema)
    instant = datetime(2024, 3, 15, 13, 30, tzinfo=UTC)
    assert expression.equals(pc.field("ts") == pa.scalar(instant, pa.timestamp("ms", "UTC")))


def test_key_filter_stays_pushable() -> None:
    """A filter on ``key`` alone binds against a key-only schema (the scan pushes it down)."""
    expression = parse_predicate("key IN ('a', 'b') OR key LIKE 'z%'", ROWS.schema)
    key_only = pa.schema([ROWS.schema.field("key")])
    assert key_only.empty_table().filter(expression).num_rows == 0


def test_translate_a_parsed_condition() -> None:
    import sqlglot

    where = sqlglot.parse_one("SELECT * FROM t WHERE n = 2 AND s LIKE 'A%'").args["where"]
    expression = translate_predicate(where.this, ROWS.schema)
    assert ROWS.filter(expression)["key"].to_pylist() == ["b"]


# -- against DuckDB -----------------------------------------------------------------------

_LITERALS = {
    "n": st.sampled_from(["1", "2", "4", "-5", "0", "NULL", "1.5"]),
    "f": st.sampled_from(["1.5", "2", "-0.5", "3.0", "NULL"]),
    "s": st.sampled_from(["'abc'", "'ABD'", "'x_y'", "'50%'", "''", "NULL"]),
    "ts": st.sampled_from(
        ["'1970-01-01'", "'1970-01-03T00:00:00Z'", "TIMESTAMP '1970-01-05 00:00:00'", "NULL"]
    ),
}


@st.composite
def _atom(draw: st.DrawFn) -> str:
    column = draw(st.sampled_from(sorted(_LITERALS)))
    value = _LITERALS[column]
    kind = draw(st.sampled_from(["compare", "in", "between", "null", "like", "bool"]))
    if kind == "compare":
        op = draw(st.sampled_from(["=", "<>", "<", "<=", ">", ">="]))
        return f"{column} {op} {draw(value)}"
    if kind == "in":
        items = draw(st.lists(value, min_size=1, max_size=3))
        negate = draw(st.sampled_from(["", "NOT "]))
        return f"{column} {negate}IN ({', '.join(items)})"
    if kind == "between":
        negate = draw(st.sampled_from(["", "NOT "]))
        return f"{column} {negate}BETWEEN {draw(value)} AND {draw(value)}"
    if kind == "null":
        return f"{column} IS {draw(st.sampled_from(['', 'NOT ']))}NULL"
    if kind == "like":
        pattern = draw(st.sampled_from(["'a%'", "'%b%'", "'_B_'", "'%'", "'x\\_y'"]))
        op = draw(st.sampled_from(["LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE"]))
        return f"s {op} {pattern}"
    return draw(st.sampled_from(["b", "NOT b", "b IS TRUE", "b IS NOT FALSE", "b = FALSE"]))


_predicates = st.recursive(
    _atom(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        inner.map(lambda p: f"NOT ({p})"),
    ),
    max_leaves=5,
)


@pytest.fixture(scope="module")
def duck() -> Iterator[Any]:
    duckdb = pytest.importorskip("duckdb")
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.register("t", ROWS.drop_columns(["naive", "Mixed Case"]))
    yield connection
    connection.close()


@settings(max_examples=300, deadline=None)
@given(sql=_predicates)
def test_same_rows_as_duckdb(duck: Any, sql: str) -> None:
    expected = duck.sql(f"SELECT key FROM t WHERE {sql} ORDER BY key").to_arrow_table()
    assert keys(sql) == expected["key"].to_pylist(), sql
