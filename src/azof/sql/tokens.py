"""The token toolkit of azof's SQL text processing: sqlglot's tokens, positions and spans,
parentheses and comma lists, and the structure both :mod:`azof.sql.clauses` (time-travel
clauses) and :mod:`azof.sql.calls` (table function calls) read from the tokens: which
names are in table position (``FROM``, ``JOIN``, a ``FROM`` list's comma), whether an alias
follows, and the CTEs of the query.

Pure text processing: no I/O, no engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence, Set
from dataclasses import dataclass

from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import TokenError

from azof.errors import InvalidArgumentError

__all__ = [
    "FROM_ENDS",
    "IDENTIFIERS",
    "NOT_ALIASES",
    "QUERY_STARTS",
    "Cte",
    "Located",
    "Token",
    "alias_follows",
    "collapse_whitespace",
    "find_ctes",
    "line_column",
    "matching",
    "span_text",
    "split_commas",
    "tokenize",
    "walk_from_lists",
]

IDENTIFIERS = frozenset({"VAR", "IDENTIFIER"})
QUERY_STARTS = frozenset({"SELECT", "WITH", "VALUES", "FROM", "L_PAREN"})
# Token types after which, inside a FROM list, the FROM list has ended.
FROM_ENDS = frozenset(
    [
        "WHERE",
        "GROUP_BY",
        "HAVING",
        "ORDER_BY",
        "LIMIT",
        "OFFSET",
        "QUALIFY",
        "WINDOW",
        "UNION",
        "INTERSECT",
        "EXCEPT",
        "SELECT",
        "SEMICOLON",
        "FETCH",
    ]
)
# Words that may follow a table reference without being its alias.
NOT_ALIASES = frozenset(
    [
        "ANTI",
        "ASOF",
        "AT",
        "CROSS",
        "EXCEPT",
        "FETCH",
        "FOR",
        "FULL",
        "GROUP",
        "HAVING",
        "INNER",
        "INTERSECT",
        "JOIN",
        "LATERAL",
        "LEFT",
        "LIMIT",
        "NATURAL",
        "OFFSET",
        "ON",
        "ORDER",
        "OUTER",
        "PIVOT",
        "POSITIONAL",
        "QUALIFY",
        "RIGHT",
        "SAMPLE",
        "SEMI",
        "TABLESAMPLE",
        "UNION",
        "UNPIVOT",
        "USING",
        "WHERE",
        "WINDOW",
    ]
)
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    end: int  # exclusive

    @property
    def upper(self) -> str:
        """The text in upper case for words and symbols; empty for strings and quoted
        identifiers (``'AT'`` and ``"AT"`` are not the keyword AT)."""
        return (
            "" if self.kind == "IDENTIFIER" or self.kind.endswith("STRING") else self.text.upper()
        )


class Located:
    """Something written in a query: ``text`` (whitespace collapsed) at ``line``, ``column``."""

    text: str
    line: int
    column: int

    def where(self) -> str:
        return f"{self.text!r} (line {self.line}, column {self.column})"


def tokenize(sql: str, dialect: str) -> list[Token]:
    """sqlglot's tokens of ``sql``, with the text after a command (``EXPLAIN ...``, which
    sqlglot keeps as one string) split into tokens too."""
    try:
        raw = Dialect.get_or_raise(dialect).tokenize(sql)
    except TokenError:
        raise InvalidArgumentError(
            "the query does not split into SQL tokens (an unterminated quote or comment?)"
        ) from None
    tokens: list[Token] = []
    for index, token in enumerate(raw):
        kind = token.token_type.name
        if kind == "STRING" and index > 0 and raw[index - 1].token_type.name == "COMMAND":
            offset = raw[index - 1].end + 1
            tokens.extend(
                Token(t.kind, t.text, t.start + offset, t.end + offset)
                for t in tokenize(sql[offset:], dialect)
            )
            break
        tokens.append(Token(kind, token.text, token.start, token.end + 1))
    return tokens


def line_column(sql: str, offset: int) -> tuple[int, int]:
    """The line and column (from 1) of character ``offset`` of ``sql``."""
    line = sql.count("\n", 0, offset) + 1
    column = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return line, column


def collapse_whitespace(text: str) -> str:
    """``text`` with every run of whitespace replaced by one space."""
    return _WHITESPACE.sub(" ", text)


def span_text(sql: str, tokens: Sequence[Token], first: int, last: int) -> str:
    """The text of tokens ``first..last`` (inclusive) of ``sql``, whitespace collapsed."""
    return collapse_whitespace(sql[tokens[first].start : tokens[last].end])


def matching(tokens: Sequence[Token], index: int, *, brackets: bool = True) -> int | None:
    """The index of the parenthesis (or bracket) that closes the one at ``index``."""
    opening, closing = _nesting(brackets)
    depth = 0
    for position in range(index, len(tokens)):
        kind = tokens[position].kind
        if kind in opening:
            depth += 1
        elif kind in closing:
            depth -= 1
            if depth == 0:
                return position
    return None


def split_commas(
    tokens: Sequence[Token], items: Sequence[int], *, brackets: bool = True
) -> list[list[int]]:
    """``items`` (token indexes) split at the commas outside parentheses (and brackets)."""
    opening, closing = _nesting(brackets)
    parts: list[list[int]] = [[]]
    depth = 0
    for index in items:
        kind = tokens[index].kind
        if kind in opening:
            depth += 1
        elif kind in closing:
            depth -= 1
        if kind == "COMMA" and depth == 0:
            parts.append([])
        else:
            parts[-1].append(index)
    return parts


def _nesting(brackets: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if brackets:
        return ("L_PAREN", "L_BRACKET"), ("R_PAREN", "R_BRACKET")
    return ("L_PAREN",), ("R_PAREN",)


# -- the structure of a query, from its tokens ------------------------------------------------


def walk_from_lists(
    tokens: Sequence[Token], consumed: Set[int] = frozenset()
) -> Iterator[tuple[int, bool]]:
    """``(index, in_table_position)`` for every token not in ``consumed``, in order.

    A token is in table position when it directly follows ``FROM``, ``JOIN``, or a comma
    or opening parenthesis of a ``FROM`` list. The walk tracks, per parenthesis depth,
    whether it is a query (where ``FROM`` starts a ``FROM`` list, unlike in
    ``EXTRACT(YEAR FROM ts)``) and whether it is inside its ``FROM`` list. The caller may
    add indexes to ``consumed`` (a set it owns) while walking, for the token just yielded
    and those after it: they are skipped, and read as one table reference.
    """
    depth = 0
    query = {0: True}
    in_from = {0: False}
    previous = ""
    for index, token in enumerate(tokens):
        if index in consumed:
            previous = "REFERENCE"
            continue
        kind = token.kind
        yield (
            index,
            previous in ("FROM", "JOIN") or (previous in ("COMMA", "L_PAREN") and in_from[depth]),
        )
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
        if index in consumed:
            kind = "REFERENCE"
        elif kind == "FROM" and not query[depth]:
            kind = "FUNCTION_FROM"  # EXTRACT(YEAR FROM ts), SUBSTRING(s FROM 2)...
        previous = kind


def alias_follows(tokens: Sequence[Token], last: int) -> bool:
    """Whether an alias (``AS name``, ``name``, ``"name"``) follows token ``last``, the end
    of a table reference or call."""
    after = tokens[last + 1] if last + 1 < len(tokens) else None
    return after is not None and (
        after.kind in ("ALIAS", "IDENTIFIER")
        or (after.kind == "VAR" and after.upper not in NOT_ALIASES)
    )


@dataclass(frozen=True)
class Cte:
    """One CTE of a query."""

    name: str
    """As the engine folds it (unquoted names in lower case)."""
    written: str
    quoted: bool
    first: int
    """The index of the ``WITH`` token of its clause."""
    close: int
    """The index of the closing parenthesis of its body."""
    recursive: bool = False
    """Its clause is ``WITH RECURSIVE`` (its names are visible in all its bodies)."""
    scope_end: int = -1
    """The index of the last token of the query its clause prefixes (before the closing
    parenthesis of the subquery it sits in, or before ``;``)."""

    def visible_at(self, index: int) -> bool:
        """Whether a name at token ``index`` denotes this CTE (ignoring shadowing): after its
        body, up to the end of the query its ``WITH`` prefixes (the later CTEs of the clause
        and the query itself); with ``RECURSIVE``, in every body of its clause too."""
        start = self.first if self.recursive else self.close + 1
        return start <= index <= self.scope_end


def find_ctes(sql: str, tokens: Sequence[Token]) -> list[Cte]:
    """Every CTE of every ``WITH [RECURSIVE] name [(columns)] AS [[NOT] MATERIALIZED] (...)``
    of ``sql``, nested ones included."""
    found: list[Cte] = []
    for first, token in enumerate(tokens):
        if token.kind != "WITH":
            continue
        position = first + 1
        recursive = position < len(tokens) and tokens[position].kind == "RECURSIVE"
        if recursive:
            position += 1
        scope_end = _query_end(tokens, first)
        while position < len(tokens) and _is_name(tokens[position]):
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
            # An unterminated body still defines the name (the engine reports the syntax).
            close = matching(tokens, position)
            quoted = name.kind == "IDENTIFIER"
            found.append(
                Cte(
                    name=name.text if quoted else name.text.lower(),
                    written=sql[name.start : name.end],
                    quoted=quoted,
                    first=first,
                    close=len(tokens) - 1 if close is None else close,
                    recursive=recursive,
                    scope_end=scope_end,
                )
            )
            if close is None:
                break
            position = close + 1
            if position < len(tokens) and tokens[position].kind == "COMMA":
                position += 1
            else:
                break
    return found


def _query_end(tokens: Sequence[Token], first: int) -> int:
    """The last token of the query that starts at token ``first``: before the parenthesis
    that closes the one it sits in, before a ``;`` at its level, or the last token."""
    depth = 0
    for position in range(first + 1, len(tokens)):
        kind = tokens[position].kind
        if kind in ("L_PAREN", "L_BRACKET"):
            depth += 1
        elif kind in ("R_PAREN", "R_BRACKET"):
            if depth == 0:
                return position - 1
            depth -= 1
        elif kind == "SEMICOLON" and depth == 0:
            return position - 1
    return len(tokens) - 1


def _is_name(token: Token) -> bool:
    """Whether ``token`` can name a CTE: an identifier, or a word the tokenizer reads as a
    keyword (``WITH then AS (...)``)."""
    return token.kind in IDENTIFIERS or (
        not token.kind.endswith("STRING") and token.text.isidentifier()
    )
