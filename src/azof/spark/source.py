"""The PySpark data source: ``spark.read.format("azof")``, one Spark partition per bucket.

Where each piece runs:

- :meth:`AzofDataSource.schema` runs once, when the DataFrame is loaded: it checks the
  options, opens the table and pins the snapshot (``version``, or the one ``known_at``
  chooses, or the latest), so every query of the DataFrame reads the same version and the
  schema matches it. (With a schema given to the reader, Spark skips this step and the
  snapshot is pinned when a query is first planned.)
- :meth:`AzofDataSource.reader` and :meth:`AzofReader.partitions` run when a query is
  planned: one :class:`BucketPartition` per hash bucket of the pinned snapshot, carrying
  everything its task needs (version, bucket, keys).
- :meth:`AzofReader.read` runs in the executors, one task per partition: it opens the
  table, merges its bucket as of ``as_of`` with :meth:`azof.Table.to_batches` (a large
  bucket one key range of about ``merge_rows`` rows at a time, so a task's memory follows
  that option, not the bucket) and yields Arrow record batches. The union over the
  buckets is the as-of answer.

Spark keeps a loaded DataFrame's reader (and the partitions it planned) and reuses them for
later queries of that DataFrame, so readers hold only what the options and the schema
determine; the only per-query state is what :class:`KeyPushdownReader` records from
``pushFilters``, and that reader is opt-in (see ``docs/spark.md``, "Pushdown").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql.datasource import (
    DataSource,
    DataSourceReader,
    DataSourceStreamReader,
    DataSourceStreamWriter,
    DataSourceWriter,
    InputPartition,
)
from pyspark.sql.types import StructType

from azof.errors import InvalidArgumentError
from azof.format import KEY
from azof.format.buckets import bucket_of
from azof.lakehouse import Lakehouse
from azof.spark.events import COMMIT_COLUMNS, AzofEventsReader, AzofStreamReader, events_schema
from azof.spark.options import ReadOptions, parse_options, parse_write_options
from azof.spark.schema import arrow_schema_for_spark, spark_batches, spark_schema
from azof.spark.write import AzofStreamWriter, AzofWriter, WriteTarget, plan_write
from azof.table import Table

if TYPE_CHECKING:
    from pyspark.sql.datasource import Filter  # PySpark 4.1+, as is pushFilters

__all__ = [
    "AzofDataSource",
    "AzofReader",
    "BucketPartition",
    "KeyPushdownReader",
    "PinnedRead",
    "plan_partitions",
    "pushed_keys",
    "read_partition",
]

BATCH_ROWS = 65_536
"""Rows per Arrow record batch handed to Spark."""

Key = str | int


@dataclass(frozen=True)
class PinnedRead:
    """The options of a read with its snapshot resolved: what every query plans from."""

    options: ReadOptions
    version: int
    buckets: int
    schema: pa.Schema
    """The Arrow schema of the whole table at ``version``."""


class BucketPartition(InputPartition):
    """One Spark partition: one hash bucket of one version, optionally only some keys."""

    def __init__(self, version: int, bucket: int | None, keys: tuple[Key, ...] | None) -> None:
        super().__init__((version, bucket, keys))
        self.version = version
        self.bucket = bucket
        self.keys = keys


def open_table(options: ReadOptions, version: int | None = None) -> Table:
    """The table of ``options``, at ``version`` (a task's pinned one: only its snapshot is
    read) or the latest."""
    lakehouse = Lakehouse(options.lakehouse, storage_options=options.storage_dict() or None)
    return lakehouse.table(options.table, version=version)


def pin_read(options: ReadOptions) -> PinnedRead:
    """Open the table and resolve ``version`` / ``known_at`` (or the latest) to a snapshot."""
    table = open_table(options)
    snapshot = table.snapshot_at(options.version, options.known_at)
    pinned = PinnedRead(
        options=options,
        version=snapshot.version,
        buckets=snapshot.buckets,
        schema=snapshot.schema.to_arrow(),
    )
    if options.keys is not None:
        _key_array(pinned, options.keys)  # refuse keys of the wrong type now
    return pinned


def _key_array(pinned: PinnedRead, keys: Sequence[Key]) -> pa.Array[Any]:
    key_type = pinned.schema.field(KEY).type
    try:
        array: pa.Array[Any] = pa.array(list(keys), type=key_type)
        return array
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise InvalidArgumentError(
            f"option 'keys' of table {pinned.options.table!r}: {list(keys)!r} are not all "
            f"{key_type} keys ({exc})"
        ) from None


def _intersect(
    first: tuple[Key, ...] | None, second: tuple[Key, ...] | None
) -> tuple[Key, ...] | None:
    if first is None:
        return second
    if second is None:
        return first
    kept = set(second)
    return tuple(k for k in first if k in kept)


def plan_partitions(pinned: PinnedRead, pushed: tuple[Key, ...] | None) -> list[InputPartition]:
    """One partition per bucket; with a key filter, only the buckets its keys hash to."""
    keys = _intersect(pinned.options.keys, pushed)
    if keys is not None:
        keys = tuple(dict.fromkeys(keys))  # distinct, order kept
    if pinned.buckets == 1:
        return [BucketPartition(pinned.version, None, keys)]
    if keys is None:
        buckets = list(range(pinned.buckets))
    else:
        ids = bucket_of(_key_array(pinned, keys), pinned.buckets)
        buckets = sorted({int(b) for b in ids}) or [0]
    return [BucketPartition(pinned.version, bucket, keys) for bucket in buckets]


def read_partition(
    pinned: PinnedRead, schema: StructType, partition: BucketPartition
) -> Iterator[pa.RecordBatch]:
    """The as-of answer of one bucket, as batches of the Arrow schema Spark expects."""
    table = open_table(pinned.options, partition.version)
    key_filter = None
    if partition.keys is not None:
        key_filter = pc.field(KEY).isin(_key_array(pinned, partition.keys))
    stream = table.to_batches(
        pinned.options.as_of,
        columns=schema.fieldNames(),
        filter=key_filter,
        version=partition.version,
        bucket=partition.bucket,
        batch_size=BATCH_ROWS,
        merge_rows=pinned.options.merge_rows,
    )
    target = arrow_schema_for_spark(schema)
    with stream:
        for batch in stream:
            yield from spark_batches(pa.Table.from_batches([batch]), target, BATCH_ROWS)


class AzofReader(DataSourceReader):
    """Reads a pinned snapshot, one bucket per partition. Holds no per-query state."""

    def __init__(self, pinned: PinnedRead, schema: StructType) -> None:
        self.pinned = pinned
        self.schema = schema

    def partitions(self) -> Sequence[InputPartition]:
        return plan_partitions(self.pinned, None)

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        if not isinstance(partition, BucketPartition):
            raise InvalidArgumentError(
                f"the azof reader got a {type(partition).__name__}, not a BucketPartition"
            )
        return read_partition(self.pinned, self.schema, partition)


def pushed_keys(filters: Sequence[Filter], key_type: pa.DataType) -> tuple[Any, list[Filter]]:
    """The keys Spark's filters allow (``None``: any) and the filters Spark must still apply.

    Taken: ``key = v``, ``key <=> v`` and ``key IN (...)`` with values of the key's type (an
    exact key filter, applied before the as-of merge, which is safe because the merge is
    per key), and ``key IS NOT NULL`` (always true). Everything else, notably every filter
    on ``event_time`` or a value column, is left to Spark, which applies it to the merged
    answer.
    """
    from pyspark.sql.datasource import EqualNullSafe, EqualTo, In, IsNotNull

    def fits(value: object) -> bool:
        if pa.types.is_integer(key_type):
            return isinstance(value, int) and not isinstance(value, bool)
        return isinstance(value, str)

    keys: tuple[Key, ...] | None = None
    remaining: list[Filter] = []
    for item in filters:
        on_key = getattr(item, "attribute", None) == (KEY,)
        if on_key and isinstance(item, IsNotNull):
            continue
        if on_key and isinstance(item, (EqualTo, EqualNullSafe)) and fits(item.value):
            keys = _intersect(keys, (item.value,))
        elif on_key and isinstance(item, In) and all(fits(v) for v in item.value):
            keys = _intersect(keys, tuple(item.value))
        else:
            remaining.append(item)
    return keys, remaining


class KeyPushdownReader(AzofReader):
    """:class:`AzofReader` that also takes Spark's key filters (``option("key_pushdown")``).

    Needs ``spark.sql.python.filterPushdown.enabled``. ``pushFilters`` replaces (never
    adds to) the keys of the previous call, but Spark up to 4.3 reuses a loaded DataFrame's
    planned read for later queries that push no filter, so those would see the keys of an
    earlier query: load the DataFrame afresh for each query when this is on.
    """

    def __init__(self, pinned: PinnedRead, schema: StructType) -> None:
        super().__init__(pinned, schema)
        self.keys: tuple[Key, ...] | None = None

    def pushFilters(self, filters: list[Filter]) -> Iterable[Filter]:
        self.keys, remaining = pushed_keys(filters, self.pinned.schema.field(KEY).type)
        return remaining

    def partitions(self) -> Sequence[InputPartition]:
        return plan_partitions(self.pinned, self.keys)


class AzofDataSource(DataSource):
    """``spark.read.format("azof")``: an azof table as of an event time, or the events its
    commits added (option ``starting_version``, and ``readStream``); ``df.write`` and
    ``writeStream`` append to it (see the package docstring and ``docs/spark.md``)."""

    @classmethod
    def name(cls) -> str:
        return "azof"

    def _pinned(self) -> PinnedRead:
        pinned: PinnedRead | None = getattr(self, "_pinned_read", None)
        if pinned is None:
            # Set when the DataFrame is loaded; Spark keeps this instance (pickled) with it.
            pinned = pin_read(parse_options(self.options))
            self._pinned_read = pinned
        return pinned

    def schema(self) -> StructType:
        pinned = self._pinned()
        names = pinned.options.columns
        arrow = pinned.schema
        if names is not None:
            _check_columns(pinned, names)
            arrow = pa.schema([arrow.field(name) for name in names])
        if pinned.options.starting_version is not None:
            return events_schema(arrow)
        return spark_schema(arrow)

    def reader(self, schema: StructType) -> DataSourceReader:
        pinned = self._pinned()
        table_columns = [n for n in schema.fieldNames() if n not in COMMIT_COLUMNS]
        _check_columns(pinned, table_columns)
        start = pinned.options.starting_version
        if start is not None:
            first = pinned.version + 1 if start == "latest" else int(start)
            return AzofEventsReader(pinned.options, schema, first, pinned.version)
        if pinned.options.key_pushdown:
            return KeyPushdownReader(pinned, schema)
        return AzofReader(pinned, schema)

    def streamReader(self, schema: StructType) -> DataSourceStreamReader:
        options = parse_options(self.options)
        start = options.starting_version
        if start is None:
            raise InvalidArgumentError(
                "a stream of an azof table reads the events its commits add: give "
                "option('starting_version', v) (a version, or 'latest' for the commits after "
                "the query starts)"
            )
        if options.version is not None or options.known_at is not None:
            raise InvalidArgumentError(
                "a stream reads every new version: options 'version' and 'known_at' do not "
                "apply to it"
            )
        table = open_table(options)
        first = table.version + 1 if start == "latest" else int(start)
        return AzofStreamReader(options, schema, first)

    def writer(self, schema: StructType, overwrite: bool) -> DataSourceWriter:
        return AzofWriter(_write_target(self.options, schema, overwrite))

    def streamWriter(self, schema: StructType, overwrite: bool) -> DataSourceStreamWriter:
        target = _write_target(self.options, schema, overwrite)
        if target.options.stream_id is None:
            raise InvalidArgumentError(
                "a streaming write to azof needs option('checkpointLocation', ...) (or "
                "option('stream_id', ...)): it identifies the stream, so that a restarted "
                "query does not commit a micro-batch twice"
            )
        return AzofStreamWriter(target, schema)


def _write_target(options: Any, schema: StructType, overwrite: bool) -> WriteTarget:
    if overwrite:
        raise InvalidArgumentError(
            "azof tables are not overwritten: every write appends events (late rows and "
            "corrections included, deletes with Table.delete); use mode('append'), or "
            "option('error_if_exists', 'true') to refuse an existing table"
        )
    return plan_write(parse_write_options(options), schema)


def _check_columns(pinned: PinnedRead, names: Sequence[str]) -> None:
    known = pinned.schema.names
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InvalidArgumentError(
            f"table {pinned.options.table!r} (version {pinned.version}) has no column(s) "
            f"{', '.join(map(repr, unknown))}; its columns are {', '.join(known)}"
        )
