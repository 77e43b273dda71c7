"""Every time-travel clause form, in every query shape, gives the answer of ``Table.scan`` at
that time; several references to one table each get their own time."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
from sql_lakes import PRICES_SCHEMA, Prices, T, at

import azof
from azof.sql import ExecutionContext

Scan = Callable[[Prices], pa.Table]

# (clause, the Table.scan call it means); KNOWN_AT is filled in from the commit times.
CLAUSES: dict[str, tuple[str, Scan]] = {
    "at": (f"AT ('{T}')", lambda p: p.table.scan(T)),
    "at-timestamp": (f"AT(TIMESTAMP => '{T}')", lambda p: p.table.scan(T)),
    "system-time": (f"FOR SYSTEM_TIME AS OF '{T}'", lambda p: p.table.scan(T)),
    "timestamp-version": (
        f"AT(TIMESTAMP => '{T}', VERSION => 3)",
        lambda p: p.table.scan(T, version=3),
    ),
    "version": ("AT(VERSION => 2)", lambda p: p.table.scan(version=2)),
    "timestamp-known-at": (
        f"AT(TIMESTAMP => '{T}', KNOWN_AT => '{{known_at}}')",
        lambda p: p.table.scan(T, known_at=p.known_at[4]),
    ),
    "current": ("", lambda p: p.table.scan()),
    "at-now": ("AT ('now')", lambda p: p.table.scan("now")),
    "at-today": ("AT(TIMESTAMP => 'today')", lambda p: p.table.scan("today")),
}

# The same answer through different query shapes: {ref} is "prices <clause>".
SHAPES = {
    "plain": "SELECT key, px, sector FROM {ref}",
    "alias": "SELECT p.key, p.px, p.sector FROM {ref} AS p",
    "alias-without-as": "SELECT p.key, p.px, p.sector FROM {ref} p",
    "qualified-by-table-name": "SELECT prices.key, prices.px, prices.sector FROM {ref}",
    "cte": "WITH s AS (SELECT * FROM {ref}) SELECT key, px, sector FROM s",
    "subquery": "SELECT key, px, sector FROM (SELECT key, px, sector FROM {ref}) AS t",
    "in-subquery": (
        "SELECT key, px, sector FROM {ref} WHERE key IN (SELECT key FROM prices AT ('2030-01-01'))"
    ),
}


def rows(table: pa.Table, columns: list[str] | None = None) -> list[dict[str, Any]]:
    picked = table.select(columns) if columns is not None else table
    return sorted(picked.to_pylist(), key=lambda r: tuple(str(v) for v in r.values()))


def clause_text(name: str, prices: Prices) -> str:
    return CLAUSES[name][0].replace("{known_at}", prices.known_at[4])


@pytest.fixture(scope="module")
def ctx(prices: Prices) -> ExecutionContext:
    return ExecutionContext(prices.uri)


def test_clauses_give_different_answers(prices: Prices) -> None:
    """The fixture is worth testing with: the clauses do not all agree."""
    answers = {str(rows(scan(prices))) for _, scan in CLAUSES.values()}
    assert len(answers) >= 4


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("clause", sorted(CLAUSES))
def test_clause_in_shape(ctx: ExecutionContext, prices: Prices, clause: str, shape: str) -> None:
    ref = f"prices {clause_text(clause, prices)}".strip()
    query = SHAPES[shape].format(ref=ref)
    got = ctx.sql(query).to_arrow_table()
    assert got.column_names == ["key", "px", "sector"]
    expected = CLAUSES[clause][1](prices)
    if shape == "in-subquery":
        keys = set(prices.table.scan("2030-01-01").column("key").to_pylist())
        expected = expected.filter(pa.compute.field("key").isin(list(keys)))
    assert rows(got) == rows(expected, ["key", "px", "sector"])


@pytest.mark.parametrize("clause", sorted(CLAUSES))
def test_clause_joined_with_another_time(
    ctx: ExecutionContext, prices: Prices, clause: str
) -> None:
    ref = f"prices {clause_text(clause, prices)}".strip()
    query = (
        f"SELECT a.key, a.px, b.px AS later FROM {ref} a "
        "JOIN prices AT ('2024-03-01') b ON a.key = b.key"
    )
    got = ctx.sql(query).to_arrow_table()
    left = {r["key"]: r["px"] for r in CLAUSES[clause][1](prices).to_pylist()}
    right = {r["key"]: r["px"] for r in prices.table.scan("2024-03-01").to_pylist()}
    expected = [
        {"key": k, "px": left[k], "later": right[k]} for k in sorted(left.keys() & right.keys())
    ]
    assert rows(got) == rows(pa.Table.from_pylist(expected))
    assert [s.as_of for s in ctx.last_scans][1] == "2024-03-01T00:00:00.000Z"


def test_same_table_at_two_times_in_one_query(ctx: ExecutionContext) -> None:
    got = ctx.sql(
        "SELECT a.key, a.px AS before, b.px AS after "
        "FROM prices AT ('2024-01-05') a JOIN prices AT ('2024-02-05') b ON a.key = b.key "
        "ORDER BY a.key"
    ).to_pylist()
    assert got == [
        {"key": "a", "before": 1, "after": 2},
        {"key": "b", "before": 10, "after": 20},
        {"key": "c", "before": 100, "after": 150},
    ]
    first, second = ctx.last_scans
    assert (first.alias, first.as_of) == ("a", "2024-01-05T00:00:00.000Z")
    assert (second.alias, second.as_of) == ("b", "2024-02-05T00:00:00.000Z")


def test_version_and_known_at_read_the_snapshot_of_that_commit(
    ctx: ExecutionContext, prices: Prices
) -> None:
    for version in (1, 2, 3, 4, 5):
        by_version = ctx.sql(
            f"SELECT key, px FROM prices AT (TIMESTAMP => '{T}', VERSION => {version})"
        ).to_arrow_table()
        assert ctx.last_scans[0].version == version
        by_time = ctx.sql(
            f"SELECT key, px FROM prices AT (TIMESTAMP => '{T}', "
            f"KNOWN_AT => '{prices.known_at[version]}')"
        ).to_arrow_table()
        assert ctx.last_scans[0].version == version
        assert ctx.last_scans[0].known_at == prices.known_at[version]
        assert (
            rows(by_version)
            == rows(by_time)
            == rows(prices.table.scan(T, version=version), ["key", "px"])
        )


def test_union_of_two_times(ctx: ExecutionContext, prices: Prices) -> None:
    got = ctx.sql(
        "SELECT 'jan' AS w, key, px FROM prices AT ('2024-01-05') "
        "UNION ALL SELECT 'now' AS w, key, px FROM prices"
    ).to_pylist()
    expected = [
        {"w": "jan", **r} for r in prices.table.scan("2024-01-05").select(["key", "px"]).to_pylist()
    ]
    expected += [{"w": "now", **r} for r in prices.table.scan().select(["key", "px"]).to_pylist()]
    assert sorted(got, key=str) == sorted(expected, key=str)


def test_window_function_over_a_past_state(ctx: ExecutionContext) -> None:
    got = ctx.sql(
        f"SELECT key, sector, px, rank() OVER (PARTITION BY sector ORDER BY px DESC) AS r "
        f"FROM prices AT ('{T}') ORDER BY sector, r"
    ).to_pylist()
    assert got == [
        {"key": "c", "sector": "energy", "px": 150, "r": 1},
        {"key": "d", "sector": "tech", "px": 1000, "r": 1},
        {"key": "a", "sector": "tech", "px": 15, "r": 2},
    ]


def test_aggregate_and_count_star(ctx: ExecutionContext) -> None:
    got = ctx.sql(f"SELECT count(*) AS n FROM prices AT ('{T}')").to_pylist()
    assert got == [{"n": 3}]
    assert ctx.last_scans[0].columns == ("key", "event_time")


def test_select_star_reads_every_column(ctx: ExecutionContext, prices: Prices) -> None:
    got = ctx.sql(f"SELECT * FROM prices AT ('{T}')").to_arrow_table()
    assert got.column_names == ["key", "event_time", "px", "sector"]
    assert rows(got) == rows(prices.table.scan(T))


def test_naive_timestamps_are_utc_and_offsets_are_honoured(ctx: ExecutionContext) -> None:
    # a is 1 until Jan 15 00:00 UTC; 2024-01-15T01:00+02:00 is Jan 14 23:00 UTC.
    before = ctx.sql("SELECT px FROM prices AT ('2024-01-15T01:00:00+02:00') WHERE key = 'a'")
    assert before.to_pylist() == [{"px": 1}]
    naive = ctx.sql("SELECT px FROM prices AT ('2024-01-15 00:00:00') WHERE key = 'a'")
    assert naive.to_pylist() == [{"px": 15}]
    assert ctx.last_scans[0].as_of == "2024-01-15T00:00:00.000Z"


def test_clauses_in_strings_and_comments_are_text(ctx: ExecutionContext) -> None:
    got = ctx.sql(
        "SELECT 'prices AT (''2000-01-01'')' AS s -- FROM prices AT ('x')\n"
        "FROM /* FOR SYSTEM_TIME AS OF 'y' */ prices AT ('2024-01-05') WHERE key = 'a'"
    ).to_pylist()
    assert got == [{"s": "prices AT ('2000-01-01')"}]
    assert ctx.last_scans[0].as_of == "2024-01-05T00:00:00.000Z"


def test_keywords_are_case_insensitive(ctx: ExecutionContext) -> None:
    got = ctx.sql(
        "select px from PRICES at (timestamp => '2024-01-05', version => 1) where key = 'a'"
    ).to_pylist()
    assert got == [{"px": 1}]
    got = ctx.sql("select px from prices for system_time as of '2024-01-20' where key = 'a'")
    assert got.to_pylist() == [{"px": 15}]


def test_explain_shows_the_plan_and_the_scans(ctx: ExecutionContext) -> None:
    plan = ctx.sql(f"EXPLAIN SELECT key, px FROM prices AT ('{T}') WHERE key = 'a'").to_pydict()
    assert "logical_plan" in plan["plan_type"]
    assert "physical_plan" in plan["plan_type"]
    (scan_row,) = [
        p for t, p in zip(plan["plan_type"], plan["plan"], strict=True) if t == "azof_scan"
    ]
    assert "prices AT ('2024-01-31')" in scan_row
    assert "columns [key, event_time, px]" in scan_row
    assert "key = 'a'" in scan_row


def test_explain_analyze_runs(ctx: ExecutionContext) -> None:
    plan = ctx.sql(f"EXPLAIN ANALYZE SELECT count(*) FROM prices AT ('{T}')").to_pydict()
    assert any("output_rows" in text for text in plan["plan"])
    assert "azof_scan" in plan["plan_type"]


def test_a_dataframe_stays_usable_after_later_queries(ctx: ExecutionContext) -> None:
    first = ctx.sql("SELECT px FROM prices AT ('2024-01-05') WHERE key = 'a'")
    ctx.sql("SELECT px FROM prices WHERE key = 'a'").to_pylist()
    assert first.to_pylist() == [{"px": 1}]
    assert ctx.session.catalog().schema().table_names() == set()


def test_current_state_follows_new_commits() -> None:
    lake = azof.Lakehouse(f"memory://sql-fresh-{uuid.uuid4().hex}")
    table = lake.create_table("events", PRICES_SCHEMA)
    table.put("a", at("2024-01-01"), px=1, sector="tech")
    ctx = ExecutionContext(lake)
    assert ctx.sql("SELECT count(*) AS n FROM events").to_pylist() == [{"n": 1}]
    table.put("b", at("2024-01-02"), px=2, sector="tech")
    assert ctx.sql("SELECT count(*) AS n FROM events").to_pylist() == [{"n": 2}]
    assert ctx.sql("SELECT count(*) AS n FROM events AT (VERSION => 1)").to_pylist() == [{"n": 1}]


def test_known_at_alone_reads_the_current_state_of_that_snapshot(
    ctx: ExecutionContext, prices: Prices
) -> None:
    got = ctx.sql(f"SELECT key, px FROM prices AT (KNOWN_AT => '{prices.known_at[2]}')")
    assert rows(got.to_arrow_table()) == rows(prices.table.scan(version=2), ["key", "px"])
    assert ctx.last_scans[0].version == 2
    assert ctx.last_scans[0].as_of is None


@pytest.mark.parametrize(
    ("select", "columns"),
    [
        ("* EXCLUDE (sector)", ["key", "event_time", "px"]),
        ("* EXCEPT (sector, px)", ["key", "event_time"]),
        ("p.* EXCLUDE (event_time)", ["key", "px", "sector"]),
    ],
)
def test_star_with_exclusions(
    ctx: ExecutionContext, prices: Prices, select: str, columns: list[str]
) -> None:
    got = ctx.sql(f"SELECT {select} FROM prices AT ('{T}') p").to_arrow_table()
    assert got.column_names == columns
    assert rows(got) == rows(prices.table.scan(T), columns)


def test_natural_join_of_two_times(ctx: ExecutionContext) -> None:
    # on every column: the keys whose whole row is the same at both times (not d, new by then)
    got = ctx.sql(
        "SELECT key, px FROM prices AT ('2024-01-05') NATURAL JOIN prices AT ('2024-01-12') x"
    ).to_pylist()
    assert sorted(got, key=str) == [
        {"key": "a", "px": 1},
        {"key": "b", "px": 10},
        {"key": "c", "px": 100},
    ]
