"""The public entry point to one table: :class:`Table` (opened by
:class:`azof.lakehouse.Lakehouse`).

Thin: it resolves names, versions and times, then delegates to the scan, write and compact
layers.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal, cast, overload

import pyarrow as pa

from azof import manifests, tablelog
from azof.compact.policy import CompactionPolicy
from azof.compact.rewrite import CompactionStats, Progress, compact_snapshot
from azof.compact.vacuum import VacuumResult, vacuum_table
from azof.errors import (
    AzofError,
    AzofWarning,
    CommitConflictError,
    CorruptTableError,
    InvalidArgumentError,
    VersionNotFoundError,
)
from azof.filters import FilterLike
from azof.format import CommitInfo, Snapshot
from azof.scan.read import ScanMetrics, ScanRequest
from azof.scan.stream import MERGE_ROWS, check_merge_rows
from azof.scan.verify import verify_files
from azof.storage import Storage
from azof.tablescan import BATCH_SIZE, TableScan, optional_module
from azof.temporal.methods import TemporalMethods
from azof.timestamps import (
    Instant,
    format_instant,
    instant_to_datetime,
    parse_duration,
    parse_instant,
)
from azof.write.append import append_data, delete_instant, key_list, put_row, tombstones
from azof.write.commit import commit_snapshot, upgrade
from azof.write.evolve import SchemaUpdate
from azof.write.properties import commit_properties
from azof.write.writer import Commit, TableWriter

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

    from azof.lakehouse import Lakehouse

__all__ = ["LOG_READERS", "Commit", "Table", "TableWriter"]

_LOG = logging.getLogger(__name__)

LOG_READERS = 16
"""Snapshots :meth:`Table.log` reads at once (object stores answer each read slowly, but
many in parallel)."""


def _logged(version: int, info: CommitInfo, parent: int | None) -> Commit:
    """The :meth:`Table.log` entry of a version with a commit record."""
    return Commit(
        version=version,
        time=instant_to_datetime(info.time),
        operation=info.operation,
        rows=info.added_rows,
        files=info.added_files,
        parent=parent,
        properties=dict(info.properties),
    )


class Table(TemporalMethods):
    """One table. Reads are pinned to the version loaded; :meth:`refresh` loads the latest."""

    def __init__(
        self, lakehouse: Lakehouse, name: str, storage: Storage, version: int | None = None
    ) -> None:
        """Open ``version`` (default: the latest). Opening reads the snapshot, not the data
        files: a missing or broken data file is reported by the read that plans it, or by
        :meth:`verify`."""
        self.lakehouse = lakehouse
        self.name = name
        self.storage = storage
        self._snapshots = tablelog.SnapshotCache()
        self._read_at = time.monotonic()
        if version is None:
            self._snapshot = self._load_latest(None, whole=False)
            return
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise InvalidArgumentError(f"version {version!r} is not a whole number >= 0")
        try:
            self._snapshot = self._load(version, whole=False)  # one read: the snapshot
        except VersionNotFoundError:
            if not tablelog.is_table(storage):
                tablelog.current_version(storage, name)  # raises: no table here
            raise

    def __repr__(self) -> str:
        return f"Table({self.name!r}, version={self.version})"

    # -- metadata ----------------------------------------------------------------------------

    def _load(self, version: int, *, whole: bool = True) -> Snapshot:
        """Snapshot ``version``; ``whole``: with every manifest it names read into it (else
        perhaps only its object: a scan reads the manifests its as-of time needs)."""
        snapshot = self._snapshots.get(version)
        if snapshot is None:
            snapshot = tablelog.load_snapshot(self.storage, self.name, version, whole=False)
            self._snapshots.put(snapshot)
        if whole and not snapshot.complete:
            snapshot = manifests.resolve(self.storage, self.name, snapshot)
            self._snapshots.put(snapshot)
        return snapshot

    def _load_latest(self, at_least: int | None, *, whole: bool = True) -> Snapshot:
        return tablelog.load_latest(
            self.storage, self.name, at_least, lambda v: self._load(v, whole=whole)
        )

    def refresh(self) -> Table:
        """Load the latest committed version (other writers' commits become visible).

        Never moves backwards: the latest version is searched from the one already loaded."""
        read_at = time.monotonic()
        self._snapshot = self._load_latest(self._snapshot.version, whole=False)
        self._read_at = read_at
        return self

    @property
    def snapshot(self) -> Snapshot:
        """The metadata of the loaded version (every file record: its manifests are read
        on first use)."""
        if not self._snapshot.complete:
            self._snapshot = self._load(self._snapshot.version)
        return self._snapshot

    @property
    def version(self) -> int:
        return self._snapshot.version

    @property
    def schema(self) -> pa.Schema:
        """The key column(s), the event-time column, then the value columns."""
        return self._snapshot.schema.to_arrow()

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The names of the key columns, in key order (``("key",)`` for tables created
        without ``key=``)."""
        return self._snapshot.schema.key_names

    @property
    def event_time_column(self) -> str:
        """The name of the event-time column (``"event_time"`` for tables created without
        ``event_time=``)."""
        return self._snapshot.schema.event_time_name

    def verify(self, version: int | None = None, known_at: Any = None) -> int:
        """Check that every data file of a snapshot (default: the loaded one) exists, is
        readable Parquet holding the columns the snapshot says, and that its rows keep the
        promises of its record: no null ``key``/``event_time``, a boolean ``_azof_deleted``,
        event times inside ``start``/``end``, keys inside ``min_key``/``max_key`` and its
        bucket, the stated row count and order. Reads one listing of the table folder, every
        file's footer and its ``key`` and ``event_time`` columns (a batch at a time); returns
        the number of files checked. Problems are one ``CorruptTableError`` naming the files
        and columns."""
        snapshot = self.snapshot_at(version, known_at)
        return verify_files(self.storage, self.name, snapshot, rows=True)

    def versions(self) -> list[int]:
        """Every retained snapshot number, ascending."""
        return tablelog.list_versions(self.storage)

    def commit_time(self, version: int) -> Instant:
        """When ``version`` was committed (for seed snapshots: the file's modification)."""
        snapshot = self._load(version, whole=False)
        if snapshot.commit is not None:
            return snapshot.commit.time
        info = self.storage.info(tablelog.snapshot_name(version))
        return parse_instant(info.last_modified)

    def snapshot_at(
        self, version: int | None = None, known_at: Any = None, *, whole: bool = True
    ) -> Snapshot:
        """The snapshot of ``version`` (default: the loaded one), or the latest committed at
        or before ``known_at``. ``whole=False``: perhaps only the snapshot object, without
        the file records its manifests hold (enough for its schema, commit record and
        counts; :attr:`Snapshot.complete` tells), which a table of a million files opens
        without reading them."""
        return self._snapshot_at(version, known_at, whole=whole)

    def _snapshot_at(self, version: int | None, known_at: Any, *, whole: bool) -> Snapshot:
        if version is not None and known_at is not None:
            raise InvalidArgumentError(
                "pass either version= or known_at= (both are commit time), not both"
            )
        if version is not None:
            if isinstance(version, bool) or not isinstance(version, int):
                raise InvalidArgumentError(f"version {version!r} is not a whole number")
            return self._load(version, whole=whole)
        if known_at is None:
            return self.snapshot if whole else self._snapshot
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
            when = format_instant(first) if first is not None else "never"
            raise VersionNotFoundError(
                f"table {self.name!r}: known_at {known_at!s} is before the first retained "
                f"commit ({when})"
            )
        return self._load(found, whole=whole)

    # -- reads -------------------------------------------------------------------------------

    def scanner(
        self,
        as_of: Any = None,
        *,
        version: int | None = None,
        known_at: Any = None,
        columns: Sequence[str] | None = None,
        filter: FilterLike = None,
        bucket: int | None = None,
    ) -> TableScan:
        """One read, as an immutable :class:`~azof.tablescan.TableScan`: every key's latest
        row with ``event_time <= as_of`` (``None``: current state), of the snapshot that
        ``version`` / ``known_at`` choose (commit time; default: the loaded one), resolved
        now. Its ``to_arrow``, ``to_batches``, ``to_pandas``, ``to_polars``, ``count``,
        ``files`` and ``explain`` all answer over that snapshot; ``pa.table(scan)``,
        ``pl.from_arrow(scan)`` and ``duckdb.from_arrow(scan)`` stream it.

        ``as_of`` is event time; with ``version`` or ``known_at`` too this is a bitemporal
        read, "as of T, as we knew it then". Naive datetimes and strings without an offset
        are UTC. ``filter`` (a pyarrow expression) is applied to the answer; a filter on
        ``key`` alone is pushed down to prune files and row groups. ``bucket`` reads one
        hash bucket only (see :meth:`bucket_count`): distributed readers run one task per
        bucket and the union of all buckets is the answer.
        """
        snapshot = self._snapshot_at(version, known_at, whole=False)
        commit_time = None if known_at is None else parse_instant(known_at, "known_at")
        return TableScan.build(
            self.storage,
            self.name,
            snapshot,
            as_of,
            known_at=commit_time,
            columns=columns,
            filter=filter,
            bucket=bucket,
        )

    def scan(
        self,
        as_of: Any = None,
        *,
        columns: Sequence[str] | None = None,
        filter: FilterLike = None,
        version: int | None = None,
        known_at: Any = None,
        metrics: ScanMetrics | None = None,
        bucket: int | None = None,
    ) -> pa.Table:
        """:meth:`scanner` (same arguments) as one Arrow table; ``metrics`` receives what
        the read touched."""
        scan = self.scanner(
            as_of, version=version, known_at=known_at, columns=columns, filter=filter, bucket=bucket
        )
        return scan.to_arrow(metrics)

    def bucket_count(self, version: int | None = None, known_at: Any = None) -> int:
        """How many hash buckets the snapshot's data is split into (1 for small tables)."""
        return self.snapshot_at(version, known_at, whole=False).buckets

    def to_batches(
        self,
        as_of: Any = None,
        *,
        columns: Sequence[str] | None = None,
        filter: FilterLike = None,
        version: int | None = None,
        known_at: Any = None,
        batch_size: int = BATCH_SIZE,
        merge_rows: int = MERGE_ROWS,
        bucket: int | None = None,
    ) -> pa.RecordBatchReader:
        """:meth:`scanner` (same arguments) as a stream of record batches, in memory
        bounded by ``merge_rows``, not by the table (see :meth:`TableScan.to_batches`)."""
        check_merge_rows(merge_rows)
        scan = self.scanner(
            as_of, version=version, known_at=known_at, columns=columns, filter=filter, bucket=bucket
        )
        return scan.to_batches(batch_size=batch_size, merge_rows=merge_rows)

    def to_pandas(self, as_of: Any = None, **kwargs: Any) -> pd.DataFrame:
        """:meth:`scan` (same arguments) as a pandas DataFrame (needs ``azof[pandas]``)."""
        optional_module("pandas", "Table.to_pandas")
        return self.scan(as_of, **kwargs).to_pandas()

    @overload
    def to_polars(
        self, as_of: Any = None, *, lazy: Literal[False] = False, **kwargs: Any
    ) -> pl.DataFrame: ...

    @overload
    def to_polars(
        self, as_of: Any = None, *, lazy: Literal[True], **kwargs: Any
    ) -> pl.LazyFrame: ...

    def to_polars(
        self, as_of: Any = None, *, lazy: bool = False, **kwargs: Any
    ) -> pl.DataFrame | pl.LazyFrame:
        """:meth:`scan` (same arguments) as a polars DataFrame (needs ``azof[polars]``);
        with ``lazy``, :meth:`scanner` (same arguments) as a polars ``LazyFrame`` whose
        filters on ``key`` and lower bounds on ``event_time`` prune below the as-of merge
        (see :meth:`TableScan.to_polars`)."""
        polars = optional_module("polars", "Table.to_polars")
        if lazy:
            return self.scanner(as_of, **kwargs).to_polars(lazy=True)
        frame = polars.from_arrow(self.scan(as_of, **kwargs))
        assert isinstance(frame, polars.DataFrame)
        return cast("pl.DataFrame", frame)

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """The current state through the Arrow PyCapsule interface (polars, duckdb, ...),
        streamed."""
        return self.scanner().__arrow_c_stream__(requested_schema)

    # -- writes ------------------------------------------------------------------------------

    def _adopt(self, snapshot: Snapshot) -> int:
        """Read ``snapshot``, just committed by this table, from now on; its version."""
        if snapshot.commit is not None:
            info = snapshot.commit
            _LOG.info(
                "table %r: committed version %d (%s: %d rows, %d files added, %d removed)",
                self.name, snapshot.version, info.operation, info.added_rows,
                info.added_files, info.removed_files,
            )  # fmt: skip
        self._snapshots.put(snapshot)
        self._snapshot = snapshot
        return snapshot.version

    def _landed(self, snapshot: Snapshot | None) -> int:
        if snapshot is not None:
            self._adopt(snapshot)
            self._auto_compact(snapshot)
        return snapshot.version if snapshot is not None else self._snapshot.version

    def _auto_compact(self, landed: Snapshot) -> None:
        """Compact after ``landed`` if its policy says so; ``landed`` stays landed whatever
        happens here: a policy that cannot be read or a compaction that fails is an
        :class:`AzofWarning`, not an error of the commit."""
        try:
            policy = self.policy
            if policy.auto and policy.due(
                len(landed.deltas), sum(f.rows or 0 for f in landed.deltas)
            ):
                self.compact()
        except CommitConflictError:
            pass  # another compaction landed meanwhile: it folded (most of) the deltas
        except AzofError as exc:
            warnings.warn(
                f"table {self.name!r}: version {landed.version} landed, but the automatic "
                f"compaction after it failed ({exc}); the deltas stay pending until compact() "
                "succeeds",
                AzofWarning,
                stacklevel=4,
            )

    def _latest(self, *, whole: bool = True) -> Snapshot:
        """The latest version (``whole``: every file record read; else perhaps only the
        snapshot object, for an append)."""
        self.refresh()
        return self.snapshot if whole else self._snapshot

    def append(self, data: Any, *, properties: Mapping[str, str] | None = None) -> int:
        """Append rows (any event times: late data is fine); returns the committed version.

        ``data``: a pyarrow Table/RecordBatch/RecordBatchReader, a pandas or polars
        DataFrame, a list of dicts or a dict of lists, with ``key``, ``event_time`` and value
        columns (missing nullable columns are null). A row with the same key and event time
        as an earlier one replaces it (a correction); within one append the later row wins.
        Invalid data is refused with a ``SchemaMismatchError`` and nothing is committed.
        ``properties`` (a mapping of strings to strings; anything else is an
        ``InvalidArgumentError``) are stored with the commit and shown by :meth:`log`.
        """
        return self._commit_rows(data, properties=properties)

    def _commit_rows(
        self,
        data: Any,
        *,
        operation: str = "append",
        deleting: bool = False,
        properties: Mapping[str, str] | None = None,
    ) -> int:
        """Commit rows (``deleting``: rows may be tombstones, whose values may be null) on
        the latest version; the version the table is at afterwards."""
        snapshot = append_data(
            self.storage,
            self.name,
            self._latest(whole=False),
            data,
            operation=operation,
            deleting=deleting,
            properties=properties,
            parent_read_at=self._read_at,
        )
        return self._landed(snapshot)

    def put(self, key: Any, event_time: Any, /, **values: Any) -> int:
        """Append one row and commit it; returns the committed version.

        The key and the event time are the first two arguments; a value named ``key``,
        ``event_time`` or ``_azof...`` is an ``InvalidArgumentError`` (use :meth:`delete`
        to delete)."""
        return self.append([put_row(self._snapshot.schema, self.name, key, event_time, values)])

    def delete(
        self,
        keys: Any = None,
        event_time: Any = None,
        *,
        where: FilterLike = None,
        properties: Mapping[str, str] | None = None,
    ) -> int:
        """Delete ``keys`` as of ``event_time`` (default: now): a delete is an event.

        As of any T at or after ``event_time`` the keys are absent, until a newer row for
        them; as of earlier T their old state still shows.

        ``where`` instead of ``keys`` deletes by predicate (a filter in any form
        :meth:`scan` takes, e.g. ``"status = 'closed'"``): a tombstone at ``event_time``
        for every key whose state as of ``event_time`` matches, in the latest version
        (``deltalake``'s ``DeltaTable.delete(predicate)``, but as an event). Returns the
        version committed, or the current one when no key matched.
        """
        commit_properties(properties, self.name)
        if where is not None:
            if keys is not None:
                raise InvalidArgumentError(
                    f"table {self.name!r}: delete() takes keys or where=..., not both"
                )
            return self._delete_where(where, event_time, properties)
        if keys is None:
            raise InvalidArgumentError(
                f"table {self.name!r}: delete() needs the keys to delete or where=... (a "
                "predicate such as \"status = 'closed'\")"
            )
        keys = key_list(keys, self._snapshot.schema)
        if not keys.num_rows:
            return self.version
        schema = self._snapshot.schema
        rows = tombstones(schema, keys, delete_instant(event_time, schema))
        return self._commit_rows(rows, operation="delete", deleting=True, properties=properties)

    def _delete_where(
        self, where: FilterLike, event_time: Any, properties: Mapping[str, str] | None
    ) -> int:
        """Tombstones at ``event_time`` for the keys whose state then matches ``where``."""
        latest = self._latest()
        schema = latest.schema
        when = delete_instant(event_time, schema)
        scan = TableScan(self.storage, self.name, latest, ScanRequest(as_of=when), None)
        matched = scan.where(where).select(list(schema.key_names)).to_arrow()
        if matched.num_rows == 0:
            return latest.version
        rows = tombstones(schema, matched, when)
        return self._commit_rows(rows, operation="delete", deleting=True, properties=properties)

    def writer(self, *, batch_rows: int = 100_000) -> TableWriter:
        """A buffered writer: ``put``/``write``/``delete`` calls commit every ``batch_rows``
        rows and on a clean exit of the ``with`` block (on an exception, unflushed rows are
        discarded); see :class:`TableWriter`."""
        return TableWriter(self, batch_rows=batch_rows)

    def evolve(self) -> SchemaUpdate:
        """Change the schema, as one commit; no data is rewritten::

            (table.evolve().add_column("currency", pa.string()).rename_column("px", "price")
                 .widen("volume", pa.int64()).drop_column("legacy").commit())

        Older versions keep their schema; rows written under an older schema read under the
        new one (renamed by column id, added columns as their default or null, widened
        types cast). See :class:`~azof.write.evolve.SchemaUpdate`.
        """
        return SchemaUpdate(self, self._latest())

    def log(self, limit: int | None = None) -> list[Commit]:
        """The commits of every retained version (or of the last ``limit``), oldest first.

        Reads each snapshot's commit record (in parallel), not its file lists, so a long log
        costs one small parse per version."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 0):  # fmt: skip
            raise InvalidArgumentError(f"limit {limit!r} is not a whole number >= 0")
        versions = self.versions()
        versions = versions[len(versions) - limit :] if limit is not None else versions
        if not versions:
            return []
        if versions[-1] > self._snapshot.version:
            self.refresh()

        def entry(version: int) -> Commit:
            snapshot = self._snapshots.get(version)
            if snapshot is None:
                loaded = tablelog.load_commit(self.storage, self.name, version)
                if not isinstance(loaded, Snapshot):
                    return _logged(version, *loaded)
                snapshot = loaded
            if snapshot.commit is not None:
                return _logged(version, snapshot.commit, snapshot.parent_version)
            return Commit(  # a seed snapshot: no commit record
                version=version,
                time=instant_to_datetime(self.commit_time(version)),
                operation="seed",
                rows=sum(f.rows or 0 for f in snapshot.files()),
                files=sum(1 for _ in snapshot.files()),
                parent=snapshot.parent_version,
            )

        with ThreadPoolExecutor(max_workers=min(LOG_READERS, len(versions))) as pool:
            return list(pool.map(entry, versions))

    # -- compaction and vacuum ----------------------------------------------------------------

    @property
    def policy(self) -> CompactionPolicy:
        """The compaction policy stored with the table (defaults if none was set); a stored
        policy that is invalid is a :class:`CorruptTableError` (``set_policy`` replaces it)."""
        try:
            return CompactionPolicy.from_json(self._snapshot.policy)
        except InvalidArgumentError as exc:
            raise CorruptTableError(
                f"table {self.name!r}: version {self._snapshot.version} stores an invalid "
                f"compaction policy ({exc}); store a valid one with "
                "table.set_policy(azof.CompactionPolicy(...))"
            ) from None

    def set_policy(self, policy: CompactionPolicy) -> int:
        """Store ``policy`` with the table (a commit); returns the version."""
        if not isinstance(policy, CompactionPolicy):
            raise InvalidArgumentError("set_policy takes an azof.CompactionPolicy")

        def build(parent: Snapshot, version: int, when: Instant) -> Snapshot:
            info = CommitInfo(
                time=when, operation="set_policy", summary={"policy": policy.to_json()}
            )
            return upgrade(parent, version, info, policy=policy.to_json())

        parent = self._latest()
        return self._adopt(
            commit_snapshot(self.storage, self.name, parent, build, parent_read_at=self._read_at)
        )

    def restore(self, version: int | None = None, known_at: Any = None) -> int:
        """Make the table's state that of an earlier ``version`` (or the one ``known_at``
        chooses) again, as a new ``restore`` commit: every as-of answer of the latest
        version becomes that version's, schema included (policy and properties stay). The
        versions in between are kept (time travel to them still works; a vacuum may expire
        them). Returns the new version, or the latest one when it already has that state.

        The restored version's data files must still be there (checked first). A commit
        that lands while restoring is a :class:`CommitConflictError`: a restore does not
        commute with other writes (nothing is committed; restore again)."""
        if version is None and known_at is None:
            raise InvalidArgumentError("restore needs version= or known_at= (commit time)")
        target = self.snapshot_at(version, known_at)
        latest = self._latest()
        if target.version == latest.version:
            return latest.version
        verify_files(self.storage, self.name, target)
        before = {f.file for f in latest.files()}
        after = {f.file for f in target.files()}

        def build(parent: Snapshot, new_version: int, when: Instant) -> Snapshot:
            if parent.version != latest.version:
                raise CommitConflictError(
                    f"table {self.name!r}: version {parent.version} landed while restoring "
                    f"version {target.version}; nothing was restored, restore again"
                )
            info = CommitInfo(
                time=when,
                operation="restore",
                added_files=len(after - before),
                removed_files=len(before - after),
                summary={"restored_version": target.version},
            )
            return upgrade(
                parent,
                new_version,
                info,
                schema=target.schema,
                segments=target.segments,
                deltas=target.deltas,
                buckets=target.buckets,
                tree_levels=target.tree_levels,
            )

        # a lost race rebuilds once, on the newer version, which build() then refuses
        return self._adopt(commit_snapshot(self.storage, self.name, latest, build, max_attempts=2))

    def compact(
        self, policy: CompactionPolicy | None = None, *, progress: Progress | None = None
    ) -> CompactionStats:
        """Fold pending deltas into the segment tree (with ``policy`` or the table's).

        Every as-of answer is the same before and after; reads afterwards touch one base
        plus the events after it. ``progress(done, total)`` is called per segment.
        """
        snapshot, stats = compact_snapshot(
            self.storage, self.name, self._latest(), policy or self.policy, progress
        )
        if snapshot is not None:
            self._adopt(snapshot)
        return stats

    def vacuum(
        self,
        retain_versions: int | None = None,
        older_than: Any = None,
        *,
        grace: Any = "1d",
        dry_run: bool = False,
        progress: Progress | None = None,
        delete_files: Callable[[list[str]], None] | None = None,
    ) -> VacuumResult:
        """Expire old versions and delete data files no retained version references.

        A version is kept if it is among the last ``retain_versions`` or younger than
        ``older_than`` (e.g. ``"7d"``); with neither, every version is kept and only
        unreferenced files (of failed commits, or of versions expired earlier) go. Files
        younger than ``grace`` are never deleted, so commits in flight are safe; files that
        only the versions expired now referenced are *released* and deleted by a vacuum at
        least ``grace`` later (at once with a zero grace), so a restore or a reader that
        read such a version just before has the grace to finish. An expired version's
        number stays taken (spec 14). ``dry_run`` lists what would go. ``delete_files``
        deletes the doomed data files (paths in the table's folder) instead of this process
        (``azof.spark.vacuum`` deletes them in Spark tasks).
        """
        if retain_versions is not None and (
            isinstance(retain_versions, bool)
            or not isinstance(retain_versions, int)
            or retain_versions < 1
        ):
            raise InvalidArgumentError("retain_versions must be a whole number >= 1")
        age = None if older_than is None else parse_duration(older_than, "older_than")
        snapshot = self._latest()
        result = vacuum_table(
            self.storage,
            self.name,
            snapshot,
            self._load,
            self.commit_time,
            retain_versions=retain_versions,
            older_than=age,
            grace=parse_duration(grace, "grace"),
            now=time.time_ns(),
            dry_run=dry_run,
            progress=progress,
            delete_files=delete_files,
        )
        if not dry_run:
            for version in result.expired_versions:
                self._snapshots.drop(version)
        return result
