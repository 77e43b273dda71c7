"""Reading what users give to ``append`` and the writers as Arrow tables, or a clear refusal.

Accepted inputs: a pyarrow ``Table``/``RecordBatch``/``RecordBatchReader``, anything with
the Arrow PyCapsule stream interface (polars, DuckDB relations...), a pandas ``DataFrame``,
a list of dicts (one per row) or a dict of columns. A stream stays a stream: it is read one
batch at a time.

Python values (lists, dicts, pandas object columns) are converted here, once, to the type
of the table column they go to; a value that does not fit is a
:class:`~azof.errors.SchemaMismatchError` naming the column, the row, the value and the
type wanted. Times in timestamp columns (datetimes, dates, ISO-8601 text, pandas/numpy
timestamps) are converted exactly or refused, like ``put`` does. Arrow data is typed
already: :func:`azof.write.conform.conform` casts it (or refuses it) afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Any, TypeAlias, cast

import pyarrow as pa

from azof.errors import InvalidArgumentError, SchemaMismatchError
from azof.format.evolution import default_scalar
from azof.format.schema import TOMBSTONE, TableSchema
from azof.write.timetext import exact_time_array, is_text, parse_time_text

__all__ = ["input_tables", "open_stream"]

_CONVERSION_ERRORS = (pa.ArrowException, OverflowError, TypeError, ValueError)
"""What pyarrow raises for a Python value it cannot convert to a type."""

_TIME_VALUES = (str, date)  # datetime and pandas.Timestamp are dates too


def input_tables(data: Any, schema: TableSchema, table: str) -> Iterator[pa.Table]:
    """The input as Arrow tables, in order (a stream one batch at a time); Python values
    typed by ``schema``, text in timestamp columns parsed. Bad input is an ``AzofError``
    (``table`` names the table)."""
    first_row = 0
    for part in _arrow_tables(data, schema, table):
        yield _times_from_text(part, schema, table, first_row)
        first_row += part.num_rows


def _times_from_text(part: pa.Table, schema: TableSchema, table: str, first_row: int) -> pa.Table:
    """``part`` with its text columns that go to timestamp columns parsed (ISO-8601, no
    offset = UTC; see :mod:`azof.write.timetext`)."""
    for index, name in enumerate(part.column_names):
        target = _target(name, schema)
        column = part.column(index)
        if target is None or not pa.types.is_timestamp(target.type) or not is_text(column.type):
            continue
        place = _place(table, name)
        event_time = name == schema.event_time_name
        parsed = parse_time_text(column, target.type, place, first_row, event_time=event_time)
        part = part.set_column(index, pa.field(name, parsed.type), parsed)
    return part


def _arrow_tables(data: Any, schema: TableSchema, table: str) -> Iterator[pa.Table]:
    if isinstance(data, pa.Table):
        yield data
    elif isinstance(data, pa.RecordBatch):
        yield pa.Table.from_batches([data])
    elif isinstance(data, pa.RecordBatchReader):
        yield from _read_stream(data, table)
    elif isinstance(data, Mapping):
        yield _from_python(_mapping_columns(data, table), schema, table)
    elif isinstance(data, Sequence) and not isinstance(data, (str, bytes, bytearray)):
        yield _from_python(_row_columns(data, table, schema), schema, table)
    elif _is_pandas_frame(data):
        yield _from_pandas(data, schema, table)
    elif hasattr(data, "__arrow_c_stream__"):
        yield from _read_stream(open_stream(data, table), table)
    else:
        raise InvalidArgumentError(
            f"table {table!r}: cannot write a {type(data).__name__}; pass a pyarrow Table/"
            "RecordBatch/RecordBatchReader, a pandas or polars DataFrame, a list of dicts or "
            "a dict of lists"
        )


def open_stream(data: Any, table: str) -> pa.RecordBatchReader:
    """``data`` (an object with ``__arrow_c_stream__``) as a reader, or an
    :class:`InvalidArgumentError` saying why it cannot be read."""
    try:
        return pa.RecordBatchReader.from_stream(data)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"table {table!r}: cannot read the {type(data).__name__} given as data "
            f"through the Arrow stream interface: {_first_line(exc)}"
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _read_stream(reader: pa.RecordBatchReader, table: str) -> Iterator[pa.Table]:
    batches = iter(reader)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except pa.ArrowException as exc:
            raise InvalidArgumentError(
                f"table {table!r}: reading the input stream failed: {_first_line(exc)}"
            ) from None
        yield pa.Table.from_batches([batch])


def _is_pandas_frame(data: Any) -> bool:
    kind = type(data)
    return kind.__module__.startswith("pandas") and any(
        base.__name__ == "DataFrame" for base in kind.__mro__
    )


# -- column names and shapes ----------------------------------------------------------------


def _column_name(name: Any, table: str) -> str:
    if not isinstance(name, str):
        raise SchemaMismatchError(
            f"table {table!r}: column names must be strings, not {name!r} "
            f"({type(name).__name__}); rename the column"
        )
    return name


Column: TypeAlias = "Sequence[Any] | pa.Array[Any] | pa.ChunkedArray[Any]"
"""A column of Python values, or an Arrow array (kept as it is)."""


def _mapping_columns(data: Mapping[Any, Any], table: str) -> dict[str, Column]:
    """A dict of columns: each value a list (or array) of the column's values."""
    columns: dict[str, Column] = {}
    for raw_name, values in data.items():
        name = _column_name(raw_name, table)
        if isinstance(values, (pa.Array, pa.ChunkedArray)):
            columns[name] = values
            continue
        if isinstance(values, (str, bytes, bytearray, Mapping)) or not hasattr(values, "__iter__"):
            raise InvalidArgumentError(
                f"table {table!r}: a dict given as data maps column names to lists of "
                f"values, but column {name!r} holds a {type(values).__name__}"
            )
        columns[name] = list(values)
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name!r}: {length}" for name, length in lengths.items())
        raise SchemaMismatchError(
            f"table {table!r}: the columns given have different lengths ({shown}); every "
            "column needs one value per row"
        )
    return columns


def _row_columns(rows: Sequence[Any], table: str, schema: TableSchema) -> dict[str, Column]:
    """A list of dicts (one per row) as columns. A key a row lacks is the column's default
    in that row (as for a column every row lacks), null when it has none; an explicit
    ``None`` is null."""
    rows = list(rows)
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InvalidArgumentError(
                f"table {table!r}: a list given as data must hold dicts (one per row); "
                f"item {index} is a {type(row).__name__}"
            )
    names = dict.fromkeys(name for row in rows for name in row)
    for name in names:
        _column_name(name, table)
    defaults = {c.name: c for c in schema.columns if c.default is not None}
    columns: dict[str, Column] = {}
    for name in names:
        if name not in defaults:
            columns[name] = [row.get(name) for row in rows]
            continue
        fill = default_scalar(defaults[name]).as_py()
        columns[name] = [
            row[name] if name in row else None if row.get(TOMBSTONE) else fill for row in rows
        ]
    return columns


# -- Python values -> Arrow ----------------------------------------------------------------


def _target(name: str, schema: TableSchema) -> pa.Field[Any] | None:
    """The field a column of the data is written to (``None``: the table has no such
    column, which :func:`~azof.write.conform.conform` refuses by name)."""
    if name in schema.names:
        return schema.field(name)
    if name == TOMBSTONE:
        return pa.field(TOMBSTONE, pa.bool_())
    return None


def _from_python(columns: Mapping[str, Column], schema: TableSchema, table: str) -> pa.Table:
    arrays: dict[str, pa.Array[Any] | pa.ChunkedArray[Any]] = {}
    for name, values in columns.items():
        if isinstance(values, (pa.Array, pa.ChunkedArray)):
            arrays[name] = values
        else:
            target = _target(name, schema)
            arrays[name] = _python_array(values, target, schema, table, pandas=False)
    return pa.table(cast(Any, arrays))


def _place(table: str, name: str) -> str:
    return f"table {table!r}: column {name!r}"


def _is_time(value: Any) -> bool:
    return isinstance(value, _TIME_VALUES) or type(value).__name__ == "datetime64"


def _python_array(
    values: Sequence[Any],
    target: pa.Field[Any] | None,
    schema: TableSchema,
    table: str,
    *,
    pandas: bool,
) -> pa.Array[Any]:
    """``values`` as an array of the target's type, or a :class:`SchemaMismatchError`
    naming the first value that does not fit. ``pandas``: NaN and NaT are nulls."""
    if target is None:
        return pa.nulls(len(values))  # a column the table lacks: refused by name later
    dtype = target.type
    place = _place(table, target.name)
    if pa.types.is_timestamp(dtype) and any(_is_time(v) for v in values):
        # integers in a timestamp column stay counts of its unit, as Arrow reads them
        return exact_time_array(
            values, dtype, place, event_time=target.name == schema.event_time_name
        )
    try:
        array: pa.Array[Any] = pa.array(values, type=dtype, from_pandas=pandas)
        return array
    except _CONVERSION_ERRORS as exc:
        raise _misfit(values, dtype, place, pandas, exc) from None


def _misfit(
    values: Sequence[Any], dtype: pa.DataType, place: str, pandas: bool, exc: BaseException
) -> SchemaMismatchError:
    """The error for ``values`` that do not convert to ``dtype``: the first that does not."""
    for row, value in enumerate(values):
        try:
            pa.array([value], type=dtype, from_pandas=pandas)
        except _CONVERSION_ERRORS:
            shown = repr(value)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            return SchemaMismatchError(
                f"{place} is {dtype} in the table, but row {row} holds {shown} "
                f"({type(value).__name__}); convert it before writing"
            )
    return SchemaMismatchError(
        f"{place}: the values do not fit {dtype} ({_first_line(exc)}); convert them before writing"
    )


# -- pandas -----------------------------------------------------------------------------------


def _from_pandas(frame: Any, schema: TableSchema, table: str) -> pa.Table:
    """A pandas DataFrame as Arrow, column by column (the index is not written): object
    columns as Python values typed by the table, the others as pandas gives them to Arrow."""
    names = [_column_name(name, table) for name in frame.columns]
    if len(set(names)) != len(names):
        raise SchemaMismatchError(f"table {table!r}: the data has duplicate column names")
    arrays: dict[str, pa.Array[Any] | pa.ChunkedArray[Any]] = {}
    for index, name in enumerate(names):
        series = frame.iloc[:, index]
        if str(series.dtype) == "object":
            target = _target(name, schema)
            arrays[name] = _python_array(list(series), target, schema, table, pandas=True)
            continue
        try:
            arrays[name] = pa.Array.from_pandas(series)
        except _CONVERSION_ERRORS as exc:
            raise SchemaMismatchError(
                f"{_place(table, name)}: pandas {series.dtype} values cannot be read as Arrow "
                f"({_first_line(exc)}); convert the column before writing"
            ) from None
    return pa.table(cast(Any, arrays)) if arrays else pa.table({})
