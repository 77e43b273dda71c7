"""Encoding Arrow rows as text lines, column by column with Arrow compute (no Python loop
over rows): plain tab-separated text, CSV and JSON lines.

Each encoder turns a record batch into the UTF-8 bytes of its lines. Every column is first
made text (:func:`text_array`: timestamps as RFC 3339 in UTC, numbers and booleans as Arrow
prints them), then escaped or quoted for the format, then the columns of a row are joined
(``binary_join_element_wise``) and the lines taken as one buffer. Only values Arrow cannot
print itself (binary, nested and map values) go through Python, one value at a time.

The formats (stable; tests hold them):

- plain: fields separated by a tab; nulls empty; tab, newline, carriage return and
  backslash inside values escaped as ``\\t``, ``\\n``, ``\\r`` and ``\\\\``;
- CSV (RFC 4180): a field is quoted only when it holds a comma, a quote or a line break
  (quotes doubled inside); nulls empty;
- JSON lines: one object per row; timestamps as RFC 3339 text, NaN and infinities as null,
  maps as objects, decimals and binary (hex) as text.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeAlias, cast

import pyarrow as pa
import pyarrow.compute as pc_typed

__all__ = [
    "BATCH_ROWS",
    "csv_header",
    "csv_lines",
    "encode_rows",
    "json_lines",
    "plain_header",
    "plain_lines",
    "text_array",
]

BATCH_ROWS = 262_144
"""Rows encoded at a time (bounds the memory of an export, whatever its size)."""

_PLAIN_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))
_JSON_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))
_CONTROL = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]"

Array: TypeAlias = "pa.Array[Any]"
pc: Any = pc_typed  # the compute stubs take no plain str for a scalar; values are checked here
Encoder = Callable[[pa.RecordBatch], bytes]


def _is_text(dtype: pa.DataType) -> bool:
    return pa.types.is_string(dtype) or pa.types.is_large_string(dtype)


def _python_text(column: Array, render: Callable[[Any], str]) -> Array:
    return pa.array([None if v is None else render(v) for v in column.to_pylist()], pa.string())


def _nested_text(column: Array, *, strict: bool) -> Array:
    """Nested values as JSON text, in Python; ``strict``: maps as objects, timestamps as
    RFC 3339 and NaN as null (for JSON lines), else as Python gives them (for display)."""
    dtype = column.type

    def render(value: Any) -> str:
        ready = _json_ready(value, dtype) if strict else value
        return json.dumps(ready, ensure_ascii=False, default=json_default)

    return _python_text(column, render)


def text_array(column: Array) -> Array:
    """The display text of every value (null stays null): timestamps as RFC 3339 in UTC with
    the column's precision, booleans as true/false, nested values as JSON, binary as hex."""
    dtype = column.type
    if pa.types.is_dictionary(dtype):
        return text_array(cast(Any, column).dictionary_decode())
    if pa.types.is_timestamp(dtype):
        return timestamp_text(column)
    if _is_text(dtype):
        return column
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return _python_text(column, bytes.hex)
    if pa.types.is_nested(dtype):
        return _nested_text(column, strict=False)
    try:
        return column.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _python_text(column, str)


def timestamp_text(column: Array) -> Array:
    """Timestamps as RFC 3339 text in UTC (naive ones are UTC), with the unit's digits.

    The stored values are UTC whatever the column's zone, so they are printed as naive
    ones (Arrow's zone-aware printing and ``strftime`` look the zone up value by value,
    20 times slower), then the space becomes ``T`` and a ``Z`` is added."""
    dtype = cast(pa.TimestampType, column.type)
    text = column.view(pa.timestamp(dtype.unit)).cast(pa.string())
    text = pc.binary_replace_slice(text, start=10, stop=11, replacement="T")
    return cast(Array, pc.binary_join_element_wise(text, "Z", ""))


def _plain_text(dtype: pa.DataType) -> bool:
    """Whether the text of ``dtype``'s values never holds quotes, separators or line
    breaks (numbers, booleans, times): such columns skip escaping and quoting."""
    return (
        pa.types.is_integer(dtype)
        or pa.types.is_floating(dtype)
        or pa.types.is_boolean(dtype)
        or pa.types.is_temporal(dtype)
        or pa.types.is_decimal(dtype)
    )


def _replace_all(text: Array, pairs: tuple[tuple[str, str], ...]) -> Array:
    """``text`` with each ``old`` replaced by its ``new``, in order (a pass per ``old``
    that occurs at all)."""
    for old, new in pairs:
        if pc.any(pc.match_substring(text, old)).as_py():
            text = pc.replace_substring(text, old, new)
    return text


def _lines(parts: list[Array | str]) -> bytes:
    """Every row's line (its ``parts`` concatenated, text in between included, then a
    newline) as one UTF-8 buffer, built by one join; the arrays hold no nulls."""
    lines = pc.binary_join_element_wise(*parts, "\n", "")
    _validity, offset_buffer, data = lines.buffers()
    width = pa.int64() if pa.types.is_large_string(lines.type) else pa.int32()
    offsets = pa.Array.from_buffers(width, len(lines) + 1, [None, offset_buffer], 0, lines.offset)
    start, end = offsets[0].as_py(), offsets[-1].as_py()
    return b"" if data is None else data.slice(start, end - start).to_pybytes()


def _separated(fields: list[Array], separator: str) -> list[Array | str]:
    """``field1, separator, field2, ...``: the parts of a line (see :func:`_lines`)."""
    parts: list[Array | str] = []
    for field in fields:
        parts += [separator, field] if parts else [field]
    return parts


# -- plain ----------------------------------------------------------------------------------


def plain_header(names: list[str]) -> bytes:
    return _plain_header_text(names).encode()


def _plain_header_text(names: list[str]) -> str:
    escapes = str.maketrans(dict(_PLAIN_ESCAPES))
    return "\t".join(name.translate(escapes) for name in names) + "\n"


def plain_lines(batch: pa.RecordBatch) -> bytes:
    """The rows as plain tab-separated lines (see the module docstring)."""
    fields = []
    for column in batch.columns:
        text = text_array(column)
        if not _plain_text(column.type):
            text = _replace_all(text, _PLAIN_ESCAPES)
        fields.append(text.fill_null(""))
    return _lines(_separated(fields, "\t"))


# -- CSV ------------------------------------------------------------------------------------


def _csv_quoted(text: Array) -> Array:
    """Fields that need quotes (comma, quote, line break) quoted, quotes doubled."""
    needs = pc.match_substring_regex(text, '[",\r\n]')
    if not pc.any(needs).as_py():
        return text
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    return cast(Array, pc.if_else(needs, quoted, text))


def csv_header(names: list[str]) -> bytes:
    quoted = _csv_quoted(pa.array(names, pa.string())).to_pylist()
    return (",".join(str(name) for name in quoted) + "\n").encode()


def csv_lines(batch: pa.RecordBatch) -> bytes:
    """The rows as CSV lines (see the module docstring)."""
    fields = []
    for column in batch.columns:
        text = text_array(column)
        if not _plain_text(column.type):
            text = _csv_quoted(text)
        fields.append(text.fill_null(""))
    return _lines(_separated(fields, ","))


# -- JSON lines -----------------------------------------------------------------------------


def _json_string(text: Array, *, escape: bool = True) -> Array:
    """Text as JSON strings: escaped (unless it cannot need it) and quoted; null stays null."""
    if escape:
        text = _replace_all(text, _JSON_ESCAPES)
        if pc.any(pc.match_substring_regex(text, _CONTROL)).as_py():
            for code in [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]:
                text = pc.replace_substring(text, chr(code), f"\\u{code:04x}")
    return cast(Array, pc.binary_join_element_wise('"', text, '"', ""))


def _json_values(column: Array) -> Array:
    """Every value as JSON text (null as ``null``)."""
    dtype = column.type
    if pa.types.is_dictionary(dtype):
        return _json_values(cast(Any, column).dictionary_decode())
    if pa.types.is_integer(dtype) or pa.types.is_boolean(dtype):
        values = column.cast(pa.string())
    elif pa.types.is_floating(dtype):
        finite = pc.is_finite(column)
        values = pc.if_else(finite, column.cast(pa.string()), pa.scalar(None, pa.string()))
    elif pa.types.is_nested(dtype):
        values = _nested_text(column, strict=True)
    else:
        values = _json_string(text_array(column), escape=not _plain_text(dtype))
    return cast(Array, values.fill_null("null"))


def _polars_ready(batch: pa.RecordBatch) -> pa.RecordBatch | None:
    """``batch`` with timestamps as RFC 3339 text, for polars' ``write_ndjson`` (which
    writes the rest as azof does: NaN as null, strings escaped), or ``None`` when polars is
    not installed or a column is of a type it would write otherwise (nested, binary,
    decimal, dictionary, time, duration)."""
    try:
        import polars  # noqa: F401  # an optional extra: without it, pyarrow alone
    except ImportError:
        return None
    columns = []
    for column in batch.columns:
        dtype = column.type
        if pa.types.is_timestamp(dtype):
            column = timestamp_text(column)
        elif not (
            _is_text(dtype)
            or pa.types.is_integer(dtype)
            or pa.types.is_floating(dtype)
            or pa.types.is_boolean(dtype)
            or pa.types.is_date32(dtype)
        ):
            return None
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def json_lines(batch: pa.RecordBatch) -> bytes:
    """The rows as JSON lines (see the module docstring): by polars' NDJSON writer when
    polars is installed and the columns allow, else by Arrow compute."""
    ready = _polars_ready(batch) if batch.num_columns else None
    if ready is not None:
        import polars

        sink = io.BytesIO()
        polars.DataFrame(ready).write_ndjson(sink)
        return sink.getvalue()
    if not batch.num_columns:
        return b"{}\n" * batch.num_rows
    parts: list[Array | str] = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        parts += ["," if parts else "{", json.dumps(name, ensure_ascii=False) + ":"]
        parts.append(_json_values(column))
    return _lines([*parts, "}"])


def _json_ready(value: Any, dtype: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_map(dtype):
        map_type = cast(Any, dtype)
        return {str(k): _json_ready(v, map_type.item_type) for k, v in value}
    if pa.types.is_struct(dtype):
        struct = dtype
        fields = [struct.field(i) for i in range(struct.num_fields)]
        return {f.name: _json_ready(value.get(f.name), f.type) for f in fields}
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        item = cast(Any, dtype).value_type
        return [_json_ready(v, item) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime) and pa.types.is_timestamp(dtype):
        return timestamp_text(pa.array([value], dtype))[0].as_py()
    return value


def json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def encode_rows(
    table: pa.Table, encode: Encoder, batch_rows: int = BATCH_ROWS
) -> Iterator[tuple[bytes, int]]:
    """``(bytes, rows)`` of ``table``, ``batch_rows`` rows at a time."""
    for batch in table.to_batches(max_chunksize=batch_rows):
        if batch.num_rows:
            yield encode(batch), batch.num_rows
