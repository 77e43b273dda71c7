"""Reading and writing manifests (format 5, ``docs/spec.md`` 19).

A snapshot of a large table names its file records through immutable manifests instead of
holding them: :func:`store` (called by every commit before its create-if-absent) writes
manifests only for the segments and pending deltas a commit changed and reuses the rest;
:func:`resolve` reads a snapshot's manifests into it (all of them, or only those on the
segment path of one as-of time: :func:`resolve_for`), concurrently, through a cache of
decoded manifests shared by the process (a manifest never changes once written).
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pyarrow as pa

from azof import tablelog
from azof.errors import CorruptTableError, VersionNotFoundError
from azof.format import DataFile, ManifestRef, Segment, Snapshot
from azof.format.manifest import (
    MANIFEST_PREFIX,
    decode_manifest,
    encode_manifest,
    fill_segment,
    segment_records,
)
from azof.format.schema_codec import Context
from azof.storage import Storage
from azof.timestamps import MAX_INSTANT, Instant

__all__ = [
    "CHUNK_FILES",
    "INLINE_OPEN_FILES",
    "INLINE_PENDING_FILES",
    "INLINE_SEGMENT_FILES",
    "clear_cache",
    "resolve",
    "resolve_for",
    "resolve_pending",
    "store",
]

INLINE_SEGMENT_FILES = 160
"""A snapshot whose segments hold more file records than this keeps them in manifests."""
INLINE_OPEN_FILES = 64
"""...except the records of a segment open to the future (the current leaf, read by every
current-state scan), kept inline up to this many: a cold current-state read then needs no
manifest, one round trip less."""
INLINE_PENDING_FILES = 32
"""Pending deltas beyond this many inline records move into a new manifest."""
INLINE_BYTES = 48 * 1024
"""...and whose inline records would take more than about this many bytes (long keys make
long records); the open leaf and the inline pending deltas get a quarter of it each."""
CHUNK_FILES = 8192
"""Records per manifest at most (a segment of more files is split by record order)."""
MERGE_FANOUT = 8
"""That many pending manifests of one size class are merged into one."""
_LEVELS = (256, 2048)
"""Size classes of pending manifests (records); those of the last class are never merged."""
_CACHED_RECORDS = 400_000
_READERS = 16

_cache: OrderedDict[str, tuple[str, tuple[DataFile, ...]]] = OrderedDict()
_cached = 0
_lock = threading.Lock()


# -- reading ------------------------------------------------------------------------------


def resolve(storage: Storage, table: str, snapshot: Snapshot) -> Snapshot:
    """``snapshot`` with every manifest it names read into it (it is then complete)."""
    return _resolve(storage, table, snapshot, lambda _segment: True, lambda _ref: True)


def resolve_pending(storage: Storage, table: str, snapshot: Snapshot) -> Snapshot:
    """``snapshot`` with its pending manifests read into it (enough for an append, which
    keeps the segment tree as it is: :func:`store` passes unread segments through)."""
    return _resolve(storage, table, snapshot, lambda _segment: False, lambda _ref: True)


def resolve_for(
    storage: Storage, table: str, snapshot: Snapshot, as_of: Instant | None
) -> Snapshot:
    """``snapshot`` with the manifests an as-of read at ``as_of`` needs read into it (``None``:
    the current state): those of the segments containing ``as_of`` and of the pending
    deltas that may hold an event at or before it. Enough for ``plan_files(as_of)``."""
    instant = MAX_INSTANT if as_of is None else as_of
    return _resolve(
        storage,
        table,
        snapshot,
        lambda segment: segment.contains(instant),
        lambda ref: ref.start is None or ref.start <= instant,
    )


def _resolve(
    storage: Storage,
    table: str,
    snapshot: Snapshot,
    want_segment: Callable[[Segment], bool],
    want_pending: Callable[[ManifestRef], bool],
) -> Snapshot:
    needed: list[ManifestRef] = []

    def visit(segments: Iterable[Segment]) -> None:
        for segment in segments:
            if want_segment(segment):
                needed.extend(m for m in segment.manifests if not m.loaded)
                visit(segment.children)

    visit(snapshot.segments)
    needed.extend(m for m in snapshot.pending_manifests if not m.loaded and want_pending(m))
    if not needed:
        return snapshot
    ctx = _context(table, snapshot)
    loaded = _fetch(storage, table, snapshot, needed, ctx)

    def fill(segment: Segment) -> Segment:
        children = tuple(fill(c) for c in segment.children)
        if not any(m.path in loaded for m in segment.manifests):
            same = all(a is b for a, b in zip(children, segment.children, strict=True))
            return segment if same else replace(segment, children=children)
        refs = tuple(loaded.get(m.path, m) for m in segment.manifests)
        ctx.file = refs[0].path
        return replace(fill_segment(segment, refs, ctx), children=children)

    segments = tuple(fill(s) for s in snapshot.segments)
    refs = tuple(loaded.get(m.path, m) for m in snapshot.pending_manifests)
    deltas = snapshot.deltas
    if any(m.path in loaded for m in snapshot.pending_manifests):
        stored = tuple(f for m in refs if m.content is not None for f in m.content)
        deltas = stored + snapshot.inline_deltas
    return replace(snapshot, segments=segments, deltas=deltas, pending_manifests=refs)


def _context(table: str, snapshot: Snapshot) -> Context:
    ctx = Context(table, "", 5)
    ctx.key_kinds = tuple(int if pa.types.is_integer(c.type) else str for c in snapshot.schema.keys)
    return ctx


def _fetch(
    storage: Storage, table: str, snapshot: Snapshot, refs: Sequence[ManifestRef], ctx: Context
) -> dict[str, ManifestRef]:
    """The manifests ``refs``, read (concurrently) and decoded, by path."""
    segment_paths = {m.path for s in snapshot.walk() for m in s.manifests}

    def one(ref: ManifestRef) -> ManifestRef:
        key = f"{storage.uri.rstrip('/')}/{ref.path}"
        with _lock:
            found = _cache.get(key)
            if found is not None:
                _cache.move_to_end(key)
        if found is None:
            found = _decode(storage, table, snapshot, ref, ctx, ref.path in segment_paths)
            _remember(key, found)
        roles, files = found
        return replace(ref, roles=roles, content=files)

    if len(refs) == 1:
        return {refs[0].path: one(refs[0])}
    with ThreadPoolExecutor(max_workers=min(_READERS, len(refs))) as pool:
        return {m.path: m for m in pool.map(one, refs)}


def _decode(
    storage: Storage, table: str, snapshot: Snapshot, ref: ManifestRef, ctx: Context, segment: bool
) -> tuple[str, tuple[DataFile, ...]]:
    try:
        data = storage.read(ref.path)
    except FileNotFoundError:
        if not tablelog.is_live(storage, snapshot.version):
            raise VersionNotFoundError(
                f"table {table!r} has no version {snapshot.version} (vacuumed while it was "
                "read); see table.versions()"
            ) from None
        raise CorruptTableError(
            f"table {table!r}: {tablelog.snapshot_name(snapshot.version)} names manifest "
            f"{ref.path}, which is missing; restore an earlier version (table.restore) or "
            "recover the object from a backup"
        ) from None
    local = Context(table, ref.path, 5)
    local.key_kinds = ctx.key_kinds
    roles, files = decode_manifest(data, local, "bdt" if segment else "d")
    if len(files) != ref.files:
        raise local.error(f"holds {len(files)} records, the snapshot says {ref.files}")
    return roles, files


def clear_cache() -> None:
    """Forget every decoded manifest (the next read of each fetches it again)."""
    global _cached
    with _lock:
        _cache.clear()
        _cached = 0


def _remember(key: str, value: tuple[str, tuple[DataFile, ...]]) -> None:
    global _cached
    with _lock:
        if key in _cache or _CACHED_RECORDS <= 0:
            return
        _cache[key] = value
        _cached += len(value[1])
        while _cached > _CACHED_RECORDS and len(_cache) > 1:
            _, (_, dropped) = _cache.popitem(last=False)
            _cached -= len(dropped)


# -- writing ------------------------------------------------------------------------------


class _Writes:
    """New manifests of one commit, written together (concurrently) before it."""

    def __init__(self, table_uuid: str) -> None:
        self.table_uuid = table_uuid
        self.objects: list[tuple[str, bytes]] = []

    def add(self, roles: str, files: tuple[DataFile, ...]) -> tuple[ManifestRef, ...]:
        refs = []
        for at in range(0, len(files), CHUNK_FILES):
            part, part_roles = files[at : at + CHUNK_FILES], roles[at : at + CHUNK_FILES]
            data = encode_manifest(self.table_uuid, part_roles, part)
            path = f"{MANIFEST_PREFIX}{uuid.uuid4().hex}.json.gz"
            self.objects.append((path, data))
            starts = [f.start for f in part if f.start is not None]
            bounded = all(f.end is not None for f in part)
            refs.append(
                ManifestRef(
                    path,
                    files=len(part),
                    rows=sum(f.rows or 0 for f in part),
                    size=len(data),
                    start=min(starts) if starts else None,
                    end=max(f.end for f in part if f.end is not None) if bounded else None,
                    bucket_min=min(f.bucket for f in part),
                    bucket_max=max(f.bucket for f in part),
                    roles=part_roles,
                    content=part,
                )
            )
        return tuple(refs)

    def flush(self, storage: Storage) -> None:
        if len(self.objects) <= 1:
            for path, data in self.objects:
                storage.write(path, data)
            return
        with ThreadPoolExecutor(max_workers=min(_READERS, len(self.objects))) as pool:
            list(pool.map(lambda item: storage.write(*item), self.objects))


def _holds(refs: Sequence[ManifestRef], roles: str, files: tuple[DataFile, ...]) -> bool:
    """Whether the loaded manifests ``refs`` hold exactly ``files`` with ``roles``."""
    if not refs or not all(m.loaded for m in refs):
        return False
    if sum(m.files for m in refs) != len(files) or "".join(m.roles or "" for m in refs) != roles:
        return False
    return tuple(f for m in refs for f in (m.content or ())) == files


def store(storage: Storage, table: str, snapshot: Snapshot) -> Snapshot:
    """Write the manifests ``snapshot`` needs and name them in it (a commit's last step
    before its create-if-absent). Segments and pending deltas whose manifests still hold
    exactly their files keep them; a snapshot whose segments hold at most
    :data:`INLINE_SEGMENT_FILES` records and at most :data:`INLINE_PENDING_FILES` pending
    deltas past its pending manifests stays inline (and so in format 2 to 4)."""
    if not all(m.loaded for m in snapshot.pending_manifests):
        raise AssertionError(f"snapshot {snapshot.version}: store() needs its pending deltas")
    writes = _Writes(snapshot.table_uuid)
    loaded = (f for s in snapshot.walk() if s.loaded for f in segment_records(s)[1])
    spill = (
        snapshot.file_count() - len(snapshot.deltas) > INLINE_SEGMENT_FILES
        or _text_bytes(loaded) > INLINE_BYTES
    )

    def place(segment: Segment) -> Segment:
        children = tuple(place(c) for c in segment.children)
        if not segment.loaded:  # not read, so not changed: its manifests stay
            if segment.base or segment.deltas or segment.tip:
                raise AssertionError(f"segment {segment.id!r} changed but was never read")
            same = all(a is b for a, b in zip(children, segment.children, strict=True))
            return segment if same else replace(segment, children=children)
        roles, files = segment_records(segment)
        if _holds(segment.manifests, roles, files):
            refs = segment.manifests
        elif spill and files and not _stays_open(segment, files):
            refs = writes.add(roles, files)
        else:
            refs = ()
        same = refs is segment.manifests and all(
            a is b for a, b in zip(children, segment.children, strict=True)
        )
        return segment if same else replace(segment, children=children, manifests=refs)

    placed = tuple(place(s) for s in snapshot.segments)
    if all(a is b for a, b in zip(placed, snapshot.segments, strict=True)):
        placed = snapshot.segments  # unchanged: the encoded tree is reused as it is
    pending = _place_pending(snapshot, writes)
    writes.flush(storage)
    if placed is snapshot.segments and pending == snapshot.pending_manifests:
        return snapshot
    return replace(snapshot, segments=placed, pending_manifests=pending)


def _place_pending(snapshot: Snapshot, writes: _Writes) -> tuple[ManifestRef, ...]:
    deltas = snapshot.deltas
    kept: list[ManifestRef] = []
    at = 0
    for ref in snapshot.pending_manifests:
        if not ref.loaded or deltas[at : at + ref.files] != ref.content:
            break
        kept.append(ref)
        at += ref.files
    rest = deltas[at:]
    if len(rest) > INLINE_PENDING_FILES or _text_bytes(rest) > INLINE_BYTES // 4:
        kept.extend(writes.add("d" * len(rest), rest))
    while len(kept) >= MERGE_FANOUT:
        tail = kept[-MERGE_FANOUT:]
        level = _level(tail[-1])
        if level >= len(_LEVELS) or any(_level(m) != level for m in tail):
            break
        if sum(m.files for m in tail) > CHUNK_FILES:
            break  # would not fit one manifest
        files = tuple(f for m in tail for f in (m.content or ()))
        kept[-MERGE_FANOUT:] = writes.add("d" * len(files), files)
    return tuple(kept)


def _stays_open(segment: Segment, files: tuple[DataFile, ...]) -> bool:
    """Whether a segment of a snapshot whose records go to manifests keeps them inline: the
    open (current) leaf, when small."""
    return (
        segment.end is None
        and len(files) <= INLINE_OPEN_FILES
        and _text_bytes(files) <= INLINE_BYTES // 4
    )


def _text_bytes(files: Iterable[DataFile]) -> int:
    """About how many bytes ``files`` take as inline snapshot records (a record's fixed
    fields take some 200; names and key bounds vary)."""
    total = 0
    for f in files:
        total += 200 + len(f.file) + len(str(f.min_key)) + len(str(f.max_key))
        if total > INLINE_BYTES:
            break  # enough to decide
    return total


def _level(ref: ManifestRef) -> int:
    return sum(1 for bound in _LEVELS if ref.files >= bound)
