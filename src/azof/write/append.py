"""Appending rows and delete events to a table: conform, write files, commit."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from azof.errors import AzofError, InvalidArgumentError
from azof.format import TOMBSTONE, DataFile, Snapshot, TableSchema
from azof.format.keys import key_table
from azof.format.types import unit_nanos
from azof.storage import Storage
from azof.timestamps import Instant, check_event_instants, exact_units, parse_instant
from azof.write.commit import append_files, commit_snapshot
from azof.write.conform import conform
from azof.write.files import write_sorted
from azof.write.inputs import input_tables
from azof.write.properties import commit_properties

__all__ = [
    "FILE_ROWS",
    "append_data",
    "delete_instant",
    "event_time_scalar",
    "key_list",
    "put_row",
    "tombstones",
]

FILE_ROWS = 4 * 1024 * 1024
"""Rows per data file written by one append (a larger input becomes several files)."""


def event_time_scalar(value: Any, schema: TableSchema, what: str = "event_time") -> pa.Scalar[Any]:
    """A user's event time as a scalar of the table's event-time type: exact, inside the
    supported range, or refused with an :class:`InvalidArgumentError`."""
    dtype = schema.event_time_type
    per_unit = unit_nanos(dtype)
    instant = parse_instant(value, what)
    check_event_instants(instant, instant, per_unit, what)
    return pa.scalar(exact_units(instant, per_unit, what), type=dtype)


def put_row(
    schema: TableSchema, table: str, key: Any, event_time: Any, values: Mapping[str, Any]
) -> dict[str, Any]:
    """The row ``put(key, event_time, **values)`` appends.

    The key and the event time are the positional arguments; a value named like them, or
    like a reserved ``_azof*`` column (the tombstone flag: use ``delete``), is refused
    instead of silently overriding them.
    """
    for name in values:
        if name in schema.fixed_names:
            raise InvalidArgumentError(
                f"table {table!r}: put() takes the key and the event time as its first two "
                f"arguments, not as {name}=...; call put(key, event_time, column=value, ...)"
            )
        if name.startswith("_azof"):
            raise InvalidArgumentError(
                f"table {table!r}: {name!r} is reserved (column names starting '_azof'); "
                "to delete a key use delete(keys, event_time)"
            )
    # the scalar itself, exact at any unit (nanoseconds too), not a datetime
    when = event_time_scalar(event_time, schema)
    names = schema.key_names
    if len(names) == 1:
        return {names[0]: key, schema.event_time_name: when, **values}
    if not isinstance(key, tuple | list) or len(key) != len(names):
        raise InvalidArgumentError(
            f"table {table!r}: the key has the columns {', '.join(names)}; put() takes it as "
            f"a tuple of {len(names)} values, not {key!r}"
        )
    return {**dict(zip(names, key, strict=True)), schema.event_time_name: when, **values}


def key_list(keys: Any, schema: TableSchema) -> pa.Table:
    """One key or several (see :func:`~azof.format.keys.key_table`) as a table of the key
    columns."""
    if keys is None or (
        not isinstance(keys, str | bytes | int | tuple | Mapping | pa.Table | pa.RecordBatch)
        and not isinstance(keys, Iterable)
    ):
        raise InvalidArgumentError(
            f"keys must be a key or an iterable of keys, not {type(keys).__name__}"
        )
    return key_table(schema, keys, "keys to delete")


def delete_instant(event_time: Any, schema: TableSchema) -> Instant:
    """The instant a delete happens at: ``event_time`` (exact at the table's unit or refused)
    or, when ``None``, now rounded down to the unit."""
    per_unit = unit_nanos(schema.event_time_type)
    if event_time is None:
        return time.time_ns() // per_unit * per_unit
    units: int = event_time_scalar(event_time, schema).cast(pa.int64()).as_py()
    return units * per_unit


def tombstones(schema: TableSchema, keys: pa.Table, when: Instant) -> pa.Table:
    """Delete events: one row per key (``keys``: a table of the key columns, see
    :func:`~azof.format.keys.key_table`) at event time ``when``, values null."""
    dtype = schema.event_time_type
    per_unit = unit_nanos(dtype)
    n = keys.num_rows
    columns: dict[str, Any] = {name: keys.column(name) for name in schema.key_names}
    columns[schema.event_time_name] = pa.chunked_array([pa.array([when // per_unit] * n, dtype)])
    columns[TOMBSTONE] = pa.chunked_array([pa.array([True] * n, pa.bool_())])
    return pa.table(columns)


def _chunks(data: Any, schema: TableSchema, table: str, deleting: bool) -> Iterable[pa.Table]:
    """Conformed tables of at most FILE_ROWS rows each, in input order."""
    pending: list[pa.Table] = []
    rows = 0
    for whole in input_tables(data, schema, table):
        for offset in range(0, whole.num_rows, FILE_ROWS):
            part = whole.slice(offset, FILE_ROWS)
            pending.append(conform(part, schema, table, tombstones=deleting))
            rows += part.num_rows
            if rows >= FILE_ROWS:
                yield pa.concat_tables(pending)
                pending, rows = [], 0
    if pending:
        yield pa.concat_tables(pending)


def append_data(
    storage: Storage,
    table: str,
    parent: Snapshot,
    data: Any,
    *,
    operation: str = "append",
    deleting: bool = False,
    properties: Mapping[str, str] | None = None,
    parent_read_at: float | None = None,
) -> Snapshot | None:
    """Write ``data`` as new delta files and commit them; ``None`` when there were no rows.

    ``parent_read_at``: when ``parent`` was read as the latest version (``time.monotonic()``),
    see :func:`~azof.write.commit.commit_snapshot`.

    Nothing becomes visible unless every row is valid: files already written for a refused
    input are removed again (and would be unreferenced anyway). ``properties`` must map
    strings to strings (checked before anything is written).
    """
    properties = commit_properties(properties, table)
    written: list[DataFile] = []
    try:
        for chunk in _chunks(data, parent.schema, table, deleting):
            written.extend(write_sorted(storage, chunk, parent.schema, parent.buckets))
    except (AzofError, ValueError, TypeError) as exc:
        for data_file in written:
            storage.delete(data_file.file)
        if isinstance(exc, TypeError):
            raise InvalidArgumentError(f"table {table!r}: cannot append: {exc}") from None
        raise
    if not written:
        return None
    rows = sum(f.rows or 0 for f in written)
    deletes = sum(f.tombstones for f in written)
    build = append_files(written, operation, {"rows": rows, "deletes": deletes}, properties)
    return commit_snapshot(
        storage, table, parent, build, parent_read_at=parent_read_at, whole=False
    )
