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
    """The key column(s) and the event time first, then the value columns in order.

    ``schema_id`` counts the schema changes (0 until the first); ``next_column_id`` is the
    id the next added column gets (0: one more than any id in use or dropped).

    ``key_columns`` and ``event_time_column`` are the named key and event-time columns of a
    format-4 table (``docs/spec.md``, "Named and composite keys"); empty and ``None`` for
    older tables, whose key is ``key`` (of ``key_type``) and event time ``event_time`` (of
    ``event_time_type``). :attr:`keys` and :attr:`time` answer for both kinds: every
    reader and writer takes the names from there.
    """

    columns: tuple[Column, ...]
    key_type: pa.DataType = _SEED_KEY_TYPE
    event_time_type: pa.DataType = _SEED_EVENT_TIME_TYPE
    schema_id: int = 0
    next_column_id: int = 0
    dropped: tuple[DroppedColumn, ...] = ()
    key_columns: tuple[Column, ...] = ()
    event_time_column: Column | None = None

    def __post_init__(self) -> None:
        # the first key's and the event time's types, kept in step with the named columns
        if self.key_columns:
            object.__setattr__(self, "key_type", self.key_columns[0].type)
        if self.event_time_column is not None:
            object.__setattr__(self, "event_time_type", self.event_time_column.type)

    @property
    def named(self) -> bool:
        """Whether the key and event-time columns are recorded by name (format 4)."""
        return bool(self.key_columns)

    @property
    def keys(self) -> tuple[Column, ...]:
        """The key columns in key order (``key`` alone before format 4; id 0: found by
        name in data files)."""
        return self.key_columns or (Column(0, KEY, self.key_type, nullable=False),)

    @property
    def time(self) -> Column:
        """The event-time column (``event_time`` before format 4)."""
        if self.event_time_column is not None:
            return self.event_time_column
        return Column(0, EVENT_TIME, self.event_time_type, nullable=False)

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.keys)

    @property
    def event_time_name(self) -> str:
        return self.time.name

    @property
    def fixed_names(self) -> tuple[str, ...]:
        """The key columns and the event time: the columns that choose and merge rows."""
        return (*self.key_names, self.event_time_name)

    @property
    def composite(self) -> bool:
        return len(self.keys) > 1

    @property
    def key_fields(self) -> list[pa.Field[Any]]:
        return [c.to_arrow() for c in self.keys]

    @property
    def names(self) -> list[str]:
        return [*self.fixed_names, *(c.name for c in self.columns)]

    @property
    def new_column_id(self) -> int:
        """The id the next added column gets: ids are never reused, even after a drop."""
        used = [c.id for c in (*self.key_columns, *self.columns)] + [d.id for d in self.dropped]
        if self.event_time_column is not None:
            used.append(self.event_time_column.id)
        return max(self.next_column_id, max(used, default=0) + 1)

    def column(self, name: str) -> Column | None:
        for column in self.columns:
            if column.name == name:
                return column
        return None

    def fixed_column(self, name: str) -> Column | None:
        """The key or event-time column called ``name``, if any."""
        for column in (*self.keys, self.time):
            if column.name == name:
                return column
        return None

    def field(self, name: str) -> pa.Field[Any]:
        fixed = self.fixed_column(name)
        if fixed is not None:
            return pa.field(name, fixed.type, nullable=False)
        column = self.column(name)
        if column is None:
            raise KeyError(name)
        return column.to_arrow()

    def to_arrow(self) -> pa.Schema:
        return pa.schema([self.field(name) for name in self.names])
