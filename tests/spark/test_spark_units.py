"""The parts of the Spark data source that need PySpark but no Spark session: options,
types, filter translation and partition planning."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from spark_harness import has_filter_pushdown, require_pyspark

require_pyspark()

from pyspark.sql.types import (  # noqa: E402
    ArrayType,
    DecimalType,
    LongType,
    MapType,
    StringType,
    StructType,
    TimestampType,
)

import azof  # noqa: E402
from azof.format.buckets import bucket_of, bucket_of_rows  # noqa: E402
from azof.spark.options import (  # noqa: E402
    ReadOptions,
    WriteOptions,
    parse_options,
    parse_write_options,
    split_table_path,
)
from azof.spark.schema import arrow_schema_for_spark, spark_batches, spark_schema  # noqa: E402
from azof.spark.source import BucketPartition, PinnedRead, plan_partitions, pushed_keys  # noqa: E402
from azof.spark.write import table_columns  # noqa: E402
from azof.write.create import schema_from_arrow  # noqa: E402


@pytest.mark.parametrize(
    ("path", "lakehouse", "table"),
    [
        ("s3://bucket/lake/prices", "s3://bucket/lake", "prices"),
        ("s3://bucket/prices/", "s3://bucket", "prices"),
        ("/data/lake/prices", "/data/lake", "prices"),
        ("/prices", "/", "prices"),
        ("file:///data/lake/t.v2", "file:///data/lake", "t.v2"),
    ],
)
def test_split_table_path(path: str, lakehouse: str, table: str) -> None:
    assert split_table_path(path) == (lakehouse, table)


@pytest.mark.parametrize("path", ["s3://bucket", "s3://bucket/", "prices", "s3:///prices"])
def test_split_table_path_refuses_paths_without_a_table(path: str) -> None:
    with pytest.raises(azof.InvalidArgumentError, match="does not name a table"):
        split_table_path(path)


def test_parse_options() -> None:
    parsed = parse_options(
        {
            "path": "s3://bucket/lake",
            "table": "prices",
            "as_of": "2024-02-01",
            "known_at": "2024-03-01T10:00:00Z",
            "columns": "key, price",
            "keys": '["a", "b", ["s1", 2]]',
            "key_pushdown": "TRUE",
            "merge_rows": "250_000",
            "storage_options": '{"region": "eu-west-1", "allow_http": true}',
            "storage.region": "us-east-1",  # a single option wins over the JSON
            "storage.endpoint": "http://127.0.0.1:9000",
        }
    )
    assert parsed == ReadOptions(
        lakehouse="s3://bucket/lake",
        table="prices",
        storage_options=(
            ("allow_http", True),
            ("endpoint", "http://127.0.0.1:9000"),
            ("region", "us-east-1"),
        ),
        as_of="2024-02-01",
        known_at="2024-03-01T10:00:00Z",
        columns=("key", "price"),
        keys=("a", "b", ("s1", 2)),
        key_pushdown=True,
        merge_rows=250_000,
    )
    assert parse_options({"path": "/lake/prices", "version": "3"}) == ReadOptions(
        lakehouse="/lake", table="prices", version=3
    )
    assert parse_options({"lakehouse": "/lake", "table": "prices"}).table == "prices"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"path": "/lake/t", "asof": "2024-01-01"}, "unknown azof option"),
        ({}, "no table given"),
        ({"lakehouse": "/lake"}, "needs option 'table'"),
        ({"path": "/lake/t", "lakehouse": "/lake"}, "not both"),
        ({"path": "/lake/t", "version": "2", "known_at": "2024-01-01"}, "not both"),
        ({"path": "/lake/t", "version": "-1"}, "whole number"),
        ({"path": "/lake/t", "as_of": "yesterday-ish"}, "as_of"),
        ({"path": "/lake/t", "columns": "key,,price"}, "columns"),
        ({"path": "/lake/t", "keys": "a,b"}, "JSON list"),
        ({"path": "/lake/t", "key_pushdown": "maybe"}, "'true' or 'false'"),
        ({"path": "/lake/t", "merge_rows": "0"}, "merge_rows"),
        ({"path": "/lake/t", "merge_rows": "lots"}, "merge_rows"),
        ({"path": "s3://b/t", "storage_options": "[1]"}, "JSON object"),
    ],
)
def test_parse_options_refuses(options: dict[str, str], message: str) -> None:
    with pytest.raises(azof.InvalidArgumentError, match=message):
        parse_options(options)


def test_types_and_batches_fit_what_spark_expects() -> None:
    data = pa.table(
        {
            "key": pa.array(["a", "b"]),
            "event_time": pa.array([1, 2], pa.timestamp("ns", tz="UTC")),
            "naive": pa.array([datetime(2024, 1, 1), None], pa.timestamp("us")),
            "u64": pa.array([2**64 - 1, 0], pa.uint64()),
            "half": pa.array([1.5, None], pa.float16()),
            "big": pa.array(["x", "y"], pa.large_string()),
            "cat": pa.array(["p", "q"]).dictionary_encode(),
            "wait": pa.array([timedelta(seconds=1), None], pa.duration("ms")),
            "tags": pa.array([["x"], []], pa.large_list(pa.string())),
            "attrs": pa.array([[("k", 1)], []], pa.map_(pa.string(), pa.int64())),
            "point": pa.array([{"x": 1.0, "y": None}, None]),
        }
    )
    schema = spark_schema(data.schema)
    assert schema["event_time"].dataType == TimestampType()
    assert schema["naive"].dataType == TimestampType()
    assert schema["u64"].dataType == DecimalType(20, 0)
    assert schema["cat"].dataType == StringType()
    assert schema["tags"].dataType == ArrayType(StringType())
    assert schema["attrs"].dataType == MapType(StringType(), LongType())
    assert isinstance(schema["point"].dataType, StructType)
    target = arrow_schema_for_spark(schema)
    batches = list(spark_batches(data, target, batch_rows=1))
    assert len(batches) == 2
    assert all(batch.schema.equals(target) for batch in batches)
    first = batches[0].to_pylist()[0]
    assert first["naive"] == datetime(2024, 1, 1, tzinfo=UTC)  # naive times are UTC
    assert first["u64"] == Decimal(2**64 - 1)
    assert first["attrs"] == [("k", 1)]


def test_types_spark_cannot_hold_are_refused_by_column() -> None:
    with pytest.raises(azof.InvalidArgumentError, match=r"'clock'.*option\('columns'"):
        spark_schema(pa.schema([("clock", pa.time64("us"))]))


@pytest.mark.skipif(not has_filter_pushdown(), reason="PySpark 4.0 has no filter pushdown")
def test_pushed_keys() -> None:
    from pyspark.sql.datasource import EqualTo, GreaterThan, In, IsNotNull, Not

    price = GreaterThan(("price",), 10)
    not_key = Not(EqualTo(("key",), "a"))
    filters = [
        IsNotNull(("key",)),
        In(("key",), ("a", "b", "c")),
        EqualTo(("key",), "b"),
        price,
        not_key,
    ]
    keys, remaining = pushed_keys(filters, pa.schema([("key", pa.string())]))
    assert keys == (("key", ("b",)),)
    assert remaining == [price, not_key]
    # A value of the wrong type is left to Spark; no key filter: any key.
    wrong = EqualTo(("key",), 7)
    assert pushed_keys([wrong], pa.schema([("key", pa.string())])) == (None, [wrong])
    assert pushed_keys([In(("key",), (1, 2))], pa.schema([("key", pa.int64())])) == (
        (("key", (1, 2)),),
        [],
    )
    # A composite key: each key column's values, in key order; timestamps are left to Spark.
    composite = pa.schema(
        [("sensor_id", pa.string()), ("metric", pa.string()), ("at", pa.timestamp("us"))]
    )
    on_time = EqualTo(("at",), datetime(2024, 1, 1))
    pushed, remaining = pushed_keys(
        [EqualTo(("metric",), "temp"), In(("sensor_id",), ("s1", "s2")), on_time, price],
        composite,
    )
    assert pushed == (("sensor_id", ("s1", "s2")), ("metric", ("temp",)))
    assert remaining == [on_time, price]


def test_plan_partitions() -> None:
    schema = pa.schema([pa.field("key", pa.string(), nullable=False)])
    pinned = PinnedRead(ReadOptions("/lake", "t"), version=4, buckets=8, schema=schema)
    every = plan_partitions(pinned, None)
    assert [(p.bucket, p.version, p.keys) for p in every if isinstance(p, BucketPartition)] == [
        (b, 4, None) for b in range(8)
    ]
    pruned = plan_partitions(pinned, (("key", ("k1", "k2", "k1")),))
    expected = sorted({int(b) for b in bucket_of(pa.array(["k1", "k2"]), 8)})
    assert [p.bucket for p in pruned if isinstance(p, BucketPartition)] == expected
    assert {p.keys for p in pruned if isinstance(p, BucketPartition)} == {(("k1",), ("k2",))}
    one_bucket = PinnedRead(ReadOptions("/lake", "t", keys=("x",)), 2, 1, schema)
    [only] = plan_partitions(one_bucket, (("key", ("y",)),))
    assert isinstance(only, BucketPartition)
    assert (only.bucket, only.keys) == (None, ())  # option keys and pushed keys: disjoint


def test_plan_partitions_of_a_composite_key() -> None:
    schema = pa.schema(
        [
            pa.field("sensor_id", pa.string(), nullable=False),
            pa.field("metric", pa.string(), nullable=False),
        ]
    )
    names = ("sensor_id", "metric")
    pinned = PinnedRead(ReadOptions("/lake", "t"), 1, 8, schema, names)
    # Only some key columns fixed: every bucket, the condition applied in each.
    partial = plan_partitions(pinned, (("metric", ("temp",)),))
    assert [p.bucket for p in partial if isinstance(p, BucketPartition)] == list(range(8))
    assert {p.columns for p in partial if isinstance(p, BucketPartition)} == {
        (("metric", ("temp",)),)
    }
    # Every key column fixed: the keys of the cross product, only their buckets.
    full = plan_partitions(pinned, (("sensor_id", ("s1", "s2")), ("metric", ("temp",))))
    keys = [("s1", "temp"), ("s2", "temp")]
    rows = pa.table({"sensor_id": ["s1", "s2"], "metric": ["temp", "temp"]})
    expected = sorted({int(b) for b in bucket_of_rows(rows, names, 8)})
    assert [p.bucket for p in full if isinstance(p, BucketPartition)] == expected
    assert {p.keys for p in full if isinstance(p, BucketPartition)} == {tuple(keys)}
    # Option keys (lists of the key's values), narrowed by a pushed condition.
    chosen = PinnedRead(ReadOptions("/lake", "t", keys=(("s1", "temp"), ("s1", "hum"))), 1, 1,
                        schema, names)  # fmt: skip
    [only] = plan_partitions(chosen, (("metric", ("hum",)),))
    assert isinstance(only, BucketPartition)
    assert (only.keys, only.columns) == ((("s1", "hum"),), ())
    with pytest.raises(azof.InvalidArgumentError, match="a list of 2 values"):
        plan_partitions(PinnedRead(ReadOptions("/lake", "t", keys=("s1",)), 1, 1, schema, names),
                        None)  # fmt: skip


def test_import_azof_does_not_import_pyspark() -> None:
    code = "import sys, azof; assert 'pyspark' not in sys.modules, 'pyspark was imported'"
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, timeout=60)


def test_parse_write_options() -> None:
    parsed = parse_write_options(
        {
            "path": "s3://b/lake/ticks",
            "key": "symbol",
            "event_time": "ts",
            "file_rows": "5_000",
            "checkpointlocation": "/ck",
            "storage.region": "eu",
            "error_if_exists": "true",
        }
    )
    assert parsed == WriteOptions(
        lakehouse="s3://b/lake",
        table="ticks",
        storage_options=(("region", "eu"),),
        key=("symbol",),
        event_time="ts",
        file_rows=5000,
        stream_id="/ck",
        error_if_exists=True,
    )
    legacy = schema_from_arrow(
        pa.schema([pa.field("key", pa.string()), pa.field("event_time", pa.timestamp("us"))])
    )
    assert table_columns(parsed, legacy) == {"symbol": "key", "ts": "event_time"}
    composite = parse_write_options({"path": "/l/t", "key": "sensor_id, metric"})
    assert (composite.key, composite.event_time) == (("sensor_id", "metric"), None)
    assert parse_write_options({"path": "/l/t", "stream_id": "s"}).stream_id == "s"
    for options, message in (
        ({"path": "/l/t", "as_of": "2024-01-01"}, "unknown azof option"),
        ({"path": "/l/t", "file_rows": "0"}, "file_rows"),
        ({"path": "/l/t", "error_if_exists": "perhaps"}, "'true' or 'false'"),
        ({"path": "/l/t", "key": "a,,b"}, "composite key"),
    ):
        with pytest.raises(azof.InvalidArgumentError, match=message):
            parse_write_options(options)


def test_starting_version_option() -> None:
    assert parse_options({"path": "/l/t", "starting_version": "3"}).starting_version == 3
    assert parse_options({"path": "/l/t", "starting_version": "LATEST"}).starting_version == (
        "latest"
    )
    with pytest.raises(azof.InvalidArgumentError, match="'latest'"):
        parse_options({"path": "/l/t", "starting_version": "-2"})
    with pytest.raises(azof.InvalidArgumentError, match="'keys'"):
        parse_options({"path": "/l/t", "starting_version": "1", "keys": '["a"]'})


def test_pyspark_finds_the_default_source() -> None:
    """What PySpark's lookup worker does: a top-level ``pyspark_*`` module whose
    ``DefaultSource`` is a DataSource named ``azof``."""
    import importlib
    import pkgutil

    from pyspark.sql.datasource import DataSource

    assert "pyspark_azof" in {info.name for info in pkgutil.iter_modules()}
    module = importlib.import_module("pyspark_azof")
    assert issubclass(module.DefaultSource, DataSource)
    assert module.DefaultSource.name() == "azof"


def test_stream_batches_commit_once(tmp_path: Path) -> None:
    """The sink's commit, called as Spark calls it on the driver (no session needed)."""
    from pyspark.sql.types import DoubleType, StructField, TimestampType

    from azof.spark.write import commit_stream_batch, plan_write, write_task

    schema = StructType(
        [
            StructField("id", StringType(), False),
            StructField("ts", TimestampType(), False),
            StructField("v", DoubleType()),
        ]
    )
    options = parse_write_options(
        {"path": f"{tmp_path}/sink", "key": "id", "event_time": "ts", "stream_id": "q1"}
    )
    target = plan_write(options, schema)
    batch = pa.record_batch(
        {
            "id": ["a", "b"],
            "ts": pa.array([datetime(2024, 1, 1, tzinfo=UTC)] * 2, pa.timestamp("us", "UTC")),
            "v": [1.0, 2.0],
        }
    )

    def commit(batch_id: int) -> int | None:
        message = write_task(target, iter([batch]))
        landed = commit_stream_batch(target, [message], batch_id)
        return None if landed is None else landed.version

    assert commit(0) == 1  # creates the table (version 0), then commits
    assert commit(1) == 2
    assert commit(1) is None  # a replay of the last batch: skipped
    table = azof.Lakehouse(tmp_path).table("sink")
    assert table.version == 2
    assert len(list((tmp_path / "sink" / "data").iterdir())) == 2  # the replay's file: removed
    with pytest.raises(azof.InvalidArgumentError, match="not a replay"):
        commit(0)  # a new checkpoint under the same stream id
    assert [c.properties for c in table.log()][1:] == [
        {"spark.stream_id": "q1", "spark.batch_id": "0"},
        {"spark.stream_id": "q1", "spark.batch_id": "1"},
    ]
