"""Reading the planned files of a snapshot and merging them into the as-of answer."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from azof.errors import CorruptTableError, InvalidArgumentError
from azof.format.buckets import split_by_bucket
from azof.format.evolution import default_scalar
from azof.format.schema import TOMBSTONE, TableSchema
from azof.format.snapshot import DataFile, Snapshot
from azof.format.types import unit_nanos
from azof.scan.columns import FileColumns, file_columns, renamed_fixed
from azof.scan.merge import PRIORITY, drop_tombstones, merge_latest, merge_sorted_runs
from azof.scan.plan import PlannedFile, plan_files
from azof.scan.prune import ruled_out_by_key_range
from azof.scan.request import ScanMetrics, ScanRequest, instant_scalar, references_only
from azof.storage import ReadCounter, Storage, refuse_links_out
from azof.tablelog import snapshot_name
from azof.timestamps import as_of_units

__all__ = [
    "BucketReader",
    "PreparedScan",
    "ScanMetrics",
    "ScanRequest",
    "bucket_work",
    "execute_scan",
    "instant_scalar",
    "open_fragment",
    "plan_request",
    "read_rows",
    "references_only",
    "split_plan",
]


REMOTE_IO_THREADS = 32
"""Footers of a bucket's files on an object store read at once (one round trip, not many)."""
WHOLE_FILE_BYTES = 1 << 20
"""Data files on an object store up to this size are read whole, in one request, where a
larger one costs a request for its footer and then requests for its data: a small file
spares a round trip, and a read needs most of its bytes anyway."""
REMOTE_BUCKET_THREADS = 8
"""Buckets read at once on an object store (their requests overlap; CPU work still shares
Arrow's pool)."""
SERIAL_ROWS = 262_144
"""Planned rows below which a local read merges its buckets one after the other."""


def _value_columns(table: str, schema: TableSchema, request: ScanRequest) -> list[str]:
    value_names = [c.name for c in schema.columns]
    if request.columns is None:
        return value_names
    unknown = [c for c in request.columns if c not in schema.names]
    if unknown:
        raise InvalidArgumentError(
            f"table {table!r} has no column(s) {', '.join(map(repr, unknown))}; it has "
            f"{', '.join(schema.names)}"
        )
    wanted = {c for c in request.columns if c in value_names}
    if request.filter is not None:
        partial = pa.schema(
            [schema.field(n) for n in schema.names if n in wanted or n in schema.fixed_names]
        )
        if not references_only(request.filter, partial):
            wanted = set(value_names)
    return [n for n in value_names if n in wanted]


def _arrow_owned(data: bytes) -> pa.Buffer:
    """``data`` copied into Arrow's memory. A buffer over the Python bytes would make the
    Arrow thread that frees it take the GIL, which ends the process with SIGABRT when that
    happens while the interpreter finalizes (see :mod:`azof.storage.arrowfs`)."""
    out = pa.BufferOutputStream()
    out.write(data)
    return out.getvalue()


def open_fragment(
    table: str,
    data_file: DataFile,
    filesystem: Any,
    partition_expression: pc.Expression | None = None,
    *,
    version: int | None = None,
    trust_size: bool = False,
    read_whole: Callable[[str], bytes] | None = None,
) -> ds.ParquetFileFragment:
    """A data file as a Parquet fragment with its footer read (a missing or unreadable file
    is a :class:`CorruptTableError`, naming snapshot ``version`` when given). With
    ``trust_size`` the record's ``size`` is taken as the file's, which saves an object
    store a request for it. With ``read_whole``, a file of at most
    :data:`WHOLE_FILE_BYTES` is read whole by it at once: its footer and its data in one
    request, not in two one after the other."""
    refuse_links_out(filesystem, data_file.file)
    size = data_file.size
    whole = size is not None and size <= WHOLE_FILE_BYTES
    named = f"{snapshot_name(version)} names " if version is not None else ""
    try:
        fmt = ds.ParquetFileFormat()
        if read_whole is not None and whole:
            held: Any = _arrow_owned(read_whole(data_file.file))  # a Buffer: read natively
            fragment = fmt.make_fragment(held, partition_expression=partition_expression)
        else:
            fragment = fmt.make_fragment(
                data_file.file,
                filesystem,
                partition_expression=partition_expression,
                file_size=size if trust_size else None,
            )
        assert isinstance(fragment, ds.ParquetFileFragment)
        fragment.ensure_complete_metadata()
    except FileNotFoundError:
        raise CorruptTableError(
            f"table {table!r}: {named}data file {data_file.file}, which is missing; restore "
            "it or read an older version"
        ) from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise CorruptTableError(
            f"table {table!r}: {named}data file {data_file.file}, which is not readable "
            f"Parquet ({exc})"
        ) from None
    return fragment


@dataclass
class _Group:
    """Consecutive planned files whose requested columns lie alike: one dataset."""

    columns: FileColumns
    fragments: list[ds.Fragment] = field(default_factory=list)


def _fragments(
    table: str,
    snapshot: Snapshot,
    planned: Sequence[PlannedFile],
    columns: list[str],
    condition: pc.Expression | None,
    filesystem: Any,
    metrics: ScanMetrics,
    *,
    count_bytes: bool = False,
    remote: bool = False,
    read_whole: Callable[[str], bytes] | None = None,
) -> list[_Group]:
    """The planned files' fragments (row groups pruned by ``condition``), checked against
    the schema and grouped, in plan order, by where the requested columns lie in them.

    The files read (not those pruned) go to ``metrics.files``; with ``count_bytes`` (local
    disk and native remote reads, where no bridge counts them) the compressed bytes of the
    column chunks read go to ``metrics.bytes_read``. Footers of ``remote`` files are read
    concurrently; ``read_whole`` reads the small ones whole (see :func:`open_fragment`)."""
    wanted = set(columns)
    groups: list[_Group] = []
    ruled_out = ruled_out_by_key_range(snapshot, planned, condition, filesystem)
    kept_items = [item for item in planned if item.file.file not in ruled_out]

    def open_item(item: PlannedFile) -> ds.ParquetFileFragment:
        return open_fragment(
            table,
            item.file,
            filesystem,
            pc.field(PRIORITY) == pa.scalar(item.priority, pa.int32()),
            version=snapshot.version,
            trust_size=remote,
            read_whole=read_whole,
        )

    if remote and len(kept_items) > 1:  # footers of remote files: one round trip, not one each
        with ThreadPoolExecutor(max_workers=min(len(kept_items), REMOTE_IO_THREADS)) as pool:
            fragments = list(pool.map(open_item, kept_items))
    else:
        fragments = [open_item(item) for item in kept_items]
    for item, fragment in zip(kept_items, fragments, strict=True):
        located = file_columns(table, snapshot.schema, item.file, fragment.physical_schema)
        fixed = snapshot.schema.fixed_names
        located = tuple((name, found) for name, found in located if name in wanted or name in fixed)
        metrics.row_groups_total += fragment.num_row_groups
        prune = condition is not None and not renamed_fixed(located, fixed)
        kept = fragment.split_by_row_group(condition) if prune else [fragment]
        if not prune:
            metrics.row_groups_read += fragment.num_row_groups
        else:
            metrics.row_groups_read += len(kept)
        if not kept:
            continue
        metrics.files_read += 1
        metrics.files.append(item.file.file)
        if count_bytes:
            stored = {found for _name, found in located if found is not None}  # keys too
            stored.add(TOMBSTONE)
            metrics.bytes_read += sum(_chunk_bytes(part, stored) for part in kept)
        if not groups or groups[-1].columns != located:
            groups.append(_Group(located))
        groups[-1].fragments.extend(kept)
    return groups


def _chunk_bytes(fragment: ds.Fragment, columns: set[str]) -> int:
    """Compressed bytes of the chunks of ``columns`` in the row groups ``fragment`` reads."""
    assert isinstance(fragment, ds.ParquetFileFragment)
    metadata = fragment.metadata
    total = 0
    for group in fragment.row_groups:
        row_group = metadata.row_group(group.id)
        for index in range(row_group.num_columns):
            chunk = row_group.column(index)
            if chunk.path_in_schema.split(".")[0] in columns:
                total += chunk.total_compressed_size
    return total


def _read_group(
    schema: TableSchema,
    group: _Group,
    condition: pc.Expression | None,
    filesystem: Any,
    out: pa.Schema,
) -> pa.Table:
    """The rows of one group as ``out`` (the table's names and types): a column the files
    lack reads as its default, a renamed one is read under its stored name, and a narrower
    stored type is cast to the declared one."""
    fmt = ds.ParquetFileFormat()
    if condition is not None and renamed_fixed(group.columns, schema.fixed_names):
        # the condition names the key and event time as they are called now: filter the
        # rows once they carry those names (files written before a rename)
        return _read_group(schema, group, None, filesystem, out).filter(condition)
    if all(found == name for name, found in group.columns):  # every column under its name
        return ds.FileSystemDataset(group.fragments, out, fmt, filesystem).to_table(
            filter=condition
        )
    fields = []
    projection: dict[str, pc.Expression] = {}
    for name, found in group.columns:
        fixed = schema.fixed_column(name)
        if fixed is not None:
            assert found is not None
            fields.append(pa.field(found, fixed.type))
            projection[name] = pc.field(found)
            continue
        column = schema.column(name)
        assert column is not None
        if found is None:
            projection[name] = pc.scalar(default_scalar(column))  # type: ignore[arg-type]
        else:
            fields.append(pa.field(found, column.type))
            projection[name] = pc.field(found)
    fields += [pa.field(TOMBSTONE, pa.bool_()), pa.field(PRIORITY, pa.int32())]
    projection[TOMBSTONE] = pc.field(TOMBSTONE)
    projection[PRIORITY] = pc.field(PRIORITY)
    dataset = ds.FileSystemDataset(group.fragments, pa.schema(fields), fmt, filesystem)
    rows = dataset.to_table(columns=projection, filter=condition)
    if rows.schema != out:  # same types; only nullability differs (tombstones hold nulls)
        rows = pa.Table.from_arrays(rows.columns, schema=out)
    return rows


def read_rows(
    storage: Storage,
    table: str,
    snapshot: Snapshot,
    planned: Sequence[PlannedFile],
    columns: list[str],
    condition: pc.Expression | None = None,
    metrics: ScanMetrics | None = None,
    *,
    filter_rows: bool = True,
) -> pa.Table:
    """Rows of the planned files (``key``, ``event_time``, ``columns``, tombstone flag and
    ``_azof_priority``), checked against the schema; ``condition`` prunes files and row
    groups, and filters rows unless ``filter_rows`` is false (the caller then filters them
    and counts ``metrics.rows_read``).

    Columns are found by field id (files written under older schemas read under the
    snapshot's: renamed, widened, added columns read as their default). Each file's rows
    stay together and files keep the plan's order.
    """
    metrics = metrics if metrics is not None else ScanMetrics()
    counter = ReadCounter() if not storage.is_local else None
    schema = snapshot.schema
    out = pa.schema(
        [
            *(schema.field(name) for name in schema.fixed_names),
            *(schema.field(name) for name in columns),
            pa.field(TOMBSTONE, pa.bool_()),
            pa.field(PRIORITY, pa.int32()),
        ]
    )
    filesystem = storage.arrow_filesystem(counter)
    count_bytes = counter is None or storage.native_reads  # no bridge counts them

    def read_whole(path: str) -> bytes:
        data = storage.read(path)
        if counter is not None and not count_bytes:  # as the bridge counts what it fetches
            counter.add(files=1, nbytes=len(data))
        return data

    groups = _fragments(
        table,
        snapshot,
        planned,
        columns,
        condition,
        filesystem,
        metrics,
        count_bytes=count_bytes,
        remote=not storage.is_local,
        read_whole=None if storage.is_local else read_whole,
    )
    try:
        row_filter = condition if filter_rows else None
        parts = [_read_group(schema, g, row_filter, filesystem, out) for g in groups]
    except FileNotFoundError as exc:
        raise CorruptTableError(f"table {table!r}: a data file is missing ({exc})") from None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OSError) as exc:
        raise CorruptTableError(f"table {table!r}: cannot read data files ({exc})") from None
    if not parts:
        raw = out.empty_table()
    else:
        raw = parts[0] if len(parts) == 1 else pa.concat_tables(parts)
    _refuse_null_keys(table, raw, planned, schema.fixed_names)
    if filter_rows:
        metrics.rows_read += raw.num_rows
    if counter is not None:
        metrics.bytes_read += counter.bytes_read
    return raw


def _refuse_null_keys(
    table: str, raw: pa.Table, planned: Sequence[PlannedFile], names: Sequence[str]
) -> None:
    """A ``CorruptTableError`` naming the file and column if rows read hold a null key or
    event time (the merge and every writer rely on both being set)."""
    for name in names:
        column = raw.column(name)
        if column.null_count:
            priority = raw.filter(pc.is_null(column)).column(PRIORITY)[0].as_py()
            path = next((p.file.file for p in planned if p.priority == priority), "?")
            raise CorruptTableError(
                f"table {table!r}: data file {path} column {name!r} holds nulls (every row "
                "needs a key and an event time); run table.verify() and restore the file or "
                "read another version"
            )


@dataclass(frozen=True)
class PreparedScan:
    """A request made ready to read: the value columns to read, the row condition (as-of
    time and pushed-down key filter) and the answer's column names."""

    request: ScanRequest
    columns: list[str]
    condition: pc.Expression | None
    out_names: list[str]


def _prepare(table: str, snapshot: Snapshot, request: ScanRequest) -> PreparedScan:
    schema = snapshot.schema
    columns = _value_columns(table, schema, request)
    if request.as_of is not None:  # plan with the time the row filter uses: clamped, floored
        per_unit = unit_nanos(schema.event_time_type)
        request = replace(request, as_of=as_of_units(request.as_of, per_unit) * per_unit)
    condition: pc.Expression | None = None
    if request.as_of is not None:
        condition = pc.field(schema.event_time_name) <= instant_scalar(
            request.as_of, schema.event_time_type
        )
    if request.key_filter is not None:
        condition = request.key_filter if condition is None else condition & request.key_filter
    out_names = list(request.columns) if request.columns is not None else schema.names
    return PreparedScan(request, columns, condition, out_names)


def split_plan(
    snapshot: Snapshot, planned: Sequence[PlannedFile]
) -> tuple[list[list[PlannedFile]], list[PlannedFile]]:
    """The planned files per bucket of the snapshot, and the files split otherwise (seed
    files, or files written before the bucket count changed), whose rows every bucket
    takes its share of."""
    buckets = snapshot.buckets
    per_bucket: list[list[PlannedFile]] = [[] for _ in range(buckets)]
    shared: list[PlannedFile] = []
    for item in planned:
        if buckets == 1:
            per_bucket[0].append(item)
        elif item.file.buckets == buckets:
            per_bucket[item.file.bucket].append(item)
        else:
            shared.append(item)
    return per_bucket, shared


def _finish(merged: pa.Table, snapshot: Snapshot, prepared: PreparedScan) -> pa.Table:
    request = prepared.request
    merged = drop_tombstones(merged)
    if request.min_event_time is not None:
        merged = merged.filter(
            pc.field(snapshot.schema.event_time_name)
            >= instant_scalar(request.min_event_time, snapshot.schema.event_time_type)
        )
    if request.filter is not None:
        try:
            merged = merged.filter(request.filter)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise InvalidArgumentError(
                f"filter {request.filter} cannot be applied: {exc}"
            ) from None
    return merged.select(prepared.out_names)


class BucketReader:
    """Reads and merges one bucket at a time; shared rows are read once, on first need."""

    def __init__(
        self,
        storage: Storage,
        table: str,
        snapshot: Snapshot,
        prepared: PreparedScan,
        shared: list[PlannedFile],
        metrics: ScanMetrics,
    ) -> None:
        self.storage, self.table, self.snapshot = storage, table, snapshot
        self.prepared, self.shared, self.metrics = prepared, shared, metrics
        self._shared_rows: list[pa.Table] | None = None
        self._lock = threading.Lock()

    def _shared_part(self, bucket: int) -> pa.Table | None:
        if not self.shared:
            return None
        with self._lock:
            if self._shared_rows is None:
                rows = read_rows(
                    self.storage,
                    self.table,
                    self.snapshot,
                    self.shared,
                    self.prepared.columns,
                    self.prepared.condition,
                    self.metrics,
                )
                self._shared_rows = split_by_bucket(
                    rows, self.snapshot.buckets, self.snapshot.schema.key_names
                )
            return self._shared_rows[bucket]

    def merged(
        self, bucket: int, planned: list[PlannedFile], key_range: pc.Expression | None = None
    ) -> pa.Table:
        """The answer of one bucket, sorted by key. ``key_range``, a condition on ``key``
        alone, restricts it to those keys (it selects whole keys, so it keeps the answer);
        it is for buckets without shared files."""
        metrics = ScanMetrics()
        parts = []
        condition = self.prepared.condition
        if key_range is not None:
            assert not self.shared, "key ranges are for buckets without shared files"
            condition = key_range if condition is None else condition & key_range
        runs = all(p.file.sorted for p in (*planned, *self.shared))
        schema, request = self.snapshot.schema, self.prepared.request
        # an as-of time alone: the merge leaves the later rows out of sorted runs, cheaper
        # than filtering every column first (the condition still prunes by statistics)
        up_to = None
        if runs and condition is not None and key_range is None and request.key_filter is None:
            assert request.as_of is not None  # the condition holds the as-of time only
            up_to = as_of_units(request.as_of, unit_nanos(schema.event_time_type))
        if planned:
            rows = read_rows(
                self.storage,
                self.table,
                self.snapshot,
                planned,
                self.prepared.columns,
                condition,
                metrics,
                filter_rows=up_to is None,
            )
            if up_to is not None:
                times = rows.column(schema.event_time_name).cast(pa.int64()).to_numpy()
                metrics.rows_read += int(np.count_nonzero(times <= up_to))
            parts.append(rows)
        shared = self._shared_part(bucket)
        if shared is not None:
            parts.append(shared)
        with self._lock:
            self.metrics.add(metrics)
        if not parts:
            return schema.to_arrow().empty_table().select(self.prepared.out_names)
        raw = parts[0] if len(parts) == 1 else pa.concat_tables(parts)
        names, time = schema.key_names, schema.event_time_name
        if runs:
            merged = merge_sorted_runs(raw, names, time, up_to)
        else:
            merged = merge_latest(raw, names, time)
        return _finish(merged, self.snapshot, self.prepared)


def bucket_work(
    storage: Storage,
    table: str,
    snapshot: Snapshot,
    request: ScanRequest,
    metrics: ScanMetrics,
) -> tuple[BucketReader, list[tuple[int, list[PlannedFile]]], PreparedScan]:
    """The reader and the (bucket, files) to merge for a request (the buckets asked for that
    can hold rows)."""
    prepared = _prepare(table, snapshot, request)
    planned = plan_files(snapshot, prepared.request.as_of)
    metrics.files_planned = len(planned)
    per_bucket, shared = split_plan(snapshot, planned)
    work = [
        (bucket, files)
        for bucket, files in enumerate(per_bucket)
        if (files or shared) and request.bucket in (None, bucket)
    ]
    return BucketReader(storage, table, snapshot, prepared, shared, metrics), work, prepared


def execute_scan(
    storage: Storage,
    table: str,
    snapshot: Snapshot,
    request: ScanRequest,
    metrics: ScanMetrics | None = None,
) -> pa.Table:
    """The as-of answer of ``request`` over ``snapshot`` as one Arrow table (buckets are
    merged in parallel; within a bucket rows are sorted by key)."""
    metrics = metrics if metrics is not None else ScanMetrics()
    reader, work, prepared = bucket_work(storage, table, snapshot, request, metrics)
    if not work:
        return snapshot.schema.to_arrow().empty_table().select(prepared.out_names)
    planned = [item for _, files in work for item in files] + reader.shared
    planned_rows = sum(item.file.rows or SERIAL_ROWS for item in planned)
    if len(work) == 1 or (storage.is_local and planned_rows < SERIAL_ROWS):
        # a small read: threads would cost more than they save (Arrow's own pool still
        # decodes each bucket's files in parallel)
        parts = [reader.merged(*item) for item in work]
    else:
        # buckets wait on the network more than on the CPU on object stores
        workers = os.cpu_count() or 1
        if not storage.is_local:
            workers = max(workers, REMOTE_BUCKET_THREADS)
        with ThreadPoolExecutor(max_workers=min(len(work), workers)) as pool:
            parts = list(pool.map(lambda item: reader.merged(*item), work))
    result = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    metrics.rows_out = result.num_rows
    return result


def plan_request(storage: Storage, snapshot: Snapshot, request: ScanRequest) -> list[PlannedFile]:
    """The files a read of ``request`` opens, in priority order: those :func:`plan_files`
    plans for its as-of time, in the bucket asked for, less those that the pushed key
    filter rules out by their records' key bounds (no I/O)."""
    prepared = _prepare("", snapshot, replace(request, columns=None, filter=None))
    planned = plan_files(snapshot, prepared.request.as_of)
    if request.bucket is not None:
        per_bucket, shared = split_plan(snapshot, planned)
        kept = {id(item) for item in (*per_bucket[request.bucket], *shared)}
        planned = [item for item in planned if id(item) in kept]
    ruled_out = ruled_out_by_key_range(
        snapshot, planned, prepared.condition, storage.arrow_filesystem()
    )
    return [item for item in planned if item.file.file not in ruled_out]
