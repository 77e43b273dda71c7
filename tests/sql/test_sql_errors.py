"""Malformed clauses, bad timestamps, unknown tables and versions: clear errors that quote
the text at fault. A clause is never silently ignored."""

from __future__ import annotations

import pytest
from sql_lakes import Prices

import azof
from azof.sql import ExecutionContext


@pytest.fixture(scope="module")
def ctx(prices: Prices) -> ExecutionContext:
    return ExecutionContext(prices.uri)


MALFORMED = [
    ("SELECT * FROM prices AT ()", "prices AT ()", "empty"),
    ("SELECT * FROM prices AT (VERSION => 'x')", "prices AT (VERSION => 'x')", "whole number"),
    ("SELECT * FROM prices AT (VERSION => -1)", "prices AT (VERSION => -1)", "whole number"),
    ("SELECT * FROM prices AT (VERSION => 1.5)", "prices AT (VERSION => 1.5)", "whole number"),
    ("SELECT * FROM prices AT(FOO => 1)", "prices AT(FOO => 1)", "unknown AT parameter 'FOO'"),
    (
        "SELECT * FROM prices AT (VERSION => 1, KNOWN_AT => '2024-01-01')",
        "prices AT (VERSION => 1, KNOWN_AT => '2024-01-01')",
        "not both",
    ),
    (
        "SELECT * FROM prices AT (TIMESTAMP => '2024-01-01', TIMESTAMP => '2024-01-02')",
        "prices AT (TIMESTAMP => '2024-01-01', TIMESTAMP => '2024-01-02')",
        "TIMESTAMP twice",
    ),
    ("SELECT * FROM prices AT (TIMESTAMP '2024-01-01', 3)", "prices AT", "named parameters"),
    ("SELECT * FROM prices AT (KNOWN_AT => 5)", "prices AT (KNOWN_AT => 5)", "quoted timestamp"),
    ("SELECT * FROM prices AT ('2024-01-01'", "prices AT ('2024-01-01'", "closing parenthesis"),
    (
        "SELECT * FROM prices AT ('2024-01-01') AT ('2024-02-01')",
        "prices AT ('2024-01-01') AT ('2024-02-01')",
        "one time-travel clause",
    ),
    (
        "SELECT * FROM prices FOR SYSTEM_TIME BETWEEN '2024-01-01' AND '2024-02-01'",
        "prices FOR SYSTEM_TIME BETWEEN",
        "only FOR SYSTEM_TIME AS OF",
    ),
    (
        "SELECT * FROM prices FOR SYSTEM_TIME AS OF 5",
        "prices FOR SYSTEM_TIME AS OF 5",
        "quoted timestamp",
    ),
]


@pytest.mark.parametrize(("query", "quoted", "says"), MALFORMED)
def test_malformed_clause(ctx: ExecutionContext, query: str, quoted: str, says: str) -> None:
    with pytest.raises(azof.InvalidArgumentError) as error:
        ctx.sql(query)
    message = str(error.value)
    assert quoted in message
    assert says in message
    assert "line 1, column 15" in message


BAD_TIMESTAMPS = [
    "AT ('yesterday')",
    "AT ('2024-13-01')",
    "AT (TIMESTAMP => '2024-02-30')",
    "FOR SYSTEM_TIME AS OF 'soon'",
    "AT (TIMESTAMP => '2024-01-01', KNOWN_AT => 'later')",
]


@pytest.mark.parametrize("clause", BAD_TIMESTAMPS)
def test_bad_timestamp(ctx: ExecutionContext, clause: str) -> None:
    with pytest.raises(azof.InvalidArgumentError, match="timestamp") as error:
        ctx.sql(f"SELECT * FROM prices {clause}")
    assert f"prices {clause}" in str(error.value)


MISPLACED = [
    # after an alias: most parsers would take AT as a second alias, or drop the clause
    ("SELECT * FROM prices p AT ('2024-01-01')", "p AT ('2024-01-01')"),
    ("SELECT * FROM prices AS p FOR SYSTEM_TIME AS OF '2024-01-01'", "p FOR SYSTEM_TIME"),
    ("SELECT * FROM (SELECT * FROM prices) AT ('2024-01-01')", ") AT ('2024-01-01')"),
    ("SELECT * FROM lake.prices AT ('2024-01-01')", "prices AT ('2024-01-01')"),
    ("SELECT px AT ('2024-01-01') FROM prices", "px AT ('2024-01-01')"),
]


@pytest.mark.parametrize(("query", "quoted"), MISPLACED)
def test_misplaced_clause_is_an_error(ctx: ExecutionContext, query: str, quoted: str) -> None:
    with pytest.raises(azof.InvalidArgumentError, match="must directly follow") as error:
        ctx.sql(query)
    assert quoted in str(error.value)


def test_clause_on_a_cte(ctx: ExecutionContext) -> None:
    with pytest.raises(azof.InvalidArgumentError, match="'s' is a CTE"):
        ctx.sql("WITH s AS (SELECT * FROM prices) SELECT * FROM s AT ('2024-01-01')")


def test_unknown_table_with_clause(ctx: ExecutionContext) -> None:
    with pytest.raises(azof.TableNotFoundError) as error:
        ctx.sql("SELECT * FROM nope AT ('2024-01-01')")
    message = str(error.value)
    assert "no table 'nope'" in message
    assert "nope AT ('2024-01-01')" in message
    assert "tables: prices" in message
    assert isinstance(error.value, KeyError)


def test_unknown_table_without_clause(ctx: ExecutionContext) -> None:
    with pytest.raises(azof.TableNotFoundError, match="no table 'nope'"):
        ctx.sql("SELECT p.px FROM prices p JOIN nope n ON p.key = n.key")


def test_quoted_names_are_exact(ctx: ExecutionContext) -> None:
    assert ctx.sql('SELECT count(*) AS n FROM "prices"').to_pylist() == [{"n": 4}]
    with pytest.raises(azof.TableNotFoundError, match="'PRICES'"):
        ctx.sql('SELECT count(*) FROM "PRICES"')


def test_unknown_version(ctx: ExecutionContext) -> None:
    with pytest.raises(azof.VersionNotFoundError) as error:
        ctx.sql("SELECT * FROM prices AT (VERSION => 99)")
    message = str(error.value)
    assert "prices AT (VERSION => 99)" in message
    assert "no version 99" in message


def test_known_at_before_the_first_commit(ctx: ExecutionContext) -> None:
    with pytest.raises(azof.VersionNotFoundError) as error:
        ctx.sql("SELECT * FROM prices AT (TIMESTAMP => '2024-01-01', KNOWN_AT => '2000-01-01')")
    assert "KNOWN_AT => '2000-01-01'" in str(error.value)
    assert "before the first" in str(error.value)


def test_engine_errors_name_the_reference_not_internal_names(ctx: ExecutionContext) -> None:
    with pytest.raises(azof.InvalidArgumentError) as error:
        ctx.sql("SELECT nope FROM prices AT ('2024-01-01')")
    message = str(error.value)
    assert "nope" in message
    assert "__azof" not in message


def test_statements_that_change_the_session_are_refused(ctx: ExecutionContext) -> None:
    with pytest.raises(azof.InvalidArgumentError, match="DDL"):
        ctx.sql("CREATE VIEW v AS SELECT * FROM prices")


@pytest.mark.parametrize("query", ["", "   ", "SELECT 'unterminated FROM prices"])
def test_empty_or_untokenizable_query(ctx: ExecutionContext, query: str) -> None:
    with pytest.raises(azof.InvalidArgumentError):
        ctx.sql(query)


def test_functions_named_at_and_at_time_zone_are_not_clauses(ctx: ExecutionContext) -> None:
    got = ctx.sql(
        "SELECT key, event_time AT TIME ZONE 'UTC' AS t FROM prices AT ('2024-01-05') "
        "WHERE key = 'a'"
    ).to_pylist()
    assert [r["key"] for r in got] == ["a"]


def test_errors_leave_no_tables_registered(ctx: ExecutionContext) -> None:
    with pytest.raises(azof.InvalidArgumentError):
        ctx.sql("SELECT nope FROM prices")
    assert ctx.session.catalog().schema().table_names() == set()
