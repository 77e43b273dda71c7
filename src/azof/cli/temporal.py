"""The temporal analytics commands (``docs/temporal.md``): ``azof history``, ``azof changes``,
``azof restatements`` and ``azof asof-join``, each printing an Arrow table through
:func:`~azof.cli.output.write_arrow` (so ``--format`` / ``--output`` work as in ``scan``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click
import pyarrow as pa

from azof.cli.inputs import FORMATS as INPUT_FORMATS
from azof.cli.inputs import ColumnMapping, InputFile, detect_format
from azof.cli.options import (
    AS_OF_OPTION,
    KNOWN_AT_OPTION,
    VERSION_OPTION,
    check_one_snapshot,
    count_option,
    table_options,
    timestamp_option,
    typed_keys,
)
from azof.cli.output import output_options, resolve_format, write_arrow
from azof.cli.scan import split_columns
from azof.errors import InvalidArgumentError
from azof.table import Table

__all__ = ["asof_join", "changes", "history", "restatements"]

_READ_ROWS = 1_000_000

F = TypeVar("F", bound=Callable[..., Any])

_KEYS_ARGUMENT = click.argument("keys", nargs=-1, metavar="[KEY]...")
_START_OPTION = timestamp_option(
    "--start",
    help="Event-time window start, inclusive (ISO-8601; no offset means UTC). "
    "Default: open (before any event).",
)
_END_OPTION = timestamp_option(
    "--end",
    help="Event-time window end, exclusive. Default: open (the current state).",
)
_COLUMNS_OPTION = click.option(
    "--columns",
    "-c",
    metavar="A,B,...",
    default=None,
    help="Comma-separated value columns to return and compare (default: all).",
)


def _window_options(command: F) -> F:
    """The options of ``history`` and ``changes``: the table, KEYs, an event-time window,
    columns, the table version and the output."""
    for option in reversed(
        (
            table_options,
            _KEYS_ARGUMENT,
            _START_OPTION,
            _END_OPTION,
            _COLUMNS_OPTION,
            VERSION_OPTION,
            KNOWN_AT_OPTION,
            output_options,
        )
    ):
        command = option(command)
    return command


def _keys(table: Table, keys: tuple[str, ...]) -> list[Any] | None:
    """The KEY arguments as the table's keys (:func:`~azof.cli.options.typed_keys`); none:
    every key."""
    return typed_keys(table, keys) if keys else None


@click.command(
    epilog="""\b
Examples:
  azof history --path ./seed-tables --table financials AAPL MSFT
  azof history --path ./seed-tables --table financials AAPL \\
      --start 2019-01-01 --end 2020-01-01 --columns revenue,net_income
  azof history --path ./lake --table prices AAPL --version 1 --format csv
"""
)
@_window_options
def history(
    table: Table,
    keys: tuple[str, ...],
    start: str | None,
    end: str | None,
    columns: str | None,
    version: int | None,
    known_at: str | None,
    output_format: str | None,
    output: Path | None,
) -> None:
    """Print every version of the KEYs (default: every key) as validity intervals.

    One row per version: key, valid_from, valid_to (empty: still valid), is_deleted, then
    the values. With --start / --end, the versions whose interval overlaps [start, end)
    (not clipped). --version / --known-at: the history as the table knew it then.

    This is the history of the data over event time. The table's commits (what deltalake
    calls a table's history) are listed by 'azof log'.
    """
    output_format = resolve_format(output_format, output)
    check_one_snapshot(version, known_at)
    answer = table.history(
        _keys(table, keys),
        start,
        end,
        columns=split_columns(columns),
        version=version,
        known_at=known_at,
    )
    write_arrow(answer, output_format, output)


@click.command(
    epilog="""\b
Examples:
  azof changes --path ./seed-tables --table financials --start 2019-01-01 --end 2019-04-01
  azof changes --path ./lake --table prices --start 2019-02-01 --end 2019-04-01 AAPL
  azof changes --path ./lake --table prices --start 2019-02-01 --known-at 2019-03-01 -o c.csv
"""
)
@_window_options
def changes(
    table: Table,
    keys: tuple[str, ...],
    start: str | None,
    end: str | None,
    columns: str | None,
    version: int | None,
    known_at: str | None,
    output_format: str | None,
    output: Path | None,
) -> None:
    """Print the keys whose state changed in the event-time window [start, end).

    One row per key (only the KEYs, when given): change (insert, delete or update), the
    state before the window (before_event_time, before_<column>...) and at its end
    (after_...). --columns chooses the columns returned and compared.
    """
    output_format = resolve_format(output_format, output)
    check_one_snapshot(version, known_at)
    answer = table.changes(
        start,
        end,
        _keys(table, keys),
        columns=split_columns(columns),
        version=version,
        known_at=known_at,
    )
    write_arrow(answer, output_format, output)


@click.command(
    epilog="""\b
Examples:
  azof restatements --path ./lake --table prices --as-of 2019-01-20 --since-version 2
  azof restatements --path ./lake --table prices --since-version 1 --version 3 AAPL
"""
)
@table_options
@_KEYS_ARGUMENT
@AS_OF_OPTION
@count_option(
    "--since-version",
    required=True,
    help="The version whose answers to compare with (it must not be vacuumed).",
)
@_COLUMNS_OPTION
@VERSION_OPTION
@KNOWN_AT_OPTION
@output_options
def restatements(
    table: Table,
    keys: tuple[str, ...],
    as_of: str | None,
    since_version: int,
    columns: str | None,
    version: int | None,
    known_at: str | None,
    output_format: str | None,
    output: Path | None,
) -> None:
    """Print the answers as of --as-of that commits after --since-version changed.

    Late data, corrections and deletes restate answers: one row per key whose answer
    differs between --since-version and the latest version (or --version / --known-at):
    change (added, removed or changed), old_event_time, old_<column>..., new_....
    """
    output_format = resolve_format(output_format, output)
    check_one_snapshot(version, known_at)
    answer = table.restatements(
        as_of,
        since_version,
        version=version,
        known_at=known_at,
        keys=_keys(table, keys),
        columns=split_columns(columns),
    )
    write_arrow(answer, output_format, output)


def read_left(
    path: Path,
    file_format: str | None,
    table: Table,
    on: list[str],
    at: str,
    known_at: str | None = None,
) -> pa.Table:
    """The rows of ``path`` (CSV, Parquet or JSON lines): the ``on`` columns typed as the
    table's key columns (in key order) and text in column ``at`` (and ``known_at``, if a
    column) read as timestamps (no offset means UTC)."""
    file_format = detect_format(path, file_format)
    schema = table.snapshot_at(whole=False).schema
    if len(on) != len(schema.keys):
        raise InvalidArgumentError(
            f"--on names {len(on)} column(s), but table {table.name!r} has a key of "
            f"{len(schema.keys)} ({', '.join(schema.key_names)}); name them in key order"
        )
    unit = cast(pa.TimestampType, schema.event_time_type).unit
    keys = [(name, column.type) for name, column in zip(on, schema.keys, strict=True)]
    fields = [*keys, (at, pa.timestamp(unit, tz="UTC"))]
    if known_at is not None and known_at not in (*on, at):
        fields.append((known_at, pa.timestamp("us", tz="UTC")))
    target = pa.schema(fields)
    source = InputFile(path, file_format, ColumnMapping(), target)
    parts = list(source.tables(_READ_ROWS))
    if not parts:
        raise InvalidArgumentError(f"{path}: no rows to join")
    frame = pa.concat_tables(parts, promote_options="permissive")
    for name, option in (*((n, "--on") for n in on), (at, "--at")):
        if name not in frame.column_names:
            raise InvalidArgumentError(
                f"{path}: no column {name!r} (name the column with {option}); its columns are "
                f"{', '.join(frame.column_names)}"
            )
    return frame


@click.command(
    "asof-join",
    epilog="""\b
Examples:
  azof asof-join --path ./lake --table prices --left trades.csv --on key --at ts
  azof asof-join --path ./seed-tables --table financials --left orders.parquet \\
      --on symbol --at ordered_at --columns revenue,event_time -o features.parquet
""",
)
@table_options
@click.option(
    "--left",
    "left",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    metavar="FILE",
    help="The rows to join: a CSV, Parquet or JSON-lines file.",
)
@click.option(
    "--left-format",
    type=click.Choice(INPUT_FORMATS),
    default=None,
    help="The format of --left (default: from its suffix).",
)
@click.option(
    "--on",
    default=None,
    metavar="COLS",
    help="The key column(s) of --left, comma-separated in key order (default: the table's "
    "key column names).",
)
@click.option(
    "--at",
    default="ts",
    metavar="COL",
    show_default=True,
    help="The time column of --left (timestamps, dates or ISO-8601 text; no offset means UTC).",
)
@_COLUMNS_OPTION
@click.option(
    "--prefix", default="", metavar="TEXT", help="Put this before the names of the added columns."
)
@click.option(
    "--suffix",
    default="_right",
    show_default=True,
    help="Append this to an added column whose name clashes with a column of --left.",
)
@VERSION_OPTION
@click.option(
    "--known-at",
    default=None,
    metavar="COL|TIMESTAMP",
    help="Commit time: a column of --left (each row sees only the commits made at or before "
    "its own value: no leakage of later corrections) or one instant for all rows.",
)
@output_options
def asof_join(
    table: Table,
    left: Path,
    left_format: str | None,
    on: str | None,
    at: str,
    columns: str | None,
    prefix: str,
    suffix: str,
    version: int | None,
    known_at: str | None,
    output_format: str | None,
    output: Path | None,
) -> None:
    """Print every row of --left with its key's state as of the row's own time.

        Point-in-time correct: a row (key, t) gets the table's values of that key as of event
        time t (null when the key has no event at or before t, or is deleted then); rows keep
        their order. --columns adds only those columns (the event-time column: the matched
    event's time).
    """
    output_format = resolve_format(output_format, output)
    check_one_snapshot(version, known_at)
    on_columns = list(table.key_columns) if on is None else [n.strip() for n in on.split(",")]
    frame = read_left(left, left_format, table, on_columns, at, known_at)
    answer = table.asof_join(
        frame,
        on_columns,
        at,
        columns=split_columns(columns),
        version=version,
        known_at=known_at,
        prefix=prefix,
        suffix=suffix,
    )
    write_arrow(answer, output_format, output)
