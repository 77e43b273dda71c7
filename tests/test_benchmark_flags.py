"""Benchmarks write docs/benchmarks.md only when asked (``--write-doc``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "seed-tables"


@pytest.mark.skipif(not (SEED / "financials").is_dir(), reason="the seed tables are missing")
def test_sql_headline_leaves_the_docs_alone_without_write_doc() -> None:
    doc = ROOT / "docs" / "benchmarks.md"
    before = doc.read_text()
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "sql_headline.py"), "--runs", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Command: `.venv/bin/python benchmarks/sql_headline.py --runs 1 --write-doc`" in (
        done.stdout
    )
    assert doc.read_text() == before
