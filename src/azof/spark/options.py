"""The options of ``spark.read.format("azof")``, parsed into a frozen value (no PySpark, no I/O).

Spark hands a data source its options as strings in a case-insensitive map (keys arrive
lower-cased); :func:`parse_options` checks them all at once, so a typo such as ``asof``
fails when the DataFrame is loaded instead of being ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from azof.errors import InvalidArgumentError
from azof.scan.stream import MERGE_ROWS
from azof.timestamps import parse_instant

__all__ = [
    "OPTIONS",
    "STORAGE_PREFIX",
    "WRITE_OPTIONS",
    "ReadOptions",
    "WriteOptions",
    "parse_options",
    "parse_write_options",
    "split_table_path",
]

Key = str | int | tuple[str | int, ...]
"""A key given in option ``keys``: one value, or a tuple of a composite key's values."""

STORAGE_PREFIX = "storage."
"""``option("storage.<name>", value)`` sets one storage option (e.g. ``storage.region``)."""

OPTIONS: dict[str, str] = {
    "path": "'<lakehouse>/<table>' (what load() is given), or the lakehouse with option table",
    "table": "the table name, when the path (or option lakehouse) is the lakehouse",
    "lakehouse": "the lakehouse URI, instead of a path",
    "as_of": "event time: every key's latest row at or before it (default: current state)",
    "version": "the table version to read (commit time)",
    "known_at": "read the latest version committed at or before this time (commit time)",
    "columns": "comma-separated columns to read (default: all)",
    "keys": "a JSON list of keys to read (default: all); a composite key's as lists of its "
    'columns\' values, such as [["s1", "temp"]]',
    "key_pushdown": "'true' to push Spark's key = / key IN filters into the scan",
    "merge_rows": "the most rows a task merges at once (default 1000000): bounds its memory",
    "storage_options": "a JSON object of storage options (credentials, region, endpoint...)",
    "starting_version": "read the events each commit added from this version on (or "
    "'latest': after the read starts) instead of the as-of state; needed by readStream",
}

WRITE_OPTIONS: dict[str, str] = {
    "path": OPTIONS["path"],
    "table": OPTIONS["table"],
    "lakehouse": OPTIONS["lakehouse"],
    "key": "the key column, or the comma-separated columns of a composite key (default: the "
    "table's; 'key' for a new table)",
    "event_time": "the event-time column (default: the table's; 'event_time' for a new table)",
    "error_if_exists": "'true': refuse to write to a table that exists (Spark's own "
    "ErrorIfExists mode does not reach Python data sources)",
    "file_rows": "the most rows a task buffers before writing them as files (default 1000000)",
    "stream_id": "streaming writes: what identifies the query across restarts (default: its "
    "checkpoint location)",
    "checkpointlocation": "streaming writes: Spark's checkpoint location",
    "storage_options": OPTIONS["storage_options"],
}

FILE_ROWS = 1_000_000
"""Rows a write task buffers before writing them as data files (bounds its memory)."""


@dataclass(frozen=True)
class ReadOptions:
    """What to read: a table, at which times, which columns and keys, with which storage.

    ``storage_options`` is a tuple of pairs so that the value stays hashable and frozen.
    """

    lakehouse: str
    table: str
    storage_options: tuple[tuple[str, Any], ...] = ()
    as_of: str | None = None
    version: int | None = None
    known_at: str | None = None
    columns: tuple[str, ...] | None = None
    keys: tuple[Key, ...] | None = None
    """The keys to read: values of a one-column key, tuples of a composite key's values."""
    key_pushdown: bool = False
    merge_rows: int = MERGE_ROWS
    starting_version: int | str | None = None
    """The events feed: the first version whose events are read, or ``"latest"`` (the
    versions committed after the read starts); ``None``: the as-of state."""

    def storage_dict(self) -> dict[str, Any]:
        return dict(self.storage_options)


def split_table_path(path: str) -> tuple[str, str]:
    """``"s3://bucket/lake/prices"`` -> ``("s3://bucket/lake", "prices")``."""
    text = path.strip().rstrip("/")
    scheme_end = text.find("://")
    root = scheme_end + 3 if scheme_end >= 0 else 0
    cut = text.rfind("/")
    lakehouse, table = text[:cut] or "/", text[cut + 1 :]
    if cut < root or not table or lakehouse.endswith("://"):
        raise InvalidArgumentError(
            f"path {path!r} does not name a table; load('<lakehouse>/<table>'), or "
            "option('table', name) with load('<lakehouse>')"
        )
    return lakehouse, table


def _text(options: Mapping[str, str], name: str) -> str | None:
    value = options.get(name)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _bool(name: str, value: str | None) -> bool:
    if value is None:
        return False
    lowered = value.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise InvalidArgumentError(f"option {name!r} must be 'true' or 'false', not {value!r}")


def _version(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        version = int(value)
    except ValueError:
        version = -1
    if version < 0:
        raise InvalidArgumentError(f"option 'version' must be a whole number >= 0, not {value!r}")
    return version


def _whole(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        number = int(value.replace("_", ""))
    except ValueError:
        number = -1
    if number < 0:
        raise InvalidArgumentError(f"option {name!r} must be a whole number >= 0, not {value!r}")
    return number


def _starting_version(value: str | None) -> int | str | None:
    if value is not None and value.lower() == "latest":
        return "latest"
    try:
        return _whole("starting_version", value)
    except InvalidArgumentError:
        raise InvalidArgumentError(
            f"option 'starting_version' must be a version (a whole number >= 0) or "
            f"'latest', not {value!r}"
        ) from None


def _merge_rows(value: str | None) -> int:
    if value is None:
        return MERGE_ROWS
    try:
        rows = int(value.replace("_", ""))
    except ValueError:
        rows = 0
    if rows < 1:
        raise InvalidArgumentError(
            f"option 'merge_rows' must be a whole number >= 1 (the most rows a task merges "
            f"at once), not {value!r}"
        )
    return rows


def _instant(name: str, value: str | None) -> str | None:
    if value is not None:
        parse_instant(value, f"option {name!r}")  # fail at load time, not in every task
    return value


def _columns(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(name.strip() for name in value.split(","))
    if not all(names) or len(set(names)) != len(names):
        raise InvalidArgumentError(
            f"option 'columns' must be distinct comma-separated column names, not {value!r}"
        )
    return names


def _scalar(value: object) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool)


def _keys(value: str | None) -> tuple[Key, ...] | None:
    if value is None:
        return None
    try:
        keys = json.loads(value)
    except json.JSONDecodeError:
        keys = None
    if not isinstance(keys, list) or not all(
        _scalar(k) or (isinstance(k, list) and k and all(_scalar(part) for part in k)) for k in keys
    ):
        raise InvalidArgumentError(
            f"option 'keys' must be a JSON list of strings or integers, such as "
            f'\'["AAPL", "MSFT"]\' (a composite key\'s as lists, such as '
            f'\'[["s1", "temp"]]\'), not {value!r}'
        )
    return tuple(tuple(k) if isinstance(k, list) else k for k in keys)


def _storage(options: Mapping[str, str]) -> tuple[tuple[str, Any], ...]:
    storage: dict[str, Any] = {}
    text = _text(options, "storage_options")
    if text is not None:
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            raise InvalidArgumentError(
                "option 'storage_options' must be a JSON object such as "
                '\'{"region": "us-east-1"}\''
            )
        storage.update(parsed)
    for key, value in options.items():
        if key.lower().startswith(STORAGE_PREFIX) and len(key) > len(STORAGE_PREFIX):
            storage[key[len(STORAGE_PREFIX) :]] = value
    return tuple(sorted(storage.items()))


def _unknown(options: Mapping[str, str], known: Mapping[str, str], what: str) -> None:
    unknown = sorted(
        key
        for key in options
        if key.lower() not in known and not key.lower().startswith(STORAGE_PREFIX)
    )
    if unknown:
        raise InvalidArgumentError(
            f"unknown azof option(s) {', '.join(map(repr, unknown))}; the options of a {what} "
            f"are {', '.join(known)} and storage.<name>"
        )


def _location(options: Mapping[str, str]) -> tuple[str, str]:
    """``(lakehouse, table)`` from ``path``, ``lakehouse`` and ``table``."""
    path, lakehouse = _text(options, "path"), _text(options, "lakehouse")
    table = _text(options, "table")
    if path is not None and lakehouse is not None:
        raise InvalidArgumentError(
            "pass the lakehouse either to load()/save() or as option 'lakehouse', not both"
        )
    location = path if path is not None else lakehouse
    if location is None:
        raise InvalidArgumentError(
            "no table given; use load('<lakehouse>/<table>') (save(...) when writing), or "
            "option('table', name) with load('<lakehouse>')"
        )
    if table is None:
        if lakehouse is not None:
            raise InvalidArgumentError("option 'lakehouse' needs option 'table' too")
        location, table = split_table_path(location)
    return location, table


def parse_options(options: Mapping[str, str]) -> ReadOptions:
    """Check and parse the options of one ``spark.read.format("azof")`` call."""
    _unknown(options, OPTIONS, "read")
    location, table = _location(options)
    version = _version(_text(options, "version"))
    known_at = _instant("known_at", _text(options, "known_at"))
    if version is not None and known_at is not None:
        raise InvalidArgumentError(
            "pass either option 'version' or option 'known_at' (both are commit time), not both"
        )
    read = ReadOptions(
        lakehouse=location,
        table=table,
        storage_options=_storage(options),
        as_of=_instant("as_of", _text(options, "as_of")),
        version=version,
        known_at=known_at,
        columns=_columns(_text(options, "columns")),
        keys=_keys(_text(options, "keys")),
        key_pushdown=_bool("key_pushdown", _text(options, "key_pushdown")),
        merge_rows=_merge_rows(_text(options, "merge_rows")),
        starting_version=_starting_version(_text(options, "starting_version")),
    )
    if read.starting_version is not None:
        mixed = [
            name
            for name, value in (("as_of", read.as_of), ("keys", read.keys))
            if value is not None
        ] + (["key_pushdown"] if read.key_pushdown else [])
        if mixed:
            raise InvalidArgumentError(
                f"option 'starting_version' reads the events commits added, which option(s) "
                f"{', '.join(map(repr, mixed))} do not apply to; filter the events instead"
            )
    return read


@dataclass(frozen=True)
class WriteOptions:
    """Where and how ``df.write.format("azof")`` writes.

    ``key`` (the column(s) of the key, in key order) and ``event_time`` name the
    DataFrame's columns that hold the table's key and event time; ``None``: the table's own
    names, or ``key`` and ``event_time`` for a new table (see
    :func:`azof.spark.write.table_columns`).
    """

    lakehouse: str
    table: str
    storage_options: tuple[tuple[str, Any], ...] = ()
    key: tuple[str, ...] | None = None
    event_time: str | None = None
    file_rows: int = FILE_ROWS
    stream_id: str | None = None
    error_if_exists: bool = False

    def storage_dict(self) -> dict[str, Any]:
        return dict(self.storage_options)


def _key_columns(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(name.strip() for name in value.split(","))
    if not all(names) or len(set(names)) != len(names):
        raise InvalidArgumentError(
            f"option 'key' must name the key column, or the distinct comma-separated columns "
            f"of a composite key such as 'sensor_id,metric', not {value!r}"
        )
    return names


def parse_write_options(options: Mapping[str, str]) -> WriteOptions:
    """Check and parse the options of one ``df.write.format("azof")`` (or ``writeStream``)."""
    _unknown(options, WRITE_OPTIONS, "write")
    location, table = _location(options)
    file_rows = _whole("file_rows", _text(options, "file_rows"))
    if file_rows == 0:
        raise InvalidArgumentError("option 'file_rows' must be a whole number >= 1, not '0'")
    stream_id = _text(options, "stream_id") or _text(options, "checkpointlocation")
    return WriteOptions(
        lakehouse=location,
        table=table,
        storage_options=_storage(options),
        key=_key_columns(_text(options, "key")),
        event_time=_text(options, "event_time"),
        file_rows=FILE_ROWS if file_rows is None else file_rows,
        stream_id=stream_id,
        error_if_exists=_bool("error_if_exists", _text(options, "error_if_exists")),
    )
