"""Appending rows and delete events to a table: conform, write files, commit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from azof.errors import AzofError, InvalidArgumentError
from azof.format import EVENT_TIME, KEY, TOMBSTONE, DataFile, Snapshot, TableSchema
from azof.format.types import unit_nanos
from azof.storage import Storage
from azof.timestamps import Instant, parse_instant
from azof.write.commit import append_files, commit_snapshot
from azof.write.conform import conform, iter_input_batches
from azof.write.files import write_sorted

__all__ = ["FILE_ROWS", "append_data", "event_time_scalar", "tombstones"]

FILE_ROWS = 4 * 1024 * 1024
"""Rows per data file written by one append (a larger input becomes several files)."""


def event_time_scalar(value: Any, schema: TableSchema, what: str = "event_time") -> pa.Scalar[Any]:
    """A user's event time as a scalar of the table's event-time type (exact or refused)."""
    instant = parse_instant(value, what)
    dtype = schema.event_time_type
    per_unit = unit_nanos(dtype)
    if instant % per_unit:
        raise InvalidArgumentError(
            f"{what} {value!s} is finer than the table's event-time unit "
            f"({1_000_000_000 // per_unit} per second)"
        )
    return pa.scalar(instant // per_unit, type=dtype)


def tombstones(schema: TableSchema, keys: Iterable[Any], when: Instant) -> pa.Table:
    """Delete events: one row per key at event time ``when``, values null."""
    key_list = list(keys)
    dtype = schema.event_time_type
    per_unit = unit_nanos(dtype)
    try:
        key_array = pa.array(key_list, type=schema.key_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise InvalidArgumentError(
            f"keys to delete must be of the key type {schema.key_type}: {exc}"
        ) from None
    return pa.table(
        {
            KEY: key_array,
            EVENT_TIME: pa.array([when // per_unit] * len(key_list), type=dtype),
            TOMBSTONE: pa.array([True] * len(key_list), pa.bool_()),
        }
    )


def _chunks(data: Any, schema: TableSchema, table: str, deleting: bool) -> Iterable[pa.Table]:
    """Conformed tables of at most FILE_ROWS rows each, in input order."""
    pending: list[pa.Table] = []
    rows = 0
    for whole in iter_input_batches(data, schema):
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
    input are removed again (and would be unreferenced anyway).
    """
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
    return commit_snapshot(storage, table, parent, build, parent_read_at=parent_read_at)
