"""``changes`` (what changed over an event-time window) and ``restatements`` (which as-of
answers later commits changed). Both compare two states of each key and report the keys
whose state differs, with the state on each side."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from azof.errors import InvalidArgumentError
from azof.format.keys import key_sort
from azof.format.schema import TOMBSTONE, TableSchema
from azof.scan.plan import rank_files
from azof.scan.read import ScanMetrics
from azof.temporal.events import (
    Source,
    distinct_rows,
    empty_events,
    events_between,
    floor_units,
    key_filter,
    keys_of,
    last_per_key,
    open_source,
    read_planned,
    run_starts,
    state_at,
    state_before,
    window_units,
)
from azof.timestamps import parse_as_of

if TYPE_CHECKING:
    from azof.table import Table

__all__ = ["changes", "restatements"]

CHANGE = "change"


def _aligned(keys: pa.Array[Any], state: pa.Table, schema: TableSchema) -> pa.Table:
    """``state``'s row of each of ``keys`` (as :func:`keys_of` gives them; all nulls where
    it has none)."""
    return state.take(pc.index_in(keys, keys_of(state, schema)))


def _present(state: pa.Table) -> npt.NDArray[np.bool_]:
    """Per row, whether it is a live row (not a tombstone, not missing)."""
    deleted: Any = state.column(TOMBSTONE)
    return np.asarray(pc.fill_null(pc.invert(deleted), False), dtype=np.bool_)


def _compare(
    source: Source,
    keys: pa.Table,
    before: pa.Table,
    after: pa.Table,
    names: list[str],
    kinds: tuple[str, str, str],
    sides: tuple[str, str],
) -> pa.Table:
    """The keys whose state differs between ``before`` and ``after`` (both aligned with
    ``keys``, a table of the key columns; a missing row or a tombstone is an absent key).
    ``kinds``: the names of (absent -> present, present -> absent, present -> present with
    other values)."""
    had = _present(before)
    has = _present(after)
    differs = distinct_rows(before, after, names)
    appeared, vanished, updated = ~had & has, had & ~has, had & has & differs
    keep = appeared | vanished | updated
    labels = np.where(appeared, kinds[0], np.where(vanished, kinds[1], kinds[2]))
    mask = pa.array(keep)
    schema = source.schema
    time_type, time = schema.event_time_type, schema.event_time_name
    fields: list[pa.Field[Any]] = [
        *schema.key_fields,
        pa.field(CHANGE, pa.string(), nullable=False),
    ]
    columns: list[Any] = [keys.column(n).filter(mask) for n in schema.key_names]
    columns.append(pa.array(labels).filter(mask))
    for side, state in zip(sides, (before, after), strict=True):
        fields.append(pa.field(f"{side}_{time}", time_type))
        columns.append(state.column(time).filter(mask))
        for name in names:
            fields.append(pa.field(f"{side}_{name}", source.schema.field(name).type))
            columns.append(state.column(name).filter(mask))
    return pa.table(columns, schema=pa.schema(fields))


def changes(
    table: Table,
    start: Any,
    end: Any,
    keys: Any = None,
    *,
    columns: Sequence[str] | str | None = None,
    version: int | None = None,
    known_at: Any = None,
    metrics: ScanMetrics | None = None,
) -> pa.Table:
    """The keys whose state changed in the event-time window ``[start, end)``.

    A key's state *before* is what ``scan(as_of=start - 1 unit)`` answers for it (absent
    when ``start`` is ``None``), its state *after* is what ``scan(as_of=end - 1 unit)``
    answers (``end`` ``None``: the current state); only events in the window can make them
    differ. ``change`` is ``insert`` (absent before, present after), ``delete`` (present,
    then absent) or ``update`` (present on both sides, a value column of ``columns``
    differs; nulls equal nulls). Columns: ``key``, ``change``, ``before_event_time``, the
    ``before_<column>`` values, ``after_event_time``, the ``after_<column>`` values. An
    ``*_event_time`` is that side's winning event, a tombstone's included (so a delete's
    ``after_event_time`` is when it was deleted); values of an absent side are null.
    Sorted by key. ``version`` / ``known_at`` choose the snapshot (commit time).
    """
    source = open_source(table, version, known_at, metrics)
    names = source.value_columns(columns)
    wanted = key_filter(source, keys)
    window = window_units(start, end, source.per_unit)
    if window is None:
        after = empty_events(source, names)
        low = None
    else:
        low, high = window
        after = last_per_key(events_between(source, names, wanted, low, high), source.schema)
    touched = keys_of(after, source.schema)
    if low is None:
        before = empty_events(source, names)
    else:
        before = state_before(source, names, touched, low)
    return _compare(
        source,
        after.select(list(source.schema.key_names)),
        _aligned(touched, before, source.schema),
        after,
        names,
        ("insert", "delete", "update"),
        ("before", "after"),
    )


def _candidates(
    older: Source, newer: Source, wanted: pa.Array[Any] | None, as_of: int | None
) -> pa.Table:
    """Keys whose answer may differ between the two snapshots: those with events at or
    before ``as_of`` in the files of the later version that the earlier one does not
    reference (new data, and what compaction rewrote: a compaction keeps every answer, and
    its files hold the events of the files it drops). A table of the key columns, one row
    per key, sorted by key."""
    if older.snapshot.version > newer.snapshot.version:
        older, newer = newer, older
    known = {f.file for f in older.snapshot.files()}
    per_unit = newer.per_unit
    planned = [
        p
        for p in rank_files(newer.snapshot)
        if not p.file.derived
        and p.file.file not in known
        and (as_of is None or p.file.start is None or p.file.start <= as_of * per_unit)
    ]
    rows = read_planned(newer, planned, [], wanted, None, as_of)
    names = list(newer.schema.key_names)
    if rows is None:
        return pa.schema(newer.schema.key_fields).empty_table()
    keys = rows.select(names)
    keys = keys.take(pc.sort_indices(keys, sort_keys=key_sort(names)))
    return keys.filter(pa.array(run_starts(*(keys.column(n) for n in names))))


def _under_one_schema(newer: Source, older: Source) -> tuple[Source, Source]:
    """Both sources read under the schema of the later of their snapshots: rows written
    under an older schema read by column id (renamed columns under their new name, added
    ones as their default, widened types cast), as a scan of the later version reads them.
    Schemas only evolve forwards, so the later schema knows every column id still kept."""
    later = max(newer, older, key=lambda source: source.snapshot.version)
    schema = later.schema

    def read_under(source: Source) -> Source:
        if source.schema is schema:
            return source
        return replace(source, snapshot=replace(source.snapshot, schema=schema))

    return read_under(newer), read_under(older)


def restatements(
    table: Table,
    as_of: Any,
    since_version: int,
    *,
    version: int | None = None,
    known_at: Any = None,
    metrics: ScanMetrics | None = None,
    keys: Any = None,
    columns: Sequence[str] | str | None = None,
) -> pa.Table:
    """The keys whose answer as of event time ``as_of`` (``None``: the current state)
    differs between version ``since_version`` and a later one (``version`` / ``known_at``;
    default: the version the table has loaded): late data, corrections and deletes
    committed after ``since_version``.

    Both answers are read under the schema of the later of the two versions (rows written
    under an older schema read by column id: renamed, added and widened columns as a scan of
    that version shows them), so ``columns`` and the output name its columns.

    ``change`` is ``added`` (absent in the old answer, present in the new), ``removed``
    (present, then absent) or ``changed`` (present in both, a value column of ``columns``
    differs). Columns: ``key``, ``change``, ``old_event_time``, the ``old_<column>``
    values, ``new_event_time``, the ``new_<column>`` values; an ``*_event_time`` is that
    answer's winning event, a tombstone's included. Sorted by key. Only the keys of files
    that ``since_version`` does not reference are compared.
    """
    if isinstance(since_version, bool) or not isinstance(since_version, int):
        raise InvalidArgumentError(f"since_version {since_version!r} is not a whole number")
    newer = open_source(table, version, known_at, metrics)
    older = Source(table.storage, table.name, table.snapshot_at(since_version), metrics)
    newer, older = _under_one_schema(newer, older)
    names = newer.value_columns(columns)
    wanted = key_filter(newer, keys)
    instant = None if as_of is None else floor_units(parse_as_of(as_of, "as_of"), newer.per_unit)
    candidates = _candidates(older, newer, wanted, instant)
    found = keys_of(candidates, newer.schema)
    old = _aligned(found, state_at(older, names, found, instant), newer.schema)
    new = _aligned(found, state_at(newer, names, found, instant), newer.schema)
    return _compare(
        newer, candidates, old, new, names, ("added", "removed", "changed"), ("old", "new")
    )
