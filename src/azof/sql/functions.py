"""The temporal table functions of SQL: ``azof_history``, ``azof_changes``,
``azof_restatements`` and ``azof_asof_join`` (``docs/sql.md``, ``docs/temporal.md``).

::

    SELECT * FROM azof_history('prices', keys => 'AAPL,MSFT', start => '2019-01-01')
    SELECT * FROM azof_changes('prices', '2019-02-01', '2019-04-01', version => 3) c
    SELECT * FROM azof_restatements('prices', '2019-01-20', 2)
    WITH trades AS (...) SELECT * FROM azof_asof_join('prices', 'trades', on => 'key', at => 'ts')

DataFusion 55 has Python table functions (``datafusion.udtf``), but its SQL planner refuses
named arguments (``Unsupported function argument type: keys => 'AAPL'``), a UDTF cannot see
the query's CTEs, and its errors come back as opaque text. So the calls are handled as the
time-travel clauses are (:mod:`azof.sql.clauses`): found with sqlglot's tokenizer in table
position (``FROM``, ``JOIN``, a ``FROM`` list's comma), their literal arguments checked,
evaluated with the Python API (:mod:`azof.temporal`), and each result registered under an
internal name (``__azof_<query>_f<n>``) that replaces the call; the call keeps its alias, or
gets its function name as alias (``azof_history.key``).

:func:`table_functions` runs on the query after :func:`~azof.sql.clauses.rewrite_query`
(which leaves calls and their string arguments alone) and before it is planned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from azof.errors import AzofError, InvalidArgumentError, TableNotFoundError
from azof.sql.clauses import (
    FROM_ENDS,
    IDENTIFIERS,
    NOT_ALIASES,
    QUERY_STARTS,
    Located,
    RewrittenQuery,
    Token,
    collapse_whitespace,
    line_column,
    matching,
    rewrite_query,
    span_text,
    split_commas,
    tokenize,
)
from azof.table import Table
from azof.timestamps import parse_instant

if TYPE_CHECKING:
    from azof.sql.context import ExecutionContext
    from azof.sql.scans import LakehouseTables

__all__ = ["FUNCTIONS", "FunctionCall", "table_functions"]

Scalar = str | int
Value = Scalar | tuple[Scalar, ...] | None

_POSITIONS = re.compile(r" \(line \d+, column \d+\)|, line \d+, column \d+(?=\))")


@dataclass(frozen=True)
class _Parameter:
    name: str
    kind: str
    """``table``, ``text``, ``keys``, ``columns``, ``timestamp`` or ``int``."""
    nullable: bool = True


@dataclass(frozen=True)
class _Signature:
    positional: tuple[_Parameter, ...]
    named: tuple[_Parameter, ...]
    required: tuple[str, ...]
    example: str

    @property
    def parameters(self) -> dict[str, _Parameter]:
        return {p.name: p for p in (*self.positional, *self.named)}


_TABLE = _Parameter("table", "table", nullable=False)
_KEYS = _Parameter("keys", "keys")
_COLUMNS = _Parameter("columns", "columns")
_VERSION = _Parameter("version", "int")
_KNOWN_AT = _Parameter("known_at", "timestamp")
_SNAPSHOT = (_COLUMNS, _VERSION, _KNOWN_AT)

FUNCTIONS: dict[str, _Signature] = {
    "azof_history": _Signature(
        positional=(
            _TABLE,
            _KEYS,
            _Parameter("start", "timestamp"),
            _Parameter("end", "timestamp"),
        ),
        named=_SNAPSHOT,
        required=("table",),
        example="azof_history('prices', keys => 'AAPL,MSFT', start => '2019-01-01')",
    ),
    "azof_changes": _Signature(
        positional=(
            _TABLE,
            _Parameter("start", "timestamp"),
            _Parameter("end", "timestamp"),
            _KEYS,
        ),
        named=_SNAPSHOT,
        required=("table", "start", "end"),
        example="azof_changes('prices', '2019-02-01', '2019-04-01')",
    ),
    "azof_restatements": _Signature(
        positional=(
            _TABLE,
            _Parameter("as_of", "timestamp"),
            _Parameter("since_version", "int", nullable=False),
        ),
        named=(_KEYS, *_SNAPSHOT),
        required=("table", "as_of", "since_version"),
        example="azof_restatements('prices', '2019-01-20', 2)",
    ),
    "azof_asof_join": _Signature(
        positional=(
            _TABLE,
            _Parameter("left", "text", nullable=False),
            _Parameter("on", "text", nullable=False),
            _Parameter("at", "text", nullable=False),
        ),
        named=(
            *_SNAPSHOT,
            _Parameter("prefix", "text", nullable=False),
            _Parameter("suffix", "text", nullable=False),
        ),
        required=("table", "left"),
        example="azof_asof_join('prices', 'trades', on => 'key', at => 'ts')",
    ),
}
"""The table functions, by name (matched case-insensitively)."""


@dataclass(frozen=True)
class FunctionCall(Located):
    """One table function call of a query, its arguments checked."""

    function: str
    """The function, in lower case (``azof_history``)."""
    arguments: Mapping[str, Value]
    """The arguments given, by parameter name (``NULL`` is ``None``)."""
    internal: str
    """The name the rewritten query uses for the call's result."""
    text: str
    """The call as written (whitespace collapsed)."""
    line: int
    column: int


@dataclass(frozen=True)
class _FunctionQuery(RewrittenQuery):
    """A rewritten query whose table function calls are replaced by internal names too."""

    calls: tuple[FunctionCall, ...] = ()

    def readable(self, text: str) -> str:
        text = super().readable(text)
        for call in sorted(self.calls, key=lambda c: -len(c.internal)):
            text = text.replace(call.internal, call.text)
        return text


# -- finding the calls ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Span:
    name: int
    """The index of the function name's token."""
    close: int
    """The index of the call's closing parenthesis."""
    table_position: bool
    has_alias: bool


def _is_call(tokens: Sequence[Token], index: int) -> bool:
    token = tokens[index]
    return (
        token.kind == "VAR"
        and token.upper.lower() in FUNCTIONS
        and index + 1 < len(tokens)
        and tokens[index + 1].kind == "L_PAREN"
    )


def _find_calls(sql: str, tokens: Sequence[Token]) -> list[_Span]:
    """Every call of a table function in ``tokens``, and whether it is in table position
    (the walk over FROM lists is that of :mod:`azof.sql.clauses`)."""
    spans: list[_Span] = []
    depth = 0
    query = {0: True}
    in_from = {0: False}
    previous = ""
    for index, token in enumerate(tokens):
        kind = token.kind
        if _is_call(tokens, index):
            close = matching(tokens, index + 1)
            if close is None:
                raise InvalidArgumentError(
                    f"{span_text(sql, tokens, index, len(tokens) - 1)!r}: the call of "
                    f"{token.text} has no closing parenthesis"
                )
            after = tokens[close + 1] if close + 1 < len(tokens) else None
            has_alias = after is not None and (
                after.kind in ("ALIAS", "IDENTIFIER")
                or (after.kind == "VAR" and after.upper not in NOT_ALIASES)
            )
            position = previous in ("FROM", "JOIN") or (
                previous in ("COMMA", "L_PAREN") and in_from[depth]
            )
            spans.append(_Span(index, close, position, has_alias))
        if kind == "L_PAREN":
            opens_from = previous in ("FROM", "JOIN") or (previous == "COMMA" and in_from[depth])
            depth += 1
            in_from[depth] = opens_from
            next_kind = tokens[index + 1].kind if index + 1 < len(tokens) else ""
            query[depth] = opens_from or next_kind in QUERY_STARTS
        elif kind == "R_PAREN":
            depth = max(depth - 1, 0)
        elif kind == "FROM" and query[depth]:
            in_from[depth] = True
        elif kind in FROM_ENDS:
            in_from[depth] = False
        if kind == "FROM" and not query[depth]:
            kind = "FUNCTION_FROM"
        previous = kind
    return spans


# -- reading the arguments --------------------------------------------------------------------


class _Parser(Located):
    """The arguments of one call: positional first, then ``name => value``; literals only."""

    def __init__(self, sql: str, tokens: Sequence[Token], span: _Span, internal: str) -> None:
        self.sql = sql
        self.tokens = tokens
        self.span = span
        self.function = tokens[span.name].text.lower()
        self.signature = FUNCTIONS[self.function]
        self.text = span_text(sql, tokens, span.name, span.close)
        self.line, self.column = line_column(sql, tokens[span.name].start)
        self.internal = internal

    def fail(self, message: str) -> InvalidArgumentError:
        return InvalidArgumentError(f"{self.where()}: {message}")

    def usage(self) -> str:
        names = [p.name for p in self.signature.positional]
        names += [f"{p.name} => ..." for p in self.signature.named]
        return f"{self.function}({', '.join(names)}), e.g. {self.signature.example}"

    def parse(self) -> FunctionCall:
        tokens = self.tokens
        if not self.span.table_position:
            raise self.fail(
                f"{self.function} is a table function: call it in FROM or JOIN, e.g. "
                f"SELECT * FROM {self.signature.example}"
            )
        items = split_commas(tokens, range(self.span.name + 2, self.span.close))
        if items == [[]]:
            items = []
        parameters = self.signature.parameters
        found: dict[str, Value] = {}
        named_seen = False
        for number, item in enumerate(items):
            if not item:
                raise self.fail(f"argument {number + 1} is empty; write {self.usage()}")
            if len(item) >= 2 and tokens[item[1]].kind == "FARROW":
                word = tokens[item[0]].upper.lower()
                parameter = parameters.get(word)
                if parameter is None:
                    raise self.fail(
                        f"unknown argument {tokens[item[0]].text!r}; {self.function} takes "
                        f"{', '.join(parameters)}"
                    )
                named_seen = True
                item = item[2:]
            else:
                if named_seen:
                    raise self.fail(
                        "a positional argument follows a named one; put the positional "
                        f"arguments first: {self.usage()}"
                    )
                if number >= len(self.signature.positional):
                    raise self.fail(
                        f"{self.function} takes at most {len(self.signature.positional)} "
                        f"positional arguments; name the others: {self.usage()}"
                    )
                parameter = self.signature.positional[number]
            if parameter.name in found:
                raise self.fail(f"{parameter.name} is given twice")
            found[parameter.name] = self.convert(parameter, self.literal(parameter, item))
        missing = [name for name in self.signature.required if name not in found]
        if missing:
            raise self.fail(
                f"{self.function} needs {' and '.join(missing)} (NULL for an open time); "
                f"write {self.usage()}"
                if all(parameters[name].nullable for name in missing)
                else f"{self.function} needs {' and '.join(missing)}; write {self.usage()}"
            )
        if found.get("version") is not None and found.get("known_at") is not None:
            raise self.fail(
                f"{self.function} takes version or known_at, not both (both choose the "
                "snapshot by commit time)"
            )
        return FunctionCall(
            function=self.function,
            arguments=found,
            internal=self.internal,
            text=self.text,
            line=self.line,
            column=self.column,
        )

    def literal(self, parameter: _Parameter, item: Sequence[int]) -> Value:
        """The literal of ``item``: ``'text'``, ``TIMESTAMP 'text'``, a whole number,
        ``NULL`` or ``ARRAY[...]`` of text or numbers."""
        tokens = self.tokens
        kinds = [tokens[i].kind for i in item]
        if kinds == ["NULL"]:
            return None
        if kinds == ["TIMESTAMP", "STRING"] and parameter.kind == "timestamp":
            return tokens[item[1]].text
        if kinds and kinds[0] == "ARRAY" and len(kinds) >= 3 and kinds[1] == "L_BRACKET":
            if matching(tokens, item[1]) == item[-1]:
                inner = split_commas(tokens, item[2:-1])
                if inner == [[]]:
                    return ()
                values = [self.scalar(parameter, part) for part in inner]
                if all(value is not None for value in values):
                    return tuple(v for v in values if v is not None)
        else:
            value = self.scalar(parameter, item)
            if value is not None:
                return value
        written = span_text(self.sql, tokens, item[0], item[-1]) if item else ""
        raise self.fail(
            f"{parameter.name}: {written!r} is not a literal; arguments are quoted text "
            "('2019-01-17', 'AAPL'), whole numbers, NULL or ARRAY['a', 'b']"
        )

    def scalar(self, parameter: _Parameter, item: Sequence[int]) -> Scalar | None:
        tokens = self.tokens
        kinds = [tokens[i].kind for i in item]
        if kinds == ["STRING"]:
            return tokens[item[0]].text
        if kinds == ["NUMBER"] and tokens[item[0]].text.isdigit():
            return int(tokens[item[0]].text)
        if kinds == ["DASH", "NUMBER"] and tokens[item[1]].text.isdigit():
            return -int(tokens[item[1]].text)
        return None

    def convert(self, parameter: _Parameter, value: Value) -> Value:
        """``value`` checked against what ``parameter`` takes."""
        name, kind = parameter.name, parameter.kind
        if value is None:
            if not parameter.nullable:
                raise self.fail(f"{name} cannot be NULL; write {self.usage()}")
            return None
        if kind in ("table", "text"):
            if not isinstance(value, str):
                raise self.fail(f"{name} takes quoted text, such as {name} => 'x'")
            return value
        if kind == "timestamp":
            if not isinstance(value, str):
                raise self.fail(
                    f"{name} takes a quoted timestamp such as '2019-01-17T00:00:00Z' (or NULL)"
                )
            try:
                parse_instant(value, name)
            except InvalidArgumentError as exc:
                raise self.fail(str(exc)) from None
            return value
        if kind == "int":
            if not isinstance(value, int) or value < 0:
                raise self.fail(
                    f"{name} takes a whole number such as {name} => 3 (a table's versions "
                    "are listed by table.versions())"
                )
            return value
        if kind == "columns":
            if isinstance(value, str):
                return _split_list(value)
            if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
                return value
            raise self.fail(f"{name} takes column names: 'a,b' or ARRAY['a', 'b']")
        # keys: 'a,b', ARRAY[...], or one whole number
        if isinstance(value, str):
            return _split_list(value)
        if isinstance(value, int):
            return (value,)
        return value


def _split_list(text: str) -> tuple[str, ...]:
    """``'AAPL, MSFT'`` -> ``('AAPL', 'MSFT')``; ``''`` -> ``()``."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


# -- evaluating them --------------------------------------------------------------------------


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


@dataclass(frozen=True)
class _Cte:
    name: str
    """As the engine folds it (unquoted names in lower case)."""
    written: str
    quoted: bool
    first: int
    """The index of the ``WITH`` token of its clause."""
    close: int
    """The index of the closing parenthesis of its body."""


def _ctes(tokens: Sequence[Token], sql: str) -> list[_Cte]:
    """Every CTE of every ``WITH [RECURSIVE] name [(columns)] AS [[NOT] MATERIALIZED] (...)``."""
    found: list[_Cte] = []
    for first, token in enumerate(tokens):
        if token.kind != "WITH":
            continue
        position = first + 1
        if position < len(tokens) and tokens[position].kind == "RECURSIVE":
            position += 1
        while position < len(tokens) and tokens[position].kind in IDENTIFIERS:
            name = tokens[position]
            position += 1
            if position < len(tokens) and tokens[position].kind == "L_PAREN":
                close = matching(tokens, position)
                if close is None:
                    break
                position = close + 1
            if position >= len(tokens) or tokens[position].kind != "ALIAS":
                break
            position += 1
            while position < len(tokens) and tokens[position].upper in ("NOT", "MATERIALIZED"):
                position += 1
            if position >= len(tokens) or tokens[position].kind != "L_PAREN":
                break
            close = matching(tokens, position)
            if close is None:
                break
            quoted = name.kind == "IDENTIFIER"
            found.append(
                _Cte(
                    name=name.text if quoted else name.text.lower(),
                    written=sql[name.start : name.end],
                    quoted=quoted,
                    first=first,
                    close=close,
                )
            )
            position = close + 1
            if position < len(tokens) and tokens[position].kind == "COMMA":
                position += 1
            else:
                break
    return found


class _Evaluator:
    def __init__(
        self,
        context: ExecutionContext,
        sql: str,
        tokens: Sequence[Token],
        tables: LakehouseTables,
        dialect: str,
    ) -> None:
        self.context = context
        self.sql = sql
        self.tokens = tokens
        self.tables = tables
        self.dialect = dialect
        self.ctes = _ctes(tokens, sql)

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
        keys, columns = _listed(args.get("keys")), _listed(args.get("columns"))
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
            return table.asof_join(
                left,
                strings.get("on", "key"),
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
        table (with or without a time-travel clause), or a table registered in the
        context's DataFusion session."""
        try:
            words = tokenize(left, self.dialect)
        except InvalidArgumentError:
            words = []
        query: str | None = None
        if len(words) == 1 and words[0].kind in IDENTIFIERS:
            word = words[0]
            quoted = word.kind == "IDENTIFIER"
            folded = word.text if quoted else word.text.lower()
            before = [c for c in self.ctes if c.close < name_index and c.name == folded]
            if before:
                cte = before[-1]
                definitions = self.sql[self.tokens[cte.first].start : self.tokens[cte.close].end]
                query = f"{definitions} SELECT * FROM {cte.written}"
            elif self.tables.resolve(word.text, quoted) is not None:
                query = f"SELECT * FROM {left}"
            elif self.context.session.table_exist(word.text):
                return self.context.session.table(word.text).to_arrow_table()
            else:
                raise TableNotFoundError(
                    f"{call.where()}: left {left!r} is neither a CTE of the query (defined "
                    f"before the call), a table of {self.tables.describe()}, nor a table "
                    "registered in the context's session"
                )
        elif words:
            reference = f"SELECT * FROM {left.strip()}"
            try:
                found = rewrite_query(
                    reference,
                    self.tables.resolve,
                    dialect=self.dialect,
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
            frame = self.context.sql(query)
            result: pa.Table = frame.to_arrow_table()
        except AzofError as exc:
            raise _left_error(exc, call) from None
        return result

    @staticmethod
    def fail_left(call: FunctionCall, left: str) -> InvalidArgumentError:
        return InvalidArgumentError(
            f"{call.where()}: left {left!r} is not a table name; name a CTE of the query, a "
            "lakehouse table (a time-travel clause may follow: 'trades AT (''2019-01-17'')') "
            "or a table registered in the context's session"
        )


def _listed(value: Value) -> list[Scalar] | None:
    if value is None:
        return None
    if isinstance(value, tuple):
        return list(value)
    return [value]


def _register(context: ExecutionContext, name: str, result: pa.Table) -> None:
    """Register ``result`` as one partition (a plain ``SELECT *`` keeps its order; DataFusion
    spreads the work over its threads where an operator gains from it)."""
    batches = result.to_batches()
    if not batches:
        schema = result.schema
        batches = [
            pa.RecordBatch.from_arrays([pa.array([], type=f.type) for f in schema], schema=schema)
        ]
    context.session.register_record_batches(name, [batches])


def table_functions(
    context: ExecutionContext,
    query: str,
    rewritten: RewrittenQuery,
    tables: LakehouseTables,
    dialect: str,
    prefix: str,
) -> tuple[RewrittenQuery, dict[str, pa.Schema]]:
    """Evaluate the table function calls of ``query`` and replace them in ``rewritten``
    (``query`` after :func:`~azof.sql.clauses.rewrite_query`) by internal names
    (``<prefix>f<n>``) whose results are registered in ``context.session``. Returns the
    new query and the names registered (with their schemas), for the caller to deregister.

    Raises :class:`~azof.errors.InvalidArgumentError` for a malformed call,
    :class:`~azof.errors.TableNotFoundError` for an unknown table and the errors of the
    temporal functions, each naming the call as written.
    """
    if "azof_" not in query.lower():
        return rewritten, {}
    tokens = tokenize(query, dialect)
    spans = _find_calls(query, tokens)
    if not spans:
        return rewritten, {}
    calls = [
        _Parser(query, tokens, span, f"{prefix}f{number}").parse()
        for number, span in enumerate(spans)
    ]
    out_tokens = tokenize(rewritten.sql, dialect)
    out_spans = _find_calls(rewritten.sql, out_tokens)
    if len(out_spans) != len(spans):  # pragma: no cover - rewrite_query keeps calls intact
        raise InvalidArgumentError("cannot place the table function calls of the query")
    evaluator = _Evaluator(context, query, tokens, tables, dialect)
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
            _register(context, name, result)
            registered[name] = result.schema
    except Exception:
        for name in registered:
            context.session.deregister_table(name)
        raise
    return (
        _FunctionQuery(
            sql=sql, references=rewritten.references, explain=rewritten.explain, calls=tuple(calls)
        ),
        registered,
    )
