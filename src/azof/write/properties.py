"""Properties: the caller's own metadata stored with a commit (spec 5.5, strings) or with a
table at its creation (spec 5.1, JSON values)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from azof.errors import InvalidArgumentError

__all__ = ["commit_properties", "table_properties"]


def commit_properties(properties: Any, table: str) -> dict[str, str]:
    """``properties`` as a plain dict of strings to strings (``None``: none), or an
    :class:`InvalidArgumentError` naming the first entry that is not one.

    Called before anything is written, so a refused commit leaves no file behind. Values
    are stored exactly as given; anything that is not a string (a number, ``None``, a list)
    is refused rather than turned into text: write it as text first (``json.dumps``).
    """
    for name, value in _entries(properties, table, "commit", "strings to strings"):
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidArgumentError(
                f"table {table!r}: commit properties map strings to strings, but "
                f"{name!r}: {value!r} is {type(name).__name__} -> {type(value).__name__}; "
                "write names and values as text (json.dumps for structured values)"
            )
    return dict(properties or {})


def table_properties(properties: Any, table: str) -> dict[str, Any]:
    """``properties`` given to ``create_table`` as a plain dict (``None``: none): string
    names, JSON values (numbers, strings, booleans, null, lists, objects), or an
    :class:`InvalidArgumentError` before anything is written."""
    for name, value in _entries(properties, table, "table", "names to JSON values"):
        if not isinstance(name, str):
            raise InvalidArgumentError(
                f"table {table!r}: table property names must be strings, not {name!r}"
            )
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"table {table!r}: table property {name!r} is not a JSON value ({exc})"
            ) from None
    return dict(properties or {})


def _entries(properties: Any, table: str, kind: str, shape: str) -> list[tuple[Any, Any]]:
    """The entries of ``properties`` (none for ``None``), refusing anything but a mapping."""
    if properties is None:
        return []
    if not isinstance(properties, Mapping):
        raise InvalidArgumentError(
            f"table {table!r}: {kind} properties must be a mapping of {shape}, "
            f"not {type(properties).__name__}"
        )
    return list(properties.items())
