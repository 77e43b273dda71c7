"""Fixtures of the interleaving harness: pyarrow pools wide enough for paused operations,
and the starting table, built once and copied into a fresh ``memory://`` lakehouse per
scenario."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from azof import Lakehouse
from interleave.gate import wide_arrow_pools
from interleave.model import build_base
from interleave.scenario import Lake, memory_lake


@pytest.fixture(scope="package", autouse=True)
def _wide_arrow_pools() -> Iterator[None]:
    with wide_arrow_pools():
        yield


@pytest.fixture(scope="package")
def memory() -> Lake:
    """Scenarios on ``memory://`` copies of the starting table."""
    base = Lakehouse(f"memory://interleave-base-{uuid.uuid4().hex}")
    build_base(base)
    return memory_lake(base.storage)
