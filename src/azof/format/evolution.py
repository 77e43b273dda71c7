"""Schema evolution as values: the changes, their validation and applying them (no I/O).

A schema change is one of :class:`AddColumn`, :class:`DropColumn`, :class:`RenameColumn`,
:class:`WidenColumn`, :class:`MoveColumn` and :class:`ReorderColumns`.
:func:`apply_changes` applies a sequence of them, in order, to a
:class:`~azof.format.schema.TableSchema` and returns the next schema (``schema_id`` + 1), or
raises :class:`~azof.errors.InvalidArgumentError` saying which change does not apply and
why. Columns keep their ids through renames, widenings and moves; an added column gets a
new id (ids are never reused, not even after a drop). ``docs/spec.md`` ("Schema evolution")
describes how data files written under older schemas read under the new one.

Defaults are kept in their JSON form (as stored in the snapshot): booleans, integers and
floats as JSON numbers, strings as strings, decimals as decimal text (``"12.50"``), dates as
``"YYYY-MM-DD"`` and timestamps as timestamp text (``"2024-01-01T00:00:00.000Z"``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, cast

import pyarrow as pa

from azof.errors import InvalidArgumentError
from azof.format.schema import RESERVED, Column, DroppedColumn, Rename, TableSchema
from azof.format.types import UnknownTypeError, is_widening, type_to_json, unit_nanos
from azof.timestamps import format_instant, parse_instant

__all__ = [
    "AddColumn",
    "DropColumn",
    "MoveColumn",
    "RenameColumn",
    "ReorderColumns",
    "SchemaChange",
    "WidenColumn",
    "apply_changes",
    "change_to_json",
    "default_scalar",
    "default_to_json",
    "describe_change",
]


@dataclass(frozen=True)
class AddColumn:
    """Add a value column at the end (old rows read ``default``, null when it is None)."""

    name: str
    type: pa.DataType
    nullable: bool = True
    default: Any = None


@dataclass(frozen=True)
class DropColumn:
    name: str


@dataclass(frozen=True)
class RenameColumn:
    name: str
    new_name: str


@dataclass(frozen=True)
class WidenColumn:
    """Change a column's type to a wider one (see :func:`~azof.format.types.is_widening`)."""

    name: str
    type: pa.DataType


@dataclass(frozen=True)
class MoveColumn:
    """Move a value column just before or just after another one (give exactly one)."""

    name: str
    before: str | None = None
    after: str | None = None


@dataclass(frozen=True)
class ReorderColumns:
    """Put the value columns in this order (every value column, each once)."""

    names: tuple[str, ...]


SchemaChange = AddColumn | DropColumn | RenameColumn | WidenColumn | MoveColumn | ReorderColumns

_WIDENINGS = (
    "int8 -> int16 -> int32 -> int64, uint8 -> uint16 -> uint32 -> uint64 (or a wider "
    "signed integer), float16 -> float32 -> float64, decimal(p, s) -> decimal(p' > p, s), "
    "timestamp s -> ms -> us -> ns (same zone), string -> large_string, binary -> large_binary"
)


# -- defaults --------------------------------------------------------------------------------


def _default_kind(dtype: pa.DataType) -> str | None:
    if pa.types.is_boolean(dtype):
        return "bool"
    if pa.types.is_integer(dtype):
        return "int"
    if pa.types.is_floating(dtype):
        return "float"
    if pa.types.is_decimal(dtype):
        return "decimal"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "string"
    if pa.types.is_date(dtype):
        return "date"
    if pa.types.is_timestamp(dtype):
        return "timestamp"
    return None


_PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    "bool": bool,
    "int": numbers.Integral,
    "float": numbers.Real,
    "decimal": (Decimal, numbers.Integral),
    "string": str,
    "date": date,
}


def default_to_json(value: Any, dtype: pa.DataType) -> Any:
    """The JSON form of a default ``value`` for a column of ``dtype``; ``ValueError`` (an
    :class:`InvalidArgumentError`) when the value does not fit the type."""
    if value is None:
        return None
    kind = _default_kind(dtype)
    if kind is None:
        raise InvalidArgumentError(
            f"a default for a {dtype} column is not supported; defaults are for boolean, "
            "integer, float, decimal, string, date and timestamp columns"
        )
    if isinstance(value, bool) != (kind == "bool"):
        raise InvalidArgumentError(f"default {value!r} does not fit {dtype}")
    if kind == "timestamp":
        instant = parse_instant(value, "default")
        if instant % unit_nanos(dtype):
            raise InvalidArgumentError(f"default {value!s} is finer than the unit of {dtype}")
        text = format_instant(instant)
        default_scalar_of(text, dtype)  # in the unit's range
        return text
    if kind == "decimal" and isinstance(value, str):
        try:
            value = Decimal(value)
        except InvalidOperation:
            raise InvalidArgumentError(f"default {value!r} does not fit {dtype}") from None
    if kind == "date" and isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise InvalidArgumentError(f"default {value!r} is not a date (YYYY-MM-DD)") from None
    if not isinstance(value, _PYTHON_TYPES[kind]) or (
        kind == "date" and isinstance(value, datetime)
    ):
        raise InvalidArgumentError(f"default {value!r} does not fit {dtype}")
    try:
        scalar = pa.scalar(value, type=dtype)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as exc:
        raise InvalidArgumentError(f"default {value!r} does not fit {dtype} ({exc})") from None
    python = scalar.as_py()
    if kind == "float" and not math.isfinite(python):
        raise InvalidArgumentError(f"default {value!r} is not a finite number")
    if kind == "decimal":
        return str(python)
    if kind == "date":
        return str(python.isoformat())
    return python


def default_scalar_of(value: Any, dtype: pa.DataType) -> pa.Scalar[Any]:
    """The scalar of a default in its JSON form (``ValueError`` when it does not fit)."""
    if value is None:
        return pa.scalar(None, type=dtype)
    kind = _default_kind(dtype)
    try:
        if kind is None or isinstance(value, bool) != (kind == "bool"):
            raise ValueError(f"{value!r} is not a {dtype} default")
        if kind == "timestamp":
            instant = parse_instant(value, "default")
            if instant % unit_nanos(dtype):
                raise ValueError(f"{value!r} is finer than the unit of {dtype}")
            return pa.scalar(instant // unit_nanos(dtype), type=dtype)
        if kind == "decimal":
            if not isinstance(value, str):
                raise ValueError(f"decimal default {value!r} is not decimal text")
            return pa.scalar(Decimal(value), type=dtype)
        if kind == "date":
            return pa.scalar(date.fromisoformat(value), type=dtype)
        if not isinstance(value, _PYTHON_TYPES[kind]):
            raise ValueError(f"{value!r} does not fit {dtype}")
        return pa.scalar(value, type=dtype)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError, InvalidOperation) as exc:
        raise ValueError(f"default {value!r} does not fit {dtype} ({exc})") from None


def default_scalar(column: Column) -> pa.Scalar[Any]:
    """What rows written without ``column`` read as: its default, or a typed null."""
    return default_scalar_of(column.default, column.type)


# -- applying changes ------------------------------------------------------------------------


class _Refusal(InvalidArgumentError):
    pass


def _value_column(schema: TableSchema, name: str, doing: str) -> Column:
    if name in schema.fixed_names:
        raise _Refusal(
            f"cannot {doing} {name!r}: it is a key or event-time column, which are never "
            "dropped, widened or moved (renaming one is allowed)"
        )
    column = schema.column(name)
    if column is None:
        known = ", ".join(c.name for c in schema.columns) or "no value columns"
        raise _Refusal(f"cannot {doing} {name!r}: there is no such column (the table has {known})")
    return column


def _check_new_name(schema: TableSchema, name: Any, doing: str) -> str:
    if not isinstance(name, str) or not name:
        raise _Refusal(f"cannot {doing}: a column name must be a non-empty string, not {name!r}")
    if name.startswith("_azof") or (not schema.named and name in RESERVED):
        raise _Refusal(
            f"cannot {doing}: {name!r} is reserved (key, event_time and names starting '_azof')"
        )
    if schema.column(name) is not None or name in schema.fixed_names:
        raise _Refusal(f"cannot {doing}: the table already has a column {name!r}")
    return name


def _storable(given: Any, doing: str) -> pa.DataType:
    if not isinstance(given, pa.DataType):
        raise _Refusal(f"cannot {doing}: {given!r} is not a pyarrow type such as pa.int64()")
    dtype: pa.DataType = given
    if pa.types.is_dictionary(dtype):
        dtype = cast(pa.DataType, dtype.value_type)
    try:
        type_to_json(dtype)
    except UnknownTypeError as exc:
        raise _Refusal(f"cannot {doing}: {exc}") from None
    return dtype


def _replace_column(schema: TableSchema, old: Column, new: Column) -> TableSchema:
    columns = tuple(new if c.id == old.id else c for c in schema.columns)
    return replace(schema, columns=columns)


def _add(schema: TableSchema, change: AddColumn) -> TableSchema:
    doing = f"add column {change.name!r}"
    name = _check_new_name(schema, change.name, doing)
    dtype = _storable(change.type, doing)
    try:
        default = default_to_json(change.default, dtype)
    except InvalidArgumentError as exc:
        raise _Refusal(f"cannot {doing}: {exc}") from None
    if not change.nullable and default is None:
        raise _Refusal(
            f"cannot {doing} as not nullable without a default: the rows written before have "
            "no value for it; give a default or make it nullable"
        )
    column = Column(
        schema.new_column_id, name, dtype, bool(change.nullable), default, schema.schema_id + 1
    )
    return replace(schema, columns=(*schema.columns, column), next_column_id=column.id + 1)


def _drop(schema: TableSchema, change: DropColumn, version: int) -> TableSchema:
    column = _value_column(schema, change.name, "drop column")
    dropped = DroppedColumn(column.id, column.name, version)
    return replace(
        schema,
        columns=tuple(c for c in schema.columns if c.id != column.id),
        dropped=(*schema.dropped, dropped),
        next_column_id=schema.new_column_id,
    )


def _rename_fixed(schema: TableSchema, change: RenameColumn, version: int) -> TableSchema:
    """Rename a key or event-time column: the schema records the names from then on (a
    table keyed by ``key``/``event_time`` becomes a format-4 table whose two columns keep
    id 0, found by name in data files: the current name, then the former ones)."""
    if change.new_name == change.name:
        raise _Refusal(f"cannot rename column {change.name!r}: it already has that name")
    name = _check_new_name(schema, change.new_name, f"rename {change.name!r}")
    keys, time = schema.keys, schema.time

    def renamed(column: Column) -> Column:
        if column.name != change.name:
            return column
        return replace(column, name=name, renames=(*column.renames, Rename(column.name, version)))

    return replace(
        schema, key_columns=tuple(renamed(c) for c in keys), event_time_column=renamed(time)
    )


def _rename(schema: TableSchema, change: RenameColumn, version: int) -> TableSchema:
    if change.name in schema.fixed_names:
        return _rename_fixed(schema, change, version)
    column = _value_column(schema, change.name, "rename column")
    if change.new_name == change.name:
        raise _Refusal(f"cannot rename column {change.name!r}: it already has that name")
    name = _check_new_name(schema, change.new_name, f"rename {change.name!r}")
    renamed = replace(column, name=name, renames=(*column.renames, Rename(column.name, version)))
    return _replace_column(schema, column, renamed)


def _widen(schema: TableSchema, change: WidenColumn) -> TableSchema:
    column = _value_column(schema, change.name, "change the type of")
    doing = f"change column {column.name!r} from {column.type} to {change.type}"
    dtype = _storable(change.type, doing)
    if dtype.equals(column.type):
        raise _Refusal(f"cannot widen column {column.name!r}: it already is {dtype}")
    if is_widening(dtype, column.type):
        raise _Refusal(
            f"cannot narrow column {column.name!r} from {column.type} to {dtype}: stored values "
            f"might not fit; a type may only widen ({_WIDENINGS})"
        )
    if not is_widening(column.type, dtype):
        raise _Refusal(f"cannot {doing}: a type may only widen ({_WIDENINGS})")
    try:
        default_scalar_of(column.default, dtype)
    except ValueError as exc:
        raise _Refusal(f"cannot {doing}: {exc}") from None
    return _replace_column(schema, column, replace(column, type=dtype))


def _move(schema: TableSchema, change: MoveColumn) -> TableSchema:
    column = _value_column(schema, change.name, "move column")
    if (change.before is None) == (change.after is None):
        raise _Refusal(f"cannot move column {column.name!r}: give exactly one of before/after")
    anchor_name = change.before if change.before is not None else change.after
    assert anchor_name is not None
    anchor = _value_column(schema, anchor_name, f"move column {column.name!r} next to")
    if anchor.id == column.id:
        raise _Refusal(f"cannot move column {column.name!r} next to itself")
    rest = [c for c in schema.columns if c.id != column.id]
    at = next(i for i, c in enumerate(rest) if c.id == anchor.id)
    rest.insert(at if change.before is not None else at + 1, column)
    return replace(schema, columns=tuple(rest))


def _reorder(schema: TableSchema, change: ReorderColumns) -> TableSchema:
    names = list(change.names)
    current = [c.name for c in schema.columns]
    strange = [n for n in names if not isinstance(n, str)]
    if strange:
        raise _Refusal(f"cannot reorder the columns: column names are strings, not {strange[0]!r}")
    unknown = [n for n in names if n not in current]
    repeated = list(dict.fromkeys(n for n in names if names.count(n) > 1))
    missing = [n for n in current if n not in names]
    if unknown or repeated or missing:
        problems = []
        if unknown:
            problems.append(f"unknown {', '.join(map(repr, unknown))}")
        if repeated:
            problems.append(f"repeated {', '.join(map(repr, repeated))}")
        if missing:
            problems.append(f"missing {', '.join(map(repr, missing))}")
        raise _Refusal(
            f"cannot reorder the columns: name every value column once ({'; '.join(problems)}; "
            f"the value columns are {', '.join(current) or 'none'})"
        )
    by_name = {c.name: c for c in schema.columns}
    return replace(schema, columns=tuple(by_name[n] for n in names))


def apply_change(schema: TableSchema, change: SchemaChange, *, version: int) -> TableSchema:
    """``schema`` after one change (``schema_id`` unchanged); ``version`` is the commit's."""
    if isinstance(change, AddColumn):
        return _add(schema, change)
    if isinstance(change, DropColumn):
        return _drop(schema, change, version)
    if isinstance(change, RenameColumn):
        return _rename(schema, change, version)
    if isinstance(change, WidenColumn):
        return _widen(schema, change)
    if isinstance(change, MoveColumn):
        return _move(schema, change)
    if isinstance(change, ReorderColumns):
        return _reorder(schema, change)
    raise InvalidArgumentError(f"{change!r} is not a schema change")


def apply_changes(
    schema: TableSchema, changes: Sequence[SchemaChange], *, version: int, table: str
) -> TableSchema:
    """The schema after ``changes`` (applied in order), committed as ``version``.

    Raises :class:`InvalidArgumentError` naming the table and the change that does not
    apply; the schema is then unchanged.
    """
    if not changes:
        raise InvalidArgumentError(f"table {table!r}: there are no schema changes to commit")
    for change in changes:
        try:
            schema = apply_change(schema, change, version=version)
        except _Refusal as exc:
            raise InvalidArgumentError(f"table {table!r}: {exc}") from None
    return replace(schema, schema_id=schema.schema_id + 1, next_column_id=schema.new_column_id)


# -- describing changes ----------------------------------------------------------------------


def change_to_json(change: SchemaChange) -> dict[str, Any]:
    """The change as the ``evolve`` commit's summary lists it."""
    if isinstance(change, AddColumn):
        out: dict[str, Any] = {
            "op": "add",
            "name": change.name,
            "type": type_to_json(change.type),
            "nullable": change.nullable,
        }
        if change.default is not None:
            out["default"] = default_to_json(change.default, change.type)
        return out
    if isinstance(change, DropColumn):
        return {"op": "drop", "name": change.name}
    if isinstance(change, RenameColumn):
        return {"op": "rename", "name": change.name, "to": change.new_name}
    if isinstance(change, WidenColumn):
        return {"op": "widen", "name": change.name, "type": type_to_json(change.type)}
    if isinstance(change, MoveColumn):
        if change.before is not None:
            return {"op": "move", "name": change.name, "before": change.before}
        return {"op": "move", "name": change.name, "after": change.after}
    return {"op": "reorder", "columns": list(change.names)}


def describe_change(change: SchemaChange) -> str:
    """One line for people: ``add currency string``, ``rename px to price``..."""
    if isinstance(change, AddColumn):
        text = f"add {change.name} {change.type}"
        if not change.nullable:
            text += " not null"
        if change.default is not None:
            text += f" default {default_to_json(change.default, change.type)!r}"
        return text
    if isinstance(change, DropColumn):
        return f"drop {change.name}"
    if isinstance(change, RenameColumn):
        return f"rename {change.name} to {change.new_name}"
    if isinstance(change, WidenColumn):
        return f"widen {change.name} to {change.type}"
    if isinstance(change, MoveColumn):
        where = f"before {change.before}" if change.before is not None else f"after {change.after}"
        return f"move {change.name} {where}"
    return f"reorder {', '.join(change.names)}"
