"""``azof.spark.compact``: the rewrite in Spark tasks gives the same table as
``Table.compact`` (every as-of answer, checked against the oracle), and a failed job
commits nothing; ``azof.spark.vacuum`` deletes what ``Table.vacuum`` would."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from spark_harness import SCHEMA, day, spark_marks

import azof
import azof.spark
from naive import latest_per_key

pytestmark = spark_marks()

POLICY = azof.CompactionPolicy(segment="month", buckets=8)
AS_OF = [None, "2023-12-31", "2024-01-15", "2024-02-01", "2024-02-29T23:00:00Z", "2024-03-20"]


def history(seed: int, appends: int, start: int = 0) -> list[list[dict[str, Any]]]:
    """Appends of random events over January to March 2024 (late ones too), 60 keys."""
    rng = random.Random(seed)
    return [
        [
            {
                "key": f"k{rng.randrange(60):02d}",
                "event_time": day(2024, 1, 1) + timedelta(hours=rng.randrange(24 * 90)),
                "price": float(rng.randrange(10_000)),
                "industry": rng.choice(["Software", "Energy", None]),
            }
            for _ in range(rng.randrange(20, 120))
        ]
        for _ in range(start, start + appends)
    ]


def fill(table: azof.Table, batches: list[list[dict[str, Any]]], log: list[dict[str, Any]]) -> None:
    for index, batch in enumerate(batches):
        table.append(batch)
        log.extend(batch)
        if index % 2:
            keys = sorted({row["key"] for row in batch})[:3]
            table.delete(keys, "2024-02-10")
            log.extend({"key": k, "event_time": day(2024, 2, 10), "_deleted": True} for k in keys)


def rows(table: azof.Table, as_of: Any) -> list[dict[str, Any]]:
    answer = table.refresh().scan(as_of=as_of)
    return answer.take(pc.sort_indices(answer, [("key", "ascending")])).to_pylist()


def oracle(log: list[dict[str, Any]], as_of: Any) -> list[dict[str, Any]]:
    latest = latest_per_key(log, as_of)
    return [
        {"key": k, "event_time": r["event_time"], "price": r["price"], "industry": r["industry"]}
        for k, r in sorted(latest.items())
    ]


def twins(root: Path) -> tuple[azof.Table, azof.Table]:
    (root / "local").mkdir()
    (root / "spark").mkdir()
    return (
        azof.Lakehouse(root / "local").create_table("t", SCHEMA),
        azof.Lakehouse(root / "spark").create_table("t", SCHEMA),
    )


def test_same_table_as_table_compact(spark: Any, tmp_path: Path) -> None:
    local, distributed = twins(tmp_path)
    log: list[dict[str, Any]] = []
    batches = history(1, 6)
    fill(local, batches, [])
    fill(distributed, batches, log)
    before = {str(t): rows(local, t) for t in AS_OF}
    expected = local.compact(POLICY)
    stats = azof.spark.compact(spark, f"{tmp_path / 'spark'}/t", POLICY)
    assert (stats.leaves_rewritten, stats.files_added, stats.files_removed) == (
        expected.leaves_rewritten, expected.files_added, expected.files_removed
    )  # fmt: skip
    assert stats.rows_written == expected.rows_written
    assert distributed.refresh().bucket_count() == 8
    assert distributed.log()[-1].operation == "compact"
    for as_of in AS_OF:
        got = rows(distributed, as_of)
        assert got == rows(local, as_of) == before[str(as_of)] == oracle(log, as_of), as_of
    # Incremental: late and new events, then both compact again.
    more = history(2, 3)
    fill(local, more, [])
    fill(distributed, more, log)
    local.compact(POLICY)
    azof.spark.compact(spark, f"{tmp_path / 'spark'}/t", POLICY)
    for as_of in AS_OF:
        assert rows(distributed, as_of) == rows(local, as_of) == oracle(log, as_of), as_of
    # Nothing pending: nothing to do, no commit.
    version = distributed.refresh().version
    assert azof.spark.compact(spark, f"{tmp_path / 'spark'}/t", POLICY).version is None
    assert distributed.refresh().version == version
    # Vacuum with the deletes in Spark tasks: the same versions expire, as many files go.
    expected_vacuum = local.vacuum(retain_versions=1, grace="0s")
    vacuumed = azof.spark.vacuum(spark, f"{tmp_path / 'spark'}/t", retain_versions=1, grace="0s")
    assert vacuumed.expired_versions == expected_vacuum.expired_versions
    assert len(vacuumed.deleted_files) == len(expected_vacuum.deleted_files) > 0
    assert not [f for f in vacuumed.deleted_files if (tmp_path / "spark" / "t" / f).exists()]
    for as_of in AS_OF:
        assert rows(distributed, as_of) == oracle(log, as_of), as_of


def test_a_failed_compaction_commits_nothing(spark: Any, tmp_path: Path) -> None:
    (tmp_path / "lake").mkdir()
    table = azof.Lakehouse(tmp_path / "lake").create_table("t", SCHEMA)
    fill(table, history(3, 4), [])
    table.compact(POLICY)
    table.append([{"key": "k01", "event_time": day(2024, 3, 25), "price": 1.0}])
    # The last kept leaf (February) is read by the rewrite tasks, not the driver: remove one
    # of its files, so that a task fails.
    february = [s for s in table.snapshot.segments[0].children if s.id.endswith("02")]
    lost = february[0].base[0].file
    (tmp_path / "lake" / "t" / lost).unlink()
    version = table.version
    with pytest.raises(Exception, match="missing"):
        azof.spark.compact(spark, f"{tmp_path / 'lake'}/t", POLICY)
    assert table.refresh().version == version
    assert len(table.snapshot.deltas) == 1
