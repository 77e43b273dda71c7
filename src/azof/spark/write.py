"""Writing azof tables from Spark: ``df.write.format("azof")`` and ``writeStream``.

Where each piece runs:

- :func:`plan_write` runs on the driver when the write starts: it opens the table (or, when
  there is none, works out the schema it will be created with from the DataFrame's, keyed
  by the columns options ``key`` and ``event_time`` name, under their own names) and fixes
  the schema and bucket count every task writes with.
- :func:`write_task` runs in the executors, one call per Spark task: it takes the task's
  Arrow record batches (no per-row Python), buffers up to ``file_rows`` rows, and writes
  them as sorted data files split by bucket, as :meth:`azof.Table.append` does. It commits
  nothing: it returns the records of its files (a :class:`WrittenFiles` commit message).
- :func:`commit_write` runs on the driver once every task succeeded: it creates the table
  if it is absent and commits every task's files as **one** version. Files come in the
  order of Spark's partitions, so of two rows with the same key and event time, the later
  one in the DataFrame wins, as within one ``Table.append``.

A job that fails commits nothing: Spark calls ``abort`` instead of ``commit``, and the
files its tasks wrote are referenced by no version (a failing task removes its own; what
a killed task or the successful tasks of a failed job wrote is left to ``vacuum``). A
retried or speculative task does not duplicate rows: Spark hands ``commit`` one message
per partition, from the attempt it chose.

A streaming write (:class:`AzofStreamWriter`) commits each micro-batch the same way, with
the stream's id and the batch id in the commit's properties (:data:`STREAM_PROPERTY`,
:data:`BATCH_PROPERTY`); before committing, it looks for a commit of the same stream with
that batch id or a later one, so a restarted query that replays a batch does not write it
twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa
from pyspark.sql.datasource import (
    DataSourceArrowWriter,
    DataSourceStreamWriter,
    WriterCommitMessage,
)
from pyspark.sql.types import StructType

from azof import tablelog
from azof.errors import (
    AzofError,
    InvalidArgumentError,
    SchemaMismatchError,
    TableExistsError,
    TableNotFoundError,
    VersionNotFoundError,
)
from azof.format import EVENT_TIME, KEY, DataFile, Snapshot, TableSchema
from azof.lakehouse import Lakehouse
from azof.spark.options import WriteOptions
from azof.spark.schema import arrow_schema_for_spark
from azof.storage import Storage
from azof.timestamps import Instant
from azof.write.commit import append_files, commit_snapshot
from azof.write.conform import conform, validate_new_schema
from azof.write.create import schema_from_arrow
from azof.write.files import write_sorted

__all__ = [
    "BATCH_PROPERTY",
    "STREAM_PROPERTY",
    "AzofStreamWriter",
    "AzofWriter",
    "WriteTarget",
    "WrittenFiles",
    "commit_write",
    "plan_write",
    "table_columns",
    "write_task",
]

STREAM_PROPERTY = "spark.stream_id"
"""Commit property of a streaming write: the stream's id (its checkpoint location, or
option ``stream_id``)."""
BATCH_PROPERTY = "spark.batch_id"
"""Commit property of a streaming write: the micro-batch id (decimal text)."""


def table_columns(options: WriteOptions, schema: TableSchema) -> dict[str, str]:
    """DataFrame column -> table column, for the columns a write renames: the key and
    event-time columns options ``key`` and ``event_time`` name, when they differ from the
    table's (only a table keyed by ``key`` and timed by ``event_time`` is written from
    other names; every other column keeps its name). The one place the write maps them."""
    pairs = zip(options.key or schema.key_names, schema.key_names, strict=True)
    renames = dict(pairs)
    renames[options.event_time or schema.event_time_name] = schema.event_time_name
    return {column: name for column, name in renames.items() if column != name}


@dataclass(frozen=True)
class WriteTarget:
    """What every task of one write writes with (picklable: shipped to the executors)."""

    options: WriteOptions
    schema: TableSchema
    """The table's schema, or the one it will be created with."""
    buckets: int
    renames: tuple[tuple[str, str], ...]
    """DataFrame column -> table column (:func:`table_columns`)."""
    exists: bool
    """Whether the table existed when the write was planned (else ``commit`` creates it)."""


@dataclass(frozen=True)
class WrittenFiles(WriterCommitMessage):
    """A task's commit message: the records of the files it wrote, in order."""

    files: tuple[DataFile, ...]
    rows: int


def _lakehouse(options: WriteOptions) -> Lakehouse:
    return Lakehouse(options.lakehouse, storage_options=options.storage_dict() or None)


def _new_table_schema(options: WriteOptions, schema: StructType) -> TableSchema:
    """The schema a table created from a DataFrame of ``schema`` gets: its columns under
    their own names, keyed by option ``key`` (default ``key``) and timed by option
    ``event_time`` (default ``event_time``), those columns not nullable."""
    key = options.key or (KEY,)
    event_time = options.event_time or EVENT_TIME
    fixed = (*key, event_time)
    arrow = pa.schema(
        pa.field(field.name, field.type, nullable=field.name not in fixed)
        for field in arrow_schema_for_spark(schema)
    )
    checked = validate_new_schema(arrow, options.table, key, event_time)
    return schema_from_arrow(checked, key, event_time)


def _check_names(options: WriteOptions, schema: TableSchema) -> None:
    """Options ``key`` and ``event_time`` against an existing table's key and event time:
    a table with its own names (format 4) is written under those names only; a table keyed
    by ``key`` and timed by ``event_time`` takes other (as many) columns, renamed."""
    key, event_time = schema.key_names, schema.event_time_name
    given_key = options.key or key
    given_time = options.event_time or event_time
    legacy = not schema.named and len(given_key) == len(key)
    if legacy or (given_key, given_time) == (key, event_time):
        return
    raise SchemaMismatchError(
        f"table {options.table!r} is keyed by {', '.join(key)} and timed by {event_time}, "
        f"not by option key {','.join(given_key)!r} and option event_time {given_time!r}; "
        f"name its columns (rename the DataFrame's), or leave options key and event_time out"
    )


def _check_columns(options: WriteOptions, schema: StructType, renames: dict[str, str]) -> None:
    names = schema.fieldNames()
    inverse = {table: column for column, table in renames.items()}
    for column in names:
        if column not in renames and column in inverse:
            raise SchemaMismatchError(
                f"table {options.table!r}: the DataFrame's column {column!r} would clash with "
                f"the {column} column mapped from {inverse[column]!r}; rename or drop it"
            )
    wanted: list[tuple[str, str | None]] = [("key", k) for k in options.key or ()]
    wanted.append(("event_time", options.event_time))
    for option, given in wanted:
        if given is not None and given not in names:
            raise SchemaMismatchError(
                f"table {options.table!r}: the DataFrame has no column {given!r} for the "
                f"{option}; its columns are {', '.join(names)} (name the column with "
                f"option({option!r}, ...))"
            )


def plan_write(options: WriteOptions, schema: StructType) -> WriteTarget:
    """Open the table (or plan its creation from ``schema``): what every task writes with."""
    lakehouse = _lakehouse(options)
    try:
        table = lakehouse.table(options.table)
    except TableNotFoundError:
        named = replace(
            options, key=options.key or (KEY,), event_time=options.event_time or EVENT_TIME
        )
        _check_columns(named, schema, {})
        return WriteTarget(options, _new_table_schema(options, schema), 1, (), False)
    if options.error_if_exists:
        raise TableExistsError(
            f"table {options.table!r} already exists in {lakehouse.storage.uri}; write with "
            "option('error_if_exists', 'false') to append to it"
        )
    snapshot = table.snapshot
    _check_names(options, snapshot.schema)
    renames = table_columns(options, snapshot.schema)
    _check_columns(options, schema, renames)
    missing = [n for n in snapshot.schema.fixed_names if n not in schema.fieldNames()]
    missing = [n for n in missing if n not in renames.values()]
    if missing:
        raise SchemaMismatchError(
            f"table {options.table!r}: the DataFrame has no column(s) "
            f"{', '.join(map(repr, missing))} of the table's key and event time; its columns "
            f"are {', '.join(schema.fieldNames())} (name them with options key and event_time)"
        )
    return WriteTarget(options, snapshot.schema, snapshot.buckets, tuple(renames.items()), True)


def _storage(options: WriteOptions) -> Storage:
    return _lakehouse(options).storage.child(options.table)


def arrow_batches(iterator: Iterator[Any], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """Spark's input as record batches: Arrow batches pass through; rows (a PySpark without
    Arrow stream writers) are gathered into batches."""
    rows: list[dict[str, Any]] = []
    for item in iterator:
        if isinstance(item, pa.RecordBatch):
            yield item
            continue
        rows.append(item.asDict(recursive=True))
        if len(rows) >= 65_536:
            yield pa.RecordBatch.from_pylist(rows, schema=schema)
            rows = []
    if rows:
        yield pa.RecordBatch.from_pylist(rows, schema=schema)


def write_task(target: WriteTarget, batches: Iterator[pa.RecordBatch]) -> WrittenFiles:
    """Write one task's batches as data files (``file_rows`` rows at a time); commits
    nothing. A task that fails removes the files it wrote."""
    options = target.options
    storage = _storage(options)
    renames = dict(target.renames)
    written: list[DataFile] = []
    pending: list[pa.RecordBatch] = []
    held = rows = 0

    def flush() -> None:
        data = pa.Table.from_batches(pending)
        data = data.rename_columns([renames.get(name, name) for name in data.column_names])
        conformed = conform(data, target.schema, options.table)
        written.extend(write_sorted(storage, conformed, target.schema, target.buckets))
        pending.clear()

    try:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            pending.append(batch)
            held += batch.num_rows
            rows += batch.num_rows
            if held >= options.file_rows:
                flush()
                held = 0
        if pending:
            flush()
    except BaseException:
        for data_file in written:
            with contextlib.suppress(AzofError, OSError):
                storage.delete(data_file.file)
        raise
    return WrittenFiles(tuple(written), rows)


def _files(messages: Sequence[WriterCommitMessage | None]) -> list[DataFile]:
    files: list[DataFile] = []
    for message in messages:
        if not isinstance(message, WrittenFiles):
            raise InvalidArgumentError(
                f"the azof writer got a {type(message).__name__} from a task, not its files; "
                "nothing was committed"
            )
        files.extend(message.files)
    return files


def _parent(target: WriteTarget) -> Snapshot:
    """The table's latest snapshot, creating the table first when the write planned it."""
    options = target.options
    lakehouse = _lakehouse(options)
    if target.exists:
        return lakehouse.table(options.table).snapshot
    try:
        table = lakehouse.create_table(
            options.table,
            target.schema.to_arrow(),
            key=target.schema.key_names,
            event_time=target.schema.event_time_name,
            exist_ok=not options.error_if_exists,
        )
    except TableExistsError as exc:
        raise TableExistsError(f"{exc}; nothing was committed") from None
    if table.snapshot.schema != target.schema:
        raise SchemaMismatchError(
            f"table {options.table!r} was created by another writer while this write ran, "
            "under another schema; nothing was committed, write again"
        )
    return table.snapshot


def commit_write(
    target: WriteTarget,
    messages: Sequence[WriterCommitMessage | None],
    properties: dict[str, str] | None = None,
    operation: str = "append",
) -> Snapshot | None:
    """Commit every task's files as one version (creating the table if the write planned
    it); ``None`` when there was nothing to commit."""
    files = _files(messages)
    parent = _parent(target)
    if not files:
        return None
    return _land(target, parent, files, properties, operation)


def _land(
    target: WriteTarget,
    parent: Snapshot,
    files: list[DataFile],
    properties: dict[str, str] | None,
    operation: str,
    check: Any = None,
) -> Snapshot:
    rows = sum(f.rows or 0 for f in files)
    deletes = sum(f.tombstones for f in files)
    build = append_files(files, operation, {"rows": rows, "deletes": deletes}, properties)
    if check is not None:
        inner = build

        def build(parent: Snapshot, version: int, when: Instant) -> Snapshot:
            check(parent)
            return inner(parent, version, when)

    return commit_snapshot(_storage(target.options), target.options.table, parent, build)


def _remove(target: WriteTarget, messages: Sequence[WriterCommitMessage | None]) -> None:
    """Delete the files of uncommitted messages (best effort: vacuum removes the rest)."""
    storage = _storage(target.options)
    for message in messages:
        for data_file in message.files if isinstance(message, WrittenFiles) else ():
            with contextlib.suppress(AzofError, OSError):
                storage.delete(data_file.file)


class AzofWriter(DataSourceArrowWriter):
    """``df.write.format("azof").mode("append")``: tasks write files, the driver commits
    them as one version."""

    def __init__(self, target: WriteTarget) -> None:
        self.target = target

    def write(self, iterator: Iterator[pa.RecordBatch]) -> WrittenFiles:  # type: ignore[override]
        return write_task(self.target, iterator)

    def commit(self, messages: list[WriterCommitMessage | None]) -> None:
        commit_write(self.target, messages)

    def abort(self, messages: list[WriterCommitMessage | None]) -> None:
        """Nothing was committed; the tasks' files are referenced by no version and are
        left to ``vacuum`` (Spark may call this after a failed ``commit`` too)."""


class _BatchLanded(Exception):
    """The micro-batch was committed already (by an earlier run of the query)."""


def _stream_commits(storage: Storage, table: str, stream: str, newest: int, oldest: int) -> int:
    """The greatest batch id the stream committed in versions ``oldest..newest`` (searched
    from the newest; the first commit of the stream found has its latest batch), or -1."""
    for version in range(newest, oldest - 1, -1):
        try:
            entry = tablelog.load_commit(storage, table, version)
        except VersionNotFoundError:
            break  # expired by a vacuum: older versions are gone too
        info = entry.commit if isinstance(entry, Snapshot) else entry[0]
        if info is not None and info.properties.get(STREAM_PROPERTY) == stream:
            return int(info.properties.get(BATCH_PROPERTY, "-1"))
    return -1


def commit_stream_batch(
    target: WriteTarget,
    messages: Sequence[WriterCommitMessage | None],
    batch_id: int,
) -> Snapshot | None:
    """Commit one micro-batch exactly once: ``None`` (and the batch's files removed) when
    the stream committed this batch already (Spark replays the last batch of a query
    restarted before its checkpoint recorded it). A batch older than the stream's last
    committed one is not a replay but a new checkpoint under a used stream id: refused."""
    stream = target.options.stream_id
    if stream is None:  # checked when the writer was made
        raise InvalidArgumentError("a streaming write needs a checkpoint location")
    files = _files(messages)
    parent = _parent(target)
    storage, table = _storage(target.options), target.options.table
    seen = {"version": parent.version}

    def landed(found: int) -> bool:
        if found > batch_id:
            _remove(target, messages)
            raise InvalidArgumentError(
                f"table {table!r}: stream {stream!r} committed batch {found} already, so "
                f"batch {batch_id} is not a replay: a new query (a new checkpoint) writes "
                "under the id of an old one; give it its own option('stream_id', ...)"
            )
        return found == batch_id

    if landed(_stream_commits(storage, table, stream, parent.version, 0)):
        _remove(target, messages)
        return None

    def check(newer: Snapshot) -> None:
        if newer.version > seen["version"]:
            found = _stream_commits(storage, table, stream, newer.version, seen["version"] + 1)
            seen["version"] = newer.version
            if landed(found):
                raise _BatchLanded

    if not files:
        return None
    properties = {STREAM_PROPERTY: stream, BATCH_PROPERTY: str(batch_id)}
    try:
        return _land(target, parent, files, properties, "append", check)
    except _BatchLanded:
        _remove(target, messages)
        return None


try:  # PySpark 4.1+: Arrow batches for streaming writes too
    from pyspark.sql.datasource import DataSourceStreamArrowWriter as _StreamWriterBase
except ImportError:  # pragma: no cover - PySpark 4.0: rows, gathered into batches
    _StreamWriterBase = DataSourceStreamWriter  # type: ignore[misc,assignment]


class AzofStreamWriter(_StreamWriterBase):
    """``writeStream.format("azof")``: each micro-batch is one commit, exactly once."""

    def __init__(self, target: WriteTarget, schema: StructType) -> None:
        self.target = target
        self.arrow_schema = arrow_schema_for_spark(schema)

    def write(self, iterator: Iterator[Any]) -> WrittenFiles:
        return write_task(self.target, arrow_batches(iterator, self.arrow_schema))

    def commit(self, messages: list[WriterCommitMessage | None], batchId: int) -> None:
        commit_stream_batch(self.target, messages, batchId)

    def abort(self, messages: list[WriterCommitMessage | None], batchId: int) -> None:
        """Nothing was committed; the batch's files are left to ``vacuum``."""
