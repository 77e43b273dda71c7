"""``history``: every key's versions over event time, as validity intervals (SCD type 2).

A key's *versions* are its winning events (``azof.temporal.events``) in event-time order.
Version ``i`` is valid on ``[valid_from_i, valid_to_i)`` with ``valid_from_i`` its event
time and ``valid_to_i`` the next version's ``valid_from`` (null: still valid). A tombstone
is a version too, with ``is_deleted`` true and null values: the key is absent during it.
So ``scan(as_of=T)`` answers, for each key, the version whose interval holds ``T`` (absent
if that version is deleted or there is none).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from azof.format.schema import TOMBSTONE
from azof.scan.read import ScanMetrics
from azof.temporal.events import (
    Source,
    events_between,
    key_filter,
    keys_of,
    next_event_times,
    open_source,
    run_starts,
    window_units,
)

if TYPE_CHECKING:
    from azof.table import Table

__all__ = ["history"]

VALID_FROM = "valid_from"
VALID_TO = "valid_to"
IS_DELETED = "is_deleted"


def _schema(source: Source, names: list[str]) -> pa.Schema:
    time_type = source.schema.event_time_type
    return pa.schema(
        [
            *source.schema.key_fields,
            pa.field(VALID_FROM, time_type, nullable=False),
            pa.field(VALID_TO, time_type),
            pa.field(IS_DELETED, pa.bool_(), nullable=False),
            *(source.schema.field(name).with_nullable(True) for name in names),
        ]
    )


def history(
    table: Table,
    keys: Any = None,
    start: Any = None,
    end: Any = None,
    *,
    columns: Sequence[str] | str | None = None,
    version: int | None = None,
    known_at: Any = None,
    metrics: ScanMetrics | None = None,
) -> pa.Table:
    """The versions of ``keys`` (one key, a list; ``None``: every key) whose validity
    interval overlaps the event-time window ``[start, end)`` (either bound ``None``: open).

    Columns: the key column(s), ``valid_from``, ``valid_to`` (null: still valid),
    ``is_deleted``, then the value columns (``columns``: a subset; null in deleted
    versions). Intervals are not clipped to the window. Sorted by key, then
    ``valid_from``. ``version`` / ``known_at`` read the history as the table knew it then
    (bitemporal). Naive datetimes are UTC.
    """
    source = open_source(table, version, known_at, metrics)
    names = source.value_columns(columns)
    schema = _schema(source, names)
    window = window_units(start, end, source.per_unit)
    wanted = key_filter(source, keys)
    if window is None:
        return schema.empty_table()
    low, high = window
    events = events_between(source, names, wanted, low, high, prior=True)
    if events.num_rows == 0:
        return schema.empty_table()
    key_names = source.schema.key_names
    keys_array: Any = keys_of(events, source.schema)
    times: Any = events.column(source.schema.event_time_name).combine_chunks()
    last = pa.array(np.append(run_starts(keys_array)[1:], True))  # a key's latest version
    next_time = pa.concat_arrays([times.slice(1), pa.nulls(1, times.type)])
    valid_to: Any = pc.if_else(last, pa.scalar(None, times.type), next_time)
    if high is not None:  # the version in force at the window's end may end after it
        last_keys = keys_array.filter(last)
        later = next_event_times(source, last_keys, high + 1)
        if later.num_rows:
            where = pc.index_in(keys_array, keys_of(later, source.schema))
            found = pc.take(later.column(source.schema.event_time_name), where)
            valid_to = pc.if_else(last, found, valid_to)
    out = pa.table(
        [
            *(events.column(name) for name in key_names),
            times,
            valid_to,
            events.column(TOMBSTONE),
            *(events.column(name) for name in names),
        ],
        schema=schema,
    )
    if low is not None:
        after_start = pc.field(VALID_TO) > source.time_scalar(low)
        out = out.filter(pc.field(VALID_TO).is_null() | after_start)
    return out
