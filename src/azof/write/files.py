"""Writing data files: one conformed, deduplicated table -> Parquet objects + their records."""

from __future__ import annotations

import uuid
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from azof.format.buckets import split_by_bucket
from azof.format.schema import EVENT_TIME, KEY, TOMBSTONE, TableSchema
from azof.format.snapshot import DataFile
from azof.format.types import unit_nanos
from azof.storage import Storage

__all__ = [
    "DATA_DIR",
    "ROW_GROUP_ROWS",
    "file_schema",
    "split_buckets",
    "write_bucketed",
    "write_data_file",
]

DATA_DIR = "data"
ROW_GROUP_ROWS = 128 * 1024


def file_schema(schema: TableSchema) -> pa.Schema:
    """The Parquet schema of format-2 data files; value columns carry their id as field_id."""
    fields = [
        schema.field(KEY),
        schema.field(EVENT_TIME),
        pa.field(TOMBSTONE, pa.bool_(), nullable=False),
    ]
    for column in schema.columns:  # nullable in files: tombstones carry no values
        fields.append(
            pa.field(column.name, column.type, nullable=True).with_metadata(
                {b"PARQUET:field_id": str(column.id).encode()}
            )
        )
    return pa.schema(fields)


def _instant(value: pa.Scalar[Any], per_unit: int) -> int:
    return int(value.cast(pa.int64()).as_py()) * per_unit


def _json_key(value: Any) -> Any:
    return value if isinstance(value, (str, int)) else None


def split_buckets(rows: pa.Table, buckets: int) -> list[tuple[int, pa.Table]]:
    """``(bucket, rows)`` for every non-empty bucket, each keeping the rows' order."""
    return [(b, part) for b, part in enumerate(split_by_bucket(rows, buckets)) if part.num_rows]


def write_bucketed(
    storage: Storage,
    rows: pa.Table,
    schema: TableSchema,
    buckets: int,
    max_rows: int | None = None,
) -> list[DataFile]:
    """Write rows as one file per non-empty bucket (split again at ``max_rows``)."""
    written = []
    for bucket, part in split_buckets(rows, buckets):
        step = max_rows or part.num_rows
        for offset in range(0, part.num_rows, step):
            written.append(
                write_data_file(
                    storage, part.slice(offset, step), schema, bucket=bucket, buckets=buckets
                )
            )
    return written


def write_data_file(
    storage: Storage,
    rows: pa.Table,
    schema: TableSchema,
    *,
    prefix: str = DATA_DIR,
    bucket: int = 0,
    buckets: int = 1,
) -> DataFile:
    """Write ``rows`` (conformed: key, event_time, tombstone flag, value columns; sorted by
    key, then event time, which the record then promises readers) as one file.

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
        compression="zstd",
        # statistics prune by key and event time only; dictionaries pay off for value
        # strings (often few distinct values), not for keys or numbers
        write_statistics=[KEY, EVENT_TIME],
        use_dictionary=[  # type: ignore[arg-type]  # stub: bool only, pyarrow takes a list
            f.name
            for f in target
            if f.name != KEY and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
        ],
        store_schema=True,
    )
    data = sink.getvalue().to_pybytes()
    path = f"{prefix}/{uuid.uuid4().hex}.parquet"
    storage.write(path, data)
    unit = unit_nanos(schema.event_time_type)
    times = pc.min_max(rows.column(EVENT_TIME))
    keys = pc.min_max(rows.column(KEY))
    return DataFile(
        file=path,
        start=_instant(times["min"], unit),
        end=_instant(times["max"], unit),
        rows=rows.num_rows,
        size=len(data),
        bucket=bucket,
        buckets=buckets,
        min_key=_json_key(keys["min"].as_py()),
        max_key=_json_key(keys["max"].as_py()),
        sorted=True,
        schema_id=schema.schema_id,
        tombstones=int(pc.sum(rows.column(TOMBSTONE).cast(pa.int64())).as_py() or 0),
    )
