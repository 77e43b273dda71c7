"""The log of a table's snapshots on storage: ``version.txt`` and ``s<N>.json``.

Reading side of the commit protocol (``docs/spec.md``, "Layout" and "Commits"): the
current version is the one ``version.txt`` names, or a later one if ``s<N+1>.json`` exists
(``version.txt`` is only a hint written after each commit; the create-if-absent of the
snapshot file is the commit). A vacuum overwrites the snapshot of an expired version with
:data:`EXPIRED_MARKER` instead of deleting it, so that its number can never be committed
again (spec 11.1 and 14); a marker reads as a missing version.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from azof import manifests
from azof.errors import CorruptTableError, TableNotFoundError, VersionNotFoundError
from azof.format import CommitInfo, Snapshot, decode_snapshot
from azof.format.codec import decode_commit_entry
from azof.storage import ObjectInfo, Storage

__all__ = [
    "EXPIRED_MARKER",
    "VERSION_HINT",
    "SnapshotCache",
    "current_version",
    "is_live",
    "is_marker",
    "is_table",
    "list_snapshots",
    "list_versions",
    "load_commit",
    "load_latest",
    "load_snapshot",
    "snapshot_name",
]

VERSION_HINT = "version.txt"
EXPIRED_MARKER = b'{"expired":true}'
"""What a vacuum leaves in place of an expired snapshot: the name stays taken (no writer can
create that version again), the version reads as gone. No snapshot is ever this short."""
_SNAPSHOT = re.compile(r"^s(\d+)\.json$")


def snapshot_name(version: int) -> str:
    return f"s{version}.json"


def is_marker(size: int) -> bool:
    """Whether a snapshot object of ``size`` bytes is an expired marker."""
    return size == len(EXPIRED_MARKER)


def list_snapshots(storage: Storage) -> list[tuple[int, ObjectInfo]]:
    """Every ``s<N>.json`` object in the table folder (markers included), by version."""
    found = []
    for obj in storage.list("", recursive=False):
        match = _SNAPSHOT.match(obj.path.rsplit("/", 1)[-1])
        if match:
            found.append((int(match[1]), obj))
    return sorted(found, key=lambda item: item[0])


def list_versions(storage: Storage) -> list[int]:
    """Every retained snapshot number (markers of expired versions left out), ascending."""
    return [version for version, obj in list_snapshots(storage) if not is_marker(obj.size)]


def is_table(storage: Storage) -> bool:
    """Whether the folder holds a table (a version hint or at least one snapshot)."""
    return any(
        obj.path == VERSION_HINT or _SNAPSHOT.match(obj.path)
        for obj in storage.list("", recursive=False)
    )


def _snapshot_size(storage: Storage, version: int) -> int | None:
    """The size of ``s<version>.json``, ``None`` when there is no such object."""
    try:
        return storage.info(snapshot_name(version)).size
    except FileNotFoundError:
        return None


def is_live(storage: Storage, version: int) -> bool:
    """Whether snapshot ``version`` exists and is not an expired marker."""
    size = _snapshot_size(storage, version)
    return size is not None and not is_marker(size)


def _read_hint(storage: Storage, table: str) -> int | None:
    try:
        text = storage.read(VERSION_HINT).decode("utf-8", errors="replace").strip()
    except FileNotFoundError:
        return None
    if not (text.isascii() and text.isdigit()):
        raise CorruptTableError(
            f"table {table!r}: {VERSION_HINT} holds {text[:40]!r}, not a snapshot number; "
            f"write the number of the latest s<N>.json into it"
        )
    return int(text)


def _start(storage: Storage, table: str, at_least: int | None) -> int | None:
    """The greater of ``version.txt`` and ``at_least`` (``None``: neither is known)."""
    hint = _read_hint(storage, table)
    return max((v for v in (hint, at_least) if v is not None), default=None)


def current_version(storage: Storage, table: str, at_least: int | None = None) -> int:
    """The latest committed version of the table.

    Starts from the greater of ``version.txt`` and ``at_least`` (a version the caller has
    already seen, so that a reader never moves backwards when a racing writer rewrote the
    hint with an older number) and probes upwards while the next snapshot object exists
    (markers of expired versions included: a later real snapshot follows them). When the
    start is missing or expired, the hint is stale: the greatest listed version is the
    start instead.
    """
    return _latest_from(storage, table, _start(storage, table, at_least))


def _latest_from(storage: Storage, table: str, start: int | None) -> int:
    """:func:`current_version`, from a start already read."""
    if start is not None and not is_live(storage, start):
        # a stale hint: its snapshot was vacuumed, and the log goes on past it
        later = [v for v in list_versions(storage) if v > start]
        if not later:
            raise CorruptTableError(
                f"table {table!r}: {VERSION_HINT} names version {start} but "
                f"{snapshot_name(start)} is missing and no later snapshot exists; restore "
                f"it or fix {VERSION_HINT}"
            )
        start = later[-1]
    if start is None:
        versions = list_versions(storage)
        if not versions:
            raise TableNotFoundError(
                f"no table {table!r} at {storage.uri}: it has no {VERSION_HINT} and no "
                "snapshots; check the name with lakehouse.tables()"
            )
        start = versions[-1]
    version = start
    while _snapshot_size(storage, version + 1) is not None:
        version += 1
    return version


def _read(storage: Storage, table: str, version: int) -> bytes:
    name = snapshot_name(version)
    try:
        data = storage.read(name)
    except FileNotFoundError:
        data = EXPIRED_MARKER
    if data == EXPIRED_MARKER:
        raise VersionNotFoundError(
            f"table {table!r} has no version {version} ({name} is missing or was vacuumed); "
            f"see table.versions()"
        )
    return data


def load_snapshot(storage: Storage, table: str, version: int, *, whole: bool = True) -> Snapshot:
    """Read and validate snapshot ``version``; ``whole``: with the manifests it names read
    into it (else only the snapshot object: see :func:`azof.manifests.resolve_for`)."""
    data = _read(storage, table, version)
    snapshot = decode_snapshot(data, table=table, file=snapshot_name(version), version=version)
    return manifests.resolve(storage, table, snapshot) if whole else snapshot


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


def _read_if_latest(
    storage: Storage, version: int, read: Callable[[int], Snapshot]
) -> Snapshot | None:
    """Snapshot ``version`` if it is live and the latest, else ``None`` (it is missing or
    expired, or a later snapshot object exists).

    Reads it while it checks for ``s<version+1>.json``, at the same time (one round trip to
    an object store, not three in a row: is it live, is there a later one, read it)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        reading = pool.submit(read, version)
        if _snapshot_size(storage, version + 1) is not None:
            return None  # a later version (or a marker before one): probe from here
        try:
            return reading.result()
        except VersionNotFoundError:
            return None  # missing or expired: a stale hint


def load_latest(
    storage: Storage,
    table: str,
    at_least: int | None = None,
    load: Callable[[int], Snapshot] | None = None,
) -> Snapshot:
    """The latest snapshot, never one older than ``at_least`` (``load`` reads a version,
    e.g. through a cache).

    Once ``version.txt`` is read, the snapshot it names is read while the next number is
    checked (two round trips in all); only when that snapshot is gone or a later one exists
    does the log get probed as :func:`current_version` does. A vacuum may expire the version
    found before it is read: then a later one exists, and it is read instead."""
    read = load or (lambda version: load_snapshot(storage, table, version))
    start = _start(storage, table, at_least)
    if start is not None:
        found = _read_if_latest(storage, start, read)
        if found is not None:
            return found
    version = _latest_from(storage, table, start)
    for _ in range(100):
        try:
            return read(version)
        except VersionNotFoundError:
            # expired meanwhile: the latest is past it
            version = current_version(storage, table, at_least=version)
    raise VersionNotFoundError(
        f"table {table!r}: every latest version found was expired before it could be read "
        "(vacuums running back to back?); open the table again"
    )


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
