"""``azof write`` (append data files to a table) and ``azof delete`` (delete keys)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import click

from azof.cli.create import create_table, creates_local_folder, echo_schema, mapping_options
from azof.cli.info import compress_versions
from azof.cli.inputs import ColumnMapping, InputFile, detect_format, infer_schema
from azof.cli.options import (
    TABLE_NAME_OPTION,
    check_timestamp,
    lakehouse_options,
    table_options,
    typed_keys,
)
from azof.cli.progress import Update, progress_bar
from azof.errors import AzofError, InvalidArgumentError, TableNotFoundError
from azof.lakehouse import Lakehouse
from azof.table import Table
from azof.timestamps import format_instant, parse_instant

__all__ = ["delete", "write"]

DEFAULT_BATCH_ROWS = 1_000_000


@dataclass
class WriteReport:
    """What ``write`` committed so far."""

    rows: int = 0
    versions: list[int] = field(default_factory=list)

    def summary(self) -> str:
        if not self.versions:
            return "nothing committed"
        count = len(self.versions)
        return (
            f"{self.rows} rows in {count} commit{'s' if count != 1 else ''} "
            f"(version{'s' if count != 1 else ''} {compress_versions(self.versions)})"
        )


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
            report.rows += batch.num_rows
            report.versions.append(version)
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
) -> None:
    """Append CSV, Parquet or JSON-lines FILES to a table.

    --key and --event-time name the files' columns that hold the key and the event time
    (they are renamed to key and event_time); the other columns must be the table's.
    Prints the rows written and the versions committed.
    """
    mapping = ColumnMapping(key=key_column, event_time=event_time_column)
    formats = [detect_format(path, input_format) for path in files]  # fail before writing
    first = InputFile(files[0], formats[0], mapping) if create_missing else None
    table, created = _open_or_create(lakehouse, table_name, first, header=not no_header)
    mapping = _mapping_for(table, mapping)
    if created:
        click.echo(f"created table {table.name} (version {table.version}) with columns:")
        echo_schema(table.schema)
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
    files_text = f"{len(files)} file{'s' if len(files) != 1 else ''}"
    click.echo(f"wrote {files_text} to {table.name}: {report.summary()}")


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

\b
A delete is an event: as of any time at or after --event-time the keys are absent (until
a newer row for them arrives); as of earlier times their old rows still show.
"""
)
@table_options
@click.argument("keys", nargs=-1, required=True, metavar="KEY...")
@click.option(
    "--event-time",
    callback=check_timestamp,
    metavar="TIMESTAMP",
    default=None,
    help="When the keys ceased to exist (ISO-8601; no offset means UTC). Default: now.",
)
def delete(table: Table, keys: tuple[str, ...], event_time: str | None) -> None:
    """Delete KEYs from a table as of an event time (default: now)."""
    typed = typed_keys(table, keys)
    version = table.delete(typed, event_time)
    when = "now" if event_time is None else format_instant(parse_instant(event_time))
    count = len(set(typed))
    click.echo(
        f"deleted {count} key{'s' if count != 1 else ''} from {table.name} as of {when}: "
        f"version {version}"
    )
