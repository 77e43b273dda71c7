"""``azof scan``: read a table as of an event time (and a commit time)."""

from __future__ import annotations

from pathlib import Path

import click

from azof.cli.options import (
    AS_OF_OPTION,
    KNOWN_AT_OPTION,
    VERSION_OPTION,
    check_one_snapshot,
    count_option,
    table_options,
)
from azof.cli.output import output_options, resolve_format, write_arrow
from azof.predicate import parse_predicate
from azof.table import Table

__all__ = ["scan"]


def split_columns(text: str | None) -> list[str] | None:
    """``"a, b"`` -> ``["a", "b"]``; ``None`` (all columns) when not given."""
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise click.BadParameter("name at least one column, e.g. key,value", param_hint="--columns")
    return names


@click.command(
    epilog="""\b
Examples:
  azof scan --path ./lake --table table0
  azof scan --path ./lake --table table0 --as-of 2024-02-17T00:00:00
  azof scan --path ./lake --table financials --as-of 2019-01-17 \\
      --columns key,revenue,net_income --where "industry IN ('Software')" --limit 5
  azof scan --path s3://bucket/lake --table t --format csv > t.csv
  azof scan --path ./lake --table t --as-of 2024-06-01 --known-at 2024-07-01 -o t.parquet
"""
)
@table_options
@AS_OF_OPTION
@click.option(
    "--columns",
    "-c",
    metavar="A,B,...",
    default=None,
    help="Comma-separated columns to return, in this order (default: all).",
)
@click.option(
    "--where",
    "-w",
    metavar="SQL",
    default=None,
    help="A SQL predicate on the answer, e.g. \"value LIKE 'abc%' AND key IN ('1', '2')\". "
    "Timestamps compare with text such as '2024-03-01' (UTC).",
)
@count_option("--limit", "-n", help="Return at most N rows.")
@VERSION_OPTION
@KNOWN_AT_OPTION
@output_options
def scan(
    table: Table,
    as_of: str | None,
    columns: str | None,
    where: str | None,
    limit: int | None,
    version: int | None,
    known_at: str | None,
    output_format: str | None,
    output: Path | None,
) -> None:
    """Print each key's latest row as of an event time.

    Without --as-of this is the current state. --version / --known-at pick the table
    version (what was known when); with --as-of too, it is a bitemporal read. Timestamps
    print as RFC 3339 in UTC.
    """
    output_format = resolve_format(output_format, output)  # fail before reading anything
    check_one_snapshot(version, known_at)
    predicate = None
    if where is not None:
        schema = table.snapshot_at(version, known_at, whole=False).schema.to_arrow()
        predicate = parse_predicate(where, schema)
    answer = table.scan(
        as_of,
        columns=split_columns(columns),
        filter=predicate,
        version=version,
        known_at=known_at,
    )
    if limit is not None:
        answer = answer.slice(0, limit)
    write_arrow(answer, output_format, output)
