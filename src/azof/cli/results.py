"""What commands that change or check a table print: text lines, or one JSON object.

Every such command (``write``, ``delete``, ``compact``, ``vacuum``, ``restore``, ``alter``,
``verify``, ``create``, ``gen``, ``tables``, ``demo``) takes ``--format text|json``
(:func:`result_format_option`) and ends with :func:`emit`: ``text`` prints the lines for
people, ``json`` prints one JSON object on one line for scripts (its keys per command are
in ``docs/cli.md``; every object names the ``command`` and, when it took time, the
``seconds`` it ran). Commands that print rows (``scan``, ``log``, ``sql``...) use
:mod:`azof.cli.output` instead, whose ``--format json`` is JSON lines.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click
import pyarrow as pa

__all__ = [
    "RESULT_FORMATS",
    "Stopwatch",
    "emit",
    "plural",
    "result_format_option",
    "schema_json",
]

RESULT_FORMATS = ("text", "json")

F = TypeVar("F", bound=Callable[..., Any])


class _ResultFormat(click.Choice[str]):
    """``text`` or ``json``; a file format given to a command that reads files is refused
    with a pointer to ``--input-format`` (which ``--format`` used to be)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        reads_files = ctx is not None and any(p.name == "input_format" for p in ctx.command.params)
        if reads_files and str(value).lower() in ("csv", "parquet", "jsonl", "ndjson", "tsv"):
            self.fail(
                f"{value!r} is not one of 'text', 'json': --format chooses what the command "
                f"prints; the input files' format is --input-format",
                param,
                ctx,
            )
        return str(super().convert(value, param, ctx))


def result_format_option(command: F) -> F:
    """``--format text|json`` (``-f``), received as ``output_format``."""
    return click.option(
        "--format",
        "-f",
        "output_format",
        type=_ResultFormat(RESULT_FORMATS),
        default="text",
        show_default=True,
        help="text, or json: one JSON object on one line (its keys: docs/cli.md).",
    )(command)


@dataclass
class Stopwatch:
    """Seconds since it was made (``seconds`` rounded to milliseconds, for JSON)."""

    started: float = field(default_factory=time.perf_counter)

    @property
    def seconds(self) -> float:
        return round(time.perf_counter() - self.started, 3)


def emit(output_format: str, command: str, data: dict[str, Any], text: Iterable[str]) -> None:
    """Print ``text`` (one line each), or ``data`` as one JSON object naming ``command``."""
    if output_format == "json":
        sys.stdout.write(json.dumps({"command": command, **data}, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    for line in text:
        click.echo(line)


def schema_json(schema: pa.Schema) -> list[dict[str, Any]]:
    """The columns as ``[{"name", "type", "nullable"}]`` (as ``azof info --format json``)."""
    return [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]


def plural(count: int, word: str) -> str:
    """``1 file``, ``2,048 files``."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"
