"""Compaction: fold pending deltas into the segment tree (``docs/spec.md``, "Compaction").

Each leaf segment of the tree gets a *base* (every key's latest event strictly before the
leaf's start, tombstones included) and *deltas* (the leaf's own events, one row per
``(key, event_time)``). Incremental runs rebuild only the leaves from the earliest pending
event on; a seed tree, or a tree built with other levels, is rebuilt whole. The result is
committed like any other commit, on top of whatever landed meanwhile: appends that raced
the compaction stay pending deltas.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from azof.compact.policy import CompactionPolicy
from azof.compact.tree import build_tree, leaves, period_label, period_starts
from azof.errors import CommitConflictError
from azof.format import EVENT_TIME, KEY, CommitInfo, DataFile, Segment, Snapshot
from azof.format.types import unit_nanos
from azof.scan.merge import PRIORITY, merge_latest
from azof.scan.plan import PlannedFile, rank_files
from azof.scan.read import read_rows
from azof.storage import Storage
from azof.timestamps import Instant
from azof.write.commit import commit_snapshot, upgrade
from azof.write.files import write_data_file

__all__ = ["CompactionStats", "Progress", "compact_snapshot"]

Progress = Callable[[int, int], None]
"""Called with (leaves done, leaves to do)."""


@dataclass(frozen=True)
class CompactionStats:
    """What one compaction did."""

    version: int | None
    leaves_rewritten: int = 0
    files_added: int = 0
    files_removed: int = 0
    rows_written: int = 0


@dataclass
class _Work:
    keep: list[Segment]
    events: pa.Table
    state: pa.Table | None
    starts: list[Instant]
    folded: set[str]
    seq: int


def _read(
    storage: Storage, table: str, snapshot: Snapshot, planned: Sequence[PlannedFile]
) -> pa.Table:
    columns = [c.name for c in snapshot.schema.columns]
    return read_rows(storage, table, snapshot, list(planned), columns)


def _plan_work(
    storage: Storage, table: str, snapshot: Snapshot, policy: CompactionPolicy
) -> _Work | None:
    ranked = rank_files(snapshot)
    level = policy.levels[-1]
    incremental = bool(snapshot.tree_levels) and snapshot.tree_levels == policy.levels
    if incremental and not snapshot.deltas:
        return None
    if not incremental:
        inputs = [p for p in ranked if not p.file.derived]
        if not inputs:
            return None
        events = _read(storage, table, snapshot, inputs)
        return _Work(
            [],
            events,
            None,
            period_starts(events.column(EVENT_TIME), level),
            {p.file.file for p in ranked},
            max(p.file.seq for p in ranked),
        )
    pending = {d.file for d in snapshot.deltas}
    pending_rows = _read(storage, table, snapshot, [p for p in ranked if p.file.file in pending])
    pending_starts = period_starts(pending_rows.column(EVENT_TIME), level)
    old = leaves(snapshot.segments)
    if not pending_starts:
        return _Work(old, pending_rows, None, [], pending, max(p.file.seq for p in ranked))
    first = pending_starts[0]
    keep = [leaf for leaf in old if leaf.start < first]
    rebuild = [leaf for leaf in old if leaf.start >= first]
    state = None
    if keep:  # the state before `first`: the last kept leaf's base and events
        prev = keep[-1]
        names = {f.file for f in (*prev.base, *prev.deltas)}
        state = merge_latest(
            _read(storage, table, snapshot, [p for p in ranked if p.file.file in names])
        )
    old_names = {f.file for leaf in rebuild for f in leaf.deltas}
    old_events = _read(storage, table, snapshot, [p for p in ranked if p.file.file in old_names])
    events = pa.concat_tables([old_events, pending_rows])
    starts = sorted(set(pending_starts) | {leaf.start for leaf in rebuild})
    folded = pending | {f.file for leaf in rebuild for f in leaf.files()}
    return _Work(keep, events, state, starts, folded, max(p.file.seq for p in ranked))


def _dedup(events: pa.Table) -> pa.Table:
    """One row per (key, event_time): the greatest priority; sorted by event time."""
    if events.num_rows == 0:
        return events
    order = pc.sort_indices(
        events,
        sort_keys=[(KEY, "ascending"), (EVENT_TIME, "ascending"), (PRIORITY, "descending")],
    )
    ordered = events.take(order)
    n = ordered.num_rows
    keys, times = ordered.column(KEY), ordered.column(EVENT_TIME)
    if n > 1:
        change = pc.or_(
            pc.not_equal(keys.slice(1), keys.slice(0, n - 1)),
            pc.not_equal(times.slice(1), times.slice(0, n - 1)),
        )
        ordered = ordered.filter(pa.concat_arrays([pa.array([True]), *change.chunks]))
    by_time = pc.sort_indices(ordered, sort_keys=[(EVENT_TIME, "ascending")])
    return ordered.take(by_time)


def _write(
    storage: Storage,
    rows: pa.Table,
    snapshot: Snapshot,
    policy: CompactionPolicy,
    seq: int,
    derived: bool,
) -> list[DataFile]:
    """Write rows (sorted by key, event time) split at the target file size."""
    if rows.num_rows == 0:
        return []
    rows = rows.drop_columns([PRIORITY])
    rows = rows.take(
        pc.sort_indices(rows, sort_keys=[(KEY, "ascending"), (EVENT_TIME, "ascending")])
    )
    per_row = max(1, rows.nbytes // rows.num_rows)
    step = max(1, policy.target_file_mb * 1024 * 1024 // per_row)
    out = []
    for offset in range(0, rows.num_rows, step):
        written = write_data_file(storage, rows.slice(offset, step), snapshot.schema)
        out.append(replace(written, seq=seq, derived=derived))
    return out


def _rebuild(
    storage: Storage,
    snapshot: Snapshot,
    policy: CompactionPolicy,
    work: _Work,
    progress: Progress | None,
) -> tuple[list[Segment], int]:
    events = _dedup(work.events)
    per_unit = unit_nanos(snapshot.schema.event_time_type)
    times = events.column(EVENT_TIME).cast(pa.int64()).to_numpy() * per_unit
    state = work.state
    built: list[Segment] = []
    rows_written = 0
    level = policy.levels[-1]
    for index, start in enumerate(work.starts):
        end = work.starts[index + 1] if index + 1 < len(work.starts) else None
        low = int(np.searchsorted(times, start, side="left"))
        high = len(times) if end is None else int(np.searchsorted(times, end, side="left"))
        chunk = events.slice(low, high - low)
        base = _write(storage, state, snapshot, policy, work.seq, True) if state else []
        deltas = _write(storage, chunk, snapshot, policy, work.seq, False)
        rows_written += sum(f.rows or 0 for f in (*base, *deltas))
        built.append(
            Segment(
                period_label(start, level),
                start,
                None if end is None else end - 1,
                tuple(base),
                tuple(deltas),
            )
        )
        parts = [chunk] if state is None else [state, chunk]
        state = merge_latest(pa.concat_tables(parts))
        if progress is not None:
            progress(index + 1, len(work.starts))
    return built, rows_written


def compact_snapshot(
    storage: Storage,
    table: str,
    snapshot: Snapshot,
    policy: CompactionPolicy,
    progress: Progress | None = None,
) -> tuple[Snapshot | None, CompactionStats]:
    """Compact ``snapshot`` with ``policy`` and commit; ``(None, stats)`` if nothing to do."""
    work = _plan_work(storage, table, snapshot, policy)
    if work is None:
        return None, CompactionStats(None)
    built, rows_written = _rebuild(storage, snapshot, policy, work, progress)
    keep = list(work.keep)
    if keep and built:
        keep[-1] = replace(keep[-1], end=built[0].start - 1)
    elif keep and not built:
        keep[-1] = replace(keep[-1], end=None)
    tree = build_tree(keep + built, policy.levels)
    added = [f for leaf in built for f in leaf.files()]
    removed = [f for f in snapshot.files() if f.file in work.folded]
    original_segments, original_levels = snapshot.segments, snapshot.tree_levels

    def build(parent: Snapshot, version: int, when: Instant) -> Snapshot:
        if parent.segments != original_segments or parent.tree_levels != original_levels:
            raise CommitConflictError(
                f"table {table!r}: another compaction landed while this one ran; run "
                "compact() again"
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
            parent, version, info, segments=tree, deltas=remaining, tree_levels=policy.levels
        )

    landed = commit_snapshot(storage, table, snapshot, build)
    return landed, CompactionStats(
        landed.version, len(built), len(added), len(removed), rows_written
    )
