"""``azof create``: a new, empty table from a schema text or from a data file's columns."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import pyarrow as pa

from azof.cli.inputs import FORMATS, ColumnMapping, detect_format, infer_schema
from azof.cli.options import TABLE_NAME_OPTION, lakehouse_options
from azof.cli.results import emit, result_format_option, schema_json
from azof.cli.schema_text import format_schema, parse_schema_text
from azof.errors import InvalidArgumentError, TableExistsError
from azof.lakehouse import Lakehouse
from azof.table import Table

__all__ = [
    "create",
    "create_table",
    "creates_local_folder",
    "echo_schema",
    "mapping_options",
    "schema_lines",
]

F = TypeVar("F", bound=Callable[..., Any])


def creates_local_folder(command: F) -> F:
    """Create a missing local lakehouse folder (``--path``) before the lakehouse is opened.

    Apply it above :func:`azof.cli.options.lakehouse_options`. Object-store URIs need no
    folder; a path that exists but is not a folder is left for the lakehouse to refuse.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, path: str, **kwargs: Any) -> Any:
        if "://" not in path or path.lower().startswith("file://"):
            folder = Path(path[len("file://") :] if "://" in path else path).expanduser()
            if not folder.exists():
                folder.mkdir(parents=True)
        return command(*args, path=path, **kwargs)

    return wrapper  # type: ignore[return-value]


def mapping_options(command: F) -> F:
    """``--input-format``, ``--key COL`` and ``--event-time COL`` for reading data files."""
    command = click.option(
        "--event-time",
        "event_time_column",
        metavar="COL",
        default=None,
        help="The file's column that holds the event time (renamed to the table's); with "
        "create --schema: the table's event-time column.",
    )(command)
    command = click.option(
        "--key",
        "key_column",
        metavar="COL",
        default=None,
        help="The file's column that holds the key (renamed to the table's); with create "
        "--schema: the table's key column(s), comma-separated.",
    )(command)
    return click.option(
        "--input-format",
        "input_format",
        type=click.Choice(FORMATS),
        default=None,
        help="The file format (default: from the suffix: .csv, .tsv, .parquet, .json, "
        ".jsonl, .ndjson).",
    )(command)


def create_table(
    lakehouse: Lakehouse,
    name: str,
    schema: pa.Schema,
    *,
    exist_ok: bool = False,
    hint: str = "",
    key: list[str] | None = None,
    event_time: str = "event_time",
) -> Table:
    """``Lakehouse.create_table``, its "exists" error worded for the command line."""
    try:
        return lakehouse.create_table(
            name, schema, key=key or "key", event_time=event_time, exist_ok=exist_ok
        )
    except TableExistsError as exc:
        if exist_ok:
            raise
        where = lakehouse.storage.uri
        hint = hint or "choose another name"
        raise TableExistsError(f"table {name!r} already exists in {where}; {hint}") from exc


def schema_lines(schema: pa.Schema) -> list[str]:
    """The schema as indented text lines (``  name<TAB>type``)."""
    return [f"  {line}" for line in format_schema(schema).splitlines()]


def echo_schema(schema: pa.Schema) -> None:
    for line in schema_lines(schema):
        click.echo(line)


def schema_option_value(text: str) -> pa.Schema:
    """The ``--schema`` text as a schema; a typo is a usage error naming the option."""
    try:
        return parse_schema_text(text)
    except InvalidArgumentError as exc:
        raise click.BadParameter(str(exc), param_hint="'--schema'") from None


@click.command(
    epilog="""\b
Examples:
  azof create --path ./lake --table prices \\
      --schema "key:string, event_time:timestamp[ms, tz=UTC], px:float64, qty:int64"
  azof create --path ./lake --table trades --like trades.parquet --key symbol --event-time ts
  azof create --path s3://bucket/lake --table t --schema "key:int64,event_time:timestamp" \\
      --exist-ok
  azof create --path ./lake --table readings --key sensor_id,metric --event-time reading_ts \\
      --schema "sensor_id:string,metric:string,reading_ts:timestamp,value:float64"

\b
Types: string, int8..int64, uint8..uint64, float32, float64, bool, date32, date64,
decimal(p,s), timestamp[unit] or timestamp[unit, tz=UTC] (unit s|ms|us|ns; plain
'timestamp' is timestamp[ms, tz=UTC]), binary, list<T>; 'NAME:TYPE not null' for a
non-nullable column. key is a string or an integer, event_time a timestamp (stored as UTC).
"""
)
@creates_local_folder
@lakehouse_options
@TABLE_NAME_OPTION
@click.option(
    "--schema",
    "schema_text",
    metavar="TEXT",
    default=None,
    help='The columns as name:type pairs, e.g. "key:string,event_time:timestamp[ms, '
    'tz=UTC],px:float64".',
)
@click.option(
    "--like",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Take the columns from a Parquet, CSV or JSON-lines file (types inferred from its "
    "first block; text timestamps become UTC timestamps).",
)
@mapping_options
@click.option(
    "--exist-ok",
    is_flag=True,
    help="Succeed if the table already exists with the same schema.",
)
@result_format_option
def create(
    lakehouse: Lakehouse,
    table_name: str,
    schema_text: str | None,
    like: Path | None,
    input_format: str | None,
    key_column: str | None,
    event_time_column: str | None,
    exist_ok: bool,
    output_format: str,
) -> None:
    """Create an empty table (version 0) from --schema or --like FILE.

    The table needs a key column (string or integer) and an event_time column (a
    timestamp, stored as UTC); the other columns are its values. With --schema, --key and
    --event-time name the table's own key column(s) (comma-separated: a composite key of
    string, integer, date or timestamp columns) and event-time column, which it keeps.
    With --like, they name the file's columns that become key and event_time.
    """
    if (schema_text is None) == (like is None):
        raise click.UsageError("give the columns with either --schema TEXT or --like FILE")
    if like is None and input_format:
        raise click.UsageError("--input-format goes with --like FILE")
    key_names: list[str] | None = None
    event_time = "event_time"
    if schema_text is not None:
        schema = schema_option_value(schema_text)
        if key_column is not None:
            key_names = [name.strip() for name in key_column.split(",")]
        event_time = event_time_column or event_time
    else:
        assert like is not None
        mapping = ColumnMapping(key=key_column, event_time=event_time_column)
        schema = infer_schema(like, detect_format(like, input_format), mapping)
    existed = exist_ok and table_name in lakehouse.tables()
    table = create_table(
        lakehouse,
        table_name,
        schema,
        exist_ok=exist_ok,
        hint="choose another name, or pass --exist-ok to accept it if its schema is this one",
        key=key_names,
        event_time=event_time,
    )
    if existed:
        text = [f"table {table.name} already exists with this schema (version {table.version})"]
    else:
        text = [
            f"created table {table.name} in {lakehouse.storage.uri} (version {table.version})",
            *schema_lines(table.schema),
        ]
    data = {
        "table": table.name,
        "lakehouse": lakehouse.storage.uri,
        "created": not existed,
        "version": table.version,
        "schema": schema_json(table.schema),
    }
    emit(output_format, "create", data, text)
