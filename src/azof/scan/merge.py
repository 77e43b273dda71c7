"""The as-of merge: per key, the row with the greatest ``(event_time, priority)``."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from azof.format.schema import EVENT_TIME, KEY, TOMBSTONE

__all__ = ["PRIORITY", "drop_tombstones", "merge_latest", "merge_sorted_runs"]

PRIORITY = "_azof_priority"
"""Internal column: the plan priority of the file a row came from."""


def merge_sorted_runs(table: pa.Table) -> pa.Table:
    """:func:`merge_latest` for rows that come in runs, one per file (equal priority,
    contiguous), each sorted by key then event time: the last row of every key in a run is
    that file's candidate, so only candidates are sorted, and one run needs no sort."""
    n = table.num_rows
    if n <= 1:
        return table
    keys, priorities = table.column(KEY), table.column(PRIORITY)
    last_of_key = pc.or_(
        pc.not_equal(keys.slice(1), keys.slice(0, n - 1)),
        pc.not_equal(priorities.slice(1), priorities.slice(0, n - 1)),
    )
    candidates = table.filter(pa.concat_arrays([*last_of_key.chunks, pa.array([True])]))
    lowest, highest = pc.min_max(candidates.column(PRIORITY)).values()
    if lowest.as_py() == highest.as_py():
        return candidates  # one file: its candidates are unique and sorted by key
    return merge_latest(candidates)


def merge_latest(table: pa.Table) -> pa.Table:
    """One row per key: greatest event time, then greatest priority, then first in input.

    ``table`` holds ``key``, ``event_time`` and ``_azof_priority`` (rows later than the
    as-of time already removed). The result is sorted by key.
    """
    if table.num_rows == 0:
        return table
    order = pc.sort_indices(
        table.select([KEY, EVENT_TIME, PRIORITY]),
        sort_keys=[(KEY, "ascending"), (EVENT_TIME, "descending"), (PRIORITY, "descending")],
    )
    keys = table.column(KEY).take(order)
    n = len(keys)
    if n > 1:
        first = pc.not_equal(keys.slice(1), keys.slice(0, n - 1))
        order = order.filter(pa.concat_arrays([pa.array([True]), *first.chunks]))
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
