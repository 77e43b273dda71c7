"""A smoke run of the metadata benchmark (benchmarks/metadata.py) at tiny sizes: a real
table and a synthetic one, azof and Delta, one fresh process per open. The harness works
end to end, the synthetic tree is a valid table shaped like compaction's, and the report
renders its targets. Timings are not checked."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import metadata  # noqa: E402
import metadata_tables  # noqa: E402

import azof  # noqa: E402

pytest.importorskip("deltalake")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    root = tmp_path_factory.mktemp("metadata")
    return [
        metadata.measure_size(100, 1, synthetic_from=500, work=root / "real"),
        metadata.measure_size(700, 2, synthetic_from=500, work=root / "synthetic"),
    ]


def test_the_synthetic_layout_is_near_the_size_asked() -> None:
    for size in (10_000, 100_000, 1_000_000):
        lay = metadata_tables.layout(size)
        assert lay.buckets <= 4096
        assert abs(lay.files - size) / size < 0.05


def test_a_synthetic_table_opens_and_plans_like_a_compacted_one(tmp_path: Path) -> None:
    built = metadata_tables.synthetic_azof(tmp_path, 700)
    lay = metadata_tables.layout(700)
    table = azof.Lakehouse(tmp_path).table("t")
    assert table.snapshot.tree_levels == ("year", "quarter")
    assert table.snapshot.buckets == lay.buckets
    assert not table.policy.auto
    assert built.files == lay.files + 1  # and the real file appended first
    leaves = [s for s in table.snapshot.walk() if not s.children]
    assert len(leaves) == metadata_tables.QUARTERS
    assert [len(s.base) for s in leaves[:2]] == [0, lay.buckets]
    assert len(leaves[-1].tip) == lay.buckets
    middle = metadata_tables.history_point(built, 0.5)
    planned = table.scanner(as_of=middle).files()
    assert len(planned) == lay.buckets * (1 + lay.deltas) + 1  # base, deltas, pending
    version = table.version
    table.append(built.row(0))
    assert table.version == version + 1
    assert len(table.snapshot.deltas) == 2  # no compaction ran


def test_every_measurement_is_made(results: list[dict[str, Any]]) -> None:
    for result in results:
        ours, theirs = result["azof"], result["delta"]
        assert ours["files"] == theirs["files"]
        assert len(ours["appends"]["bytes"]) == metadata.LOG_LIMIT
        assert all(size > 0 for size in ours["appends"]["bytes"] + theirs["appends"]["bytes"])
        for opened in ours["opens"]:
            assert opened["planned"] > 0
            assert opened["snapshot_objects"] >= 1
            assert opened["log_commits"] == metadata.LOG_LIMIT
        assert all(opened["planned"] > 0 for opened in theirs["opens"])
    assert [r["synthetic"] for r in results] == [False, True]
    assert len(results[1]["azof"]["opens"]) == 2


def test_the_report_renders_the_targets(results: list[dict[str, Any]]) -> None:
    doc = metadata.HERE.parent / "docs" / "benchmarks.md"
    before = doc.read_text()
    body = metadata.render(results, "metadata.py --sizes 100,700", 2, 1.0)
    assert "### Targets" in body
    assert body.count("| first open + plan of an as-of scan at ") == 2
    assert "`log(limit=10)` reads at most 10 commit records" in body
    assert "(synthetic)" in body
    assert "{" not in body  # every figure was filled in
    assert doc.read_text() == before
