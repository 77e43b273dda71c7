"""``azof log``: a table's commits, oldest first."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import pyarrow as pa

from azof.cli.options import count_option, table_options
from azof.cli.output import output_options, resolve_format, write_arrow
from azof.table import Commit, Table

__all__ = ["commits_table", "log"]

_TIME: pa.Field[Any] = pa.field("time", pa.timestamp("us", tz="UTC"), nullable=False)
LOG_SCHEMA = pa.schema(
    [
        pa.field("version", pa.int64(), nullable=False),
        _TIME,
        pa.field("operation", pa.string(), nullable=False),
        pa.field("rows", pa.int64(), nullable=False),
        pa.field("files", pa.int64(), nullable=False),
        pa.field("parent", pa.int64()),
        pa.field("properties", pa.string()),
    ]
)


def commits_table(commits: Sequence[Commit]) -> pa.Table:
    """The commits as an Arrow table (properties as a JSON object text, null when none)."""
    return pa.Table.from_pylist(
        [
            {
                "version": c.version,
                "time": c.time,
                "operation": c.operation,
                "rows": c.rows,
                "files": c.files,
                "parent": c.parent,
                "properties": json.dumps(dict(c.properties), sort_keys=True)
                if c.properties
                else None,
            }
            for c in commits
        ],
        schema=LOG_SCHEMA,
    )


@click.command(
    epilog="""\b
Examples:
  azof log --path ./lake --table prices
  azof log --path ./lake --table prices --limit 5 --format json
  azof log --path s3://bucket/lake --table t --format csv > commits.csv
"""
)
@table_options
@count_option("--limit", "-n", help="Only the last N commits.")
@output_options
def log(table: Table, limit: int | None, output_format: str | None, output: Path | None) -> None:
    """List a table's retained commits, oldest first.

    Each commit: its version, when it was committed (RFC 3339, UTC), the operation
    (create, append, delete, compact, set_policy; seed for tables written by the Rust
    azof 0.2), the rows and files it added, its parent version and its properties.
    """
    output_format = resolve_format(output_format, output)
    commits = table.log(limit)
    rows = commits_table(commits)
    if output_format == "json":  # properties as an object, not as JSON text
        nested = pa.array(
            [dict(c.properties) if c.properties else None for c in commits],
            pa.map_(pa.string(), pa.string()),
        )
        rows = rows.set_column(rows.schema.get_field_index("properties"), "properties", nested)
    write_arrow(rows, output_format, output, title=f"Log of {table.name}")
