"""The log of a table's snapshots on storage: ``version.txt`` and ``s<N>.json``.

Reading side of the commit protocol (``docs/spec.md``, "Layout" and "Commits"): the
current version is the one ``version.txt`` names, or a later one if ``s<N+1>.json`` exists
(``version.txt`` is only a hint written after each commit; the create-if-absent of the
snapshot file is the commit).
"""

from __future__ import annotations

import re
from collections import OrderedDict

from azof.errors import CorruptTableError, TableNotFoundError, VersionNotFoundError
from azof.format import CommitInfo, Snapshot, decode_snapshot
from azof.format.codec import decode_commit_entry
from azof.storage import Storage

__all__ = [
    "VERSION_HINT",
    "SnapshotCache",
    "current_version",
    "is_table",
    "list_versions",
    "load_commit",
    "load_snapshot",
    "snapshot_name",
]

VERSION_HINT = "version.txt"
_SNAPSHOT = re.compile(r"^s(\d+)\.json$")


def snapshot_name(version: int) -> str:
    return f"s{version}.json"


def list_versions(storage: Storage) -> list[int]:
    """Every snapshot number present in the table folder, ascending."""
    versions = []
    for obj in storage.list("", recursive=False):
        match = _SNAPSHOT.match(obj.path.rsplit("/", 1)[-1])
        if match:
            versions.append(int(match[1]))
    return sorted(versions)


def is_table(storage: Storage) -> bool:
    """Whether the folder holds a table (a version hint or at least one snapshot)."""
    return any(
        obj.path == VERSION_HINT or _SNAPSHOT.match(obj.path)
        for obj in storage.list("", recursive=False)
    )


def current_version(storage: Storage, table: str) -> int:
    """The latest committed version of the table."""
    try:
        text = storage.read(VERSION_HINT).decode("utf-8", errors="replace").strip()
    except FileNotFoundError:
        versions = list_versions(storage)
        if not versions:
            raise TableNotFoundError(
                f"no table {table!r} at {storage.uri}: it has no {VERSION_HINT} and no "
                "snapshots; check the name with lakehouse.tables()"
            ) from None
        return versions[-1]
    if not (text.isascii() and text.isdigit()):
        raise CorruptTableError(
            f"table {table!r}: {VERSION_HINT} holds {text[:40]!r}, not a snapshot number; "
            f"write the number of the latest s<N>.json into it"
        )
    version = int(text)
    if not storage.exists(snapshot_name(version)):
        later = [v for v in list_versions(storage) if v > version]
        if later:  # a stale hint whose snapshot was vacuumed: the log goes on past it
            return later[-1]
        raise CorruptTableError(
            f"table {table!r}: {VERSION_HINT} names version {version} but "
            f"{snapshot_name(version)} is missing; restore it or fix {VERSION_HINT}"
        )
    while storage.exists(snapshot_name(version + 1)):
        version += 1
    return version


def _read(storage: Storage, table: str, version: int) -> bytes:
    name = snapshot_name(version)
    try:
        return storage.read(name)
    except FileNotFoundError:
        raise VersionNotFoundError(
            f"table {table!r} has no version {version} ({name} is missing or was vacuumed); "
            f"see table.versions()"
        ) from None


def load_snapshot(storage: Storage, table: str, version: int) -> Snapshot:
    """Read and validate snapshot ``version``."""
    data = _read(storage, table, version)
    return decode_snapshot(data, table=table, file=snapshot_name(version), version=version)


def load_commit(
    storage: Storage, table: str, version: int
) -> tuple[CommitInfo, int | None] | Snapshot:
    """The commit record and parent of snapshot ``version``, without decoding its files;
    for a snapshot without one (a seed), the whole snapshot."""
    data = _read(storage, table, version)
    name = snapshot_name(version)
    entry = decode_commit_entry(data, table=table, file=name)
    if entry is not None:
        return entry
    return decode_snapshot(data, table=table, file=name, version=version)


class SnapshotCache:
    """The snapshots a table has loaded, at most ``SIZE``, the least recently used dropped
    first (a snapshot of a large table holds thousands of file records)."""

    SIZE = 16

    def __init__(self) -> None:
        self._held: OrderedDict[int, Snapshot] = OrderedDict()

    def get(self, version: int) -> Snapshot | None:
        found = self._held.get(version)
        if found is not None:
            self._held.move_to_end(version)
        return found

    def put(self, snapshot: Snapshot) -> None:
        self._held[snapshot.version] = snapshot
        self._held.move_to_end(snapshot.version)
        while len(self._held) > self.SIZE:
            self._held.popitem(last=False)

    def drop(self, version: int) -> None:
        self._held.pop(version, None)
