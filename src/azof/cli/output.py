"""How the CLI prints: rich on a terminal, stable plain text when piped, or a file format.

Every command prints through this module so that the choice is made in one place:

- :func:`use_rich` says whether stdout gets rich rendering (a TTY, unless ``AZOF_OUTPUT``
  is ``plain``; ``AZOF_OUTPUT=rich`` forces it);
- :func:`write_arrow` writes an Arrow table as a rich table, plain tab-separated text, CSV,
  JSON lines or Parquet (``--format`` / ``--output``, see :func:`output_options`);
- :class:`TreeNode` and :func:`print_tree` draw a tree (rich's Tree, or indented text);
- :func:`text_column` is the display text of a column (timestamps as RFC 3339 UTC).

Plain text is for scripts and stays stable: a header line, then one line per row, fields
separated by a tab, nulls as empty fields, and tab, newline, carriage return and backslash
inside values escaped as ``\\t``, ``\\n``, ``\\r`` and ``\\\\``.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar, cast

import click
import pyarrow as pa
import pyarrow.parquet as pq
from rich import box
from rich.console import Console
from rich.filesize import decimal
from rich.markup import escape
from rich.table import Table as RichTable
from rich.text import Text
from rich.tree import Tree

from azof.cli.export import text_array, write_rows

__all__ = [
    "FORMATS",
    "OUTPUT_ENV",
    "TreeNode",
    "format_option",
    "format_size",
    "make_console",
    "output_option",
    "output_options",
    "print_tree",
    "resolve_format",
    "text_column",
    "use_rich",
    "write_arrow",
]

OUTPUT_ENV = "AZOF_OUTPUT"
FORMATS = ("table", "csv", "json", "parquet")
RICH_MAX_ROWS = 1_000
"""A terminal shows at most this many rows (unless --limit asks for more)."""

_SUFFIXES = {
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".tsv": "table",
    ".txt": "table",
}

F = TypeVar("F", bound=Callable[..., Any])


def use_rich(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (stdout) gets rich output: a terminal, unless ``$AZOF_OUTPUT``."""
    mode = os.environ.get(OUTPUT_ENV, "").strip().lower()
    if mode in ("rich", "plain"):
        return mode == "rich"
    stream = stream if stream is not None else sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def format_size(nbytes: int | None) -> str:
    """A byte count as people read it, the one size format of the CLI: ``1.0 MB``, ``512
    bytes`` (decimal units, as rich's file sizes); ``?`` when unknown."""
    return "?" if nbytes is None else decimal(nbytes)


def make_console(*, stderr: bool = False) -> Console:
    """A rich console on stdout (or stderr), forced to a terminal by ``AZOF_OUTPUT=rich``."""
    forced = os.environ.get(OUTPUT_ENV, "").strip().lower() == "rich"
    return Console(stderr=stderr, highlight=False, force_terminal=True if forced else None)


# -- Arrow tables --------------------------------------------------------------------------


def output_options(command: F) -> F:
    """Add ``--format`` (``-f``) and ``--output``; pass them on to :func:`write_arrow`."""
    return format_option("-f")(output_option()(command))


def format_option(*short: str) -> Callable[[F], F]:
    """The ``--format`` option (also named ``short``), received as ``output_format``."""
    return click.option(
        "--format",
        *short,
        "output_format",
        type=click.Choice(FORMATS),
        default=None,
        help="table (rich on a terminal, tab-separated when piped), csv, json (JSON lines) "
        "or parquet (needs --output). Default: from the --output suffix, else table.",
    )


def output_option(
    what: str = "Write to this file instead of stdout",
) -> Callable[[F], F]:
    """The ``--output`` / ``-o`` option: ``what`` it does, then how its suffix sets the format."""
    return click.option(
        "--output",
        "-o",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        default=None,
        help=f"{what}; its suffix (.csv, .json, .jsonl, .parquet, .tsv) sets the format unless "
        "--format is given.",
    )


def resolve_format(output_format: str | None, output: Path | None) -> str:
    """The format to write: the one asked for, else the output file's suffix, else table."""
    if output_format is None:
        output_format = _SUFFIXES.get(output.suffix.lower(), "table") if output else "table"
    if output_format == "parquet" and output is None:
        raise click.UsageError(
            "--format parquet writes a binary file; give it with --output FILE.parquet"
        )
    return output_format


def write_arrow(
    table: pa.Table,
    output_format: str | None = None,
    output: Path | None = None,
    *,
    title: str | None = None,
) -> None:
    """Write ``table`` in ``output_format`` to ``output`` (a file) or stdout.

    On stdout, ``table`` is rich when :func:`use_rich`, else plain tab-separated text. A
    file is written with a progress bar on a terminal (for long exports), then one line on
    stderr names it and its row count.
    """
    output_format = resolve_format(output_format, output)
    if output is None:
        if output_format == "table" and use_rich():
            make_console().print(rich_table(table, title=title))
            return
        _write_stdout(table, output_format)
        return
    from azof.cli.progress import progress_bar  # it prints through this module

    with progress_bar(f"Writing {output.name}") as update:
        if output_format == "parquet":
            pq.write_table(table, output)
        else:
            with output.open("wb") as stream:
                write_rows(table, output_format, stream, lambda done: update(done, table.num_rows))
    count = table.num_rows
    click.echo(f"wrote {count:,} row{'s' if count != 1 else ''} to {output}", err=True)


def _write_stdout(table: pa.Table, output_format: str) -> None:
    """Write ``table`` in a text format to stdout (to its byte buffer when it has one)."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    sink = buffer if buffer is not None else cast(IO[bytes], _TextSink(sys.stdout))
    write_rows(table, output_format, sink)
    (buffer or sys.stdout).flush()


class _TextSink(io.RawIOBase):
    """A byte sink writing the UTF-8 it receives to a text stream (whole chunks of lines,
    so characters are never split)."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self._stream = stream

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self._stream.write(view.tobytes().decode("utf-8"))
        return view.nbytes


def _write_text(table: pa.Table, output_format: str, stream: IO[str]) -> None:
    write_rows(table, output_format, cast(IO[bytes], _TextSink(stream)))


def write_plain(table: pa.Table, stream: IO[str]) -> None:
    """Tab-separated text: a header line, then the rows (see the module docstring)."""
    _write_text(table, "table", stream)


def write_csv(table: pa.Table, stream: IO[str]) -> None:
    """CSV (RFC 4180, quotes only where needed); nulls are empty fields."""
    _write_text(table, "csv", stream)


def write_json_lines(table: pa.Table, stream: IO[str]) -> None:
    """One JSON object per row; timestamps as RFC 3339 text, NaN and infinities as null."""
    _write_text(table, "json", stream)


def rich_table(table: pa.Table, *, title: str | None = None) -> RichTable:
    """A rich table of (at most :data:`RICH_MAX_ROWS` rows of) ``table``."""
    shown = table.slice(0, RICH_MAX_ROWS)
    count = f"{table.num_rows:,} row{'s' if table.num_rows != 1 else ''}"
    caption = (
        count
        if shown.num_rows == table.num_rows
        else (
            f"first {shown.num_rows:,} of {count}; use --limit, --output or --format csv for more"
        )
    )
    view = RichTable(title=title, caption=caption, box=box.SIMPLE_HEAD, header_style="bold")
    for column in table.schema:
        numeric = pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
        view.add_column(escape(column.name), justify="right" if numeric else "left")
    null = Text("null", style="dim italic")
    for rows in _text_rows(shown):
        for row in rows:
            view.add_row(*(null if v is None else Text(v) for v in row))
    return view


def text_column(column: pa.ChunkedArray[Any] | pa.Array[Any]) -> list[str | None]:
    """The display text of every value (``None`` for null): timestamps as RFC 3339 in UTC
    with the column's precision, booleans as true/false, nested values as JSON."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    return [text for chunk in chunks for text in text_array(chunk).to_pylist()]


def _text_rows(table: pa.Table) -> Iterator[list[tuple[str | None, ...]]]:
    for batch in table.to_batches(max_chunksize=10_000):
        columns = [text_column(batch.column(i)) for i in range(batch.num_columns)]
        yield list(zip(*columns, strict=True))


# -- trees ---------------------------------------------------------------------------------


@dataclass
class TreeNode:
    """A node to draw: ``text`` is plain, ``markup`` (optional) the rich rendering of it."""

    text: str
    markup: str | None = None
    children: list[TreeNode] = field(default_factory=list)

    def add(self, text: str, markup: str | None = None) -> TreeNode:
        child = TreeNode(text, markup)
        self.children.append(child)
        return child


def print_tree(root: TreeNode, *, rich: bool | None = None, indent: str = "  ") -> None:
    """Draw ``root`` with rich's Tree on a terminal, else as text indented by ``indent``."""
    if rich if rich is not None else use_rich():
        make_console().print(_rich_tree(root))
        return
    lines: list[str] = []
    _plain_tree(root, 0, indent, lines)
    sys.stdout.write("".join(line + "\n" for line in lines))
    sys.stdout.flush()


def _rich_tree(node: TreeNode, parent: Tree | None = None) -> Tree:
    label = node.markup if node.markup is not None else escape(node.text)
    tree = Tree(label) if parent is None else parent.add(label)
    for child in node.children:
        _rich_tree(child, tree)
    return tree


def _plain_tree(node: TreeNode, depth: int, indent: str, lines: list[str]) -> None:
    lines.append(indent * depth + node.text)
    for child in node.children:
        _plain_tree(child, depth + 1, indent, lines)
