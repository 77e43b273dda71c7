"""The events feed: what each commit added, as a Spark DataFrame or stream.

With option ``starting_version``, ``spark.read.format("azof")`` reads the *events* that
the commits from that version to the pinned one added (the rows of their appends and the
delete events), not the as-of state; ``spark.readStream.format("azof")`` reads the same
feed as it grows (offsets are versions). Every row carries ``_deleted`` (a delete event),
``_commit_version`` and ``_commit_time`` (:data:`COMMIT_COLUMNS`).

A commit's events are the files it added as pending deltas (their ``seq`` is its version);
compactions, restores, schema and policy changes add no events, and a seed table's first
version has no commit to read events from. One Spark partition reads one such file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
from pyspark.sql.datasource import DataSourceReader, DataSourceStreamReader, InputPartition
from pyspark.sql.types import BooleanType, LongType, StructField, StructType, TimestampType

from azof import tablelog
from azof.errors import InvalidArgumentError, VersionNotFoundError
from azof.format import TOMBSTONE, DataFile, Snapshot
from azof.lakehouse import Lakehouse
from azof.scan.plan import PlannedFile
from azof.scan.read import read_rows
from azof.spark.options import ReadOptions
from azof.spark.schema import arrow_schema_for_spark, spark_batches, spark_schema
from azof.storage import Storage

__all__ = [
    "COMMIT_COLUMNS",
    "COMMIT_TIME",
    "COMMIT_VERSION",
    "DELETED",
    "AzofEventsReader",
    "AzofStreamReader",
    "EventsPartition",
    "events_schema",
    "plan_events",
    "read_events",
]

DELETED = "_deleted"
COMMIT_VERSION = "_commit_version"
COMMIT_TIME = "_commit_time"
COMMIT_COLUMNS = (DELETED, COMMIT_VERSION, COMMIT_TIME)
BATCH_ROWS = 65_536


def events_schema(table: pa.Schema) -> StructType:
    """The Spark schema of the events feed of a table of Arrow schema ``table``."""
    clash = [name for name in COMMIT_COLUMNS if name in table.names]
    if clash:
        raise InvalidArgumentError(
            f"the table has column(s) {', '.join(clash)}, which the events feed adds; read it "
            "without option 'starting_version'"
        )
    fields = list(spark_schema(table).fields)
    fields += [
        StructField(DELETED, BooleanType(), nullable=False),
        StructField(COMMIT_VERSION, LongType(), nullable=False),
        StructField(COMMIT_TIME, TimestampType(), nullable=False),
    ]
    return StructType(fields)


class EventsPartition(InputPartition):
    """One Spark partition of the feed: one file a commit added."""

    def __init__(self, version: int, time: int, file: DataFile) -> None:
        super().__init__((version, file.file))
        self.version = version
        self.time = time
        self.file = file


def _storage(options: ReadOptions) -> Storage:
    lakehouse = Lakehouse(options.lakehouse, storage_options=options.storage_dict() or None)
    return lakehouse.storage.child(options.table)


def _load(storage: Storage, options: ReadOptions, version: int) -> Snapshot:
    try:
        return tablelog.load_snapshot(storage, options.table, version)
    except VersionNotFoundError:
        raise VersionNotFoundError(
            f"table {options.table!r}: version {version} was expired by a vacuum, so its "
            "events cannot be read; start from a later starting_version"
        ) from None


def plan_events(options: ReadOptions, first: int, last: int) -> list[InputPartition]:
    """One partition per file added by the commits of versions ``first..last``."""
    storage = _storage(options)
    parts: list[InputPartition] = []
    for version in range(max(first, 0), last + 1):
        snapshot = _load(storage, options, version)
        if snapshot.commit is None:
            continue  # a seed snapshot: no commit, no events
        parts.extend(
            EventsPartition(version, snapshot.commit.time, f)
            for f in snapshot.deltas
            if f.seq == version and not f.derived
        )
    return parts


def read_events(
    options: ReadOptions, schema: StructType, partition: EventsPartition
) -> Iterator[pa.RecordBatch]:
    """The rows of one added file, with their commit columns, as Spark expects them."""
    storage = _storage(options)
    snapshot = _load(storage, options, partition.version)
    wanted = [n for n in schema.fieldNames() if n not in COMMIT_COLUMNS]
    missing = [n for n in wanted if n not in snapshot.schema.names]
    if missing:
        raise InvalidArgumentError(
            f"table {options.table!r}: version {partition.version} has no column(s) "
            f"{', '.join(map(repr, missing))} (the schema changed since the read began); "
            "read again from this version"
        )
    values = [n for n in wanted if n not in snapshot.schema.fixed_names]
    rows = read_rows(storage, options.table, snapshot, [PlannedFile(partition.file, 0)], values)
    n = rows.num_rows
    columns: dict[str, Any] = {name: rows.column(name) for name in wanted}
    columns[DELETED] = rows.column(TOMBSTONE).fill_null(pa.scalar(False))
    columns[COMMIT_VERSION] = pa.array([partition.version] * n, pa.int64())
    columns[COMMIT_TIME] = pa.array([partition.time] * n, pa.timestamp("ns", tz="UTC"))
    data = pa.table({name: columns[name] for name in schema.fieldNames()})
    yield from spark_batches(data, arrow_schema_for_spark(schema), BATCH_ROWS)


def _events(partition: InputPartition) -> EventsPartition | None:
    """The partition to read; ``None`` for the placeholder Spark reads when no partition
    was planned (no events in the range)."""
    if type(partition) is InputPartition:
        return None
    if not isinstance(partition, EventsPartition):
        raise InvalidArgumentError(
            f"the azof events reader got a {type(partition).__name__}, not an EventsPartition"
        )
    return partition


class AzofEventsReader(DataSourceReader):
    """The events of versions ``starting_version..`` the pinned version (a batch read)."""

    def __init__(self, options: ReadOptions, schema: StructType, first: int, last: int) -> None:
        self.options = options
        self.schema = schema
        self.first = first
        self.last = last

    def partitions(self) -> Sequence[InputPartition]:
        return plan_events(self.options, self.first, self.last)

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        planned = _events(partition)
        return iter(()) if planned is None else read_events(self.options, self.schema, planned)


class AzofStreamReader(DataSourceStreamReader):
    """``spark.readStream.format("azof")``: offsets are ``{"version": v}``, all events of
    versions up to ``v`` read."""

    def __init__(self, options: ReadOptions, schema: StructType, first: int) -> None:
        self.options = options
        self.schema = schema
        self.first = first

    def _latest(self) -> int:
        return tablelog.current_version(_storage(self.options), self.options.table)

    def initialOffset(self) -> dict[str, int]:
        return {"version": self.first - 1}

    def latestOffset(
        self, start: dict[str, int] | None = None, limit: Any = None
    ) -> dict[str, int]:
        return {"version": self._latest()}

    def partitions(self, start: dict[str, int], end: dict[str, int]) -> Sequence[InputPartition]:
        return plan_events(self.options, int(start["version"]) + 1, int(end["version"]))

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        planned = _events(partition)
        return iter(()) if planned is None else read_events(self.options, self.schema, planned)
