"""The events feed (option ``starting_version``), ``readStream`` and ``writeStream``: a
streaming query over three commits, stopped and restarted, commits each batch once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from spark_harness import SCHEMA, day, spark_marks

import azof
from azof.spark.write import BATCH_PROPERTY, STREAM_PROPERTY

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = spark_marks()


def rows(month: int, keys: range) -> list[dict[str, Any]]:
    return [
        {"key": f"k{i:02d}", "event_time": day(2024, month, 1 + i % 20), "price": float(i),
         "industry": "Software" if i % 2 else "Energy"}
        for i in keys
    ]  # fmt: skip


def build(lake: azof.Lakehouse) -> azof.Table:
    """Version 1: 10 rows; 2: two deletes; 3: compaction (no events); 4: 5 late rows."""
    table = lake.create_table("prices", SCHEMA)
    table.append(rows(1, range(10)))
    table.delete(["k01", "k02"], "2024-01-20")
    table.compact(azof.CompactionPolicy(segment="month", buckets=2))
    table.append(rows(1, range(10, 15)))
    return table


def test_events_feed_batch_read(spark: SparkSession, tmp_path: Path) -> None:
    table = build(azof.Lakehouse(tmp_path))
    path = f"{tmp_path}/prices"
    df = spark.read.format("azof").option("starting_version", "2").load(path)
    assert df.columns[-3:] == ["_deleted", "_commit_version", "_commit_time"]
    got = df.toArrow().to_pylist()
    assert {r["_commit_version"] for r in got} == {2, 4}  # the compaction added no events
    deletes = [r for r in got if r["_deleted"]]
    assert sorted(r["key"] for r in deletes) == ["k01", "k02"]
    assert all(r["price"] is None for r in deletes)
    assert len(got) == 2 + 5
    commit_times = {c.version: c.time for c in table.log()}
    assert all(r["_commit_time"] == commit_times[r["_commit_version"]] for r in got)
    everything = spark.read.format("azof").option("starting_version", "0").load(path)
    assert everything.count() == 10 + 2 + 5
    assert spark.read.format("azof").option("starting_version", "latest").load(path).count() == 0
    with pytest.raises(Exception, match="starting_version"):
        spark.read.format("azof").options(starting_version="2", as_of="2024-01-05").load(path)


def test_stream_over_three_commits_and_a_restart(spark: SparkSession, tmp_path: Path) -> None:
    (tmp_path / "lake").mkdir()
    lake = azof.Lakehouse(tmp_path / "lake")
    source = lake.create_table("prices", SCHEMA)
    checkpoint = str(tmp_path / "checkpoint")
    sink_path = f"{tmp_path / 'lake'}/copy"

    def run() -> None:
        stream = (
            spark.readStream.format("azof")
            .option("starting_version", "1")
            .load(f"{tmp_path / 'lake'}/prices")
            .filter("NOT _deleted")
            .select("key", "event_time", "price", "_commit_version")
        )
        query = (
            stream.writeStream.format("azof")
            .option("checkpointLocation", checkpoint)
            .trigger(availableNow=True)
            .start(sink_path)
        )
        query.awaitTermination(240)
        assert query.exception() is None

    source.append(rows(1, range(10)))
    source.delete(["k03"], "2024-01-25")
    run()  # versions 1 and 2
    copy = lake.table("copy")
    assert copy.scan().num_rows == 10
    source.append(rows(2, range(5)))
    source.append(rows(3, range(5, 8)))
    run()  # restarted from the checkpoint: versions 3 and 4 only
    copy = copy.refresh()
    log = [c for c in copy.log() if c.operation == "append"]
    assert sum(c.rows for c in log) == 10 + 5 + 3  # no event written twice
    batches = [int(c.properties[BATCH_PROPERTY]) for c in log]
    assert batches == sorted(set(batches))
    assert {c.properties[STREAM_PROPERTY] for c in log} == {checkpoint}
    answer = {r["key"]: r for r in copy.scan().to_pylist()}
    assert (answer["k06"]["price"], answer["k06"]["_commit_version"]) == (6.0, 4)
    assert answer["k03"]["_commit_version"] == 3  # its delete was filtered out of the copy

    # Spark replays the last batch when its commit was not recorded: the sink skips it.
    commits = sorted((Path(checkpoint) / "commits").iterdir(), key=lambda p: p.name)
    last = [p for p in commits if p.name.isdigit()][-1]
    last.unlink()
    (last.parent / f".{last.name}.crc").unlink(missing_ok=True)
    before = copy.refresh().version
    run()
    assert copy.refresh().version == before
