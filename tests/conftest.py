"""Fixtures shared by every test: the seed tables and writable copies of them."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from azof.storage import open_storage

SEED_TABLES = Path(__file__).resolve().parents[2] / "shared" / "seed-tables"


@pytest.fixture(scope="session")
def seed_dir() -> Path:
    """The read-only seed lakehouse (``../shared/seed-tables``); required on CI."""
    if not SEED_TABLES.is_dir():
        message = f"the seed tables are missing; expected them at {SEED_TABLES}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return SEED_TABLES


@pytest.fixture
def seed_copy(seed_dir: Path, tmp_path: Path) -> Callable[[str], Path]:
    """``seed_copy("table0")`` copies a seed table into ``tmp_path / "lake"`` (a lakehouse
    folder) and returns the copy's folder, free to break."""

    def copy(name: str) -> Path:
        target = tmp_path / "lake" / name
        shutil.copytree(seed_dir / name, target, copy_function=shutil.copyfile)
        return target

    return copy


@pytest.fixture(scope="session")
def seed_memory_uri(seed_dir: Path) -> str:
    """A ``memory://`` lakehouse holding every seed table (loaded once per session)."""
    uri = f"memory://seed-{uuid.uuid4().hex}"
    storage = open_storage(uri)
    for path in sorted(seed_dir.rglob("*")):
        if path.is_file():
            storage.write(path.relative_to(seed_dir).as_posix(), path.read_bytes())
    return uri


@pytest.fixture(autouse=True)
def _manifests_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``AZOF_TEST_MANIFESTS=1``, every commit stores its file records in manifests
    (format 5) however small the table: the whole suite then runs on manifest tables."""
    if os.environ.get("AZOF_TEST_MANIFESTS") == "1":
        from azof import manifests

        monkeypatch.setattr(manifests, "INLINE_SEGMENT_FILES", 0)
        monkeypatch.setattr(manifests, "INLINE_OPEN_FILES", 0)
        monkeypatch.setattr(manifests, "INLINE_PENDING_FILES", 0)
