"""``azof write`` (append data files to a table) and ``azof delete`` (delete keys)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import click

from azof.cli.create import create_table, creates_local_folder, mapping_options, schema_lines
from azof.cli.info import compress_versions
from azof.cli.inputs import ColumnMapping, InputFile, detect_format, infer_schema
from azof.cli.options import (
    TABLE_NAME_OPTION,
    check_event_time,
    lakehouse_options,
    table_options,
    typed_keys,
)
from azof.cli.progress import Update, progress_bar
from azof.cli.results import Stopwatch, emit, plural, result_format_option
from azof.errors import AzofError, InvalidArgumentError, TableNotFoundError
from azof.format.types import unit_nanos
from azof.lakehouse import Lakehouse
from azof.table import Table
from azof.timestamps import AS_OF_WORDS, format_instant, parse_as_of, parse_instant

__all__ = ["WriteReport", "delete", "write"]

DEFAULT_BATCH_ROWS = 1_000_000


@dataclass
class WriteReport:
    """What a run of appends committed so far: rows read and stored, and the versions.

    Rows of one commit with the same key and event time collapse (the last one wins), so
    fewer rows may be stored than read; the difference is reported, never hidden.
    """

    rows: int = 0
    """Rows read (given to the appends)."""
    stored: int = 0
    """Rows the commits stored (their data files' row counts)."""
    versions: list[int] = field(default_factory=list)

    @property
    def replaced(self) -> int:
        return self.rows - self.stored

    def record(self, table: Table, rows: int, version: int) -> None:
        """Count an append of ``rows`` rows that returned ``version``.

        The rows stored are those of the commit's record (the sum of the row counts of the
        files it wrote, already in memory): nothing is read again."""
        self.rows += rows
        if rows and version not in self.versions:
            commit = table.snapshot_at(version, whole=False).commit
            self.stored += commit.added_rows if commit is not None else rows
            self.versions.append(version)

    def counts(self) -> str:
        """``5 rows`` or ``82,068 rows read, 82,064 stored (4 replaced ...)``."""
        if not self.replaced:
            return f"{self.rows:,} row{'s' if self.rows != 1 else ''}"
        return (
            f"{self.rows:,} rows read, {self.stored:,} stored ({self.replaced:,} replaced an "
            "earlier row of the same key and event time)"
        )

    def summary(self) -> str:
        if not self.versions:
            return "nothing committed"
        count = len(self.versions)
        return (
            f"{self.counts()} in {count} commit{'s' if count != 1 else ''} "
            f"(version{'s' if count != 1 else ''} {compress_versions(self.versions)})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows,
            "rows_stored": self.stored,
            "rows_replaced": self.replaced,
            "commits": len(self.versions),
            "versions": self.versions,
        }


def _open_or_create(
    lakehouse: Lakehouse, name: str, first: InputFile | None, *, header: bool
) -> tuple[Table, bool]:
    """The table ``name``; with ``first`` (``--create``) a missing one is made like it."""
    try:
        return lakehouse.table(name), False
    except TableNotFoundError:
        if first is None:
            raise
    if not header:
        raise InvalidArgumentError(
            f"--create needs column names: table {name!r} does not exist and --no-header "
            "files name no columns"
        ) from None
    schema = infer_schema(first.path, first.format, first.mapping)
    return create_table(lakehouse, name, schema), True


def _write_file(
    table: Table, source: InputFile, batch_rows: int, report: WriteReport, advance: Update
) -> None:
    """Append ``source`` batch by batch; an error names the file and what was committed."""
    try:
        for batch in source.tables(batch_rows):
            version = table.append(batch, properties={"source": source.path.name})
            report.record(table, batch.num_rows, version)
            advance(source.position, None)
    except AzofError as exc:
        done = f" (committed before it: {report.summary()})" if report.versions else ""
        message = str(exc) if str(source.path) in str(exc) else f"{source.path}: {exc}"
        raise type(exc)(message + done) from exc


@click.command(
    epilog="""\b
Examples:
  azof write --path ./lake --table prices prices-2024-*.csv
  azof write --path ./lake --table trades trades.parquet --key symbol --event-time ts
  azof write --path ./lake --table events events.jsonl --batch-size 100000
  azof write --path ./lake --table new_table data.parquet --create
  azof write --path ./lake --table table0 --no-header delta.csv

\b
Each batch of --batch-size rows is one commit; files are streamed, never loaded whole.
Text timestamps are ISO-8601 / RFC 3339; text without an offset is UTC. CSV and JSON
columns are converted to the table's types. If a file fails, the batches committed
before stay committed (the error says which versions).
"""
)
@creates_local_folder
@lakehouse_options
@TABLE_NAME_OPTION
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@mapping_options
@click.option(
    "--batch-size",
    "batch_rows",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH_ROWS,
    show_default=True,
    metavar="N",
    help="Rows per commit.",
)
@click.option(
    "--no-header",
    is_flag=True,
    help="CSV files have no header line: their fields are the table's columns in order.",
)
@click.option(
    "--create",
    "create_missing",
    is_flag=True,
    help="Create the table from the first file's columns if it does not exist.",
)
@result_format_option
def write(
    lakehouse: Lakehouse,
    table_name: str,
    files: tuple[Path, ...],
    input_format: str | None,
    key_column: str | None,
    event_time_column: str | None,
    batch_rows: int,
    no_header: bool,
    create_missing: bool,
    output_format: str,
) -> None:
    """Append CSV, Parquet or JSON-lines FILES to a table.

    --key and --event-time name the files' columns that hold the key and the event time
    (they are renamed to key and event_time); the other columns must be the table's.
    Prints the rows read and stored (rows of one commit with the same key and event time
    collapse: the last wins) and the versions committed.
    """
    clock = Stopwatch()
    mapping = ColumnMapping(key=key_column, event_time=event_time_column)
    formats = [detect_format(path, input_format) for path in files]  # fail before writing
    first = InputFile(files[0], formats[0], mapping) if create_missing else None
    table, created = _open_or_create(lakehouse, table_name, first, header=not no_header)
    mapping = _mapping_for(table, mapping)
    text = []
    if created:
        text = [f"created table {table.name} (version {table.version}) with columns:"]
        text += schema_lines(table.schema)
    target = table.schema
    sources = [
        InputFile(path, file_format, mapping, target, header=not no_header)
        for path, file_format in zip(files, formats, strict=True)
    ]
    report = WriteReport()
    total = sum(source.size for source in sources)
    with progress_bar(f"Writing {table.name}", counted=False) as update:
        finished = 0

        def advance(position: float, _total: float | None) -> None:
            update(finished + position, total)

        for source in sources:
            _write_file(table, source, batch_rows, report, advance)
            finished += source.size
            update(finished, total)
    text.append(f"wrote {plural(len(files), 'file')} to {table.name}: {report.summary()}")
    data = {
        "table": table.name,
        "created": created,
        "inputs": [str(path) for path in files],
        "bytes": total,
        **report.to_json(),
        "version": table.version,
        "seconds": clock.seconds,
    }
    emit(output_format, "write", data, text)


def _mapping_for(table: Table, mapping: ColumnMapping) -> ColumnMapping:
    """``--key``/``--event-time`` renaming input columns to the table's own key and
    event-time names (a composite key's columns must be named as in the table)."""
    names = table.key_columns
    if len(names) > 1 and mapping.key is not None:
        raise click.UsageError(
            f"table {table.name!r} has a composite key ({', '.join(names)}); name the files' "
            "columns like the table's instead of using --key"
        )
    return replace(mapping, key_target=names[0], time_target=table.event_time_column)


@click.command(
    epilog="""\b
Examples:
  azof delete --path ./lake --table prices AAPL MSFT
  azof delete --path ./lake --table tickets 1042 --event-time 2024-03-01T12:00:00Z
  azof delete --path ./lake --table tickets --where "status = 'closed'" --event-time 2024-03-01

\b
A delete is an event: as of any time at or after --event-time the keys are absent (until
a newer row for them arrives); as of earlier times their old rows still show.
"""
)
@table_options
@click.argument("keys", nargs=-1, metavar="[KEY]...")
@click.option(
    "--where",
    metavar="PREDICATE",
    default=None,
    help="Instead of KEYs: delete every key whose state as of --event-time matches this SQL "
    "predicate, e.g. \"status = 'closed'\".",
)
@click.option(
    "--event-time",
    callback=check_event_time,
    metavar="TIMESTAMP",
    default=None,
    help="When the keys ceased to exist (ISO-8601; no offset means UTC; 'now', or 'today' "
    "for midnight UTC). Default: now.",
)
@result_format_option
def delete(
    table: Table,
    keys: tuple[str, ...],
    where: str | None,
    event_time: str | None,
    output_format: str,
) -> None:
    """Delete KEYs from a table as of an event time (default: now)."""
    if bool(keys) == (where is not None):
        raise click.UsageError("give the KEYs to delete or --where PREDICATE (one of them)")
    clock = Stopwatch()
    if event_time is None or event_time in AS_OF_WORDS:  # the instant, at the table's unit
        per_unit = unit_nanos(table.snapshot_at(whole=False).schema.event_time_type)
        event_time = format_instant(parse_as_of(event_time or "now") // per_unit * per_unit)
    if where is not None:
        before = table.version
        version = table.delete(event_time=event_time, where=where)
        commit = table.snapshot_at(version, whole=False).commit if version != before else None
        count = commit.added_rows if commit is not None else 0
    else:
        typed = typed_keys(table, keys)
        version = table.delete(typed, event_time)
        count = len(set(typed))
    when = format_instant(parse_instant(event_time))
    data = {
        "table": table.name,
        "version": version,
        "keys": count,
        "event_time": when,
        "seconds": clock.seconds,
    }
    text = [f"deleted {plural(count, 'key')} from {table.name} as of {when}: version {version}"]
    emit(output_format, "delete", data, text)
