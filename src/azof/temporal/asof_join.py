"""``asof_join``: each row of a frame with the table's state of its key as of the row's own
time (point-in-time correct features, as feature stores join them).

One read for the whole frame, not one per distinct time: the events of the frame's keys
(pushed down as ``key IN (...)``) between its earliest and latest times, plus the state
before the earliest; then a vectorized match. Events are sorted by ``(key, event_time)``;
each is given the number ``code * W + rank`` (``code``: its key's run, ``rank``: its time's
rank among the events' times, ``W`` above every rank), which sorts them the same way; a
frame row ``(key, t)`` gets ``code * W + (number of event times <= t)``, and a binary
search (``numpy.searchsorted``) finds the last event of its key at or before ``t``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from azof.errors import InvalidArgumentError
from azof.format.schema import TOMBSTONE, TableSchema
from azof.format.types import unit_nanos
from azof.scan.read import ScanMetrics
from azof.temporal.events import Source, events_between, keys_of, open_source, run_starts

if TYPE_CHECKING:
    from azof.table import Table

__all__ = ["asof_join"]

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

_DAY_NANOS = 86_400_000_000_000
_MAX = 2**63 - 1


def _to_arrow(left: Any) -> pa.Table:
    """A pyarrow Table, RecordBatch or RecordBatchReader, a pandas or polars DataFrame, or
    any object with ``__arrow_c_stream__``, as a pyarrow Table."""
    if isinstance(left, pa.Table):
        return left
    if isinstance(left, pa.RecordBatch):
        return pa.Table.from_batches([left])
    if isinstance(left, pa.RecordBatchReader):
        return left.read_all()
    module = type(left).__module__
    if module.startswith("pandas") and hasattr(left, "columns"):
        return pa.Table.from_pandas(left, preserve_index=False).replace_schema_metadata(None)
    if module.startswith("polars") and hasattr(left, "to_arrow"):
        converted = left.to_arrow()
        if isinstance(converted, pa.Table):
            return converted
    if hasattr(left, "__arrow_c_stream__"):
        return pa.table(left)
    raise InvalidArgumentError(
        f"asof_join: cannot read a {type(left).__name__} as rows; pass a pyarrow Table, "
        "RecordBatch or RecordBatchReader, or a pandas or polars DataFrame"
    )


def _column(frame: pa.Table, name: str, role: str) -> Any:
    if name not in frame.column_names:
        raise InvalidArgumentError(
            f"asof_join: the left rows have no {role} column {name!r}; they have "
            f"{', '.join(frame.column_names) or '(none)'} (pass {role}=...)"
        )
    column: Any = frame.column(name).combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return column


def _key_pairs(on: Any, source: Source) -> list[tuple[str, str]]:
    """``on`` as (left column, key column) pairs in key order: ``None`` (the key columns'
    own names), a name, a list of names matched with the key columns in order, or a
    mapping of left column to key column."""
    names = source.schema.key_names
    if on is None:
        return list(zip(names, names, strict=True))
    if isinstance(on, str):
        on = [on]
    if isinstance(on, Mapping):
        given = {str(key): str(left) for left, key in on.items()}
        if sorted(given) != sorted(names):
            raise InvalidArgumentError(
                f"asof_join: on={dict(on)!r} must map a left column to each key column of "
                f"table {source.name!r} ({', '.join(names)})"
            )
        return [(given[name], name) for name in names]
    lefts = list(on)
    if len(lefts) != len(names) or not all(isinstance(n, str) for n in lefts):
        raise InvalidArgumentError(
            f"asof_join: on={on!r} must name {len(names)} left column(s), matched in order "
            f"with the key of table {source.name!r} ({', '.join(names)})"
        )
    return list(zip(lefts, names, strict=True))


def _left_keys(column: Any, source: Source, on: str, key: str) -> Any:
    """The left keys as the type of key column ``key`` (strings with strings, integers
    with integers, dates and timestamps with their kind; an integer that does not fit is
    an error)."""
    key_type = source.schema.field(key).type
    strings = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
    same_kind = (
        (pa.types.is_integer(column.type) and pa.types.is_integer(key_type))
        or (any(f(column.type) for f in strings) and any(f(key_type) for f in strings))
        or (pa.types.is_date(column.type) and pa.types.is_date(key_type))
        or (pa.types.is_timestamp(column.type) and pa.types.is_timestamp(key_type))
    )
    if column.type != key_type and not same_kind and not pa.types.is_null(column.type):
        raise InvalidArgumentError(
            f"asof_join: column {on!r} is {column.type}, but table {source.name!r} has "
            f"{key_type} keys"
        )
    try:
        return column.cast(key_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidArgumentError(
            f"asof_join: column {on!r} does not fit the table's {key_type} keys ({exc})"
        ) from None


def _left_times(column: Any, per_unit: int, at: str) -> tuple[Ints, Bools]:
    """The left times in the table's event-time unit, rounded down (a time between two
    units sees only events at or before it), and which are valid (not null)."""
    kind = column.type
    if pa.types.is_timestamp(kind):
        nanos = unit_nanos(kind)  # any zone: the stored integers count from the UTC epoch
    elif pa.types.is_date32(kind):
        nanos = _DAY_NANOS
    elif pa.types.is_date64(kind):
        nanos = 1_000_000
    else:
        raise InvalidArgumentError(
            f"asof_join: column {at!r} is {kind}; it must hold timestamps (any unit; no "
            "zone means UTC) or dates"
        )
    valid = np.asarray(column.is_valid(), dtype=np.bool_)
    integers: Any = column.view(pa.int32() if pa.types.is_date32(kind) else pa.int64())
    raw = np.asarray(pc.fill_null(integers, 0), dtype=np.int64)
    if nanos >= per_unit:
        factor = nanos // per_unit
        if factor > 1:  # clamped like any as-of time: beyond every event time the table holds
            raw = np.clip(raw, -(_MAX // factor), _MAX // factor)
        return raw * factor, valid
    return raw // (per_unit // nanos), valid  # floor division rounds down, also before 1970


def _output_names(frame: pa.Table, names: list[str], prefix: str, suffix: str) -> list[str]:
    taken = set(frame.column_names)
    out = []
    for name in names:
        label = prefix + name
        if label in taken:
            label += suffix
        if label in taken:
            raise InvalidArgumentError(
                f"asof_join: column {label!r} exists in the left rows; pass another "
                "prefix= or suffix="
            )
        taken.add(label)
        out.append(label)
    return out


def _sortable(code: Ints, event_times: Ints, left_code: Ints, times: Ints) -> tuple[Ints, Ints]:
    """Single integers that sort events as ``(code, time)`` and place each left row after
    the events of its key at or before its time."""
    low, high = int(event_times.min()), int(event_times.max())
    span = high - low + 2
    if (int(code[-1]) + 1) * span < 2**62:  # offsets from the earliest event
        clipped = np.clip(times, low - 1, high)
        return code * span + (event_times - low + 1), left_code * span + (clipped - low + 1)
    distinct = np.unique(event_times)  # a wide time range: ranks among the event times
    width = len(distinct) + 1  # codes and ranks stay below 2**31: no int64 overflow
    ranks = np.searchsorted(distinct, event_times, side="left") + 1
    return code * width + ranks, left_code * width + np.searchsorted(distinct, times, "right")


def _match(
    events: pa.Table,
    schema: TableSchema,
    codes: Any,
    dictionary: Any,
    times: Ints,
    valid: Bools,
) -> Any:
    """Per left row (its key's index in ``dictionary`` and its time), the position in
    ``events`` (sorted by key and event time) of the last event of its key at or before its
    time; null when there is none or it is a tombstone."""
    n = events.num_rows
    if n == 0:
        return pa.nulls(len(codes), pa.int64())
    event_keys: Any = keys_of(events, schema)
    change = run_starts(event_keys)
    code = np.cumsum(change, dtype=np.int64) - 1
    run_of_entry: Any = pc.index_in(dictionary, event_keys.filter(pa.array(change)))
    left_code = np.asarray(pc.fill_null(run_of_entry, -1), dtype=np.int64)[
        np.asarray(pc.fill_null(codes, 0), dtype=np.int64)
    ]
    event_column: Any = events.column(schema.event_time_name).combine_chunks()
    event_times = np.asarray(event_column.cast(pa.int64()), dtype=np.int64)
    ordered, wanted = _sortable(code, event_times, left_code, times)
    by_value = np.argsort(wanted)  # sorted queries search cache-friendly: about 2x faster
    position = np.empty(len(wanted), dtype=np.int64)
    position[by_value] = np.searchsorted(ordered, wanted[by_value], side="right") - 1
    found = valid & (left_code >= 0) & (position >= 0)
    position = np.clip(position, 0, n - 1)
    deleted = np.asarray(events.column(TOMBSTONE).combine_chunks(), dtype=np.bool_)
    found &= (code[position] == left_code) & ~deleted[position]
    return pa.array(position, mask=~found)


def asof_join(
    table: Table,
    left: Any,
    on: str | Sequence[str] | Mapping[str, str] | None = None,
    at: str = "ts",
    *,
    columns: Sequence[str] | str | None = None,
    version: int | None = None,
    known_at: Any = None,
    metrics: ScanMetrics | None = None,
    prefix: str = "",
    suffix: str = "_right",
) -> pa.Table:
    """``left``'s rows, in their order, each with the table's state of the row's key as
    of event time ``row[at]``: the answer of ``scan(as_of=row[at])`` for that key.

    ``on`` says which left columns hold the key: ``None`` (columns named like the table's
    key columns), a name, a list of names matched with the key columns in order, or a
    mapping of left column to key column.

    ``left``: a pyarrow Table / RecordBatch / RecordBatchReader, a pandas or polars
    DataFrame. ``row[at]``: a timestamp of any unit and zone (no zone: UTC) or a date
    (midnight UTC), compared with event times rounded down to the table's unit, so no row
    sees an event after its own time. A row whose key has no event at or before its time,
    whose latest such event is a delete, or whose key or time is null gets nulls.

    Adds the table's value columns (``columns``: a subset, which may include the
    event-time column, the matched event's time), each named ``prefix + name``, plus
    ``suffix`` when that clashes with a left column. ``version`` / ``known_at`` choose the
    snapshot (commit time): "the features as we knew them then".
    """
    source = open_source(table, version, known_at, metrics)
    frame = _to_arrow(left)
    time = source.schema.event_time_name
    names = source.value_columns(columns, extra=(time,))
    labels = _output_names(frame, names, prefix, suffix)
    left_keys = pa.table(
        {
            key: _left_keys(_column(frame, left, "on"), source, left, key)
            for left, key in _key_pairs(on, source)
        }
    )
    keys: Any = pc.dictionary_encode(keys_of(left_keys, source.schema))
    times, valid = _left_times(_column(frame, at, "at"), source.per_unit, at)
    valid &= np.asarray(keys.is_valid(), dtype=np.bool_)
    value_names = [name for name in names if name != time]
    if valid.any():
        low, high = int(times[valid].min()), int(times[valid].max())
        events = events_between(source, value_names, keys.dictionary, low, high, prior=True)
    else:
        events = events_between(source, value_names, keys.dictionary[:0], None, None)
    position = _match(events, source.schema, keys.indices, keys.dictionary, times, valid)
    matched = events.select(names).take(position)
    out = frame
    for name, label in zip(names, labels, strict=True):
        out = out.append_column(pa.field(label, matched.schema.field(name).type), matched[name])
    return out
