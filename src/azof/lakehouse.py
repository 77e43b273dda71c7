"""The public entry point: :class:`Lakehouse`, a folder of tables, which creates and opens
:class:`azof.table.Table` objects."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from azof import tablelog
from azof.errors import (
    InvalidArgumentError,
    StorageError,
    TableExistsError,
    TableNotFoundError,
)
from azof.format import encode_snapshot
from azof.format.types import UnknownTypeError, type_to_json
from azof.storage import Storage, open_storage

if TYPE_CHECKING:
    from azof.table import Table

__all__ = ["STORAGE_OPTIONS_ENV", "Lakehouse", "check_table_name", "env_storage_options"]

STORAGE_OPTIONS_ENV = "AZOF_STORAGE_OPTIONS"
"""A JSON object of storage options for object-store lakehouses (under explicit ones)."""

_TABLE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def check_table_name(name: str) -> str:
    if not isinstance(name, str) or not _TABLE_NAME.match(name) or ".." in name:
        raise InvalidArgumentError(
            f"table name {name!r} is not valid; use letters, digits, '_', '-' and '.'"
        )
    return name


def _arrow_schema(schema: Any, table: str) -> pa.Schema:
    """The schema given to ``create_table`` as a ``pyarrow.Schema``."""
    if isinstance(schema, pa.Schema):
        return schema
    if isinstance(schema, Mapping):
        try:
            return pa.schema(list(schema.items()))
        except (TypeError, ValueError, KeyError, pa.ArrowException) as exc:
            raise InvalidArgumentError(
                f"table {table!r}: cannot read the schema mapping as column name -> pyarrow "
                f"type ({exc}); write it as {{'key': pa.string(), 'event_time': "
                "pa.timestamp('us', tz='UTC'), ...}"
            ) from None
    raise InvalidArgumentError(
        f"table {table!r}: the schema must be a pyarrow.Schema or a mapping of column name to "
        f"pyarrow type, not {type(schema).__name__}"
    )


def _check_storable(schema: pa.Schema, table: str) -> None:
    """Refuse a column type azof cannot store, naming the column."""
    for field in schema:
        try:
            type_to_json(field.type)
        except UnknownTypeError as exc:
            raise UnknownTypeError(
                f"table {table!r}: column {field.name!r}: {exc}; choose another type"
            ) from None


def env_storage_options(uri: str | Path) -> dict[str, Any]:
    """The storage options in ``$AZOF_STORAGE_OPTIONS`` (a JSON object) for ``uri``: none
    for a local folder, which takes no options."""
    text = os.environ.get(STORAGE_OPTIONS_ENV, "").strip()
    uri = str(uri)
    if not text or "://" not in uri or uri.lower().startswith(("file://", "memory://")):
        return {}
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgumentError(
            f"${STORAGE_OPTIONS_ENV} is not valid JSON ({exc}); set it to an object such "
            'as {"region": "eu-west-1"}'
        ) from None
    if not isinstance(loaded, dict):
        raise InvalidArgumentError(
            f"${STORAGE_OPTIONS_ENV} must hold a JSON object such as "
            f'{{"region": "eu-west-1"}}, not {type(loaded).__name__}'
        )
    return loaded


class Lakehouse:
    """A folder (local or on an object store) whose sub-folders are tables.

    ``uri`` is a local path, ``file://``, ``memory://NAME``, ``s3://bucket/prefix``,
    ``gs://...`` or ``az://...``; ``storage_options`` (credentials, ``region``,
    ``endpoint``, ``allow_http``, timeouts such as ``timeout``/``connect_timeout``, retries:
    ``max_retries``, ``retry_timeout``, ``init_backoff``, ``max_backoff``,
    ``backoff_base``) go to the object store, merged over the JSON object in
    ``$AZOF_STORAGE_OPTIONS`` (object stores only).
    """

    def __init__(self, uri: str | Path, storage_options: dict[str, Any] | None = None) -> None:
        self.uri = str(uri)
        options = {**env_storage_options(uri), **(storage_options or {})}
        self.storage: Storage = open_storage(uri, options or None)

    def __repr__(self) -> str:
        return f"Lakehouse({self.storage.uri!r})"

    def tables(self) -> list[str]:
        """The names of the tables in the lakehouse, sorted. A folder that cannot be listed
        is named too (opening it says what is wrong), so one bad folder hides no table."""
        return [
            name
            for name in self.storage.list_dirs("")
            if _TABLE_NAME.match(name) and self._may_be_table(name)
        ]

    def _may_be_table(self, name: str) -> bool:
        try:
            return tablelog.is_table(self.storage.child(name))
        except StorageError:
            return True

    def create_table(
        self,
        name: str,
        schema: pa.Schema | Mapping[str, pa.DataType],
        *,
        key: str | Sequence[str] = "key",
        event_time: str = "event_time",
        exist_ok: bool = False,
        properties: Mapping[str, Any] | None = None,
    ) -> Table:
        """Create an empty table (version 0).

        ``schema`` holds the key column(s), the event-time column (a timestamp; stored as
        UTC, a naive type is read as UTC) and the value columns: a ``pyarrow.Schema``, or a
        mapping of column name to pyarrow type (in that order; every column nullable but
        the key and event-time columns). ``key`` names the key column, or the columns of a
        composite key in key order (each a string, integer, date or timestamp column, never
        null); ``event_time`` names the event-time column. The table keeps these names in
        every answer. With ``exist_ok`` an existing table of the same schema is opened
        instead; otherwise it is a ``TableExistsError``.
        """
        from azof.table import Table
        from azof.write.conform import key_names_of, validate_new_schema
        from azof.write.create import initial_snapshot, schema_from_arrow
        from azof.write.properties import table_properties

        check_table_name(name)
        storage = self.storage.child(name)
        key_names = key_names_of(key, name)
        arrow = _arrow_schema(schema, name)
        schema = validate_new_schema(arrow, name, key_names, event_time)
        table_schema = schema_from_arrow(schema, key_names, event_time)
        _check_storable(table_schema.to_arrow(), name)
        if tablelog.is_table(storage):
            if exist_ok:
                existing = self.table(name)
                # the columns as a user sees them: an evolved table's ids and history aside
                if existing.schema != table_schema.to_arrow() or (
                    existing.key_columns,
                    existing.event_time_column,
                ) != (key_names, event_time):
                    raise TableExistsError(
                        f"table {name!r} exists with another schema ({existing.schema}); "
                        "choose another name"
                    )
                return existing
            raise TableExistsError(
                f"table {name!r} already exists in {self.storage.uri}; open it with "
                "lakehouse.table(name) or pass exist_ok=True"
            )
        snapshot = initial_snapshot(table_schema, table_properties(properties, name))
        if not storage.write_if_absent(tablelog.snapshot_name(0), encode_snapshot(snapshot)):
            if exist_ok:
                return self.table(name)
            raise TableExistsError(f"table {name!r} was created concurrently by another writer")
        storage.write(tablelog.VERSION_HINT, b"0")
        return Table(self, name, storage)

    def table(self, name: str, *, version: int | None = None) -> Table:
        """Open a table at its latest version, or at ``version`` (commit time; reads stay
        pinned to it until :meth:`Table.refresh`); ``TableNotFoundError`` if there is none.

        Opening reads the version hint and one snapshot: a few requests, whatever the
        number of data files (:meth:`Table.verify` checks those)."""
        from azof.table import Table  # the table layers load when a table is first opened

        check_table_name(name)
        try:
            return Table(self, name, self.storage.child(name), version)
        except TableNotFoundError:
            known = self.tables()
            hint = f"; tables here: {', '.join(known)}" if known else "; the lakehouse is empty"
            root = self.storage.local_root
            if root is not None and not root.exists():
                hint = f"; the folder {root} does not exist (the first write creates it)"
            raise TableNotFoundError(f"no table {name!r} in {self.storage.uri}{hint}") from None
