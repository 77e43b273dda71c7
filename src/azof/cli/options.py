"""Options shared by the commands, and opening the lakehouse or table they name.

A command that works on a lakehouse decorates itself with :func:`lakehouse_options` and
receives ``lakehouse: Lakehouse``; one that works on a table uses :func:`table_options` and
receives ``table: Table``. Both add ``--path`` (or ``AZOF_PATH``) and repeated
``--storage-option KEY=VALUE`` (merged over the JSON object in ``AZOF_STORAGE_OPTIONS``).
Object-store credentials are otherwise read by obstore from its standard variables
(``AWS_*``, ``GOOGLE_*``, ``AZURE_*``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click
import pyarrow as pa

from azof.errors import InvalidArgumentError
from azof.lakehouse import STORAGE_OPTIONS_ENV, Lakehouse, env_storage_options
from azof.timestamps import AS_OF_WORDS, format_instant, parse_as_of, parse_duration, parse_instant

if TYPE_CHECKING:
    from azof.table import Table

__all__ = [
    "AS_OF_OPTION",
    "KNOWN_AT_OPTION",
    "PATH_ENV",
    "STORAGE_OPTIONS_ENV",
    "TABLE_NAME_OPTION",
    "VERSION_OPTION",
    "check_as_of",
    "check_duration",
    "check_one_snapshot",
    "check_timestamp",
    "count_option",
    "lakehouse_options",
    "open_lakehouse",
    "open_table",
    "storage_options",
    "table_options",
    "timestamp_option",
    "typed_keys",
]

PATH_ENV = "AZOF_PATH"

F = TypeVar("F", bound=Callable[..., Any])


def check_timestamp(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback: ``value`` must read as an instant (ISO-8601, no offset means UTC).

    The text is passed on unchanged (the API keeps its full precision); a typo is a usage
    error naming the option.
    """
    return _check_text(parse_instant, "timestamp", ctx, param, value)


def check_event_time(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback for an event time to write at: ``now`` and ``today`` pass unchanged
    (the command resolves them at the table's unit); other text as :func:`check_timestamp`."""
    if value is not None and value.strip().lower() in AS_OF_WORDS:
        return value.strip().lower()
    return check_timestamp(ctx, param, value)


def check_duration(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback: ``value`` must read as a duration such as ``7d`` (passed on as text)."""
    return _check_text(parse_duration, "duration", ctx, param, value)


def _check_text(
    parse: Callable[[str, str], object],
    kind: str,
    ctx: click.Context,
    param: click.Parameter,
    value: str | None,
) -> str | None:
    """``value`` unchanged if ``parse`` reads it; else a usage error naming the option."""
    if value is None:
        return None
    what = param.opts[0] if param.opts else kind
    try:
        parse(value, what)
    except InvalidArgumentError as exc:
        raise click.BadParameter(str(exc).removeprefix(f"{what}: "), ctx, param) from None
    return value


def timestamp_option(*decls: str, help: str) -> Callable[[F], F]:
    """An optional ``TIMESTAMP`` option checked by :func:`check_timestamp` (default: None)."""
    return click.option(
        *decls, callback=check_timestamp, metavar="TIMESTAMP", default=None, help=help
    )


def count_option(
    *decls: str,
    minimum: int = 0,
    help: str,
    **extra: Any,
) -> Callable[[F], F]:
    """An integer option ``N`` of at least ``minimum`` (default: None, unless ``extra`` says)."""
    settings: dict[str, Any] = {"default": None, "metavar": "N", **extra}
    return click.option(*decls, type=click.IntRange(min=minimum), help=help, **settings)


def check_as_of(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback for an event time: ``now`` and ``today`` become the instant they mean
    (said on stderr, so that the answer can be reproduced); other text as
    :func:`check_timestamp`."""
    if value is not None and value.strip().lower() in AS_OF_WORDS:
        instant = format_instant(parse_as_of(value))
        click.echo(
            f"{param.opts[0] if param.opts else 'as of'} {value.strip()}: {instant}", err=True
        )
        return instant
    return check_timestamp(ctx, param, value)


AS_OF_OPTION = click.option(
    "--as-of",
    callback=check_as_of,
    metavar="TIMESTAMP",
    default=None,
    help="Event time: each key's latest row at or before this instant (ISO-8601; no offset "
    "means UTC; 'now', or 'today' for midnight UTC). Default: the current state.",
)
VERSION_OPTION = count_option(
    "--version",
    "version",
    help="Read this table version (commit time) instead of the latest.",
)
KNOWN_AT_OPTION = timestamp_option(
    "--known-at",
    help="Read the latest version committed at or before this instant (commit time).",
)
TABLE_NAME_OPTION = click.option(
    "--table",
    "table_name",
    required=True,
    metavar="NAME",
    help="The table, a folder of the lakehouse.",
)

_PATH_OPTION = click.option(
    "--path",
    required=True,
    envvar=PATH_ENV,
    show_envvar=True,
    metavar="DIR|URI",
    help="The lakehouse: a folder, or a URI such as s3://bucket/lake, gs://..., az://..., "
    "memory://name.",
)
_STORAGE_OPTION = click.option(
    "--storage-option",
    "storage_option",
    multiple=True,
    metavar="KEY=VALUE",
    help="An object-store option (region, endpoint, allow_http, access_key_id...); "
    f"repeat it. Merged over the JSON object in ${STORAGE_OPTIONS_ENV}.",
)


def check_one_snapshot(version: int | None, known_at: str | None) -> None:
    """A usage error when both ``--version`` and ``--known-at`` are given."""
    if version is not None and known_at is not None:
        raise click.UsageError(
            "give --version or --known-at, not both (both choose the table version by commit time)"
        )


def storage_options(uri: str, pairs: Sequence[str]) -> dict[str, Any]:
    """The storage options for ``uri``: ``$AZOF_STORAGE_OPTIONS``, then the ``KEY=VALUE`` pairs.

    The environment applies to object-store URIs only (a local folder takes no options);
    options given on the command line always apply.
    """
    options: dict[str, Any] = env_storage_options(uri)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(
                f"{pair!r} is not KEY=VALUE (e.g. region=eu-west-1)",
                param_hint="'--storage-option'",
            )
        options[key.strip()] = value
    return options


def open_lakehouse(path: str, pairs: Sequence[str] = ()) -> Lakehouse:
    """The lakehouse at ``path`` with the storage options of the command line and env."""
    return Lakehouse(path, storage_options(path, pairs) or None)


def lakehouse_options(command: F) -> F:
    """Add ``--path`` and ``--storage-option``; the command receives ``lakehouse``."""

    @functools.wraps(command)
    def wrapper(*args: Any, path: str, storage_option: tuple[str, ...], **kwargs: Any) -> Any:
        return command(*args, lakehouse=open_lakehouse(path, storage_option), **kwargs)

    return _with_options(wrapper, [_PATH_OPTION, _STORAGE_OPTION])  # type: ignore[return-value]


def table_options(command: F) -> F:
    """Add ``--path``, ``--storage-option`` and ``--table``; the command receives ``table``."""

    @functools.wraps(command)
    def wrapper(
        *args: Any, path: str, storage_option: tuple[str, ...], table_name: str, **kwargs: Any
    ) -> Any:
        table = open_lakehouse(path, storage_option).table(table_name)
        return command(*args, table=table, **kwargs)

    options = [_PATH_OPTION, TABLE_NAME_OPTION, _STORAGE_OPTION]
    return _with_options(wrapper, options)  # type: ignore[return-value]


def _with_options(
    function: Callable[..., Any], options: Sequence[Callable[[Any], Any]]
) -> Callable[..., Any]:
    # functools.wraps shares the wrapped function's __click_params__; copy it so that the
    # options added here belong to this command only. Applied last-first so that they are
    # listed first, in order, by --help.
    function.__click_params__ = list(getattr(function, "__click_params__", []))  # type: ignore[attr-defined]
    for option in reversed(options):
        function = option(function)
    return function


def open_table(path: str, table_name: str, pairs: Sequence[str] = ()) -> Table:
    """The table ``table_name`` of the lakehouse at ``path``."""
    return open_lakehouse(path, pairs).table(table_name)


def typed_keys(table: Table, keys: Sequence[str]) -> list[Any]:
    """KEY arguments as the table's keys: integers for an integer key column; a composite
    key as its columns' values separated by commas (``s1,temp``), in key order."""
    columns = table.snapshot_at(whole=False).schema.keys
    out: list[Any] = []
    for text in keys:
        parts = text.split(",") if len(columns) > 1 else [text]
        if len(parts) != len(columns):
            names = ",".join(c.name for c in columns)
            raise click.BadParameter(
                f"{text!r} is not a key of table {table.name!r}: give its {len(columns)} "
                f"columns ({names}) separated by commas",
                param_hint="'KEY'",
            )
        values: list[Any] = []
        for part, column in zip(parts, columns, strict=True):
            if not pa.types.is_integer(column.type):
                values.append(part)
                continue
            try:
                values.append(int(part))
            except ValueError:
                raise click.BadParameter(
                    f"{part!r} is not an integer; table {table.name!r} has integer keys"
                    + (f" in column {column.name!r}" if len(columns) > 1 else ""),
                    param_hint="'KEY'",
                ) from None
        out.append(values[0] if len(columns) == 1 else tuple(values))
    return out
