"""Where a table's columns are in a data file (``docs/spec.md``, "Reading a data file under
a schema" and "Named and composite keys"), checked: by field id, by the name a column was
created with, or for a key or event-time column without an id by its name or former names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from azof.errors import CorruptTableError
from azof.format.schema import TOMBSTONE, Column, TableSchema
from azof.format.snapshot import DataFile
from azof.format.types import types_compatible, types_readable

__all__ = ["FileColumns", "file_columns", "renamed_fixed"]

_FIELD_ID = b"PARQUET:field_id"

FileColumns = tuple[tuple[str, str | None], ...]
"""Per column of the table (the key and event-time columns first): the file's column that
holds it, or ``None`` when the file was written before the column was added (its rows read
the column's default)."""


def _field_id(field: pa.Field[Any]) -> int | None:
    metadata = field.metadata
    if not metadata or _FIELD_ID not in metadata:
        return None
    try:
        return int(metadata[_FIELD_ID])
    except ValueError:
        return None


def file_columns(
    table: str, schema: TableSchema, data_file: DataFile, physical: pa.Schema
) -> FileColumns:
    """Where each column of ``schema`` is in a data file (``docs/spec.md``, "Schema
    evolution"), checked: a key or event-time column without an id (tables before format
    4) by its name, then its former names; any other column by its field id, or by the name
    it was created with in a file without field ids (seed files). A column the file lacks
    is corruption unless it was added after the file was written."""
    path = data_file.file
    tombstone = physical.get_field_index(TOMBSTONE)
    if tombstone >= 0 and not pa.types.is_boolean(physical.field(tombstone).type):
        raise CorruptTableError(
            f"table {table!r}: data file {path} column {TOMBSTONE!r} is "
            f"{physical.field(tombstone).type}, not bool; the file does not belong to this table"
        )
    by_id = {}
    for each in physical:
        field_id = _field_id(each)
        if field_id is not None and each.name != TOMBSTONE:
            by_id[field_id] = each.name
    out: list[tuple[str, str | None]] = []
    for column in (*schema.keys, schema.time):
        stored = _fixed_column(column, by_id, physical)
        _check_type(table, path, column.name, column.type, physical, stored, fixed=True)
        out.append((column.name, stored))
    for column in schema.columns:
        if column.added_in_schema > data_file.schema_id:
            out.append((column.name, None))  # added after the file was written
            continue
        found = by_id.get(column.id) if by_id else column.initial_name
        if found is not None and physical.get_field_index(found) < 0:
            found = None
        if found is None:
            how = f"field id {column.id}" if by_id else f"name {column.initial_name!r}"
            raise CorruptTableError(
                f"table {table!r}: data file {path} has no column {column.name!r} ({how}) that "
                f"the schema declares ({column.type}); the file does not belong to this table"
            )
        _check_type(table, path, column.name, column.type, physical, found)
        out.append((column.name, found))
    return tuple(out)


def _fixed_column(column: Column, by_id: dict[int, str], physical: pa.Schema) -> str:
    """The file's name of a key or event-time column (its current name when not found)."""
    if column.id and by_id:
        return by_id.get(column.id, column.name)
    if column.id:
        return column.initial_name
    for name in (column.name, *(r.name for r in reversed(column.renames))):
        if physical.get_field_index(name) >= 0:
            return name
    return column.name


def _check_type(
    table: str,
    path: str,
    name: str,
    declared: pa.DataType,
    physical: pa.Schema,
    found: str,
    *,
    fixed: bool = False,
) -> None:
    index = physical.get_field_index(found)
    if index < 0:
        raise CorruptTableError(
            f"table {table!r}: data file {path} has no column {name!r} that the schema "
            f"declares ({declared}); the file does not belong to this table"
        )
    dtype = physical.field(index).type
    compatible = types_compatible if fixed else types_readable
    if not compatible(declared, dtype):
        where = repr(name) if found == name else f"{name!r} (stored as {found!r})"
        raise CorruptTableError(
            f"table {table!r}: data file {path} column {where} is {dtype}, but the "
            f"schema declares {declared}"
        )


def renamed_fixed(located: FileColumns, fixed: Sequence[str]) -> bool:
    """Whether a file holds a key or event-time column under a former name."""
    return any(found != name for name, found in located if name in fixed)
