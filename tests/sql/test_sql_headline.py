"""The seed's headline query, checked against an answer computed from the raw Parquet files."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from azof.sql import ExecutionContext
from azof.timestamps import parse_instant

HEADLINE = """
    SELECT key AS symbol, revenue, net_income
    FROM financials AT ('2019-01-17T00:00:00.000Z')
    WHERE industry IN ('Software')
    ORDER BY revenue DESC LIMIT 5"""
HEADLINE_T = "2019-01-17T00:00:00.000Z"


def latest_rows(folder: Path, as_of: str) -> list[dict[str, Any]]:
    """Per key, the row with the greatest event_time <= as_of over every row of every
    Parquet file of the table folder (no snapshot, no planning)."""
    columns = ["key", "event_time", "industry", "revenue", "net_income"]
    rows = pa.concat_tables(
        [pq.read_table(path, columns=columns) for path in sorted(folder.glob("*.parquet"))]
    )
    bound = pa.scalar(parse_instant(as_of) // 1_000_000, pa.timestamp("ms", tz="UTC"))
    rows = rows.filter(pc.field("event_time") <= bound)
    rows = rows.take(pc.sort_indices(rows, [("key", "ascending"), ("event_time", "descending")]))
    keys = rows.column("key").combine_chunks()
    first = pc.not_equal(keys.slice(1), keys.slice(0, len(keys) - 1))
    latest = rows.filter(pa.concat_arrays([pa.array([True]), first]))
    assert len(set(latest.column("key").to_pylist())) == latest.num_rows
    return latest.to_pylist()


@pytest.fixture(scope="module")
def expected(seed_dir: Path) -> list[dict[str, Any]]:
    latest = latest_rows(seed_dir / "financials", HEADLINE_T)
    software = [r for r in latest if r["industry"] == "Software"]
    # ORDER BY revenue DESC: NULLs first (DataFusion's default, as in PostgreSQL)
    software.sort(key=lambda r: (r["revenue"] is None, r["revenue"] or 0), reverse=True)
    assert len(software) > 5
    assert software[4]["revenue"] != software[5]["revenue"]  # no tie at the cut
    top = software[:5]
    return [
        {"symbol": r["key"], "revenue": r["revenue"], "net_income": r["net_income"]} for r in top
    ]


def test_headline_query_matches_the_raw_files(
    seed_dir: Path, expected: list[dict[str, Any]]
) -> None:
    ctx = ExecutionContext(seed_dir)
    result = ctx.sql(HEADLINE).to_arrow_table()
    assert result.column_names == ["symbol", "revenue", "net_income"]
    assert result.to_pylist() == expected
    assert [r["symbol"] for r in expected] == ["MSFT", "ORCL", "SAP", "CRM", "VMW"]


def test_headline_query_answers_well_under_a_second(seed_dir: Path) -> None:
    ctx = ExecutionContext(seed_dir)
    ctx.sql(HEADLINE).to_arrow_table()  # warm up: first use of DataFusion and the files
    started = time.perf_counter()
    ctx.sql(HEADLINE).to_arrow_table()
    assert time.perf_counter() - started < 1.0


def test_headline_query_reads_only_its_columns(seed_dir: Path) -> None:
    ctx = ExecutionContext(seed_dir)
    ctx.sql(HEADLINE)
    (scan,) = ctx.last_scans
    assert scan.table == "financials"
    assert scan.as_of == HEADLINE_T
    assert scan.columns == ("key", "event_time", "industry", "revenue", "net_income")
    assert scan.filter is None  # industry is a value column: it stays above the merge


def test_result_converts_to_pandas(seed_dir: Path, expected: list[dict[str, Any]]) -> None:
    pytest.importorskip("pandas")
    frame = ExecutionContext(str(seed_dir)).sql(HEADLINE).to_pandas()
    assert frame["symbol"].tolist() == [r["symbol"] for r in expected]
