"""Scan planning: which data files answer "as of T", and how ties between them break.

Pure functions of a snapshot; no I/O. See ``docs/spec.md`` ("Meaning of a scan").
"""

from __future__ import annotations

from dataclasses import dataclass

from azof.format.snapshot import DataFile, Segment, Snapshot
from azof.timestamps import MAX_INSTANT, Instant

__all__ = ["PlannedFile", "plan_files", "rank_files"]


@dataclass(frozen=True)
class PlannedFile:
    """A file to read. Among rows of equal ``(key, event_time)`` the greater priority wins."""

    file: DataFile
    priority: int


def _path(
    segments: tuple[Segment, ...], instant: Instant, depth: int, out: list[tuple[int, Segment]]
) -> None:
    for segment in segments:
        if segment.contains(instant):
            out.append((depth, segment))
            _path(segment.children, instant, depth + 1, out)


def plan_files(
    snapshot: Snapshot, as_of: Instant | None, bucket: int | None = None
) -> list[PlannedFile]:
    """The files that can hold the answer as of ``as_of`` (``None``: the current state).

    Segments whose range contains T are used, root to leaf, with every base on that path
    (a seed base may hold only some keys: a quarter's base need not repeat the keys its
    year's base holds) and every delta whose earliest event is at or before T; so are
    pending deltas. Tie priority follows knowledge (``seq``), then the seed's visiting
    order: deeper segments first, deltas by newest start, base last.
    """
    instant = MAX_INSTANT if as_of is None else as_of
    path: list[tuple[int, Segment]] = []
    _path(snapshot.segments, instant, 0, path)
    ranked: list[tuple[tuple[int, int, int, int], DataFile]] = []
    for depth, segment in path:
        if segment.tip and segment.tip_from is not None and instant >= segment.tip_from:
            # the tip holds every key's latest event of this segment and before
            ranked.extend(((f.seq, depth, 0, 0), f) for f in segment.tip)
            continue
        ranked.extend(((f.seq, depth, 0, 0), f) for f in segment.base)
        for delta in segment.deltas:
            if delta.may_hold_before(instant):
                ranked.append(((delta.seq, depth, 1, delta.start or 0), delta))
    for index, delta in enumerate(snapshot.deltas):  # later in the list wins within a seq
        if delta.may_hold_before(instant):
            ranked.append(((delta.seq, len(path) + 1, 1, index), delta))
    if bucket is not None:
        ranked = [(rank, f) for rank, f in ranked if f.bucket == bucket]
    ranked.sort(key=lambda item: item[0])
    return [PlannedFile(f, priority) for priority, (_, f) in enumerate(ranked)]


def rank_files(snapshot: Snapshot) -> list[PlannedFile]:
    """Every file of the snapshot with a priority consistent with :func:`plan_files` (for
    rewrites that read all of history, such as compaction)."""
    ranked: list[tuple[tuple[int, int, int, int], DataFile]] = []

    def visit(segments: tuple[Segment, ...], depth: int) -> None:
        for segment in segments:
            ranked.extend(((f.seq, depth, 0, 0), f) for f in segment.base)
            ranked.extend(((d.seq, depth, 1, d.start or 0), d) for d in segment.deltas)
            visit(segment.children, depth + 1)

    visit(snapshot.segments, 0)
    depth = 1 + max((len(list(s.walk())) for s in snapshot.segments), default=0)
    for index, delta in enumerate(snapshot.deltas):
        ranked.append(((delta.seq, depth, 1, index), delta))
    ranked.sort(key=lambda item: item[0])
    return [PlannedFile(f, priority) for priority, (_, f) in enumerate(ranked)]
