"""CTE names have SQL's scope, in both engines: a CTE shadows a lakehouse table of the same
name only where the CTE is visible (after its body, in the query its ``WITH`` prefixes;
with ``RECURSIVE`` in its own body too), and a time-travel clause after a CTE name is an
error, never a read of the table of that name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pytest
from sql_lakes import Prices

import azof
import azof.duckdb
from azof.sql import ExecutionContext, rewrite_query

duckdb = pytest.importorskip("duckdb")

Run = Callable[[str], list[dict[str, Any]]]


@pytest.fixture(params=["datafusion", "duckdb"])
def run(request: pytest.FixtureRequest, prices: Prices) -> Iterator[Run]:
    """A query's rows, sorted, on one engine."""
    if request.param == "datafusion":
        ctx = ExecutionContext(prices.uri)
        yield lambda q: sorted(ctx.sql(q).to_arrow_table().to_pylist(), key=str)
        return
    con = duckdb.connect()
    lake = azof.Lakehouse(prices.uri)

    def query(q: str) -> list[dict[str, Any]]:
        table: pa.Table = azof.duckdb.sql(con, lake, q).to_arrow_table()
        return sorted(table.to_pylist(), key=str)

    yield query
    con.close()


@pytest.mark.parametrize(
    "query",
    [
        "WITH prices AS (SELECT 'x' AS key) SELECT * FROM prices AT ('2024-01-20')",
        "WITH p AS (SELECT * FROM prices) SELECT * FROM p FOR SYSTEM_TIME AS OF '2024-01-20'",
        "WITH prices AS (SELECT 1 AS n) SELECT * FROM (SELECT * FROM prices AT (VERSION => 2)) s",
    ],
)
def test_a_clause_after_a_cte_name_is_an_error(run: Run, query: str) -> None:
    with pytest.raises(azof.InvalidArgumentError, match="is a CTE, not a lakehouse table"):
        run(query)


def test_a_cte_in_one_subquery_leaves_the_table_of_its_name_elsewhere(run: Run) -> None:
    query = (
        "SELECT (SELECT count(*) FROM (WITH prices AS (SELECT 1 AS x) SELECT * FROM prices) s)"
        " AS n, key, px FROM prices WHERE key = 'a'"
    )
    assert run(query) == [{"n": 1, "key": "a", "px": 2}]
    # ... also with a clause on the table outside the CTE's scope
    query = (
        "SELECT * FROM (WITH prices AS (SELECT 'x' AS key) SELECT key FROM prices) s "
        "UNION ALL SELECT key FROM prices AT ('2024-01-31') WHERE key = 'a'"
    )
    assert run(query) == [{"key": "a"}, {"key": "x"}]


def test_a_cte_shadows_the_table_inside_its_scope(run: Run) -> None:
    query = (
        "WITH prices AS (SELECT 'cte' AS key, 0 AS px) "
        "SELECT key, px FROM prices UNION ALL SELECT key, px FROM (SELECT * FROM prices) s"
    )
    assert run(query) == [{"key": "cte", "px": 0}] * 2


def test_a_cte_body_naming_itself_reads_the_table(run: Run) -> None:
    """Without RECURSIVE a CTE is not visible in its own body: there the name is the table."""
    query = (
        "WITH prices AS (SELECT key, px * 10 AS px FROM prices AT ('2024-01-31')) "
        "SELECT key, px FROM prices WHERE key IN ('a', 'c')"
    )
    assert run(query) == [{"key": "a", "px": 150}, {"key": "c", "px": 1500}]


def test_earlier_ctes_see_the_table_later_ones_shadow(run: Run) -> None:
    query = (
        "WITH early AS (SELECT key, px FROM prices WHERE key = 'd'), "
        "prices AS (SELECT key, px + 1 AS px FROM early) SELECT * FROM prices"
    )
    assert run(query) == [{"key": "d", "px": 1001}]


def test_nested_and_recursive_ctes(run: Run) -> None:
    query = (
        "WITH outer_cte AS (SELECT key FROM prices AT ('2024-01-31')) SELECT * FROM ("
        "WITH inner_cte AS (SELECT key FROM outer_cte WHERE key <> 'a') SELECT * FROM inner_cte"
        ") s"
    )
    assert run(query) == [{"key": "c"}, {"key": "d"}]
    query = (
        "WITH RECURSIVE prices (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM prices WHERE n < 3)"
        " SELECT CAST(sum(n) AS BIGINT) AS total FROM prices"
    )
    assert run(query) == [{"total": 6}]


def test_rewrite_follows_the_scopes() -> None:
    def resolve(name: str, quoted: bool) -> str | None:
        return name.lower() if name.lower() in ("t", "u") else None

    out = rewrite_query(
        "SELECT * FROM (WITH t AS (SELECT * FROM t) SELECT * FROM t) a, t, "
        "(WITH RECURSIVE u AS (SELECT * FROM u) SELECT * FROM u) b",
        resolve,
        dialect="postgres",
        prefix="_r",
    )
    assert out.sql == (
        "SELECT * FROM (WITH t AS (SELECT * FROM _r0 AS t) SELECT * FROM t) a, _r1 AS t, "
        "(WITH RECURSIVE u AS (SELECT * FROM u) SELECT * FROM u) b"
    )
