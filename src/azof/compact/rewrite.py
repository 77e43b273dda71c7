"""Compaction: fold pending deltas into the segment tree (``docs/spec.md``, "Compaction").

Each leaf segment of the tree gets a *base* (every key's latest event strictly before the
leaf's start, tombstones included) and *deltas* (the leaf's own events, one row per
``(key, event_time)``). Incremental runs rebuild only the leaves from the earliest pending
event on; a seed tree, or a tree built with other levels, is rebuilt whole. The result is
committed like any other commit, on top of whatever landed meanwhile: appends that raced
the compaction stay pending deltas.

Memory is bounded, not by the history: the input files are read a few at a time and their
rows spilled by bucket and group of leaves (:mod:`azof.compact.spill`); each bucket is
then swept leaf by leaf in time order, holding its state (every key's latest row so far)
and one group of leaves' events.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from azof.compact.policy import CompactionPolicy
from azof.compact.spill import Spill, leaf_groups, profile_inputs, spill_inputs
from azof.compact.tree import build_tree, leaves, period_label
from azof.errors import CommitConflictError, CorruptTableError
from azof.format import CommitInfo, DataFile, Segment, Snapshot, TableSchema
from azof.format.buckets import split_by_bucket
from azof.format.keys import key_array, key_sort
from azof.format.types import unit_nanos
from azof.scan.merge import PRIORITY, merge_latest, run_edges
from azof.scan.plan import PlannedFile, rank_files
from azof.scan.read import read_rows
from azof.storage import Storage
from azof.timestamps import (
    MAX_EVENT_INSTANT,
    MIN_EVENT_INSTANT,
    Instant,
    describe_instant,
    event_range_text,
)
from azof.write.commit import commit_snapshot, upgrade
from azof.write.files import Codec, write_data_file

__all__ = [
    "BucketResult",
    "CompactionStats",
    "CompactionWork",
    "Progress",
    "RebuildJob",
    "RunBuckets",
    "SpilledRows",
    "compact_snapshot",
    "rebuild_bucket",
]

_LOG = logging.getLogger(__name__)

COMPACTED_COMPRESSION: Codec = "lz4"
"""The Parquet codec of the files compaction writes (what as-of reads decode): LZ4
decodes in about half the CPU time of zstd, for files about a third larger."""

DELTA_PIECE_ROWS = 131_072
"""About the most rows of one leaf's delta file per bucket (one row group): a leaf's
events are cut by event time into pieces of about this size (``docs/spec.md``, 13.2), so
that a read inside the leaf decodes little beyond its as-of time."""

Progress = Callable[[int, int], None]
"""Called with (buckets done, buckets to do)."""


@dataclass(frozen=True)
class CompactionStats:
    """What one compaction did."""

    version: int | None
    leaves_rewritten: int = 0
    files_added: int = 0
    files_removed: int = 0
    rows_written: int = 0


@dataclass
class CompactionWork:
    """What a compaction does, as planned from one snapshot: the leaves it keeps, the
    starts of those it rebuilds, the files it folds and reads, the bucket count."""

    keep: list[Segment]
    starts: list[Instant]
    leaf_rows: list[int]
    """Events of each rebuilt leaf (an estimate: it only groups leaves)."""
    folded: set[str]
    seq: int
    buckets: int
    events: list[PlannedFile]
    """The files whose rows are the events of the rebuilt leaves."""


def _read(
    storage: Storage, table: str, snapshot: Snapshot, planned: Sequence[PlannedFile]
) -> pa.Table:
    columns = [c.name for c in snapshot.schema.columns]
    return read_rows(storage, table, snapshot, list(planned), columns)


def _estimated_keys(snapshot: Snapshot) -> int:
    """An upper bound of the key count from metadata only: the last leaf's base and
    deltas, plus pending rows."""
    old = leaves(snapshot.segments)
    last = [f.rows or 0 for f in old[-1].files()] if old else []
    return sum(last) + sum(d.rows or 0 for d in snapshot.deltas)


def _plan_work(
    storage: Storage, table: str, snapshot: Snapshot, policy: CompactionPolicy
) -> CompactionWork | None:
    ranked = rank_files(snapshot)
    level = policy.levels[-1]
    seq = max((p.file.seq for p in ranked), default=0)
    incremental = bool(snapshot.tree_levels) and snapshot.tree_levels == policy.levels
    if incremental:
        wanted = policy.bucket_count(_estimated_keys(snapshot))
        if policy.buckets:
            incremental = wanted == snapshot.buckets
        else:  # grow the bucket count when keys outgrew it at least twofold
            incremental = wanted < 2 * snapshot.buckets
    if incremental and not snapshot.deltas:
        return None
    if not incremental:
        originals = [p for p in ranked if not p.file.derived]
        if not originals:
            return None
        # distinct keys only matter when the rows could hold more than one bucket's worth
        sizes = [p.file.rows for p in originals]
        count_keys = not policy.buckets and (
            None in sizes or policy.bucket_count(sum(r or 0 for r in sizes)) > 1
        )
        found = profile_inputs(storage, table, snapshot, originals, level, count_keys)
        starts = sorted(found.periods)
        return CompactionWork(
            [],
            starts,
            [found.periods[s] for s in starts],
            {p.file.file for p in ranked},
            seq,
            policy.bucket_count(found.keys),
            originals,
        )
    buckets = snapshot.buckets
    pending = {d.file for d in snapshot.deltas}
    pending_files = [p for p in ranked if p.file.file in pending]
    found = profile_inputs(storage, table, snapshot, pending_files, level, False)
    old = leaves(snapshot.segments)
    if not found.periods:  # pending deltas without rows: fold them away
        return CompactionWork(old, [], [], pending, seq, buckets, [])
    first = min(found.periods)
    keep = [leaf for leaf in old if leaf.start < first]
    rebuild = [leaf for leaf in old if leaf.start >= first]
    rows = dict(found.periods)
    for leaf in rebuild:
        rows[leaf.start] = rows.get(leaf.start, 0) + sum(f.rows or 0 for f in leaf.deltas)
    by_name = {p.file.file: p for p in ranked}
    old_deltas = [by_name[f.file] for leaf in rebuild for f in leaf.deltas]
    events = sorted([*old_deltas, *pending_files], key=lambda p: p.priority)

    starts = sorted(rows)
    folded = pending | {f.file for leaf in rebuild for f in leaf.files()}
    return CompactionWork(keep, starts, [rows[s] for s in starts], folded, seq, buckets, events)


def _state_before(
    storage: Storage, table: str, snapshot: Snapshot, work: CompactionWork, bucket: int
) -> pa.Table | None:
    """Every key of ``bucket``'s latest row before the first rebuilt leaf (``None``: no
    rows): the last kept leaf's base and events."""
    if not work.keep:
        return None
    by_name = {p.file.file: p for p in rank_files(snapshot)}
    buckets = work.buckets
    files = [*work.keep[-1].base, *work.keep[-1].deltas]
    chosen = [f for f in files if f.bucket == bucket or f.buckets != buckets]
    rows = _read(storage, table, snapshot, [by_name[f.file] for f in chosen])
    if buckets > 1 and any(f.buckets != buckets for f in chosen):
        rows = split_by_bucket(rows, buckets, snapshot.schema.key_names)[bucket]
    return merge_latest(rows, snapshot.schema.key_names, snapshot.schema.event_time_name)


def _by_leaf(
    events: pa.Table, starts: list[Instant], schema: TableSchema
) -> tuple[pa.Table, np.ndarray[Any, Any]]:
    """One row per (key, event_time), the greatest priority, grouped by leaf and sorted by
    key and event time within each leaf; and where each leaf's rows begin (len+1 bounds)."""
    n = events.num_rows
    if n == 0:
        return events, np.zeros(len(starts) + 1, dtype=np.int64)
    fixed, time = list(schema.fixed_names), schema.event_time_name
    per_unit = unit_nanos(schema.event_time_type)
    order = pc.sort_indices(
        events.select([*fixed, PRIORITY]),
        sort_keys=[*key_sort(fixed), (PRIORITY, "descending")],
    )
    order = order.filter(run_edges(*(events.column(n).take(order) for n in fixed), first=True))
    kept = order.to_numpy()
    instants = events.column(time).cast(pa.int64()).to_numpy()[kept] * per_unit
    leaf = np.searchsorted(np.asarray(starts, dtype=np.int64), instants, side="right") - 1
    grouped = kept[np.argsort(leaf, kind="stable")]  # stays sorted by key within a leaf
    bounds = np.searchsorted(np.sort(leaf, kind="stable"), np.arange(len(starts) + 1))
    return events.take(pa.array(grouped)), bounds


def _write(
    storage: Storage,
    rows: pa.Table | None,
    snapshot: Snapshot,
    policy: CompactionPolicy,
    seq: int,
    derived: bool,
    bucket: int,
    buckets: int,
) -> list[DataFile]:
    """Write rows of one bucket (sorted by key and event time), split at the target size."""
    if rows is None or rows.num_rows == 0:
        return []
    rows = rows.drop_columns([PRIORITY])
    per_row = max(1, rows.nbytes // rows.num_rows)
    step = max(1, policy.target_file_mb * 1024 * 1024 // per_row)
    out = []
    for offset in range(0, rows.num_rows, step):
        written = write_data_file(
            storage,
            rows.slice(offset, step),
            snapshot.schema,
            bucket=bucket,
            buckets=buckets,
            compression=COMPACTED_COMPRESSION,
        )
        out.append(replace(written, seq=seq, derived=derived))
    return out


def _time_pieces(chunk: pa.Table | None, time: str) -> list[pa.Table | None]:
    """A leaf's events of one bucket (sorted by key, then event time) cut by event time
    into pieces of about :data:`DELTA_PIECE_ROWS` rows, each still sorted by key and event
    time: a read as of ``T`` inside the leaf skips the pieces that start after ``T``. Rows
    of equal event time stay in one piece."""
    if chunk is None or chunk.num_rows <= DELTA_PIECE_ROWS:
        return [chunk]
    times = chunk.column(time).cast(pa.int64()).to_numpy()
    count = -(-chunk.num_rows // DELTA_PIECE_ROWS)
    ordered = np.sort(times)
    cuts = np.unique(ordered[[len(ordered) * i // count for i in range(1, count)]])
    piece = np.searchsorted(cuts, times, side="right")
    return [chunk.filter(pa.array(piece == index)) for index in range(len(cuts) + 1)]


def _advance(state: pa.Table | None, chunk: pa.Table, names: tuple[str, ...]) -> pa.Table:
    """The state after a leaf: each key's last event in the leaf replaces its older row
    (the leaf's events all come after the state's); sorted by key."""
    chunk = chunk.filter(run_edges(*(chunk.column(n) for n in names), first=False))
    if state is None or state.num_rows == 0:
        return chunk
    fresh = key_array(chunk, names)
    older = state.filter(pc.invert(pc.is_in(key_array(state, names), value_set=fresh)))
    merged = pa.concat_tables([older, chunk])
    return merged.take(pc.sort_indices(merged, sort_keys=key_sort(names)))


def rebuild_bucket(
    storage: Storage,
    table: str,
    snapshot: Snapshot,
    job: RebuildJob,
    spill: SpilledRows,
    bucket: int,
) -> BucketResult:
    """(base files, delta files) of every rebuilt leaf for one bucket, the tip files (every
    key's latest event) and the latest event time seen.

    Leaves are swept in time order, a group of them at a time: memory holds the state
    (every key's latest row so far) and one group's events, which ``spill.take(bucket *
    len(groups) + group)`` gives (groups asked for in order)."""
    policy, work, groups = job.policy, job.work, job.groups
    state = _state_before(storage, table, snapshot, work, bucket)
    if state is not None and state.num_rows:
        state = state.take(pc.sort_indices(state, sort_keys=key_sort(snapshot.schema.key_names)))
    per_unit = unit_nanos(snapshot.schema.event_time_type)
    out = []
    latest: Instant | None = None
    for group, (low, high) in enumerate(groups):
        raw = spill.take(bucket * len(groups) + group)
        events, bounds = None, np.zeros(high - low + 1, dtype=np.int64)
        if raw is not None:
            events, bounds = _by_leaf(raw.combine_chunks(), work.starts[low:high], snapshot.schema)
            del raw
        for index in range(high - low):
            count = int(bounds[index + 1] - bounds[index])
            chunk = events.slice(int(bounds[index]), count) if events is not None else None
            base = _write(storage, state, snapshot, policy, work.seq, True, bucket, work.buckets)
            deltas = [
                data_file
                for piece in _time_pieces(chunk, snapshot.schema.event_time_name)
                for data_file in _write(
                    storage, piece, snapshot, policy, work.seq, False, bucket, work.buckets
                )
            ]
            out.append((base, deltas))
            if chunk is not None and chunk.num_rows:
                state = _advance(state, chunk, snapshot.schema.key_names)
                time = chunk.column(snapshot.schema.event_time_name)
                high_time = pc.max(time).cast(pa.int64()).as_py() * per_unit
                latest = high_time if latest is None else max(latest, high_time)
    tip = _write(storage, state, snapshot, policy, work.seq, True, bucket, work.buckets)
    return out, tip, latest


@dataclass(frozen=True)
class RebuildJob:
    """What rewriting one bucket needs besides the storage and the snapshot: plain values
    (a distributed compaction ships them to its tasks)."""

    policy: CompactionPolicy
    work: CompactionWork
    groups: list[tuple[int, int]]
    """``(first leaf, end leaf)`` of each group of leaves a bucket takes at a time."""


BucketResult = tuple[list[tuple[list[DataFile], list[DataFile]]], list[DataFile], Instant | None]
"""One bucket's (base, delta) files of each rebuilt leaf, its tip files, its latest event."""
RunBuckets = Callable[[RebuildJob], list[BucketResult]]
"""Rewrites every bucket of a job; the results in bucket order."""


class SpilledRows(Protocol):
    """Where a bucket's rewrite takes each group's events from (a :class:`Spill`)."""

    def take(self, part: int) -> pa.Table | None: ...


def _run_locally(
    storage: Storage,
    table: str,
    snapshot: Snapshot,
    job: RebuildJob,
    progress: Progress | None,
) -> list[BucketResult]:
    """Spill the events by bucket and group of leaves, then rewrite each bucket on its own
    (buckets in parallel threads)."""
    work = job.work
    workers = min(work.buckets, os.cpu_count() or 1, 4)
    with Spill(work.buckets * len(job.groups)) as spill:
        spill_inputs(
            storage, table, snapshot, work.events, work.starts, job.groups, work.buckets, spill
        )
        with ThreadPoolExecutor(max_workers=workers) as pool:  # buckets are independent
            futures = [
                pool.submit(rebuild_bucket, storage, table, snapshot, job, spill, b)
                for b in range(work.buckets)
            ]
            for finished, _ in enumerate(as_completed(futures), start=1):
                if progress is not None:
                    progress(finished, work.buckets)
            return [future.result() for future in futures]


def _rebuild(
    storage: Storage,
    table: str,
    snapshot: Snapshot,
    policy: CompactionPolicy,
    work: CompactionWork,
    progress: Progress | None,
    run_buckets: RunBuckets | None = None,
) -> list[Segment]:
    """The rebuilt leaves: every bucket rewritten (here, or by ``run_buckets``), then the
    buckets' files gathered per leaf."""
    if not work.starts:
        return []
    level = policy.levels[-1]
    job = RebuildJob(policy, work, leaf_groups(work.leaf_rows, work.buckets))
    if run_buckets is None:
        done = _run_locally(storage, table, snapshot, job, progress)
    else:
        done = run_buckets(job)
    per_leaf: list[tuple[list[DataFile], list[DataFile]]] = [([], []) for _ in work.starts]
    tips: list[DataFile] = []
    tip_from: Instant | None = None
    for leaves_of_bucket, tip, latest in done:
        for index, (base, deltas) in enumerate(leaves_of_bucket):
            per_leaf[index][0].extend(base)
            per_leaf[index][1].extend(deltas)
        tips.extend(tip)
        if latest is not None:
            tip_from = latest if tip_from is None else max(tip_from, latest)
    built = []
    for index, start in enumerate(work.starts):
        end = work.starts[index + 1] - 1 if index + 1 < len(work.starts) else None
        base, deltas = per_leaf[index]
        last = index + 1 == len(work.starts) and tip_from is not None
        built.append(
            Segment(
                period_label(start, level),
                start,
                end,
                tuple(base),
                tuple(deltas),
                tip=tuple(tips) if last else (),
                tip_from=max(tip_from, start) if last and tip_from is not None else None,
            )
        )
    return built


def _check_event_range(table: str, snapshot: Snapshot) -> None:
    """Refuse to compact a table holding event times outside the supported range
    (``docs/spec.md``, "Supported event times"; written by azof before it checked them):
    instants computed from them would not fit 64 bits. Uses the files' records only."""
    for data_file in snapshot.files():
        for bound in (data_file.start, data_file.end):
            if bound is not None and not MIN_EVENT_INSTANT <= bound <= MAX_EVENT_INSTANT:
                per_unit = unit_nanos(snapshot.schema.event_time_type)
                raise CorruptTableError(
                    f"table {table!r}: data file {data_file.file} holds event time "
                    f"{describe_instant(bound)}, outside the supported range "
                    f"{event_range_text(per_unit)}, so compaction cannot fold it (scans still "
                    "read it); restore a version from before the commit that wrote it (see "
                    "log()) and write those rows again inside the range"
                )


def compact_snapshot(
    storage: Storage,
    table: str,
    snapshot: Snapshot,
    policy: CompactionPolicy,
    progress: Progress | None = None,
    run_buckets: RunBuckets | None = None,
) -> tuple[Snapshot | None, CompactionStats]:
    """Compact ``snapshot`` with ``policy`` and commit; ``(None, stats)`` if nothing to do.

    ``run_buckets`` rewrites the buckets elsewhere (``azof.spark.compact``: in Spark tasks,
    with :func:`rebuild_bucket`); by default they are rewritten here."""
    _check_event_range(table, snapshot)
    try:
        work = _plan_work(storage, table, snapshot, policy)
        if work is None:
            _LOG.info("table %r: nothing to compact at version %d", table, snapshot.version)
            return None, CompactionStats(None)
        _LOG.info(
            "table %r: compaction plan at version %d: keep %d segments, rebuild %d leaves "
            "from %d files (%d folded), %d buckets, policy segment=%s levels=%s",
            table, snapshot.version, len(work.keep), len(work.starts), len(work.events),
            len(work.folded), work.buckets, policy.segment, ",".join(policy.levels),
        )  # fmt: skip
        built = _rebuild(storage, table, snapshot, policy, work, progress, run_buckets)
    except OverflowError as exc:  # an event time the metadata did not show out of range
        raise CorruptTableError(
            f"table {table!r}: an event time is outside the supported range "
            f"{event_range_text(unit_nanos(snapshot.schema.event_time_type))} ({exc}); "
            "compaction cannot fold it"
        ) from None
    keep = list(work.keep)
    if keep and built:
        keep[-1] = replace(keep[-1], end=built[0].start - 1, tip=(), tip_from=None)
    elif keep and not built:
        keep[-1] = replace(keep[-1], end=None)
    tree = build_tree(keep + built, policy.levels)
    added = [f for leaf in built for f in leaf.files()]
    rows_written = sum(f.rows or 0 for f in added)
    removed = [f for f in snapshot.files() if f.file in work.folded]
    original = snapshot

    def build(parent: Snapshot, version: int, when: Instant) -> Snapshot:
        pending = {d.file for d in parent.deltas}
        if (
            parent.segments != original.segments
            or parent.tree_levels != original.tree_levels
            or parent.buckets != original.buckets
            or any(d.file in work.folded and d.file not in pending for d in original.deltas)
        ):
            raise CommitConflictError(
                f"table {table!r}: version {parent.version} changed what this compaction "
                "read (another compaction or a restore landed while it ran); nothing was "
                "committed, run compact() again"
            )
        remaining = tuple(d for d in parent.deltas if d.file not in work.folded)
        info = CommitInfo(
            time=when,
            operation="compact",
            txn=uuid.uuid4().hex,
            added_rows=rows_written,
            added_files=len(added),
            removed_files=len(removed),
            summary={"leaves_rewritten": len(built), "levels": list(policy.levels)},
        )
        return upgrade(
            parent,
            version,
            info,
            segments=tree,
            deltas=remaining,
            tree_levels=policy.levels,
            buckets=work.buckets,
        )

    landed = commit_snapshot(storage, table, snapshot, build)
    return landed, CompactionStats(
        landed.version, len(built), len(added), len(removed), rows_written
    )
