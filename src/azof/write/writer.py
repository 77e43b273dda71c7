"""The buffered writer behind ``Table.writer()`` and the commit record of ``Table.log()``."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from azof.errors import InvalidArgumentError
from azof.format import TOMBSTONE, TableSchema
from azof.format.types import unit_nanos
from azof.timestamps import parse_instant
from azof.write.append import delete_instant, key_list, put_row, tombstones
from azof.write.conform import conform
from azof.write.inputs import input_tables

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


class _State(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


class _RowCheck:
    """A quick check that a ``put`` row fits a schema, value by value, so that a bad value
    is refused by the put that gives it. A row it doubts is conformed on its own, which
    accepts it or raises the error an append of it would."""

    def __init__(self, schema: TableSchema) -> None:
        self.schema = schema
        self.fields = {f.name: f for f in schema.to_arrow()}
        self.required = [
            column.name
            for column in schema.columns
            if not column.nullable and column.default is None
        ]
        self.plain: dict[str, Callable[[Any], bool]] = {}
        for name, found in self.fields.items():
            plain = _plain_check(found.type)
            if plain is not None:
                self.plain[name] = plain

    def fits(self, row: Mapping[str, Any]) -> bool:
        for name, value in row.items():
            found = self.fields.get(name)
            if found is None:
                return False
            if value is None:
                if not found.nullable or name in self.schema.fixed_names:
                    return False
                continue
            if isinstance(value, pa.Scalar) and value.type.equals(found.type):
                continue  # the event time put_row made
            plain = self.plain.get(name)
            if plain is not None and plain(value):
                continue
            if not self._converts(found.type, name, value):
                return False
        return all(name in row for name in self.required)

    @staticmethod
    def _converts(dtype: pa.DataType, name: str, value: Any) -> bool:
        """Whether ``value`` becomes a value of ``dtype`` as an append converts it."""
        try:
            if isinstance(value, str) and pa.types.is_timestamp(dtype):
                return parse_instant(value, name) % unit_nanos(dtype) == 0
            pa.scalar(value, type=dtype)
        except (pa.ArrowException, OverflowError, TypeError, ValueError):
            return False
        return True


def _plain_check(dtype: pa.DataType) -> Callable[[Any], bool] | None:
    """A check of Python values that surely fit ``dtype`` (cheaper than converting them);
    a value it does not accept is converted to decide."""
    if pa.types.is_integer(dtype):
        bits = dtype.bit_width
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        if pa.types.is_unsigned_integer(dtype):
            low, high = 0, 2**bits - 1
        return lambda v: type(v) is int and low <= v <= high
    if pa.types.is_floating(dtype) and dtype.bit_width == 64:
        return lambda v: type(v) is float or (type(v) is int and abs(v) <= 2**53)
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return lambda v: type(v) is str
    if pa.types.is_boolean(dtype):
        return lambda v: type(v) is bool
    if pa.types.is_timestamp(dtype) and dtype.unit in ("us", "ns"):
        return lambda v: type(v) is datetime  # microseconds fit
    return None


class TableWriter:
    """Buffers rows and delete events and commits them in batches; use it as a context
    manager.

    ``put``, ``write`` and ``delete`` buffer rows (a delete buffers one tombstone per key);
    every ``batch_rows`` buffered rows are committed as one version, and the rest when the
    ``with`` block ends normally (or on :meth:`flush` / :meth:`close`). A batch commits its
    rows as one append does: of rows with the same key and event time the later call wins,
    whether a put, a written row or a delete. Each call is checked when it is made: data
    that does not fit the table is refused by that call (``SchemaMismatchError``) and
    buffers nothing. The buffer is emptied only once its commit has landed: a commit that
    fails keeps every row, for the next flush. If the block raises, the unflushed rows are
    dropped (earlier batches stay committed). A closed writer refuses every call.
    ``versions`` lists what this writer committed.
    """

    def __init__(self, table: Table, *, batch_rows: int = 100_000) -> None:
        if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
            raise InvalidArgumentError(f"batch_rows {batch_rows!r} is not a whole number >= 1")
        self._table = table
        self._batch_rows = batch_rows
        self._rows: list[dict[str, Any]] = []  # puts since the last part, in call order
        self._parts: list[pa.Table] = []  # conformed, with the tombstone flag, in call order
        self._buffered = 0
        self._check: _RowCheck | None = None
        self._state = _State.OPEN
        self.versions: list[int] = []

    def __repr__(self) -> str:
        return f"TableWriter({self._table.name!r}, {self._state.value}, buffered={self._buffered})"

    @property
    def buffered(self) -> int:
        """Rows (and delete events) buffered, not yet committed."""
        return self._buffered

    @property
    def closed(self) -> bool:
        return self._state is _State.CLOSED

    def _ensure_open(self, call: str) -> None:
        if self._state is _State.CLOSED:
            raise InvalidArgumentError(
                f"table {self._table.name!r}: {call}() on a closed writer (closed by close() "
                "or the end of its with block), whose rows would never be committed; get a "
                "new one from table.writer()"
            )

    @property
    def _schema(self) -> TableSchema:
        return self._table.snapshot_at(whole=False).schema

    def put(self, key: Any, event_time: Any, /, **values: Any) -> None:
        """Buffer one row (arguments as :meth:`Table.put`)."""
        self._ensure_open("put")
        schema = self._schema
        row = put_row(schema, self._table.name, key, event_time, values)
        if self._check is None or self._check.schema is not schema:
            self._check = _RowCheck(schema)
        if not self._check.fits(row):
            self._conformed([row])  # raises what an append of the row would
        self._rows.append(row)
        self._grow(1)

    def write(self, data: Any) -> None:
        """Buffer any input :meth:`Table.append` takes; refused data buffers none of its
        rows."""
        self._ensure_open("write")
        parts = self._conformed(data)
        self._seal()
        self._parts.extend(parts)
        self._grow(sum(part.num_rows for part in parts))

    def delete(self, keys: Any, event_time: Any = None) -> None:
        """Buffer a delete of ``keys`` as of ``event_time`` (default: now, taken at this
        call), as :meth:`Table.delete`."""
        self._ensure_open("delete")
        keys = key_list(keys, self._schema)
        if not keys.num_rows:
            return
        schema = self._schema
        rows = tombstones(schema, keys, delete_instant(event_time, schema))
        part = conform(rows, schema, self._table.name, tombstones=True)
        self._seal()
        self._parts.append(part)
        self._grow(part.num_rows)

    def _conformed(self, data: Any) -> list[pa.Table]:
        schema, name = self._schema, self._table.name
        return [conform(part, schema, name) for part in input_tables(data, schema, name)]

    def _seal(self) -> None:
        """Turn the buffered puts into a part (keeping them if that fails)."""
        if self._rows:
            self._parts.extend(self._conformed(self._rows))
            self._rows = []

    def _grow(self, rows: int) -> None:
        self._buffered += rows
        if self._buffered >= self._batch_rows:
            self.flush()

    def flush(self) -> int | None:
        """Commit what is buffered now, as one version; the version, or ``None`` if nothing
        was buffered. The buffer is emptied once the commit has landed."""
        self._ensure_open("flush")
        self._seal()
        if not self._parts:
            return None
        data = self._parts[0] if len(self._parts) == 1 else pa.concat_tables(self._parts)
        deletes = int(pc.sum(data.column(TOMBSTONE)).as_py() or 0)
        version = self._table._commit_rows(
            data,
            operation="delete" if deletes == data.num_rows else "append",
            deleting=deletes > 0,
        )
        self._parts, self._buffered = [], 0
        self.versions.append(version)
        return version

    def close(self) -> None:
        """Commit what is buffered and close the writer (closing twice is fine). If that
        commit fails, the writer stays open with its rows."""
        if self._state is _State.OPEN:
            self.flush()
            self._state = _State.CLOSED

    def __enter__(self) -> TableWriter:
        self._ensure_open("__enter__")
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
            self._rows, self._parts, self._buffered = [], [], 0
            self._state = _State.CLOSED
