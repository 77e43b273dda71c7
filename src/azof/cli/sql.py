"""``azof sql``: run SQL with time travel over a lakehouse, once or at a prompt.

The statements come from the QUERY argument, ``--file``, or stdin: piped statements are run
as they complete, a terminal gets an interactive prompt (:func:`interact`). Queries run in
:class:`azof.sql.ExecutionContext` (DataFusion); results print through
:func:`azof.cli.output.write_arrow`. A script (QUERY, ``--file``, piped stdin) stops at its
first error; the prompt prints the error and goes on.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
import pyarrow as pa

from azof.cli.app import CliState, _describe, _report
from azof.cli.options import lakehouse_options
from azof.cli.output import format_option, output_option, resolve_format, write_arrow
from azof.cli.repl import (
    Item,
    LineReader,
    MetaCommand,
    StatementSplitter,
    history_entry,
    history_path,
    open_reader,
    split_items,
)
from azof.errors import AzofError, InvalidArgumentError, TableNotFoundError
from azof.lakehouse import Lakehouse
from azof.sql import ExecutionContext

__all__ = ["SqlSession", "interact", "sql"]

PROMPT = "azof> "
CONTINUATION = "   -> "

HELP_TEXT = """\
Statements end with ';' and may span lines. Each table of the lakehouse is queryable by
name; after the name, a time-travel clause:
  FROM financials AT ('2019-01-17')              as of an event time (no offset = UTC)
  FROM financials FOR SYSTEM_TIME AS OF '2019-01-17'
  FROM prices AT (TIMESTAMP => '2024-01-31', VERSION => 12)      bitemporal
  FROM prices AT (TIMESTAMP => '2024-01-31', KNOWN_AT => '2024-02-15')
EXPLAIN [ANALYZE] SELECT ... shows the plan and what each table reference read.

Commands:
  .tables          list the tables of the lakehouse
  .schema NAME     show a table's columns
  .help            this text
  .quit, .exit     leave (or Ctrl-D); Ctrl-C clears the statement being typed
"""

_KEYWORDS = (
    *("SELECT", "FROM", "WHERE", "GROUP", "BY", "ORDER", "HAVING", "LIMIT", "OFFSET"),
    *("JOIN", "LEFT", "RIGHT", "FULL", "INNER", "OUTER", "CROSS", "ON", "USING", "AS"),
    *("AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "BETWEEN", "DISTINCT"),
    *("UNION", "ALL", "WITH", "CASE", "WHEN", "THEN", "ELSE", "END", "ASC", "DESC"),
    *("AT", "TIMESTAMP", "VERSION", "KNOWN_AT", "FOR", "SYSTEM_TIME", "OF", "EXPLAIN"),
    *("ANALYZE", "OVER", "PARTITION", "count", "sum", "avg", "min", "max"),
)
"""Completed at the prompt (Tab), with the table names and the meta commands."""
_META = (".tables", ".schema", ".help", ".quit", ".exit")


class Quit(Exception):
    """``.quit`` / ``.exit``: stop reading statements."""


class SqlSession:
    """Runs statements and meta commands, printing each result."""

    def __init__(
        self,
        lakehouse: Lakehouse,
        output_format: str,
        output: Path | None,
        *,
        separate: bool = True,
    ) -> None:
        self.lakehouse = lakehouse
        try:  # imports DataFusion, an optional dependency
            self.context: ExecutionContext = ExecutionContext(lakehouse)
        except ImportError as exc:
            raise click.ClickException(str(exc)) from exc
        self.output_format = output_format
        self.output = output
        self.separate = separate
        """Print an empty line between results (not in JSON lines, nor at the prompt)."""
        self._printed = 0

    def run(self, item: Item) -> None:
        """Run one statement or meta command and print its result; ``Quit`` to stop."""
        if isinstance(item, MetaCommand):
            self._meta(item)
        else:
            self._print(self.query(item.text))

    def query(self, text: str) -> pa.Table:
        """The result of one statement, as an Arrow table."""
        frame = self.context.sql(text)
        try:
            result: pa.Table = frame.to_arrow_table()
        except Exception as exc:  # DataFusion raises plain Exceptions while executing
            if type(exc) is not Exception and not type(exc).__module__.startswith("datafusion"):
                raise
            raise InvalidArgumentError(f"the query failed: {exc}") from None
        return result

    def _print(self, table: pa.Table) -> None:
        separate = self.separate and self.output_format != "json"
        if separate and self.output is None and self._printed:
            sys.stdout.write("\n")
        write_arrow(table, self.output_format, self.output)
        self._printed += 1

    def _meta(self, command: MetaCommand) -> None:
        name, argument = command.name, command.argument
        if name in (".quit", ".exit", ".q"):
            raise Quit
        if name == ".help":
            sys.stdout.write(HELP_TEXT)
            sys.stdout.flush()
        elif name == ".tables":
            self._print(pa.table({"table": pa.array(self.lakehouse.tables(), pa.string())}))
        elif name == ".schema":
            self._print(self._schema(argument))
        else:
            raise InvalidArgumentError(
                f"unknown command {command.text.split()[0]!r}; "
                "commands: .tables, .schema NAME, .help, .quit"
            )

    def _schema(self, argument: str) -> pa.Table:
        names = self.lakehouse.tables()
        if not argument:
            raise InvalidArgumentError(
                f"name a table: .schema NAME (tables: {', '.join(names) or 'none'})"
            )
        quoted = len(argument) > 1 and argument[0] == argument[-1] == '"'
        wanted = argument[1:-1] if quoted else argument
        found = [wanted] if wanted in names else []
        if not found and not quoted:
            found = [n for n in names if n.lower() == wanted.lower()]
        if len(found) != 1:
            raise TableNotFoundError(
                f"no table {wanted!r} in {self.lakehouse.uri} "
                f"(tables: {', '.join(names) or 'none'})"
            )
        schema = self.lakehouse.table(found[0]).schema
        return pa.table(
            {
                "column": pa.array(schema.names, pa.string()),
                "type": pa.array([str(f.type) for f in schema], pa.string()),
                "nullable": pa.array([f.nullable for f in schema], pa.bool_()),
            }
        )


def run_script(session: SqlSession, items: Iterable[Item], source: str | None) -> None:
    """Run ``items`` in order; the first error stops them (it names ``source`` and line)."""
    for item in items:
        try:
            session.run(item)
        except Quit:
            return
        except (AzofError, ValueError) as exc:
            if source is None:
                raise
            message, _ = _describe(exc)
            raise click.ClickException(f"{source}, line {item.line}: {message}") from exc


def interact(session: SqlSession, reader: LineReader, *, debug: bool) -> None:
    """The prompt: read, run, print, until ``.quit`` or Ctrl-D; errors do not stop it."""
    splitter = StatementSplitter()
    typed: list[str] = []  # the lines of the input being typed, for the history
    prompt_to_stderr = not sys.stdout.isatty()  # keep redirected results clean
    while True:
        prompt = CONTINUATION if splitter.pending else PROMPT
        try:
            if prompt_to_stderr:
                sys.stderr.write(prompt)
                sys.stderr.flush()
                prompt = ""
            line = reader.read(prompt)
        except EOFError:  # Ctrl-D
            sys.stderr.write("\n")
            return
        except KeyboardInterrupt:  # Ctrl-C: drop the statement being typed
            sys.stderr.write("^C\n")
            splitter.reset()
            typed.clear()
            continue
        typed.append(line)
        items = splitter.feed(line)
        if not splitter.pending:
            entry = history_entry(typed)
            if entry is not None:
                reader.remember(entry)
            typed.clear()
        for item in items:
            try:
                session.run(item)
            except Quit:
                return
            except (Exception, KeyboardInterrupt) as exc:  # one line, then the next prompt
                _report(exc, debug=debug)


@click.command(
    epilog="""\b
Examples:
  azof sql --path ../shared/seed-tables "SELECT key AS symbol, revenue, net_income
      FROM financials AT ('2019-01-17T00:00:00.000Z')
      WHERE industry IN ('Software') ORDER BY revenue DESC LIMIT 5"
  azof sql --path ./lake "SELECT count(*) FROM prices AT ('2024-01-31')" --format json
  azof sql --path ./lake -f report.sql --format csv
  echo "SELECT * FROM table0 AT ('2024-02-17');" | azof sql --path ./lake
  azof sql --path s3://bucket/lake -o june.parquet \\
      "SELECT * FROM events AT ('2024-06-30T23:59:59Z')"
  azof sql --path ./lake          # the interactive prompt (.help inside it)

\b
Time travel: FROM t AT ('ts'), AT (TIMESTAMP => 'ts', VERSION => n | KNOWN_AT => 'ts'),
FOR SYSTEM_TIME AS OF 'ts'; timestamps without an offset are UTC (see docs/sql.md).
Prompt history: $AZOF_HISTORY (default ~/.azof_history; set it empty for none).
"""
)
@lakehouse_options
@click.argument("query", required=False)
@click.option(
    "--file",
    "-f",
    "file",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=None,
    help="Read the statements from this file ('-' for stdin); they end with ';' and run "
    "in order, each result printed.",
)
@format_option()
@output_option("Write the result to this file (one statement only)")
@click.pass_context
def sql(
    ctx: click.Context,
    lakehouse: Lakehouse,
    query: str | None,
    file: Path | None,
    output_format: str | None,
    output: Path | None,
) -> None:
    """Run SQL over the lakehouse's tables, each as of its own event time.

    QUERY (or --file, or statements piped to stdin) runs and prints each result; with none
    of them on a terminal, an interactive prompt starts. A script stops at its first error.
    """
    output_format = resolve_format(output_format, output)
    if query is not None and file is not None:
        raise click.UsageError("give a QUERY or --file, not both")
    state = ctx.find_object(CliState)
    debug = state.debug if state is not None else False
    if query is None and file is None and _is_tty(sys.stdin):
        if output is not None:
            raise click.UsageError(
                "--output takes the result of a QUERY, --file or piped statements, "
                "not of the interactive prompt"
            )
        _start_prompt(SqlSession(lakehouse, output_format, None, separate=False), debug=debug)
        return
    items, source = _script(query, file)
    if output is not None:  # one result only: check before running anything
        listed = list(items)
        if len(listed) != 1:
            raise click.UsageError(
                f"--output holds the result of one statement; {source or 'the query'} "
                f"has {len(listed)}"
            )
        items = listed
    run_script(SqlSession(lakehouse, output_format, output), items, source)


def _script(query: str | None, file: Path | None) -> tuple[Iterable[Item], str | None]:
    """The items of the QUERY, the file or stdin (run as they arrive), and their source
    for error messages (none for a QUERY of one statement)."""
    if query is not None:
        if not query.strip():
            raise click.BadParameter("the query is empty", param_hint="QUERY")
        items = list(split_items(query.splitlines()))
        return items, "the query" if len(items) > 1 else None
    if file is not None:
        return split_items(_read_lines(file)), "stdin" if str(file) == "-" else str(file)
    return split_items(sys.stdin), "stdin"


def _read_lines(file: Path) -> list[str]:
    if str(file) == "-":
        return sys.stdin.read().splitlines()
    try:
        return file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InvalidArgumentError(f"{file}: not UTF-8 text ({exc.reason})") from None


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _start_prompt(session: SqlSession, *, debug: bool) -> None:
    names = session.lakehouse.tables()  # a wrong --path fails here, before the prompt
    count = f"{len(names)} table{'s' if len(names) != 1 else ''}"
    words = [*_KEYWORDS, *names, *_META]
    reader = open_reader(history_path(), words)
    click.secho(f"azof sql on {session.lakehouse.uri} ({count})", err=True, bold=True)
    click.echo("Statements end with ';'. .help for help, .quit or Ctrl-D to leave.", err=True)
    interact(session, reader, debug=debug)
