"""Arrow types of azof tables as Spark SQL types, and Arrow data in the form Spark expects.

Timestamps (``event_time`` and value columns, with or without a zone: azof reads naive
times as UTC) become ``TimestampType``, which Spark holds in microseconds UTC; finer units
are truncated to microseconds. Unsigned integers widen to the next signed type
(``uint64`` to ``DECIMAL(20, 0)``), ``float16`` to ``FLOAT``, durations to
``INTERVAL DAY TO SECOND``. Types Spark has no counterpart for (``time``, decimals of more
than 38 digits) are refused with the column's name, so a read can leave them out with
``option("columns", ...)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    ByteType,
    DataType,
    DateType,
    DayTimeIntervalType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    MapType,
    NullType,
    ShortType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from azof.errors import InvalidArgumentError

__all__ = ["arrow_schema_for_spark", "spark_batches", "spark_schema", "spark_type"]

_MAX_DECIMAL_DIGITS = 38  # Spark's DECIMAL holds at most 38 digits

_INTEGERS: dict[pa.DataType, DataType] = {
    pa.int8(): ByteType(),
    pa.int16(): ShortType(),
    pa.int32(): IntegerType(),
    pa.int64(): LongType(),
    pa.uint8(): ShortType(),
    pa.uint16(): IntegerType(),
    pa.uint32(): LongType(),
    pa.uint64(): DecimalType(20, 0),
}


def spark_type(dtype: pa.DataType, column: str) -> DataType:
    """The Spark type of an Arrow type; ``column`` names it in the error for types Spark
    cannot hold."""
    if pa.types.is_dictionary(dtype):
        return spark_type(dtype.value_type, column)
    if pa.types.is_boolean(dtype):
        return BooleanType()
    if pa.types.is_integer(dtype):
        return _INTEGERS[dtype]
    if pa.types.is_float16(dtype) or pa.types.is_float32(dtype):
        return FloatType()
    if pa.types.is_float64(dtype):
        return DoubleType()
    if (
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_string_view(dtype)
    ):
        return StringType()
    if (
        pa.types.is_binary(dtype)
        or pa.types.is_large_binary(dtype)
        or pa.types.is_binary_view(dtype)
        or pa.types.is_fixed_size_binary(dtype)
    ):
        return BinaryType()
    if pa.types.is_date(dtype):
        return DateType()
    if pa.types.is_timestamp(dtype):
        return TimestampType()
    if pa.types.is_duration(dtype):
        return DayTimeIntervalType()
    if pa.types.is_decimal(dtype) and dtype.precision <= _MAX_DECIMAL_DIGITS:
        return DecimalType(dtype.precision, dtype.scale)
    if (
        pa.types.is_list(dtype)
        or pa.types.is_large_list(dtype)
        or pa.types.is_fixed_size_list(dtype)
    ):
        element = dtype.value_field
        return ArrayType(spark_type(element.type, column), containsNull=element.nullable)
    if pa.types.is_map(dtype):
        return MapType(
            spark_type(dtype.key_type, column),
            spark_type(dtype.item_type, column),
            valueContainsNull=dtype.item_field.nullable,
        )
    if pa.types.is_struct(dtype):
        return StructType(
            [
                StructField(field.name, spark_type(field.type, column), field.nullable)
                for field in dtype
            ]
        )
    if pa.types.is_null(dtype):
        return NullType()
    raise InvalidArgumentError(
        f"column {column!r} has the type {dtype}, which Spark has no type for; leave it out "
        "with option('columns', ...)"
    )


def spark_schema(schema: pa.Schema) -> StructType:
    """The Spark schema of an Arrow schema (``key`` and ``event_time`` are not nullable)."""
    return StructType([StructField(f.name, spark_type(f.type, f.name), f.nullable) for f in schema])


def arrow_schema_for_spark(schema: StructType) -> pa.Schema:
    """The Arrow schema Spark expects the batches of a Python data source to have."""
    from pyspark.sql.pandas.types import to_arrow_schema

    try:
        return to_arrow_schema(schema, timezone="UTC")
    except TypeError:  # pragma: no cover - PySpark 4.0 has no timezone parameter
        return to_arrow_schema(schema)


def spark_batches(data: pa.Table, target: pa.Schema, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """``data`` (columns named as in ``target``) cast to ``target``, in batches."""
    columns: list[Any] = []
    for field in target:
        column = data.column(field.name)
        if not column.type.equals(field.type):
            # Spark holds microseconds: finer timestamps and durations are truncated.
            truncating = pa.types.is_timestamp(column.type) or pa.types.is_duration(column.type)
            column = column.cast(field.type, safe=not truncating)
        columns.append(column)
    table = pa.Table.from_arrays(columns, schema=target)
    yield from table.to_batches(max_chunksize=batch_rows)
