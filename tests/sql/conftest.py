"""Fixtures of the SQL tests: the seed tables, and the lakehouses of ``sql_lakes``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sql_lakes import SEED_TABLES, Prices, build_hours, build_prices


@pytest.fixture(scope="session")
def seed_tables() -> Path:
    """The read-only seed lakehouse; required on CI."""
    if not SEED_TABLES.is_dir():
        message = f"the seed tables are missing; expected them at {SEED_TABLES}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return SEED_TABLES


@pytest.fixture(scope="session")
def prices() -> Prices:
    """Table ``prices`` with versions 0-5 in a memory lakehouse (see ``sql_lakes.Prices``)."""
    return build_prices()


@pytest.fixture(scope="session")
def hours_uri() -> str:
    """A memory lakehouse with the seed-format table ``hours`` (see ``sql_lakes``)."""
    return build_hours()
