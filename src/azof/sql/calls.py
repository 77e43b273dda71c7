"""Table function calls in SQL text: the signatures of ``azof_history``, ``azof_changes``,
``azof_restatements`` and ``azof_asof_join``, finding their calls, and checking their
arguments (``docs/sql.md``)::

    SELECT * FROM azof_history('prices', keys => 'AAPL,MSFT', start => '2019-01-01')
    SELECT * FROM azof_changes('prices', '2019-02-01', '2019-04-01', version => 3) c

A call is found with sqlglot's tokenizer in table position (``FROM``, ``JOIN``, a ``FROM``
list's comma; the walk of :mod:`azof.sql.tokens` that also finds table references); its
arguments are literals, positional first, then ``name => value``. Pure text processing: no
I/O, no engine; :mod:`azof.sql.functions` evaluates the calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from azof.errors import InvalidArgumentError
from azof.sql.tokens import (
    Located,
    Token,
    alias_follows,
    line_column,
    matching,
    span_text,
    split_commas,
    walk_from_lists,
)
from azof.timestamps import parse_instant

__all__ = ["FUNCTIONS", "CallSpan", "FunctionCall", "Scalar", "Value", "find_calls", "parse_call"]

Scalar = str | int
Value = Scalar | tuple[Scalar, ...] | None


@dataclass(frozen=True)
class _Parameter:
    name: str
    kind: str
    """``table``, ``text``, ``keys``, ``columns``, ``timestamp``, ``int`` or ``known_at``
    (a column of the left rows or a timestamp: ``azof_asof_join``'s commit time)."""
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
            _COLUMNS,
            _VERSION,
            _Parameter("known_at", "known_at"),
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


# -- finding the calls ------------------------------------------------------------------------


@dataclass(frozen=True)
class CallSpan:
    """Where a call is in the query's tokens."""

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


def find_calls(sql: str, tokens: Sequence[Token]) -> list[CallSpan]:
    """Every call of a table function in ``tokens`` (of ``sql``), and whether it is in table
    position."""
    spans: list[CallSpan] = []
    for index, table_position in walk_from_lists(tokens):
        if not _is_call(tokens, index):
            continue
        close = matching(tokens, index + 1)
        if close is None:
            raise InvalidArgumentError(
                f"{span_text(sql, tokens, index, len(tokens) - 1)!r}: the call of "
                f"{tokens[index].text} has no closing parenthesis"
            )
        spans.append(CallSpan(index, close, table_position, alias_follows(tokens, close)))
    return spans


def parse_call(sql: str, tokens: Sequence[Token], span: CallSpan, internal: str) -> FunctionCall:
    """The call at ``span``, its arguments checked, to be known as ``internal`` in the
    rewritten query. Raises :class:`~azof.errors.InvalidArgumentError` naming the call."""
    return _Parser(sql, tokens, span, internal).parse()


# -- reading the arguments --------------------------------------------------------------------


class _Parser(Located):
    """The arguments of one call: positional first, then ``name => value``; literals only."""

    def __init__(self, sql: str, tokens: Sequence[Token], span: CallSpan, internal: str) -> None:
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
        if (  # by its text: DuckDB's tokenizer calls TIMESTAMP a TIMESTAMPNTZ
            len(item) == 2
            and tokens[item[0]].upper == "TIMESTAMP"
            and kinds[1] == "STRING"
            and parameter.kind in ("timestamp", "known_at")
        ):
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
        if kind in ("table", "text", "known_at"):
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
