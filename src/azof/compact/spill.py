"""Compaction's input passes, in bounded memory.

A compaction reads the files it folds twice, a few files at a time: :func:`profile_inputs`
reads only keys and event times (the distinct keys give the bucket count, the rows per
period the leaves), then :func:`spill_inputs` reads every row once and files it under its
bucket and group of consecutive leaves in a :class:`Spill`. Each bucket then takes its
groups back one at a time, in time order. Memory is bounded by a few input files, the
spill's budget and the group being worked on, not by the table's history.

A :class:`Spill` holds rows in memory up to ``SPILL_BYTES`` (small inputs never touch the
disk), then writes them to uncompressed Arrow IPC files (fast, and short-lived: they take
about the events' in-memory size) in a new folder of the system's temporary directory
(``TMPDIR``), removed on :meth:`Spill.close`; only a killed process leaves it behind.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from azof.format import Snapshot
from azof.format.buckets import bucket_of_rows
from azof.format.keys import key_array
from azof.format.types import unit_nanos
from azof.scan.merge import PRIORITY
from azof.scan.plan import PlannedFile
from azof.scan.read import read_rows
from azof.storage import Storage
from azof.timestamps import Instant

__all__ = [
    "GROUP_ROWS",
    "READ_ROWS",
    "SPILL_BYTES",
    "InputProfile",
    "Spill",
    "leaf_groups",
    "profile_inputs",
    "read_groups",
    "spill_inputs",
    "spill_partitioner",
]

SPILL_BYTES = 64 * 1024 * 1024
"""Rows a :class:`Spill` holds in memory before writing them to disk (their Arrow size).
Inputs smaller than this are never spilled; 0 spills every addition (tests)."""

READ_ROWS = 512 * 1024
"""Rows of input files read at a time (consecutive files up to this many; a larger file
alone). Two such reads run ahead of the one being filed."""

GROUP_ROWS = 256 * 1024
"""Events of one bucket a worker holds at a time: consecutive leaves are grouped while
their rows per bucket add up to at most this many (a larger leaf is a group of its own)."""

_READERS = 2
_KEY_ROWS = 4 * 1024 * 1024
"""Keys gathered before they are folded into the distinct keys found so far."""

_T = TypeVar("_T")


def read_groups(planned: Sequence[PlannedFile]) -> list[list[PlannedFile]]:
    """The input files in consecutive groups of about ``READ_ROWS`` rows (a larger file
    alone), plan order: one read each."""
    groups: list[list[PlannedFile]] = []
    rows = READ_ROWS
    for item in planned:
        size = READ_ROWS if item.file.rows is None else item.file.rows
        if rows + size > READ_ROWS:
            groups.append([])
            rows = 0
        groups[-1].append(item)
        rows += size
    return groups


def _read_batches(
    storage: Storage,
    table: str,
    snapshot: Snapshot,
    planned: Sequence[PlannedFile],
    columns: list[str],
    prepare: Callable[[pa.Table], _T],
) -> Iterator[_T]:
    """``prepare`` of the rows of ``planned``, a few files at a time (about ``READ_ROWS``
    rows, plan order), read and prepared by worker threads ahead of the caller."""
    groups = read_groups(planned)

    def load(files: list[PlannedFile]) -> _T:
        return prepare(read_rows(storage, table, snapshot, files, columns))

    with ThreadPoolExecutor(max_workers=_READERS) as pool:
        ahead: deque[Future[_T]] = deque(pool.submit(load, g) for g in groups[:_READERS])
        following = iter(groups[_READERS:])
        while ahead:
            result = ahead.popleft().result()
            files = next(following, None)
            if files is not None:
                ahead.append(pool.submit(load, files))
            yield result
            del result


@dataclass(frozen=True)
class InputProfile:
    """What a pass over the keys and event times of input files found."""

    keys: int
    """Distinct keys (0 when not counted)."""
    periods: dict[Instant, int]
    """Rows per period of the leaf level, by its start."""


def profile_inputs(
    storage: Storage,
    table: str,
    snapshot: Snapshot,
    planned: Sequence[PlannedFile],
    level: str,
    count_keys: bool,
) -> InputProfile:
    """Count the distinct keys (when ``count_keys``) and the rows per ``level`` period of
    ``planned``, reading only keys and event times: memory is bounded by the keys."""
    dtype = snapshot.schema.event_time_type
    per_unit = unit_nanos(dtype)
    step = (3_600 if level == "hour" else 86_400) * 1_000_000_000 // per_unit  # in units

    def prepare(rows: pa.Table) -> tuple[list[int], list[int], pa.Array[Any] | None]:
        """Rows per day (hour: periods are whole days or hours) and the keys."""
        times = rows.column(snapshot.schema.event_time_name)
        floored = np.floor_divide(times.cast(pa.int64()).to_numpy(), step)
        counted = pc.value_counts(pa.array(floored))
        names = snapshot.schema.key_names
        keys = key_array(rows, names) if count_keys and rows.num_rows else None
        return counted.field(0).to_pylist(), counted.field(1).to_pylist(), keys

    bins: dict[int, int] = {}
    distinct: pa.Array[Any] | None = None
    gathered: list[pa.Array[Any]] = []
    for days, counts, keys in _read_batches(storage, table, snapshot, planned, [], prepare):
        for day, count in zip(days, counts, strict=True):
            bins[day] = bins.get(day, 0) + count
        if keys is not None:
            gathered.append(keys)
            held = len(distinct) if distinct is not None else 0
            if sum(map(len, gathered)) >= max(held, _KEY_ROWS):
                distinct = _union(distinct, gathered)
                gathered = []
    if gathered:
        distinct = _union(distinct, gathered)
    periods: dict[Instant, int] = {}
    if bins:
        ordered = list(bins)
        times = cast("pa.TimestampArray", pa.array(np.asarray(ordered) * step).cast(dtype))
        floored = pc.floor_temporal(times, unit=cast(Any, level), week_starts_monday=True)
        for start, day in zip(floored.cast(pa.int64()).to_pylist(), ordered, strict=True):
            instant = int(cast(int, start)) * per_unit
            periods[instant] = periods.get(instant, 0) + bins[day]
    return InputProfile(len(distinct) if distinct is not None else 0, periods)


def _union(distinct: pa.Array[Any] | None, gathered: list[pa.Array[Any]]) -> pa.Array[Any]:
    arrays = gathered if distinct is None else [distinct, *gathered]
    return pc.unique(pa.concat_arrays(arrays))


def leaf_groups(leaf_rows: list[int], buckets: int) -> list[tuple[int, int]]:
    """``(first leaf, end leaf)`` of each group: consecutive leaves whose rows per bucket
    add up to at most ``GROUP_ROWS`` (a larger leaf alone)."""
    bounds: list[tuple[int, int]] = []
    held = 0
    for index, rows in enumerate(leaf_rows):
        share = -(-rows // buckets)
        if not bounds or held + share > GROUP_ROWS:
            bounds.append((index, index))
            held = 0
        bounds[-1] = (bounds[-1][0], index + 1)
        held += share
    return bounds


def spill_partitioner(
    snapshot: Snapshot,
    planned: Sequence[PlannedFile],
    starts: list[Instant],
    groups: list[tuple[int, int]],
    buckets: int,
) -> Callable[[pa.Table], tuple[pa.Table, np.ndarray[Any, np.dtype[np.int64]]]]:
    """What files rows of ``planned`` (as :func:`read_rows` gives them) under: the rows and
    each row's partition ``bucket * len(groups) + group`` (the group of the leaf its event
    time falls in)."""
    per_unit = unit_nanos(snapshot.schema.event_time_type)
    time = snapshot.schema.event_time_name
    leaf_starts = np.asarray(starts, dtype=np.int64)
    group_of_leaf = np.zeros(len(starts), dtype=np.int64)
    for group, (low, high) in enumerate(groups):
        group_of_leaf[low:high] = group
    # the bucket of each file's rows, by priority: known, or -1 (split otherwise: hashed)
    known = np.full(max((p.priority for p in planned), default=0) + 1, -1, np.int64)
    for item in planned:
        if buckets == 1 or item.file.buckets == buckets:
            known[item.priority] = 0 if buckets == 1 else item.file.bucket

    def prepare(rows: pa.Table) -> tuple[pa.Table, np.ndarray[Any, np.dtype[np.int64]]]:
        instants = rows.column(time).cast(pa.int64()).to_numpy() * per_unit
        leaf = np.searchsorted(leaf_starts, instants, side="right") - 1
        bucket = known[rows.column(PRIORITY).to_numpy()]
        hashed = bucket < 0
        if hashed.any():
            chosen = rows.filter(pa.array(hashed))
            bucket[hashed] = bucket_of_rows(chosen, snapshot.schema.key_names, buckets)
        return rows, bucket * len(groups) + group_of_leaf[leaf]

    return prepare


def spill_inputs(
    storage: Storage,
    table: str,
    snapshot: Snapshot,
    planned: Sequence[PlannedFile],
    starts: list[Instant],
    groups: list[tuple[int, int]],
    buckets: int,
    spill: Spill,
) -> None:
    """Read every row of ``planned`` once and file it in ``spill`` under partition
    ``bucket * len(groups) + group`` (the group of the leaf its event time falls in)."""
    prepare = spill_partitioner(snapshot, planned, starts, groups, buckets)
    columns = [c.name for c in snapshot.schema.columns]
    for rows, part in _read_batches(storage, table, snapshot, planned, columns, prepare):
        spill.add(rows, part)


class Spill:
    """Rows in ``parts`` partitions: :meth:`add` files them, :meth:`take` gives a partition's
    rows back in the order they were added (once), from disk and memory.

    One thread adds; once adding is over, any threads may take distinct partitions.
    """

    def __init__(self, parts: int, budget: int | None = None) -> None:
        self.parts = parts
        self.budget = SPILL_BYTES if budget is None else budget
        self.spilled_bytes = 0
        self._held: dict[int, list[pa.Table]] = {}
        self._held_bytes = 0
        self._files: dict[int, list[Path]] = {}
        self._flushes = 0
        self._folder: Path | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> Spill:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def add(self, rows: pa.Table, part: np.ndarray[Any, np.dtype[np.int64]]) -> None:
        """File each row of ``rows`` under its partition (``part``, one per row), keeping
        the rows' order within every partition."""
        if rows.num_rows == 0:
            return
        order = np.argsort(part, kind="stable")
        counts = np.bincount(part, minlength=self.parts)
        starts = np.cumsum(counts) - counts
        ordered = rows.take(order)
        for index in np.flatnonzero(counts).tolist():
            piece = ordered.slice(int(starts[index]), int(counts[index]))
            self._held.setdefault(index, []).append(piece)
        self._held_bytes += ordered.nbytes
        if self._held_bytes > self.budget:
            self._flush()

    def _flush(self) -> None:
        """Write every held partition to a new file of its own and drop it from memory."""
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="azof-compact-"))
        flush = self._flushes
        self._flushes += 1
        for index, pieces in sorted(self._held.items()):
            path = self._folder / f"{index}-{flush}.arrow"
            with pa.OSFile(str(path), "wb") as sink:
                with pa.ipc.new_stream(sink, pieces[0].schema) as writer:
                    for piece in pieces:
                        writer.write_table(piece)
                self.spilled_bytes += sink.tell()
            self._files.setdefault(index, []).append(path)
        self._held.clear()
        self._held_bytes = 0

    def take(self, part: int) -> pa.Table | None:
        """The rows added to ``part``, in order (``None`` if none); they are released."""
        with self._lock:
            paths = self._files.pop(part, [])
            held = self._held.pop(part, [])
        pieces = []
        for path in paths:
            with pa.OSFile(str(path), "rb") as source:
                pieces.append(pa.ipc.open_stream(source).read_all())
            path.unlink()
        pieces.extend(held)
        if not pieces:
            return None
        return pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces)

    def close(self) -> None:
        """Release every partition not taken and remove the spill's files."""
        self._held.clear()
        self._files.clear()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
