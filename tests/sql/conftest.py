"""Fixtures of the SQL tests: the lakehouses of ``sql_lakes`` (the seed tables are the root
conftest's ``seed_dir``)."""

from __future__ import annotations

import pytest
from sql_lakes import Prices, build_hours, build_prices


@pytest.fixture(scope="session")
def prices() -> Prices:
    """Table ``prices`` with versions 0-5 in a memory lakehouse (see ``sql_lakes.Prices``)."""
    return build_prices()


@pytest.fixture(scope="session")
def hours_uri() -> str:
    """A memory lakehouse with the seed-format table ``hours`` (see ``sql_lakes``)."""
    return build_hours()
