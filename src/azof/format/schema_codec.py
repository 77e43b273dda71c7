"""The schema part of the snapshot JSON codec (``docs/spec.md`` 5.2 and 16): decoding with
its validity checks, and encoding; :mod:`azof.format.codec` uses it for whole snapshots."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pyarrow as pa

from azof.errors import CorruptTableError
from azof.format.evolution import default_scalar_of
from azof.format.keys import key_kind_ok
from azof.format.schema import RESERVED, TOMBSTONE, Column, DroppedColumn, Rename, TableSchema
from azof.format.types import SEED_TYPES, UnknownTypeError, type_from_json, type_to_json

__all__ = ["Context", "decode_schema", "encode_schema", "require"]


class Context:
    """Where a decode is (table, snapshot file, format version), for its error messages."""

    def __init__(self, table: str, file: str, version: int = 1) -> None:
        self.table = table
        self.file = file
        self.version = version
        self.key_kinds: tuple[type[str] | type[int], ...] = ()
        """The Python type of each key column's values, once the schema is decoded."""

    def error(self, what: str) -> CorruptTableError:
        return CorruptTableError(f"table {self.table!r}: {self.file}: {what}")


def require(
    obj: Mapping[str, Any], name: str, kind: type | tuple[type, ...], ctx: Context, where: str
) -> Any:
    if name not in obj:
        raise ctx.error(f"{where}: missing field {name!r}")
    value = obj[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ctx.error(f"{where}: field {name!r} has the wrong type ({type(value).__name__})")
    return value


def decode_schema(raw: Any, version: int, ctx: Context) -> TableSchema:
    if not isinstance(raw, dict):
        raise ctx.error("field 'schema' is missing or not an object")
    columns_raw = require(raw, "columns", list, ctx, "schema")
    columns: list[Column] = []
    key_columns: tuple[Column, ...] = ()
    time_column: Column | None = None
    if version >= 4:
        key_columns, time_column = _decode_named(raw, ctx)
    seen: set[str] = {c.name for c in key_columns}
    if time_column is not None:
        seen.add(time_column.name)
    reserved = RESERVED if version < 4 else frozenset({TOMBSTONE})
    for position, item in enumerate(columns_raw):
        where = f"schema column {position}"
        if not isinstance(item, dict):
            raise ctx.error(f"{where} is not an object")
        name = require(item, "name", str, ctx, where)
        if name in seen or name in reserved:
            raise ctx.error(f"{where}: column name {name!r} is duplicated or reserved")
        seen.add(name)
        try:
            if version == 1:
                data_type = require(item, "data_type", str, ctx, where)
                if data_type not in SEED_TYPES:
                    raise ctx.error(
                        f"{where} ({name!r}): unknown data_type {data_type!r}; format version 1 "
                        f"knows {', '.join(SEED_TYPES)}"
                    )
                dtype = SEED_TYPES[data_type]
                column_id = position + 1
            else:
                dtype = type_from_json(item.get("type"))
                column_id = _column_id(require(item, "id", int, ctx, where), ctx, where)
        except UnknownTypeError as exc:
            raise ctx.error(f"{where} ({name!r}): {exc}") from None
        nullable = item.get("nullable", True)
        if not isinstance(nullable, bool):
            raise ctx.error(f"{where} ({name!r}): 'nullable' is not true or false")
        if version == 1:
            # The seed's writer never enforced "nullable": false (financials' industry holds
            # nulls), so a format-1 column reads as nullable: answers must stay writable.
            nullable = True
        column = Column(column_id, name, dtype, nullable)
        if version >= 3:
            column = _decode_evolved_column(item, column, ctx, f"{where} ({name!r})")
        columns.append(column)
    every = [c.id for c in (*key_columns, *([time_column] if time_column else [])) if c.id]
    every += [c.id for c in columns]
    if len(set(every)) != len(every):
        raise ctx.error("schema: column ids are not unique")
    key_type: pa.DataType = pa.string()
    event_time_type: pa.DataType = pa.timestamp("ms", tz="UTC")
    if version == 2 or version == 3:
        try:
            key_type = type_from_json(raw.get("key_type", "string"))
            event_time_type = type_from_json(
                raw.get("event_time_type", {"type": "timestamp", "unit": "ms", "tz": "UTC"})
            )
        except UnknownTypeError as exc:
            raise ctx.error(f"schema: {exc}") from None
        if not (
            pa.types.is_string(key_type)
            or pa.types.is_large_string(key_type)
            or pa.types.is_integer(key_type)
        ):
            raise ctx.error(f"schema: key_type {key_type} is not a string or integer type")
        if not pa.types.is_timestamp(event_time_type):
            raise ctx.error(f"schema: event_time_type {event_time_type} is not a timestamp")
    schema = TableSchema(
        tuple(columns),
        key_type,
        event_time_type,
        key_columns=key_columns,
        event_time_column=time_column,
    )
    if version >= 3:
        schema = _decode_evolved_schema(raw, schema, ctx)
    return schema


MAX_COLUMN_ID = 2**31 - 1
"""Column ids are Parquet field ids: 32-bit signed integers."""


def _whole(value: Any, ctx: Context, where: str, name: str, limit: int = 2**63 - 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ctx.error(f"{where}: {name} {value!r} is not a whole number >= 0")
    if value > limit:
        raise ctx.error(f"{where}: {name} {value} is above {limit}")
    return value


def _column_id(value: int, ctx: Context, where: str) -> int:
    return _whole(value, ctx, where, "id", MAX_COLUMN_ID)


def _decode_evolved_column(
    item: Mapping[str, Any], column: Column, ctx: Context, where: str
) -> Column:
    """The format-3 fields of a column: ``default``, ``added_in_schema``, ``renames``."""
    default = item.get("default")
    try:
        default_scalar_of(default, column.type)
    except ValueError as exc:
        raise ctx.error(f"{where}: {exc}") from None
    added = _whole(item.get("added_in_schema", 0), ctx, where, "added_in_schema")
    renames_raw = item.get("renames", [])
    if not isinstance(renames_raw, list):
        raise ctx.error(f"{where}: 'renames' is not a list")
    renames = []
    for rename in renames_raw:
        if not isinstance(rename, dict) or not isinstance(rename.get("from"), str):
            raise ctx.error(f"{where}: a rename is not an object with 'from' and 'version'")
        renames.append(Rename(rename["from"], _whole(rename.get("version"), ctx, where, "version")))
    return Column(
        column.id, column.name, column.type, column.nullable, default, added, tuple(renames)
    )


def _decode_evolved_schema(
    raw: Mapping[str, Any], schema: TableSchema, ctx: Context
) -> TableSchema:
    """The format-3 fields of a schema: ``schema_id``, ``next_column_id``, ``dropped``."""
    schema_id = _whole(raw.get("schema_id", 0), ctx, "schema", "schema_id")
    next_id = _whole(raw.get("next_column_id", 0), ctx, "schema", "next_column_id", MAX_COLUMN_ID)
    dropped_raw = raw.get("dropped", [])
    if not isinstance(dropped_raw, list):
        raise ctx.error("schema: 'dropped' is not a list")
    dropped = []
    for item in dropped_raw:
        if not isinstance(item, dict):
            raise ctx.error("schema: a dropped column is not an object")
        name = require(item, "name", str, ctx, "schema dropped column")
        where = f"schema dropped column {name!r}"
        column_id = _column_id(require(item, "id", int, ctx, where), ctx, where)
        dropped.append(
            DroppedColumn(column_id, name, _whole(item.get("version"), ctx, where, "version"))
        )
    ids = [c.id for c in schema.columns] + [d.id for d in dropped]
    if any(c.added_in_schema > schema_id for c in schema.columns):
        raise ctx.error(f"schema: a column's added_in_schema is above schema_id {schema_id}")
    time = [schema.event_time_column] if schema.event_time_column is not None else []
    ids = [c.id for c in (*schema.key_columns, *time) if c.id] + ids
    if len(set(ids)) != len(ids):
        raise ctx.error("schema: a dropped column's id is used again (ids are never reused)")
    if next_id and ids and next_id <= max(ids):
        raise ctx.error(f"schema: next_column_id {next_id} is not above every column id")
    return replace(schema, schema_id=schema_id, next_column_id=next_id, dropped=tuple(dropped))


def _decode_named(raw: Mapping[str, Any], ctx: Context) -> tuple[tuple[Column, ...], Column]:
    """The format-4 ``key`` (a list of columns) and ``event_time`` (one column)."""
    keys_raw = require(raw, "key", list, ctx, "schema")
    if not keys_raw:
        raise ctx.error("schema: 'key' names no column (a key has one column or more)")
    keys = []
    for position, item in enumerate(keys_raw):
        column = _decode_fixed(item, ctx, f"schema key column {position}")
        if not key_kind_ok(column.type):
            raise ctx.error(
                f"schema key column {column.name!r}: {column.type} is not a string, integer, "
                "date or timestamp type"
            )
        keys.append(column)
    time = _decode_fixed(require(raw, "event_time", dict, ctx, "schema"), ctx, "schema event_time")
    if not pa.types.is_timestamp(time.type):
        raise ctx.error(f"schema event_time {time.name!r}: {time.type} is not a timestamp")
    names = [c.name for c in (*keys, time)]
    if len(set(names)) != len(names):
        raise ctx.error("schema: the key and event-time columns' names are not unique")
    return tuple(keys), time


def _decode_fixed(item: Any, ctx: Context, where: str) -> Column:
    if not isinstance(item, dict):
        raise ctx.error(f"{where} is not an object")
    name = require(item, "name", str, ctx, where)
    if name == TOMBSTONE:
        raise ctx.error(f"{where}: column name {name!r} is reserved")
    try:
        dtype = type_from_json(item.get("type"))
    except UnknownTypeError as exc:
        raise ctx.error(f"{where} ({name!r}): {exc}") from None
    column = Column(
        _column_id(require(item, "id", int, ctx, where), ctx, where), name, dtype, False
    )
    column = _decode_evolved_column(item, column, ctx, f"{where} ({name!r})")
    if column.default is not None or column.added_in_schema:
        raise ctx.error(f"{where} ({name!r}): a key or event-time column has no default")
    return column


def encode_schema(schema: TableSchema, version: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if version >= 3:
        out["schema_id"] = schema.schema_id
        out["next_column_id"] = schema.new_column_id
    if version >= 4:
        out["key"] = [_encode_column(c, version, fixed=True) for c in schema.keys]
        out["event_time"] = _encode_column(schema.time, version, fixed=True)
    else:
        out["key_type"] = type_to_json(schema.key_type)
        out["event_time_type"] = type_to_json(schema.event_time_type)
    out["columns"] = [_encode_column(c, version) for c in schema.columns]
    if version >= 3 and schema.dropped:
        out["dropped"] = [
            {"id": d.id, "name": d.name, "version": d.version} for d in schema.dropped
        ]
    return out


def _encode_column(c: Column, version: int, *, fixed: bool = False) -> dict[str, Any]:
    column: dict[str, Any] = {"id": c.id, "name": c.name, "type": type_to_json(c.type)}
    if not fixed:
        column["nullable"] = c.nullable
    if version >= 3 and c.default is not None:
        column["default"] = c.default
    if version >= 3 and c.added_in_schema:
        column["added_in_schema"] = c.added_in_schema
    if version >= 3 and c.renames:
        column["renames"] = [{"from": r.name, "version": r.version} for r in c.renames]
    return column
