"""Column types: Arrow types <-> their JSON form in snapshots.

Format version 1 (the seed) knows four names: ``String`` (utf8), ``Int`` (int64),
``Boolean`` and ``DateTime`` (timestamp[ms, UTC]). Format version 2 writes every Arrow type
Parquet stores, as a name (``"int32"``, ``"string"``, ``"date32"``...) or, for parameterised
and nested types, an object (``{"type": "decimal", "precision": 10, "scale": 2}``,
``{"type": "timestamp", "unit": "ms", "tz": "UTC"}``, ``{"type": "list", "element": ...}``,
``{"type": "struct", "fields": [...]}``, ``{"type": "map", "key": ..., "value": ...}``).
"""

from __future__ import annotations

from typing import Any, cast

import pyarrow as pa

from azof.errors import InvalidArgumentError

__all__ = [
    "SEED_TYPES",
    "SIMPLE_TYPES",
    "UnknownTypeError",
    "is_utc",
    "is_widening",
    "type_from_json",
    "type_to_json",
    "types_compatible",
    "types_readable",
    "unit_nanos",
]

SEED_TYPES: dict[str, pa.DataType] = {
    "String": pa.string(),
    "Int": pa.int64(),
    "Boolean": pa.bool_(),
    "DateTime": pa.timestamp("ms", tz="UTC"),
}

_SIMPLE: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int8": pa.int8(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "uint8": pa.uint8(),
    "uint16": pa.uint16(),
    "uint32": pa.uint32(),
    "uint64": pa.uint64(),
    "float16": pa.float16(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "string": pa.string(),
    "large_string": pa.large_string(),
    "binary": pa.binary(),
    "large_binary": pa.large_binary(),
    "date32": pa.date32(),
    "date64": pa.date64(),
    "null": pa.null(),
}
_SIMPLE_NAMES = {str(v): k for k, v in _SIMPLE.items()}
SIMPLE_TYPES: dict[str, pa.DataType] = dict(_SIMPLE)
"""The names of parameterless types in format-2 JSON (also what the CLI's schema text takes)."""
_UTC_NAMES = {"UTC", "utc", "Etc/UTC", "+00:00", "Z", "GMT", "Etc/GMT"}


class UnknownTypeError(InvalidArgumentError):
    """A type azof cannot store: an Arrow type given to ``create_table`` (an
    :class:`~azof.errors.InvalidArgumentError`, so also an ``AzofError`` and a
    ``ValueError``), or a JSON type the codec does not know, which the codec turns into a
    ``CorruptTableError``."""


_NANOS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


def unit_nanos(dtype: pa.DataType) -> int:
    """Nanoseconds per unit of a timestamp type."""
    return _NANOS_PER_UNIT[cast(pa.TimestampType, dtype).unit]


def is_utc(tz: str | None) -> bool:
    return tz is not None and tz in _UTC_NAMES


def type_to_json(dtype: pa.DataType) -> Any:
    """The JSON form of an Arrow type (format version 2)."""
    if pa.types.is_dictionary(dtype):
        return type_to_json(dtype.value_type)
    name = _SIMPLE_NAMES.get(str(dtype))
    if name is not None and dtype in (_SIMPLE[name],):
        return name
    if pa.types.is_decimal(dtype):
        return {"type": "decimal", "precision": dtype.precision, "scale": dtype.scale}
    if pa.types.is_timestamp(dtype):
        return {"type": "timestamp", "unit": dtype.unit, "tz": dtype.tz}
    if pa.types.is_time(dtype):
        return {"type": "time", "unit": dtype.unit}
    if pa.types.is_duration(dtype):
        return {"type": "duration", "unit": dtype.unit}
    if pa.types.is_fixed_size_binary(dtype):
        return {"type": "fixed_size_binary", "width": dtype.byte_width}
    if pa.types.is_map(dtype):
        return {
            "type": "map",
            "key": type_to_json(dtype.key_type),
            "value": type_to_json(dtype.item_type),
            "value_nullable": dtype.item_field.nullable,
        }
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return {
            "type": "large_list" if pa.types.is_large_list(dtype) else "list",
            "element": type_to_json(dtype.value_type),
            "element_nullable": dtype.value_field.nullable,
        }
    if pa.types.is_fixed_size_list(dtype):
        return {
            "type": "fixed_size_list",
            "element": type_to_json(dtype.value_type),
            "element_nullable": dtype.value_field.nullable,
            "size": dtype.list_size,
        }
    if pa.types.is_struct(dtype):
        return {
            "type": "struct",
            "fields": [
                {"name": f.name, "type": type_to_json(f.type), "nullable": f.nullable}
                for f in dtype
            ],
        }
    raise UnknownTypeError(f"the Arrow type {dtype} cannot be stored in an azof table")


def type_from_json(value: Any) -> pa.DataType:
    """The Arrow type of a JSON type (format version 2; seed names accepted too)."""
    if isinstance(value, str):
        if value in _SIMPLE:
            return _SIMPLE[value]
        if value in SEED_TYPES:
            return SEED_TYPES[value]
        raise UnknownTypeError(f"unknown type {value!r}")
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise UnknownTypeError(f"unknown type {value!r}")
    kind = value["type"]
    try:
        if kind == "decimal":
            precision, scale = int(value["precision"]), int(value["scale"])
            if precision <= 38:
                return pa.decimal128(precision, scale)
            return pa.decimal256(precision, scale)
        if kind == "timestamp":
            return pa.timestamp(value["unit"], tz=value.get("tz"))
        if kind == "time":
            unit = value["unit"]
            return pa.time32(unit) if unit in ("s", "ms") else pa.time64(unit)
        if kind == "duration":
            return pa.duration(value["unit"])
        if kind == "fixed_size_binary":
            return pa.binary(int(value["width"]))
        if kind in ("list", "large_list", "fixed_size_list"):
            field = pa.field(
                "element",
                type_from_json(value["element"]),
                nullable=bool(value.get("element_nullable", True)),
            )
            if kind == "list":
                return pa.list_(field)
            if kind == "large_list":
                return pa.large_list(field)
            return pa.list_(field, int(value["size"]))
        if kind == "map":
            map_type: pa.DataType = cast(Any, pa.map_)(
                type_from_json(value["key"]),
                pa.field(
                    "value",
                    type_from_json(value["value"]),
                    nullable=bool(value.get("value_nullable", True)),
                ),
            )
            return map_type
        if kind == "struct":
            return pa.struct(
                [
                    pa.field(f["name"], type_from_json(f["type"]), nullable=f.get("nullable", True))
                    for f in value["fields"]
                ]
            )
    except (KeyError, TypeError, ValueError, pa.ArrowInvalid) as exc:
        if isinstance(exc, UnknownTypeError):
            raise
        raise UnknownTypeError(f"malformed type {value!r} ({exc})") from None
    raise UnknownTypeError(f"unknown type {value!r}")


def types_compatible(declared: pa.DataType, found: pa.DataType) -> bool:
    """Whether a file's column type reads as the declared type without loss or surprise."""
    if declared.equals(found):
        return True
    if pa.types.is_dictionary(found):
        return types_compatible(declared, found.value_type)
    if pa.types.is_timestamp(declared) and pa.types.is_timestamp(found):
        same_zone = (declared.tz == found.tz) or (is_utc(declared.tz) and is_utc(found.tz))
        # Parquet has no second unit: timestamp[s] columns come back as milliseconds.
        same_unit = declared.unit == found.unit or (declared.unit, found.unit) == ("s", "ms")
        return same_unit and same_zone
    if pa.types.is_time(declared) and pa.types.is_time(found):
        return declared.unit == found.unit or (declared.unit, found.unit) == ("s", "ms")
    if pa.types.is_date(declared) and pa.types.is_date(found):
        return True
    string_like = (pa.string(), pa.large_string(), pa.string_view())
    if declared in string_like and found in string_like:
        return True
    binary_like = (pa.binary(), pa.large_binary(), pa.binary_view())
    if declared in binary_like and found in binary_like:
        return True
    if (pa.types.is_list(declared) or pa.types.is_large_list(declared)) and (
        pa.types.is_list(found) or pa.types.is_large_list(found)
    ):
        return types_compatible(declared.value_type, found.value_type)
    if pa.types.is_struct(declared) and pa.types.is_struct(found):
        if declared.num_fields != found.num_fields:
            return False
        return all(
            d.name == f.name and types_compatible(d.type, f.type)
            for d, f in zip(declared, found, strict=True)
        )
    if pa.types.is_map(declared) and pa.types.is_map(found):
        return types_compatible(declared.key_type, found.key_type) and types_compatible(
            declared.item_type, found.item_type
        )
    return False


_UNIT_ORDER = ("s", "ms", "us", "ns")


def is_widening(old: pa.DataType, new: pa.DataType) -> bool:
    """Whether a column of type ``old`` may be evolved to ``new``: every value reads the same.

    Integers to a wider integer of the same signedness, or unsigned to a wider signed one
    (``int8`` -> ``int16`` -> ``int32`` -> ``int64``, ``uint8`` -> ``uint16``/``int16``...);
    floats to a wider float; decimals to a greater precision of the same scale; timestamps
    to a finer unit in the same zone; ``string`` -> ``large_string``, ``binary`` ->
    ``large_binary``. A type does not widen to itself.
    """
    if old.equals(new):
        return False
    if pa.types.is_integer(old) and pa.types.is_integer(new):
        if new.bit_width <= old.bit_width:
            return False
        return pa.types.is_signed_integer(new) or pa.types.is_unsigned_integer(old)
    if pa.types.is_floating(old) and pa.types.is_floating(new):
        return bool(new.bit_width > old.bit_width)
    if pa.types.is_decimal(old) and pa.types.is_decimal(new):
        return bool(new.scale == old.scale and new.precision > old.precision)
    if pa.types.is_timestamp(old) and pa.types.is_timestamp(new):
        same_zone = old.tz == new.tz or (is_utc(old.tz) and is_utc(new.tz))
        return same_zone and _UNIT_ORDER.index(new.unit) > _UNIT_ORDER.index(old.unit)
    return (old, new) in ((pa.string(), pa.large_string()), (pa.binary(), pa.large_binary()))


def types_readable(declared: pa.DataType, found: pa.DataType) -> bool:
    """Whether a file's column of type ``found`` reads as ``declared``: compatible types
    (:func:`types_compatible`), or a type that ``declared`` widens (schema evolution)."""
    if types_compatible(declared, found):
        return True
    if pa.types.is_dictionary(found):
        return types_readable(declared, found.value_type)
    return is_widening(found, declared)
