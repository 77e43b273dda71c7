"""``azof alter``: change a table's schema (add, drop, rename, widen, move columns)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import click
import pyarrow as pa

from azof.cli.create import schema_lines
from azof.cli.options import table_options
from azof.cli.results import emit, plural, result_format_option, schema_json
from azof.cli.schema_text import parse_type
from azof.errors import InvalidArgumentError
from azof.table import Table
from azof.write.evolve import SchemaUpdate

__all__ = ["alter", "parse_add", "parse_default"]

_ADD = re.compile(
    r"^(?P<type>.+?)(?P<not_null>\s+not\s+null)?(?:\s+default\s+(?P<default>.*))?$",
    re.IGNORECASE | re.DOTALL,
)
_MOVE = re.compile(r"^(?P<name>[^:]+):(?P<where>before|after):(?P<anchor>.+)$", re.IGNORECASE)


def _pair(text: str, option: str, example: str) -> tuple[str, str]:
    name, sep, rest = text.partition(":")
    if not sep or not name.strip() or not rest.strip():
        raise click.BadParameter(f"{text!r} is not {example}", param_hint=f"'{option}'")
    return name.strip(), rest.strip()


def _type(text: str, option: str) -> pa.DataType:
    try:
        return parse_type(text)
    except InvalidArgumentError as exc:
        raise click.BadParameter(str(exc), param_hint=f"'{option}'") from None


def parse_default(text: str, dtype: pa.DataType) -> Any:
    """A default given on the command line, as the Python value ``add_column`` takes:
    numbers and ``true``/``false`` for those types, text (quotes optional) otherwise."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    try:
        if pa.types.is_boolean(dtype):
            if text.lower() not in ("true", "false"):
                raise ValueError("not true or false")
            return text.lower() == "true"
        if pa.types.is_integer(dtype):
            return int(text)
        if pa.types.is_floating(dtype):
            return float(text)
    except ValueError:
        raise click.BadParameter(
            f"default {text!r} does not fit {dtype}", param_hint="'--add'"
        ) from None
    return text


def parse_add(text: str) -> tuple[str, pa.DataType, bool, Any]:
    """``NAME:TYPE [not null] [default VALUE]`` -> (name, type, nullable, default)."""
    name, rest = _pair(text, "--add", "NAME:TYPE [not null] [default VALUE], e.g. qty:int64")
    match = _ADD.match(rest)
    assert match is not None  # the pattern matches any non-empty text
    dtype = _type(match["type"], "--add")
    default = None if match["default"] is None else parse_default(match["default"], dtype)
    return name, dtype, match["not_null"] is None, default


def _changes(
    update: SchemaUpdate,
    renames: Sequence[str],
    drops: Sequence[str],
    adds: Sequence[str],
    widens: Sequence[str],
    moves: Sequence[str],
    reorder: str | None,
) -> SchemaUpdate:
    for text in renames:
        old, new = _pair(text, "--rename", "OLD:NEW, e.g. px:price")
        update = update.rename_column(old, new)
    for name in drops:
        update = update.drop_column(name.strip())
    for text in adds:
        name, dtype, nullable, default = parse_add(text)
        update = update.add_column(name, dtype, nullable=nullable, default=default)
    for text in widens:
        name, type_text = _pair(text, "--widen", "NAME:TYPE, e.g. volume:int64")
        update = update.widen(name, _type(type_text, "--widen"))
    for text in moves:
        match = _MOVE.match(text.strip())
        if match is None:
            raise click.BadParameter(
                f"{text!r} is not NAME:before:OTHER or NAME:after:OTHER", param_hint="'--move'"
            )
        name, anchor = match["name"].strip(), match["anchor"].strip()
        if match["where"].lower() == "before":
            update = update.move_column(name, before=anchor)
        else:
            update = update.move_column(name, after=anchor)
    if reorder is not None:
        names = [name.strip() for name in reorder.split(",") if name.strip()]
        update = update.reorder(names)
    return update


@click.command(
    epilog="""\b
Examples:
  azof alter --path ./lake --table prices --add currency:string --rename px:price \\
      --widen volume:int64 --drop legacy
  azof alter --path ./lake --table prices --add "qty:int64 not null default 0"
  azof alter --path ./lake --table prices --move currency:after:price --dry-run
  azof alter --path ./lake --table prices --reorder price,volume,currency

\b
All changes land as one commit; no data file is rewritten. They apply in this order, each
to the columns as the ones before left them: --rename, --drop, --add, --widen, --move,
--reorder. Types are those of 'azof create --schema'. Widening: int8 -> int16 -> int32 ->
int64, uint8 -> ... -> uint64, float32 -> float64, decimal(p,s) -> decimal(p'>p,s),
timestamp unit finer, string -> large_string. key and event_time cannot be changed.
"""
)
@table_options
@click.option(
    "--rename", "renames", multiple=True, metavar="OLD:NEW", help="Rename a column (repeatable)."
)
@click.option("--drop", "drops", multiple=True, metavar="NAME", help="Drop a column (repeatable).")
@click.option(
    "--add",
    "adds",
    multiple=True,
    metavar="'NAME:TYPE [not null] [default V]'",
    help="Add a column at the end (repeatable). Older rows read the default, or null.",
)
@click.option(
    "--widen",
    "widens",
    multiple=True,
    metavar="NAME:TYPE",
    help="Change a column to a wider type (repeatable).",
)
@click.option(
    "--move",
    "moves",
    multiple=True,
    metavar="NAME:before|after:OTHER",
    help="Move a column next to another one (repeatable).",
)
@click.option("--reorder", metavar="A,B,...", default=None, help="Put every value column in order.")
@click.option("--dry-run", is_flag=True, help="Print the schema the changes give; commit nothing.")
@result_format_option
def alter(
    table: Table,
    renames: tuple[str, ...],
    drops: tuple[str, ...],
    adds: tuple[str, ...],
    widens: tuple[str, ...],
    moves: tuple[str, ...],
    reorder: str | None,
    dry_run: bool,
    output_format: str,
) -> None:
    """Change a table's schema as one commit (older versions keep theirs).

    Rows written before read correctly under the new schema: renamed columns by their id,
    added columns as their default (or null), widened columns cast. Prints the new schema.
    """
    if not (renames or drops or adds or widens or moves or reorder is not None):
        raise click.UsageError("give at least one change: --add, --drop, --rename, --widen, ...")
    update = _changes(table.evolve(), renames, drops, adds, widens, moves, reorder)
    count = len(update.changes)
    if dry_run:
        schema = update.schema
        version = None
        text = [f"dry run: {table.name} would get this schema (nothing committed):"]
    else:
        version = update.commit()
        schema = table.snapshot_at(version, whole=False).schema.to_arrow()
        text = [f"altered {table.name}: version {version} ({plural(count, 'change')})"]
    data = {
        "table": table.name,
        "dry_run": dry_run,
        "version": version,
        "changes": count,
        "schema": schema_json(schema),
    }
    emit(output_format, "alter", data, [*text, *schema_lines(schema)])
