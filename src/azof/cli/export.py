"""Encoding Arrow rows as text lines, column by column with Arrow compute (no Python loop
over rows): plain tab-separated text, CSV and JSON lines.

Each encoder turns a record batch into the UTF-8 bytes of its lines. Every column is first
made text (:func:`text_array`: timestamps as RFC 3339 in UTC, numbers and booleans as Arrow
prints them), then escaped or quoted for the format, then the columns of a row are joined
(``binary_join_element_wise``) and the lines taken as one buffer. Only values Arrow cannot
print itself (binary, nested and map values) go through Python, one value at a time. A join
takes 64-bit offsets (``large_string``) whenever its result might pass 2 GiB.
:func:`write_rows` writes a table: JSON lines go to polars' NDJSON writer when polars is
installed and the columns allow (timestamps made text first), in slices of a million rows.

The formats (stable; tests hold them):

- plain: fields separated by a tab; nulls empty; tab, newline, carriage return and
  backslash inside values escaped as ``\\t``, ``\\n``, ``\\r`` and ``\\\\``;
- CSV (RFC 4180): a field is quoted only when it holds a comma, a quote or a line break
  (quotes doubled inside); nulls empty;
- JSON lines: one object per row; timestamps as RFC 3339 text, NaN and infinities as null,
  maps as objects, decimals and binary (hex) as text;
- timestamps (every format): RFC 3339 in UTC with the unit's digits and a four-digit
  year; years outside 0001-9999 in ISO 8601's expanded form (``+12000-01-01T...Z``).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import IO, Any, TypeAlias, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc_typed

__all__ = [
    "BATCH_ROWS",
    "POLARS_ROWS",
    "csv_header",
    "csv_lines",
    "json_lines",
    "plain_header",
    "plain_lines",
    "text_array",
    "timestamp_text",
    "write_rows",
]

BATCH_ROWS = 262_144
"""Rows encoded by Arrow compute at a time (bounds the memory of an export)."""
POLARS_ROWS = 1_048_576
"""Rows handed to polars' NDJSON writer at a time."""

_PLAIN_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))
_JSON_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))
_CONTROL = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]"

Array: TypeAlias = "pa.Array[Any]"
pc: Any = pc_typed  # the compute stubs take no plain str for a scalar; values are checked here
Encoder = Callable[[pa.RecordBatch], bytes]


def _is_text(dtype: pa.DataType) -> bool:
    return pa.types.is_string(dtype) or pa.types.is_large_string(dtype)


def _python_text(column: Array, render: Callable[[Any], str]) -> Array:
    """Each value's text by ``render`` in Python (``large_string`` when it may pass 2 GiB)."""
    texts = [None if v is None else render(v) for v in column.to_pylist()]
    utf8_bound = 4 * sum(len(text) for text in texts if text is not None)
    return pa.array(texts, pa.large_string() if utf8_bound > _OFFSET_LIMIT else pa.string())


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


_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_FIRST_DAY = -719_162
"""Days from 1970-01-01 back to 0001-01-01: the first day printed with a 4-digit year."""
_PAST_LAST_DAY = 2_932_897
"""Days from 1970-01-01 to 10000-01-01: the first day past the 4-digit years."""
_CYCLE_DAYS = 146_097
"""Days in 400 Gregorian years (the calendar repeats after them)."""


def timestamp_text(column: Array) -> Array:
    """Timestamps as RFC 3339 text in UTC (naive ones are UTC), with the unit's digits:
    ``2024-03-15T14:30:00.000Z``; years outside 0001-9999 in ISO 8601's expanded form
    (``+12000-01-01T...``, ``-0044-03-15T...``).

    The stored values are UTC whatever the column's zone, so they are printed by Arrow as
    naive ones (its zone-aware printing and ``strftime`` look the zone up value by value,
    20 times slower); every such text has the same width, so the space becomes ``T`` and
    a ``Z`` is added in one pass over a fixed-width view of the bytes. Values outside
    years 0001-9999 (never event times, which lie in 1678-2261) are formatted in Python."""
    unit = cast(pa.TimestampType, column.type).unit
    values = column.view(pa.int64())
    per_day = 86_400 * _PER_SECOND[unit]
    least, greatest = _FIRST_DAY * per_day, _PAST_LAST_DAY * per_day - 1
    bounds = pc.min_max(values).as_py()
    if bounds["min"] is None or (bounds["min"] >= least and bounds["max"] <= greatest):
        return _four_digit_years(column, unit)
    inside = pc.and_kleene(pc.greater_equal(values, least), pc.less_equal(values, greatest))
    fast = _four_digit_years(pc.if_else(inside, column, None), unit)
    slow = [
        None if value is None or ok else _expanded_text(value, unit)
        for value, ok in zip(values.to_pylist(), inside.to_pylist(), strict=True)
    ]
    return cast(Array, pc.if_else(inside, fast, pa.array(slow, pa.string())))


def _four_digit_years(column: Array, unit: str) -> Array:
    """:func:`timestamp_text` of values all inside years 0001-9999 (or null)."""
    text = column.view(pa.timestamp(unit)).cast(pa.string())
    width = 19 + len(str(_PER_SECOND[unit])) - 1 + (unit != "s")  # '.' and the digits
    filled = text.fill_null("0" * width) if text.null_count else text
    count = len(filled)
    if not count:
        return text
    _validity, offsets, data = filled.buffers()
    if offsets is None or data is None:
        return _reshaped(text)
    ends = np.frombuffer(cast(Any, offsets), np.int32, count + 1, filled.offset * 4)
    start = int(ends[0])
    if int(ends[-1]) - start != count * width:
        return _reshaped(text)  # Arrow printed a value with another width: value by value
    lines = np.frombuffer(cast(Any, data), np.uint8, count * width, start)
    lines = lines.reshape(count, width)
    out = np.empty((count, width + 1), np.uint8)
    out[:, :width] = lines
    out[:, 10] = ord("T")
    out[:, width] = ord("Z")
    size = count * (width + 1)
    large = size > _OFFSET_LIMIT
    ends = np.arange(0, size + 1, width + 1, dtype=np.int64 if large else np.int32)
    validity = pc.is_valid(text).buffers()[1] if text.null_count else None  # at offset 0
    return pa.Array.from_buffers(
        pa.large_string() if large else pa.string(),
        count,
        [validity, pa.py_buffer(cast(Any, ends)), pa.py_buffer(cast(Any, out))],
        text.null_count,
    )


def _reshaped(text: Array) -> Array:
    """``YYYY-MM-DD hh:mm:ss`` text as ``YYYY-MM-DDThh:mm:ssZ``, value by value in Arrow."""
    text = pc.binary_replace_slice(text, start=10, stop=11, replacement="T")
    return _concat([text, "Z"])


def _expanded_text(value: int, unit: str) -> str:
    """RFC 3339 text of a value outside years 0001-9999, its year in ISO 8601's expanded
    form (a sign and at least four digits): the day is moved by whole 400-year cycles
    into the years Python's ``datetime`` holds, and the year moved back."""
    per_second = _PER_SECOND[unit]
    seconds, fraction = divmod(value, per_second)
    days, second_of_day = divmod(seconds, 86_400)
    cycles = (days - 10_957) // _CYCLE_DAYS  # 10,957: days to 2000-01-01
    day = date(1970, 1, 1) + timedelta(days=days - cycles * _CYCLE_DAYS)
    year = day.year + 400 * cycles
    clock = f"{second_of_day // 3600:02d}:{second_of_day // 60 % 60:02d}:{second_of_day % 60:02d}"
    digits = len(str(per_second)) - 1
    fraction_text = f".{fraction:0{digits}d}" if digits else ""
    return f"{year:+05d}-{day.month:02d}-{day.day:02d}T{clock}{fraction_text}Z"


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
            text = pc.replace_substring(_roomy(text, len(new)), old, new)
    return text


_OFFSET_LIMIT = 2**31 - 1
"""The most bytes an array of ``pa.string()`` holds (32-bit offsets)."""


def _roomy(text: Array, growth: int) -> Array:
    """``text`` as ``large_string`` (64-bit offsets) when growing ``growth``-fold might
    not fit the 32-bit offsets of ``pa.string()``."""
    if pa.types.is_large_string(text.type) or text.nbytes * growth <= _OFFSET_LIMIT:
        return text
    return cast(Array, text.cast(pa.large_string()))


def _concat(parts: list[Array | str]) -> Array:
    """The row-wise concatenation of ``parts`` (arrays, and literal text; null where an
    array is):
    ``large_string`` when a part is one or when the result might not fit 32-bit offsets
    (the parts' bytes bound its size)."""
    arrays = [part for part in parts if not isinstance(part, str)]
    rows = len(arrays[0]) if arrays else 0
    fixed = sum(len(part.encode()) for part in parts if isinstance(part, str))
    size = sum(array.nbytes for array in arrays) + rows * fixed
    large = size > _OFFSET_LIMIT or any(pa.types.is_large_string(a.type) for a in arrays)
    text = pa.large_string() if large else pa.string()
    return cast(
        Array,
        pc.binary_join_element_wise(
            *[pa.scalar(p, text) if isinstance(p, str) else p.cast(text) for p in parts],
            pa.scalar("", text),
        ),
    )


def _lines(parts: list[Array | str]) -> bytes:
    """Every row's line (its ``parts`` concatenated, text in between included, then a
    newline) as one UTF-8 buffer, built by one join; the arrays hold no nulls."""
    lines = _concat([*parts, "\n"])
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
    text = _roomy(text, 2)
    quoted = _concat(['"', pc.replace_substring(text, '"', '""'), '"'])
    return cast(Array, pc.if_else(needs, quoted, text.cast(quoted.type)))


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
                text = pc.replace_substring(_roomy(text, 6), chr(code), f"\\u{code:04x}")
    return _concat(['"', text, '"'])


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


def _polars_types(schema: pa.Schema) -> bool:
    """Whether polars is installed and writes every column of ``schema`` as azof does
    (text, numbers with NaN as null, booleans, dates; timestamps once made text), not
    otherwise (nested, binary, decimal, dictionary, time, duration)."""
    try:
        import polars  # noqa: F401  # an optional extra: without it, pyarrow alone
    except ImportError:
        return False
    return len(schema) > 0 and all(
        _is_text(t)
        or pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_date32(t)
        or pa.types.is_timestamp(t)
        for t in schema.types
    )


def _polars_frame(table: pa.Table) -> Any:
    """``table`` as a polars DataFrame for ``write_ndjson``: timestamps made RFC 3339 text,
    text as Arrow string views (which polars takes without a copy)."""
    import polars

    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            chunks = [timestamp_text(c).cast(pa.string_view()) for c in column.chunks]
            column = pa.chunked_array(chunks, pa.string_view())
        elif _is_text(column.type):
            column = column.cast(pa.string_view())
        columns.append(column)
    return polars.from_arrow(pa.table(columns, names=table.column_names), rechunk=False)


def _polars_json(table: pa.Table) -> bytes:
    """JSON lines by polars' ``write_ndjson`` (see :func:`_polars_frame`)."""
    sink = io.BytesIO()
    _polars_frame(table).write_ndjson(sink)
    return sink.getvalue()


def json_lines(rows: pa.RecordBatch | pa.Table) -> bytes:
    """The rows as JSON lines (see the module docstring): by polars' NDJSON writer when
    polars is installed and the columns allow, else by Arrow compute."""
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_batches([rows])
    if _polars_types(table.schema):
        return _polars_json(table)
    return b"".join(_arrow_json_lines(batch) for batch in table.to_batches())


def _arrow_json_lines(batch: pa.RecordBatch) -> bytes:
    """JSON lines by Arrow compute, column by column."""
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


_FORMATS: dict[str, tuple[Callable[[list[str]], bytes] | None, Encoder]] = {
    "table": (plain_header, plain_lines),
    "csv": (csv_header, csv_lines),
    "json": (None, _arrow_json_lines),
}


class _Sink(io.RawIOBase):
    """``sink`` for polars, keeping the error a write of it raised (polars turns it into
    an ``OSError`` without ``errno``, so that a closed pipe would no longer be seen)."""

    def __init__(self, sink: IO[bytes]) -> None:
        super().__init__()
        self._sink = sink
        self.error: Exception | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        try:
            self._sink.write(data)
        except Exception as exc:
            self.error = exc
            raise
        return memoryview(data).nbytes


def write_rows(
    table: pa.Table,
    output_format: str,
    sink: IO[bytes],
    update: Callable[[int], None] | None = None,
) -> None:
    """Write ``table`` to ``sink`` in a text format (``table``: plain, ``csv`` or
    ``json``): the header, then the rows a slice at a time, calling ``update(rows done)``
    after each slice.

    JSON lines go to polars' writer, which writes into ``sink`` itself, when it can take
    the columns, in slices of :data:`POLARS_ROWS`; the rest are encoded by Arrow compute in
    batches of at most :data:`BATCH_ROWS`."""
    header, encode = _FORMATS[output_format]
    if header is not None:
        sink.write(header(table.column_names))
    done = 0
    if output_format == "json" and _polars_types(table.schema):
        target = _Sink(sink)
        for offset in range(0, table.num_rows, POLARS_ROWS):
            part = table.slice(offset, POLARS_ROWS)
            try:
                _polars_frame(part).write_ndjson(target)
            except Exception:
                if target.error is not None:  # polars reports the sink's own error less well
                    raise target.error from None
                raise
            done += part.num_rows
            if update is not None:
                update(done)
        return
    for batch in table.to_batches(max_chunksize=BATCH_ROWS):
        if batch.num_rows:
            sink.write(encode(batch))
            done += batch.num_rows
            if update is not None:
                update(done)
