"""``azof gen``: Parquet data files from the seed's CSVs, or realistic sample tables.

Two modes:

- ``--file BASE`` (the seed's ``gen``): read ``BASE.csv`` beside the table's snapshot (a
  headerless CSV: key, event_time as RFC 3339, then the schema's value columns in order),
  type it by the snapshot's schema and write ``BASE.parquet`` beside it. This is how the
  seed tables' data files were made from CSVs; the table's snapshot names the files.
- ``--kind financials|kv``: create the table and fill it with deterministic synthetic data
  from :func:`azof.sample.generate`, one commit per period, with late rows.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import click
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from azof import tablelog
from azof.cli.create import create_table, creates_local_folder
from azof.cli.info import compress_versions
from azof.cli.inputs import arrow_error_text, text_to_timestamps
from azof.cli.options import TABLE_NAME_OPTION, check_timestamp, lakehouse_options
from azof.cli.progress import progress_bar
from azof.cli.results import Stopwatch, emit, plural, result_format_option
from azof.cli.write import WriteReport
from azof.errors import CorruptTableError, InvalidArgumentError, SchemaMismatchError
from azof.lakehouse import Lakehouse
from azof.sample import KINDS, SCHEMAS, generate
from azof.storage import Storage

__all__ = ["csv_to_parquet", "gen"]

_KIND_OPTIONS = ("rows", "keys", "late_fraction", "seed", "start", "end", "period")


def _table_storage(lakehouse: Lakehouse, name: str) -> tuple[Storage, pa.Schema]:
    """The table's storage and the schema its CSVs are typed by.

    Works also when the data files are not written yet, and keeps the nullability the
    snapshot declares (azof reads seed columns as nullable, since the seed never enforced
    it; the files written here carry the declared flags, as the seed's own did).
    """
    try:
        table = lakehouse.table(name)
        storage, version, schema = table.storage, table.version, table.schema
    except CorruptTableError:
        # Lakehouse.table checks that the snapshot's data files exist; producing them is
        # what this command is for, so read the snapshot alone.
        storage = lakehouse.storage.child(name)
        version = tablelog.current_version(storage, name)
        schema = tablelog.load_snapshot(storage, name, version).schema.to_arrow()
    declared = _declared_nullable(storage, version)
    return storage, pa.schema(
        [field.with_nullable(declared.get(field.name, field.nullable)) for field in schema]
    )


def _declared_nullable(storage: Storage, version: int) -> dict[str, bool]:
    """Column name -> the ``nullable`` flag written in snapshot ``version``'s JSON."""
    try:
        raw = json.loads(storage.read(tablelog.snapshot_name(version)))
        columns = raw["schema"]["columns"]
        return {
            str(c["name"]): c["nullable"] for c in columns if isinstance(c.get("nullable"), bool)
        }
    except (FileNotFoundError, ValueError, KeyError, TypeError, AttributeError):
        return {}  # the snapshot was readable a moment ago: keep the decoded flags


def csv_to_parquet(storage: Storage, base: str, schema: pa.Schema, table: str) -> int:
    """Write ``BASE.parquet`` from the headerless ``BASE.csv``, typed by ``schema``; rows."""
    source = f"{base}.csv"
    where = f"table {table!r}: {source}"
    try:
        data = storage.read(source)
    except FileNotFoundError:
        raise InvalidArgumentError(
            f"table {table!r}: no {source} beside its snapshot in {storage.uri}; gen --file "
            "takes the name of a CSV there, without .csv"
        ) from None
    try:
        rows = pcsv.read_csv(
            io.BytesIO(data),
            read_options=pcsv.ReadOptions(column_names=schema.names),
            convert_options=pcsv.ConvertOptions(
                column_types={
                    f.name: pa.string() if pa.types.is_timestamp(f.type) else f.type for f in schema
                },
                null_values=[""],  # only an empty field is null, not Arrow's "NA", "NULL"...
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowException as exc:
        detail = arrow_error_text(exc, schema.names)
        raise SchemaMismatchError(
            f"{where}: {detail} (expected the columns {', '.join(schema.names)})"
        ) from None
    columns = []
    for field in schema:
        column: pa.ChunkedArray[Any] | pa.Array[Any] = rows.column(field.name)
        if pa.types.is_timestamp(field.type):
            unit = field.type.unit
            column = text_to_timestamps(column, unit, f"{where}: column {field.name!r}")
            column = column.cast(field.type)
        if not field.nullable and column.null_count:
            raise SchemaMismatchError(
                f"{where}: column {field.name!r} has {column.null_count} empty value(s) but "
                "may not be null"
            )
        columns.append(column)
    typed = pa.Table.from_arrays(columns, schema=schema)
    sink = pa.BufferOutputStream()
    pq.write_table(typed, sink, compression="none")  # as the seed's files
    storage.write(f"{base}.parquet", sink.getvalue().to_pybytes())
    return typed.num_rows


def _seed_files(
    lakehouse: Lakehouse, table_name: str, bases: Sequence[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Write the Parquet files; their JSON entries and text lines."""
    storage, schema = _table_storage(lakehouse, table_name)
    entries, lines = [], []
    for base in bases:
        name = base.removesuffix(".csv")
        if not name or "/" in name or name.startswith("."):
            raise click.BadParameter(f"{base!r} is not a file name", param_hint="'--file'")
        rows = csv_to_parquet(storage, name, schema, table_name)
        entries.append({"file": f"{name}.parquet", "rows": rows})
        lines.append(f"wrote {table_name}/{name}.parquet: {rows} row{'s' if rows != 1 else ''}")
    return entries, lines


@click.command(
    epilog="""\b
Examples:
  azof gen --path ./seed-tables --table table0 --file base --file delta1
  azof gen --path ./lake --table fin --kind financials --rows 1000000 --keys 5000
  azof gen --path ./lake --table kv --kind kv --rows 100000 --keys 1000 --late-fraction 0.1 \\
      --start 2024-01-01 --end 2024-12-31 --period week

\b
--file BASE reads the headerless BASE.csv beside the table's snapshot (key, event_time
as RFC 3339, then the value columns in schema order) and writes BASE.parquet there.
--kind creates the table and writes synthetic data, deterministic for a --seed: one
commit per --period, about --late-fraction of the rows arriving in a later period than
their event time. financials: key (ticker), event_time (days), industry, revenue,
shares_diluted, net_income; kv: key, event_time, value.
"""
)
@creates_local_folder
@lakehouse_options
@TABLE_NAME_OPTION
@click.option(
    "--file",
    "files",
    multiple=True,
    metavar="BASE",
    help="Write BASE.parquet from BASE.csv beside the table's snapshot (repeatable).",
)
@click.option("--kind", type=click.Choice(KINDS), default=None, help="The sample table to make.")
@click.option(
    "--rows", type=click.IntRange(min=0), default=100_000, show_default=True, help="Rows in all."
)
@click.option(
    "--keys", type=click.IntRange(min=1), default=1_000, show_default=True, help="Distinct keys."
)
@click.option(
    "--late-fraction",
    type=click.FloatRange(0.0, 1.0),
    default=0.02,
    show_default=True,
    help="Fraction of rows that arrive in a later period than their event time.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--start",
    callback=check_timestamp,
    default="2015-01-01",
    show_default=True,
    metavar="TIMESTAMP",
    help="The first event time.",
)
@click.option(
    "--end",
    callback=check_timestamp,
    default="2024-12-31",
    show_default=True,
    metavar="TIMESTAMP",
    help="The last event time (a date alone includes that day).",
)
@click.option(
    "--period",
    type=click.Choice(["day", "week", "month", "quarter", "year"]),
    default="month",
    show_default=True,
    help="One commit per period.",
)
@result_format_option
@click.pass_context
def gen(
    ctx: click.Context,
    lakehouse: Lakehouse,
    table_name: str,
    files: tuple[str, ...],
    kind: str | None,
    rows: int,
    keys: int,
    late_fraction: float,
    seed: int,
    start: str,
    end: str,
    period: str,
    output_format: str,
) -> None:
    """Write a seed table's Parquet files from its CSVs, or generate a sample table.

    --kind prints the rows generated and stored: rows of one commit with the same key and
    event time collapse (the last wins), so fewer may be stored than generated.
    """
    clock = Stopwatch()
    if bool(files) == (kind is not None):
        raise click.UsageError("give either --file BASE (seed CSVs) or --kind (a sample table)")
    if files:
        given = [
            name
            for name in _KIND_OPTIONS
            if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
        ]
        if given:
            options = ", ".join("--" + name.replace("_", "-") for name in given)
            raise click.UsageError(f"{options} go with --kind, not --file")
        entries, lines = _seed_files(lakehouse, table_name, files)
        data = {"table": table_name, "files": entries, "seconds": clock.seconds}
        emit(output_format, "gen", data, lines)
        return
    assert kind is not None
    batches = generate(kind, rows, keys, late_fraction, seed, start, end, period=period)
    table = create_table(lakehouse, table_name, SCHEMAS[kind])
    report = WriteReport()
    with progress_bar(f"Generating {table_name}") as update:
        for batch in batches:
            version = table.append(batch, properties={"source": f"azof gen --kind {kind}"})
            report.record(table, batch.num_rows, version)
            update(report.rows, rows)
    count = len(report.versions)
    text = (
        f"generated {kind} table {table_name}: {report.counts()}, {keys:,} keys, "
        f"{plural(count, 'commit')} (version{'s' if count != 1 else ''} "
        f"{compress_versions(report.versions)})"
    )
    data = {
        "table": table_name,
        "kind": kind,
        "keys": keys,
        **report.to_json(),
        "version": table.version,
        "seconds": clock.seconds,
    }
    emit(output_format, "gen", data, [text])
