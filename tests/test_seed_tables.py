"""The seed tables (``../shared/seed-tables``) read through the public API: the published
expectations of SEED-FORMAT.md, and the financials table against the naive oracle."""

from __future__ import annotations

import bisect
import time
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import azof
from naive import History, latest_per_key, read_rows

SEED_NAMES = ["financials", "table0", "table1", "table2"]

# SEED-FORMAT.md, "Published expectations of the seed": (table, as of, key -> value).
PUBLISHED = [
    ("table0", None, {"1": "abc2", "2": "xyz2", "3": "www2"}),
    ("table0", "2024-02-17T00:00:00Z", {"1": "abc2", "2": "xyz"}),
    ("table1", None, {"1": "abc4", "2": "xyz3"}),
    ("table1", "2024-06-01T00:00:00Z", {"1": "abc3", "2": "xyz2"}),
    ("table1", "2024-02-01T00:00:00Z", {"1": "abc2"}),
    ("table2", None, {"1": ("abc2", 100), "2": ("xyz2", 222), "3": ("www2", 300)}),
    ("table2", "2024-02-17T00:00:00Z", {"1": ("abc2", 100), "2": ("xyz", 200)}),
]

# Segment and delta boundaries (years, quarters; events fall on the 1st of a month), the
# headline query's time, the 2019-06-01 ties, the open 2021 segment and the current state.
FINANCIALS_TIMES = [
    "2000-01-01T00:00:00Z",
    "2000-03-31T23:59:59.999Z",
    "2000-04-01T00:00:00Z",
    "2000-06-15T12:00:00Z",
    "2000-12-31T23:59:59.999Z",
    "2001-01-01T00:00:00Z",
    "2003-07-01T00:00:00Z",
    "2005-02-03T04:05:06.789Z",
    "2008-09-30T23:59:59.999Z",
    "2008-10-01T00:00:00Z",
    "2010-12-31T23:59:59.999Z",
    "2012-05-31T23:59:59.999Z",
    "2012-06-01T00:00:00Z",
    "2015-11-11T11:11:11Z",
    "2018-12-31T23:59:59.999Z",
    "2019-01-01T00:00:00Z",
    "2019-01-17T00:00:00Z",
    "2019-03-31T23:59:59.999Z",
    "2019-04-01T00:00:00Z",
    "2019-05-31T23:59:59.999Z",
    "2019-06-01T00:00:00Z",
    "2019-06-15T00:00:00Z",
    "2019-07-01T00:00:00Z",
    "2020-06-30T23:59:59.999Z",
    "2020-12-01T00:00:00Z",
    "2020-12-31T23:59:59.999Z",
    "2021-01-01T00:00:00Z",
    "2021-06-30T00:00:00Z",
    None,
]


def values(table: pa.Table, *columns: str) -> dict[str, Any]:
    """key -> value (one column) or key -> tuple of values."""
    out = {}
    for row in table.to_pylist():
        picked = tuple(row[c] for c in columns)
        out[row["key"]] = picked[0] if len(picked) == 1 else picked
    assert len(out) == table.num_rows, "a key appears twice in the answer"
    return out


def utc(text: str | None) -> datetime | None:
    """An ISO time read with the standard library only (the oracle must not use azof)."""
    return None if text is None else datetime.fromisoformat(text)


def assert_matches(result: pa.Table, history: History, as_of: datetime | None) -> None:
    """The answer holds exactly the oracle's keys, each with the oracle's row (or, where the
    data holds disagreeing rows for the key's latest event time, one of them)."""
    got = result.sort_by("key")
    expected = history.latest_table(as_of)
    keys = got.column("key").to_pylist()
    if keys != expected.column("key").to_pylist():
        missing = set(expected.column("key").to_pylist()) - set(keys)
        extra = set(keys) - set(expected.column("key").to_pylist())
        duplicated = len(keys) - len(set(keys))
        pytest.fail(
            f"keys differ: {len(missing)} missing (e.g. {sorted(missing)[:5]}), {len(extra)} "
            f"extra (e.g. {sorted(extra)[:5]}), {duplicated} duplicated"
        )
    same = [True] * len(keys)
    for key, rows in history.ties(as_of).items():
        index = bisect.bisect_left(keys, key)
        assert got.slice(index, 1).to_pylist()[0] in rows, key
        same[index] = False
    mask = pa.array(same)
    for name in result.column_names:
        got_column, expected_column = got[name].filter(mask), expected[name].filter(mask)
        if not got_column.equals(expected_column):
            pairs = zip(got_column.to_pylist(), expected_column.to_pylist(), strict=True)
            differ = [i for i, (a, b) in enumerate(pairs) if a != b]
            example = got.filter(mask).slice(differ[0], 1).to_pylist() if differ else []
            pytest.fail(f"column {name!r} differs in {len(differ)} rows, e.g. {example}")


@pytest.fixture(params=["local", "memory"])
def lake(request: pytest.FixtureRequest, seed_dir: Path, seed_memory_uri: str) -> azof.Lakehouse:
    return azof.Lakehouse(seed_dir if request.param == "local" else seed_memory_uri)


@pytest.fixture(scope="module")
def financials(seed_dir: Path) -> azof.Table:
    return azof.Lakehouse(seed_dir).table("financials")


@pytest.fixture(scope="module")
def history(seed_dir: Path) -> History:
    return History(seed_dir / "financials")


# -- published expectations, local and in memory -------------------------------------------


@pytest.mark.parametrize(("name", "as_of", "expected"), PUBLISHED)
def test_published_expectations(
    lake: azof.Lakehouse, name: str, as_of: str | None, expected: dict[str, Any]
) -> None:
    result = lake.table(name).scan(as_of=as_of)
    columns = ("value1", "value2") if name == "table2" else ("value",)
    assert values(result, *columns) == expected


@pytest.mark.parametrize(("name", "as_of", "expected"), PUBLISHED)
def test_oracle_agrees_with_published_expectations(
    seed_dir: Path, name: str, as_of: str | None, expected: dict[str, Any]
) -> None:
    latest = latest_per_key(read_rows(seed_dir / name), utc(as_of))
    if name == "table2":
        assert {k: (r["value1"], r["value2"]) for k, r in latest.items()} == expected
    else:
        assert {k: r["value"] for k, r in latest.items()} == expected


def test_published_expectations_whole_rows(lake: azof.Lakehouse) -> None:
    result = lake.table("table2").scan(as_of="2024-02-17T00:00:00Z")
    jan1 = datetime(2024, 1, 1, tzinfo=UTC)
    assert result.to_pylist() == [
        {"key": "1", "event_time": datetime(2024, 2, 1, tzinfo=UTC), "value1": "abc2",
         "value2": 100, "is_active": True, "created": jan1},
        {"key": "2", "event_time": jan1, "value1": "xyz", "value2": 200, "is_active": False,
         "created": jan1},
    ]  # fmt: skip


def test_tables(lake: azof.Lakehouse) -> None:
    assert lake.tables() == SEED_NAMES


def test_schema(lake: azof.Lakehouse) -> None:
    # Format-1 columns read as nullable: the seed writer did not enforce "nullable": false.
    assert lake.table("table2").schema == pa.schema(
        [
            pa.field("key", pa.string(), nullable=False),
            pa.field("event_time", pa.timestamp("ms", tz="UTC"), nullable=False),
            pa.field("value1", pa.string()),
            pa.field("value2", pa.int64()),
            pa.field("is_active", pa.bool_()),
            pa.field("created", pa.timestamp("ms", tz="UTC")),
        ]
    )
    assert lake.table("financials").schema.names == [
        "key", "event_time", "industry", "revenue", "shares_diluted", "net_income"
    ]  # fmt: skip


@pytest.mark.parametrize("name", SEED_NAMES)
def test_scan_schema_is_the_table_schema(lake: azof.Lakehouse, name: str) -> None:
    table = lake.table(name)
    assert table.scan(as_of="2020-01-01").schema == table.schema
    assert table.scan().schema == table.schema


@pytest.mark.parametrize("name", SEED_NAMES)
def test_versions(lake: azof.Lakehouse, name: str) -> None:
    table = lake.table(name)
    assert table.versions() == [1]
    assert table.version == 1


def test_before_the_first_event_nothing_is_known(lake: azof.Lakehouse) -> None:
    result = lake.table("table0").scan(as_of="2023-12-31T23:59:59.999Z")
    assert result.num_rows == 0
    assert result.schema == lake.table("table0").schema


# -- financials against the naive oracle ---------------------------------------------------


@pytest.mark.parametrize("as_of", FINANCIALS_TIMES)
def test_financials_equals_oracle(
    financials: azof.Table, history: History, as_of: str | None
) -> None:
    assert_matches(financials.scan(as_of=as_of), history, utc(as_of))


@pytest.mark.parametrize("as_of", ["2012-06-01T00:00:00Z", "2019-06-15T00:00:00Z", None])
def test_financials_in_memory_equals_oracle(
    seed_memory_uri: str, history: History, as_of: str | None
) -> None:
    table = azof.Lakehouse(seed_memory_uri).table("financials")
    assert_matches(table.scan(as_of=as_of), history, utc(as_of))


FIRST = datetime(2000, 1, 1, tzinfo=UTC)
QUARTER_STARTS = [datetime(y, m, 1, tzinfo=UTC) for y in range(2000, 2022) for m in (1, 4, 7, 10)]
boundary_times = st.builds(
    lambda start, ms: start + timedelta(milliseconds=ms),
    st.sampled_from(QUARTER_STARTS),
    st.sampled_from([-1, 0, 1]),
).filter(lambda t: t >= FIRST)
any_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2021, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=10, deadline=None)
@given(as_of=st.one_of(boundary_times, any_times))
def test_financials_equals_oracle_at_any_time(
    financials: azof.Table, history: History, as_of: datetime
) -> None:
    assert_matches(financials.scan(as_of=as_of), history, as_of)


def test_oracle_history_equals_latest_per_key(seed_dir: Path) -> None:
    for name in ["table0", "table1", "table2"]:
        rows, indexed = read_rows(seed_dir / name), History(seed_dir / name)
        for as_of in [None, *(datetime(2024, m, 17, tzinfo=UTC) for m in range(1, 8))]:
            assert indexed.latest(as_of) == latest_per_key(rows, as_of)


def test_financials_headline_query(financials: azof.Table, history: History) -> None:
    """SELECT key AS symbol, revenue, net_income FROM financials AT ('2019-01-17...')
    WHERE industry IN ('Software') ORDER BY revenue DESC LIMIT 5"""
    result = financials.scan(
        as_of="2019-01-17T00:00:00.000Z",
        columns=["key", "revenue", "net_income"],
        filter=pc.field("industry").isin(["Software"]),
    )
    assert result.column_names == ["key", "revenue", "net_income"]
    top = result.sort_by([("revenue", "descending")]).slice(0, 5).to_pylist()
    latest = history.latest(datetime(2019, 1, 17, tzinfo=UTC))
    software = [r for r in latest.values() if r["industry"] == "Software"]
    software.sort(key=lambda r: r["revenue"], reverse=True)
    assert result.num_rows == len(software)
    assert top == [
        {"key": r["key"], "revenue": r["revenue"], "net_income": r["net_income"]}
        for r in software[:5]
    ]
    assert top[0]["key"] == "MSFT"


def test_financials_filters_equal_oracle(financials: azof.Table, history: History) -> None:
    as_of = "2015-06-30T00:00:00Z"
    latest = history.latest(utc(as_of))
    keys = ["AAPL", "MSFT", "NOPE", "IBM"]
    by_key = financials.scan(as_of=as_of, filter=pc.field("key").isin(keys))
    assert by_key.to_pylist() == [latest[k] for k in sorted(keys) if k in latest]
    big = financials.scan(as_of=as_of, filter=pc.field("revenue") > 10**10)
    expected = sorted(k for k, r in latest.items() if r["revenue"] > 10**10)
    assert sorted(big.column("key").to_pylist()) == expected


def test_financials_scan_is_fast(financials: azof.Table) -> None:
    financials.scan(as_of="2019-01-17")  # warm-up: file system caches, first imports
    started = time.perf_counter()
    result = financials.scan(as_of="2019-01-17")
    elapsed = time.perf_counter() - started
    assert result.num_rows > 20_000
    assert elapsed < 1.0, f"one as-of scan of financials took {elapsed:.2f} s"


# -- every accepted form of as_of ----------------------------------------------------------

# table0: key 2 turns from "xyz" to "xyz2" at 2024-02-20T00:00:00Z exactly.
AT_CHANGE = [
    datetime(2024, 2, 20, tzinfo=UTC),
    datetime(2024, 2, 20),
    datetime(2024, 2, 20, 1, tzinfo=timezone(timedelta(hours=1))),
    date(2024, 2, 20),
    "2024-02-20",
    "2024-02-20T00:00",
    "2024-02-20T00:00:00",
    "2024-02-20 00:00:00",
    "2024-02-20T00:00:00Z",
    "2024-02-20T00:00:00.000Z",
    "2024-02-19T19:00:00-05:00",
    "2024-02-20T05:30:00+05:30",
    "2024-02-20T05:30:00+0530",
    pd.Timestamp("2024-02-20", tz="UTC"),
    pd.Timestamp("2024-02-20"),
    pd.Timestamp("2024-02-19 16:00", tz="America/Los_Angeles"),
    np.datetime64("2024-02-20"),
    np.datetime64("2024-02-20T00:00:00.000000000"),
]
JUST_BEFORE = [
    datetime(2024, 2, 19, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2024, 2, 19, 23, 59, 59, 999000),
    date(2024, 2, 19),
    "2024-02-19",
    "2024-02-19T23:59:59.999Z",
    "2024-02-19T23:59:59.999999999Z",
    "2024-02-19T23:59:59.999999999",
    "2024-02-20T00:59:59.999+01:00",
    "2024-02-19T18:59:59.999-05:00",
    pd.Timestamp("2024-02-19 23:59:59.999999999", tz="UTC"),
    pd.Timestamp("2024-02-20 00:59:59.999999999+01:00"),
    np.datetime64("2024-02-19T23:59:59.999999999"),
    np.datetime64("2024-02-19T23:59:59.999", "ms"),
]


@pytest.mark.parametrize("as_of", AT_CHANGE, ids=repr)
def test_as_of_forms_at_an_event(lake: azof.Lakehouse, as_of: Any) -> None:
    result = lake.table("table0").scan(as_of=as_of)
    assert values(result, "value") == {"1": "abc2", "2": "xyz2"}


@pytest.mark.parametrize("as_of", JUST_BEFORE, ids=repr)
def test_as_of_forms_just_before_an_event(lake: azof.Lakehouse, as_of: Any) -> None:
    result = lake.table("table0").scan(as_of=as_of)
    assert values(result, "value") == {"1": "abc2", "2": "xyz"}


def test_current_is_the_default(lake: azof.Lakehouse) -> None:
    table = lake.table("table1")
    assert table.scan() == table.scan(as_of=None)
    assert values(table.scan(), "value") == {"1": "abc4", "2": "xyz3"}


# -- projection, batches and other libraries -----------------------------------------------


def test_columns_select_and_order_the_answer(lake: azof.Lakehouse) -> None:
    table = lake.table("table2")
    result = table.scan(as_of="2024-02-17", columns=["value2", "key"])
    assert result.column_names == ["value2", "key"]
    assert result.to_pylist() == [{"value2": 100, "key": "1"}, {"value2": 200, "key": "2"}]
    only = table.scan(columns=["value1"], filter=pc.field("value2") > 150)
    assert only.column_names == ["value1"]
    assert sorted(only.column("value1").to_pylist()) == ["www2", "xyz2"]


def test_to_batches_yields_the_scan(financials: azof.Table) -> None:
    kwargs: dict[str, Any] = {"as_of": "2012-06-01", "columns": ["key", "revenue"]}
    expected = financials.scan(**kwargs)
    reader = financials.to_batches(**kwargs, batch_size=1_000)
    assert isinstance(reader, pa.RecordBatchReader)
    batches = list(reader)
    assert len(batches) > 1
    assert all(batch.num_rows <= 1_000 for batch in batches)
    assert pa.Table.from_batches(batches, expected.schema) == expected


def test_to_batches_small_table(lake: azof.Lakehouse) -> None:
    table = lake.table("table0")
    for as_of in [None, "2024-02-17"]:
        assert table.to_batches(as_of).read_all() == table.scan(as_of)


def test_to_pandas(lake: azof.Lakehouse) -> None:
    frame = lake.table("table2").to_pandas("2024-02-17", columns=["key", "value1", "value2"])
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["key", "value1", "value2"]
    assert frame.to_dict("records") == [
        {"key": "1", "value1": "abc2", "value2": 100},
        {"key": "2", "value1": "xyz", "value2": 200},
    ]


def test_to_polars(lake: azof.Lakehouse) -> None:
    import polars as pl

    table = lake.table("table2")
    frame = table.to_polars("2024-02-17", columns=["key", "value1", "value2"])
    assert isinstance(frame, pl.DataFrame)
    assert frame.to_dicts() == [
        {"key": "1", "value1": "abc2", "value2": 100},
        {"key": "2", "value1": "xyz", "value2": 200},
    ]
    assert table.to_polars().equals(pl.from_arrow(table.scan()))


def test_to_pandas_with_nulls(financials: azof.Table) -> None:
    frame = financials.to_pandas("2019-01-17")
    assert len(frame) == financials.scan(as_of="2019-01-17").num_rows
    assert frame["industry"].isna().any()  # the seed's "non-nullable" column holds nulls


def test_answer_with_nulls_is_writable_parquet(financials: azof.Table, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    result = financials.scan(as_of="2019-01-17")
    pq.write_table(result, tmp_path / "answer.parquet")
    assert pq.read_table(tmp_path / "answer.parquet") == result


def test_polars_reads_the_answer(lake: azof.Lakehouse) -> None:
    pl = pytest.importorskip("polars")
    table = lake.table("table2")
    frame = pl.from_arrow(table.scan(as_of="2024-02-17"))
    assert frame.sort("key")["value1"].to_list() == ["abc2", "xyz"]
    capsule = pl.DataFrame(table)  # the table's current state, through __arrow_c_stream__
    assert capsule.sort("key")["value2"].to_list() == [100, 222, 300]


def test_duckdb_reads_the_answer(lake: azof.Lakehouse) -> None:
    duckdb = pytest.importorskip("duckdb")
    table = lake.table("table2")
    answer = table.scan(as_of="2024-02-17")
    con = duckdb.connect()
    con.register("answer", answer)
    assert con.sql("SELECT key, value1 FROM answer ORDER BY key").fetchall() == [
        ("1", "abc2"),
        ("2", "xyz"),
    ]
    con.register("now", table)  # through __arrow_c_stream__
    assert con.sql("SELECT sum(value2) FROM now").fetchall() == [(622,)]


def test_duckdb_runs_the_headline_query(financials: azof.Table) -> None:
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    con.register("answer", financials.scan(as_of="2019-01-17T00:00:00.000Z"))
    top = con.sql(
        "SELECT key AS symbol, revenue, net_income FROM answer "
        "WHERE industry IN ('Software') ORDER BY revenue DESC LIMIT 5"
    )
    assert top.fetchall()[0][0] == "MSFT"
