"""One local Spark session for the whole test run, a small bucketed table, and comparisons.

Used by ``tests/spark/`` and ``tests/s3/test_spark_s3.py`` (which puts this folder on
``sys.path``). :func:`spark_session` starts Spark (``local[2,2]``: two cores, a failed task
is tried twice; no UI, bound to 127.0.0.1) on first use (the ``azof`` format is found by
PySpark itself, see ``pyspark_azof``) and stops it, and its JVM, when the last fixture using
it is torn down.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import azof

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def spark_marks() -> list[pytest.MarkDecorator]:
    """The marks of a Spark test module (``pytestmark = spark_marks()``).

    The ``spark`` marker itself is added by ``tests/spark/conftest.py`` to every test that
    uses the ``spark`` fixture (also those in other folders, such as tests/s3/).
    """
    return [
        # PySpark 4.x warns about pandas 3 when it checks the pandas version (it uses no
        # pandas in these tests); nothing else from Spark is silenced.
        pytest.mark.filterwarnings(
            "ignore:PySpark does not yet fully support pandas:FutureWarning"
        ),
        # PySpark 4.0 leaves the socket of a collected result to the garbage collector.
        pytest.mark.filterwarnings(
            "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
        ),
    ]


JVM_STOP_TIMEOUT = 30.0  # seconds for the Spark JVM to exit after its stdin closes

_state: dict[str, Any] = {"session": None, "users": 0, "env": None}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _unavailable(message: str) -> None:
    if in_ci():
        pytest.fail(f"{message} (CI is set: the test extra must provide it)")
    pytest.skip(message, allow_module_level=True)


def require_pyspark() -> None:
    """Skip (fail on CI) unless PySpark 4 is installed; usable at module level."""
    try:
        from pyspark.sql.datasource import DataSource  # noqa: F401 (PySpark 4 or newer)
    except ImportError:
        _unavailable("PySpark 4 is not installed: pip install 'azof[spark]'")


def has_filter_pushdown() -> bool:
    """Whether PySpark offers filter pushdown to Python data sources (4.1 and newer)."""
    import pyspark.sql.datasource

    return hasattr(pyspark.sql.datasource, "EqualTo")


def _start() -> SparkSession:
    require_pyspark()
    from pyspark.sql import SparkSession

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        _unavailable("Spark needs Java (17 or newer) and there is none on PATH or JAVA_HOME")
    names = ("PYSPARK_PYTHON", "SPARK_LOCAL_IP", "NO_PROXY", "no_proxy")
    saved = {name: os.environ.get(name) for name in names}
    _state["env"] = saved
    # Spark's Python workers must run this interpreter (azof and pyarrow are installed here);
    # they inherit the JVM's environment, fixed now, so loopback must bypass any proxy now.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    for name in ("NO_PROXY", "no_proxy"):
        os.environ[name] = ",".join(filter(None, [saved[name], "127.0.0.1", "localhost"]))
    builder: Any = SparkSession.builder
    spark: SparkSession = (
        builder.master("local[2,2]")  # two cores; a failed task is tried twice
        .appName("azof-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.driver.memory", "512m")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.python.worker.reuse", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    # No azof.spark.register(spark): Spark finds the "azof" format in the pyspark_azof module.
    return spark


def _stop(spark: SparkSession) -> None:
    """Stop the session, then make sure its JVM exits (it does when its stdin closes)."""
    from pyspark import SparkContext

    spark.stop()
    gateway = SparkContext._gateway
    process: subprocess.Popen[bytes] | None = getattr(gateway, "proc", None)
    if gateway is not None:
        with contextlib.suppress(Exception):
            gateway.shutdown()
    SparkContext._gateway = None
    SparkContext._jvm = None
    if process is not None:
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(timeout=JVM_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for name, value in (_state["env"] or {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def spark_session() -> Iterator[SparkSession]:
    """Body of a session fixture: the shared session, stopped after its last user."""
    if _state["session"] is None:
        _state["session"] = _start()
    _state["users"] += 1
    try:
        yield _state["session"]
    finally:
        _state["users"] -= 1
        if _state["users"] == 0:
            spark, _state["session"] = _state["session"], None
            _stop(spark)


# -- the test table ------------------------------------------------------------------------


def day(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


SCHEMA = pa.schema(
    [
        pa.field("key", pa.string()),
        pa.field("event_time", pa.timestamp("ms", tz="UTC")),
        pa.field("price", pa.float64()),
        pa.field("industry", pa.string()),
    ]
)


def build_prices(lake: azof.Lakehouse) -> azof.Table:
    """40 keys with three monthly prices, two deleted mid-February, compacted into three
    buckets (version 3), then late data and a new key (version 4, after the compaction).

    Versions 0-2 have one bucket, 3-4 have three.
    """
    table = lake.create_table("prices", SCHEMA)
    table.append(
        [
            {
                "key": f"k{i:02d}",
                "event_time": day(2024, month, 1 + i % 20),
                "price": float(i * 10 + month),
                "industry": "Software" if i % 3 else "Energy",
            }
            for i in range(40)
            for month in (1, 2, 3)
        ]
    )
    table.delete(["k05", "k06"], "2024-02-15")
    table.compact(azof.CompactionPolicy(segment="month", buckets=3))
    table.append(
        [
            # Late: k01 was Software all along, but as of late January it is "Late".
            {"key": "k01", "event_time": day(2024, 1, 25), "price": -1.0, "industry": "Late"},
            {"key": "k99", "event_time": day(2024, 2, 5), "price": 99.0, "industry": "New"},
        ]
    )
    assert table.version == 4
    assert table.bucket_count() == 3
    assert table.bucket_count(version=2) == 1
    return table


# -- comparisons ---------------------------------------------------------------------------


def spark_rows(df: DataFrame) -> list[dict[str, Any]]:
    """The DataFrame's rows (through Arrow: timestamps stay UTC), sorted by key."""
    rows = df.toArrow().to_pylist()
    return sorted(rows, key=lambda row: (row.get("key") is None, str(row.get("key"))))


def scan_rows(table: azof.Table, **scan: Any) -> list[dict[str, Any]]:
    """``table.scan(**scan)`` as rows sorted by key, timestamps in microseconds like Spark's."""
    answer = table.scan(**scan)
    columns = []
    for column in answer.columns:
        if pa.types.is_timestamp(column.type):
            column = pc.cast(column, pa.timestamp("us", tz="UTC"))
        columns.append(column)
    rows = pa.Table.from_arrays(columns, names=answer.column_names).to_pylist()
    return sorted(rows, key=lambda row: (row.get("key") is None, str(row.get("key"))))
