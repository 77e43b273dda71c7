"""``asof_join``: each row of a frame with the table's state of its key as of the row's own
time, as it was known at the row's own commit time (point-in-time correct features, as
feature stores join them, but bitemporal).

A row ``(key, at, known_at)`` gets, for its key, the latest event with ``event_time <=
at`` among the commits made at or before ``known_at``: what ``scan(as_of=at,
known_at=known_at)`` answers for the key. Rows are grouped by the version their
``known_at`` selects (:mod:`azof.temporal.knowledge`), and each group is answered by one
vectorized lookup against that version (:mod:`azof.temporal.asof_match`). A
``RecordBatchReader`` is joined in chunks of ``batch_rows`` rows and returned as a stream.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pyarrow as pa

from azof.errors import InvalidArgumentError
from azof.scan.read import ScanMetrics
from azof.temporal.asof_match import (
    Ints,
    Probes,
    check_key_type,
    lookup,
    make_probes,
    time_column,
)
from azof.temporal.events import Source, keys_of, open_source
from azof.temporal.knowledge import versions_known_at
from azof.timestamps import parse_instant

if TYPE_CHECKING:
    from azof.table import Table

__all__ = [
    "BATCH_ROWS",
    "KeyColumns",
    "asof_join",
    "event_time_name",
    "key_columns",
    "known_at_column",
    "left_chunks",
    "table_keys",
    "to_arrow",
]

KeyColumns = str | Sequence[str] | Mapping[str, str]
"""``on``: the left column holding the key, the left columns holding the table's key
columns in order, or a mapping from left column to key column."""

BATCH_ROWS = 1_000_000
"""Rows of a streamed left side joined at a time (memory is bounded by this many rows and
the events of their keys)."""


def table_keys(source: Source) -> list[str]:
    """The table's key columns, in order."""
    return list(source.schema.key_names)


def event_time_name(source: Source) -> str:
    """The name of the table's event-time column."""
    return source.schema.event_time_name


def key_columns(on: KeyColumns | None, source: Source) -> list[tuple[str, str]]:
    """``on`` as ``(left column, key column)`` pairs, one per key column of the table
    (``None``: left columns named as the key columns)."""
    keys = table_keys(source)
    pairs: list[tuple[str, str]]
    if on is None:
        pairs = [(key, key) for key in keys]
    elif isinstance(on, str):
        pairs = [(on, keys[0])] if len(keys) == 1 else []
    elif isinstance(on, Mapping):
        pairs = [(str(left), str(key)) for left, key in on.items()]
    else:
        names = list(on)
        pairs = list(zip(names, keys, strict=False)) if len(names) == len(keys) else []
    if sorted(key for _, key in pairs) != sorted(keys):
        raise InvalidArgumentError(
            f"asof_join: on={on!r} does not name a left column for each key column of table "
            f"{source.name!r} ({', '.join(keys)}); pass on='col', on=[...] in key order, or "
            "on={'left column': 'key column'}"
        )
    return pairs


def to_arrow(left: Any) -> pa.Table:
    """A pyarrow Table, RecordBatch or RecordBatchReader, a pandas or polars DataFrame, or
    any object with ``__arrow_c_stream__``, as a pyarrow Table."""
    if isinstance(left, pa.Table):
        return left
    if isinstance(left, pa.RecordBatch):
        return pa.Table.from_batches([left])
    if isinstance(left, pa.RecordBatchReader):
        return left.read_all()
    module = type(left).__module__
    if module.startswith("pandas") and hasattr(left, "columns"):
        return pa.Table.from_pandas(left, preserve_index=False).replace_schema_metadata(None)
    if module.startswith("polars") and hasattr(left, "to_arrow"):
        converted = left.to_arrow()
        if isinstance(converted, pa.Table):
            return converted
    if hasattr(left, "__arrow_c_stream__"):
        return pa.table(left)
    raise InvalidArgumentError(
        f"asof_join: cannot read a {type(left).__name__} as rows; pass a pyarrow Table, "
        "RecordBatch or RecordBatchReader, or a pandas or polars DataFrame"
    )


def _field(schema: pa.Schema, name: str, role: str) -> pa.DataType:
    if name not in schema.names:
        raise InvalidArgumentError(
            f"asof_join: the left rows have no {role} column {name!r}; they have "
            f"{', '.join(schema.names) or '(none)'} (pass {role}=...)"
        )
    kind: Any = schema.field(name).type
    value: pa.DataType = kind.value_type if pa.types.is_dictionary(kind) else kind
    return value


def _column(frame: pa.Table, name: str) -> Any:
    column: Any = frame.column(name).combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return column


def _check_time_type(kind: pa.DataType, role: str, name: str) -> None:
    if not (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
        raise InvalidArgumentError(
            f"asof_join: {role} column {name!r} is {kind}; it must hold timestamps (any unit; "
            "no zone means UTC) or dates"
        )


def _output_names(taken: list[str], names: list[str], prefix: str, suffix: str) -> list[str]:
    used = set(taken)
    out = []
    for name in names:
        label = prefix + name
        if label in used:
            label += suffix
        if label in used:
            raise InvalidArgumentError(
                f"asof_join: column {label!r} exists in the left rows; pass another "
                "prefix= or suffix="
            )
        used.add(label)
        out.append(label)
    return out


def known_at_column(known_at: Any, names: Sequence[str]) -> str | None:
    """The left column ``known_at`` names, or ``None`` when it is an instant (or ``None``).
    Text that is neither a column nor an instant is an error naming both readings."""
    if not isinstance(known_at, str) or known_at in names:
        return known_at if isinstance(known_at, str) else None
    try:
        parse_instant(known_at, "known_at")
    except InvalidArgumentError:
        raise InvalidArgumentError(
            f"asof_join: known_at {known_at!r} is neither a column of the left rows (they "
            f"have {', '.join(names) or '(none)'}) nor an instant such as "
            "'2024-01-01T00:00:00Z'"
        ) from None
    return None


@dataclass(frozen=True)
class _Join:
    """One join, its arguments checked against the left rows' schema."""

    table: Table
    source: Source
    """The snapshot for names and types, and the one read when rows carry no known_at."""
    on: list[tuple[str, str]]
    """(left column, key column) pairs in key order."""
    at: str
    known_at: str | None
    names: list[str]
    """The table columns added (value columns, maybe ``event_time``)."""
    schema: pa.Schema
    """The output: the left columns and the added ones."""

    @property
    def added(self) -> list[pa.Field[Any]]:
        """The fields of the added columns (as named in the output)."""
        width = len(self.schema)
        return [self.schema.field(i) for i in range(width - len(self.names), width)]

    def run(self, frame: pa.Table) -> pa.Table:
        source, names = self.source, self.names
        times = time_column(_column(frame, self.at), source.per_unit, "at", self.at)
        if len(self.on) == 1:
            ((left, _),) = self.on
            keys, key_type = _column(frame, left), source.schema.key_type
        else:  # a composite key: its order-preserving encoding, as the events carry it
            columns = {
                key: _column(frame, left).cast(source.schema.field(key).type)
                for left, key in self.on
            }
            keys = keys_of(pa.table(columns), source.schema)
            key_type, left = keys.type, ",".join(left for left, _ in self.on)
        probes = make_probes(keys, key_type, times, source.name, left)
        if self.known_at is None:
            matched = lookup(source, names, probes)
        else:
            known = time_column(_column(frame, self.known_at), 1, "known_at", self.known_at)
            versions = versions_known_at(self.table, known.values, known.valid, self.known_at)
            matched = self._by_version(versions, probes)
        arrays = [*frame.columns, *matched.columns]
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def _by_version(self, versions: Ints, probes: Probes) -> pa.Table:
        """Each row's lookup against the version its known_at selects (nulls for -1)."""
        fields = self.added
        n = len(versions)
        order = np.argsort(versions, kind="stable")
        sorted_versions = versions[order]
        bounds = np.flatnonzero(np.diff(sorted_versions)) + 1
        parts: list[pa.Table] = []
        for rows in np.split(order, bounds) if n else []:
            version = int(versions[rows[0]])
            if version < 0:
                nulls = [pa.nulls(len(rows), f.type) for f in fields]
                part = pa.Table.from_arrays(nulls, names=self.names)
            else:
                part = self._lookup_at(version, probes.take(rows), fields)
            parts.append(part)
        if not parts:
            return pa.Table.from_arrays([pa.nulls(0, f.type) for f in fields], names=self.names)
        inverse = np.empty(n, dtype=np.int64)
        inverse[order] = np.arange(n, dtype=np.int64)
        return pa.concat_tables(parts).take(inverse)

    def _lookup_at(self, version: int, probes: Probes, fields: list[pa.Field[Any]]) -> pa.Table:
        """The lookup against one version: columns it does not have yet are null, and a
        column widened since is cast to the type of the loaded version."""
        source = open_source(self.table, version, None, self.source.metrics)
        known = {c.name for c in source.schema.columns} | {event_time_name(source)}
        present = [name for name in self.names if name in known]
        found = lookup(source, present, probes)
        arrays = []
        for name, field in zip(self.names, fields, strict=True):
            if name in present:
                arrays.append(found.column(name).cast(field.type))
            else:
                arrays.append(pa.nulls(found.num_rows, field.type))
        return pa.Table.from_arrays(arrays, names=self.names)

    def stream(self, reader: pa.RecordBatchReader, batch_rows: int) -> Iterator[pa.RecordBatch]:
        for chunk in left_chunks(reader, batch_rows):
            yield from self.run(chunk).to_batches()


def left_chunks(reader: pa.RecordBatchReader, batch_rows: int) -> Iterator[pa.Table]:
    """A streamed left side as tables of at least ``batch_rows`` rows (the last maybe
    fewer), read as they are needed."""
    chunk: list[pa.RecordBatch] = []
    rows = 0
    for batch in reader:
        chunk.append(batch)
        rows += batch.num_rows
        if rows >= batch_rows:
            yield pa.Table.from_batches(chunk, reader.schema)
            chunk, rows = [], 0
    if chunk:
        yield pa.Table.from_batches(chunk, reader.schema)


@overload
def asof_join(
    table: Table,
    left: pa.RecordBatchReader,
    on: KeyColumns | None = ...,
    at: str = ...,
    *,
    columns: Sequence[str] | str | None = ...,
    version: int | None = ...,
    known_at: Any = ...,
    metrics: ScanMetrics | None = ...,
    prefix: str = ...,
    suffix: str = ...,
    batch_rows: int = ...,
) -> pa.RecordBatchReader: ...


@overload
def asof_join(
    table: Table,
    left: pa.Table | pa.RecordBatch | Any,
    on: KeyColumns | None = ...,
    at: str = ...,
    *,
    columns: Sequence[str] | str | None = ...,
    version: int | None = ...,
    known_at: Any = ...,
    metrics: ScanMetrics | None = ...,
    prefix: str = ...,
    suffix: str = ...,
    batch_rows: int = ...,
) -> pa.Table: ...


def asof_join(
    table: Table,
    left: Any,
    on: KeyColumns | None = None,
    at: str = "ts",
    *,
    columns: Sequence[str] | str | None = None,
    version: int | None = None,
    known_at: Any = None,
    metrics: ScanMetrics | None = None,
    prefix: str = "",
    suffix: str = "_right",
    batch_rows: int = BATCH_ROWS,
) -> pa.Table | pa.RecordBatchReader:
    """``left``'s rows, in their order, each with the table's state of key ``row[on]`` as
    of event time ``row[at]`` as known at commit time ``row[known_at]``: the answer of
    ``scan(as_of=row[at], known_at=row[known_at])`` for that key.

    ``on`` says which left columns hold the key: ``None`` (columns named like the table's
    key columns), a name, a list of names matched with the key columns in order, or a
    mapping of left column to key column.

    ``left``: a pyarrow Table / RecordBatch / RecordBatchReader, a pandas or polars
    DataFrame. A ``RecordBatchReader`` is joined ``batch_rows`` rows at a time and the
    answer is a ``RecordBatchReader`` too (memory bounded by a chunk, not the stream).
    ``row[at]``: a timestamp of any unit and zone (no zone: UTC) or a date (midnight UTC),
    compared with event times rounded down to the table's unit, so no row sees an event
    after its own time. A row whose key has no event at or before its time, whose latest
    such event is a delete, or whose key or time is null gets nulls.

    ``on``: the left column holding the key (or a list of columns in key order, or a
    mapping from left column to key column). Adds the table's value columns
    (``columns``: a subset, which may include ``event_time``, the matched event's time),
    each named ``prefix + name``, plus ``suffix`` when that clashes with a left column.

    ``known_at`` (commit time) is a column of ``left`` (timestamps or dates): each row
    sees only the commits made at or before its own value, so corrections, late rows and
    deletes committed later do not reach it (a null ``known_at`` gets nulls; one before
    the first retained commit is a :class:`~azof.errors.VersionNotFoundError`). Or it is
    one instant for all rows, as is ``version``; by default, the version the table has
    loaded answers every row.
    """
    streamed = isinstance(left, pa.RecordBatchReader)
    frame = None if streamed else to_arrow(left)
    schema: pa.Schema = left.schema if frame is None else frame.schema
    known_column = known_at_column(known_at, schema.names)
    if known_column is not None and version is not None:
        raise InvalidArgumentError(
            "asof_join: pass either version= or a known_at= column (both are commit time), not both"
        )
    if batch_rows < 1:
        raise InvalidArgumentError(f"asof_join: batch_rows must be at least 1, not {batch_rows}")
    source = open_source(table, version, None if known_column else known_at, metrics)
    join = _plan(table, source, schema, on, at, known_column, columns, prefix, suffix)
    if frame is None:
        return pa.RecordBatchReader.from_batches(join.schema, join.stream(left, batch_rows))
    return join.run(frame)


def _plan(
    table: Table,
    source: Source,
    schema: pa.Schema,
    on: KeyColumns | None,
    at: str,
    known_column: str | None,
    columns: Sequence[str] | str | None,
    prefix: str,
    suffix: str,
) -> _Join:
    """The join's arguments checked against the left rows' ``schema`` (before any row is
    read, so that a stream fails at once)."""
    event_time = event_time_name(source)
    pairs = key_columns(on, source)
    for left_key, key in pairs:
        kind = source.schema.field(key).type
        check_key_type(_field(schema, left_key, "on"), kind, source.name, left_key)
    _check_time_type(_field(schema, at, "at"), "at", at)
    if known_column is not None:
        _check_time_type(_field(schema, known_column, "known_at"), "known_at", known_column)
    names = source.value_columns(columns, extra=(event_time,))
    labels = _output_names(schema.names, names, prefix, suffix)
    added = [
        source.schema.field(n).with_name(label).with_nullable(True)
        for n, label in zip(names, labels, strict=True)
    ]
    out = pa.schema([*schema, *added])
    return _Join(table, source, pairs, at, known_column, names, out)
