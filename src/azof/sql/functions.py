"""The temporal table functions of SQL, evaluated: ``azof_history``, ``azof_changes``,
``azof_restatements`` and ``azof_asof_join`` (``docs/sql.md``, ``docs/temporal.md``), for
both engines (DataFusion's :class:`~azof.sql.ExecutionContext` and :mod:`azof.duckdb`).

::

    SELECT * FROM azof_history('prices', keys => 'AAPL,MSFT', start => '2019-01-01')
    SELECT * FROM azof_changes('prices', '2019-02-01', '2019-04-01', version => 3) c
    SELECT * FROM azof_restatements('prices', '2019-01-20', 2)
    WITH trades AS (...) SELECT * FROM azof_asof_join('prices', 'trades', on => 'key', at => 'ts')

DataFusion 55 has Python table functions (``datafusion.udtf``), but its SQL planner refuses
named arguments (``Unsupported function argument type: keys => 'AAPL'``), a UDTF cannot see
the query's CTEs, and its errors come back as opaque text; DuckDB's Python API has no table
functions returning Arrow. So the calls are handled as the time-travel clauses are
(:mod:`azof.sql.clauses`): found and checked by :mod:`azof.sql.calls`, evaluated here with
the Python API (:mod:`azof.temporal`), and each result registered with the engine under an
internal name (``<prefix>f<n>``) that replaces the call; the call keeps its alias, or gets
its function name as alias (``azof_history.key``). What this needs of an engine is a
:class:`FunctionEngine`.

:func:`table_functions` runs on the query after :func:`~azof.sql.clauses.rewrite_query`
(which leaves calls and their string arguments alone) and before it is planned.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from azof.errors import AzofError, InvalidArgumentError, TableNotFoundError
from azof.sql.calls import FUNCTIONS, FunctionCall, Scalar, Value, find_calls, parse_call
from azof.sql.clauses import RewrittenQuery, rewrite_query
from azof.sql.scans import LakehouseTables
from azof.sql.tokens import IDENTIFIERS, Token, collapse_whitespace, find_ctes, tokenize
from azof.table import Table

__all__ = ["FUNCTIONS", "FunctionCall", "FunctionEngine", "table_functions"]

_POSITIONS = re.compile(r" \(line \d+, column \d+\)|, line \d+, column \d+(?=\))")


class FunctionEngine(Protocol):
    """What evaluating the table functions of a query needs of the engine that runs it."""

    @property
    def dialect(self) -> str:
        """The sqlglot dialect whose tokenizer reads the engine's SQL."""

    @property
    def own_tables(self) -> str:
        """What the engine's own tables are called in messages (``a table registered in
        the context's session``)."""

    def run(self, query: str) -> pa.Table:
        """The rows of ``query``, run as the user's queries are (time-travel clauses and
        table functions included): the left side of an as-of join."""

    def own_table(self, name: str) -> pa.Table | None:
        """The rows of the engine's own table ``name`` (not a lakehouse table), or None."""

    def register(self, name: str, result: pa.Table) -> None:
        """Make ``result`` queryable as ``name``."""

    def deregister(self, name: str) -> None:
        """Undo :meth:`register` (when registering a later result fails)."""


@dataclass(frozen=True)
class _FunctionQuery(RewrittenQuery):
    """A rewritten query whose table function calls are replaced by internal names too."""

    calls: tuple[FunctionCall, ...] = ()

    def readable(self, text: str) -> str:
        text = super().readable(text)
        for call in sorted(self.calls, key=lambda c: -len(c.internal)):
            text = text.replace(call.internal, call.text)
        return text


def _located(exc: AzofError, where: str) -> AzofError:
    """``exc`` with the call it comes from in front of its message."""
    message = f"{where}: {exc}"
    try:
        return type(exc)(message)
    except Exception:  # pragma: no cover - every AzofError takes a message
        return InvalidArgumentError(message)


def _left_error(exc: AzofError, call: FunctionCall) -> AzofError:
    """An error of the query that reads the left side of an as-of join, without its
    positions (those of that query, not of the user's)."""
    return _located(type(exc)(_POSITIONS.sub("", str(exc))), f"{call.where()}: left")


class _Evaluator:
    def __init__(
        self,
        engine: FunctionEngine,
        sql: str,
        tokens: Sequence[Token],
        tables: LakehouseTables,
    ) -> None:
        self.engine = engine
        self.sql = sql
        self.tokens = tokens
        self.tables = tables
        self.ctes = find_ctes(sql, tokens)

    def table(self, call: FunctionCall) -> Table:
        name = call.arguments["table"]
        assert isinstance(name, str)
        resolved = self.tables.resolve(name, False)
        if resolved is None:
            raise TableNotFoundError(
                f"no table {name!r} in {self.tables.describe()} (in {call.text!r}, line "
                f"{call.line}, column {call.column})"
            )
        try:
            return self.tables.open(resolved)
        except AzofError as exc:
            raise _located(exc, call.where()) from None

    def evaluate(self, call: FunctionCall, name_index: int) -> pa.Table:
        table = self.table(call)
        args = call.arguments
        keys: Any = _listed(args.get("keys"))
        columns = _listed(args.get("columns"))
        width = len(table.key_columns)
        if keys is not None and width > 1:  # 's1,temp,s2,hum': the key columns in turn
            if len(keys) % width:
                raise _located(
                    InvalidArgumentError(
                        f"keys: table {table.name!r} has a key of {width} columns "
                        f"({', '.join(table.key_columns)}); list their values key by key"
                    ),
                    call.where(),
                )
            keys = [tuple(keys[i : i + width]) for i in range(0, len(keys), width)]
        version, known_at = args.get("version"), args.get("known_at")
        assert version is None or isinstance(version, int)
        strings: dict[str, Any] = {k: v for k, v in args.items() if isinstance(v, str)}
        columns_arg = None if columns is None else [str(c) for c in columns]
        left = None
        if call.function == "azof_asof_join":
            left = self.left_frame(call, strings["left"], name_index)
        try:
            if call.function == "azof_history":
                return table.history(
                    keys,
                    strings.get("start"),
                    strings.get("end"),
                    columns=columns_arg,
                    version=version,
                    known_at=known_at,
                )
            if call.function == "azof_changes":
                return table.changes(
                    strings.get("start"),
                    strings.get("end"),
                    keys,
                    columns=columns_arg,
                    version=version,
                    known_at=known_at,
                )
            if call.function == "azof_restatements":
                since = args["since_version"]
                assert isinstance(since, int)
                return table.restatements(
                    strings.get("as_of"),
                    since,
                    version=version,
                    known_at=known_at,
                    keys=keys,
                    columns=columns_arg,
                )
            on = strings.get("on")
            return table.asof_join(
                left,
                None if on is None else [n.strip() for n in on.split(",")],
                strings.get("at", "ts"),
                columns=columns_arg,
                version=version,
                known_at=known_at,
                prefix=strings.get("prefix", ""),
                suffix=strings.get("suffix", "_right"),
            )
        except AzofError as exc:
            raise _located(exc, call.where()) from None

    def left_frame(self, call: FunctionCall, left: str, name_index: int) -> pa.Table:
        """The rows of ``left``: a CTE of the query (defined before the call), a lakehouse
        table (with or without a time-travel clause), or a table of the engine's own."""
        try:
            words = tokenize(left, self.engine.dialect)
        except InvalidArgumentError:
            words = []
        query: str | None = None
        if len(words) == 1 and words[0].kind in IDENTIFIERS:
            word = words[0]
            quoted = word.kind == "IDENTIFIER"
            folded = word.text if quoted else word.text.lower()
            before = [c for c in self.ctes if c.visible_at(name_index) and c.name == folded]
            if before:
                cte = before[-1]
                definitions = self.sql[self.tokens[cte.first].start : self.tokens[cte.close].end]
                query = f"{definitions} SELECT * FROM {cte.written}"
            elif self.tables.resolve(word.text, quoted) is not None:
                query = f"SELECT * FROM {left}"
            else:
                own = self.engine.own_table(word.text)
                if own is not None:
                    return own
                raise TableNotFoundError(
                    f"{call.where()}: left {left!r} is neither a CTE of the query (defined "
                    f"before the call), a table of {self.tables.describe()}, nor "
                    f"{self.engine.own_tables}"
                )
        elif words:
            reference = f"SELECT * FROM {left.strip()}"
            try:
                found = rewrite_query(
                    reference,
                    self.tables.resolve,
                    dialect=self.engine.dialect,
                    prefix="__azof_left_",
                    unknown="keep",
                    describe_lakehouse=self.tables.describe,
                ).references
            except AzofError as exc:
                raise _left_error(exc, call) from None
            if len(found) == 1 and found[0].text == collapse_whitespace(left.strip()):
                query = reference
        if query is None:
            raise self.fail_left(call, left)
        try:
            return self.engine.run(query)
        except AzofError as exc:
            raise _left_error(exc, call) from None

    def fail_left(self, call: FunctionCall, left: str) -> InvalidArgumentError:
        return InvalidArgumentError(
            f"{call.where()}: left {left!r} is not a table name; name a CTE of the query, a "
            "lakehouse table (a time-travel clause may follow: 'trades AT (''2019-01-17'')') "
            f"or {self.engine.own_tables}"
        )


def _listed(value: Value) -> list[Scalar] | None:
    if value is None:
        return None
    if isinstance(value, tuple):
        return list(value)
    return [value]


def table_functions(
    engine: FunctionEngine,
    query: str,
    rewritten: RewrittenQuery,
    tables: LakehouseTables,
    prefix: str,
) -> tuple[RewrittenQuery, dict[str, pa.Schema]]:
    """Evaluate the table function calls of ``query`` and replace them in ``rewritten``
    (``query`` after :func:`~azof.sql.clauses.rewrite_query`) by internal names
    (``<prefix>f<n>``) whose results are registered with ``engine``. Returns the new query
    and the names registered (with their schemas), for the caller to deregister.

    Raises :class:`~azof.errors.InvalidArgumentError` for a malformed call,
    :class:`~azof.errors.TableNotFoundError` for an unknown table and the errors of the
    temporal functions, each naming the call as written.
    """
    if "azof_" not in query.lower():
        return rewritten, {}
    tokens = tokenize(query, engine.dialect)
    spans = find_calls(query, tokens)
    if not spans:
        return rewritten, {}
    calls = [
        parse_call(query, tokens, span, f"{prefix}f{number}") for number, span in enumerate(spans)
    ]
    out_tokens = tokenize(rewritten.sql, engine.dialect)
    out_spans = find_calls(rewritten.sql, out_tokens)
    if len(out_spans) != len(spans):  # pragma: no cover - rewrite_query keeps calls intact
        raise InvalidArgumentError("cannot place the table function calls of the query")
    evaluator = _Evaluator(engine, query, tokens, tables)
    results = {
        call.internal: evaluator.evaluate(call, span.name)
        for call, span in zip(calls, spans, strict=True)
    }
    sql = rewritten.sql
    edits = []
    for call, span in zip(calls, out_spans, strict=True):
        word = out_tokens[span.name]
        replacement = call.internal
        if not span.has_alias:
            replacement += f" AS {rewritten.sql[word.start : word.end]}"
        edits.append((word.start, out_tokens[span.close].end, replacement))
    for start, end, replacement in sorted(edits, reverse=True):
        sql = sql[:start] + replacement + sql[end:]
    registered: dict[str, pa.Schema] = {}
    try:
        for name, result in results.items():
            engine.register(name, result)
            registered[name] = result.schema
    except Exception:
        for name in registered:
            engine.deregister(name)
        raise
    return (
        _FunctionQuery(
            sql=sql, references=rewritten.references, explain=rewritten.explain, calls=tuple(calls)
        ),
        registered,
    )
