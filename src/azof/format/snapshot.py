"""Snapshots, segments and data files: the table's metadata as frozen values (no I/O).

A snapshot is the whole state of a table at one version. Its *segment tree* covers event
time: a segment ``[start, end]`` (``end`` ``None`` = open) may hold a *base* (the state of
every key as of ``start``, split into one file per bucket), *deltas* (events inside the
segment) and child segments. Format-2 snapshots also hold *pending deltas*: files of events
not yet folded into the tree by compaction, each used for every as-of time at or after its
earliest event. ``docs/spec.md`` is the normative description.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from azof.format.schema import TableSchema
from azof.timestamps import Instant

__all__ = ["CommitInfo", "DataFile", "ManifestRef", "Segment", "Snapshot", "freeze", "thaw"]


def freeze(value: Any) -> Any:
    """``value`` made read-only all the way down: a mapping becomes a ``MappingProxyType``
    of frozen values (keys as given), a list or tuple a tuple; anything else is kept."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The plain JSON form of a frozen value: dicts and lists again (for encoding)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(v) for v in value]
    return value


def _frozen_mapping(value: Any) -> Mapping[str, Any]:
    frozen = freeze(value if isinstance(value, Mapping) else {})
    assert isinstance(frozen, MappingProxyType)
    return frozen


@dataclass(frozen=True)
class DataFile:
    """One Parquet file of a snapshot.

    ``start``/``end`` bound the event times of its rows (inclusive; ``end`` ``None`` = not
    bounded). ``seq`` orders knowledge: rows of a file with a greater ``seq`` win ties on
    ``(key, event_time)``. Seed files have ``seq`` 0.
    """

    file: str
    start: Instant | None = None
    end: Instant | None = None
    seq: int = 0
    rows: int | None = None
    size: int | None = None
    bucket: int = 0
    buckets: int = 1
    """The file holds only keys whose hash mod ``buckets`` is ``bucket`` (1: any key)."""
    min_key: Any = None
    max_key: Any = None
    tombstones: int = 0
    derived: bool = False
    """A base written by compaction: derived from the deltas, not a source of events."""
    sorted: bool = False
    """Rows are sorted by key, then event time (every file azof writes)."""
    schema_id: int = 0
    """The ``schema_id`` of the schema the file was written with: it holds no column added
    by a later schema (those read as their default)."""

    def may_hold_before(self, instant: Instant) -> bool:
        """Whether the file may hold an event at or before ``instant``."""
        return self.start is None or self.start <= instant


@dataclass(frozen=True)
class ManifestRef:
    """A manifest: an immutable object under ``manifests/`` holding data-file records of a
    segment (its base, deltas and tip) or of the pending deltas (format 5, spec 19).

    ``start``/``end`` bound the event times of its files (``end`` ``None``: some file is
    unbounded); ``bucket_min``/``bucket_max`` bound their buckets. ``roles`` and ``content``
    are the manifest's records once read (``None`` in a snapshot as decoded: the manifest
    has not been read); they take no part in equality.
    """

    path: str
    files: int
    rows: int
    size: int
    start: Instant | None = None
    end: Instant | None = None
    bucket_min: int = 0
    bucket_max: int = 0
    roles: str | None = field(default=None, compare=False, repr=False)
    """One letter per record of ``content``: ``b`` base, ``d`` delta, ``t`` tip."""
    content: tuple[DataFile, ...] | None = field(default=None, compare=False, repr=False)

    @property
    def loaded(self) -> bool:
        return self.content is not None


@dataclass(frozen=True)
class Segment:
    """A node of the segment tree covering event time ``[start, end]``."""

    id: str
    start: Instant
    end: Instant | None = None
    base: tuple[DataFile, ...] = ()
    deltas: tuple[DataFile, ...] = ()
    children: tuple[Segment, ...] = ()
    tip: tuple[DataFile, ...] = ()
    """Files of every key's latest event in the segment and before (written by compaction
    for the last leaf): as of any T at or after ``tip_from`` they replace base and deltas."""
    tip_from: Instant | None = None
    manifests: tuple[ManifestRef, ...] = ()
    """Where the segment's own files (base, deltas, tip) are stored (format 5); empty when
    they are inline in the snapshot. Until every one is loaded, the file tuples are empty."""

    @property
    def loaded(self) -> bool:
        """Whether the segment's own files are in the value (not only named by manifests)."""
        return all(m.loaded for m in self.manifests)

    def contains(self, instant: Instant) -> bool:
        return self.start <= instant and (self.end is None or instant <= self.end)

    def walk(self) -> Iterator[Segment]:
        yield self
        for child in self.children:
            yield from child.walk()

    def files(self) -> Iterator[DataFile]:
        for segment in self.walk():
            yield from segment.base
            yield from segment.deltas
            yield from segment.tip


@dataclass(frozen=True)
class CommitInfo:
    """What a commit did and when (commit time, UTC nanoseconds)."""

    time: Instant
    operation: str
    txn: str = ""
    added_rows: int = 0
    added_files: int = 0
    removed_files: int = 0
    summary: Mapping[str, Any] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)
    """The writer's own commit metadata (e.g. a job id), stored as given."""

    def __post_init__(self) -> None:
        # frozen means frozen: a cached snapshot's commit cannot be changed by a caller
        object.__setattr__(self, "summary", _frozen_mapping(self.summary))
        object.__setattr__(self, "properties", _frozen_mapping(self.properties))


@dataclass(frozen=True)
class Snapshot:
    """The table at one version."""

    format_version: int
    version: int
    schema: TableSchema
    segments: tuple[Segment, ...] = ()
    deltas: tuple[DataFile, ...] = ()
    parent_version: int | None = None
    commit: CommitInfo | None = None
    table_uuid: str = ""
    buckets: int = 1
    policy: Mapping[str, Any] = field(default_factory=dict)
    properties: Mapping[str, Any] = field(default_factory=dict)
    tree_levels: tuple[str, ...] = ()
    """The levels of a segment tree written by azof's compaction; empty for a seed tree."""
    pending_manifests: tuple[ManifestRef, ...] = ()
    """Manifests holding the first pending deltas (format 5): ``deltas`` is their files, in
    order, followed by the pending deltas inline in the snapshot; until a manifest is
    loaded, its files are missing from ``deltas``."""

    def __post_init__(self) -> None:
        # frozen means frozen: snapshots are shared by caches, so their mappings are
        # read-only views (nested lists become tuples)
        object.__setattr__(self, "policy", _frozen_mapping(self.policy))
        object.__setattr__(self, "properties", _frozen_mapping(self.properties))

    @property
    def complete(self) -> bool:
        """Whether every manifest the snapshot names has been read into it (a snapshot
        without manifests always is); only a complete snapshot lists all its files."""
        return all(m.loaded for m in self.pending_manifests) and all(s.loaded for s in self.walk())

    def file_count(self) -> int:
        """How many data files the snapshot references (its manifests read or not)."""
        count = 0
        for segment in self.walk():
            if segment.loaded:
                count += len(segment.base) + len(segment.deltas) + len(segment.tip)
            else:
                count += sum(m.files for m in segment.manifests)
        return count + sum(m.files for m in self.pending_manifests) + len(self.inline_deltas)

    @property
    def inline_deltas(self) -> tuple[DataFile, ...]:
        """The pending deltas held by the snapshot itself, past those of its pending
        manifests (read or not)."""
        return self.deltas[sum(m.files for m in self.pending_manifests if m.loaded) :]

    def manifests(self) -> Iterator[ManifestRef]:
        """Every manifest the snapshot names: the segments', then the pending deltas'."""
        for segment in self.walk():
            yield from segment.manifests
        yield from self.pending_manifests

    def files(self) -> Iterator[DataFile]:
        """Every data file the snapshot references (of a complete snapshot only)."""
        if not self.complete:
            raise AssertionError(
                f"snapshot {self.version} has manifests not read yet; load it whole "
                "(azof.manifests.resolve) before listing its files"
            )
        for segment in self.segments:
            yield from segment.files()
        yield from self.deltas

    def walk(self) -> Iterator[Segment]:
        for segment in self.segments:
            yield from segment.walk()
