"""``spark.read.format("azof")`` on the S3 test server: credentials reach the executors
through the options (JSON ``storage_options`` or ``storage.<name>``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.compute as pc
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "spark"))  # the Spark harness

from spark_harness import build_prices, scan_rows, spark_marks, spark_rows, spark_session

import azof

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = spark_marks()


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """The local Spark session shared with tests/spark/ (one JVM per run)."""
    yield from spark_session()


def test_spark_reads_s3(
    spark: SparkSession, s3_lake: str, s3_storage_options: dict[str, Any]
) -> None:
    from pyspark.sql import functions as F

    table = build_prices(azof.Lakehouse(s3_lake, storage_options=s3_storage_options))
    path = f"{s3_lake}/prices"
    as_json = (
        spark.read.format("azof")
        .option("storage_options", json.dumps(s3_storage_options))
        .option("as_of", "2024-02-01")
        .load(path)
    )
    assert as_json.rdd.getNumPartitions() == 3
    one_by_one = (
        spark.read.format("azof")
        .options(
            **{
                f"storage.{k}": str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in s3_storage_options.items()
            }
        )
        .option("table", "prices")
        .option("version", "2")
        .load(s3_lake)
    )
    frames = [
        as_json.withColumn("q", F.lit(0)),
        one_by_one.withColumn("q", F.lit(1)),
        as_json.filter("key IN ('k01', 'k07')").withColumn("q", F.lit(2)),
    ]
    rows = frames[0].unionByName(frames[1]).unionByName(frames[2]).toArrow().to_pylist()

    def part(q: int) -> list[dict[str, Any]]:
        return sorted(
            ({k: v for k, v in row.items() if k != "q"} for row in rows if row["q"] == q),
            key=lambda row: row["key"],
        )

    assert part(0) == scan_rows(table, as_of="2024-02-01")
    assert part(1) == scan_rows(table, version=2)
    assert part(2) == scan_rows(
        table, as_of="2024-02-01", filter=pc.field("key").isin(["k01", "k07"])
    )
    assert spark_rows(as_json.select("key", "industry").filter("industry = 'Late'")) == [
        {"key": "k01", "industry": "Late"}
    ]


def test_spark_writes_streams_and_compacts_on_s3(
    spark: SparkSession, s3_lake: str, s3_storage_options: dict[str, Any]
) -> None:
    """The write, the events feed, the distributed compaction and vacuum reach S3 from the
    tasks."""
    import azof.spark

    storage = json.dumps(s3_storage_options)
    table = build_prices(azof.Lakehouse(s3_lake, storage_options=s3_storage_options))
    before = {t: scan_rows(table, as_of=t) for t in (None, "2024-02-01")}
    rows = [("k01", "2024-03-20 00:00:00", 5.5, "Mid"), ("k50", "2024-03-21 00:00:00", 1.0, "X")]
    df = spark.createDataFrame(rows, "key STRING, ts STRING, price DOUBLE, industry STRING")
    df = df.selectExpr("key", "CAST(ts AS TIMESTAMP) AS event_time", "price", "industry")
    df.write.format("azof").mode("append").option("storage_options", storage).save(
        f"{s3_lake}/prices"
    )
    table = table.refresh()
    assert table.version == 5
    assert {r["key"] for r in scan_rows(table)} >= {"k01", "k50"}
    events = (
        spark.read.format("azof")
        .option("storage_options", storage)
        .option("starting_version", "5")
        .load(f"{s3_lake}/prices")
    )
    assert sorted(r["key"] for r in events.collect()) == ["k01", "k50"]
    expected = {t: scan_rows(table, as_of=t) for t in (None, "2024-02-01", "2024-03-20")}
    assert expected["2024-02-01"] == before["2024-02-01"]
    azof.spark.compact(
        spark,
        f"{s3_lake}/prices",
        azof.CompactionPolicy(segment="month", buckets=3),
        storage_options=s3_storage_options,
    )
    table = table.refresh()
    assert table.log()[-1].operation == "compact"
    assert not table.snapshot.deltas
    for as_of, answer in expected.items():
        assert scan_rows(table, as_of=as_of) == answer
    vacuumed = azof.spark.vacuum(
        spark,
        f"{s3_lake}/prices",
        retain_versions=1,
        grace="0s",
        storage_options=s3_storage_options,
    )
    assert vacuumed.deleted_files
    for as_of, answer in expected.items():
        assert scan_rows(table.refresh(), as_of=as_of) == answer
