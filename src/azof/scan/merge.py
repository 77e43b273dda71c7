"""The as-of merge: per key, the row with the greatest ``(event_time, priority)``."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from azof.format.schema import EVENT_TIME, KEY, TOMBSTONE

__all__ = ["PRIORITY", "drop_tombstones", "first_per_key", "merge_latest"]

PRIORITY = "_azof_priority"
"""Internal column: the plan priority of the file a row came from."""


def first_per_key(table: pa.Table) -> pa.Table:
    """Keep the first row of every run of equal keys (the table is sorted by key)."""
    if table.num_rows <= 1:
        return table
    keys = table.column(KEY).combine_chunks()
    change = pc.not_equal(keys.slice(1), keys.slice(0, table.num_rows - 1))
    mask = pa.concat_arrays([pa.array([True]), change])
    return table.filter(mask)


def merge_latest(table: pa.Table) -> pa.Table:
    """One row per key: greatest event time, then greatest priority, then first in input.

    ``table`` holds ``key``, ``event_time`` and ``_azof_priority`` (rows later than the
    as-of time already removed). The result is sorted by key.
    """
    if table.num_rows == 0:
        return table
    order = pc.sort_indices(
        table,
        sort_keys=[(KEY, "ascending"), (EVENT_TIME, "descending"), (PRIORITY, "descending")],
    )
    return first_per_key(table.take(order))


def drop_tombstones(table: pa.Table) -> pa.Table:
    """Remove keys whose latest event is a delete."""
    if TOMBSTONE not in table.column_names:
        return table
    deleted = table.column(TOMBSTONE)
    if deleted.null_count == len(deleted) or not pc.any(deleted).as_py():
        return table
    deleted_field = pc.field(TOMBSTONE)
    return table.filter(deleted_field.is_null() | ~deleted_field)
