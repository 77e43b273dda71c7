"""Keys of one or several columns (``docs/spec.md``, "Named and composite keys").

A table's key is one column or several (a composite key), each a string, integer, date or
timestamp column without nulls. Keys are ordered lexicographically by the key columns in
order, each column in Arrow's order (byte order for strings). Everything that needs one
value per key (run detection, membership, lookups) uses :func:`key_array`: the key column
itself for a one-column key, and for a composite key an order-preserving binary encoding of
the key columns, so that comparing encodings compares keys.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from azof.errors import InvalidArgumentError
from azof.format.schema import EVENT_TIME, KEY, TableSchema
from azof.timestamps import format_instant, parse_instant

__all__ = [
    "fixed_names",
    "key_array",
    "key_bounds",
    "key_from_json",
    "key_kind_ok",
    "key_sort",
    "key_table",
    "key_to_json",
    "reference_schema",
]

Rows = pa.Table | pa.RecordBatch
_compute: Any = pc  # the binary kernels' stubs are narrower than what they take


def key_kind_ok(dtype: pa.DataType) -> bool:
    """Whether a column of ``dtype`` can be (part of) a key."""
    return (
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_integer(dtype)
        or pa.types.is_date(dtype)
        or pa.types.is_timestamp(dtype)
    )


SortKeys = list[tuple[str, Literal["ascending", "descending"]]]


def key_sort(names: Sequence[str]) -> SortKeys:
    """Sort keys ordering rows by key (ascending, column by column)."""
    return [(name, "ascending") for name in names]


def _combined(column: Any) -> pa.Array[Any]:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    array: pa.Array[Any] = column
    return array


def _encode_fixed(array: pa.Array[Any]) -> pa.Array[Any]:
    """Big-endian bytes whose byte order is the value order (sign bit flipped)."""
    dtype = array.type
    if pa.types.is_date(dtype) or pa.types.is_timestamp(dtype):
        array = array.cast(pa.int64() if not pa.types.is_date32(dtype) else pa.int32())
        array = array.cast(pa.int64())
        dtype = pa.int64()
    width = dtype.bit_width // 8
    values = np.asarray(array.to_numpy(zero_copy_only=False))
    unsigned = values.view(f"u{width}")
    if pa.types.is_signed_integer(dtype):
        unsigned = unsigned ^ np.array(1 << (8 * width - 1), dtype=f"u{width}")
    data = unsigned.astype(f">u{width}").tobytes()
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), len(values), [None, pa.py_buffer(data)]
    )
    return fixed.cast(pa.binary())


def _encode_string(array: pa.Array[Any]) -> pa.Array[Any]:
    """UTF-8 bytes with 0x00 escaped as 0x00 0x01, ended by 0x00 0x00: byte order of the
    encodings is the byte order of the strings, and no encoding is a prefix of another."""
    raw = array.cast(pa.large_binary())
    escaped = _compute.replace_substring(raw, b"\x00", b"\x00\x01")
    end = pa.scalar(b"\x00\x00", pa.large_binary())
    joined: pa.Array[Any] = _compute.binary_join_element_wise(
        escaped, end, pa.scalar(b"", pa.large_binary())
    )
    return joined.cast(pa.binary())


def key_array(rows: Rows, names: Sequence[str]) -> pa.Array[Any]:
    """One value per row that orders and compares like the row's key: the key column for a
    one-column key, a binary encoding of the key columns for a composite key (null where a
    key column is null: rows to look up may lack keys; stored rows never do)."""
    if len(names) == 1:
        return _combined(rows.column(names[0]))
    parts = []
    valid: Any = None
    for name in names:
        column = _combined(rows.column(name))
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()  # type: ignore[attr-defined]
        if column.null_count:
            present = column.is_valid()
            valid = present if valid is None else pc.and_(valid, present)
            filler = (
                ""
                if pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
                else 0
            )
            column = column.fill_null(pa.scalar(filler).cast(column.type))
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            parts.append(_encode_string(column))
        else:
            parts.append(_encode_fixed(column))
    if not len(rows):
        return pa.array([], pa.binary())
    encoded: pa.Array[Any] = _compute.binary_join_element_wise(*parts, pa.scalar(b"", pa.binary()))
    if valid is not None:
        encoded = pc.if_else(valid, encoded, pa.scalar(None, pa.binary()))
    return encoded


def key_to_json(value: Any) -> Any:
    """One key column's value in JSON: a string or integer as itself, a date as
    ``YYYY-MM-DD``, a timestamp as timestamp text."""
    if isinstance(value, str | int):
        return value
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    return format_instant(parse_instant(value))  # a datetime or pandas Timestamp


def key_from_json(value: Any, dtype: pa.DataType) -> pa.Scalar[Any]:
    """The scalar of one key column from its JSON form (:func:`key_to_json`)."""
    if pa.types.is_date(dtype) and isinstance(value, str):
        return pa.scalar(dt.date.fromisoformat(value), type=dtype)
    if pa.types.is_timestamp(dtype) and isinstance(value, str):
        instant = parse_instant(value)
        return pa.scalar(instant, type=pa.timestamp("ns", tz="UTC")).cast(dtype)
    return pa.scalar(value, type=dtype)


def key_bounds(rows: Rows, names: Sequence[str]) -> tuple[Any, Any] | None:
    """The least and greatest key of ``rows`` in JSON form (a list of column values for a
    composite key), or ``None`` when there are no rows."""
    if not len(rows):
        return None
    if len(names) == 1:
        bounds: Any = pc.min_max(rows.column(names[0])).as_py()
        return key_to_json(bounds["min"]), key_to_json(bounds["max"])
    encoded = key_array(rows, names)
    least = pc.index(encoded, pc.min(encoded)).as_py()
    greatest = pc.index(encoded, pc.max(encoded)).as_py()
    low = [key_to_json(rows.column(n)[least].as_py()) for n in names]
    high = [key_to_json(rows.column(n)[greatest].as_py()) for n in names]
    return low, high


def _key_column(values: list[Any], dtype: pa.DataType, name: str, what: str) -> pa.Array[Any]:
    try:
        if (pa.types.is_date(dtype) or pa.types.is_timestamp(dtype)) and any(
            isinstance(v, str) for v in values
        ):
            return pa.array([None if v is None else key_from_json(v, dtype) for v in values])
        if pa.types.is_integer(dtype) and values and all(isinstance(v, str) for v in values):
            return pa.array(values, pa.string()).cast(dtype)  # integers written as text
        return pa.array(values, type=dtype)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"{what} must be of the key type {dtype} (key column {name!r}): {exc}"
        ) from None


def _from_pandas(frame: Any) -> pa.Table:
    table: pa.Table = pa.Table.from_pandas(frame, preserve_index=False)
    return table


def key_table(schema: TableSchema, keys: Any, what: str = "keys") -> pa.Table:
    """Keys given by a user as a table of the key columns (each of its type, no nulls).

    A one-column key takes a key or an iterable of keys. Any key takes a mapping of key
    column name to values, or an Arrow table (or a pandas or polars DataFrame) holding the
    key columns. A composite key also
    takes a tuple (one key) or an iterable of tuples, each holding the key columns' values
    in key order."""
    names = schema.key_names
    columns: dict[str, list[Any]] | None = None
    if isinstance(keys, pa.RecordBatch):
        keys = pa.Table.from_batches([keys])
    elif type(keys).__name__ == "DataFrame" and hasattr(keys, "columns"):  # pandas, polars
        keys = pa.table(keys) if hasattr(keys, "__arrow_c_stream__") else _from_pandas(keys)
    if isinstance(keys, pa.Table | Mapping):
        given = keys.column_names if isinstance(keys, pa.Table) else list(keys)
        missing = [n for n in names if n not in given]
        if missing:
            raise InvalidArgumentError(
                f"{what}: the key columns {', '.join(map(repr, missing))} are missing (the key "
                f"is {', '.join(names)})"
            )
        columns = {
            n: keys.column(n).to_pylist() if isinstance(keys, pa.Table) else list(keys[n])
            for n in names
        }
    elif len(names) == 1:
        if isinstance(keys, str | bytes | int) or not isinstance(keys, Iterable):
            keys = [keys]
        columns = {names[0]: list(keys)}
    else:
        if (
            isinstance(keys, tuple)
            and len(keys) == len(names)
            and not any(isinstance(part, tuple | list) for part in keys)
        ):
            keys = [keys]
        if isinstance(keys, str | bytes) or not isinstance(keys, Iterable):
            raise InvalidArgumentError(
                f"{what}: the key has the columns {', '.join(names)}; give a tuple of their "
                f"values, a list of such tuples, a dict of lists or an Arrow table"
            )
        rows = list(keys)
        for row in rows:
            if not isinstance(row, tuple | list) or len(row) != len(names):
                raise InvalidArgumentError(
                    f"{what}: {row!r} is not a key: a composite key is a tuple of "
                    f"{len(names)} values ({', '.join(names)})"
                )
        columns = {n: [row[i] for row in rows] for i, n in enumerate(names)}
    arrays = {}
    for column in schema.keys:
        array = _key_column(columns[column.name], column.type, column.name, what)
        if array.null_count:
            raise InvalidArgumentError(f"{what}: a key is None; keys are never null")
        arrays[column.name] = array
    return pa.table(arrays)


# -- the key names an Arrow schema carries ------------------------------------------------

_KEY_NAMES = b"azof.key"
_TIME_NAME = b"azof.event_time"


def reference_schema(schema: TableSchema) -> pa.Schema:
    """The Arrow schema of a table reference, with its key and event-time column names in
    the metadata: engines and the SQL layer find them there (:func:`fixed_names`)."""
    names = json.dumps(list(schema.key_names)).encode()
    return schema.to_arrow().with_metadata(
        {_KEY_NAMES: names, _TIME_NAME: schema.event_time_name.encode()}
    )


def fixed_names(schema: pa.Schema) -> tuple[tuple[str, ...], str]:
    """The key column names and the event-time name of a :func:`reference_schema`
    (``key`` and ``event_time`` for a schema without them)."""
    metadata = schema.metadata or {}
    keys = json.loads(metadata[_KEY_NAMES]) if _KEY_NAMES in metadata else [KEY]
    time = metadata[_TIME_NAME].decode() if _TIME_NAME in metadata else EVENT_TIME
    return tuple(keys), time
