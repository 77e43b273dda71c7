"""Rows and scan answers of the compatibility fixtures in a JSON-safe form, and the naive
oracle (tests/naive.py) over them.

Shared by ``make_fixtures.py`` (which writes the expected answers) and
``test_older_versions.py`` (which checks azof against them). Nothing here uses azof: rows
are plain dicts of column name to value, event times aware UTC datetimes in memory and
ISO-8601 text in JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from naive import latest_per_key

__all__ = ["TIME_COLUMNS", "from_json", "key_text", "latest_rows", "to_json"]

TIME_COLUMNS = frozenset({"event_time", "ts"})
"""The fixtures' timestamp columns (their event-time columns; value columns hold none)."""


def to_json(row: dict[str, Any]) -> dict[str, Any]:
    """A row with its datetimes as ISO-8601 UTC text (a scan's row or a written one)."""
    return {
        name: value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value
        for name, value in row.items()
    }


def from_json(row: dict[str, Any]) -> dict[str, Any]:
    """:func:`to_json` undone: timestamp columns back to aware datetimes."""
    return {
        name: datetime.fromisoformat(value) if name in TIME_COLUMNS and value else value
        for name, value in row.items()
    }


def latest_rows(
    written: Iterable[tuple[dict[str, Any], bool]],
    key: Sequence[str],
    event_time: str,
    columns: Sequence[str],
    as_of: datetime | None,
) -> dict[str, dict[str, Any]]:
    """The naive answer as of ``as_of`` (``None``: current state) over ``written`` rows in
    commit order (``(row, deleted)``, later wins a tie of key and event time): per key its
    latest row, tombstones dropping the key, projected on ``columns`` in JSON form and
    indexed by the key as text (``"a|1"`` for a composite key)."""
    naive_rows = [
        {
            "key": tuple(row[name] for name in key),
            "event_time": row[event_time],
            "_deleted": deleted,
            "row": row,
        }
        for row, deleted in written
    ]
    answer = latest_per_key(naive_rows, as_of)
    return {
        key_text(held["row"], key): to_json({name: held["row"].get(name) for name in columns})
        for held in answer.values()
    }


def key_text(row: dict[str, Any], key: Sequence[str]) -> str:
    """A row's key as one text (the key columns joined by ``|``)."""
    return "|".join(str(row[name]) for name in key)
