"""Turning user data into rows that fit a table's schema, or a clear refusal.

Accepted inputs: a pyarrow ``Table``/``RecordBatch``/``RecordBatchReader``, anything with
the Arrow PyCapsule stream interface (polars, pandas through pyarrow...), a pandas
``DataFrame``, a list of dicts, or a dict of columns. Nothing is written when data is
refused; the error names the column and both types.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc

from azof.errors import InvalidArgumentError, SchemaMismatchError
from azof.format.evolution import default_scalar
from azof.format.keys import key_kind_ok, key_sort
from azof.format.schema import EVENT_TIME, KEY, TOMBSTONE, TableSchema
from azof.format.types import unit_nanos
from azof.scan.merge import run_edges
from azof.timestamps import check_event_instants

__all__ = ["KEY_TYPES", "conform", "dedup_last", "key_names_of", "validate_new_schema"]

KEY_TYPES = (
    pa.string(),
    pa.large_string(),
    pa.int8(),
    pa.int16(),
    pa.int32(),
    pa.int64(),
    pa.uint8(),
    pa.uint16(),
    pa.uint32(),
    pa.uint64(),
)


def _castable(source: pa.DataType, target: pa.DataType) -> bool:
    """Whether values of ``source`` may be written into a column of ``target`` (no loss)."""
    if source.equals(target) or pa.types.is_null(source):
        return True
    if pa.types.is_dictionary(source):
        return _castable(source.value_type, target)
    strings = (pa.string(), pa.large_string(), pa.string_view())
    binaries = (pa.binary(), pa.large_binary(), pa.binary_view())
    if (source in strings and target in strings) or (source in binaries and target in binaries):
        return True
    if pa.types.is_integer(source) and pa.types.is_integer(target):
        return True  # checked value by value by the safe cast
    if pa.types.is_floating(source) and pa.types.is_floating(target):
        return source.bit_width <= target.bit_width
    if pa.types.is_timestamp(source) and pa.types.is_timestamp(target):
        return True  # an instant is an instant, whatever zone it is shown in
    if pa.types.is_date(source) and pa.types.is_date(target):
        return True
    if pa.types.is_time(source) and pa.types.is_time(target):
        return True
    if pa.types.is_decimal(source) and pa.types.is_decimal(target):
        return bool(
            source.scale <= target.scale
            and source.precision - source.scale <= target.precision - target.scale
        )
    if pa.types.is_list(source) or pa.types.is_large_list(source):
        return (pa.types.is_list(target) or pa.types.is_large_list(target)) and _castable(
            source.value_type, target.value_type
        )
    if pa.types.is_struct(source) and pa.types.is_struct(target):
        names = {f.name for f in target}
        return all(f.name in names and _castable(f.type, target.field(f.name).type) for f in source)
    return False


def _cast_column(
    column: pa.ChunkedArray[Any], target: pa.DataType, name: str, table: str
) -> pa.ChunkedArray[Any]:
    source = column.type
    if not _castable(source, target):
        raise SchemaMismatchError(
            f"table {table!r}: column {name!r} is {source} in the data but {target} in the "
            "table; convert it before appending"
        )
    if (
        pa.types.is_timestamp(source)
        and pa.types.is_timestamp(target)
        and cast(pa.TimestampType, source).tz is None
        and cast(pa.TimestampType, target).tz is not None
    ):  # naive means UTC
        column = column.cast(pa.timestamp(cast(pa.TimestampType, source).unit, tz="UTC"))
    try:
        return column.cast(target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaMismatchError(
            f"table {table!r}: column {name!r} ({source}) does not fit {target} without loss: {exc}"
        ) from None


def _former_column(schema: TableSchema, name: str, table: str) -> SchemaMismatchError | None:
    """The error for a column name the schema no longer has: renamed or dropped."""
    renamed: list[tuple[int, str | None]] = [
        (rename.version, column.name)
        for column in schema.columns
        for rename in column.renames
        if rename.name == name
    ]
    dropped: list[tuple[int, str | None]] = [
        (d.version, None) for d in schema.dropped if d.name == name
    ]
    if not renamed and not dropped:
        return None
    version, new_name = max(renamed + dropped, key=lambda item: item[0])
    if new_name is not None:
        return SchemaMismatchError(
            f"table {table!r}: column {name!r} was renamed to {new_name!r} at version "
            f"{version}; write it as {new_name!r}"
        )
    return SchemaMismatchError(
        f"table {table!r}: column {name!r} was dropped at version {version}; leave it out "
        f"(the table has {', '.join(schema.names)})"
    )


def conform(
    data: pa.Table, schema: TableSchema, table: str, *, tombstones: bool = False
) -> pa.Table:
    """The data with exactly the table's columns and types (plus the tombstone flag).

    A missing column is filled with its default (null when it has none); a missing column
    that is not nullable and has no default is refused, and so are column names the schema
    does not have (with what became of a renamed or dropped one).
    """
    names = data.column_names
    if len(set(names)) != len(names):
        raise SchemaMismatchError(f"table {table!r}: the data has duplicate column names")
    unknown = [n for n in names if n not in schema.names and n != TOMBSTONE]
    for name in unknown:
        former = _former_column(schema, name, table)
        if former is not None:
            raise former
    if unknown:
        raise SchemaMismatchError(
            f"table {table!r}: unknown column(s) {', '.join(map(repr, unknown))}; the table "
            f"has {', '.join(schema.names)} (evolve the schema first to add columns)"
        )
    columns: dict[str, pa.ChunkedArray[Any]] = {}
    fixed, time_name = schema.fixed_names, schema.event_time_name
    for field in schema.to_arrow():
        if field.name not in names:
            if field.name in fixed:
                raise SchemaMismatchError(
                    f"table {table!r}: the data has no {field.name!r} column; every row needs "
                    f"its key ({', '.join(schema.key_names)}) and event time ({time_name})"
                )
            declared = schema.column(field.name)
            default = None if declared is None or tombstones else declared.default
            if not field.nullable and not tombstones and default is None:
                raise SchemaMismatchError(
                    f"table {table!r}: the data lacks column {field.name!r}, which is not nullable"
                )
            if default is None:
                columns[field.name] = pa.chunked_array([pa.nulls(data.num_rows, field.type)])
            else:
                assert declared is not None
                filled = pa.repeat(default_scalar(declared), data.num_rows)  # type: ignore[call-overload]
                columns[field.name] = pa.chunked_array([filled])
            continue
        column = data.column(field.name)
        checked = field.name == time_name and pa.types.is_timestamp(column.type)
        if checked:  # before the cast, which may not fit the unit (an exact cast keeps it)
            _check_event_times(column, unit_nanos(field.type), table, time_name)
        column = _cast_column(column, field.type, field.name, table)
        if field.name == time_name and not checked:  # e.g. dictionary-encoded timestamps
            _check_event_times(column, unit_nanos(field.type), table, time_name)
        nulls = column.null_count
        if nulls and (field.name in fixed or (not field.nullable and not tombstones)):
            raise SchemaMismatchError(
                f"table {table!r}: column {field.name!r} has {nulls} null value(s) but may not "
                "be null; drop or fill those rows"
            )
        columns[field.name] = column
    flag = (
        _cast_column(data.column(TOMBSTONE), pa.bool_(), TOMBSTONE, table)
        if TOMBSTONE in names
        else pa.chunked_array([pa.repeat(pa.scalar(tombstones), data.num_rows)])
    )
    columns[TOMBSTONE] = flag.fill_null(pa.scalar(False))
    return pa.table(cast(Any, columns))


def _check_event_times(column: pa.ChunkedArray[Any], per_unit: int, table: str, name: str) -> None:
    """Refuse event times outside the supported range (``docs/spec.md``, "Supported event
    times"), naming the first bad value and the range of a column of ``per_unit`` ns."""
    bounds = pc.min_max(column.cast(pa.int64()))
    least, greatest = bounds["min"].as_py(), bounds["max"].as_py()
    if least is not None:
        scale = unit_nanos(column.type)
        check_event_instants(
            least * scale,
            greatest * scale,
            per_unit,
            f"table {table!r}: column {name!r}",
            SchemaMismatchError,
        )


def dedup_last(table: pa.Table, schema: TableSchema) -> pa.Table:
    """Sorted by (key, event time); of rows with equal (key, event time) the last one wins.

    The sort is stable, so equal rows keep their input order and the last of each run is
    the one that came last.
    """
    n = table.num_rows
    if n <= 1:
        return table
    fixed = list(schema.fixed_names)
    order = pc.sort_indices(table.select(fixed), sort_keys=key_sort(fixed))
    runs = [table.column(name).take(order) for name in fixed]
    return table.take(order.filter(run_edges(*runs, first=False)))


def key_names_of(key: Any, table: str) -> tuple[str, ...]:
    """``create_table``'s ``key``: a column name or a sequence of names, checked."""
    names = (key,) if isinstance(key, str) else key
    if not isinstance(names, Sequence) or isinstance(names, bytes):
        raise InvalidArgumentError(
            f"table {table!r}: key must be a column name or a list of names, not {key!r}"
        )
    names = tuple(names)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise InvalidArgumentError(
            f"table {table!r}: key must name one column or more (non-empty strings), not {key!r}"
        )
    if len(set(names)) != len(names):
        raise InvalidArgumentError(f"table {table!r}: key names a column twice ({key!r})")
    return names


def validate_new_schema(
    schema: pa.Schema,
    table: str,
    key: Sequence[str] = (KEY,),
    event_time: str = EVENT_TIME,
) -> pa.Schema:
    """Check a schema given to create_table: the key column(s) (string, integer, date or
    timestamp; only string and integer for a table keyed by ``key``/``event_time``), the
    event-time column (a timestamp), supported types, unique names."""
    if not isinstance(schema, pa.Schema):
        raise InvalidArgumentError(
            f"table {table!r}: create_table takes a pyarrow.Schema, not {type(schema).__name__}"
        )
    if not isinstance(event_time, str) or not event_time:
        raise InvalidArgumentError(
            f"table {table!r}: event_time must be a column name, not {event_time!r}"
        )
    names = schema.names
    if len(set(names)) != len(names):
        raise SchemaMismatchError(f"table {table!r}: the schema has duplicate column names")
    if event_time in key:
        raise InvalidArgumentError(
            f"table {table!r}: {event_time!r} cannot be both the event time and part of the key"
        )
    for required, role in [*((k, "key") for k in key), (event_time, "event-time")]:
        if required not in names:
            raise SchemaMismatchError(
                f"table {table!r}: the schema needs a {required!r} column (the {role} column; "
                f"it has {', '.join(names)}); name the key column(s) with key= and the event "
                "time with event_time="
            )
    for name in key:
        key_type = schema.field(name).type
        if not key_kind_ok(key_type):
            raise SchemaMismatchError(
                f"table {table!r}: key type {key_type} of column {name!r} is not supported; a "
                "key column must be a string, integer, date or timestamp column"
            )
    event_type = schema.field(event_time).type
    if not pa.types.is_timestamp(event_type):
        raise SchemaMismatchError(
            f"table {table!r}: {event_time} must be a timestamp, not {event_type}"
        )
    if TOMBSTONE in names or any(n.startswith("_azof") for n in names):
        raise SchemaMismatchError(f"table {table!r}: column names starting '_azof' are reserved")
    return schema
