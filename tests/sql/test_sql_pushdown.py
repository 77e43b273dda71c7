"""Projection and predicate pushdown of SQL queries, proven by what the scans read
(``ExecutionContext.last_scans``), and value predicates kept above the as-of merge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from sql_lakes import FEB1, HOURS_BASE, HOURS_DELTA, MS, Prices, T

from azof.sql import ExecutionContext
from azof.timestamps import parse_instant

HEADLINE_T = "2019-01-17T00:00:00.000Z"


@pytest.fixture(scope="module")
def hours(hours_uri: str) -> ExecutionContext:
    return ExecutionContext(hours_uri)


def expected_hours(as_of: Any = None) -> dict[str, int]:
    latest: dict[str, dict[str, Any]] = {}
    for row in HOURS_BASE + HOURS_DELTA:
        if as_of is not None and row["event_time"] > as_of:
            continue
        held = latest.get(row["key"])
        if held is None or row["event_time"] >= held["event_time"]:
            latest[row["key"]] = row
    return {k: r["value"] for k, r in latest.items()}


# -- projection ---------------------------------------------------------------------------


def test_only_referenced_columns_are_read(hours: ExecutionContext) -> None:
    hours.sql("SELECT * FROM hours").to_arrow_table()
    (everything,) = hours.last_scans
    got = hours.sql("SELECT key, value FROM hours").to_pylist()
    (narrow,) = hours.last_scans
    assert {r["key"]: r["value"] for r in got} == expected_hours()
    assert everything.columns == ("key", "event_time", "value", "note")
    assert narrow.columns == ("key", "event_time", "value")
    assert narrow.metrics.bytes_read < everything.metrics.bytes_read


def test_columns_of_every_clause_are_found(hours: ExecutionContext) -> None:
    hours.sql(
        "SELECT h.key FROM hours h WHERE h.note LIKE 'y%' GROUP BY h.key ORDER BY max(h.value)"
    ).to_arrow_table()
    assert hours.last_scans[0].columns == ("key", "event_time", "value", "note")


def test_columns_through_ctes_and_joins(hours: ExecutionContext) -> None:
    hours.sql(
        "WITH old AS (SELECT * FROM hours AT ('2024-01-15')) "
        "SELECT o.key, n.value - o.value AS d FROM old o JOIN hours n ON o.key = n.key"
    ).to_arrow_table()
    old, new = hours.last_scans
    assert old.columns == ("key", "event_time", "value")
    assert new.columns == ("key", "event_time", "value")


def test_seed_projection_reads_fewer_bytes(seed_memory_uri: str) -> None:
    ctx = ExecutionContext(seed_memory_uri)
    ctx.sql(f"SELECT * FROM financials AT ('{HEADLINE_T}')").to_arrow_table()
    (everything,) = ctx.last_scans
    ctx.sql(f"SELECT key, revenue FROM financials AT ('{HEADLINE_T}')").to_arrow_table()
    (narrow,) = ctx.last_scans
    assert narrow.columns == ("key", "event_time", "revenue")
    assert 0 < narrow.metrics.bytes_read < everything.metrics.bytes_read * 0.8


# -- key predicates prune files and row groups -----------------------------------------------


def test_key_equality_prunes_row_groups(hours: ExecutionContext) -> None:
    got = hours.sql("SELECT key, value FROM hours WHERE key = 'k042'").to_pylist()
    assert got == [{"key": "k042", "value": 1042}]
    (scan,) = hours.last_scans
    assert scan.filter is not None
    assert scan.filter_sql == "key = 'k042'"
    assert scan.metrics.row_groups_total == 20
    assert scan.metrics.row_groups_read == 2  # one per file
    assert scan.metrics.rows_read == 2


def test_key_predicates_combine_and_reach_every_scan(hours: ExecutionContext) -> None:
    got = hours.sql(
        "SELECT a.key, a.value AS v1, b.value AS v2 "
        "FROM hours AT ('2024-01-15') a JOIN hours b ON a.key = b.key "
        "WHERE a.key IN ('k003', 'k077') AND a.value >= 0 ORDER BY a.key"
    ).to_pylist()
    assert got == [
        {"key": "k003", "v1": 3, "v2": 1003},
        {"key": "k077", "v1": 77, "v2": 1077},
    ]
    for scan in hours.last_scans:  # the join carries the key predicate to b
        assert scan.filter is not None
        assert scan.metrics.row_groups_read < scan.metrics.row_groups_total


def test_key_range_prunes_and_reads_fewer_bytes(hours: ExecutionContext) -> None:
    hours.sql("SELECT key, value FROM hours").to_arrow_table()
    (everything,) = hours.last_scans
    got = hours.sql("SELECT key, value FROM hours WHERE key >= 'k090' AND key < 'k095'").to_pylist()
    (scan,) = hours.last_scans
    assert {r["key"]: r["value"] for r in got} == {f"k{i:03d}": 1000 + i for i in range(90, 95)}
    assert scan.metrics.row_groups_read == 2
    assert scan.metrics.bytes_read < everything.metrics.bytes_read


def test_seed_key_predicate_reads_only_that_key(seed_memory_uri: str) -> None:
    ctx = ExecutionContext(seed_memory_uri)
    got = ctx.sql(
        f"SELECT key, revenue FROM financials AT ('{HEADLINE_T}') WHERE key = 'MSFT'"
    ).to_pylist()
    assert got == [{"key": "MSFT", "revenue": 32471000000}]
    (scan,) = ctx.last_scans
    assert scan.filter_sql == "key = 'MSFT'"
    assert scan.metrics.rows_read == 1


# -- lower bounds on event_time prune too ----------------------------------------------------


def test_event_time_lower_bound_prunes(hours: ExecutionContext) -> None:
    # 2024-02-04T18:00Z is Feb 1 + 90 hours: keys k090.. have their delta row after it.
    assert FEB1 + timedelta(hours=90) == datetime(2024, 2, 4, 18, tzinfo=UTC)
    got = hours.sql(
        "SELECT key, value FROM hours WHERE event_time >= '2024-02-04T18:00:00Z'"
    ).to_pylist()
    (scan,) = hours.last_scans
    expected = {k: v for k, v in expected_hours().items() if int(k[1:]) >= 90}
    assert {r["key"]: r["value"] for r in got} == expected
    assert scan.filter_sql is not None
    assert "event_time" in scan.filter_sql
    assert scan.metrics.row_groups_read == 1  # the base (Jan 1) and 9 delta groups pruned
    assert scan.metrics.rows_read == 10


@pytest.mark.parametrize(
    "bound", ["2024-01-01", "2024-01-10", "2024-01-15", "2024-01-20", "2024-01-25", "2024-02-01"]
)
@pytest.mark.parametrize("as_of", [T, "2024-01-22", None])
def test_event_time_lower_bound_is_safe(prices: Prices, bound: str, as_of: str | None) -> None:
    """Pushed below the merge or not, a lower bound gives the answer of filtering the
    merged state, tombstones included (b is deleted on Jan 25)."""
    ctx = ExecutionContext(prices.uri)
    clause = f"AT ('{as_of}')" if as_of is not None else ""
    for op in (">=", ">"):
        got = ctx.sql(
            f"SELECT key, px FROM prices {clause} WHERE event_time {op} '{bound}'"
        ).to_pylist()
        assert ctx.last_scans[0].filter is not None
        state = prices.table.scan(as_of)
        limit = pa.scalar(millis(bound), pa.timestamp("ms", tz="UTC"))
        keep = (
            pc.greater_equal(state["event_time"], limit)
            if op == ">="
            else pc.greater(state["event_time"], limit)
        )
        expected = state.filter(keep).select(["key", "px"]).to_pylist()
        assert sorted(got, key=str) == sorted(expected, key=str)


def millis(text: str) -> int:
    return parse_instant(text) // 1_000_000


# -- value predicates stay above the merge ---------------------------------------------------


def test_value_predicate_does_not_resurrect_an_older_row(prices: Prices) -> None:
    """As of Jan 31, a's latest px is 15 (Jan 15); its older px 1 (Jan 1) passes px < 10 but
    must not come back; nor may the rows of c (px 100 then 150) for px < 120."""
    ctx = ExecutionContext(prices.uri)
    assert ctx.sql(f"SELECT key FROM prices AT ('{T}') WHERE px < 10").to_pylist() == []
    assert ctx.last_scans[0].filter is None
    got = ctx.sql(f"SELECT key, px FROM prices AT ('{T}') WHERE px < 120 OR key = 'd'")
    assert sorted(got.to_pylist(), key=str) == [{"key": "a", "px": 15}, {"key": "d", "px": 1000}]
    assert ctx.last_scans[0].filter is None  # an OR across columns is not pushed


def test_event_time_upper_bound_is_not_pushed(prices: Prices) -> None:
    """An upper bound would resurrect older rows: a's latest is Feb 1 (px 2), so a is not in
    "event_time <= Jan 20" even though its Jan 15 row is."""
    ctx = ExecutionContext(prices.uri)
    got = ctx.sql("SELECT key, px FROM prices WHERE event_time <= '2024-01-20'").to_pylist()
    assert sorted(got, key=str) == [{"key": "c", "px": 150}, {"key": "d", "px": 1000}]
    assert ctx.last_scans[0].filter is None


def test_seed_value_predicate_stays_above_the_merge(seed_dir: Any) -> None:
    ctx = ExecutionContext(seed_dir)
    ctx.sql(
        f"SELECT key FROM financials AT ('{HEADLINE_T}') WHERE industry = 'Software'"
    ).to_arrow_table()
    (scan,) = ctx.last_scans
    assert scan.filter is None
    ctx.sql(f"SELECT key FROM financials AT ('{HEADLINE_T}')").to_arrow_table()
    (everything,) = ctx.last_scans
    # every key merged (as many rows read as without the filter), then filtered
    assert scan.metrics.rows_read == everything.metrics.rows_read
    assert scan.metrics.rows_out < everything.metrics.rows_out


def test_predicate_under_an_outer_join_is_not_pushed_wrongly(prices: Prices) -> None:
    ctx = ExecutionContext(prices.uri)
    got = ctx.sql(
        f"SELECT a.key, b.key AS bk FROM prices AT ('{T}') a "
        "LEFT JOIN prices b ON a.key = b.key AND b.key = 'a' WHERE b.key IS NULL ORDER BY a.key"
    ).to_pylist()
    assert got == [{"key": "c", "bk": None}, {"key": "d", "bk": None}]


def test_a_scan_hidden_in_an_expression_reads_everything() -> None:
    """DataFusion keeps some correlated subqueries as expressions, out of the plan tree:
    their scans cannot be analysed, so they read every column with no predicate."""
    from datafusion import SessionContext

    from azof.sql.pushdown import READ_ALL, needs_from_datafusion

    schema = pa.schema([("key", pa.string()), ("event_time", MS), ("px", pa.int64())])
    session = SessionContext()
    for name in ("outer_ref", "inner_ref"):
        session.register_record_batches(name, [[pa.RecordBatch.from_pylist([], schema=schema)]])
    plan = session.sql(
        "SELECT o.key, (SELECT max(i.px) FROM inner_ref i WHERE i.px < o.px AND i.key = 'a') "
        "FROM outer_ref o WHERE o.key = 'b'"
    ).optimized_logical_plan()
    needs = needs_from_datafusion(plan, {"outer_ref": schema, "inner_ref": schema})
    assert needs["inner_ref"] == READ_ALL
    assert needs["outer_ref"].columns == ("key", "px")
    assert needs["outer_ref"].predicate_sql == "key = 'b'"
