"""Distributed maintenance: ``azof.spark.compact(spark, "<lakehouse>/<table>")`` and ``vacuum``.

The same compaction as :meth:`azof.Table.compact` (the same plan, the same files, the same
answers, one ``compact`` commit under the same conflict rules), with the rewrite spread
over Spark tasks:

1. The driver plans the work (:func:`azof.compact.rewrite.compact_snapshot`): which files
   are folded, the leaves, the bucket count and the groups of leaves a bucket takes at a
   time. This reads the keys and event times of the folded files (not their values).
2. Read tasks, one per few input files (about ``READ_ROWS`` rows), read the rows once and
   cut them by bucket and group of leaves into Arrow IPC pieces.
3. Spark's shuffle brings each bucket's pieces to one task, sorted by group (spilling to
   disk as it needs), and that task rewrites the bucket leaf by leaf
   (:func:`azof.compact.rewrite.rebuild_bucket`): memory holds one group of leaves'
   events and every key's latest row of the bucket, as in a local compaction.
4. The driver gathers the files of every bucket and commits them as one version.

A failed job commits nothing (its files are left to ``vacuum``). Uses the RDD API, so a
classic Spark session (not Spark Connect).

:func:`vacuum` is :meth:`azof.Table.vacuum` with the data files' deletes in Spark tasks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from azof import tablelog
from azof.compact.policy import CompactionPolicy
from azof.compact.rewrite import (
    BucketResult,
    CompactionStats,
    RebuildJob,
    compact_snapshot,
    rebuild_bucket,
)
from azof.compact.spill import read_groups, spill_partitioner
from azof.compact.vacuum import VacuumResult
from azof.errors import InvalidArgumentError
from azof.format import Snapshot
from azof.lakehouse import Lakehouse
from azof.scan.plan import PlannedFile
from azof.scan.read import read_rows
from azof.spark.options import split_table_path
from azof.storage import Storage

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["DELETES_PER_TASK", "TableLocation", "compact", "vacuum"]

DELETES_PER_TASK = 1_000
"""Data files one Spark task of :func:`vacuum` deletes."""


@dataclass(frozen=True)
class TableLocation:
    """Where a task finds the table and the snapshot being compacted (picklable)."""

    lakehouse: str
    table: str
    storage_options: tuple[tuple[str, Any], ...]
    version: int

    def storage(self) -> Storage:
        options = dict(self.storage_options) or None
        return Lakehouse(self.lakehouse, storage_options=options).storage.child(self.table)

    def snapshot(self, storage: Storage) -> Snapshot:
        return tablelog.load_snapshot(storage, self.table, self.version)


def _ipc(rows: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, rows.schema) as writer:
        writer.write_table(rows)
    return bytes(sink.getvalue().to_pybytes())


def split_rows(
    location: TableLocation, job: RebuildJob, files: list[PlannedFile]
) -> Iterator[tuple[int, bytes]]:
    """A read task: the rows of ``files`` as ``(partition, Arrow IPC)`` pieces, partition
    ``bucket * len(groups) + group``."""
    storage = location.storage()
    snapshot = location.snapshot(storage)
    work = job.work
    prepare = spill_partitioner(snapshot, work.events, work.starts, job.groups, work.buckets)
    columns = [c.name for c in snapshot.schema.columns]
    rows, part = prepare(read_rows(storage, location.table, snapshot, files, columns))
    if rows.num_rows == 0:
        return
    order = np.argsort(part, kind="stable")
    ordered, sorted_parts = rows.take(order), part[order]
    edges = np.flatnonzero(np.diff(sorted_parts)) + 1
    for low, high in zip([0, *edges.tolist()], [*edges.tolist(), len(order)], strict=True):
        yield int(sorted_parts[low]), _ipc(ordered.slice(low, high - low))


class _SortedPieces:
    """A bucket's pieces as Spark's shuffle hands them (sorted by partition), taken one
    partition at a time in increasing order: what :func:`rebuild_bucket` reads from."""

    def __init__(self, pieces: Iterator[tuple[int, bytes]]) -> None:
        self._pieces = pieces
        self._next: tuple[int, bytes] | None = next(pieces, None)

    def take(self, part: int) -> pa.Table | None:
        tables = []
        while self._next is not None and self._next[0] <= part:
            found, data = self._next
            if found == part:
                tables.append(pa.ipc.open_stream(data).read_all())
            self._next = next(self._pieces, None)
        if not tables:
            return None
        return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


def rewrite_bucket(
    location: TableLocation, job: RebuildJob, bucket: int, pieces: Iterable[tuple[int, bytes]]
) -> Iterator[tuple[int, BucketResult]]:
    """A rewrite task: one bucket's leaves, from its shuffled pieces."""
    storage = location.storage()
    snapshot = location.snapshot(storage)
    spilled = _SortedPieces(iter(pieces))
    yield bucket, rebuild_bucket(storage, location.table, snapshot, job, spilled, bucket)


def run_in_spark(
    spark: SparkSession, location: TableLocation, job: RebuildJob
) -> list[BucketResult]:
    """Every bucket of ``job`` rewritten by Spark tasks; the results in bucket order."""
    buckets, groups = job.work.buckets, len(job.groups)
    reads = read_groups(job.work.events)
    context = spark.sparkContext
    pieces = context.parallelize(reads, max(1, len(reads))).flatMap(
        lambda files: split_rows(location, job, files)
    )
    by_bucket = pieces.repartitionAndSortWithinPartitions(
        numPartitions=buckets, partitionFunc=lambda part: part // groups
    )
    done = by_bucket.mapPartitionsWithIndex(
        lambda bucket, items: rewrite_bucket(location, job, bucket, items)
    ).collect()
    results = dict(done)
    if sorted(results) != list(range(buckets)):
        raise InvalidArgumentError(
            f"table {location.table!r}: the Spark job rewrote buckets {sorted(results)}, not "
            f"0..{buckets - 1}; nothing was committed"
        )
    return [results[bucket] for bucket in range(buckets)]


def compact(
    spark: SparkSession,
    path: str,
    policy: CompactionPolicy | None = None,
    *,
    storage_options: dict[str, Any] | None = None,
) -> CompactionStats:
    """Compact the table at ``path`` (``"<lakehouse>/<table>"``) with ``policy`` (default:
    the table's), rewriting its buckets in Spark tasks; the same result and commit as
    :meth:`azof.Table.compact`. ``storage_options`` reach the driver and every task."""
    if policy is not None and not isinstance(policy, CompactionPolicy):
        raise InvalidArgumentError("policy must be an azof.CompactionPolicy or None")
    lakehouse, name = split_table_path(path)
    table = Lakehouse(lakehouse, storage_options=storage_options).table(name)
    snapshot = table.snapshot
    location = TableLocation(
        lakehouse, name, tuple(sorted((storage_options or {}).items())), snapshot.version
    )

    def run(job: RebuildJob) -> list[BucketResult]:
        return run_in_spark(spark, location, job)

    _landed, stats = compact_snapshot(
        table.storage, name, snapshot, policy or table.policy, run_buckets=run
    )
    return stats


def delete_files(location: TableLocation, paths: list[str]) -> Iterator[int]:
    """A delete task: remove ``paths`` (in the table's folder); how many."""
    storage = location.storage()
    for path in paths:
        storage.delete(path)
    yield len(paths)


def vacuum(
    spark: SparkSession,
    path: str,
    retain_versions: int | None = None,
    older_than: Any = None,
    *,
    grace: Any = "1d",
    dry_run: bool = False,
    storage_options: dict[str, Any] | None = None,
) -> VacuumResult:
    """:meth:`azof.Table.vacuum` of the table at ``path``, the data files deleted by Spark
    tasks (``DELETES_PER_TASK`` each); what is expired, kept and deleted is the same."""
    lakehouse, name = split_table_path(path)
    table = Lakehouse(lakehouse, storage_options=storage_options).table(name)
    location = TableLocation(
        lakehouse, name, tuple(sorted((storage_options or {}).items())), table.version
    )

    def delete(paths: list[str]) -> None:
        chunks = [paths[i : i + DELETES_PER_TASK] for i in range(0, len(paths), DELETES_PER_TASK)]
        context = spark.sparkContext
        deleted = (
            context.parallelize(chunks, len(chunks))
            .flatMap(lambda chunk: delete_files(location, chunk))
            .sum()
        )
        if deleted != len(paths):
            raise InvalidArgumentError(
                f"table {name!r}: the Spark job deleted {deleted} of {len(paths)} files; "
                "vacuum again"
            )

    return table.vacuum(
        retain_versions, older_than, grace=grace, dry_run=dry_run, delete_files=delete
    )
