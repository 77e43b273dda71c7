"""Fixtures of the interleaving harness: pyarrow pools wide enough for paused operations,
and the starting table, built once and copied into a fresh ``memory://`` lakehouse per
scenario."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from azof import Lakehouse, manifests
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


@pytest.fixture(scope="package")
def _manifest_base() -> Lake:
    with pytest.MonkeyPatch.context() as patch:
        _every_record_in_manifests(patch)
        base = Lakehouse(f"memory://interleave-manifests-{uuid.uuid4().hex}")
        build_base(base)
    return memory_lake(base.storage)


@pytest.fixture
def manifest_memory(_manifest_base: Lake, monkeypatch: pytest.MonkeyPatch) -> Lake:
    """Scenarios on copies of the starting table whose every commit stores its file
    records in manifests (format 5): appends add and merge pending manifests, compactions
    drop them and write segment manifests, restores reuse them, vacuums delete them. No
    manifest is served from the process cache, so every read of one is a storage call."""
    _every_record_in_manifests(monkeypatch)
    return _manifest_base


def _every_record_in_manifests(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(manifests, "INLINE_SEGMENT_FILES", 0)
    patch.setattr(manifests, "INLINE_OPEN_FILES", 0)
    patch.setattr(manifests, "INLINE_PENDING_FILES", 0)
    patch.setattr(manifests, "MERGE_FANOUT", 2)
    patch.setattr(manifests, "_LEVELS", (2, 4))
    patch.setattr(manifests, "_CACHED_RECORDS", 0)
    manifests.clear_cache()
