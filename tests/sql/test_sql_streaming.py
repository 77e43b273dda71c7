"""DataFusion and DuckDB read each table reference as a stream (azof.dataset.ScanDataset):
nothing is read when a query is planned, a frame can run again, a table of several hash
buckets is one fragment per bucket, and the engines' own filters keep the as-of answer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import azof
import azof.duckdb
from azof.dataset import ScanDataset, ScanLog
from azof.sql import ExecutionContext

SCHEMA = pa.schema(
    [("key", pa.int64()), ("event_time", pa.timestamp("ms", tz="UTC")), ("px", pa.int64())]
)
START = datetime(2024, 1, 1, tzinfo=UTC)
KEYS = 600


@pytest.fixture(scope="module")
def lake() -> azof.Lakehouse:
    """Table ``t``: 600 keys on Jan 1 (px = key), all rewritten on Jan 10 (px = key + 1000),
    compacted into 4 hash buckets, then pending updates of every third key on Jan 20
    (px = -key) and a delete of keys 0-9 on Jan 25."""
    lake = azof.Lakehouse(f"memory://{uuid.uuid4().hex}")
    table = lake.create_table("t", SCHEMA)
    keys = list(range(KEYS))
    for day, px in ((0, keys), (9, [k + 1000 for k in keys])):
        table.append({"key": keys, "event_time": [START + timedelta(days=day)] * KEYS, "px": px})
    table.compact(azof.CompactionPolicy(segment="month", buckets=4))
    third = keys[::3]
    when = [START + timedelta(days=19)] * len(third)
    table.append({"key": third, "event_time": when, "px": [-k for k in third]})
    table.delete(list(range(10)), START + timedelta(days=24))
    assert table.bucket_count() == 4
    return lake


QUERIES = [
    "SELECT count(*) AS n FROM t",
    "SELECT key, px FROM t WHERE px < 0",
    "SELECT key, px FROM t WHERE key = 42",
    "SELECT key, px FROM t WHERE key < 100 AND px > 500",
    "SELECT key, px FROM t AT ('2024-01-05') WHERE px >= 1000",
    "SELECT key, px FROM t WHERE event_time >= '2024-01-15'",
]


def expected(lake: azof.Lakehouse, query: str) -> list[dict[str, Any]]:
    """The query over the materialised as-of answer (DuckDB over an Arrow table)."""
    table = lake.table("t")
    as_of = "2024-01-05" if "AT (" in query else None
    state = table.scan(as_of)  # noqa: F841 - read by DuckDB below
    plain = query.replace(" AT ('2024-01-05')", "").replace("FROM t", "FROM state")
    return sorted(duckdb.sql(plain).to_arrow_table().to_pylist(), key=str)


@pytest.mark.parametrize("query", QUERIES)
def test_engines_answer_as_the_materialised_scan(lake: azof.Lakehouse, query: str) -> None:
    want = expected(lake, query)
    ctx = ExecutionContext(lake)
    frame = ctx.sql(query)
    assert sorted(frame.to_pylist(), key=str) == want
    assert sorted(frame.to_pylist(), key=str) == want  # a frame runs again: a fresh read
    con = duckdb.connect()
    relation = azof.duckdb.sql(con, lake, query)
    assert sorted(relation.to_arrow_table().to_pylist(), key=str) == want
    assert sorted(relation.to_arrow_table().to_pylist(), key=str) == want


def test_nothing_is_read_until_the_frame_runs(lake: azof.Lakehouse) -> None:
    ctx = ExecutionContext(lake)
    frame = ctx.sql("SELECT count(*) AS n FROM t WHERE key >= 300")
    (record,) = ctx.last_scans
    assert record.metrics.files_read == 0
    assert record.filter_sql == "key >= 300"
    assert frame.to_pylist() == [{"n": KEYS - 300}]
    assert record.metrics.files_read > 0
    assert record.metrics.rows_out == KEYS - 300
    plan = ctx.sql("EXPLAIN SELECT px FROM t WHERE key = 7").to_pydict()
    (row,) = [p for k, p in zip(plan["plan_type"], plan["plan"], strict=True) if k == "azof_scan"]
    assert "not read yet; plan:" in row


def test_one_fragment_per_bucket(lake: azof.Lakehouse) -> None:
    log = ScanLog()
    dataset = ScanDataset(lake.table("t").scanner(), log=log)
    fragments = dataset.get_fragments()
    assert len(fragments) == 4
    parts = [f.scanner(columns=["key", "px"]).to_table() for f in fragments]
    union = pa.concat_tables(parts).sort_by("key")
    assert union == lake.table("t").scan(columns=["key", "px"]).sort_by("key")
    assert log.metrics.rows_out == union.num_rows
    assert log.columns == ("key", "event_time", "px")


def test_engine_filters_stay_above_the_merge(lake: azof.Lakehouse) -> None:
    """Keys not divisible by 3 have px = key + 1000 since Jan 10 and px = key on Jan 1: the
    engine's ``px < 1000`` must not bring their Jan 1 rows back. It keeps the keys updated
    to px = -key on Jan 20 (every third, less the deleted 0-9)."""
    dataset = ScanDataset(lake.table("t").scanner())
    stream = dataset.scanner(columns=["key"], filter=pc.field("px") < 1000)
    assert stream.scan.pushed_filter is None  # a value filter: applied to the answer
    got = stream.to_table()
    assert got.schema.names == ["key"]
    assert sorted(got.column("key").to_pylist()) == list(range(12, KEYS, 3))
    keyed = dataset.scanner(columns=["px"], filter=pc.field("key") == 42)
    assert keyed.scan.pushed_filter is not None  # key alone: below the merge
    assert keyed.to_table().to_pylist() == [{"px": -42}]
    assert dataset.count_rows() == KEYS - 10


def test_register_streams(lake: azof.Lakehouse) -> None:
    con = duckdb.connect()
    azof.duckdb.register(con, lake.table("t"), "t_jan5", as_of="2024-01-05", merge_rows=100)
    assert con.sql("SELECT count(*), min(px), max(px) FROM t_jan5").fetchall() == [
        (KEYS, 0, KEYS - 1)
    ]
