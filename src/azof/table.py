"""The public entry points: :class:`Lakehouse` (a folder of tables) and :class:`Table`.

Thin: they resolve names, versions and times, then delegate to the scan, write and compact
layers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from azof import tablelog
from azof.errors import InvalidArgumentError, TableNotFoundError, VersionNotFoundError
from azof.format import KEY, Snapshot
from azof.scan.read import ScanMetrics, ScanRequest, execute_scan, references_only
from azof.storage import Storage, open_storage
from azof.timestamps import Instant, parse_instant

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Lakehouse", "Table"]

_TABLE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def check_table_name(name: str) -> str:
    if not isinstance(name, str) or not _TABLE_NAME.match(name) or ".." in name:
        raise InvalidArgumentError(
            f"table name {name!r} is not valid; use letters, digits, '_', '-' and '.'"
        )
    return name


class Lakehouse:
    """A folder (local or on an object store) whose sub-folders are tables.

    ``uri`` is a local path, ``file://``, ``memory://NAME``, ``s3://bucket/prefix``,
    ``gs://...`` or ``az://...``; ``storage_options`` (credentials, ``region``,
    ``endpoint``, ``allow_http``...) go to the object store.
    """

    def __init__(self, uri: str | Path, storage_options: dict[str, Any] | None = None) -> None:
        self.uri = str(uri)
        self.storage: Storage = open_storage(uri, storage_options)

    def __repr__(self) -> str:
        return f"Lakehouse({self.storage.uri!r})"

    def tables(self) -> list[str]:
        """The names of the tables in the lakehouse, sorted."""
        return [
            name for name in self.storage.list_dirs("")
            if _TABLE_NAME.match(name) and tablelog.is_table(self.storage.child(name))
        ]

    def table(self, name: str) -> Table:
        """Open a table (its latest version); ``TableNotFoundError`` if there is none."""
        check_table_name(name)
        storage = self.storage.child(name)
        if not tablelog.is_table(storage):
            known = self.tables()
            hint = f"; tables here: {', '.join(known)}" if known else "; the lakehouse is empty"
            raise TableNotFoundError(f"no table {name!r} in {self.storage.uri}{hint}")
        return Table(self, name, storage)


class Table:
    """One table. Reads are pinned to the version loaded; :meth:`refresh` loads the latest."""

    def __init__(self, lakehouse: Lakehouse, name: str, storage: Storage) -> None:
        self.lakehouse = lakehouse
        self.name = name
        self.storage = storage
        self._snapshots: dict[int, Snapshot] = {}
        self._snapshot = self._load(tablelog.current_version(storage, name))
        tablelog.check_files_exist(storage, name, self._snapshot)

    def __repr__(self) -> str:
        return f"Table({self.name!r}, version={self.version})"

    # -- metadata ----------------------------------------------------------------------------

    def _load(self, version: int) -> Snapshot:
        snapshot = self._snapshots.get(version)
        if snapshot is None:
            snapshot = tablelog.load_snapshot(self.storage, self.name, version)
            self._snapshots[version] = snapshot
        return snapshot

    def refresh(self) -> Table:
        """Load the latest committed version (other writers' commits become visible)."""
        latest = tablelog.current_version(self.storage, self.name)
        if latest != self._snapshot.version:
            self._snapshot = self._load(latest)
        return self

    @property
    def snapshot(self) -> Snapshot:
        """The metadata of the loaded version."""
        return self._snapshot

    @property
    def version(self) -> int:
        return self._snapshot.version

    @property
    def schema(self) -> pa.Schema:
        """``key``, ``event_time``, then the value columns."""
        return self._snapshot.schema.to_arrow()

    def versions(self) -> list[int]:
        """Every retained snapshot number, ascending."""
        return tablelog.list_versions(self.storage)

    def commit_time(self, version: int) -> Instant:
        """When ``version`` was committed (for seed snapshots: the file's modification)."""
        snapshot = self._load(version)
        if snapshot.commit is not None:
            return snapshot.commit.time
        info = self.storage.info(tablelog.snapshot_name(version))
        return parse_instant(info.last_modified)

    def snapshot_at(self, version: int | None = None, known_at: Any = None) -> Snapshot:
        """The snapshot of ``version``, or the latest committed at or before ``known_at``."""
        if version is not None and known_at is not None:
            raise InvalidArgumentError(
                "pass either version= or known_at= (both are commit time), not both"
            )
        if version is not None:
            if isinstance(version, bool) or not isinstance(version, int):
                raise InvalidArgumentError(f"version {version!r} is not a whole number")
            return self._load(version)
        if known_at is None:
            return self._snapshot
        instant = parse_instant(known_at, "known_at")
        versions = [v for v in self.versions() if v <= self._snapshot.version]
        low, high, found = 0, len(versions) - 1, None
        while low <= high:  # commit times never decrease, so bisect
            middle = (low + high) // 2
            if self.commit_time(versions[middle]) <= instant:
                found, low = versions[middle], middle + 1
            else:
                high = middle - 1
        if found is None:
            first = self.commit_time(versions[0]) if versions else None
            from azof.timestamps import format_instant

            when = format_instant(first) if first is not None else "never"
            raise VersionNotFoundError(
                f"table {self.name!r}: known_at {known_at!s} is before the first retained "
                f"commit ({when})"
            )
        return self._load(found)

    # -- reads -------------------------------------------------------------------------------

    def _request(self, as_of: Any, columns: Sequence[str] | None,
                 filter: pc.Expression | None) -> ScanRequest:
        instant = None if as_of is None else parse_instant(as_of, "as_of")
        if isinstance(columns, str):
            columns = [columns]
        if filter is not None and not isinstance(filter, pc.Expression):
            raise InvalidArgumentError(
                f"filter must be a pyarrow.compute.Expression such as "
                f"pc.field('industry') == 'Software', not {type(filter).__name__}"
            )
        key_filter = None
        if filter is not None:
            key_schema = pa.schema([self._snapshot.schema.field(KEY)])
            if references_only(filter, key_schema):
                key_filter, filter = filter, None
        return ScanRequest(
            as_of=instant,
            columns=tuple(columns) if columns is not None else None,
            filter=filter,
            key_filter=key_filter,
        )

    def scan(
        self,
        as_of: Any = None,
        *,
        columns: Sequence[str] | None = None,
        filter: pc.Expression | None = None,
        version: int | None = None,
        known_at: Any = None,
        metrics: ScanMetrics | None = None,
    ) -> pa.Table:
        """Every key's latest row with ``event_time <= as_of`` (``None``: current state).

        ``as_of`` is event time. ``version`` / ``known_at`` choose the snapshot (commit
        time): with both kinds this is a bitemporal read, "as of T, as we knew it then".
        Naive datetimes and strings without an offset are UTC. ``filter`` is applied to the
        answer; a filter on ``key`` alone is pushed down to prune files and row groups.
        """
        request = self._request(as_of, columns, filter)
        snapshot = self.snapshot_at(version, known_at)
        return execute_scan(self.storage, self.name, snapshot, request, metrics)

    def to_batches(
        self,
        as_of: Any = None,
        *,
        columns: Sequence[str] | None = None,
        filter: pc.Expression | None = None,
        version: int | None = None,
        known_at: Any = None,
        batch_size: int = 65_536,
    ) -> pa.RecordBatchReader:
        """The same answer as :meth:`scan`, as a stream of record batches."""
        table = self.scan(as_of, columns=columns, filter=filter, version=version,
                          known_at=known_at)
        return pa.RecordBatchReader.from_batches(
            table.schema, table.to_batches(max_chunksize=batch_size)
        )

    def to_pandas(self, as_of: Any = None, **kwargs: Any) -> pd.DataFrame:
        """:meth:`scan` as a pandas DataFrame (needs pandas)."""
        return self.scan(as_of, **kwargs).to_pandas()

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """The current state through the Arrow PyCapsule interface (polars, duckdb, ...)."""
        return self.to_batches().__arrow_c_stream__(requested_schema)
