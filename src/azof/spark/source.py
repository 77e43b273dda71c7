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

import datetime as dt
import itertools
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
from azof.format.buckets import bucket_of_rows
from azof.format.keys import key_array
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

CROSS_KEYS = 10_000
"""The most keys pushed filters on every column of a composite key are expanded to (their
values' cross product), to read only the buckets those keys hash to."""

KeyTuple = tuple[Any, ...]
"""One key: the values of its key columns, in key order (one value for a one-column key)."""
Pushed = tuple[tuple[str, tuple[Any, ...]], ...]
"""Pushed filters: per key column, the values it may take (``column IN values``)."""


@dataclass(frozen=True)
class PinnedRead:
    """The options of a read with its snapshot resolved: what every query plans from."""

    options: ReadOptions
    version: int
    buckets: int
    schema: pa.Schema
    """The Arrow schema of the whole table at ``version``."""
    key_names: tuple[str, ...] = (KEY,)
    """The table's key columns, in key order."""

    @property
    def key_schema(self) -> pa.Schema:
        return pa.schema([self.schema.field(name) for name in self.key_names])


class BucketPartition(InputPartition):
    """One Spark partition: one hash bucket of one version, optionally only some keys
    (``keys``, as tuples of the key columns' values) and only rows whose key columns take
    some values (``columns``)."""

    def __init__(
        self,
        version: int,
        bucket: int | None,
        keys: tuple[KeyTuple, ...] | None,
        columns: Pushed = (),
    ) -> None:
        super().__init__((version, bucket, keys, columns))
        self.version = version
        self.bucket = bucket
        self.keys = keys
        self.columns = columns


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
        key_names=snapshot.schema.key_names,
    )
    option_keys(pinned)  # refuse keys of the wrong type or shape now
    return pinned


def option_keys(pinned: PinnedRead) -> tuple[KeyTuple, ...] | None:
    """Option ``keys`` as key tuples (checked against the key's columns)."""
    keys = pinned.options.keys
    if keys is None:
        return None
    width = len(pinned.key_names)
    tuples = [k if isinstance(k, tuple) else (k,) for k in keys]
    wrong = [k for k in tuples if len(k) != width]
    if wrong:
        shape = "a value" if width == 1 else f"a list of {width} values"
        raise InvalidArgumentError(
            f"option 'keys' of table {pinned.options.table!r}: its key is "
            f"{', '.join(pinned.key_names)}, so each key is {shape}, not {list(wrong[0])!r}"
        )
    key_table(pinned, tuples)
    return tuple(tuples)


def key_table(pinned: PinnedRead, keys: Sequence[KeyTuple]) -> pa.Table:
    """``keys`` as a table of the key columns, of their types."""
    columns = []
    for index, field in enumerate(pinned.key_schema):
        values = [k[index] for k in keys]
        try:
            try:
                column: pa.Array[Any] = pa.array(values, type=field.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                if not all(isinstance(v, str) for v in values):
                    raise
                column = pa.array(values, pa.string()).cast(field.type)  # ISO dates and times
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
            raise InvalidArgumentError(
                f"option 'keys' of table {pinned.options.table!r}: {values!r} are not all "
                f"values of the {field.type} key column {field.name!r}"
            ) from None
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=pinned.key_schema)


def _intersect(
    first: tuple[KeyTuple, ...] | None, second: tuple[KeyTuple, ...] | None
) -> tuple[KeyTuple, ...] | None:
    if first is None:
        return second
    if second is None:
        return first
    kept = set(second)
    return tuple(k for k in first if k in kept)


def _expand(pinned: PinnedRead, pushed: Pushed) -> tuple[tuple[KeyTuple, ...] | None, Pushed]:
    """Pushed values on every key column as the keys they allow (their cross product, when
    not over ``CROSS_KEYS``), and the column conditions still to apply."""
    allowed = dict(pushed)
    if any(name not in allowed for name in pinned.key_names):
        return None, pushed
    count = 1
    for name in pinned.key_names:
        count *= len(allowed[name])
    if count > CROSS_KEYS:
        return None, pushed
    return tuple(itertools.product(*(allowed[n] for n in pinned.key_names))), ()


def plan_partitions(pinned: PinnedRead, pushed: Pushed | None) -> list[InputPartition]:
    """One partition per bucket; when the keys read are known (option ``keys``, or pushed
    filters that fix every key column), only the buckets they hash to."""
    expanded, columns = _expand(pinned, pushed or ())
    keys = _intersect(option_keys(pinned), expanded)
    if keys is not None:
        allowed = dict(columns)
        positions = {name: i for i, name in enumerate(pinned.key_names)}
        keys = tuple(
            k
            for k in dict.fromkeys(keys)  # distinct, order kept
            if all(k[positions[name]] in values for name, values in allowed.items())
        )
        columns = ()
    if pinned.buckets == 1:
        return [BucketPartition(pinned.version, None, keys, columns)]
    if keys is None:
        buckets = list(range(pinned.buckets))
    else:
        ids = bucket_of_rows(key_table(pinned, keys), pinned.key_names, pinned.buckets)
        buckets = sorted({int(b) for b in ids}) or [0]
    return [BucketPartition(pinned.version, bucket, keys, columns) for bucket in buckets]


def _key_mask(
    pinned: PinnedRead, partition: BucketPartition, rows: pa.RecordBatch | pa.Table
) -> pa.Array[Any]:
    """Which of ``rows`` (which hold the key columns) the partition's keys select."""
    mask: Any = pa.array([True] * rows.num_rows)
    for name, values in partition.columns:
        allowed = pa.array(list(values), type=pinned.schema.field(name).type)
        mask = pc.and_(mask, pc.is_in(rows.column(name), value_set=allowed))
    if partition.keys is not None:
        wanted = key_array(key_table(pinned, partition.keys), pinned.key_names)
        present = key_array(rows, pinned.key_names)
        mask = pc.and_(mask, pc.is_in(present, value_set=wanted))
    result: pa.Array[Any] = mask
    return result


def _key_filter(pinned: PinnedRead, partition: BucketPartition) -> pc.Expression | None:
    """The partition's keys as a filter the scan applies below the merge (pruning files
    and row groups); ``None`` when it has none. Exact except for whole composite keys,
    pushed as one ``isin`` per key column (a superset: see :func:`_exact`)."""
    if partition.keys is None and not partition.columns:
        return None
    if pinned.key_names == (KEY,):
        conditions = [(KEY, values) for _name, values in partition.columns]
    else:
        conditions = list(partition.columns)
    if partition.keys is not None:
        for index, name in enumerate(pinned.key_names):
            conditions.append((name, tuple(dict.fromkeys(k[index] for k in partition.keys))))
    expression: pc.Expression | None = None
    for name, values in conditions:
        allowed = pa.array(list(values), type=pinned.schema.field(name).type)
        condition = pc.field(name).isin(allowed)
        expression = condition if expression is None else expression & condition
    return expression


def _exact(pinned: PinnedRead, partition: BucketPartition) -> bool:
    """Whether :func:`_key_filter` selects exactly the partition's keys: not so for whole
    keys of a composite key (each column's values may combine into keys not asked for)."""
    return partition.keys is None or len(pinned.key_names) == 1


def read_partition(
    pinned: PinnedRead, schema: StructType, partition: BucketPartition
) -> Iterator[pa.RecordBatch]:
    """The as-of answer of one bucket, as batches of the Arrow schema Spark expects.

    The partition's keys select whole keys, so they give the same answer applied before
    the as-of merge, where the scan prunes files and row groups with them; whole composite
    keys are filtered exactly after the merge too."""
    table = open_table(pinned.options, partition.version)
    key_filter = _key_filter(pinned, partition)
    wanted = schema.fieldNames()
    after = key_filter is not None and not _exact(pinned, partition)
    columns = list(wanted)
    if after:
        columns += [name for name in pinned.key_names if name not in wanted]
    stream = table.to_batches(
        pinned.options.as_of,
        columns=columns,
        filter=key_filter,
        version=partition.version,
        bucket=partition.bucket,
        batch_size=BATCH_ROWS,
        merge_rows=pinned.options.merge_rows,
    )
    target = arrow_schema_for_spark(schema)
    with stream:
        for batch in stream:
            data = pa.Table.from_batches([batch])
            if after:
                data = data.filter(_key_mask(pinned, partition, data)).select(wanted)
            if data.num_rows:
                yield from spark_batches(data, target, BATCH_ROWS)


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


def _fits(value: object, dtype: pa.DataType) -> bool:
    """Whether Spark's filter value is exactly a value of a key column of ``dtype``."""
    if isinstance(value, bool):
        return False
    if pa.types.is_integer(dtype):
        return isinstance(value, int)
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return isinstance(value, str)
    if pa.types.is_date(dtype):
        return isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    return False  # timestamps: Spark's value and its time zone are left to Spark


def pushed_keys(filters: Sequence[Filter], keys: pa.Schema) -> tuple[Pushed | None, list[Filter]]:
    """The values Spark's filters allow each key column (``None``: any key) and the
    filters Spark must still apply.

    Taken, on any key column (of a one-column or a composite key): ``column = v``,
    ``column <=> v`` and ``column IN (...)`` with values of the column's type (string,
    integer or date; a timestamp column is left to Spark), and ``column IS NOT NULL``
    (always true). Each selects whole keys, so it is applied before the as-of merge
    (safe: the merge is per key). Everything else, notably every filter on the event
    time or a value column, is left to Spark, which applies it to the merged answer.
    """
    from pyspark.sql.datasource import EqualNullSafe, EqualTo, In, IsNotNull

    allowed: dict[str, tuple[Any, ...]] = {}
    remaining: list[Filter] = []
    for item in filters:
        attribute = getattr(item, "attribute", None)
        name = attribute[0] if isinstance(attribute, tuple) and len(attribute) == 1 else None
        if name not in keys.names:
            remaining.append(item)
            continue
        dtype = keys.field(name).type
        if isinstance(item, IsNotNull):
            continue
        if isinstance(item, (EqualTo, EqualNullSafe)) and _fits(item.value, dtype):
            values: tuple[Any, ...] = (item.value,)
        elif isinstance(item, In) and all(_fits(v, dtype) for v in item.value):
            values = tuple(dict.fromkeys(item.value))
        else:
            remaining.append(item)
            continue
        held = allowed.get(name)
        allowed[name] = values if held is None else tuple(v for v in held if v in values)
    pushed = tuple((n, allowed[n]) for n in keys.names if n in allowed)
    return (pushed or None), remaining


class KeyPushdownReader(AzofReader):
    """:class:`AzofReader` that also takes Spark's key filters (``option("key_pushdown")``).

    Needs ``spark.sql.python.filterPushdown.enabled``. ``pushFilters`` replaces (never
    adds to) the keys of the previous call, but Spark up to 4.3 reuses a loaded DataFrame's
    planned read for later queries that push no filter, so those would see the keys of an
    earlier query: load the DataFrame afresh for each query when this is on.
    """

    def __init__(self, pinned: PinnedRead, schema: StructType) -> None:
        super().__init__(pinned, schema)
        self.keys: Pushed | None = None

    def pushFilters(self, filters: list[Filter]) -> Iterable[Filter]:
        self.keys, remaining = pushed_keys(filters, self.pinned.key_schema)
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
