"""The as-of merge: per key, the row with the greatest ``(event_time, priority)``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from azof.format.keys import key_array, key_sort
from azof.format.schema import TOMBSTONE

__all__ = [
    "PRIORITY",
    "drop_tombstones",
    "merge_latest",
    "merge_sorted_runs",
    "order_codes",
    "run_edges",
]

PRIORITY = "_azof_priority"
"""Internal column: the plan priority of the file a row came from."""

MAX_CODE_WIDTH = 64
"""The longest string key (bytes) :func:`order_codes` pads into fixed-width bytes; longer
keys are merged by hashing."""

Column = pa.Array | pa.ChunkedArray  # type: ignore[type-arg]
Codes = npt.NDArray[Any]
Ints = npt.NDArray[np.int64]


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


def _string_codes(array: pa.Array[Any]) -> Codes | None:
    """Fixed-width bytes (numpy ``S``) per string, zero-padded: their order and equality
    are the strings' byte order (``None`` if a string holds a zero byte, which padding
    would hide, or is longer than :data:`MAX_CODE_WIDTH`). Up to 8 bytes, big-endian
    ``uint64`` values instead (faster to compare)."""
    n = len(array)
    offset_type = np.int64 if pa.types.is_large_string(array.type) else np.int32
    buffers: list[Any] = array.buffers()
    offsets = np.frombuffer(
        buffers[1], dtype=offset_type, count=n + 1, offset=array.offset * offset_type().itemsize
    ).astype(np.int64)
    low, high = int(offsets[0]), int(offsets[-1])
    data = (
        np.frombuffer(buffers[2], dtype=np.uint8)[low:high]
        if buffers[2] is not None
        else np.zeros(0, np.uint8)
    )
    if data.size and not data.all():
        return None  # a zero byte: "a" and "a\0" would pad alike
    lengths = np.diff(offsets)
    width = int(lengths.max()) if n else 0
    if width > MAX_CODE_WIDTH:
        return None
    if width == 0:
        return np.zeros(n, dtype=np.uint64)
    if data.size == n * width:  # every string of one length: the data is the matrix
        matrix = data.reshape(n, width)
    else:  # scatter each string's bytes to the start of its row
        flat = np.zeros(n * width, dtype=np.uint8)
        shift = np.arange(n, dtype=np.int64) * width - (offsets[:-1] - low)
        flat[np.arange(data.size, dtype=np.int64) + np.repeat(shift, lengths)] = data
        matrix = flat.reshape(n, width)
    if width == 8:
        return np.ascontiguousarray(matrix).view(">u8").ravel().astype(np.uint64)
    if width < 8:
        padded = np.zeros((n, 8), dtype=np.uint8)
        padded[:, :width] = matrix
        return padded.view(">u8").ravel().astype(np.uint64)
    return np.ascontiguousarray(matrix).view(f"S{width}").ravel()


def order_codes(column: Column) -> Codes | None:
    """Per value of a one-column key, a numpy value that orders and compares like it (the
    key order of ``docs/spec.md``, "Named and composite keys"); ``None`` for a column
    without such codes (strings with zero bytes or very long ones, other types)."""
    array: Any = column
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    if array.null_count:
        return None
    kind = array.type
    if pa.types.is_integer(kind):
        return np.asarray(array.to_numpy())
    if pa.types.is_date32(kind):
        return np.asarray(array.cast(pa.int32()).to_numpy())
    if pa.types.is_timestamp(kind) or pa.types.is_date64(kind):
        return np.asarray(array.cast(pa.int64()).to_numpy())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _string_codes(array)
    return None


def merge_sorted_runs(
    table: pa.Table, names: Sequence[str], time: str, up_to: int | None = None
) -> pa.Table:
    """:func:`merge_latest` for rows that come in runs, one per file (equal priority,
    contiguous), each sorted by key then event time; with ``up_to`` (an instant in the
    event-time column's unit), rows after it are left out first (the rows of a key in a
    run at or before it are a prefix of them, so the run stays a sorted run).

    The last row of every key in a run is that file's candidate. With order codes of the
    key (:func:`order_codes`), a stable numpy sort of the candidates' codes merges the runs
    (a timsort of presorted runs: close to linear), and among the candidates of a key the
    greatest ``(event_time, priority)`` wins; only the winners' rows are gathered. Other
    keys (composite, or strings without codes) fold the runs by hash lookups.
    """
    n = table.num_rows
    codes = order_codes(table.column(names[0])) if len(names) == 1 and n > 1 else None
    all_times = np.asarray(table.column(time).cast(pa.int64()).to_numpy())
    if codes is None:
        if up_to is not None:
            table = table.filter(pa.array(all_times <= up_to))
        return _fold_runs(table, names, time) if table.num_rows > 1 else table
    priority = np.asarray(table.column(PRIORITY).to_numpy())
    last = np.empty(n, dtype=bool)
    last[-1] = True
    np.not_equal(codes[1:], codes[:-1], out=last[:-1])
    last[:-1] |= priority[1:] != priority[:-1]
    if up_to is not None:  # the last row of a key's prefix at or before up_to
        kept = all_times <= up_to
        last[:-1] |= ~kept[1:]
        last &= kept
    rows: Ints = np.flatnonzero(last)
    run_priority = priority[rows]
    if not np.any(run_priority[1:] != run_priority[:-1]):
        # one file: its candidates are unique and sorted by key
        return table.filter(pa.array(last))
    keys = codes[rows]
    order = np.argsort(keys, kind="stable")  # merges the runs' sorted keys
    rows, keys = rows[order], keys[order]
    same: npt.NDArray[np.bool_] = keys[1:] == keys[:-1]  # items i and i + 1: one key
    if not same.any():
        return _gather(table, rows)  # no key in two runs
    times = all_times[rows]
    if not np.any(run_priority[1:] < run_priority[:-1]) and not np.any(
        same & (times[1:] < times[:-1])
    ):
        # runs in priority order (the sort keeps it within a key) and no key's later run
        # holds an earlier event (a compacted leaf: base, then deltas by time): the last
        # candidate of each key wins
        return _gather(table, rows[np.append(~same, True)])
    return _gather(table, rows[_best_of_keys(keys, same, times, priority[rows])])


def _gather(table: pa.Table, rows: Ints) -> pa.Table:
    """The rows at ``rows`` (computed here, so in bounds: the bounds check is skipped)."""
    gathered: pa.Table = pc.take(table, pa.array(rows, pa.int64()), boundscheck=False)
    return gathered


def _best_of_keys(keys: Codes, same: npt.NDArray[np.bool_], times: Ints, ranks: Codes) -> Ints:
    """For items sorted by key (``keys``; ``same``: whether item i and i + 1 have one key),
    the position of each key's item with the greatest ``(times, ranks)`` (the last such).
    A suffix maximum within keys by doubling: ``log2`` of a key's most items vectorized
    steps (one for two runs)."""
    n = len(keys)
    first = np.flatnonzero(np.concatenate(([True], ~same)))
    best = np.arange(n, dtype=np.int64)
    largest = int(np.diff(np.append(first, n)).max())
    step = 1
    while step < largest:
        here, there = best[:-step], best[step:]
        later = (times[there] > times[here]) | (
            (times[there] == times[here]) & (ranks[there] >= ranks[here])
        )
        one_key = same if step == 1 else keys[step:] == keys[:-step]
        best[:-step] = np.where(later & one_key, there, here)
        step *= 2
    chosen: Ints = best[first]
    return chosen


def _fold_runs(table: pa.Table, names: Sequence[str], time: str) -> pa.Table:
    """:func:`merge_sorted_runs` by hash lookups: runs folded in priority order, a later
    run's candidate replacing the current row of its key when its event time is not
    earlier (ties go to the later run)."""
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
