"""The table schema: the key, the event time and the value columns (frozen, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

__all__ = ["EVENT_TIME", "KEY", "TOMBSTONE", "Column", "DroppedColumn", "Rename", "TableSchema"]

KEY = "key"
EVENT_TIME = "event_time"
TOMBSTONE = "_azof_deleted"
"""Boolean column of format-2 data files: true marks a delete event (a tombstone)."""

RESERVED = frozenset({KEY, EVENT_TIME, TOMBSTONE})

_SEED_KEY_TYPE: pa.DataType = pa.string()
_SEED_EVENT_TIME_TYPE: pa.DataType = pa.timestamp("ms", tz="UTC")


@dataclass(frozen=True)
class Rename:
    """A column was renamed away from ``name`` by the commit of ``version``."""

    name: str
    version: int


@dataclass(frozen=True)
class DroppedColumn:
    """A column the commit of ``version`` dropped (its id is never used again)."""

    id: int
    name: str
    version: int


@dataclass(frozen=True)
class Column:
    """A value column. ``id`` is stable for the column's life (renames keep it).

    ``default`` is the value (in its JSON form, see :mod:`azof.format.evolution`) that rows
    written without the column read as; ``added_in_schema`` is the ``schema_id`` of the
    schema that added it (0: the table's first schema), so a data file written under an
    earlier schema does not hold it. ``renames`` lists its former names, oldest first.
    """

    id: int
    name: str
    type: pa.DataType
    nullable: bool = True
    default: Any = None
    added_in_schema: int = 0
    renames: tuple[Rename, ...] = ()

    @property
    def initial_name(self) -> str:
        """The name the column was created with: files without field ids use it."""
        return self.renames[0].name if self.renames else self.name

    def to_arrow(self) -> pa.Field[Any]:
        return pa.field(self.name, self.type, nullable=self.nullable)


@dataclass(frozen=True)
class TableSchema:
    """``key`` and ``event_time`` first, then the value columns in order.

    ``schema_id`` counts the schema changes (0 until the first); ``next_column_id`` is the
    id the next added column gets (0: one more than any id in use or dropped).
    """

    columns: tuple[Column, ...]
    key_type: pa.DataType = _SEED_KEY_TYPE
    event_time_type: pa.DataType = _SEED_EVENT_TIME_TYPE
    schema_id: int = 0
    next_column_id: int = 0
    dropped: tuple[DroppedColumn, ...] = ()

    @property
    def names(self) -> list[str]:
        return [KEY, EVENT_TIME, *(c.name for c in self.columns)]

    @property
    def new_column_id(self) -> int:
        """The id the next added column gets: ids are never reused, even after a drop."""
        used = [c.id for c in self.columns] + [d.id for d in self.dropped]
        return max(self.next_column_id, max(used, default=0) + 1)

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
