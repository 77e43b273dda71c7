"""The ``azof`` command group, its command registry and its single error boundary.

Adding a command: write ``src/azof/cli/<name>.py`` with a ``@click.command()`` function
(use :mod:`azof.cli.options` for ``--path``/``--table`` and :mod:`azof.cli.output` to
print), then add one line to :data:`COMMANDS` and one to :data:`SUMMARIES`. Commands are
imported only when used (``azof --help`` lists them from :data:`SUMMARIES`), so
one with heavy or optional imports (``sql``) does not slow down or break the others.

Errors: :func:`main` turns every exception into one ``error: ...`` line on stderr and a
non-zero exit code (2 for usage errors, 1 otherwise); ``--debug`` (or ``AZOF_DEBUG=1``)
prints the traceback too.
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click

from azof import __version__
from azof.errors import AzofError

__all__ = ["COMMANDS", "DEBUG_ENV", "LOG_ENV", "SUMMARIES", "CliState", "cli", "main"]

DEBUG_ENV = "AZOF_DEBUG"
LOG_ENV = "AZOF_LOG"
"""``AZOF_LOG=INFO`` (or ``DEBUG``) prints the ``azof`` logger's records on stderr."""

COMMANDS: dict[str, str] = {
    "alter": "azof.cli.alter:alter",
    "asof-join": "azof.cli.temporal:asof_join",
    "changes": "azof.cli.temporal:changes",
    "compact": "azof.cli.maintenance:compact",
    "create": "azof.cli.create:create",
    "delete": "azof.cli.write:delete",
    "demo": "azof.cli.demo:demo",
    "gen": "azof.cli.gen:gen",
    "history": "azof.cli.temporal:history",
    "info": "azof.cli.info:info",
    "log": "azof.cli.log:log",
    "restatements": "azof.cli.temporal:restatements",
    "restore": "azof.cli.maintenance:restore",
    "scan": "azof.cli.scan:scan",
    "sql": "azof.cli.sql:sql",
    "tables": "azof.cli.info:tables",
    "vacuum": "azof.cli.maintenance:vacuum",
    "verify": "azof.cli.maintenance:verify",
    "write": "azof.cli.write:write",
}
"""Command name -> ``module:attribute`` of its click command, imported on first use."""

SUMMARIES: dict[str, str] = {
    "alter": "Change a table's schema as one commit (older versions keep theirs).",
    "asof-join": "Print every row of --left with its key's state as of the row's own time.",
    "changes": "Print the keys whose state changed in the event-time window [start, end).",
    "compact": "Fold a table's pending deltas into its segment tree.",
    "create": "Create an empty table (version 0) from --schema or --like FILE.",
    "delete": "Delete KEYs from a table as of an event time (default: now).",
    "demo": "Build a demo lakehouse of support tickets and show it as of several event times.",
    "gen": "Write a seed table's Parquet files from its CSVs, or generate a sample table.",
    "history": "Print every version of the KEYs (default: every key) as validity intervals.",
    "info": "Show a table: its versions, schema and segment tree.",
    "log": "List a table's retained commits, oldest first.",
    "restatements": "Print the answers as of --as-of that commits after --since-version changed.",
    "restore": "Make a table's state that of an earlier version again (a new commit).",
    "scan": "Print each key's latest row as of an event time.",
    "sql": "Run SQL over the lakehouse's tables, each as of its own event time.",
    "tables": "List the tables of a lakehouse, one per line.",
    "vacuum": "Expire old versions and delete the data files no retained version references.",
    "verify": "Check every data file of a version (default: the latest), with its keys and times.",
    "write": "Append CSV, Parquet or JSON-lines FILES to a table.",
}
"""The first line of each command's help, for ``azof --help``: listing the commands imports
none of them (a test keeps these equal to the commands' own docstrings)."""


class StdoutClosed(Exception):
    """The reader of stdout closed it (``azof scan ... | head``): not an error."""


@dataclass
class CliState:
    """What the group learns before a command runs (``ctx.obj``)."""

    debug: bool = False


class LazyGroup(click.Group):
    """A group whose commands (from :data:`COMMANDS`) are imported when first needed."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``, from :data:`SUMMARIES` for commands not loaded."""
        rows = []
        for name in self.list_commands(ctx):
            loaded = self.commands.get(name)
            if loaded is not None and loaded.hidden:
                continue
            summary = SUMMARIES.get(name) if loaded is None else None
            if summary is None:
                command = loaded or self.get_command(ctx, name)
                summary = command.get_short_help_str(formatter.width) if command else ""
            rows.append((name, summary))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if exc.errno == errno.EPIPE:  # before click turns it into exit code 1
                raise StdoutClosed from exc
            raise

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.lazy_commands:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = self.lazy_commands[cmd_name].partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy_commands[cmd_name]} is not a click command")
        self.add_command(command, cmd_name)
        return command


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  azof tables --path ./lake
  azof scan --path ./lake --table table0 --as-of 2024-02-17T00:00:00
  azof info --path s3://bucket/lake --table financials

Run 'azof COMMAND --help' for a command's options. Environment: AZOF_PATH (default
--path), AZOF_STORAGE_OPTIONS (JSON object of storage options), AWS_*/GOOGLE_*/AZURE_*
(read by the object store), AZOF_OUTPUT=plain|rich, AZOF_DEBUG=1, AZOF_LOG=INFO|DEBUG
(log commits, compaction plans, retries and slow storage calls on stderr).
""",
)
@click.version_option(
    __version__, "--version", "-V", prog_name="azof", message="%(prog)s %(version)s"
)
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """azof: lakehouse tables with event-time travel."""
    state = ctx.ensure_object(CliState)
    state.debug = state.debug or debug


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; the exit code is returned (the console script exits with it)."""
    state = CliState(debug=_env_flag(DEBUG_ENV))
    _log_to_stderr(os.environ.get(LOG_ENV, ""))
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="azof",
            standalone_mode=False,
            obj=state,
        )
        sys.stdout.flush()
    except BaseException as exc:  # the one boundary: nothing escapes as a traceback
        return _report(exc, debug=state.debug)
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def _log_to_stderr(setting: str) -> None:
    """Send the ``azof`` logger's records at ``setting`` (``$AZOF_LOG``: DEBUG, INFO or
    WARNING) and above to stderr; an unknown setting is one warning line, logging off."""
    level = setting.strip().upper()
    if level in ("", "0", "OFF", "NONE"):
        return
    if level not in ("DEBUG", "INFO", "WARNING"):
        click.echo(
            f"warning: ${LOG_ENV}={setting.strip()!r} is not DEBUG, INFO or WARNING; "
            "nothing is logged",
            err=True,
        )
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("azof")
    logger.addHandler(handler)
    logger.setLevel(level)


def _report(exc: BaseException, *, debug: bool) -> int:
    """Print ``exc`` as one line on stderr (and its traceback when debugging); the exit code."""
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if isinstance(exc, StdoutClosed) or (isinstance(exc, OSError) and exc.errno == errno.EPIPE):
        _silence_stdout()
        return 0  # the reader had enough: normal for a command in a pipe, as for cat or ls
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        click.echo(exc.ctx.get_help(), err=True)
        return exc.exit_code
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    message, code = _describe(exc)
    try:
        sys.stdout.flush()
    except OSError:
        _silence_stdout()
    click.echo(f"error: {message}", err=True)
    return code


def _describe(exc: BaseException) -> tuple[str, int]:
    """The one-line message and exit code of an exception."""
    if isinstance(exc, click.UsageError):
        hint = ""
        bad_value = isinstance(exc, click.BadParameter) and not isinstance(
            exc, click.MissingParameter
        )
        if exc.ctx is not None and not bad_value:
            hint = f" (see '{exc.ctx.command_path} --help')"
        return _one_line(exc.format_message()) + hint, exc.exit_code
    if isinstance(exc, click.ClickException):
        return _one_line(exc.format_message()), exc.exit_code
    if isinstance(exc, (click.Abort, KeyboardInterrupt)):
        return "interrupted", 130
    if isinstance(exc, (AzofError, ValueError)):
        return _one_line(str(exc)) or type(exc).__name__, 1
    if isinstance(exc, OSError):
        if exc.filename is not None and exc.strerror:
            return f"{exc.strerror}: {exc.filename}", 1
        return _one_line(str(exc)) or type(exc).__name__, 1
    detail = _one_line(str(exc))
    return (
        f"unexpected {type(exc).__name__}{': ' + detail if detail else ''} "
        "(a bug in azof? rerun with --debug and report the traceback)",
        1,
    )


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[0] if len(lines) == 1 else f"{lines[0]} (...)"


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so that the exit flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
