"""``azof info`` (a table's versions, schema and segment tree) and ``azof tables``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import click
import pyarrow as pa
import pyarrow.parquet as pq
from rich import box
from rich.markup import escape
from rich.table import Table as RichTable

from azof.cli.options import (
    KNOWN_AT_OPTION,
    VERSION_OPTION,
    check_one_snapshot,
    lakehouse_options,
    table_options,
)
from azof.cli.output import TreeNode, format_size, make_console, print_tree, use_rich
from azof.cli.results import emit, result_format_option
from azof.errors import AzofError
from azof.format import DataFile, Segment, Snapshot
from azof.lakehouse import Lakehouse
from azof.timestamps import format_instant

if TYPE_CHECKING:
    from azof.table import Table

__all__ = ["SEED_TIME_NOTE", "describe_table", "info", "tables"]


# -- the description (also the JSON output) -----------------------------------------------

SEED_TIME_NOTE = (
    "a seed snapshot has no commit record: its commit time is the snapshot file's "
    "modification time, so a copy that does not keep times (cp -r) changes it, and what "
    "--known-at / KNOWN_AT answer (cp -p or rsync -t keep it)"
)


def describe_table(table: Table, snapshot: Snapshot) -> dict[str, Any]:
    """What ``azof info`` shows, as JSON-ready data."""
    sizes = {obj.path: obj.size for obj in table.storage.list("")}
    rows = _missing_rows(table, [f for f in snapshot.files() if f.rows is None])
    if snapshot.commit is not None:
        committed, operation = snapshot.commit.time, snapshot.commit.operation
    else:
        committed, operation = table.commit_time(snapshot.version), "seed"

    def file_entry(data_file: DataFile) -> dict[str, Any]:
        count = data_file.rows if data_file.rows is not None else rows.get(data_file.file)
        return {
            "file": data_file.file,
            "start": _instant(data_file.start),
            "end": _instant(data_file.end),
            "rows": count,
            "size": data_file.size if data_file.size is not None else sizes.get(data_file.file),
            "seq": data_file.seq,
            "bucket": data_file.bucket,
            "tombstones": data_file.tombstones,
        }

    def segment_entry(segment: Segment) -> dict[str, Any]:
        return {
            "id": segment.id,
            "start": _instant(segment.start),
            "end": _instant(segment.end),
            "base": [file_entry(f) for f in segment.base],
            "deltas": [file_entry(f) for f in segment.deltas],
            "segments": [segment_entry(child) for child in segment.children],
        }

    files = [file_entry(f) for f in snapshot.files()]
    return {
        "table": table.name,
        "lakehouse": table.lakehouse.storage.uri,
        "version": snapshot.version,
        "latest_version": table.version,
        "versions": table.versions(),
        "format_version": snapshot.format_version,
        "table_uuid": snapshot.table_uuid or None,
        "committed": _instant(committed),
        "commit_time_from": "commit" if snapshot.commit is not None else "file_modified",
        "operation": operation,
        "key": list(snapshot.schema.key_names),
        "event_time": snapshot.schema.event_time_name,
        "schema": [
            {"name": f.name, "type": str(f.type), "nullable": f.nullable}
            for f in snapshot.schema.to_arrow()
        ],
        "segments": [segment_entry(s) for s in snapshot.segments],
        "deltas": [file_entry(f) for f in snapshot.deltas],
        "files": len(files),
        "rows": _total(f["rows"] for f in files),
        "bytes": _total(f["size"] for f in files),
    }


def _missing_rows(table: Table, files: Sequence[DataFile]) -> dict[str, int]:
    """Row counts from the Parquet footers of files whose snapshot entry has none (seed)."""

    def count(name: str) -> tuple[str, int | None]:
        try:
            with table.storage.open_input(name) as source:
                return name, pq.read_metadata(source).num_rows
        except (OSError, pa.ArrowException, AzofError):
            return name, None

    names = sorted({f.file for f in files})
    if not names:
        return {}
    with ThreadPoolExecutor(max_workers=min(16, len(names))) as pool:
        return {name: rows for name, rows in pool.map(count, names) if rows is not None}


def _instant(instant: int | None) -> str | None:
    return None if instant is None else format_instant(instant)


def _total(values: Iterable[int | None]) -> int | None:
    total = 0
    for value in values:
        if value is None:
            return None
        total += value
    return total


def compress_versions(versions: Sequence[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2, 5"``."""
    runs: list[str] = []
    start = previous = None
    for version in [*versions, None]:
        if previous is not None and version == previous + 1:
            previous = version
            continue
        if start is not None:
            runs.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = version
    return ", ".join(runs) if runs else "none"


# -- rendering -----------------------------------------------------------------------------


def _range(entry: dict[str, Any]) -> str:
    return f"[{entry['start']}, {entry['end'] or 'open'}]"


def _count(value: int | None, rich: bool, *, size: bool = False) -> str:
    if value is None:
        return "?"
    if not rich:
        return str(value)
    return format_size(value) if size else f"{value:,}"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _file_node(parent: TreeNode, kind: str, entry: dict[str, Any], show_range: bool) -> None:
    span = _range(entry) if show_range else ""
    facts = [f"rows={_count(entry['rows'], False)}", f"size={_count(entry['size'], False)}"]
    notes = [f"{_count(entry['rows'], True)} rows", _count(entry["size"], True, size=True)]
    if entry["tombstones"]:
        facts.append(f"deletes={entry['tombstones']}")
        notes.append(_plural(entry["tombstones"], "delete"))
    if entry["bucket"]:
        facts.append(f"bucket={entry['bucket']}")
        notes.append(f"bucket {entry['bucket']}")
    parent.add(
        " ".join([kind, entry["file"], *([span] if span else []), *facts]),
        f"[cyan]{kind}[/] [bold]{escape(entry['file'])}[/]"
        f"{' [dim]' + escape(span) + '[/]' if span else ''}  {', '.join(notes)}",
    )


def _segment_node(parent: TreeNode, entry: dict[str, Any]) -> None:
    node = parent.add(
        f"segment {entry['id']} {_range(entry)}",
        f"[magenta]segment[/] [bold]{escape(entry['id'])}[/] [dim]{escape(_range(entry))}[/]",
    )
    for base in entry["base"]:
        _file_node(node, "base", base, show_range=False)
    for child in entry["segments"]:
        _segment_node(node, child)
    for delta in entry["deltas"]:
        _file_node(node, "delta", delta, show_range=True)


def _trees(described: dict[str, Any]) -> list[TreeNode]:
    """The segment tree, and the pending deltas when there are any."""
    segments = TreeNode("segments:", "[bold]Segments[/]")
    for segment in described["segments"]:
        _segment_node(segments, segment)
    if not described["segments"]:
        segments.add("(none)", "[dim](none)[/]")
    if not described["deltas"]:
        return [segments]
    count = len(described["deltas"])
    pending = TreeNode(f"pending deltas ({count}):", f"[bold]Pending deltas[/] [dim]({count})[/]")
    for delta in described["deltas"]:
        _file_node(pending, "delta", delta, show_range=True)
    return [segments, pending]


def _version_text(described: dict[str, Any]) -> str:
    version, latest = described["version"], described["latest_version"]
    return f"{version} (latest)" if version == latest else f"{version} (latest: {latest})"


def _print_plain(described: dict[str, Any]) -> None:
    totals = (
        f"files={described['files']} rows={_count(described['rows'], False)} "
        f"bytes={_count(described['bytes'], False)}"
    )
    lines = [
        f"table: {described['table']}",
        f"lakehouse: {described['lakehouse']}",
        f"version: {_version_text(described)}",
        f"versions: {compress_versions(described['versions'])}",
        f"format: {described['format_version']}",
        f"key: {', '.join(described['key'])}; event time: {described['event_time']}",
        f"committed: {described['committed']} ({described['operation']})",
        *([f"note: {SEED_TIME_NOTE}"] if described["commit_time_from"] != "commit" else []),
        f"data: {totals}",
        "schema:",
        *(
            "\t".join([f"  {c['name']}", c["type"], *([] if c["nullable"] else ["not null"])])
            for c in described["schema"]
        ),
    ]
    sys.stdout.write("".join(line + "\n" for line in lines))
    for tree in _trees(described):
        print_tree(tree, rich=False)


def _print_rich(described: dict[str, Any]) -> None:
    console = make_console()
    header = RichTable.grid(padding=(0, 2))
    header.add_column(style="bold")
    header.add_column()
    totals = (
        f"{_plural(described['files'], 'file')}, {_count(described['rows'], True)} rows, "
        f"{_count(described['bytes'], True, size=True)}"
    )
    for label, value in [
        ("Table", f"[bold]{escape(described['table'])}[/]"),
        ("Lakehouse", escape(described["lakehouse"])),
        ("Version", _version_text(described)),
        ("Versions", compress_versions(described["versions"])),
        ("Format", str(described["format_version"])),
        ("Key", escape(", ".join(described["key"]))),
        ("Event time", escape(described["event_time"])),
        ("Committed", f"{described['committed']} [dim]({escape(described['operation'])})[/]"),
        *(
            [("Note", f"[yellow]{escape(SEED_TIME_NOTE)}[/]")]
            if described["commit_time_from"] != "commit"
            else []
        ),
        ("Data", totals),
    ]:
        header.add_row(label, value)
    console.print(header)
    schema = RichTable(title="Schema", title_justify="left", box=box.SIMPLE_HEAD)
    schema.add_column("column", style="bold")
    schema.add_column("type")
    schema.add_column("nullable")
    for column in described["schema"]:
        schema.add_row(
            escape(column["name"]), escape(column["type"]), "yes" if column["nullable"] else "no"
        )
    console.print(schema)
    for tree in _trees(described):
        print_tree(tree, rich=True)


# -- commands ------------------------------------------------------------------------------


@click.command(
    epilog="""\b
Examples:
  azof info --path ./lake --table table0
  azof info --path ./lake --table table0 --version 3
  azof info --path s3://bucket/lake --table financials --format json | jq .versions
"""
)
@table_options
@VERSION_OPTION
@KNOWN_AT_OPTION
@click.option(
    "--format",
    "-f",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    help="text (rich on a terminal, plain when piped) or json.",
)
def info(table: Table, version: int | None, known_at: str | None, output_format: str) -> None:
    """Show a table: its versions, schema and segment tree.

    The tree lists each segment with its event-time range [start, end] (end 'open' when
    it has none), its base files, child segments and deltas with their rows and sizes,
    then the pending deltas that compaction has not folded in yet.
    """
    check_one_snapshot(version, known_at)
    described = describe_table(table, table.snapshot_at(version, known_at))
    if output_format == "json":
        sys.stdout.write(json.dumps(described, indent=2) + "\n")
    elif use_rich():
        _print_rich(described)
    else:
        _print_plain(described)


@click.command(
    epilog="""\b
Examples:
  azof tables --path ./lake
  AZOF_PATH=s3://bucket/lake azof tables --storage-option region=eu-west-1
"""
)
@lakehouse_options
@result_format_option
def tables(lakehouse: Lakehouse, output_format: str) -> None:
    """List the tables of a lakehouse, one per line.

    A table that cannot be opened is left out, with a warning line on stderr saying what
    is wrong (the exit code stays 0); with --format json it is also under "unreadable"."""
    names, unreadable = _readable_tables(lakehouse)
    if output_format == "json":
        result = {"lakehouse": lakehouse.uri, "tables": names, "unreadable": unreadable}
        emit(output_format, "tables", result, [])
        return
    if use_rich():
        console = make_console()
        for name in names:
            console.print(f"[bold]{escape(name)}[/]")
        if not names:
            make_console(stderr=True).print(f"[dim]no tables in {escape(lakehouse.uri)}[/]")
        return
    sys.stdout.write("".join(name + "\n" for name in names))


def _readable_tables(lakehouse: Lakehouse) -> tuple[list[str], dict[str, str]]:
    """The tables that open (version hint and snapshot readable) and, by name, what is
    wrong with each other one; one warning line on stderr for each of those, so that one
    broken folder does not hide the rest."""
    names = lakehouse.tables()

    def problem(name: str) -> str | None:
        try:
            lakehouse.table(name)
        except AzofError as exc:
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return text.removeprefix(f"table {name!r}: ")
        return None

    with ThreadPoolExecutor(max_workers=max(1, min(8, len(names)))) as pool:
        problems = list(pool.map(problem, names))
    for name, message in zip(names, problems, strict=True):
        if message is not None:
            click.echo(f"warning: table {name!r} is unreadable: {message}", err=True)
    readable = [name for name, message in zip(names, problems, strict=True) if message is None]
    unreadable = {
        name: message for name, message in zip(names, problems, strict=True) if message is not None
    }
    return readable, unreadable
