"""Reading a table's events for the temporal queries (``docs/temporal.md``).

The temporal queries see a table as its **events**: every row of every data file except the
bases and tips written by compaction (``DataFile.derived``: copies of earlier events), the
view a full compaction reads (spec 13.3). Among rows of equal ``(key, event_time)`` the one
from the file of greater priority wins (:func:`~azof.scan.plan.rank_files`; within a file
the first), so each ``(key, event_time)`` has one *winning event*, a row or a tombstone. The
winning event with the greatest ``event_time <= T`` is what ``scan(as_of=T)`` answers for
the key (spec 8.3), so the queries agree with scans at every event time (on seed trees,
except where spec 8.5 says a scan leaves events out).

Reads are bounded by what is asked: a key list is pushed down (``key IN (...)`` prunes
files and row groups), files are chosen by their event-time range, and the state before a
window comes from one as-of read (one base and the events after it, on a compacted table)
instead of the whole history before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from azof.errors import InvalidArgumentError
from azof.format.keys import key_array, key_from_json, key_sort, key_table
from azof.format.schema import TOMBSTONE, TableSchema
from azof.format.snapshot import DataFile, Snapshot
from azof.format.types import unit_nanos
from azof.scan.merge import PRIORITY, merge_latest
from azof.scan.plan import PlannedFile, plan_files, rank_files
from azof.scan.read import ScanMetrics, read_rows
from azof.storage import Storage
from azof.timestamps import Instant, as_of_units, clamp_instant, parse_instant

if TYPE_CHECKING:
    from azof.table import Table

__all__ = [
    "Source",
    "ceil_units",
    "distinct_rows",
    "empty_events",
    "events_between",
    "events_schema",
    "floor_units",
    "key_filter",
    "keys_of",
    "last_per_key",
    "next_event_times",
    "open_source",
    "read_planned",
    "run_starts",
    "state_at",
    "state_before",
    "window_files",
    "window_units",
]


PUSHDOWN_KEYS = 1024
"""Up to this many keys, ``key IN (...)`` is pushed into the Parquet read; beyond it, the
read is bounded by the least and greatest key and the rows are filtered after it (Arrow's
dataset filter costs about as much per batch as the key set is large)."""


@dataclass(frozen=True)
class Source:
    """One snapshot of one table, to read events from."""

    storage: Storage
    name: str
    snapshot: Snapshot
    metrics: ScanMetrics | None = None
    """Counts what the reads touch (files, row groups, rows, bytes), summed over reads."""

    @property
    def schema(self) -> TableSchema:
        return self.snapshot.schema

    @property
    def per_unit(self) -> int:
        """Nanoseconds per unit of the event-time type."""
        return unit_nanos(self.schema.event_time_type)

    def time_scalar(self, units: int) -> pa.Scalar[Any]:
        """``units`` (of the event-time unit) as an event-time scalar."""
        return pa.scalar(units, type=self.schema.event_time_type)

    def value_columns(
        self, columns: Sequence[str] | str | None, extra: Iterable[str] = ()
    ) -> list[str]:
        """The value columns asked for (``None``: all), in the order given; ``extra`` names
        (such as ``event_time``) are accepted too."""
        names = [c.name for c in self.schema.columns]
        if columns is None:
            return names
        if isinstance(columns, str):
            columns = [columns]
        allowed = [*names, *extra]
        unknown = [c for c in columns if c not in allowed]
        if unknown:
            raise InvalidArgumentError(
                f"table {self.name!r} has no value column(s) {', '.join(map(repr, unknown))}; "
                f"choose from {', '.join(allowed) or '(none)'}"
            )
        return list(dict.fromkeys(columns))


def open_source(
    table: Table, version: int | None, known_at: Any, metrics: ScanMetrics | None = None
) -> Source:
    """The snapshot a query reads: ``version`` or ``known_at`` (commit time), else the
    version the table has loaded."""
    return Source(table.storage, table.name, table.snapshot_at(version, known_at), metrics)


def ceil_units(instant: Instant, per_unit: int) -> int:
    """The least whole unit at or after ``instant``: ``event_time >= instant`` holds exactly
    when ``event_time >= ceil_units(instant)`` (in units). Clamped like an as-of time, so
    it fits an int64 for any instant (no event lies beyond the clamp)."""
    return -(-clamp_instant(instant) // per_unit)


def floor_units(instant: Instant, per_unit: int) -> int:
    """The greatest whole unit at or before ``instant`` (an as-of time: clamped)."""
    return as_of_units(instant, per_unit)


def window_units(start: Any, end: Any, per_unit: int) -> tuple[int | None, int | None] | None:
    """The event-time window ``[start, end)`` as the first and last whole units it holds
    (``None``: unbounded); ``None`` when it holds no instant. ``start > end`` is an error."""
    low_instant = None if start is None else parse_instant(start, "start")
    high_instant = None if end is None else parse_instant(end, "end")
    if low_instant is not None and high_instant is not None:
        if low_instant > high_instant:
            raise InvalidArgumentError(
                f"start {start!s} is after end {end!s}; the window is [start, end)"
            )
        if low_instant == high_instant:
            return None
    low = None if low_instant is None else ceil_units(low_instant, per_unit)
    high = None if high_instant is None else ceil_units(high_instant, per_unit) - 1
    if low is not None and high is not None and low > high:
        return None
    return low, high


def keys_of(rows: pa.Table, schema: TableSchema) -> pa.Array[Any]:
    """Every row's key as one value (:func:`~azof.format.keys.key_array`): the key column,
    or a composite key's encoding; what :func:`key_filter` returns is compared with it."""
    return key_array(rows, schema.key_names)


def key_filter(source: Source, keys: Any) -> pa.Array[Any] | None:
    """``keys`` (one key, or an iterable of keys; ``None``: all) as an array of the key type,
    without duplicates (a composite key: the encodings of :func:`keys_of`)."""
    if keys is None:
        return None
    tabular = isinstance(keys, Mapping | pa.Table | pa.RecordBatch)
    if source.schema.composite or tabular or type(keys).__name__ == "DataFrame":
        found: pa.Array[Any] = pc.unique(keys_of(key_table(source.schema, keys), source.schema))
        return found
    if isinstance(keys, (str, bytes, int)):
        keys = [keys]
    array: Any
    if isinstance(keys, (pa.Array, pa.ChunkedArray)):
        array = keys
    else:
        try:
            array = pa.array(list(keys))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
            raise InvalidArgumentError(f"keys: cannot read {keys!r} as keys ({exc})") from None
    key_type = source.schema.key_type
    try:
        array = array.cast(key_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise InvalidArgumentError(
            f"keys: table {source.name!r} has {key_type} keys; cannot use {array.type} ({exc})"
        ) from None
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    unique: pa.Array[Any] = pc.unique(array.drop_null())
    return unique


def _condition(
    source: Source, keys: pa.Array[Any] | None, low: int | None, high: int | None
) -> pc.Expression | None:
    parts: list[pc.Expression] = []
    key = pc.field(source.schema.key_names[0])
    time = pc.field(source.schema.event_time_name)
    if source.schema.composite:
        pass  # composite keys are filtered after the read (read_planned)
    elif keys is not None and len(keys) <= PUSHDOWN_KEYS:
        parts.append(key.isin(keys))
    elif keys is not None:  # a range prunes row groups; the rows are filtered after the read
        bounds = pc.min_max(keys)
        parts.append(key >= bounds["min"])
        parts.append(key <= bounds["max"])
    if low is not None:
        parts.append(time >= source.time_scalar(low))
    if high is not None:
        parts.append(time <= source.time_scalar(high))
    if not parts:
        return None
    condition = parts[0]
    for part in parts[1:]:
        condition = condition & part
    return condition


def events_schema(source: Source, columns: list[str]) -> pa.Schema:
    """The key column(s), the event time, ``columns``, ``_azof_deleted``: what the readers
    return."""
    fields = [source.schema.field(name) for name in source.schema.fixed_names]
    fields += [source.schema.field(c) for c in columns]
    fields.append(pa.field(TOMBSTONE, pa.bool_()))
    return pa.schema([f.with_nullable(True) for f in fields])


def empty_events(source: Source, columns: list[str]) -> pa.Table:
    """No events, with the columns :func:`events_between` returns."""
    return events_schema(source, columns).empty_table()


def _finish(rows: pa.Table, source: Source, columns: list[str]) -> pa.Table:
    """Drop the priority, make the tombstone flag a plain bool and null a tombstone's
    values (they mean nothing, spec 7)."""
    flags: Any = rows.column(TOMBSTONE)
    deleted: Any = pc.fill_null(flags, False)
    any_deleted = bool(pc.any(deleted).as_py())
    arrays: list[Any] = [rows.column(name) for name in source.schema.fixed_names]
    for name in columns:
        column: Any = rows.column(name)
        if any_deleted:
            column = pc.if_else(deleted, pa.scalar(None, column.type), column)
        arrays.append(column)
    arrays.append(deleted)
    return pa.Table.from_arrays(arrays, schema=events_schema(source, columns))


def run_starts(*columns: pa.Array[Any] | pa.ChunkedArray[Any]) -> npt.NDArray[np.bool_]:
    """Per row of columns sorted together, whether it starts a run: the first row, or one
    that differs from the row before in any of the columns (which hold no nulls)."""
    n = len(columns[0])
    starts = np.zeros(n, dtype=np.bool_)
    for column in columns:
        values: Any = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if n > 1:
            starts[1:] |= np.asarray(pc.not_equal(values.slice(1), values.slice(0, n - 1)))
    if n:
        starts[0] = True
    return starts


def _winning_events(rows: pa.Table, schema: TableSchema) -> pa.Table:
    """One row per ``(key, event_time)``: the greatest priority, then the first in input;
    sorted by key and event time."""
    if rows.num_rows == 0:
        return rows
    fixed = list(schema.fixed_names)
    order = pc.sort_indices(rows, sort_keys=[*key_sort(fixed), (PRIORITY, "descending")])
    rows = rows.take(order)
    return rows.filter(pa.array(run_starts(*(rows.column(n) for n in fixed))))


def last_per_key(rows: pa.Table, schema: TableSchema) -> pa.Table:
    """The last row of every run of equal keys (``rows`` sorted by key)."""
    if rows.num_rows <= 1:
        return rows
    starts = run_starts(*(rows.column(n) for n in schema.key_names))
    return rows.filter(pa.array(np.append(starts[1:], True)))


def _may_hold_key(data: DataFile, keys: pa.Array[Any] | None, schema: TableSchema) -> bool:
    """Whether the file's ``[min_key, max_key]`` holds one of ``keys`` (as :func:`keys_of`
    gives them: a composite key's bounds are compared in their encoding)."""
    if keys is None or data.min_key is None or data.max_key is None:
        return True
    try:
        if schema.named:
            lows, highs = (
                b if isinstance(b, tuple) else (b,) for b in (data.min_key, data.max_key)
            )
            edges = pa.table(
                {
                    c.name: pa.array([key_from_json(lo, c.type), key_from_json(hi, c.type)])
                    for c, lo, hi in zip(schema.keys, lows, highs, strict=True)
                }
            )
            encoded = keys_of(edges, schema).cast(keys.type)
            low, high = encoded[0], encoded[1]
        else:
            low = pa.scalar(data.min_key, keys.type)
            high = pa.scalar(data.max_key, keys.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        return True  # bounds not of the key's kind: read the file
    inside = pc.and_(pc.greater_equal(keys, low), pc.less_equal(keys, high))
    return bool(pc.any(inside).as_py())


def read_planned(
    source: Source,
    planned: Sequence[PlannedFile],
    columns: list[str],
    keys: pa.Array[Any] | None,
    low: int | None,
    high: int | None,
    *,
    exact: bool = True,
) -> pa.Table | None:
    """The rows of ``planned`` (skipping files whose key range holds none of ``keys``)
    with ``low <= event_time <= high`` (units; ``None``: unbounded) and a key in ``keys``,
    as :func:`~azof.scan.read.read_rows` returns them; ``None`` if no file is left. Not
    ``exact``: beyond :data:`PUSHDOWN_KEYS` keys, rows of other keys between the least and
    greatest of ``keys`` may come too (for callers that match the keys themselves)."""
    if keys is not None and len(keys) == 0:
        return None
    files = [p for p in planned if _may_hold_key(p.file, keys, source.schema)]
    if not files:
        return None
    condition = _condition(source, keys, low, high)
    rows = read_rows(
        source.storage, source.name, source.snapshot, files, columns, condition, source.metrics
    )
    if exact and keys is not None and (len(keys) > PUSHDOWN_KEYS or source.schema.composite):
        rows = rows.filter(pc.is_in(keys_of(rows, source.schema), value_set=keys))
    return rows


def window_files(source: Source, low: int | None, high: int | None) -> list[PlannedFile]:
    """Files that may hold events in ``[low, high]`` (units): every file but compaction's
    bases, with its priority among all the snapshot's files."""
    per_unit = source.per_unit
    out = []
    for planned in rank_files(source.snapshot):
        data = planned.file
        if data.derived:
            continue
        if high is not None and data.start is not None and data.start > high * per_unit:
            continue
        if low is not None and data.end is not None and data.end < low * per_unit:
            continue
        out.append(planned)
    return out


def state_at(
    source: Source, columns: list[str], keys: pa.Array[Any] | None, as_of: int | None
) -> pa.Table:
    """Per key, its winning event with ``event_time <= as_of`` (units; ``None``: the current
    state), tombstones included: what ``scan(as_of=...)`` resolves before it drops deleted
    keys, read the way a scan reads (one base and the events after it on a compacted table).
    Sorted by key."""
    planned = plan_files(source.snapshot, None if as_of is None else as_of * source.per_unit)
    rows = read_planned(source, planned, columns, keys, None, as_of)
    if rows is None:
        return empty_events(source, columns)
    merged = merge_latest(rows, source.schema.key_names, source.schema.event_time_name)
    return _finish(merged, source, columns)


def state_before(
    source: Source, columns: list[str], keys: pa.Array[Any] | None, bound: int
) -> pa.Table:
    """Per key, its winning event with ``event_time < bound`` (units): :func:`state_at`
    one unit before ``bound``."""
    return state_at(source, columns, keys, bound - 1)


def _window(
    source: Source,
    columns: list[str],
    keys: pa.Array[Any] | None,
    low: int | None,
    high: int | None,
) -> pa.Table:
    if low is not None and high is not None and low > high:
        return empty_events(source, columns)
    rows = read_planned(source, window_files(source, low, high), columns, keys, low, high)
    if rows is None:
        return empty_events(source, columns)
    return _finish(_winning_events(rows, source.schema), source, columns)


def events_between(
    source: Source,
    columns: list[str],
    keys: pa.Array[Any] | None,
    low: int | None,
    high: int | None,
    *,
    prior: bool = False,
) -> pa.Table:
    """The winning events with ``low <= event_time <= high`` (units; ``None``: unbounded),
    sorted by key and event time, as ``key``, ``event_time``, ``columns``, ``_azof_deleted``
    (values of tombstones are null).

    With ``prior``, each key's winning event before ``low`` (if any) comes first: the state
    the window starts from. A table with a segment tree answers it with one as-of read;
    otherwise every file is read once, from the beginning of time.
    """
    if low is None or not prior:
        return _window(source, columns, keys, low, high)
    if not source.snapshot.segments:  # only pending deltas: one pass over them
        rows = _window(source, columns, keys, None, high)
        time = rows.column(source.schema.event_time_name)
        early = pc.less(time, source.time_scalar(low))
        before = last_per_key(rows.filter(early), source.schema)
        window = rows.filter(pc.invert(early))
    else:
        before = state_before(source, columns, keys, low)
        window = _window(source, columns, keys, low, high)
    combined = pa.concat_tables([before, window])
    if before.num_rows == 0 or window.num_rows == 0:
        return combined
    return combined.take(pc.sort_indices(combined, sort_keys=key_sort(source.schema.fixed_names)))


def next_event_times(source: Source, keys: pa.Array[Any] | None, low: int) -> pa.Table:
    """Per key, the least ``event_time >= low`` (units) of any of its events: the key
    column(s) and the event time. Reads only the key and time columns."""
    schema = source.schema
    events = _window(source, [], keys, low, None).select(list(schema.fixed_names))
    return events.filter(pa.array(run_starts(*(events.column(n) for n in schema.key_names))))


def distinct_rows(before: pa.Table, after: pa.Table, columns: list[str]) -> npt.NDArray[np.bool_]:
    """Per row, whether any of ``columns`` differs between ``before`` and ``after`` (aligned
    tables); nulls equal nulls, NaN equals NaN."""
    differs = np.zeros(before.num_rows, dtype=np.bool_)
    for name in columns:
        left: Any = before.column(name)
        right: Any = after.column(name)
        try:
            same: Any = pc.fill_null(pc.equal(left, right), False)
            same = pc.or_(same, pc.and_(left.is_null(), right.is_null()))
            if pa.types.is_floating(left.type):
                left_nan = pc.fill_null(pc.is_nan(left), False)
                same = pc.or_(same, pc.and_(left_nan, pc.fill_null(pc.is_nan(right), False)))
            differs |= ~np.asarray(same, dtype=np.bool_)
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
            pairs = zip(left.to_pylist(), right.to_pylist(), strict=True)
            differs |= np.array([a != b for a, b in pairs], dtype=np.bool_)
    return differs
