"""Writing data files: one conformed, deduplicated table -> Parquet objects + their records."""

from __future__ import annotations

import itertools
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from azof.format.buckets import split_by_bucket
from azof.format.keys import key_array, key_bounds
from azof.format.schema import TOMBSTONE, Column, TableSchema
from azof.format.snapshot import DataFile
from azof.format.types import unit_nanos
from azof.storage import Storage
from azof.write.conform import dedup_last

__all__ = [
    "DATA_DIR",
    "ROW_GROUP_ROWS",
    "Codec",
    "file_schema",
    "key_pivots",
    "key_range",
    "split_buckets",
    "write_data_file",
    "write_sorted",
]

DATA_DIR = "data"
ROW_GROUP_ROWS = 128 * 1024
PARALLEL_ROWS = 64 * 1024
"""A bucket of an append is split into key ranges of at least this many rows, each sorted
and written by its own thread (up to ``MAX_WRITERS``, and the machine's cores)."""
MAX_WRITERS = 4
PIVOT_SAMPLE = 1024


def _with_id(field: pa.Field[Any], column: Column) -> pa.Field[Any]:
    if not column.id:  # the key and event time of a table before format 4: found by name
        return field
    return field.with_metadata({b"PARQUET:field_id": str(column.id).encode()})


def file_schema(schema: TableSchema) -> pa.Schema:
    """The Parquet schema of data files: the key column(s), the event time, the tombstone
    flag, the value columns; every column with an id carries it as field_id."""
    fields = [_with_id(schema.field(c.name), c) for c in (*schema.keys, schema.time)]
    fields.append(pa.field(TOMBSTONE, pa.bool_(), nullable=False))
    for column in schema.columns:  # nullable in files: tombstones carry no values
        fields.append(_with_id(pa.field(column.name, column.type, nullable=True), column))
    return pa.schema(fields)


def _instant(value: pa.Scalar[Any], per_unit: int) -> int:
    return int(value.cast(pa.int64()).as_py()) * per_unit


def _bound(value: Any) -> Any:
    """A key bound as a record holds it (a composite key's as a tuple)."""
    return tuple(value) if isinstance(value, list) else value


def split_buckets(
    rows: pa.Table, buckets: int, names: tuple[str, ...]
) -> list[tuple[int, pa.Table]]:
    """``(bucket, rows)`` for every non-empty bucket (the key being the columns ``names``),
    each keeping the rows' order."""
    parts = split_by_bucket(rows, buckets, names)
    return [(b, part) for b, part in enumerate(parts) if part.num_rows]


def key_pivots(keys: pa.Array[Any] | pa.ChunkedArray[Any], parts: int) -> list[pa.Scalar[Any]]:
    """Up to ``parts - 1`` ascending keys that cut ``keys`` into about equal ranges
    (quantiles of a sample, so any key distribution splits evenly)."""
    n = len(keys)
    if parts <= 1 or n < 2:
        return []
    sample = keys.take(pa.array(range(0, n, max(1, n // PIVOT_SAMPLE))))
    ordered = sample.take(pc.array_sort_indices(sample))
    pivots = [ordered[len(ordered) * i // parts] for i in range(1, parts)]
    return [p for i, p in enumerate(pivots) if i == 0 or p != pivots[i - 1]]


def key_range(
    rows: pa.Table,
    keys: pa.Array[Any],
    low: pa.Scalar[Any] | None,
    high: pa.Scalar[Any] | None,
) -> pa.Table:
    """The rows with ``low <= key < high`` (``None``: unbounded; ``keys``: the rows' keys as
    :func:`~azof.format.keys.key_array` gives them), in their order."""
    mask = None if low is None else pc.greater_equal(keys, low)
    if high is not None:
        below = pc.less(keys, high)
        mask = below if mask is None else pc.and_(mask, below)
    return rows if mask is None else rows.filter(mask)


_Piece: TypeAlias = (
    "tuple[int, pa.Table, pa.Array[Any], pa.Scalar[Any] | None, pa.Scalar[Any] | None]"
)
"""(bucket, its rows, their keys, low key, high key) of one file to write."""


def write_sorted(
    storage: Storage,
    rows: pa.Table,
    schema: TableSchema,
    buckets: int,
) -> list[DataFile]:
    """Write conformed rows as data files sorted by key and event time: one per non-empty
    bucket, and a large bucket in several files of disjoint key ranges, which are cut,
    sorted (:func:`dedup_last`) and written in parallel.

    Files come in bucket order, then key order; every row of a key is in one file.
    """
    workers = min(os.cpu_count() or 1, MAX_WRITERS)
    pieces: list[_Piece] = []
    names = schema.key_names
    for bucket, part in split_buckets(rows, buckets, names):
        wanted = min(workers, part.num_rows // PARALLEL_ROWS)
        keys = key_array(part, names) if wanted > 1 else pa.array([], pa.null())
        bounds: list[pa.Scalar[Any] | None] = [None, *key_pivots(keys, wanted), None]
        pieces.extend((bucket, part, keys, low, high) for low, high in itertools.pairwise(bounds))

    def write(piece: _Piece) -> DataFile | None:
        bucket, part, keys, low, high = piece
        chosen = part if low is None and high is None else key_range(part, keys, low, high)
        if not chosen.num_rows:
            return None
        rows = dedup_last(chosen, schema)
        return write_data_file(storage, rows, schema, bucket=bucket, buckets=buckets)

    if len(pieces) == 1 or workers == 1:
        written = [write(piece) for piece in pieces]
    else:
        with ThreadPoolExecutor(max_workers=min(workers, len(pieces))) as pool:
            written = list(pool.map(write, pieces))
    return [f for f in written if f is not None]


Codec: TypeAlias = Literal["zstd", "lz4", "snappy", "none"]
"""Parquet page codecs azof writes."""


def write_data_file(
    storage: Storage,
    rows: pa.Table,
    schema: TableSchema,
    *,
    prefix: str = DATA_DIR,
    bucket: int = 0,
    buckets: int = 1,
    compression: Codec = "zstd",
) -> DataFile:
    """Write ``rows`` (conformed: key, event_time, tombstone flag, value columns; sorted by
    key, then event time, which the record then promises readers) as one file, its pages
    compressed with ``compression`` (a Parquet codec pyarrow writes).

    The record's ``seq`` is 0 here; the commit sets it to the version that lands it.
    """
    target = file_schema(schema)
    flags = rows.column(TOMBSTONE)
    if flags.null_count:  # rows read from seed files carry no flag: not deleted
        rows = rows.set_column(
            rows.schema.get_field_index(TOMBSTONE), TOMBSTONE, flags.fill_null(pa.scalar(False))
        )
    rows = rows.select(target.names).cast(target)
    sink = pa.BufferOutputStream()
    pq.write_table(
        rows,
        sink,
        row_group_size=ROW_GROUP_ROWS,
        compression=compression,
        # statistics prune by key and event time only; dictionaries pay off for value
        # strings (often few distinct values), not for keys or numbers
        write_statistics=list(schema.fixed_names),
        use_dictionary=[  # type: ignore[arg-type]  # stub: bool only, pyarrow takes a list
            f.name
            for f in target
            if f.name not in schema.key_names
            and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
        ],
        store_schema=True,
    )
    data = sink.getvalue().to_pybytes()
    path = f"{prefix}/{uuid.uuid4().hex}.parquet"
    storage.write(path, data)
    unit = unit_nanos(schema.event_time_type)
    times = pc.min_max(rows.column(schema.event_time_name))
    bounds = key_bounds(rows, schema.key_names)
    if bounds is not None and not schema.named and not isinstance(bounds[0], str | int):
        bounds = None
    return DataFile(
        file=path,
        start=_instant(times["min"], unit),
        end=_instant(times["max"], unit),
        rows=rows.num_rows,
        size=len(data),
        bucket=bucket,
        buckets=buckets,
        min_key=_bound(bounds[0] if bounds else None),
        max_key=_bound(bounds[1] if bounds else None),
        sorted=True,
        schema_id=schema.schema_id,
        tombstones=int(pc.sum(rows.column(TOMBSTONE).cast(pa.int64())).as_py() or 0),
    )
