"""Vacuum: expire old snapshots and delete data files nothing retained references.

A file is deleted only if no retained snapshot references it and it is older than the
grace period, so files of a commit still in flight survive. Expired snapshot files are
deleted before data files, so a crash midway never leaves a retained version broken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from azof import tablelog
from azof.format import Snapshot
from azof.storage import Storage
from azof.timestamps import Instant, parse_instant

__all__ = ["VacuumResult", "vacuum_table"]


@dataclass(frozen=True)
class VacuumResult:
    """What vacuum removed (or, with ``dry_run``, would remove)."""

    expired_versions: list[int] = field(default_factory=list)
    deleted_files: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    dry_run: bool = False


def vacuum_table(
    storage: Storage,
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
) -> VacuumResult:
    """Expire versions and delete unreferenced data files (durations in nanoseconds).

    A version is expired when it is neither among the last ``retain_versions`` nor
    committed within ``older_than`` of ``now`` (a criterion left ``None`` keeps
    everything it would keep); the current version and later ones are always retained.
    """
    versions = tablelog.list_versions(storage)
    retained = {v for v in versions if v >= current.version}
    if retain_versions is None and older_than is None:
        retained |= set(versions)
    else:
        if retain_versions is not None:
            retained |= set(versions[-retain_versions:]) if retain_versions > 0 else set()
        if older_than is not None:
            retained |= {v for v in versions if commit_time(v) >= now - older_than}
    expired = [v for v in versions if v not in retained]
    referenced: set[str] = set()
    for version in sorted(retained):
        referenced |= {f.file for f in load(version).files()}
    doomed = [
        obj
        for obj in storage.list("")
        if obj.path.endswith(".parquet")
        and obj.path not in referenced
        and parse_instant(obj.last_modified) < now - grace
    ]
    result = VacuumResult(
        expired_versions=expired,
        deleted_files=sorted(obj.path for obj in doomed),
        bytes_freed=sum(obj.size for obj in doomed),
        dry_run=dry_run,
    )
    if dry_run:
        return result
    total = len(expired) + len(doomed)
    done = 0
    for version in expired:  # metadata first: no retained version ever loses a file
        storage.delete(tablelog.snapshot_name(version))
        done += 1
        if progress is not None:
            progress(done, total)
    for obj in doomed:
        storage.delete(obj.path)
        done += 1
        if progress is not None:
            progress(done, total)
    return result
