"""The as-of merge: per key, the row with the greatest ``(event_time, priority)``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from azof.format.keys import key_array, key_sort
from azof.format.schema import TOMBSTONE

__all__ = ["PRIORITY", "drop_tombstones", "merge_latest", "merge_sorted_runs", "run_edges"]

PRIORITY = "_azof_priority"
"""Internal column: the plan priority of the file a row came from."""


Column = pa.Array | pa.ChunkedArray  # type: ignore[type-arg]


def run_edges(*columns: Column, first: bool) -> pa.Array:  # type: ignore[type-arg]
    """For rows sorted so that equal values of ``columns`` are adjacent: a boolean mask that
    is true at the first row of every run (``first``) or at the last one."""
    n = len(columns[0])
    if n == 0:
        return pa.array([], pa.bool_())
    differs = np.zeros(n - 1, dtype=bool)
    for column in columns:
        step = pc.not_equal(column.slice(1), column.slice(0, n - 1))
        differs |= np.asarray(step.fill_null(True))
    edge = np.array([True])
    return pa.array(np.concatenate((edge, differs) if first else (differs, edge)), pa.bool_())


def merge_sorted_runs(table: pa.Table, names: Sequence[str], time: str) -> pa.Table:
    """:func:`merge_latest` for rows that come in runs, one per file (equal priority,
    contiguous, ascending priority), each sorted by key then event time.

    The last row of every key in a run is that file's candidate. Runs are then folded in
    priority order by hash lookups instead of a sort: a later run's candidate replaces the
    current row of its key when its event time is not earlier (ties go to the later run).
    """
    n = table.num_rows
    if n <= 1:
        return table
    keys = [table.column(name) for name in names]
    candidates = table.filter(run_edges(*keys, table.column(PRIORITY), first=False))
    prio = candidates.column(PRIORITY).to_numpy()
    bounds = np.flatnonzero(np.diff(prio)) + 1
    if len(bounds) == 0:
        return candidates  # one file: its candidates are unique and sorted by key
    if np.any(np.diff(prio[np.concatenate(([0], bounds))]) < 0):
        return merge_latest(candidates, names, time)  # runs out of order: the general way
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [len(prio)]))
    cand_keys = key_array(candidates, names)
    times = candidates.column(time).cast(pa.int64()).to_numpy()
    chosen = np.arange(starts[0], ends[0])  # row of the current winner, per held key
    held_keys = cand_keys.slice(int(starts[0]), int(ends[0] - starts[0]))
    for low, high in zip(starts[1:], ends[1:], strict=True):
        run_keys = cand_keys.slice(int(low), int(high - low))
        where = pc.index_in(run_keys, value_set=held_keys).to_numpy(zero_copy_only=False)
        matched = ~np.isnan(where) if where.dtype.kind == "f" else where >= 0
        run_rows = np.arange(low, high)
        slots = where[matched].astype(np.int64)
        better = times[run_rows[matched]] >= times[chosen[slots]]
        chosen[slots[better]] = run_rows[matched][better]
        new_rows = run_rows[~matched]
        if len(new_rows):
            chosen = np.concatenate((chosen, new_rows))
            held_keys = pa.concat_arrays([held_keys, cand_keys.take(new_rows)])
    merged = candidates.take(chosen)
    return merged.take(pc.sort_indices(merged, sort_keys=key_sort(names)))


def merge_latest(table: pa.Table, names: Sequence[str], time: str) -> pa.Table:
    """One row per key: greatest event time, then greatest priority, then first in input.

    ``table`` holds the key columns ``names``, the event time ``time`` and
    ``_azof_priority`` (rows later than the as-of time already removed). The result is
    sorted by key.
    """
    if table.num_rows == 0:
        return table
    order = pc.sort_indices(
        table.select([*names, time, PRIORITY]),
        sort_keys=[*key_sort(names), (time, "descending"), (PRIORITY, "descending")],
    )
    order = order.filter(run_edges(*(table.column(n).take(order) for n in names), first=True))
    return table.take(order)


def drop_tombstones(table: pa.Table) -> pa.Table:
    """Remove keys whose latest event is a delete."""
    if TOMBSTONE not in table.column_names:
        return table
    deleted = table.column(TOMBSTONE)
    if deleted.null_count == len(deleted) or not pc.any(deleted).as_py():
        return table
    deleted_field = pc.field(TOMBSTONE)
    return table.filter(deleted_field.is_null() | ~deleted_field)
