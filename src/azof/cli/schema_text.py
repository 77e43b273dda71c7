"""The compact schema text of ``azof create --schema``: ``name:type`` pairs, comma-separated.

``"key:string, event_time:timestamp[ms, tz=UTC], px:float64 not null"``. Types:

- ``string`` (``utf8``), ``large_string``, ``binary``, ``large_binary``, ``bool``
  (``boolean``);
- ``int8`` ... ``int64``, ``uint8`` ... ``uint64``, ``float32`` (``float``), ``float64``
  (``double``), ``float16``;
- ``date32`` (``date32[day]``), ``date64``;
- ``decimal(p, s)`` (also ``decimal128(p, s)``, ``decimal256(p, s)``);
- ``timestamp[unit]`` (naive) or ``timestamp[unit, tz=ZONE]`` with unit ``s``, ``ms``,
  ``us`` or ``ns``; plain ``timestamp`` is ``timestamp[ms, tz=UTC]``;
- ``list<T>`` (also Arrow's ``list<item: T>``) and ``large_list<T>``.

These are also the names ``azof info`` prints, so its schema lines can be pasted back. A
trailing ``not null`` makes a column non-nullable (``key`` and ``event_time`` always are).
"""

from __future__ import annotations

import re
from typing import Any, cast

import pyarrow as pa

from azof.errors import InvalidArgumentError
from azof.format.types import SIMPLE_TYPES

__all__ = ["format_schema", "parse_schema_text", "parse_type"]

_SIMPLE: dict[str, pa.DataType] = {
    **SIMPLE_TYPES,
    "str": pa.string(),
    "utf8": pa.string(),
    "large_utf8": pa.large_string(),
    "boolean": pa.bool_(),
    "halffloat": pa.float16(),
    "float": pa.float32(),
    "double": pa.float64(),
    "date32[day]": pa.date32(),
    "date64[ms]": pa.date64(),
}
_TYPE_NAMES = (
    "string, int8..int64, uint8..uint64, float32, float64, bool, date32, decimal(p,s), "
    "timestamp[unit] or timestamp[unit, tz=UTC], binary, list<T>"
)
_TIMESTAMP = re.compile(
    r"^timestamp(?:\[\s*(?P<unit>[a-z]+)\s*(?:,\s*tz\s*=\s*(?P<tz>[^\]\s]+)\s*)?\])?$",
    re.IGNORECASE,
)
_DECIMAL = re.compile(r"^decimal(?P<bits>128|256)?\(\s*(?P<p>\d+)\s*,\s*(?P<s>-?\d+)\s*\)$")
_LIST = re.compile(r"^(?P<kind>large_list|list)\s*<(?P<inner>.*)>$")
_NOT_NULL = re.compile(r"\s+not\s+null$", re.IGNORECASE)
_OPENING = {"[": "]", "(": ")", "<": ">"}


def _split_top_level(text: str) -> list[str]:
    """Split at the commas outside brackets, parentheses and angle brackets."""
    parts: list[str] = []
    depth: list[str] = []
    current: list[str] = []
    for char in text:
        if char in _OPENING:
            depth.append(_OPENING[char])
        elif depth and char == depth[-1]:
            depth.pop()
        elif char in "])>":
            raise InvalidArgumentError(f"unbalanced {char!r} in {text!r}")
        if char == "," and not depth:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth:
        raise InvalidArgumentError(f"{text!r} lacks a closing {depth[-1]!r}")
    parts.append("".join(current))
    return parts


def parse_type(text: str) -> pa.DataType:
    """The Arrow type of one type name of the schema text (see the module docstring)."""
    collapsed = " ".join(text.split())
    name = collapsed.lower()
    if name in _SIMPLE:
        return _SIMPLE[name]
    match = _TIMESTAMP.match(collapsed)
    if match:
        unit = (match["unit"] or "ms").lower()
        if unit not in ("s", "ms", "us", "ns"):
            raise InvalidArgumentError(f"timestamp unit {unit!r} is not one of s, ms, us, ns")
        tz = match["tz"] if match["unit"] else "UTC"
        if tz is not None and tz.lower() in ("utc", "z"):
            tz = "UTC"
        try:
            dtype: pa.DataType = pa.timestamp(cast(Any, unit), tz=cast(Any, tz))
            if tz is not None:  # Arrow checks a zone name only when it is used
                pa.array([0], pa.int64()).cast(dtype).cast(pa.string())
            return dtype
        except (pa.ArrowInvalid, ValueError) as exc:
            raise InvalidArgumentError(f"{text.strip()!r}: {exc}") from None
    match = _DECIMAL.match(name)
    if match:
        precision, scale = int(match["p"]), int(match["s"])
        wide = match["bits"] == "256" or precision > 38
        try:
            return pa.decimal256(precision, scale) if wide else pa.decimal128(precision, scale)
        except (pa.ArrowInvalid, ValueError) as exc:
            raise InvalidArgumentError(f"{text.strip()!r}: {exc}") from None
    match = _LIST.match(name)
    if match:
        inner = text.strip()[len(match["kind"]) :].strip()[1:-1].strip()
        label, sep, rest = inner.partition(":")
        if sep and re.fullmatch(r"[A-Za-z_]\w*", label.strip()):  # Arrow's "item: T"
            inner = rest
        element = pa.field("item", parse_type(inner))
        return pa.large_list(element) if match["kind"] == "large_list" else pa.list_(element)
    raise InvalidArgumentError(f"unknown type {text.strip()!r}; use one of {_TYPE_NAMES}")


def parse_schema_text(text: str) -> pa.Schema:
    """``"key:string, event_time:timestamp[ms, tz=UTC], px:float64"`` -> an Arrow schema."""
    fields: list[pa.Field[pa.DataType]] = []
    for part in _split_top_level(text):
        item = part.strip()
        if not item:
            continue
        name, sep, type_text = item.partition(":")
        name = name.strip()
        if not sep or not name or not type_text.strip():
            raise InvalidArgumentError(
                f"{item!r} is not name:type (e.g. px:float64); the schema is name:type pairs "
                "separated by commas"
            )
        nullable = True
        stripped = _NOT_NULL.sub("", type_text.strip())
        if stripped != type_text.strip():
            nullable, type_text = False, stripped
        try:
            dtype = parse_type(type_text)
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"column {name!r}: {exc}") from None
        fields.append(pa.field(name, dtype, nullable=nullable))
    if not fields:
        raise InvalidArgumentError("the schema names no columns; e.g. key:string,event_time:...")
    return pa.schema(fields)


def format_schema(schema: pa.Schema) -> str:
    """One line per column, as ``azof info`` prints it: name, type, ``not null``."""
    return "\n".join(
        "\t".join([f.name, str(f.type), *([] if f.nullable else ["not null"])]) for f in schema
    )
