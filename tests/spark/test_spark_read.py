"""``spark.read.format("azof")`` on a local table gives the answers of ``Table.scan``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from spark_harness import (
    build_prices,
    day,
    has_filter_pushdown,
    scan_rows,
    spark_marks,
    spark_rows,
)

import azof
import azof.write.files
from azof.format.buckets import bucket_of
from azof.scan.read import ScanRequest
from azof.scan.stream import iter_scan
from azof.timestamps import format_instant

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

pytestmark = spark_marks()

AS_OF = [None, "2023-12-31", "2024-01-15", "2024-02-01", "2024-02-20T12:00:00Z"]


def load(spark: SparkSession, table: azof.Table, **options: str) -> DataFrame:
    return spark.read.format("azof").options(**options).load(f"{table.lakehouse.uri}/prices")


def test_as_of_matches_scan(spark: SparkSession, prices: azof.Table) -> None:
    # One Spark job for every as-of time: the frames are unioned with a tag.
    from pyspark.sql import functions as F

    frames = [
        load(spark, prices, **({} if t is None else {"as_of": t})).withColumn("t", F.lit(i))
        for i, t in enumerate(AS_OF)
    ]
    assert frames[0].rdd.getNumPartitions() == 3  # one per bucket
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    rows = union.toArrow().to_pylist()
    for i, as_of in enumerate(AS_OF):
        got = sorted(
            ({k: v for k, v in row.items() if k != "t"} for row in rows if row["t"] == i),
            key=lambda row: row["key"],
        )
        assert got == scan_rows(prices, as_of=as_of), f"as_of={as_of}"
    assert not [row for row in rows if row["t"] == 1]  # before the first event: empty
    late = [row for row in rows if row["t"] == 3 and row["key"] == "k01"]
    assert [row["industry"] for row in late] == ["Late"]  # the late row, merged in


def test_version_and_known_at(spark: SparkSession, prices: azof.Table) -> None:
    before_compaction = load(spark, prices, version="2", as_of="2024-02-20")
    assert before_compaction.rdd.getNumPartitions() == 1  # version 2 has one bucket
    assert spark_rows(before_compaction) == scan_rows(prices, as_of="2024-02-20", version=2)
    known_at = format_instant(prices.commit_time(3))
    as_known = load(spark, prices, known_at=known_at, as_of="2024-02-01")
    expected = scan_rows(prices, as_of="2024-02-01", known_at=known_at)
    assert spark_rows(as_known) == expected
    assert "Late" not in {row["industry"] for row in expected}  # version 3: before the late row
    assert expected != scan_rows(prices, as_of="2024-02-01")


def test_projection_and_filters(spark: SparkSession, prices: azof.Table) -> None:
    df = load(spark, prices, as_of="2024-02-01")
    # select(): Spark prunes after the scan.
    assert spark_rows(df.select("key", "price")) == scan_rows(
        prices, as_of="2024-02-01", columns=["key", "price"]
    )
    # option("columns"): only these columns are read.
    narrow = load(spark, prices, as_of="2024-02-01", columns="price,key")
    assert narrow.columns == ["price", "key"]
    assert spark_rows(narrow) == scan_rows(prices, as_of="2024-02-01", columns=["price", "key"])
    # A schema given to the reader selects columns too.
    given = (
        spark.read.format("azof")
        .schema("key STRING, industry STRING")
        .option("as_of", "2024-02-01")
        .load(f"{prices.lakehouse.uri}/prices")
    )
    assert spark_rows(given) == scan_rows(prices, as_of="2024-02-01", columns=["key", "industry"])
    # A key filter, then the same DataFrame unfiltered: no filter lingers.
    assert spark_rows(df.filter("key IN ('k01', 'k99', 'nope')")) == scan_rows(
        prices, as_of="2024-02-01", filter=pc.field("key").isin(["k01", "k99"])
    )
    # A value filter applies to the merged answer: k01 was Software before its late row,
    # so a filter applied before the merge would wrongly keep it.
    software = spark_rows(df.filter("industry = 'Software'"))
    assert software == scan_rows(
        prices, as_of="2024-02-01", filter=pc.field("industry") == "Software"
    )
    assert "k01" not in {row["key"] for row in software}
    assert df.count() == len(scan_rows(prices, as_of="2024-02-01"))


def test_keys_option_and_key_pushdown(
    spark: SparkSession, prices: azof.Table, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = load(spark, prices, as_of="2024-02-01", keys='["k01", "k02"]')
    expected = scan_rows(prices, as_of="2024-02-01", filter=pc.field("key").isin(["k01", "k02"]))
    assert spark_rows(keys) == expected
    spark.conf.set("spark.sql.python.filterPushdown.enabled", "true")
    try:
        # Without key_pushdown, Spark's pushdown round trip changes nothing: the reader has
        # no state, so a filtered query leaves nothing behind for the next one.
        plain = load(spark, prices, as_of="2024-02-01")
        assert plain.filter("key = 'k01'").count() == 1
        assert plain.count() == len(scan_rows(prices, as_of="2024-02-01"))
        if not has_filter_pushdown():
            return  # PySpark 4.0: key_pushdown is accepted, Spark filters by itself
        pushed = load(spark, prices, as_of="2024-02-01", key_pushdown="true").filter(
            "key IN ('k01', 'k02') AND price < 100"
        )
        pushed.explain()
        plan = capsys.readouterr().out
        assert "BatchScan azof" in plan
        assert "k01" not in plan  # the key filter went into the scan; price < 100 did not
        assert "price" in plan.split("BatchScan")[0]
        assert spark_rows(pushed) == [row for row in expected if row["price"] < 100]
        # Only the buckets the keys hash to are read.
        buckets = {int(b) for b in bucket_of(pa.array(["k01", "k02"]), 3)}
        assert pushed.rdd.getNumPartitions() == len(buckets)
    finally:
        spark.conf.unset("spark.sql.python.filterPushdown.enabled")


def test_merge_rows_streams_a_bucket_in_key_ranges(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Files with row groups of 10 rows, so that merge_rows=5 cuts each bucket into ranges.
    monkeypatch.setattr(azof.write.files, "ROW_GROUP_ROWS", 10)
    table = build_prices(azof.Lakehouse(tmp_path))
    table.append(  # another sorted pending delta in every bucket
        [{"key": f"k{i:02d}", "event_time": day(2024, 3, 20), "price": 0.5, "industry": "Mid"}
         for i in range(0, 40, 3)]
    )  # fmt: skip
    parts = list(iter_scan(table.storage, "prices", table.snapshot_at(), ScanRequest(), None,
                           merge_rows=5))  # fmt: skip
    assert len(parts) > table.bucket_count()  # the ranged path runs for these files
    for as_of in (None, "2024-02-01"):
        options = {"merge_rows": "5", **({} if as_of is None else {"as_of": as_of})}
        assert spark_rows(load(spark, table, **options)) == scan_rows(table, as_of=as_of)


def test_bad_options_fail_at_load(spark: SparkSession, prices: azof.Table) -> None:
    with pytest.raises(Exception, match="unknown azof option"):
        load(spark, prices, asof="2024-01-01")
    with pytest.raises(Exception, match="has no column"):
        load(spark, prices, columns="key,volume")


def test_register_by_hand_still_works(spark: SparkSession, prices: azof.Table) -> None:
    import azof.spark

    azof.spark.register(spark)  # the session found the format already: registering is idempotent
    azof.spark.register(spark)
    assert load(spark, prices).count() == len(scan_rows(prices))
