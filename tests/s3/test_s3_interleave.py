"""A few interleaved pairs of the harness in ``tests/interleave`` on the S3 test server:
the same scenarios and invariants as on ``memory://``, over real HTTP requests with
conditional puts.

The server's modification times may be whole seconds, so every scenario's lakehouse is
copied first, all at once, and the scenarios start two seconds later, with a grace period
reaching 1.5 s before the start: the copied files count as old, everything a scenario
writes as young.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the shared test helpers

from azof import Lakehouse
from azof.storage import Storage
from interleave.gate import wide_arrow_pools
from interleave.model import build_base
from interleave.pairs import run_pairs
from interleave.scenario import Lake, copy_lake

MARGIN = 1.5
SETTLE = 2.0
SLACK = 1.0

# (X, Y, pause points of X): the known races, and a few more (every call for the appends,
# every third for the longer operations).
PAIRS: list[tuple[str, str, list[int]]] = [
    ("append", "vacuum", list(range(10))),
    ("compact", "restore", list(range(0, 45, 3))),
    ("restore", "compact", list(range(0, 15, 2))),
    ("evolve", "vacuum", list(range(0, 13, 2))),
    ("vacuum", "append", list(range(0, 15, 2))),
]


@pytest.fixture(scope="module", autouse=True)
def _wide_arrow_pools() -> Iterator[None]:
    with wide_arrow_pools():
        yield


@pytest.fixture(scope="module")
def s3_base(s3_server: Any) -> Storage:
    """The starting table, built once on ``memory://`` (copied to S3 per scenario)."""
    del s3_server
    base = Lakehouse(f"memory://s3-interleave-base-{uuid.uuid4().hex}")
    build_base(base)
    return base.storage


def s3_copies(base: Storage, uri: str, options: dict[str, Any], count: int) -> Lake:
    """A Lake handing out ``count`` S3 copies of ``base``, all made up front."""
    copies = []
    for _ in range(count):
        lake = Lakehouse(f"{uri}/{uuid.uuid4().hex[:12]}", storage_options=options)
        copy_lake(base, lake.storage)
        copies.append((lake, lake.storage))
    time.sleep(SETTLE)  # the copies are older than any scenario's start by more than MARGIN

    def open_fresh() -> tuple[Lakehouse, Storage]:
        return copies.pop()

    return Lake(open_fresh, margin=MARGIN, slack=SLACK)


@pytest.mark.parametrize(("x", "y", "points"), PAIRS, ids=[f"{x}-{y}" for x, y, _ in PAIRS])
def test_s3_pair(
    s3_base: Storage,
    s3_lake: str,
    s3_storage_options: dict[str, Any],
    x: str,
    y: str,
    points: list[int],
) -> None:
    lake = s3_copies(s3_base, s3_lake, s3_storage_options, len(points))
    failures = run_pairs(lake, x, y, points)
    assert not failures, "\n".join(failures)
