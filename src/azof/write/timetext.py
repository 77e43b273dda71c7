"""Timestamp columns that arrive as text (CSV, JSON, a DataFrame read without parsing),
parsed vectorised.

The grammar is :func:`azof.timestamps.parse_instant`'s: ISO-8601 with or without time and
offset (``2024-03-15``, ``2024-03-15T14:30:00``, ``...Z``, ``...+02:00``); text without an
offset is UTC. A column is checked against that grammar and parsed by Arrow (to
nanoseconds, then cast exactly to the column's unit) in a few vectorised passes; when any
value fails that route (a value outside the grammar, finer than the unit, outside the
years Arrow's nanoseconds hold, or in a form Arrow reads differently), the column is
parsed value by value instead, which converts it exactly or names the first bad row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc

from azof.errors import InvalidArgumentError, SchemaMismatchError
from azof.format.types import unit_nanos
from azof.timestamps import (
    ISO_PATTERN,
    check_event_instants,
    describe_instant,
    exact_units,
    parse_instant,
)

__all__ = ["exact_time_array", "is_missing", "is_text", "parse_time_text"]

_OFFSET = r"\d{2}:\d{2}(?::\d{2})?(?:\.\d{1,9})?(?:Z|[+-]\d{2}(?::?\d{2})?)$"
"""Text with a time and an offset (a date alone never has one: ``2024-01-01`` ends in
``-01``, which is no offset)."""

_NANOS_UTC = pa.timestamp("ns", tz="UTC")


def is_text(dtype: pa.DataType) -> bool:
    """Whether a column of ``dtype`` holds text (dictionary-encoded text too)."""
    if pa.types.is_dictionary(dtype):
        return is_text(cast(Any, dtype).value_type)
    return bool(
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_string_view(dtype)
    )


def parse_time_text(
    column: pa.ChunkedArray[Any],
    target: pa.DataType,
    place: str,
    first_row: int = 0,
    *,
    event_time: bool = False,
) -> pa.ChunkedArray[Any]:
    """The text ``column`` as timestamps of ``target`` (nulls stay null), or a
    :class:`SchemaMismatchError` at ``place`` naming the first row (counted from
    ``first_row``) that is no ISO-8601 timestamp or is finer than the unit (``event_time``:
    or outside the supported range, checked here when Arrow's nanoseconds cannot hold a
    value, else by :func:`~azof.write.conform.conform`)."""
    text = column.cast(pa.large_string())
    try:
        array = _parse_fast(text, target)
    except pa.ArrowException:
        array = exact_time_array(text.to_pylist(), target, place, first_row, event_time=event_time)
    return pa.chunked_array([array])


def _parse_fast(text: pa.ChunkedArray[Any], target: pa.DataType) -> pa.Array[Any]:
    """Arrow's parser for text in the grammar; raises ``ArrowException`` otherwise."""
    valid = pc.match_substring_regex(text, ISO_PATTERN)
    if not pc.all(pc.or_kleene(valid, pc.is_null(text))).as_py():
        raise pa.ArrowInvalid("text outside the grammar")
    matched: Any = pc.match_substring_regex(text, _OFFSET)
    with_offset: Any = pc.fill_null(matched, False)
    aware = pc.if_else(with_offset, text, None).cast(_NANOS_UTC)
    naive = pc.if_else(with_offset, None, text).cast(pa.timestamp("ns")).cast(_NANOS_UTC)
    nanos: Any = pc.if_else(with_offset, aware, naive)
    parsed: pa.ChunkedArray[Any] = nanos.cast(target, safe=True)  # exact or ArrowInvalid
    return parsed.combine_chunks()


def is_missing(value: Any) -> bool:
    """None, NaT (pandas or numpy) or NaN: a null among Python values."""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    name = type(value).__name__
    return name == "NaTType" or (name == "datetime64" and bool(value != value))


def exact_time_array(
    values: Iterable[Any],
    target: pa.DataType,
    place: str,
    first_row: int = 0,
    *,
    event_time: bool = False,
) -> pa.Array[Any]:
    """Python times (datetimes, dates, ISO-8601 text, pandas/numpy timestamps; missing ones
    null) as an array of ``target``, each exactly (``put``'s rule: a finer time is refused,
    never truncated), or a :class:`SchemaMismatchError` naming the first bad row.
    ``event_time``: each inside the supported range too."""
    per_unit = unit_nanos(target)
    units: list[int | None] = []
    for row, value in enumerate(values, start=first_row):
        if is_missing(value):
            units.append(None)
            continue
        where = f"{place}, row {row}"
        try:
            instant = parse_instant(value, where)
        except InvalidArgumentError as exc:
            raise SchemaMismatchError(str(exc)) from None
        units.append(exact_units(instant, per_unit, where, SchemaMismatchError))
    present = [u for u in units if u is not None]
    if event_time and present:
        least, greatest = min(present) * per_unit, max(present) * per_unit
        check_event_instants(least, greatest, per_unit, place, SchemaMismatchError)
    try:
        return pa.array(units, type=target)
    except (OverflowError, pa.ArrowInvalid):
        bad = max(present, key=abs)
        raise SchemaMismatchError(
            f"{place}: {describe_instant(bad * per_unit)} does not fit {target}"
        ) from None
