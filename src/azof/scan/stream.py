"""Streaming scans: the as-of answer one bucket at a time, and a large bucket one key range
at a time, so that memory is bounded by a setting (``merge_rows``), not by the table.

A bucket whose planned files are all sorted (by key, then event time) is cut into key
ranges: every file's rows in a range are still a sorted run, and a range holds every row of
its keys, so merging range by range, in ascending key order, gives the bucket's answer in
the same order. The cuts come from Parquet row-group statistics (the least key of each row
group), so choosing them reads footers only.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any, TypeAlias, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from azof.errors import InvalidArgumentError
from azof.format.schema import KEY
from azof.format.snapshot import Snapshot
from azof.scan.plan import PlannedFile
from azof.scan.read import BucketReader, ScanMetrics, ScanRequest, bucket_work, open_fragment
from azof.storage import Storage

__all__ = [
    "MERGE_ROWS",
    "check_merge_rows",
    "iter_scan",
    "key_bounds",
    "range_condition",
    "record_batches",
]

MERGE_ROWS = 1_000_000
"""The default of ``merge_rows``: about the most rows read for one merge step of a stream."""


def check_merge_rows(merge_rows: object) -> int:
    """``merge_rows``, checked: a whole number >= 1."""
    if isinstance(merge_rows, bool) or not isinstance(merge_rows, int) or merge_rows < 1:
        raise InvalidArgumentError(
            f"merge_rows must be a whole number >= 1 (the most rows merged at once), "
            f"not {merge_rows!r}"
        )
    return merge_rows


def iter_scan(
    storage: Storage,
    table: str,
    snapshot: Snapshot,
    request: ScanRequest,
    metrics: ScanMetrics | None = None,
    *,
    merge_rows: int = MERGE_ROWS,
) -> Iterator[pa.Table]:
    """The as-of answer in parts: bucket by bucket, each bucket in ascending key order, and
    a bucket of more than ``merge_rows`` planned rows in key ranges of about that many rows
    each (see :func:`key_bounds`), so memory does not grow with the table."""
    check_merge_rows(merge_rows)
    metrics = metrics if metrics is not None else ScanMetrics()
    reader, work, _ = bucket_work(storage, table, snapshot, request, metrics)
    return _parts(reader, work, merge_rows, metrics)


def record_batches(
    parts: Iterator[pa.Table], schema: pa.Schema, batch_size: int
) -> Iterator[pa.RecordBatch]:
    """The parts of a stream as record batches of ``schema`` (nullability aside, the parts
    have its types) of at most ``batch_size`` rows; no part is held while the next one is
    merged."""
    for part in parts:
        if part.schema != schema:
            part = part.cast(schema)
        chunks = part.to_batches(max_chunksize=batch_size)
        del part
        yield from chunks
        del chunks


Bound: TypeAlias = "pa.Scalar[Any] | None"
"""A range's end: a key of the table's key type, or ``None`` (unbounded)."""


def _parts(
    reader: BucketReader,
    work: list[tuple[int, list[PlannedFile]]],
    merge_rows: int,
    metrics: ScanMetrics,
) -> Iterator[pa.Table]:
    for bucket, files in work:
        for low, high in _bucket_ranges(reader, files, merge_rows):
            if low is None and high is None:
                part = reader.merged(bucket, files)
            else:
                inside = [item for item in files if _may_overlap(item, low, high)]
                key = reader.snapshot.schema.key_names[0]
                part = reader.merged(bucket, inside, range_condition(low, high, key))
            metrics.rows_out += part.num_rows
            yield part
            del part  # not held while the next range is merged
            # hand the freed buffers back to the system: the allocator (mimalloc in
            # pyarrow's wheels) would otherwise keep them and the peak grow with the table
            pa.default_memory_pool().release_unused()


def _bucket_ranges(
    reader: BucketReader, files: list[PlannedFile], merge_rows: int
) -> list[tuple[Bound, Bound]]:
    """The key ranges ``[low, high)`` to merge a bucket in: one, unbounded (the whole
    bucket), unless it may be cut (every file sorted, no shared files) and its files hold
    more than ``merge_rows`` rows."""
    key = reader.snapshot.schema.keys
    if reader.shared or not all(item.file.sorted for item in files):
        return [(None, None)]
    time = reader.snapshot.schema.time
    if len(key) > 1 or key[0].renames or time.renames:  # one key column under one name
        return [(None, None)]
    if sum(item.file.rows or 0 for item in files) <= merge_rows:
        return [(None, None)]
    bounds = key_bounds(
        reader.storage,
        reader.table,
        files,
        key[0].type,
        reader.prepared.condition,
        merge_rows,
        version=reader.snapshot.version,
        key=key[0].name,
    )
    edges: list[Bound] = [None, *bounds, None]
    return list(itertools.pairwise(edges))


def _may_overlap(item: PlannedFile, low: Bound, high: Bound) -> bool:
    """Whether a file's keys (its record's ``min_key``/``max_key``) reach into
    ``[low, high)``; a file that need not be opened for a range is left out of it."""
    least, greatest = item.file.min_key, item.file.max_key
    if least is None or greatest is None:
        return True
    try:
        return (high is None or least < high.as_py()) and (low is None or greatest >= low.as_py())
    except TypeError:  # a record whose keys are not of the key's kind: open it
        return True


def key_bounds(
    storage: Storage,
    table: str,
    planned: Sequence[PlannedFile],
    key_type: pa.DataType,
    condition: pc.Expression | None,
    merge_rows: int,
    *,
    version: int | None = None,
    key: str = KEY,
) -> list[pa.Scalar[Any]]:
    """Ascending keys (of ``key_type``) that cut the rows of ``planned`` into ranges of
    about ``merge_rows`` rows, from row-group statistics (footers only).

    Every row group that ``condition`` does not prune counts its rows at its least key.
    Walking those keys in order, a range is cut before a row group that would take it over
    ``merge_rows`` rows, except at the first row group of a file: a file's least key is
    usually near the bucket's (a delta spans the key space), and a cut there would only
    read its neighbours twice. So ranges are no finer than row groups (azof writes 131,072
    rows per group): a range holds at least one row group of the largest files. Any cuts
    give the right answer; these only decide how much is merged at once.
    """
    filesystem = storage.arrow_filesystem()
    starts: list[tuple[Any, int, bool]] = []  # (least key, rows, may cut) per row group
    for item in planned:
        fragment = open_fragment(table, item.file, filesystem, version=version)
        metadata = fragment.metadata
        if metadata.num_row_groups == 0:
            continue
        first = metadata.row_group(0)
        column = next(
            (i for i in range(first.num_columns) if first.column(i).path_in_schema == key), None
        )
        if column is None:
            continue  # no key column: reading the file reports it
        if condition is None:
            groups: Sequence[int] = range(metadata.num_row_groups)
        else:
            pieces = fragment.split_by_row_group(condition)
            groups = [cast(ds.ParquetFileFragment, piece).row_groups[0].id for piece in pieces]
        for position, index in enumerate(groups):
            group = metadata.row_group(index)
            stats = group.column(column).statistics
            if stats is not None and stats.has_min_max:
                starts.append((stats.min, group.num_rows, position > 0))
    starts.sort(key=lambda start: start[0])
    bounds: list[Any] = []
    held = 0
    for least, rows, may_cut in starts:
        floor = bounds[-1] if bounds else starts[0][0]
        if may_cut and held and held + rows > merge_rows and least > floor:
            bounds.append(least)
            held = 0
        held += rows
    return [pa.scalar(bound, type=key_type) for bound in bounds]


def range_condition(low: Bound, high: Bound, key: str = KEY) -> pc.Expression:
    """``low <= key < high`` (an unbounded end drops its half; not both), ``key`` the key
    column's name."""
    above = None if low is None else pc.field(key) >= low
    below = None if high is None else pc.field(key) < high
    if above is None:
        assert below is not None, "a key range has at least one bound"
        return below
    return above if below is None else above & below
