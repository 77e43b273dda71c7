"""Validity checks shared by the snapshot and manifest codecs (``docs/spec.md`` 10): file
names that stay inside the table folder, bounded whole numbers, timestamps, key bounds."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from azof.errors import InvalidArgumentError
from azof.format.schema_codec import Context
from azof.timestamps import Instant, parse_instant

__all__ = [
    "MAX_BUCKETS",
    "MAX_NAME_CHARS",
    "MAX_SEGMENT_DEPTH",
    "MAX_TREE_LEVELS",
    "MAX_WHOLE",
    "key_bound",
    "ordered",
    "text_instant",
    "validate_file_name",
    "whole_number",
]

_CONTROL = re.compile(r"[\x00-\x1f]")

# Bounds on what a snapshot may say (``docs/spec.md``, "Validity rules"): a reader sizes
# lists, loops and recursion by these numbers, so a value beyond them is refused rather
# than trusted.
MAX_BUCKETS = 4096
"""Hash buckets of a table or a data file (a scan keeps one list per bucket)."""
MAX_WHOLE = 2**63 - 1
"""Counts, sizes and sequence numbers: 64-bit signed integers, as Arrow and Parquet hold them."""
MAX_SEGMENT_DEPTH = 32
"""Nesting of segments (azof writes at most one level per granularity, six)."""
MAX_TREE_LEVELS = 16
"""Names in ``tree.levels``."""
MAX_NAME_CHARS = 1024
"""Characters of a data-file name, a segment id, a tree level or the table uuid."""


def validate_file_name(name: Any, ctx_table: str, ctx_file: str) -> str:
    """A data file name must stay inside the table folder: relative, no '..', no scheme."""
    ctx = Context(ctx_table, ctx_file)
    if not isinstance(name, str) or not name:
        raise ctx.error(f"data file name {name!r} is not a non-empty string")
    problem = None
    if len(name) > MAX_NAME_CHARS:
        raise ctx.error(
            f"data file name {name[:40]!r}... is longer than {MAX_NAME_CHARS} characters"
        )
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        problem = "is absolute"
    elif "://" in name or name.split("/", 1)[0].endswith(":"):
        problem = "carries a URI scheme"
    elif "\\" in name:
        problem = "contains a backslash"
    elif any(part in ("..", ".", "") for part in name.split("/")):
        problem = "contains '..', '.' or an empty path part"
    elif _CONTROL.search(name):
        problem = "contains control characters"
    if problem:
        raise ctx.error(
            f"data file name {name!r} {problem}; a snapshot may only name files inside its "
            "table folder (refusing to read it)"
        )
    return name


def text_instant(
    obj: Mapping[str, Any], name: str, ctx: Context, where: str, required: bool = True
) -> Instant | None:
    if name not in obj or obj[name] is None:
        if required:
            raise ctx.error(f"{where}: missing field {name!r}")
        return None
    value = obj[name]
    if not isinstance(value, str):
        raise ctx.error(f"{where}: {name} {value!r} is not an RFC 3339 timestamp string")
    try:
        return _timestamp(value)
    except InvalidArgumentError:
        raise ctx.error(f"{where}: {name} {value!r} is not a valid RFC 3339 timestamp") from None


_SHORT_YEAR = re.compile(r"^\s*(\d{1,3})-")


@functools.lru_cache(maxsize=1 << 16)
def _timestamp(text: str) -> Instant:
    """A snapshot's timestamp text as an instant (cached: snapshots of a table repeat the
    same times, version after version; a failure is not cached). A year of fewer than 4
    digits is read too: azof 0.3 development builds wrote years before 1000 unpadded
    (``999-06-01...``), and those snapshots must stay readable."""
    short = _SHORT_YEAR.match(text)
    if short is not None:
        text = f"{int(short[1]):04d}{text[short.end(1) :]}"
    return parse_instant(text)


def whole_number(value: Any, ctx: Context, where: str, name: str) -> int:
    """``value`` if it is a whole number from 0 to ``MAX_WHOLE`` (``true`` is not one)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ctx.error(f"{where}: {name} {value!r} is not a whole number >= 0")
    if value > MAX_WHOLE:
        raise ctx.error(f"{where}: {name} {value} is above {MAX_WHOLE} (a 64-bit integer)")
    return value


def key_bound(value: Any, ctx: Context, where: str, name: str) -> Any:
    """A record's ``min_key``/``max_key``: absent, a key of the table's key type, or for a
    composite key a list of one value per key column (held as a tuple)."""
    if value is None:
        return None
    kinds = ctx.key_kinds
    if len(kinds) > 1:
        if not isinstance(value, list) or len(value) != len(kinds):
            raise ctx.error(f"{where}: {name} {value!r} is not a list of {len(kinds)} key values")
        return tuple(
            _key_value(v, kind, ctx, where, name) for v, kind in zip(value, kinds, strict=True)
        )
    return _key_value(value, kinds[0] if kinds else None, ctx, where, name)


def _key_value(
    value: Any, kind: type[str] | type[int] | None, ctx: Context, where: str, name: str
) -> str | int:
    if isinstance(value, str) and kind in (None, str):
        return value
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and kind in (None, int)
        and -(2**63) <= value < 2**64  # int64 and uint64 keys
    ):
        return value
    expected = {None: "a key", str: "a string key", int: "a 64-bit integer key"}[kind]
    raise ctx.error(f"{where}: {name} {value!r} is not {expected}")


def ordered(low: Any, high: Any) -> bool:
    if isinstance(low, tuple) and isinstance(high, tuple):
        return True  # composite bounds: their order is not checked here
    if isinstance(low, str) and isinstance(high, str):
        return low <= high
    if isinstance(low, int) and isinstance(high, int):
        return low <= high
    return False
