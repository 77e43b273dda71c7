"""Vacuum: expire old snapshots and delete data files nothing retained references.

The rules (``docs/spec.md`` 14) keep every acknowledged commit and every retained version
whole, whatever runs at the same time:

- An expired snapshot is overwritten with :data:`~azof.tablelog.EXPIRED_MARKER`, never
  deleted at once, so no writer can commit its number again; markers go only once older than
  ``max(grace, MARKER_MIN_AGE)``.
- A data file is deleted only when no retained version references it (versions that land
  while the vacuum runs included) and it is older than ``grace``: files of commits in
  flight survive. Files that versions expired by this run referenced are *released*: a
  record under ``_vacuum/`` names them, and they are deleted by the first vacuum at least
  ``grace`` later, so an operation that read such a version just before it expired (a
  restore) has the grace period to land and reference them again.
- Records and markers are written before anything is deleted, so a crash midway never
  leaves a retained version naming a deleted file.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from azof import tablelog
from azof.errors import CorruptTableError, VersionNotFoundError
from azof.format import Snapshot
from azof.format.manifest import MANIFEST_PREFIX
from azof.storage import ObjectInfo, Storage
from azof.timestamps import Instant, format_instant, parse_instant

__all__ = ["MARKER_MIN_AGE", "RELEASED_PREFIX", "VacuumResult", "vacuum_table"]

MARKER_MIN_AGE = 3_600 * 1_000_000_000
"""Markers of expired versions stay at least an hour (nanoseconds): longer than any writer
takes between checking the latest version and its create-if-absent."""
RELEASED_PREFIX = "_vacuum"


@dataclass(frozen=True)
class VacuumResult:
    """What vacuum removed (or, with ``dry_run``, would remove).

    ``released_files``: files only the versions expired by this run referenced; a vacuum
    deletes them once they have been released for ``grace`` (this one too when ``grace`` is
    zero, then they are also in ``deleted_files``)."""

    expired_versions: list[int] = field(default_factory=list)
    deleted_files: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    dry_run: bool = False
    released_files: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Release:
    path: str
    at: Instant
    files: frozenset[str]


def _expired(
    versions: list[int],
    current: int,
    commit_time: Callable[[int], Instant],
    retain_versions: int | None,
    older_than: int | None,
    now: Instant,
) -> list[int]:
    candidates = [v for v in versions if v < current]
    if retain_versions is None and older_than is None:
        return []
    kept: set[int] = set()
    if retain_versions is not None:
        kept |= set(versions[-retain_versions:])
    if older_than is not None:
        kept |= {v for v in candidates if commit_time(v) >= now - older_than}
    return [v for v in candidates if v not in kept]


def _files(load: Callable[[int], Snapshot], versions: Iterable[int]) -> set[str]:
    """Data files and manifests of ``versions``; a version expired meanwhile by another
    vacuum is skipped (its files are that vacuum's to release)."""
    found: set[str] = set()
    for version in versions:
        try:
            snapshot = load(version)
            found |= {f.file for f in snapshot.files()}
            found |= {m.path for m in snapshot.manifests()}
        except VersionNotFoundError:
            continue
    return found


def _collectable(path: str) -> bool:
    """Whether a vacuum may delete ``path`` once nothing retained references it: a data
    file or a manifest (spec 14 and 19)."""
    return path.endswith(".parquet") or (
        path.startswith(MANIFEST_PREFIX) and path.endswith(".json.gz")
    )


def _releases(storage: Storage, table: str) -> list[_Release]:
    releases = []
    for obj in storage.list(RELEASED_PREFIX):
        if not obj.path.endswith(".json"):
            continue
        try:
            body = json.loads(storage.read(obj.path))
            files = frozenset(str(f) for f in body["files"])
            at = parse_instant(body["released_at"])
        except FileNotFoundError:
            continue  # deleted by a concurrent vacuum
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptTableError(
                f"table {table!r}: vacuum record {obj.path} is not valid ({exc}); delete it "
                "(its files are then treated as unreferenced files)"
            ) from None
        releases.append(_Release(obj.path, at, files))
    return releases


def _release_record(files: Iterable[str], now: Instant) -> tuple[str, bytes]:
    name = f"{RELEASED_PREFIX}/released-{now:020d}-{uuid.uuid4().hex[:8]}.json"
    body = {"released_at": format_instant(now), "files": sorted(files)}
    return name, json.dumps(body, separators=(",", ":")).encode()


def vacuum_table(
    storage: Storage,
    table: str,
    current: Snapshot,
    load: Callable[[int], Snapshot],
    commit_time: Callable[[int], Instant],
    *,
    retain_versions: int | None,
    older_than: int | None,
    grace: int,
    now: Instant,
    dry_run: bool,
    progress: Callable[[int, int], None] | None = None,
    delete_files: Callable[[list[str]], None] | None = None,
) -> VacuumResult:
    """Expire versions and delete unreferenced data files (durations in nanoseconds).

    ``delete_files`` deletes the data files elsewhere (``azof.spark.vacuum``: in Spark
    tasks); the vacuum records and markers are deleted here, after them.

    A version is expired when it is neither among the last ``retain_versions`` nor
    committed within ``older_than`` of ``now`` (a criterion left ``None`` keeps
    everything it would keep); the current version and later ones are always retained.
    """
    versions = tablelog.list_versions(storage)
    expired = _expired(versions, current.version, commit_time, retain_versions, older_than, now)
    retained = [v for v in versions if v not in set(expired)]
    kept_files = _files(load, retained)
    released = _files(load, expired) - kept_files
    releases = _releases(storage, table)
    if released:
        name, record = _release_record(released, now)
        releases.append(_Release(name, now, frozenset(released)))
    if not dry_run:
        if released:
            storage.write(name, record)  # before the markers: a crash leaves files, not holes
        for version in expired:
            storage.write(tablelog.snapshot_name(version), tablelog.EXPIRED_MARKER)
        # versions that landed meanwhile reference what they reference: keep it
        latest = tablelog.current_version(storage, table, at_least=current.version)
        kept_files |= _files(load, range(current.version + 1, latest + 1))
    due = [r for r in releases if r.at <= now - grace]
    pending = set().union(*(r.files for r in releases if r.at > now - grace))
    released_due = set().union(*(r.files for r in due))
    doomed: list[ObjectInfo] = []
    for obj in storage.list(""):
        if not _collectable(obj.path) or obj.path in kept_files:
            continue
        if obj.path in pending and obj.path not in released_due:
            continue  # released less than ``grace`` ago
        if obj.path in released_due or parse_instant(obj.last_modified) < now - grace:
            doomed.append(obj)
    markers = [
        obj
        for version, obj in tablelog.list_snapshots(storage)
        if tablelog.is_marker(obj.size)
        and version < current.version
        and parse_instant(obj.last_modified) < now - max(grace, MARKER_MIN_AGE)
    ]
    result = VacuumResult(
        expired_versions=expired,
        deleted_files=sorted(obj.path for obj in doomed),
        bytes_freed=sum(obj.size for obj in doomed),
        dry_run=dry_run,
        released_files=sorted(released),
    )
    if dry_run:
        return result
    paths = [obj.path for obj in doomed] + [r.path for r in due] + [m.path for m in markers]
    if delete_files is not None and doomed:
        delete_files([obj.path for obj in doomed])
        paths = paths[len(doomed) :]
    for done, path in enumerate(paths, start=1):
        storage.delete(path)
        if progress is not None:
            progress(done, len(paths))
    return result
