"""Fixtures for the CLI tests: the seed tables and a runner of the real console script."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

SEED = Path(__file__).resolve().parents[3] / "shared" / "seed-tables"
AZOF = Path(sys.executable).parent / "azof"


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    def assert_clean_error(self, *fragments: str) -> None:
        """Failed with exactly one 'error: ...' line on stderr naming ``fragments``."""
        assert self.code != 0, self
        lines = self.stderr.splitlines()
        assert len(lines) == 1, self.stderr
        assert lines[0].startswith("error: "), self.stderr
        assert "Traceback" not in self.stderr
        for fragment in fragments:
            assert fragment in lines[0], (fragment, lines[0])


Runner = Callable[..., Result]


@pytest.fixture(scope="session")
def seed() -> Path:
    """The folder of the seed tables (read-only reference data beside the repository)."""
    if not (SEED / "table0").is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the seed tables are missing at {SEED}")
        pytest.skip(f"the seed tables are not at {SEED}")
    return SEED


@pytest.fixture(scope="session")
def azof_cli() -> Runner:
    """Run the installed ``azof`` console script with piped (non-TTY) stdout."""
    if not AZOF.exists():
        pytest.fail(f"the console script is not installed at {AZOF}; pip install -e .")

    def run(
        *args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> Result:
        environment = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AZOF_") and k not in ("COLUMNS", "LINES")
        }
        environment.update(env or {})
        done = subprocess.run(
            [str(AZOF), *map(str, args)],
            capture_output=True,
            text=True,
            env=environment,
            cwd=cwd,
            timeout=120,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture
def writable_copy(seed: Path, tmp_path: Path) -> Callable[..., Path]:
    """Copy seed tables into a fresh lakehouse under tmp_path (the seed is read-only)."""

    def copy(*names: str) -> Path:
        lake = tmp_path / "lake"
        for name in names:
            shutil.copytree(seed / name, lake / name)
        for path in lake.rglob("*"):
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
        return lake

    return copy
