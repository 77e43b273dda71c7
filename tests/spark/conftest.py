"""Spark tests: one local Spark session per test run (see ``spark_harness.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from spark_harness import build_prices, spark_session

import azof

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MARKER = "spark: needs PySpark and Java; runs a local Spark session (skipped without them)"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


@pytest.hookimpl(tryfirst=True)  # before -m selects on the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test using the ``spark`` fixture, here or elsewhere, is marked ``spark``."""
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spark)
            # one JVM for the whole run: with xdist, every Spark test goes to one worker
            item.add_marker(pytest.mark.xdist_group("spark"))


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """The shared local Spark session (the ``azof`` format needs no registration)."""
    yield from spark_session()


@pytest.fixture(scope="session")
def prices(tmp_path_factory: pytest.TempPathFactory) -> azof.Table:
    """The test table (``spark_harness.build_prices``) in a local lakehouse."""
    folder: Path = tmp_path_factory.mktemp("spark-lake")
    return build_prices(azof.Lakehouse(folder))
