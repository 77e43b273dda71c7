"""The temporal table functions of SQL with DuckDB (``azof.duckdb.sql``): the forms and
errors of ``test_sql_temporal`` (``temporal_cases``), each giving the Python API's answer
and DataFusion's, with the same errors."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from temporal_cases import ERRORS, FORMS, LEFT_CTE, Lake, day, values

import azof
import azof.duckdb
from azof.sql import ExecutionContext, ScanRecord

duckdb = pytest.importorskip("duckdb")


@pytest.fixture(scope="module")
def lake() -> Lake:
    return Lake()


@pytest.fixture(scope="module")
def ctx(lake: Lake) -> ExecutionContext:
    return ExecutionContext(lake.lake, target_partitions=2)


@pytest.fixture
def con() -> Iterator[Any]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def internal_tables(con: Any) -> list[str]:
    names = {row[0] for row in con.sql("SHOW TABLES").fetchall()}
    return sorted(name for name in names if name.startswith("__azof_"))


def run(con: Any, lake: Lake, query: str, scans: list[ScanRecord] | None = None) -> pa.Table:
    result: pa.Table = azof.duckdb.sql(con, lake.lake, query, scans=scans).to_arrow_table()
    return result


@pytest.mark.parametrize("name", FORMS)
def test_form_is_the_api_answer(name: str, lake: Lake, ctx: ExecutionContext, con: Any) -> None:
    query, expected = FORMS[name]
    query = query.replace("{known_at}", lake.known_at)
    result = run(con, lake, query)
    answer = expected(lake)
    assert result.column_names == answer.column_names
    assert values(result) == values(answer)
    assert values(result) == values(ctx.sql(query).to_arrow_table())
    # Only the results of the calls stay registered (DuckDB relations are lazy); the scans
    # that read the left side of an as-of join are gone.
    assert all(re.fullmatch(r"__azof_d\d+_f\d+", name) for name in internal_tables(con))
    azof.duckdb.release(con)
    assert internal_tables(con) == []


def test_asof_join_keeps_the_left_rows(lake: Lake, con: Any) -> None:
    query = LEFT_CTE + (
        "SELECT id, key, price FROM azof_asof_join('prices', 'l', columns => 'price') ORDER BY id"
    )
    assert run(con, lake, query).to_pydict() == {
        "id": [1, 2, 3, 4, 5],
        "key": ["MSFT", "AAPL", "AAPL", "MSFT", "IBM"],
        "price": [101.1, None, 150.0, None, None],
    }


def test_asof_join_with_a_connection_table(lake: Lake, con: Any) -> None:
    """``left`` may name a table or view of the connection: DuckDB's counterpart of a
    table registered in the DataFusion session."""
    left = pa.table({"key": ["AAPL", "MSFT"], "ts": [day("2019-01-20"), day("2019-02-01")]})
    con.register("my_rows", left)
    result = run(con, lake, "SELECT * FROM azof_asof_join('prices', 'my_rows')")
    assert values(result) == values(lake.prices.asof_join(left))
    con.execute(
        "CREATE TABLE my_trades AS SELECT * FROM (VALUES ('AAPL', TIMESTAMP '2019-01-20')) "
        "AS t(key, ts)"
    )
    result = run(con, lake, "SELECT key, price FROM azof_asof_join('prices', 'MY_TRADES')")
    assert result.to_pylist() == [{"key": "AAPL", "price": 150.0}]


def test_functions_compose_with_sql(lake: Lake, ctx: ExecutionContext, con: Any) -> None:
    """The query of DataFusion's test: aliases, the function name as qualifier, joins with
    table references (each with its own time), CTEs, aggregates and ORDER BY."""
    query = """
        WITH h AS (SELECT * FROM azof_history('prices', 'AAPL'))
        SELECT h.valid_from, h.price, c.change, p.price AS price_then, azof_changes.key
        FROM h
        JOIN azof_changes('prices', '2019-02-01', '2019-04-01') ON azof_changes.key = h.key
        JOIN azof_changes('prices', '2019-02-01', '2019-04-01') AS c ON c.key = h.key
        JOIN prices AT ('2019-01-20') p ON p.key = h.key
        WHERE NOT h.is_deleted
        ORDER BY h.valid_from"""
    scans: list[ScanRecord] = []
    result = run(con, lake, query, scans)
    assert result.to_pylist() == ctx.sql(query).to_arrow_table().to_pylist()
    assert result.column("price").to_pylist() == [157.9, 150.0, 166.4]
    (scan,) = scans  # the table reference; the calls are not scans
    assert scan.columns == ("key", "event_time", "price")
    counts = (
        "SELECT key, count(*) AS n, sum(CASE WHEN is_deleted THEN 1 ELSE 0 END) AS deletes "
        "FROM azof_history('prices') GROUP BY key ORDER BY key"
    )
    assert run(con, lake, counts).to_pydict() == {
        "key": ["AAPL", "MSFT"],
        "n": [3, 2],
        "deletes": [0, 1],
    }
    explained = run(con, lake, "EXPLAIN SELECT * FROM azof_history('prices') h WHERE key = 'AAPL'")
    assert explained.num_rows > 0


def test_key_predicates_on_a_joined_reference_are_pushed(lake: Lake, con: Any) -> None:
    """The results of the calls take part in the column analysis of the query, so the
    table references beside them still read only what they need."""
    scans: list[ScanRecord] = []
    result = run(
        con,
        lake,
        "SELECT h.valid_from, now.price AS price_now FROM azof_history('prices') h "
        "JOIN prices now ON now.key = h.key WHERE now.key = 'AAPL' ORDER BY h.valid_from",
        scans,
    )
    assert result.column("price_now").to_pylist() == [166.4] * 3
    (scan,) = scans
    assert scan.columns == ("key", "event_time", "price")
    assert scan.filter_sql == "key = 'AAPL'"


ERRORS_DUCKDB = [
    *ERRORS,
    (
        "SELECT nope FROM azof_history('prices')",
        azof.InvalidArgumentError,
        ('"nope" not found',),
    ),
    (
        "SELECT * FROM azof_asof_join('prices', 'nothing')",
        azof.TableNotFoundError,
        ("nor a table or view of the DuckDB connection",),
    ),
]


@pytest.mark.parametrize(("query", "error", "fragments"), ERRORS_DUCKDB)
def test_errors_name_the_call(
    query: str,
    error: type[Exception],
    fragments: tuple[str, ...],
    lake: Lake,
    ctx: ExecutionContext,
    con: Any,
) -> None:
    with pytest.raises(error) as caught:
        run(con, lake, query)
    assert isinstance(caught.value, azof.AzofError)
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert "__azof" not in str(caught.value)
    if (query, error, fragments) in ERRORS:  # DataFusion says the same, but for its tables
        with pytest.raises(error) as same:
            ctx.sql(query).to_arrow_table()
        own = (
            "a table or view of the DuckDB connection",
            "a table registered in the context's session",
        )
        assert str(same.value) == str(caught.value).replace(*own)
    azof.duckdb.release(con)
    assert internal_tables(con) == []


# -- the examples of docs/sql.md, on the seed table ------------------------------------------


@pytest.fixture(scope="module")
def seed_ctx(seed_dir: Path) -> tuple[ExecutionContext, azof.Lakehouse]:
    lake = azof.Lakehouse(seed_dir)
    return ExecutionContext(lake), lake


SEED_EXAMPLES = [
    "SELECT key, valid_from, valid_to, revenue FROM azof_history('financials', "
    "keys => 'AAPL,MSFT', start => '2019-01-01', end => '2020-01-01') ORDER BY key, valid_from",
    "SELECT key, change, before_revenue, after_revenue FROM azof_changes('financials', "
    "'2019-07-01', '2019-10-01', keys => 'AAPL,MSFT,ORCL', columns => 'revenue') ORDER BY key",
    "SELECT change, count(*) AS n FROM azof_changes('financials', '2020-01-01', '2021-01-01', "
    "columns => 'revenue') GROUP BY change ORDER BY change",
    """WITH orders AS (
        SELECT * FROM (VALUES ('AAPL', TIMESTAMP '2019-05-15'), ('MSFT', TIMESTAMP '2019-05-15'),
                              ('AAPL', TIMESTAMP '2020-02-01')) AS o(symbol, ordered_at))
    SELECT symbol, ordered_at, revenue, event_time
    FROM azof_asof_join('financials', 'orders', on => 'symbol', at => 'ordered_at',
                        columns => 'revenue,event_time')""",
    "SELECT h.valid_from, h.revenue, now.revenue AS revenue_now FROM azof_history("
    "'financials', 'AAPL', start => '2019-01-01', end => '2020-01-01') h "
    "JOIN financials now ON now.key = h.key ORDER BY h.valid_from",
]


@pytest.mark.parametrize("query", SEED_EXAMPLES)
def test_seed_examples(query: str, seed_ctx: tuple[ExecutionContext, azof.Lakehouse]) -> None:
    ctx, lake = seed_ctx
    connection = duckdb.connect()
    try:
        result = azof.duckdb.sql(connection, lake, query).to_arrow_table()
    finally:
        connection.close()
    assert result.num_rows > 0
    assert values(result) == values(ctx.sql(query).to_arrow_table())


def test_the_functions_import_without_duckdb() -> None:
    """``azof.duckdb`` (and the table functions it shares with DataFusion) import without
    DuckDB; only calling it needs it."""
    script = textwrap.dedent(
        """
        import sys

        class Blocker:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("duckdb", "datafusion"):
                    raise ImportError(f"{name} is blocked")
                return None

        sys.meta_path.insert(0, Blocker())
        import azof.duckdb
        try:
            azof.duckdb.sql(None, sys.argv[1], "SELECT * FROM azof_history('p')")
        except ImportError as exc:
            print(exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "memory://nothing"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'azof[duckdb]'" in done.stdout
