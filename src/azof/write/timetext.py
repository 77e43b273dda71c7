"""Times given as Python values (datetimes, dates, ISO-8601 text, pandas/numpy timestamps)
converted to a timestamp column exactly: a finer time is refused, never truncated.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from azof.errors import InvalidArgumentError, SchemaMismatchError
from azof.format.types import unit_nanos
from azof.timestamps import (
    check_event_instants,
    describe_instant,
    exact_units,
    parse_instant,
)

__all__ = ["exact_time_array", "is_missing"]


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
