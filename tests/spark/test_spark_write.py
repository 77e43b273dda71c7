"""``df.write.format("azof")``: tasks write files, the driver commits them as one version;
checked with ``Table.scan`` against the oracle, and for failed and retried tasks."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest
from spark_harness import day, spark_marks

import azof
from naive import latest_per_key

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

pytestmark = spark_marks()

AS_OF = [None, "2024-01-01", "2024-01-10T12:00:00Z", "2024-02-01"]


def events(seed: int, count: int, keys: int = 25) -> list[dict[str, Any]]:
    """Random events of ``keys`` symbols in January 2024 (late and repeated times too)."""
    rng = random.Random(seed)
    return [
        {
            "symbol": f"s{rng.randrange(keys):02d}",
            "ts": day(2024, 1, 1) + timedelta(hours=rng.randrange(24 * 31)),
            "price": float(rng.randrange(1000)),
            "note": rng.choice(["a", "b", None]),
        }
        for _ in range(count)
    ]


SCHEMA = "symbol STRING, ts TIMESTAMP, price DOUBLE, note STRING"


def frame(spark: SparkSession, rows: list[dict[str, Any]], partitions: int = 4) -> DataFrame:
    data = pa.Table.from_pylist(rows, schema=pa.schema([
        ("symbol", pa.string()), ("ts", pa.timestamp("us", tz="UTC")),
        ("price", pa.float64()), ("note", pa.string()),
    ]))  # fmt: skip
    return spark.createDataFrame(data.to_pandas(), schema=SCHEMA).repartition(partitions)


def write(df: DataFrame, path: str, **options: str) -> None:
    (
        df.write.format("azof")
        .mode("append")
        .option("key", "symbol")
        .option("event_time", "ts")
        .options(**options)
        .save(path)
    )


def answer(table: azof.Table, as_of: Any) -> dict[str, dict[str, Any]]:
    """The table's answer under the oracle's names (``key``, ``event_time``)."""
    table.refresh()
    [key], time = table.key_columns, table.event_time_column
    rows = table.scan(as_of=as_of).to_pylist()
    named = [{"key": r.pop(key), "event_time": r.pop(time), **r} for r in rows]
    return {row["key"]: row for row in named}


def oracle(rows: list[dict[str, Any]], as_of: Any) -> dict[str, dict[str, Any]]:
    """The oracle's answer, under the table's names (events are distinct per key and time,
    so which of two equal ones wins does not matter)."""
    named = [
        {"key": r["symbol"], "event_time": r["ts"], "price": r["price"], "note": r["note"]}
        for r in rows
    ]
    return latest_per_key(named, as_of)


def distinct(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One event per (symbol, ts): Spark's partition order decides between equal ones."""
    return list({(r["symbol"], r["ts"]): r for r in rows}.values())


def test_write_creates_the_table_and_appends(spark: SparkSession, tmp_path: Path) -> None:
    first, second = distinct(events(1, 400)), distinct(events(2, 300))
    seen = {(r["symbol"], r["ts"]) for r in first}
    second = [r for r in second if (r["symbol"], r["ts"]) not in seen]
    write(frame(spark, first), f"{tmp_path}/ticks")
    table = azof.Lakehouse(tmp_path).table("ticks")
    assert table.version == 1  # created (0) and one commit of every task's files
    # created under the DataFrame's names, keyed and timed by the columns the options name
    assert table.schema.names == ["symbol", "ts", "price", "note"]
    assert (table.key_columns, table.event_time_column) == (("symbol",), "ts")
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert table.log()[-1].rows == len(first)
    write(frame(spark, second, partitions=3), f"{tmp_path}/ticks", file_rows="50")
    assert table.refresh().version == 2
    assert sum(f.rows or 0 for f in table.snapshot.deltas) == len(first) + len(second)
    for as_of in AS_OF:
        assert answer(table, as_of) == oracle(first + second, as_of), as_of
    # the table is then an ordinary azof table: compaction keeps every answer
    table.compact(azof.CompactionPolicy(segment="week", buckets=2))
    write(frame(spark, distinct(events(3, 50)), partitions=2), f"{tmp_path}/ticks")
    assert {f.buckets for f in table.refresh().snapshot.deltas} == {2}  # bucketed like appends


def test_modes_other_than_append_are_refused(spark: SparkSession, tmp_path: Path) -> None:
    df = frame(spark, events(4, 20), partitions=1)
    path = f"{tmp_path}/ticks"
    with pytest.raises(Exception, match="not overwritten"):
        df.write.format("azof").mode("overwrite").option("key", "symbol").save(path)
    with pytest.raises(Exception, match="UNSUPPORTED_DATA_SOURCE_SAVE_MODE"):
        df.write.format("azof").option("key", "symbol").option("event_time", "ts").save(path)
    assert not azof.Lakehouse(tmp_path).tables()
    write(df, path, error_if_exists="true")  # absent: created
    with pytest.raises(Exception, match="already exists"):
        write(df, path, error_if_exists="true")
    # a table with its own names is written under them only
    with pytest.raises(Exception, match="keyed by symbol and timed by ts, not by option key 'sym'"):
        df.write.format("azof").mode("append").option("key", "sym").option(
            "event_time", "ts").save(path)  # fmt: skip
    with pytest.raises(Exception, match="no column 'sym'"):
        df.write.format("azof").mode("append").option("key", "sym").option(
            "event_time", "ts").save(f"{tmp_path}/other")  # fmt: skip
    with pytest.raises(Exception, match="no column 'key'"):  # no options: key, event_time
        df.write.format("azof").mode("append").save(f"{tmp_path}/other")
    assert azof.Lakehouse(tmp_path).table("ticks").version == 1
    assert azof.Lakehouse(tmp_path).tables() == ["ticks"]
    df.write.format("azof").mode("append").save(path)  # the table's names, options left out
    assert azof.Lakehouse(tmp_path).table("ticks").version == 2
    # a table keyed by key and timed by event_time takes other columns, renamed
    legacy = azof.Lakehouse(tmp_path).create_table("legacy", {
        "key": pa.string(), "event_time": pa.timestamp("us", tz="UTC"), "price": pa.float64(),
        "note": pa.string(),
    })  # fmt: skip
    write(df, f"{tmp_path}/legacy")
    assert answer(legacy, None) == oracle(distinct(events(4, 20)), None)


def _fail_in_task(fail_attempt_below: int) -> Any:
    """A mapInArrow function that passes batches of 10 rows on, and in partition 1 raises
    after a few of them while the task's attempt number is below ``fail_attempt_below``."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        context = TaskContext.get()
        failing = (
            context is not None
            and context.partitionId() == 1
            and context.attemptNumber() < fail_attempt_below
        )
        sent = 0
        for batch in batches:
            for piece in pa.Table.from_batches([batch]).to_batches(max_chunksize=10):
                yield piece
                sent += piece.num_rows
                if failing and sent >= 30:
                    raise RuntimeError("task failed on purpose")

    return run


def test_a_failed_job_commits_nothing(spark: SparkSession, tmp_path: Path) -> None:
    rows = distinct(events(5, 400))
    df = frame(spark, rows, partitions=3)
    failing = df.mapInArrow(_fail_in_task(99), df.schema)
    path = f"{tmp_path}/ticks"
    with pytest.raises(Exception, match="failed on purpose"):
        write(failing, path, file_rows="10")
    assert not azof.Lakehouse(tmp_path).tables()  # not even created
    write(df, path)
    table = azof.Lakehouse(tmp_path).table("ticks")
    before = table.scan()
    with pytest.raises(Exception, match="failed on purpose"):
        write(failing, path, file_rows="10")
    assert table.refresh().version == 1
    assert table.scan().equals(before)


def test_a_retried_task_does_not_duplicate_rows(spark: SparkSession, tmp_path: Path) -> None:
    rows = distinct(events(6, 400))
    df = frame(spark, rows, partitions=3)
    write(df.mapInArrow(_fail_in_task(1), df.schema), f"{tmp_path}/ticks", file_rows="10")
    table = azof.Lakehouse(tmp_path).table("ticks")
    assert table.log()[-1].rows == len(rows)
    assert sum(f.rows or 0 for f in table.snapshot.deltas) == len(rows)
    for as_of in AS_OF:
        assert answer(table, as_of) == oracle(rows, as_of)
