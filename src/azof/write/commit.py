"""Commits: a pure ``build(parent, version, time) -> Snapshot``, then one create-if-absent.

The commit protocol (``docs/spec.md``, 11.1 and 11.2): data files are written first; the
new snapshot ``s<N+1>.json`` is created only if absent, which is the atomic commit point.
The loser of a race re-reads the latest snapshot, rebuilds on top of it and retries; appends
and deletes commute by event time, so they never need to fail, only to retry.
``version.txt`` is rewritten afterwards as a hint.

A snapshot number is never committed twice: a vacuum leaves a marker in place of an expired
snapshot (the name stays taken), and a writer whose parent was read more than
:data:`FRESH_SECONDS` ago first re-reads the latest version, so the number it tries is above
every number that existed when it tries it (spec 11.1, "No reuse of snapshot numbers").
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from azof import manifests, tablelog
from azof.errors import CommitConflictError, StorageError
from azof.format import CommitInfo, DataFile, Snapshot, encode_snapshot
from azof.storage import Storage
from azof.timestamps import Instant, parse_instant

__all__ = [
    "FRESH_SECONDS",
    "MAX_ATTEMPTS",
    "Builder",
    "append_files",
    "commit_snapshot",
    "latest_snapshot",
    "now_instant",
]

MAX_ATTEMPTS = 60
FRESH_SECONDS = 2.0
"""A parent read longer ago than this is re-checked against the latest version before the
first create-if-absent (vacuum keeps markers of expired versions for an hour at least)."""
Builder = Callable[[Snapshot, int, Instant], Snapshot]


def now_instant() -> Instant:
    """Wall-clock now, in whole microseconds (so a commit time round-trips as a datetime)."""
    return time.time_ns() // 1_000 * 1_000


def commit_time(storage: Storage, parent: Snapshot) -> Instant:
    """Wall-clock now, but never earlier than the parent's commit (times are monotonic).

    A seed snapshot has no commit time; its file's modification time stands in for it.
    """
    now = now_instant()
    if parent.commit is not None:
        return max(now, parent.commit.time + 1_000)
    try:
        modified = storage.info(tablelog.snapshot_name(parent.version)).last_modified
    except FileNotFoundError:
        return now
    return max(now, parse_instant(modified) // 1_000 * 1_000 + 1_000)


def append_files(
    files: Iterable[DataFile],
    operation: str,
    summary: Mapping[str, Any] | None = None,
    properties: Mapping[str, str] | None = None,
) -> Builder:
    """A builder adding ``files`` as pending deltas whose ``seq`` is the new version."""
    added = tuple(files)

    def build(parent: Snapshot, version: int, when: Instant) -> Snapshot:
        stamped = tuple(replace(f, seq=version) for f in added)
        info = CommitInfo(
            time=when,
            operation=operation,
            txn=uuid.uuid4().hex,
            added_rows=sum(f.rows or 0 for f in added),
            added_files=len(added),
            summary=dict(summary or {}),
            properties=dict(properties or {}),
        )
        return upgrade(parent, version, info, deltas=parent.deltas + stamped)

    return build


def upgrade(parent: Snapshot, version: int, info: CommitInfo, **changes: Any) -> Snapshot:
    """The child snapshot of ``parent`` (format 2; a seed table gets its uuid here)."""
    return replace(
        parent,
        format_version=max(2, parent.format_version),
        version=version,
        parent_version=parent.version,
        commit=info,
        table_uuid=parent.table_uuid or uuid.uuid4().hex,
        **changes,
    )


def _landed_anyway(storage: Storage, name: str, data: bytes) -> bool:
    """Whether the object a create-if-absent found is our own (a retried request whose
    first attempt landed): its bytes carry our unique txn id and time."""
    try:
        return storage.read(name) == data
    except FileNotFoundError:
        return False


def latest_snapshot(
    storage: Storage, table: str, at_least: int | None = None, *, whole: bool = True
) -> Snapshot:
    """The latest snapshot, never one older than ``at_least`` (``whole``: with every
    manifest it names read into it)."""
    return tablelog.load_latest(
        storage, table, at_least, lambda v: tablelog.load_snapshot(storage, table, v, whole=whole)
    )


def _fresh(storage: Storage, table: str, parent: Snapshot) -> Snapshot:
    """``parent`` if it is still the latest version, else the latest snapshot."""
    if tablelog.current_version(storage, table, at_least=parent.version) == parent.version:
        return parent
    return latest_snapshot(storage, table, at_least=parent.version, whole=False)


def commit_snapshot(
    storage: Storage,
    table: str,
    parent: Snapshot,
    build: Builder,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    parent_read_at: float | None = None,
    whole: bool = True,
) -> Snapshot:
    """Land ``build(parent)`` as the next version, rebasing on newer commits as needed.

    ``parent_read_at`` is the ``time.monotonic()`` at which ``parent`` was read as the latest
    version; unless that was within :data:`FRESH_SECONDS`, the latest version is checked
    first and ``build`` gets the newest snapshot (``build`` decides whether it still applies).
    ``whole``: ``build`` gets every file record of the parent; else only its pending deltas
    (an append: the segment tree passes through unread, its manifests reused).
    """
    load = manifests.resolve if whole else manifests.resolve_pending
    if parent_read_at is None or time.monotonic() - parent_read_at > FRESH_SECONDS:
        parent = _fresh(storage, table, parent)
    parent = load(storage, table, parent)
    delay = 0.005
    for _attempt in range(max_attempts):
        version = parent.version + 1
        snapshot = build(parent, version, commit_time(storage, parent))
        snapshot = manifests.store(storage, table, snapshot)  # new manifests first
        name = tablelog.snapshot_name(version)
        data = encode_snapshot(snapshot)
        if storage.write_if_absent(name, data) or _landed_anyway(storage, name, data):
            with contextlib.suppress(StorageError):  # only a hint: readers probe past it
                storage.write(tablelog.VERSION_HINT, str(version).encode())
            return snapshot
        logging.getLogger(__name__).debug("table %r: version %d taken; retrying", table, version)
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 0.5)
        parent = load(storage, table, latest_snapshot(storage, table, version, whole=False))
    raise CommitConflictError(
        f"table {table!r}: could not commit after {max_attempts} attempts because other "
        "writers kept landing first; retry later or write in larger batches"
    )
