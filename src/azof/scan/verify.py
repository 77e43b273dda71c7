"""Checking a snapshot's data files: ``Table.verify``.

Opening a table reads only its snapshot, and a read checks the files it plans. A
verification checks every file the snapshot names: that it exists (one listing of the
table folder), that it is readable Parquet (its footer), that it holds the columns the
snapshot says, with readable types, and (``rows=True``) that its rows keep the promises of
its record and of the format (``docs/spec.md``, "Validity rules"): no null ``key`` or
``event_time``, a boolean ``_azof_deleted``, event times inside the record's
``start``/``end``, keys inside its ``min_key``/``max_key`` and its bucket, the row count it
states, and the order ``sorted`` promises. Rows are read a batch at a time, only the
columns checked, so memory stays bounded whatever the file's size.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from azof.errors import CorruptTableError
from azof.format.buckets import bucket_of_rows
from azof.format.keys import key_array, key_from_json
from azof.format.schema import TOMBSTONE, TableSchema
from azof.format.snapshot import DataFile, Snapshot
from azof.format.types import unit_nanos
from azof.scan.columns import file_columns
from azof.scan.read import open_fragment
from azof.storage import Storage
from azof.tablelog import snapshot_name

__all__ = ["verify_files"]

_READERS = 8
"""Footers read at once (each is a small ranged read: latency, not bandwidth, bound)."""
_SHOWN = 5
"""Problems named in the error; the rest are counted."""
_BATCH_ROWS = 65_536
"""Rows checked at once: memory is a few columns of this many rows per reader."""


def verify_files(storage: Storage, table: str, snapshot: Snapshot, *, rows: bool = False) -> int:
    """Check every data file of ``snapshot``; the number of files checked. All problems
    found are reported together in one ``CorruptTableError``. ``rows`` also reads the
    ``key``, ``event_time`` and ``_azof_deleted`` columns of every file to check its rows."""
    files = list({f.file: f for f in snapshot.files()}.values())
    present = {obj.path for obj in storage.list("")}
    named = f"{snapshot_name(snapshot.version)} names "
    missing = [f.file for f in files if f.file not in present]
    problems = [f"{named}data file {name}, which is missing" for name in missing]
    filesystem = storage.arrow_filesystem()

    def check(data_file: DataFile) -> str | None:
        try:
            fragment = open_fragment(table, data_file, filesystem, version=snapshot.version)
            located = file_columns(table, snapshot.schema, data_file, fragment.physical_schema)
            if rows:
                count = len(snapshot.schema.fixed_names)
                stored = [found or name for name, found in located[:count]]
                return _check_rows(snapshot.schema, data_file, fragment, stored)
        except CorruptTableError as exc:
            return str(exc).removeprefix(f"table {table!r}: ")
        return None

    readable = [f for f in files if f.file in present]
    with ThreadPoolExecutor(max_workers=min(_READERS, max(1, len(readable)))) as pool:
        problems += [p for p in pool.map(check, readable) if p is not None]
    if problems:
        shown = "; ".join(problems[:_SHOWN])
        more = f"; and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
        raise CorruptTableError(
            f"table {table!r}: {len(problems)} of the {len(files)} data files of version "
            f"{snapshot.version} are damaged: {shown}{more}; restore them or read another "
            "version"
        )
    return len(files)


@dataclass
class _Seen:
    """What the batches of one file held so far."""

    rows: int = 0
    last_key: Any = None
    last_time: int | None = None


def _check_rows(
    schema: TableSchema,
    data_file: DataFile,
    fragment: ds.ParquetFileFragment,
    stored: list[str],
) -> str | None:
    """The first broken promise of a data file's rows, naming the file and column."""
    physical = fragment.physical_schema
    where = f"data file {data_file.file}"
    index = physical.get_field_index(TOMBSTONE)
    if index >= 0 and not pa.types.is_boolean(physical.field(index).type):
        return f"{where} column {TOMBSTONE!r} is {physical.field(index).type}, not bool"
    per_unit = unit_nanos(schema.event_time_type)
    seen = _Seen()
    try:
        names = list(schema.fixed_names)
        types = [schema.field(n).type for n in names]
        for raw in fragment.to_batches(columns=stored, batch_size=_BATCH_ROWS):
            batch = pa.RecordBatch.from_arrays(
                [raw.column(i).cast(t) for i, t in enumerate(types)], names=names
            )
            problem = _check_batch(schema, data_file, batch, per_unit, seen)
            if problem is not None:
                return f"{where} {problem}"
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OSError) as exc:
        return f"{where} cannot be read ({exc})"
    if data_file.rows is not None and data_file.rows != seen.rows:
        return f"{where} holds {seen.rows} rows, but its record says rows {data_file.rows}"
    return None


def _check_batch(
    schema: TableSchema, data_file: DataFile, batch: pa.RecordBatch, per_unit: int, seen: _Seen
) -> str | None:
    seen.rows += batch.num_rows
    if not batch.num_rows:
        return None
    names, time = schema.key_names, schema.event_time_name
    for name in names:
        nulls = batch.column(name).null_count
        if nulls:
            return f"column {name!r} holds {nulls} nulls (a key must not be null)"
    times = batch.column(time).cast(pa.int64())
    if times.null_count:
        return f"column {time!r} holds {times.null_count} nulls (an event time must not be)"
    keys = key_array(batch, names)
    key = repr(names[0]) if len(names) == 1 else "(" + ", ".join(names) + ")"
    low_time, high_time = (v.as_py() * per_unit for v in pc.min_max(times).values())
    if data_file.start is not None and low_time < data_file.start:
        return f"column {time!r} holds a time before the record's start"
    if data_file.end is not None and high_time > data_file.end:
        return f"column {time!r} holds a time after the record's end"
    buckets = data_file.buckets
    if buckets > 1 and np.any(bucket_of_rows(batch, names, buckets) != data_file.bucket):
        return (
            f"column {key} holds a key outside the record's bucket {data_file.bucket} of "
            f"{data_file.buckets}"
        )
    if schema.named:
        problem = _outside_bounds(schema, data_file, keys)
        if problem is not None:
            return f"column {key} holds a key {problem}"
    else:
        low_key, high_key = (v.as_py() for v in pc.min_max(keys).values())
        if data_file.min_key is not None and _before(low_key, data_file.min_key):
            return f"column {key} holds a key below the record's min_key {data_file.min_key!r}"
        if data_file.max_key is not None and _before(data_file.max_key, high_key):
            return f"column {key} holds a key above the record's max_key {data_file.max_key!r}"
    if data_file.sorted and not _in_order(keys, times, seen):
        return f"rows are not sorted by {key}, then {time!r}, as the record says"
    return None


def _outside_bounds(schema: TableSchema, data_file: DataFile, keys: pa.Array[Any]) -> str | None:
    """Whether ``keys`` (as :func:`~azof.format.keys.key_array` gives them) leave the
    record's ``min_key``/``max_key`` of a format-4 table, compared in key order."""
    names = schema.key_names
    for name, bound in (("min_key", data_file.min_key), ("max_key", data_file.max_key)):
        if bound is None:
            continue
        values = bound if isinstance(bound, tuple) else (bound,)
        if len(values) != len(names):
            return f"of another kind than the record's {name} {bound!r}"
        try:
            row = pa.table(
                {
                    c.name: pa.array([key_from_json(v, c.type)])
                    for c, v in zip(schema.keys, values, strict=True)
                }
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            return f"of another kind than the record's {name} {bound!r}"
        edge = key_array(row, names).cast(keys.type)[0]
        if name == "min_key" and pc.less(pc.min(keys), edge).as_py():
            return f"below the record's min_key {bound!r}"
        if name == "max_key" and pc.greater(pc.max(keys), edge).as_py():
            return f"above the record's max_key {bound!r}"
    return None


def _before(a: Any, b: Any) -> bool:
    """``a < b`` for two keys (strings compare by their UTF-8 bytes, as Arrow orders them)."""
    if isinstance(a, str) and isinstance(b, str):
        return a.encode() < b.encode()
    return bool(a < b)


def _in_order(keys: pa.Array[Any], times: pa.Array[Any], seen: _Seen) -> bool:
    """Whether the batch's rows, after the last row of the previous batch, are sorted by
    key, then event time; remembers the batch's last row."""
    if seen.last_key is not None:
        keys = pa.concat_arrays([pa.array([seen.last_key], keys.type), keys])
        times = pa.concat_arrays([pa.array([seen.last_time], times.type), times])
    n = len(keys)
    seen.last_key, seen.last_time = keys[n - 1].as_py(), times[n - 1].as_py()
    if n < 2:
        return True
    k0, k1 = keys.slice(0, n - 1), keys.slice(1)
    t0, t1 = times.slice(0, n - 1), times.slice(1)
    broken = pc.or_(pc.greater(k0, k1), pc.and_(pc.equal(k0, k1), pc.greater(t0, t1)))
    return not pc.any(broken).as_py()
