"""The table schema: the key, the event time and the value columns (frozen, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

__all__ = ["EVENT_TIME", "KEY", "TOMBSTONE", "Column", "TableSchema"]

KEY = "key"
EVENT_TIME = "event_time"
TOMBSTONE = "_azof_deleted"
"""Boolean column of format-2 data files: true marks a delete event (a tombstone)."""

RESERVED = frozenset({KEY, EVENT_TIME, TOMBSTONE})

_SEED_KEY_TYPE: pa.DataType = pa.string()
_SEED_EVENT_TIME_TYPE: pa.DataType = pa.timestamp("ms", tz="UTC")


@dataclass(frozen=True)
class Column:
    """A value column. ``id`` is stable for the column's life (renames keep it)."""

    id: int
    name: str
    type: pa.DataType
    nullable: bool = True

    def to_arrow(self) -> pa.Field[Any]:
        return pa.field(self.name, self.type, nullable=self.nullable)


@dataclass(frozen=True)
class TableSchema:
    """``key`` and ``event_time`` first, then the value columns in order."""

    columns: tuple[Column, ...]
    key_type: pa.DataType = _SEED_KEY_TYPE
    event_time_type: pa.DataType = _SEED_EVENT_TIME_TYPE

    @property
    def names(self) -> list[str]:
        return [KEY, EVENT_TIME, *(c.name for c in self.columns)]

    def column(self, name: str) -> Column | None:
        for column in self.columns:
            if column.name == name:
                return column
        return None

    def field(self, name: str) -> pa.Field[Any]:
        if name == KEY:
            return pa.field(KEY, self.key_type, nullable=False)
        if name == EVENT_TIME:
            return pa.field(EVENT_TIME, self.event_time_type, nullable=False)
        column = self.column(name)
        if column is None:
            raise KeyError(name)
        return column.to_arrow()

    def to_arrow(self) -> pa.Schema:
        return pa.schema([self.field(name) for name in self.names])
