"""One-line writes: :func:`write_table`, in the spirit of ``deltalake.write_deltalake``.

``write_table("s3://bucket/lake/readings", frame, key="key", event_time="event_time")``
opens the lakehouse, creates the table from the data's columns when it does not exist yet
and appends the data, in one call. Thin: it resolves the target and the mode, then uses
:meth:`azof.lakehouse.Lakehouse.create_table` and :meth:`azof.table.Table.append`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, cast

import pyarrow as pa

from azof.errors import (
    InvalidArgumentError,
    SchemaMismatchError,
    TableExistsError,
    TableNotFoundError,
)
from azof.lakehouse import Lakehouse, check_table_name
from azof.table import Table
from azof.write.conform import conform, validate_new_schema
from azof.write.create import schema_from_arrow
from azof.write.inputs import input_tables, open_stream
from azof.write.timetext import is_text

__all__ = ["TEXT_EVENT_TIME", "WriteMode", "write_table"]

WriteMode = Literal["append", "error", "create"]
_MODES = ("append", "error", "create")

_VIEWS: dict[pa.DataType, pa.DataType] = {
    pa.string_view(): pa.large_string(),
    pa.binary_view(): pa.large_binary(),
}
"""Arrow's view types (polars gives them) and the types a table stores them as."""

TEXT_EVENT_TIME = pa.timestamp("us", tz="UTC")
"""The event-time type of a table created from data whose event times are text."""


def write_table(
    target: str | Path | Table,
    data: Any,
    *,
    key: str | Sequence[str] | None = None,
    event_time: str | None = None,
    mode: WriteMode = "append",
    storage_options: dict[str, Any] | None = None,
    properties: Mapping[str, str] | None = None,
) -> Table:
    """Write ``data`` to a table in one call; returns the table, at the version written.

    ``target`` is ``"<lakehouse>/<table>"`` (a local path, ``file://``, ``memory://``,
    ``s3://``, ``gs://`` or ``az://`` URI; ``storage_options`` go to the object store) or a
    :class:`~azof.table.Table`. ``data`` is anything :meth:`Table.append` takes: a pyarrow
    Table or RecordBatchReader, a pandas or polars DataFrame, any object with
    ``__arrow_c_stream__``, a list of dicts or a dict of lists. A stream is written one
    batch at a time (bounded memory).

    ``mode``: ``"append"`` (default) appends, and creates the table from the data's
    columns when it does not exist; ``"error"`` and ``"create"`` create the table and
    refuse (``TableExistsError``) one that exists. Creating needs ``key`` and
    ``event_time``, the data's key and event-time columns; event times given as text
    (ISO-8601, no offset = UTC) make a ``timestamp[us, tz=UTC]`` column, a naive
    timestamp column is stored as UTC. When appending, ``key`` and ``event_time`` may be
    given to check them against the table's. Invalid data is refused before anything is
    written (for a stream: before its first batch is committed; a table created for it
    stays, empty). ``properties`` are stored with the commit, as in :meth:`Table.append`.
    """
    if mode not in _MODES:
        raise InvalidArgumentError(
            f"mode {mode!r} is not one of {', '.join(map(repr, _MODES))}: 'append' adds to "
            "the table (creating it if needed), 'error' and 'create' refuse an existing table"
        )
    keys = _key_names(key)
    if event_time is not None and not isinstance(event_time, str):
        raise InvalidArgumentError(f"event_time must be a column name, not {event_time!r}")
    lake, name, table = _resolve_target(target, storage_options)
    if table is None:
        try:
            table = lake.table(name)
        except TableNotFoundError:
            table = None
    if table is not None:
        if mode != "append":
            raise TableExistsError(
                f"table {name!r} already exists in {lake.storage.uri} (mode={mode!r}); pass "
                "mode='append' to add to it"
            )
        _check_columns(table, keys, event_time)
        table.append(data, properties=properties)
        return table
    if keys is None or event_time is None:
        raise InvalidArgumentError(
            f"table {name!r} does not exist in {lake.storage.uri}; to create it from the "
            "data, name its key and event-time columns: key=..., event_time=..."
        )
    data, schema = _prepared(data, keys, event_time, name)
    created = _create(lake, name, schema, keys, event_time, exist_ok=mode == "append")
    created.append(data, properties=properties)
    return created


def _key_names(key: Any) -> tuple[str, ...] | None:
    if key is None:
        return None
    names = (key,) if isinstance(key, str) else key
    if (
        not isinstance(names, (list, tuple))
        or not names
        or not all(isinstance(n, str) and n for n in names)
    ):
        raise InvalidArgumentError(
            f"key must be a column name or a list of column names, not {key!r}"
        )
    return tuple(names)


def _resolve_target(
    target: Any, storage_options: dict[str, Any] | None
) -> tuple[Lakehouse, str, Table | None]:
    """The lakehouse, the table name and (for a Table target) the table."""
    if isinstance(target, Table):
        if storage_options:
            raise InvalidArgumentError(
                "storage_options apply to a target given as text; this Table's lakehouse is "
                "open already"
            )
        return target.lakehouse, target.name, target
    if isinstance(target, Path):
        target = str(target)
    if not isinstance(target, str) or not target.strip():
        raise InvalidArgumentError(
            f"target must be '<lakehouse>/<table>' or an azof.Table, not {target!r}"
        )
    text = target.rstrip("/")
    if "://" in text:
        scheme, rest = text.split("://", 1)
        if "/" not in rest.strip("/"):
            raise InvalidArgumentError(
                f"target {target!r} names no table; write '{scheme}://<lakehouse>/<table>'"
            )
        base, name = text.rsplit("/", 1)
    else:
        path = Path(text)
        base, name = str(path.parent), path.name
    check_table_name(name)
    return Lakehouse(base, storage_options), name, None


def _check_columns(table: Table, keys: tuple[str, ...] | None, event_time: str | None) -> None:
    """Refuse ``key``/``event_time`` that are not the existing table's."""
    table_keys, table_time = table.key_columns, table.event_time_column
    if keys is not None and keys != table_keys:
        raise InvalidArgumentError(
            f"table {table.name!r} is keyed by {', '.join(table_keys)}, not by "
            f"{', '.join(keys)}; leave key out to append to it"
        )
    if event_time is not None and event_time != table_time:
        raise InvalidArgumentError(
            f"table {table.name!r} has event-time column {table_time!r}, not {event_time!r}; "
            "leave event_time out to append to it"
        )


def _prepared(
    data: Any, keys: tuple[str, ...], event_time: str, name: str
) -> tuple[Any, pa.Schema]:
    """The data to append (a stream stays a stream; other data as one Arrow table) and the
    schema of the table to create for it."""
    if isinstance(data, pa.RecordBatchReader) or (
        hasattr(data, "__arrow_c_stream__")
        and not isinstance(data, (pa.Table, pa.RecordBatch))
        and not type(data).__module__.startswith("pandas")
    ):
        reader = open_stream(data, name)
        return reader, _table_schema(reader.schema, keys, event_time, name)
    arrow = _arrow_table(data, name)
    schema = _table_schema(arrow.schema, keys, event_time, name)
    _check_fits(arrow, schema, keys, event_time, name)
    return arrow, schema


def _arrow_table(data: Any, name: str) -> pa.Table:
    """In-memory data as an Arrow table, its types inferred (the table is made from them)."""
    try:
        if isinstance(data, pa.Table):
            return data
        if isinstance(data, pa.RecordBatch):
            return pa.Table.from_batches([data])
        if type(data).__module__.startswith("pandas") and hasattr(data, "columns"):
            return pa.Table.from_pandas(data, preserve_index=False)
        if isinstance(data, Mapping):
            return pa.table({str(k): v for k, v in data.items()})
        if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
            if not all(isinstance(row, Mapping) for row in data):
                raise InvalidArgumentError(
                    f"table {name!r}: a list given as data must hold dicts (one per row)"
                )
            return pa.Table.from_pylist(list(data))
    except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
        if isinstance(exc, InvalidArgumentError):
            raise
        raise SchemaMismatchError(
            f"table {name!r}: cannot make a table from the data ({str(exc).splitlines()[0]}); "
            "give each column values of one type, or create the table with "
            "Lakehouse.create_table and a schema first"
        ) from None
    raise InvalidArgumentError(
        f"table {name!r}: cannot write a {type(data).__name__}; pass a pyarrow Table/"
        "RecordBatchReader, a pandas or polars DataFrame, a list of dicts or a dict of lists"
    )


def _table_schema(
    schema: pa.Schema, keys: tuple[str, ...], event_time: str, name: str
) -> pa.Schema:
    """The schema of a table made for data of ``schema``: event times as UTC timestamps
    (text as ``TEXT_EVENT_TIME``), key and event time not nullable, dictionary columns as
    their values, view types (polars) as large strings or binaries."""
    missing = [n for n in (*keys, event_time) if n not in schema.names]
    if missing:
        raise SchemaMismatchError(
            f"table {name!r}: the data has no column {', '.join(map(repr, missing))}; its "
            f"columns are {', '.join(schema.names)}"
        )
    fields = []
    for field in schema:
        dtype = field.type
        if pa.types.is_dictionary(dtype):
            dtype = cast(Any, dtype).value_type
        dtype = _VIEWS.get(dtype, dtype)
        if field.name == event_time:
            if is_text(dtype):
                dtype = TEXT_EVENT_TIME
            elif pa.types.is_timestamp(dtype):
                dtype = pa.timestamp(cast(Any, dtype).unit, tz="UTC")
        required = field.name in keys or field.name == event_time
        nullable = field.nullable and not (required and not pa.types.is_null(dtype))
        fields.append(pa.field(field.name, dtype, nullable=nullable))
    return pa.schema(fields)


def _check_fits(
    data: pa.Table, schema: pa.Schema, keys: tuple[str, ...], event_time: str, name: str
) -> None:
    """Refuse ``data`` that would not fit the table made for it, before it is made: the
    checks of an append (nulls in the key, unparsable or out-of-range event times...)."""
    checked = validate_new_schema(schema, name, keys, event_time)
    table_schema = schema_from_arrow(checked, keys, event_time)
    for part in input_tables(data, table_schema, name):
        conform(part, table_schema, name)


def _create(
    lake: Lakehouse,
    name: str,
    schema: pa.Schema,
    keys: tuple[str, ...],
    event_time: str,
    *,
    exist_ok: bool,
) -> Table:
    """``create_table`` with the key and event-time columns named."""
    key = keys[0] if len(keys) == 1 else list(keys)
    return lake.create_table(name, schema, key=key, event_time=event_time, exist_ok=exist_ok)
