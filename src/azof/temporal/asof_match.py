"""The vectorized as-of lookup behind :func:`~azof.temporal.asof_join`: many ``(key, time)``
probes against one snapshot's events.

One read for all probes, not one per distinct time: the events of the probes' keys
(pushed down as ``key IN (...)``) up to their latest time, with the state before the
earliest time (one as-of read on a compacted table). The events are never sorted as Arrow
rows: each gets an integer code (its key's rank among the probes' distinct keys, sorted,
so the files' sorted runs stay sorted) and one ``int64`` ``code * W + time offset``; a
stable numpy sort of those (a merge of the files' runs), one winning event per
``(key, event_time)`` (spec 8.3), and a binary search (``numpy.searchsorted``) per probe
for the last event of its key at or before its time. Only the matched rows' values are
gathered, once, at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from azof.errors import InvalidArgumentError
from azof.format.schema import EVENT_TIME, KEY, TOMBSTONE
from azof.format.types import unit_nanos
from azof.scan.merge import PRIORITY
from azof.temporal.events import Source, read_planned, state_before, window_files

__all__ = ["Probes", "Times", "check_key_type", "lookup", "make_probes", "time_column"]

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

_DAY_NANOS = 86_400_000_000_000
_MAX = 2**63 - 1
_STRINGS = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)


@dataclass(frozen=True)
class Times:
    """A column of instants in some unit, rounded down, and which are valid (not null)."""

    values: Ints
    valid: Bools


@dataclass(frozen=True)
class Probes:
    """The ``(key, time)`` pairs to look up: keys as codes into their distinct values."""

    codes: Ints
    """Per probe, the index of its key in ``keys`` (any value where the key is null)."""
    keys: pa.Array[Any]
    """The distinct keys, sorted, as the table's key type."""
    times: Ints
    """Per probe, its time in the table's event-time unit, rounded down."""
    valid: Bools
    """Per probe: key and time are set."""

    def take(self, rows: Ints) -> Probes:
        return Probes(self.codes[rows], self.keys, self.times[rows], self.valid[rows])


def time_column(column: Any, per_unit: int, role: str, name: str) -> Times:
    """``column`` (timestamps of any unit and zone: no zone means UTC; or dates: midnight
    UTC) in units of ``per_unit`` nanoseconds, rounded down (a time between two units sees
    only events at or before it)."""
    kind = column.type
    if pa.types.is_timestamp(kind):
        nanos = unit_nanos(kind)  # any zone: the stored integers count from the UTC epoch
    elif pa.types.is_date32(kind):
        nanos = _DAY_NANOS
    elif pa.types.is_date64(kind):
        nanos = 1_000_000
    else:
        raise InvalidArgumentError(
            f"asof_join: {role} column {name!r} is {kind}; it must hold timestamps (any unit; "
            "no zone means UTC) or dates"
        )
    valid = np.asarray(column.is_valid(), dtype=np.bool_)
    integers: Any = column.view(pa.int32() if pa.types.is_date32(kind) else pa.int64())
    raw = np.asarray(pc.fill_null(integers, 0), dtype=np.int64)
    if nanos >= per_unit:
        factor = nanos // per_unit
        if factor > 1:  # clamped like any as-of time: beyond every event time the table holds
            raw = np.clip(raw, -(_MAX // factor), _MAX // factor)
        return Times(raw * factor, valid)
    return Times(raw // (per_unit // nanos), valid)  # floor division: also before 1970


def check_key_type(kind: pa.DataType, key_type: pa.DataType, table: str, name: str) -> None:
    """Left keys of type ``kind`` can be looked up in a table with ``key_type`` keys:
    strings with strings, integers with integers (a value that does not fit is an error
    when it is cast)."""
    same_kind = (pa.types.is_integer(kind) and pa.types.is_integer(key_type)) or (
        any(f(kind) for f in _STRINGS) and any(f(key_type) for f in _STRINGS)
    )
    if kind != key_type and not same_kind and not pa.types.is_null(kind):
        raise InvalidArgumentError(
            f"asof_join: column {name!r} is {kind}, but table {table!r} has {key_type} keys"
        )


def make_probes(column: Any, key_type: pa.DataType, times: Times, table: str, name: str) -> Probes:
    """The probes of left keys ``column`` (cast to the table's key type) at ``times``."""
    check_key_type(column.type, key_type, table, name)
    try:
        keys = column.cast(key_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidArgumentError(
            f"asof_join: column {name!r} does not fit the table's {key_type} keys ({exc})"
        ) from None
    distinct: Any = pc.unique(keys).drop_null()  # a lookup per key is cheaper than encoding
    distinct = distinct.take(pc.sort_indices(distinct))
    found: Any = pc.index_in(keys, value_set=distinct)
    codes = np.asarray(pc.fill_null(found, 0), dtype=np.int64)
    valid = times.valid & np.asarray(keys.is_valid(), dtype=np.bool_)
    return Probes(codes, distinct, times.values, valid)


# -- the events ------------------------------------------------------------------------------


def _read_events(
    source: Source, columns: list[str], keys: pa.Array[Any], low: int, high: int
) -> tuple[pa.Table, npt.NDArray[np.int32]] | None:
    """The events of ``keys`` with ``event_time <= high`` that a probe at or after ``low``
    may match (every event at or after ``low``, and at least each key's winning event
    before it), unsorted, as ``key``, ``event_time``, ``columns``, ``_azof_deleted``; and
    each row's priority (greater wins a tie of ``(key, event_time)``)."""
    names = [KEY, EVENT_TIME, *columns, TOMBSTONE]
    if not source.snapshot.segments:  # only pending deltas: one pass from the beginning
        rows = read_planned(source, window_files(source, None, high), columns, keys, None, high)
        if rows is None:
            return None
        priority = np.asarray(rows.column(PRIORITY), dtype=np.int32)
        return rows.select(names), priority
    before = state_before(source, columns, keys, low)  # one row per key, all before ``low``
    window = read_planned(source, window_files(source, low, high), columns, keys, low, high)
    if window is None:
        return before, np.zeros(before.num_rows, dtype=np.int32)
    priority = np.asarray(window.column(PRIORITY), dtype=np.int32)
    window = window.select(names)
    if before.num_rows == 0:
        return window, priority
    combined = pa.concat_tables([before.cast(window.schema), window])
    return combined, np.concatenate((np.full(before.num_rows, -1, np.int32), priority))


def _composite(code: Ints, times: Ints, probes: Probes) -> tuple[Ints, Ints]:
    """Single integers that sort events as ``(code, time)`` and place each probe after the
    events of its key at or before its time."""
    low, high = int(times.min()), int(times.max())
    span = high - low + 2
    if (len(probes.keys) + 1) * span < 2**62:  # offsets from the earliest event
        clipped = np.clip(probes.times, low - 1, high)
        return code * span + (times - low + 1), probes.codes * span + (clipped - low + 1)
    distinct = np.unique(times)  # a wide time range: ranks among the event times
    width = len(distinct) + 1  # codes and ranks stay below 2**31: no int64 overflow
    ranks = np.searchsorted(distinct, times, side="left") + 1
    wanted = np.searchsorted(distinct, probes.times, "right")
    return code * width + ranks, probes.codes * width + wanted


def _winners(ordered: Ints, priority: npt.NDArray[np.int32]) -> Ints:
    """The rows (indices into the unsorted events) of the winning events, sorted by
    ``ordered`` (``(key, event_time)``): per value, the greatest priority, then the first
    row in input (spec 8.3)."""
    if len(priority) and np.all(priority[1:] >= priority[:-1]):  # files in priority order
        order = np.argsort(ordered, kind="stable")  # ties: ascending priority, input order
        value, rank = ordered[order], priority[order]
        last = np.ones(len(order), dtype=np.bool_)
        last[:-1] = value[1:] != value[:-1]
        first = np.ones(len(order), dtype=np.bool_)
        first[1:] = (value[1:] != value[:-1]) | (rank[1:] != rank[:-1])
        # the first row of the last priority of each value's run
        run = np.cumsum(np.concatenate(([True], value[1:] != value[:-1]))) - 1
        top = rank[last][run]
        winners: Ints = order[first & (rank == top)]
        return winners
    order = np.lexsort((-priority.astype(np.int64), ordered))
    value = ordered[order]
    first = np.ones(len(order), dtype=np.bool_)
    first[1:] = value[1:] != value[:-1]
    return order[first]


def lookup(source: Source, columns: list[str], probes: Probes) -> pa.Table:
    """Per probe, in order, ``columns`` (value columns or ``event_time``) of the last
    winning event of its key at or before its time; nulls where there is none, it is a
    delete, or the probe's key or time is null."""
    values = [c for c in columns if c != EVENT_TIME]
    fields = [source.schema.field(c).with_nullable(True) for c in columns]
    schema = pa.schema(fields)
    n = len(probes.times)
    read = None
    if probes.valid.any():
        low, high = int(probes.times[probes.valid].min()), int(probes.times[probes.valid].max())
        counts = np.bincount(probes.codes[probes.valid], minlength=len(probes.keys))
        used = np.flatnonzero(counts)
        keys = probes.keys.take(used) if len(used) < len(probes.keys) else probes.keys
        read = _read_events(source, values, keys, low, high)
    if read is None or read[0].num_rows == 0:
        return pa.Table.from_arrays([pa.nulls(n, f.type) for f in fields], schema=schema)
    events, priority = read
    event_keys: Any = events.column(KEY).combine_chunks()
    found_keys: Any = pc.index_in(event_keys, value_set=probes.keys)
    code = np.asarray(pc.fill_null(found_keys, -1), dtype=np.int64)
    event_times: Any = events.column(EVENT_TIME).combine_chunks()
    times = np.asarray(event_times.cast(pa.int64()), dtype=np.int64)
    ordered, wanted = _composite(code, times, probes)
    winners = _winners(ordered, priority)
    ordered = ordered[winners]
    by_value = np.argsort(wanted)  # sorted queries search cache-friendly: about 2x faster
    position = np.empty(len(wanted), dtype=np.int64)
    position[by_value] = np.searchsorted(ordered, wanted[by_value], side="right") - 1
    found = probes.valid & (position >= 0)
    position = np.clip(position, 0, len(winners) - 1)
    row = winners[position]
    flags: Any = events.column(TOMBSTONE).combine_chunks()
    deleted: Any = pc.fill_null(flags, False)
    found &= (code[row] == probes.codes) & ~np.asarray(deleted, dtype=np.bool_)[row]
    indices: Any = pa.array(row, mask=~found)
    taken = events.select(columns).take(indices)
    return pa.Table.from_arrays(taken.columns, schema=schema)
