"""A table with its own key and event-time names and a composite key
(``key=["sensor_id", "metric"]``, ``event_time="reading_ts"``) through all of the Spark
integration: written from Spark, read back by Spark (one partition per bucket, option keys,
key pushdown) and by ``Table.scan``, compacted by ``azof.spark.compact``, its events feed
and a streaming copy; every answer checked against the naive oracle."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest
from spark_harness import day, has_filter_pushdown, spark_marks

import azof
import azof.spark
from azof.format.buckets import bucket_of_rows
from naive import latest_per_key

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

pytestmark = spark_marks()

KEY = ("sensor_id", "metric")
AS_OF = [None, "2023-12-31", "2024-01-10T12:00:00Z", "2024-01-20", "2024-02-01"]
ARROW = pa.schema(
    [
        ("sensor_id", pa.string()),
        ("metric", pa.string()),
        ("reading_ts", pa.timestamp("us", tz="UTC")),
        ("value", pa.float64()),
        ("note", pa.string()),
    ]
)
SCHEMA = "sensor_id STRING, metric STRING, reading_ts TIMESTAMP, value DOUBLE, note STRING"
DELETED = ("s03", "temp")
DELETED_AT = day(2024, 1, 15)


def readings(seed: int, count: int) -> list[dict[str, Any]]:
    """Random readings of 12 sensors and 3 metrics in January 2024, one per key and time."""
    rng = random.Random(seed)
    rows = [
        {
            "sensor_id": f"s{rng.randrange(12):02d}",
            "metric": rng.choice(["temp", "hum", "press"]),
            "reading_ts": day(2024, 1, 1) + timedelta(hours=rng.randrange(24 * 31)),
            "value": float(rng.randrange(1000)),
            "note": rng.choice(["ok", None]),
        }
        for _ in range(count)
    ]
    return list({(r["sensor_id"], r["metric"], r["reading_ts"]): r for r in rows}.values())


def frame(spark: SparkSession, rows: list[dict[str, Any]], partitions: int = 3) -> DataFrame:
    data = pa.Table.from_pylist(rows, schema=ARROW)
    return spark.createDataFrame(data.to_pandas(), schema=SCHEMA).repartition(partitions)


def oracle(log: list[dict[str, Any]], as_of: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (sensor_id, metric), the oracle's latest reading at ``as_of``."""
    named = [
        {**r, "key": (r["sensor_id"], r["metric"]), "event_time": r["reading_ts"]} for r in log
    ]
    latest = latest_per_key(named, as_of)
    return {key: {c: row.get(c) for c in ARROW.names} for key, row in latest.items()}


def by_key(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    answer = {(r["sensor_id"], r["metric"]): r for r in rows}
    assert len(answer) == len(rows), "a key answered twice"
    return answer


def scanned(table: azof.Table, as_of: Any) -> dict[tuple[str, str], dict[str, Any]]:
    return by_key(table.refresh().scan(as_of=as_of).to_pylist())


def load(spark: SparkSession, path: str, **options: str) -> DataFrame:
    return spark.read.format("azof").options(**options).load(path)


def test_composite_key_written_read_compacted_by_spark(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pyspark.sql import functions as F

    path = f"{tmp_path}/readings"
    first, second = readings(1, 300), readings(2, 200)
    seen = {(r["sensor_id"], r["metric"], r["reading_ts"]) for r in first}
    second = [r for r in second if (r["sensor_id"], r["metric"], r["reading_ts"]) not in seen]

    def write(rows: list[dict[str, Any]], **options: str) -> None:
        frame(spark, rows).write.format("azof").mode("append").options(**options).save(path)

    # Created from the DataFrame under the user's names; the second write names the key in
    # the other spacing, and the third leaves the options out (the table's own names).
    write(first, key="sensor_id,metric", event_time="reading_ts")
    table = azof.Lakehouse(tmp_path).table("readings")
    assert (table.key_columns, table.event_time_column) == (KEY, "reading_ts")
    assert table.schema.names == ARROW.names
    write(second[:100], key="sensor_id, metric", event_time="reading_ts", file_rows="40")
    write(second[100:])
    table.delete([DELETED], DELETED_AT)
    log = [*first, *second, {"sensor_id": DELETED[0], "metric": DELETED[1],
                             "reading_ts": DELETED_AT, "_deleted": True}]  # fmt: skip
    with pytest.raises(Exception, match="keyed by sensor_id, metric and timed by reading_ts"):
        write(first[:5], key="metric,sensor_id", event_time="reading_ts")
    for as_of in AS_OF:
        assert scanned(table, as_of) == oracle(log, as_of), as_of

    # Compacted by Spark tasks into 4 buckets (split by the key columns' hash).
    stats = azof.spark.compact(spark, path, azof.CompactionPolicy(segment="week", buckets=4))
    assert stats.version is not None
    assert table.refresh().bucket_count() == 4
    for as_of in AS_OF:
        assert scanned(table, as_of) == oracle(log, as_of), as_of

    # Spark reads it back, one partition per bucket, every as-of time in one job.
    frames = [
        load(spark, path, **({} if t is None else {"as_of": t})).withColumn("t", F.lit(i))
        for i, t in enumerate(AS_OF)
    ]
    assert frames[0].rdd.getNumPartitions() == 4
    union = frames[0]
    for other in frames[1:]:
        union = union.unionByName(other)
    rows = union.toArrow().to_pylist()
    for i, as_of in enumerate(AS_OF):
        got = [{c: r[c] for c in ARROW.names} for r in rows if r["t"] == i]
        assert by_key(got) == oracle(log, as_of), as_of

    # Option keys: composite keys as lists of their columns' values.
    chosen = [("s01", "temp"), ("s02", "hum"), DELETED]
    picked = load(spark, path, as_of="2024-01-20", keys='[["s01","temp"],["s02","hum"],'
                  '["s03","temp"]]')  # fmt: skip
    expected = oracle(log, "2024-01-20")
    assert by_key(picked.toArrow().to_pylist()) == {k: expected[k] for k in chosen if k in expected}
    # ... also when the key columns are not among the columns read
    values = load(spark, path, as_of="2024-01-20", columns="value,note",
                  keys='[["s01","temp"],["s02","hum"]]')  # fmt: skip
    assert values.columns == ["value", "note"]
    assert sorted(r["value"] for r in values.toArrow().to_pylist()) == sorted(
        expected[k]["value"] for k in chosen[:2] if k in expected
    )
    with pytest.raises(Exception, match="a list of 2 values"):
        load(spark, path, keys='["s01"]')
    if has_filter_pushdown():
        _check_pushdown(spark, path, expected, capsys)


def _check_pushdown(
    spark: SparkSession,
    path: str,
    expected: dict[tuple[str, str], dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Filters on some key columns are applied in the scan (every bucket read); on all of
    them, only the buckets of their keys are read; others are left to Spark."""
    spark.conf.set("spark.sql.python.filterPushdown.enabled", "true")
    try:
        pushed = load(spark, path, as_of="2024-01-20", key_pushdown="true")
        partial = pushed.filter("metric = 'hum' AND value < 500")
        partial.explain()
        plan = capsys.readouterr().out
        assert "hum" not in plan  # the key column's filter went into the scan
        assert "value" in plan.split("BatchScan")[0]  # the value filter stayed with Spark
        assert partial.rdd.getNumPartitions() == 4
        assert by_key(partial.toArrow().to_pylist()) == {
            k: r for k, r in expected.items() if k[1] == "hum" and r["value"] < 500
        }
        full = load(spark, path, as_of="2024-01-20", key_pushdown="true").filter(
            "sensor_id IN ('s01', 's02') AND metric = 'temp'"
        )
        keys = pa.table({"sensor_id": ["s01", "s02"], "metric": ["temp", "temp"]})
        assert full.rdd.getNumPartitions() == len(set(bucket_of_rows(keys, KEY, 4).tolist()))
        assert by_key(full.toArrow().to_pylist()) == {
            k: r for k, r in expected.items() if k[0] in ("s01", "s02") and k[1] == "temp"
        }
        # A key column filtered together with a value column in one OR: left to Spark.
        either = load(spark, path, as_of="2024-01-20", key_pushdown="true").filter(
            "sensor_id = 's01' OR value > 900"
        )
        assert by_key(either.toArrow().to_pylist()) == {
            k: r for k, r in expected.items() if k[0] == "s01" or r["value"] > 900
        }
    finally:
        spark.conf.unset("spark.sql.python.filterPushdown.enabled")


def test_composite_key_events_feed_and_streaming_copy(spark: SparkSession, tmp_path: Path) -> None:
    (tmp_path / "lake").mkdir()
    lake = azof.Lakehouse(tmp_path / "lake")
    source = lake.create_table("readings", ARROW, key=list(KEY), event_time="reading_ts")
    rows = readings(3, 120)
    source.append(rows[:80])
    source.append(rows[80:])
    source.delete([DELETED], DELETED_AT)
    log = [*rows, {"sensor_id": DELETED[0], "metric": DELETED[1], "reading_ts": DELETED_AT,
                   "_deleted": True}]  # fmt: skip

    # The events feed: the table's columns under their names, then the commit columns.
    feed = load(spark, f"{tmp_path / 'lake'}/readings", starting_version="1")
    assert feed.columns == [*ARROW.names, "_deleted", "_commit_version", "_commit_time"]
    events = feed.toArrow().to_pylist()
    assert len(events) == len(rows) + 1
    assert [(e["sensor_id"], e["metric"]) for e in events if e["_deleted"]] == [DELETED]

    # A stream of the events into a new table keyed by the same composite key.
    checkpoint = str(tmp_path / "checkpoint")
    query = (
        spark.readStream.format("azof")
        .option("starting_version", "1")
        .load(f"{tmp_path / 'lake'}/readings")
        .filter("NOT _deleted")
        .select(*ARROW.names)
        .writeStream.format("azof")
        .option("checkpointLocation", checkpoint)
        .option("key", "sensor_id,metric")
        .option("event_time", "reading_ts")
        .trigger(availableNow=True)
        .start(f"{tmp_path / 'lake'}/copy")
    )
    query.awaitTermination(240)
    assert query.exception() is None
    copy = lake.table("copy")
    assert (copy.key_columns, copy.event_time_column) == (KEY, "reading_ts")
    for as_of in AS_OF:
        assert scanned(copy, as_of) == oracle(rows, as_of), as_of
        assert scanned(source, as_of) == oracle(log, as_of), as_of
