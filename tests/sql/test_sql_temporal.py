"""The temporal table functions of SQL (``azof_history``, ``azof_changes``,
``azof_restatements``, ``azof_asof_join``) with DataFusion: every form gives the Python
API's answer, on the table of docs/temporal.md (late data, a correction and a delete);
errors name the call. The cases are in ``temporal_cases`` (shared with DuckDB's tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from temporal_cases import ERRORS, FORMS, LEFT_CTE, Lake, day

import azof
from azof.sql import ExecutionContext


@pytest.fixture(scope="module")
def lake() -> Lake:
    return Lake()


@pytest.fixture(scope="module")
def ctx(lake: Lake) -> ExecutionContext:
    return ExecutionContext(lake.lake, target_partitions=4)


def internal_tables(ctx: ExecutionContext) -> list[str]:
    names: set[str] = ctx.session.catalog().schema().names()
    return sorted(n for n in names if n.startswith("__azof_"))


def same(result: pa.Table, expected: pa.Table) -> None:
    """The same columns, types and rows (in any order: SQL promises none without ORDER BY)."""
    assert result.column_names == expected.column_names
    assert [f.type for f in result.schema] == [f.type for f in expected.schema]

    def rows(table: pa.Table) -> list[dict[str, Any]]:
        return sorted(table.to_pylist(), key=lambda r: tuple(str(v) for v in r.values()))

    assert rows(result) == rows(expected)


@pytest.mark.parametrize("name", FORMS)
def test_form_is_the_api_answer(name: str, lake: Lake, ctx: ExecutionContext) -> None:
    query, expected = FORMS[name]
    result = ctx.sql(query.replace("{known_at}", lake.known_at)).to_arrow_table()
    same(result, expected(lake))
    assert internal_tables(ctx) == []


def test_asof_join_keeps_the_left_rows(lake: Lake, ctx: ExecutionContext) -> None:
    query = LEFT_CTE + (
        "SELECT id, key, price FROM azof_asof_join('prices', 'l', columns => 'price') ORDER BY id"
    )
    result = ctx.sql(query).to_pydict()
    assert result == {
        "id": [1, 2, 3, 4, 5],
        "key": ["MSFT", "AAPL", "AAPL", "MSFT", "IBM"],
        "price": [101.1, None, 150.0, None, None],
    }


def test_asof_join_with_a_session_table(lake: Lake, ctx: ExecutionContext) -> None:
    left = pa.table({"key": ["AAPL", "MSFT"], "ts": [day("2019-01-20"), day("2019-02-01")]})
    ctx.session.from_arrow(left, name="my_rows")
    try:
        result = ctx.sql("SELECT * FROM azof_asof_join('prices', 'my_rows')").to_arrow_table()
    finally:
        ctx.session.deregister_table("my_rows")
    same(result, lake.prices.asof_join(left))


def test_functions_compose_with_sql(lake: Lake, ctx: ExecutionContext) -> None:
    """Aliases, the function name as qualifier, joins with table references (each with its
    own time), CTEs, aggregates and ORDER BY."""
    query = """
        WITH h AS (SELECT * FROM azof_history('prices', 'AAPL'))
        SELECT h.valid_from, h.price, c.change, p.price AS price_then, azof_changes.key
        FROM h
        JOIN azof_changes('prices', '2019-02-01', '2019-04-01') ON azof_changes.key = h.key
        JOIN azof_changes('prices', '2019-02-01', '2019-04-01') AS c ON c.key = h.key
        JOIN prices AT ('2019-01-20') p ON p.key = h.key
        WHERE NOT h.is_deleted
        ORDER BY h.valid_from"""
    result = ctx.sql(query).to_pydict()
    history = lake.prices.history("AAPL")
    assert result["valid_from"] == history.column("valid_from").to_pylist()
    assert result["price"] == [157.9, 150.0, 166.4]
    assert result["change"] == ["update"] * 3
    assert result["price_then"] == [150.0] * 3
    assert result["key"] == ["AAPL"] * 3
    counts = ctx.sql(
        "SELECT key, count(*) AS n, sum(CASE WHEN is_deleted THEN 1 ELSE 0 END) AS deletes "
        "FROM azof_history('prices') GROUP BY key ORDER BY key"
    ).to_pydict()
    assert counts == {"key": ["AAPL", "MSFT"], "n": [3, 2], "deletes": [0, 1]}
    explained = ctx.sql("EXPLAIN SELECT * FROM azof_history('prices') h WHERE key = 'AAPL'")
    assert "SubqueryAlias: h" in str(explained.to_pydict()["plan"])
    assert internal_tables(ctx) == []


ERRORS_DATAFUSION = [
    *ERRORS,
    (
        "SELECT nope FROM azof_history('prices')",
        azof.InvalidArgumentError,
        ("No field named nope", "azof_history.valid_from"),
    ),
]


@pytest.mark.parametrize(("query", "error", "fragments"), ERRORS_DATAFUSION)
def test_errors_name_the_call(
    query: str,
    error: type[Exception],
    fragments: tuple[str, ...],
    ctx: ExecutionContext,
) -> None:
    with pytest.raises(error) as caught:
        ctx.sql(query).to_arrow_table()
    assert isinstance(caught.value, azof.AzofError)
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert internal_tables(ctx) == []


# -- the examples of docs/sql.md, on the seed table ------------------------------------------


@pytest.fixture(scope="module")
def seed_ctx(seed_dir: Path) -> tuple[ExecutionContext, azof.Table]:
    lake = azof.Lakehouse(seed_dir)
    return ExecutionContext(lake), lake.table("financials")


def test_seed_examples(seed_ctx: tuple[ExecutionContext, azof.Table]) -> None:
    ctx, financials = seed_ctx
    history = ctx.sql(
        "SELECT key, valid_from, valid_to, revenue FROM azof_history('financials', "
        "keys => 'AAPL,MSFT', start => '2019-01-01', end => '2020-01-01') "
        "ORDER BY key, valid_from"
    ).to_arrow_table()
    expected = financials.history(
        ["AAPL", "MSFT"], "2019-01-01", "2020-01-01", columns=["revenue"]
    ).select(["key", "valid_from", "valid_to", "revenue"])
    assert history.to_pylist() == expected.to_pylist()
    assert history.num_rows == 10
    changes = ctx.sql(
        "SELECT change, count(*) AS n FROM azof_changes('financials', '2020-10-01', "
        "'2020-11-01', columns => 'revenue') GROUP BY change"
    ).to_pydict()
    expected_changes = financials.changes("2020-10-01", "2020-11-01", columns=["revenue"])
    assert sum(changes["n"]) == expected_changes.num_rows > 0
