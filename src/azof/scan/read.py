"""Reading the planned files of a snapshot and merging them into the as-of answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from azof.errors import CorruptTableError, InvalidArgumentError
from azof.format.schema import EVENT_TIME, KEY, TOMBSTONE, TableSchema
from azof.format.snapshot import Snapshot
from azof.format.types import types_compatible, unit_nanos
from azof.scan.merge import PRIORITY, drop_tombstones, merge_latest
from azof.scan.plan import PlannedFile, plan_files
from azof.storage import ReadCounter, Storage
from azof.timestamps import Instant

__all__ = [
    "ScanMetrics",
    "ScanRequest",
    "execute_scan",
    "instant_scalar",
    "read_rows",
    "references_only",
]


@dataclass(frozen=True)
class ScanRequest:
    """What to read: as of when, which columns, and which filters.

    ``key_filter`` may only reference ``key`` and is applied before the merge (it selects
    whole keys, so it prunes files and row groups safely); ``filter`` is applied to the
    merged answer.
    """

    as_of: Instant | None = None
    columns: tuple[str, ...] | None = None
    filter: pc.Expression | None = None
    key_filter: pc.Expression | None = None
    min_event_time: Instant | None = None


@dataclass
class ScanMetrics:
    """What a scan touched: counted for tests, ``explain`` and benchmarks."""

    files_planned: int = 0
    files_read: int = 0
    row_groups_read: int = 0
    row_groups_total: int = 0
    rows_read: int = 0
    rows_out: int = 0
    bytes_read: int = 0
    files: list[str] = field(default_factory=list)


def instant_scalar(instant: Instant, dtype: pa.DataType) -> pa.Scalar[Any]:
    """``instant`` as a scalar of a timestamp type, rounded down to its unit."""
    return pa.scalar(instant // unit_nanos(dtype), type=dtype)


def references_only(expression: pc.Expression, schema: pa.Schema) -> bool:
    """Whether ``expression`` binds against ``schema`` (references no other field)."""
    try:
        ds.dataset(schema.empty_table()).to_table(filter=expression)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return False
    return True


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
            [schema.field(n) for n in schema.names if n in wanted or n in (KEY, EVENT_TIME)]
        )
        if not references_only(request.filter, partial):
            wanted = set(value_names)
    return [n for n in value_names if n in wanted]


def _check_file_schema(table: str, schema: TableSchema, path: str, physical: pa.Schema) -> None:
    for name in schema.names:
        declared = schema.field(name).type
        index = physical.get_field_index(name)
        if index < 0:
            raise CorruptTableError(
                f"table {table!r}: data file {path} has no column {name!r} that the schema "
                f"declares ({declared}); the file does not belong to this table"
            )
        found = physical.field(index).type
        if not types_compatible(declared, found):
            raise CorruptTableError(
                f"table {table!r}: data file {path} column {name!r} is {found}, but the "
                f"schema declares {declared}"
            )


def _dataset(
    storage: Storage,
    table: str,
    snapshot: Snapshot,
    planned: Sequence[PlannedFile],
    columns: list[str],
    condition: pc.Expression | None,
    counter: ReadCounter | None,
    metrics: ScanMetrics,
) -> ds.Dataset:
    schema = snapshot.schema
    filesystem = storage.arrow_filesystem(counter)
    fmt = ds.ParquetFileFormat()
    fragments: list[ds.Fragment] = []
    for item in planned:
        fragment = fmt.make_fragment(
            item.file.file,
            filesystem,
            partition_expression=pc.field(PRIORITY) == pa.scalar(item.priority, pa.int32()),
        )
        assert isinstance(fragment, ds.ParquetFileFragment)
        try:
            physical = fragment.physical_schema
        except FileNotFoundError:
            raise CorruptTableError(
                f"table {table!r}: data file {item.file.file} is missing; restore it or "
                "read an older version"
            ) from None
        except (pa.ArrowInvalid, OSError) as exc:
            raise CorruptTableError(
                f"table {table!r}: data file {item.file.file} is not readable Parquet ({exc})"
            ) from None
        _check_file_schema(table, schema, item.file.file, physical)
        metrics.row_groups_total += fragment.num_row_groups
        kept = fragment.split_by_row_group(condition) if condition is not None else [fragment]
        if condition is None:
            metrics.row_groups_read += fragment.num_row_groups
        else:
            metrics.row_groups_read += len(kept)
        if kept:
            metrics.files_read += 1
        fragments.extend(kept)
    fields = [schema.field(KEY), schema.field(EVENT_TIME)]
    fields += [schema.field(name) for name in columns]
    fields += [pa.field(TOMBSTONE, pa.bool_()), pa.field(PRIORITY, pa.int32())]
    return ds.FileSystemDataset(fragments, pa.schema(fields), fmt, filesystem)


def read_rows(
    storage: Storage,
    table: str,
    snapshot: Snapshot,
    planned: Sequence[PlannedFile],
    columns: list[str],
    condition: pc.Expression | None = None,
    metrics: ScanMetrics | None = None,
) -> pa.Table:
    """Rows of the planned files (``key``, ``event_time``, ``columns``, tombstone flag and
    ``_azof_priority``), checked against the schema; ``condition`` prunes and filters."""
    metrics = metrics if metrics is not None else ScanMetrics()
    counter = ReadCounter() if not storage.is_local else None
    dataset = _dataset(storage, table, snapshot, planned, columns, condition, counter, metrics)
    try:
        raw = dataset.to_table(filter=condition)
    except FileNotFoundError as exc:
        raise CorruptTableError(f"table {table!r}: a data file is missing ({exc})") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise CorruptTableError(f"table {table!r}: cannot read data files ({exc})") from None
    metrics.files = [p.file.file for p in planned]
    metrics.rows_read += raw.num_rows
    if counter is not None:
        metrics.bytes_read += counter.bytes_read
    return raw


def execute_scan(
    storage: Storage,
    table: str,
    snapshot: Snapshot,
    request: ScanRequest,
    metrics: ScanMetrics | None = None,
) -> pa.Table:
    """The as-of answer of ``request`` over ``snapshot`` as one Arrow table."""
    schema = snapshot.schema
    metrics = metrics if metrics is not None else ScanMetrics()
    columns = _value_columns(table, schema, request)
    if request.as_of is not None:  # plan with the time the row filter uses: floored to the unit
        per_unit = unit_nanos(schema.event_time_type)
        request = replace(request, as_of=request.as_of // per_unit * per_unit)
    planned = plan_files(snapshot, request.as_of)
    metrics.files_planned = len(planned)
    out_names = list(request.columns) if request.columns is not None else schema.names
    if not planned:
        return schema.to_arrow().empty_table().select(out_names)
    condition: pc.Expression | None = None
    if request.as_of is not None:
        condition = pc.field(EVENT_TIME) <= instant_scalar(request.as_of, schema.event_time_type)
    if request.key_filter is not None:
        condition = request.key_filter if condition is None else condition & request.key_filter
    raw = read_rows(storage, table, snapshot, planned, columns, condition, metrics)
    merged = drop_tombstones(merge_latest(raw))
    if request.min_event_time is not None:
        merged = merged.filter(
            pc.field(EVENT_TIME) >= instant_scalar(request.min_event_time, schema.event_time_type)
        )
    if request.filter is not None:
        try:
            merged = merged.filter(request.filter)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise InvalidArgumentError(
                f"filter {request.filter} cannot be applied: {exc}"
            ) from None
    metrics.rows_out = merged.num_rows
    return merged.select(out_names)
