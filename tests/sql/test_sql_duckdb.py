"""azof tables in DuckDB: the same clauses over DuckDB SQL, and ``register``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sql_lakes import Prices, T

import azof
import azof.duckdb  # imports without duckdb; its functions need it
from azof.sql import ScanRecord

duckdb = pytest.importorskip("duckdb")

HEADLINE = """
    SELECT key AS symbol, revenue, net_income
    FROM financials AT ('2019-01-17T00:00:00.000Z')
    WHERE industry IN ('Software')
    ORDER BY revenue DESC LIMIT 5"""


def sorted_rows(table: pa.Table) -> list[dict[str, object]]:
    return sorted(table.to_pylist(), key=str)


@pytest.fixture
def con() -> Iterator[Any]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_headline_query_in_duckdb(con: duckdb.DuckDBPyConnection, seed_dir: Path) -> None:
    from azof.sql import ExecutionContext

    scans: list[ScanRecord] = []
    got = azof.duckdb.sql(con, seed_dir, HEADLINE, scans=scans).to_arrow_table()
    expected = ExecutionContext(seed_dir).sql(HEADLINE).to_arrow_table()
    assert got.to_pylist() == expected.to_pylist()
    assert [r["symbol"] for r in got.to_pylist()] == ["MSFT", "ORCL", "SAP", "CRM", "VMW"]
    (scan,) = scans
    assert scan.columns == (
        "key",
        "event_time",
        "industry",
        "revenue",
        "net_income",
    )  # projection pushdown
    assert scan.as_of == "2019-01-17T00:00:00.000Z"


@pytest.mark.parametrize(
    ("clause", "version", "as_of"),
    [
        (f"AT ('{T}')", None, T),
        (f"AT (TIMESTAMP => '{T}')", None, T),
        (f"FOR SYSTEM_TIME AS OF '{T}'", None, T),
        (f"AT (TIMESTAMP => '{T}', VERSION => 3)", 3, T),
        ("AT (VERSION => 2)", 2, None),
        ("", None, None),
    ],
)
def test_clauses_in_duckdb(
    con: duckdb.DuckDBPyConnection,
    prices: Prices,
    clause: str,
    version: int | None,
    as_of: str | None,
) -> None:
    got = azof.duckdb.sql(
        con, prices.uri, f"SELECT p.key, p.px FROM prices {clause} p"
    ).to_arrow_table()
    expected = prices.table.scan(as_of, version=version, columns=["key", "px"])
    assert sorted_rows(got) == sorted_rows(expected)


def test_two_times_and_a_cte_in_duckdb(con: duckdb.DuckDBPyConnection, prices: Prices) -> None:
    scans: list[ScanRecord] = []
    got = azof.duckdb.sql(
        con,
        azof.Lakehouse(prices.uri),
        "WITH jan AS (SELECT * FROM prices AT ('2024-01-05')) "
        "SELECT j.key, j.px AS before, f.px AS after FROM jan j "
        "JOIN prices FOR SYSTEM_TIME AS OF '2024-02-05' f ON j.key = f.key "
        "WHERE f.key <> 'c' ORDER BY j.key",
        scans=scans,
    ).fetchall()
    assert got == [("a", 1, 2), ("b", 10, 20)]
    jan, feb = scans
    assert jan.columns == ("key", "event_time", "px")
    assert feb.columns == ("key", "event_time", "px")
    assert feb.filter_sql == "key <> 'c'"  # pushed from the WHERE


def test_key_predicates_are_pushed_in_duckdb(
    con: duckdb.DuckDBPyConnection, hours_uri: str
) -> None:
    scans: list[ScanRecord] = []
    got = azof.duckdb.sql(
        con, hours_uri, "SELECT value FROM hours WHERE key = 'k042'", scans=scans
    ).fetchall()
    assert got == [(1042,)]
    (scan,) = scans
    assert scan.columns == ("key", "event_time", "value")
    assert scan.metrics.row_groups_read == 2
    assert scan.metrics.row_groups_total == 20


def test_value_predicates_stay_above_the_merge_in_duckdb(
    con: duckdb.DuckDBPyConnection, prices: Prices
) -> None:
    scans: list[ScanRecord] = []
    got = azof.duckdb.sql(
        con, prices.uri, f"SELECT key FROM prices AT ('{T}') WHERE px < 10", scans=scans
    )
    assert got.fetchall() == []  # a's Jan 1 px of 1 is not its latest (15)
    assert scans[0].filter is None


def test_duckdb_tables_stay_usable(con: duckdb.DuckDBPyConnection, prices: Prices) -> None:
    con.execute("CREATE TABLE sectors (sector VARCHAR, label VARCHAR)")
    con.execute("INSERT INTO sectors VALUES ('tech', 'Technology'), ('energy', 'Energy')")
    got = azof.duckdb.sql(
        con,
        prices.uri,
        f"SELECT p.key, s.label FROM prices AT ('{T}') p JOIN sectors s USING (sector) "
        "ORDER BY p.key",
    ).fetchall()
    assert got == [("a", "Technology"), ("c", "Energy"), ("d", "Technology")]


def test_whole_row_references_read_every_column(
    con: duckdb.DuckDBPyConnection, prices: Prices
) -> None:
    scans: list[ScanRecord] = []
    got = azof.duckdb.sql(
        con, prices.uri, "SELECT prices FROM prices WHERE key = 'a'", scans=scans
    ).to_arrow_table()
    assert got.column("prices").type.num_fields == 4
    assert scans[0].columns == ("key", "event_time", "px", "sector")


def test_errors_in_duckdb(con: duckdb.DuckDBPyConnection, prices: Prices) -> None:
    with pytest.raises(azof.InvalidArgumentError, match="not both"):
        azof.duckdb.sql(
            con, prices.uri, "SELECT * FROM prices AT (VERSION => 1, KNOWN_AT => '2024-01-01')"
        )
    with pytest.raises(azof.TableNotFoundError, match="nope AT"):
        azof.duckdb.sql(con, prices.uri, "SELECT * FROM nope AT ('2024-01-01')")
    with pytest.raises(azof.VersionNotFoundError, match="VERSION => 42"):
        azof.duckdb.sql(con, prices.uri, "SELECT * FROM prices AT (VERSION => 42)")
    with pytest.raises(azof.InvalidArgumentError, match="must directly follow"):
        azof.duckdb.sql(con, prices.uri, "SELECT * FROM prices p AT ('2024-01-01')")
    with pytest.raises(azof.InvalidArgumentError) as error:
        azof.duckdb.sql(con, prices.uri, "SELECT nope FROM prices AT ('2024-01-01')")
    assert "__azof" not in str(error.value)


def test_register_one_table_as_of(con: duckdb.DuckDBPyConnection, prices: Prices) -> None:
    relation = azof.duckdb.register(
        con, prices.table, "prices_jan", as_of=T, columns=["key", "px"], version=3
    )
    assert relation.columns == ["key", "px"]
    got = con.sql("SELECT key, px FROM prices_jan ORDER BY key").fetchall()
    assert got == [("a", 15), ("b", 10), ("c", 150)]
    with pytest.raises(azof.InvalidArgumentError, match=r"azof\.Table"):
        azof.duckdb.register(con, "prices", "x")  # type: ignore[arg-type]


def test_release_unregisters_the_scans(con: duckdb.DuckDBPyConnection, prices: Prices) -> None:
    azof.duckdb.sql(con, prices.uri, "SELECT * FROM prices").to_arrow_table()
    names = {r[0] for r in con.sql("SELECT view_name FROM duckdb_views()").fetchall()}
    before = {r[0] for r in con.sql("SHOW TABLES").fetchall()}
    azof.duckdb.release(con)
    after = {r[0] for r in con.sql("SHOW TABLES").fetchall()}
    assert any(name.startswith("__azof_d") for name in before | names)
    assert not any(name.startswith("__azof_d") for name in after)
