"""Time-travel clauses in SQL text: find them, check them, and rewrite the table references.

SQL engines do not know azof's clauses: DataFusion reads ``financials AT ('2019-01-17')``
as an alias with a column list, DuckDB has clauses of its own, and several parsers drop
``FOR SYSTEM_TIME AS OF`` without a word. So the query is split into tokens with sqlglot's
tokenizer (:mod:`azof.sql.tokens`; string literals and comments stay intact), and every
table reference of the lakehouse, with or without a clause, is replaced by a unique
internal name whose data the caller registers. A reference keeps the user's alias, or gets
its own table name as alias, so ``financials.key`` still resolves::

    FROM financials AT ('2019-01-17') f   ->   FROM __azof_1_0 f
    JOIN financials                       ->   JOIN __azof_1_1 AS financials

A clause that does not directly follow a lakehouse table name is an error, never ignored.
Pure text processing: no I/O, no engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from azof.errors import InvalidArgumentError, TableNotFoundError
from azof.sql.tokens import (
    IDENTIFIERS,
    Located,
    Token,
    alias_follows,
    find_ctes,
    line_column,
    matching,
    span_text,
    split_commas,
    tokenize,
    walk_from_lists,
)
from azof.timestamps import parse_as_of, parse_instant

__all__ = [
    "RewrittenQuery",
    "TableReference",
    "TableResolver",
    "TimeTravel",
    "rewrite_query",
]

_CLAUSE_FORMS = (
    "AT ('<timestamp>'), AT (TIMESTAMP => '<timestamp>'), "
    "AT (TIMESTAMP => '<timestamp>', VERSION => <n>), AT (VERSION => <n>), "
    "AT (TIMESTAMP => '<timestamp>', KNOWN_AT => '<timestamp>'), "
    "FOR SYSTEM_TIME AS OF '<timestamp>'"
)
_PARAMETERS = ("TIMESTAMP", "VERSION", "KNOWN_AT")


@dataclass(frozen=True)
class TimeTravel:
    """What a clause asks for. ``as_of`` is event time; ``version`` and ``known_at`` choose
    the snapshot (commit time). Timestamps are kept as written (checked to parse)."""

    as_of: str | None = None
    version: int | None = None
    known_at: str | None = None


@dataclass(frozen=True)
class TableReference(Located):
    """One reference to a lakehouse table in a query."""

    table: str
    """The lakehouse table name."""
    internal: str
    """The name the rewritten query uses for it (registered by the caller)."""
    alias: str
    """The name the query knows the reference by (its alias, or the table name)."""
    text: str
    """The reference as written, e.g. ``financials AT ('2019-01-17')``."""
    line: int
    column: int
    travel: TimeTravel


@dataclass(frozen=True)
class RewrittenQuery:
    """The query with every lakehouse reference replaced by its internal name."""

    sql: str
    references: tuple[TableReference, ...]
    explain: bool
    """The statement is an ``EXPLAIN``."""

    def readable(self, text: str) -> str:
        """``text`` (an engine's message) with internal names replaced by the references."""
        for reference in sorted(self.references, key=lambda r: -len(r.internal)):
            text = text.replace(reference.internal, reference.text)
        return text


TableResolver = Callable[[str, bool], str | None]
"""``resolve(name, quoted)``: the lakehouse table a name in the query denotes, or None."""


class _Rewriter:
    def __init__(
        self,
        sql: str,
        tokens: list[Token],
        resolve: TableResolver,
        prefix: str,
        unknown: Literal["error", "keep"],
        describe_lakehouse: Callable[[], str],
    ) -> None:
        self.sql = sql
        self.tokens = tokens
        self.resolve = resolve
        self.prefix = prefix
        self.unknown = unknown
        self.describe_lakehouse = describe_lakehouse
        self.consumed: set[int] = set()
        self.references: list[TableReference] = []
        self.edits: list[tuple[int, int, str]] = []
        self.ctes = find_ctes(sql, tokens)

    # -- helpers -----------------------------------------------------------------------------

    def token(self, index: int) -> Token | None:
        return self.tokens[index] if 0 <= index < len(self.tokens) else None

    def kind(self, index: int) -> str:
        token = self.token(index)
        return token.kind if token is not None else ""

    def upper(self, index: int) -> str:
        token = self.token(index)
        return token.upper if token is not None else ""

    def text(self, first: int, last: int) -> str:
        """The original text of tokens ``first..last`` (inclusive), whitespace collapsed."""
        return span_text(self.sql, self.tokens, first, last)

    def fail(self, message: str, first: int, last: int) -> InvalidArgumentError:
        line, column = line_column(self.sql, self.tokens[first].start)
        return InvalidArgumentError(
            f"{self.text(first, last)!r} (line {line}, column {column}): {message}"
        )

    def clause_at(self, index: int) -> bool:
        """Whether a time-travel clause starts at token ``index``."""
        if self.upper(index) == "AT" and self.kind(index + 1) == "L_PAREN":
            return True
        return self.kind(index) == "FOR" and self.upper(index + 1) == "SYSTEM_TIME"

    # -- the scan over the tokens ------------------------------------------------------------

    def run(self) -> None:
        for index, table_position in walk_from_lists(self.tokens, self.consumed):
            if table_position and self.tokens[index].kind in IDENTIFIERS:
                self.table_position(index)
        self.check_leftovers()

    def table_position(self, index: int) -> None:
        """Token ``index`` is a name in table position (after FROM, JOIN or a FROM comma)."""
        after = self.kind(index + 1)
        if after in ("DOT", "L_PAREN"):  # a qualified name or a table function
            return
        token = self.tokens[index]
        quoted = token.kind == "IDENTIFIER"
        has_clause = self.clause_at(index + 1)
        table = self.resolve(token.text, quoted)
        if not has_clause:
            if self.is_cte(index):
                return  # a CTE in scope shadows a lakehouse table of the same name
            if table is None:
                if self.unknown == "keep":
                    return
                raise self.not_found(token.text, index, index)
            self.add_reference(table, index, index, TimeTravel())
            return
        if self.upper(index + 1) == "AT":
            travel, last = self.parse_at(index, index + 1)
        else:
            travel, last = self.parse_system_time(index, index + 1)
        if self.is_cte(index):
            raise self.fail(
                f"{token.text!r} is a CTE, not a lakehouse table; a time-travel clause "
                "applies to lakehouse tables (put it on the table inside the CTE)",
                index,
                last,
            )
        if table is None:
            raise self.not_found(token.text, index, last)
        if self.clause_at(last + 1):
            raise self.fail(
                "a table reference takes one time-travel clause", index, self.closing(last + 1)
            )
        self.add_reference(table, index, last, travel)

    def is_cte(self, index: int) -> bool:
        """Whether the name at token ``index`` denotes a CTE in scope there."""
        token = self.tokens[index]
        name = token.text if token.kind == "IDENTIFIER" else token.text.lower()
        return any(cte.name == name and cte.visible_at(index) for cte in self.ctes)

    def not_found(self, name: str, first: int, last: int) -> TableNotFoundError:
        line, column = line_column(self.sql, self.tokens[first].start)
        return TableNotFoundError(
            f"no table {name!r} in {self.describe_lakehouse()} (in "
            f"{self.text(first, last)!r}, line {line}, column {column})"
        )

    def closing(self, index: int) -> int:
        """The last token of the clause starting at ``index`` (for messages)."""
        if self.upper(index) == "AT":
            return self.matching_paren(index + 1) or len(self.tokens) - 1
        return min(index + 5, len(self.tokens) - 1)

    def matching_paren(self, index: int) -> int | None:
        return matching(self.tokens, index, brackets=False)

    def add_reference(self, table: str, first: int, last: int, travel: TimeTravel) -> None:
        name = self.tokens[first]
        internal = f"{self.prefix}{len(self.references)}"
        after = self.token(last + 1)
        written = self.sql[name.start : name.end]
        if after is not None and alias_follows(self.tokens, last):
            alias_token = self.token(last + 2) if after.kind == "ALIAS" else after
            alias = alias_token.text if alias_token is not None else written
            replacement = internal
        else:
            alias = name.text
            replacement = f"{internal} AS {written}"
        line, column = line_column(self.sql, name.start)
        self.references.append(
            TableReference(
                table=table,
                internal=internal,
                alias=alias,
                text=self.text(first, last),
                line=line,
                column=column,
                travel=travel,
            )
        )
        self.edits.append((name.start, self.tokens[last].end, replacement))
        self.consumed.update(range(first, last + 1))

    # -- clauses -----------------------------------------------------------------------------

    def parse_at(self, name: int, at: int) -> tuple[TimeTravel, int]:
        close = self.matching_paren(at + 1)
        if close is None:
            raise self.fail("the AT clause has no closing parenthesis", name, len(self.tokens) - 1)
        inner = list(range(at + 2, close))
        if not inner:
            raise self.fail(f"the AT clause is empty; write one of {_CLAUSE_FORMS}", name, close)
        value = self.timestamp_value(inner)
        if value is not None:
            return TimeTravel(as_of=self.check_instant(value, "AT", name, close)), close
        found: dict[str, str | int] = {}
        for item in split_commas(self.tokens, inner, brackets=False):
            if len(item) < 3 or self.kind(item[1]) != "FARROW":
                raise self.fail(
                    "AT takes a timestamp string or named parameters such as "
                    f"TIMESTAMP => '2019-01-17'; write one of {_CLAUSE_FORMS}",
                    name,
                    close,
                )
            parameter = self.upper(item[0])
            if parameter not in _PARAMETERS:
                raise self.fail(
                    f"unknown AT parameter {self.tokens[item[0]].text!r}; use TIMESTAMP "
                    "(event time), VERSION or KNOWN_AT (commit time)",
                    name,
                    close,
                )
            if parameter in found:
                raise self.fail(f"AT names {parameter} twice", name, close)
            rest = item[2:]
            if parameter == "VERSION":
                found[parameter] = self.version_value(rest, name, close)
            else:
                text = self.timestamp_value(rest)
                if text is None:
                    raise self.fail(
                        f"{parameter} takes a quoted timestamp such as '2019-01-17T00:00:00Z'",
                        name,
                        close,
                    )
                found[parameter] = self.check_instant(text, parameter, name, close)
        if "VERSION" in found and "KNOWN_AT" in found:
            raise self.fail(
                "AT takes VERSION or KNOWN_AT, not both (both choose the snapshot by commit time)",
                name,
                close,
            )
        as_of, known_at = found.get("TIMESTAMP"), found.get("KNOWN_AT")
        version = found.get("VERSION")
        assert as_of is None or isinstance(as_of, str)
        assert known_at is None or isinstance(known_at, str)
        assert version is None or isinstance(version, int)
        return TimeTravel(as_of=as_of, version=version, known_at=known_at), close

    def parse_system_time(self, name: int, start: int) -> tuple[TimeTravel, int]:
        # FOR SYSTEM_TIME AS OF [TIMESTAMP] '<timestamp>'
        if self.kind(start + 2) != "ALIAS" or self.upper(start + 3) != "OF":
            last = min(start + 3, len(self.tokens) - 1)
            raise self.fail("only FOR SYSTEM_TIME AS OF '<timestamp>' is supported", name, last)
        first_value = start + 4
        last = first_value + (1 if self.upper(first_value) == "TIMESTAMP" else 0)
        text = self.timestamp_value(list(range(first_value, last + 1)))
        if text is None:
            raise self.fail(
                "FOR SYSTEM_TIME AS OF takes a quoted timestamp such as '2019-01-17'",
                name,
                min(last, len(self.tokens) - 1),
            )
        return TimeTravel(as_of=self.check_instant(text, "AS OF", name, last)), last

    def timestamp_value(self, items: Sequence[int]) -> str | None:
        """The text of ``'...'`` or ``TIMESTAMP '...'``, or None for anything else."""
        if len(items) == 2 and self.upper(items[0]) == "TIMESTAMP":
            items = items[1:]
        if len(items) == 1 and self.kind(items[0]) == "STRING":
            return self.tokens[items[0]].text
        return None

    def version_value(self, items: Sequence[int], name: int, close: int) -> int:
        text = self.tokens[items[0]].text if len(items) == 1 else ""
        if len(items) != 1 or self.kind(items[0]) != "NUMBER" or not text.isdigit():
            raise self.fail(
                "VERSION takes a whole number such as VERSION => 12 (a table's versions are "
                "listed by table.versions())",
                name,
                close,
            )
        return int(text)

    def check_instant(self, text: str, what: str, name: int, close: int) -> str:
        """``text`` checked as an instant: event times also take 'now' and 'today', commit
        times (KNOWN_AT) only timestamps."""
        try:
            (parse_instant if what == "KNOWN_AT" else parse_as_of)(text, what)
        except InvalidArgumentError as exc:
            raise self.fail(str(exc), name, close) from None
        return text

    # -- anything left over is an error ------------------------------------------------------

    def check_leftovers(self) -> None:
        for index, token in enumerate(self.tokens):
            if index in self.consumed or not self.clause_at(index):
                continue
            before = self.kind(index - 1)
            if token.upper == "AT" and before not in (*IDENTIFIERS, "R_PAREN", "STRING"):
                continue  # a function called at(...)
            first = index - 1 if index > 0 else index
            raise self.fail(
                "a time-travel clause must directly follow a lakehouse table name in FROM or "
                "JOIN, before any alias (write financials AT ('2019-01-17') AS f)",
                first,
                self.closing(index),
            )


def rewrite_query(
    sql: str,
    resolve: TableResolver,
    *,
    dialect: str,
    prefix: str,
    unknown: Literal["error", "keep"] = "error",
    describe_lakehouse: Callable[[], str] = lambda: "the lakehouse",
) -> RewrittenQuery:
    """Find and check every time-travel clause and lakehouse reference of ``sql``.

    ``resolve`` maps a name in table position to a lakehouse table (or None); ``prefix``
    starts the internal names (``prefix0``, ``prefix1``...). A name in table position that
    is neither a CTE nor a lakehouse table is a ``TableNotFoundError`` with
    ``unknown="error"``, or left for the engine with ``unknown="keep"``. A name with a
    clause must always be a lakehouse table.
    """
    if not isinstance(sql, str) or not sql.strip():
        raise InvalidArgumentError("the query is empty; write a SELECT statement")
    tokens = tokenize(sql, dialect)
    rewriter = _Rewriter(sql, tokens, resolve, prefix, unknown, describe_lakehouse)
    rewriter.run()
    out = sql
    for start, end, replacement in sorted(rewriter.edits, reverse=True):
        out = out[:start] + replacement + out[end:]
    explain = bool(tokens) and tokens[0].kind == "COMMAND" and tokens[0].upper == "EXPLAIN"
    return RewrittenQuery(sql=out, references=tuple(rewriter.references), explain=explain)
