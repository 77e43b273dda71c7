"""The clause extractor alone: which names are lakehouse references and how they are
rewritten (pure text processing, no engine)."""

from __future__ import annotations

import pytest

import azof
from azof.sql import TimeTravel, rewrite_query

TABLES = {"financials", "table0", "my-table"}


def resolve(name: str, quoted: bool) -> str | None:
    if name in TABLES:
        return name
    if quoted:
        return None
    folded = [t for t in TABLES if t.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


def rewrite(sql: str, dialect: str = "postgres") -> tuple[str, list[tuple[str, str, TimeTravel]]]:
    out = rewrite_query(sql, resolve, dialect=dialect, prefix="_r")
    return out.sql, [(r.table, r.alias, r.travel) for r in out.references]


def test_reference_without_alias_keeps_its_name_as_alias() -> None:
    sql, refs = rewrite("SELECT financials.key FROM financials AT ('2019-01-17')")
    assert sql == "SELECT financials.key FROM _r0 AS financials"
    assert refs == [("financials", "financials", TimeTravel(as_of="2019-01-17"))]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SELECT * FROM financials AT ('2019-01-17') f", "SELECT * FROM _r0 f"),
        ("SELECT * FROM financials AT ('2019-01-17') AS f", "SELECT * FROM _r0 AS f"),
        ("SELECT * FROM financials f", "SELECT * FROM _r0 f"),
        ('SELECT * FROM "my-table"', 'SELECT * FROM _r0 AS "my-table"'),
        ("SELECT * FROM Financials", "SELECT * FROM _r0 AS Financials"),
        (
            "SELECT * FROM financials, table0 AT (VERSION => 2) t WHERE 1 = 1",
            "SELECT * FROM _r0 AS financials, _r1 t WHERE 1 = 1",
        ),
        (
            "SELECT * FROM (financials a JOIN table0 b ON a.key = b.key)",
            "SELECT * FROM (_r0 a JOIN _r1 b ON a.key = b.key)",
        ),
        (
            "SELECT * FROM financials LEFT JOIN table0 USING (key) NATURAL JOIN financials x",
            "SELECT * FROM _r0 AS financials LEFT JOIN _r1 AS table0 USING (key) "
            "NATURAL JOIN _r2 x",
        ),
    ],
)
def test_rewrites(query: str, expected: str) -> None:
    assert rewrite(query)[0] == expected


def test_names_that_are_not_table_references_are_left_alone() -> None:
    query = (
        "SELECT financials, EXTRACT(YEAR FROM event_time), SUBSTRING(key FROM 2), "
        "'FROM financials AT (''x'')' FROM (SELECT 1 AS financials) AS t "
        "-- FROM financials AT ('x')\n"
        "WHERE financials IN (1, 2)"
    )
    assert rewrite(query) == (query, [])


def test_cte_names_shadow_tables() -> None:
    sql, refs = rewrite(
        "WITH table0 AS (SELECT * FROM financials AT ('2019-01-01')), "
        "x (a) AS MATERIALIZED (SELECT 1) SELECT * FROM table0, x"
    )
    assert sql == (
        "WITH table0 AS (SELECT * FROM _r0 AS financials), "
        "x (a) AS MATERIALIZED (SELECT 1) SELECT * FROM table0, x"
    )
    assert [r[0] for r in refs] == ["financials"]


def test_unknown_names_can_be_left_to_the_engine() -> None:
    out = rewrite_query(
        "SELECT * FROM mine JOIN financials USING (key)",
        resolve,
        dialect="duckdb",
        prefix="_r",
        unknown="keep",
    )
    assert out.sql == "SELECT * FROM mine JOIN _r0 AS financials USING (key)"
    with pytest.raises(azof.TableNotFoundError, match="'mine'"):
        rewrite_query("SELECT * FROM mine", resolve, dialect="duckdb", prefix="_r")


def test_explain_is_seen_through() -> None:
    out = rewrite_query(
        "EXPLAIN ANALYZE SELECT * FROM financials AT ('2019-01-17')",
        resolve,
        dialect="postgres",
        prefix="_r",
    )
    assert out.explain
    assert out.sql == "EXPLAIN ANALYZE SELECT * FROM _r0 AS financials"


def test_all_parameters() -> None:
    _, refs = rewrite(
        "SELECT 1 FROM financials AT (known_at => '2024-01-02T03:04:05+01:00', "
        "timestamp => TIMESTAMP '2019-01-17')"
    )
    assert refs[0][2] == TimeTravel(as_of="2019-01-17", known_at="2024-01-02T03:04:05+01:00")
    _, refs = rewrite("SELECT 1 FROM financials FOR SYSTEM_TIME AS OF TIMESTAMP '2019-01-17'")
    assert refs[0][2] == TimeTravel(as_of="2019-01-17")


def test_readable_messages_name_the_references() -> None:
    out = rewrite_query(
        "SELECT * FROM financials AT ('2019-01-17') a, table0",
        resolve,
        dialect="postgres",
        prefix="_r",
    )
    assert out.readable("column _r0.x, _r1.y") == (
        "column financials AT ('2019-01-17').x, table0.y"
    )
