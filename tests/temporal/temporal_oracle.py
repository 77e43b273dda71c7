"""Naive answers of the temporal queries, in plain Python over every row written.

Rows are the oracle rows of ``strategies.rows_of`` (``key``, ``event_time`` as aware
datetimes, ``value``, ``_deleted``), in write order: among rows of equal key and event time
the later one wins, as in ``naive.latest_per_key``, which every answer here is built on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

import azof
from naive import Row, latest_per_key
from strategies import PLAIN, Layout, apply_op, as_of_time, rows_of

FIELDS: list[pa.Field[Any]] = [
    pa.field("key", pa.string()),
    pa.field("event_time", pa.timestamp("ms", tz="UTC")),
    pa.field("value", pa.int64()),
]
SCHEMA = pa.schema(FIELDS)
MS = timedelta(milliseconds=1)


def build(
    lake: azof.Lakehouse, ops: list[tuple[Any, ...]], layout: Layout = PLAIN
) -> tuple[azof.Table, list[Row], dict[int, list[Row]]]:
    """A new table after ``ops`` (keys of ``layout``); every row written; the rows known at
    each version."""
    import uuid

    name = f"t{uuid.uuid4().hex[:8]}"
    if layout is PLAIN:
        table = lake.create_table(name, SCHEMA)
    else:
        table = layout.create(lake, name, pa.field("value", pa.int64()))
    written: list[Row] = []
    known: dict[int, list[Row]] = {0: []}
    for op in layout.translate(ops):
        written = written + rows_of(op)
        known[apply_op(table, op, bucketed=False, layout=layout)] = written
    return table, written, known


def winners(
    rows: list[Row], before: datetime | None = None, upto: datetime | None = None
) -> dict[Any, Row]:
    """Per key, its winning row (tombstones kept, flagged ``_tomb``) among the rows with
    ``event_time < before`` and ``event_time <= upto`` (``None``: no bound)."""
    kept = [r for r in rows if before is None or r["event_time"] < before]
    flagged = [{**r, "_deleted": False, "_tomb": r["_deleted"]} for r in kept]
    return latest_per_key(flagged, upto)


def history(
    rows: list[Row], keys: list[Any] | None, start: datetime | None, end: datetime | None
) -> list[tuple[Any, ...]]:
    """``(key, valid_from, valid_to, is_deleted, value)`` of every version overlapping
    ``[start, end)``, sorted by key and valid_from."""
    if start is not None and end is not None and start >= end:
        return []  # an empty window overlaps no interval
    out = []
    for key in sorted({r["key"] for r in rows}):
        if keys is not None and key not in keys:
            continue
        times = sorted({r["event_time"] for r in rows if r["key"] == key})
        for index, when in enumerate(times):
            upto = times[index + 1] if index + 1 < len(times) else None
            state = latest_per_key(rows, when).get(key)
            if end is not None and when >= end:
                continue
            if start is not None and upto is not None and upto <= start:
                continue
            value = None if state is None else state["value"]
            out.append((key, when, upto, state is None, value))
    return out


def state(row: Row | None) -> tuple[Any, Any]:
    """``(event_time, value)`` of a winning row: the value is null for a tombstone."""
    if row is None:
        return (None, None)
    return (row["event_time"], None if row["_tomb"] else row["value"])


def compare(
    before: dict[Any, Row],
    after: dict[Any, Row],
    keys: list[Any] | None,
    kinds: tuple[str, str, str],
) -> list[tuple[Any, ...]]:
    """``(key, kind, before event_time, before value, after event_time, after value)`` of
    the keys whose presence or value differs, sorted by key."""
    out = []
    for key in sorted(set(before) | set(after)):
        if keys is not None and key not in keys:
            continue
        old, new = before.get(key), after.get(key)
        had = old is not None and not old["_tomb"]
        has = new is not None and not new["_tomb"]
        if not had and has:
            kind = kinds[0]
        elif had and not has:
            kind = kinds[1]
        elif had and has and old["value"] != new["value"]:  # type: ignore[index]
            kind = kinds[2]
        else:
            continue
        out.append((key, kind, *state(old), *state(new)))
    return out


def changes(
    rows: list[Row], keys: list[Any] | None, start: datetime | None, end: datetime | None
) -> list[tuple[Any, ...]]:
    """Keys whose state just before ``start`` differs from their state just before
    ``end``: ``latest_per_key`` over the rows before each bound."""
    before = {} if start is None else winners(rows, before=start)
    return compare(before, winners(rows, before=end), keys, ("insert", "delete", "update"))


def restatements(
    old_rows: list[Row], new_rows: list[Row], as_of: datetime | None, keys: list[Any] | None
) -> list[tuple[Any, ...]]:
    """Keys whose answer as of ``as_of`` differs between two versions' rows."""
    return compare(
        winners(old_rows, upto=as_of),
        winners(new_rows, upto=as_of),
        keys,
        ("added", "removed", "changed"),
    )


def at_day(d: float) -> datetime:
    """The instant of event day ``d`` (``strategies.day`` spacing, fractions allowed)."""
    when = as_of_time(d)
    assert when is not None
    return when


def asof(rows: list[Row], key: Any, when: datetime) -> tuple[Any, Any]:
    """``(event_time, value)`` of ``key`` as of ``when``, or ``(None, None)``."""
    row = latest_per_key(rows, when).get(key)
    return (None, None) if row is None else (row["event_time"], row["value"])
