"""The buffered writer behind ``Table.writer()`` and the commit record of ``Table.log()``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from azof.format import KEY

if TYPE_CHECKING:
    from azof.table import Table

__all__ = ["Commit", "TableWriter"]


@dataclass(frozen=True)
class Commit:
    """One entry of ``Table.log()``."""

    version: int
    time: datetime
    operation: str
    rows: int
    files: int
    parent: int | None
    properties: Mapping[str, str] = field(default_factory=dict)


class TableWriter:
    """Buffers rows and commits them in batches; use it as a context manager.

    ``put`` and ``write`` add rows; every ``batch_rows`` buffered rows are committed as one
    version, and the rest when the ``with`` block ends normally. If the block raises, the
    unflushed rows are dropped (earlier batches stay committed). ``versions`` lists what
    this writer committed.
    """

    def __init__(self, table: Table, *, batch_rows: int = 100_000) -> None:
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        self._table = table
        self._batch_rows = batch_rows
        self._rows: list[dict[str, Any]] = []
        self._tables: list[pa.Table] = []
        self._buffered = 0
        self.versions: list[int] = []
        self._closed = False

    def put(self, key: Any, event_time: Any, /, **values: Any) -> None:
        from azof.write.append import event_time_scalar

        scalar = event_time_scalar(event_time, self._table.snapshot.schema)
        self._rows.append({KEY: key, "event_time": scalar.as_py(), **values})
        self._grow(1)

    def write(self, data: Any) -> None:
        """Buffer any input ``Table.append`` takes (flushes the rows ``put`` so far first)."""
        self._flush_rows()
        from azof.write.conform import iter_input_batches

        for part in iter_input_batches(data, self._table.snapshot.schema):
            self._tables.append(part)
            self._grow(part.num_rows)

    def _flush_rows(self) -> None:
        if self._rows:
            from azof.write.conform import iter_input_batches

            self._tables.extend(iter_input_batches(self._rows, self._table.snapshot.schema))
            self._rows = []

    def _grow(self, rows: int) -> None:
        self._buffered += rows
        if self._buffered >= self._batch_rows:
            self.flush()

    def flush(self) -> int | None:
        """Commit what is buffered now; the version, or ``None`` if nothing was buffered."""
        self._flush_rows()
        if not self._tables:
            return None
        tables = self._tables
        self._tables, self._buffered = [], 0
        batches = [b for t in tables for b in t.to_batches()]
        schema = tables[0].schema
        unified = [t.cast(schema) if t.schema != schema else t for t in tables]
        data = pa.concat_tables(unified, promote_options="permissive") if batches else tables[0]
        version = self._table.append(data)
        self.versions.append(version)
        return version

    def close(self) -> None:
        if not self._closed:
            self.flush()
            self._closed = True

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
        else:
            self._rows, self._tables, self._buffered = [], [], 0
            self._closed = True
