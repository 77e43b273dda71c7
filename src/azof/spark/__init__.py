"""azof tables in Apache Spark: a PySpark Python data source (the ``spark`` extra).

::

    df = (spark.read.format("azof")             # no registration: see pyspark_azof
          .option("as_of", "2019-01-17")        # event time; omit for the current state
          .load("s3://bucket/lake/financials"))  # <lakehouse>/<table>
    (df.write.format("azof").mode("append")     # executors write, the driver commits once
       .option("key", "ticker").option("event_time", "ts").save("s3://bucket/lake/t"))
    azof.spark.compact(spark, "s3://bucket/lake/t")   # the rewrite in Spark tasks
    azof.spark.vacuum(spark, "s3://bucket/lake/t", retain_versions=10)  # deletes in tasks

``spark.readStream.format("azof").option("starting_version", v)`` streams the events each
commit adds; ``writeStream.format("azof")`` commits each micro-batch exactly once.
:func:`register` registers the format by hand (a PySpark that does not look for
``pyspark_*`` modules, or a Python path without ``pyspark_azof``).

The DataFrame has one partition per hash bucket of the table; each Spark task merges its
bucket as of ``as_of`` in the executor, and the union is the same answer as
:meth:`azof.Table.scan`. Options: ``as_of``, ``version``, ``known_at``, ``columns``,
``keys``, ``key_pushdown``, ``storage_options`` (JSON) or ``storage.<name>``, and ``table``
(with ``load(<lakehouse>)``). See ``docs/spark.md``.

Needs PySpark 4 (Python data sources) and, on every executor, azof and access to the
object store. ``import azof`` does not import this package nor PySpark.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

try:
    from pyspark.sql.datasource import DataSource as _DataSource  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "azof.spark needs PySpark 4 or newer (Python data sources); install it with: "
        "pip install 'azof[spark]'"
    ) from exc

from azof.spark.maintenance import compact, vacuum
from azof.spark.options import ReadOptions, WriteOptions, parse_options, parse_write_options
from azof.spark.source import AzofDataSource, AzofReader, KeyPushdownReader

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "FORMAT",
    "AzofDataSource",
    "AzofReader",
    "KeyPushdownReader",
    "ReadOptions",
    "WriteOptions",
    "compact",
    "parse_options",
    "parse_write_options",
    "register",
    "vacuum",
]

FORMAT = "azof"
"""The name to pass to ``spark.read.format``."""


def register(spark: SparkSession) -> None:
    """Register the ``azof`` format with ``spark`` (idempotent)."""
    spark.dataSource.register(AzofDataSource)
