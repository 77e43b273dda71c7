"""SQL predicates (the text of a WHERE clause) as pyarrow compute expressions.

:func:`parse_predicate` reads one predicate with sqlglot and translates it against a schema;
:func:`translate_predicate` does the same for an already parsed sqlglot expression (the SQL
layer uses it to push a WHERE clause down into a scan). Both are pure: no I/O.

Supported: comparisons (``=``, ``<>``, ``!=``, ``<``, ``<=``, ``>``, ``>=``), ``AND``, ``OR``,
``NOT``, parentheses, ``[NOT] IN (...)``, ``[NOT] BETWEEN``, ``IS [NOT] NULL``,
``IS [NOT] TRUE|FALSE``, ``[NOT] LIKE`` / ``ILIKE`` (with ``ESCAPE``), string, number,
boolean and ``NULL`` literals, and ``TIMESTAMP '...'`` / ``DATE '...'`` literals.

Literals take the type of the column they are compared with: a string literal compared with
a timestamp column is read as an ISO-8601 instant (no offset means UTC) and cast to the
column's unit. SQL's three-valued logic is kept: a comparison with ``NULL`` matches no row,
and ``x NOT IN (...)`` does not match rows where ``x`` is null.

:func:`fit_unsigned_literals` does the same for a pyarrow expression a caller wrote: Arrow
compares ``uint64`` with ``int64`` as ``int64``, which fails on values of ``2**63`` and more,
so a Python integer compared with an unsigned 64-bit column takes the column's type.

Column names are checked against the schema (unquoted names match case-insensitively when
there is no exact match). Anything else is an :class:`~azof.errors.InvalidArgumentError`
naming the offending text; valid SQL that is not translated (functions, arithmetic,
subqueries...) is the subclass :class:`UnsupportedPredicateError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError, TokenError

from azof.errors import InvalidArgumentError
from azof.format.types import unit_nanos
from azof.timestamps import Instant, parse_instant

__all__ = [
    "UnsupportedPredicateError",
    "fit_unsigned_literals",
    "fitted_filter",
    "parse_predicate",
    "translate_predicate",
]


class UnsupportedPredicateError(InvalidArgumentError):
    """The predicate is valid SQL but uses something azof does not translate."""


_TIMESTAMP_TYPES = {
    exp.DataType.Type.TIMESTAMP,
    exp.DataType.Type.TIMESTAMPTZ,
    exp.DataType.Type.TIMESTAMPLTZ,
    exp.DataType.Type.TIMESTAMPNTZ,
    exp.DataType.Type.DATETIME,
}
_DATE_TYPES = {exp.DataType.Type.DATE}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_NULL_BOOL = pa.scalar(None, pa.bool_())


@dataclass(frozen=True)
class _Timestamp:
    """The value of a ``TIMESTAMP '...'`` literal."""

    instant: Instant


@dataclass(frozen=True)
class _Literal:
    """A literal whose type is decided by what it is compared with."""

    value: bool | int | float | str | _Timestamp | date | None
    sql: str
    number_text: str | None = None


@dataclass(frozen=True)
class _Typed:
    """A column, or a sub-expression of known type (a condition)."""

    expression: pc.Expression
    type: pa.DataType
    sql: str


_Operand = _Literal | _Typed


def parse_predicate(sql: str, schema: pa.Schema, *, dialect: str | None = None) -> pc.Expression:
    """The pyarrow expression of the SQL predicate ``sql`` over ``schema``.

    >>> schema = pa.schema([("key", pa.string()), ("revenue", pa.int64())])
    >>> parse_predicate("key IN ('AAPL', 'MSFT') AND revenue > 1000", schema)
    <pyarrow.compute.Expression (is_in(key, ...) and (revenue > 1000))>

    Raises :class:`~azof.errors.InvalidArgumentError` for text that does not parse, unknown
    columns, literals that do not fit their column, and (as
    :class:`UnsupportedPredicateError`) SQL this translator does not handle.
    """
    if not isinstance(sql, str) or not sql.strip():
        raise InvalidArgumentError("the predicate is empty; write a condition such as key = 'a'")
    try:
        statements = sqlglot.parse(sql, dialect=dialect)
    except SqlglotError as exc:
        raise InvalidArgumentError(
            f"cannot parse the predicate {sql!r}: {_describe(exc)}"
        ) from None
    nodes = [node for node in statements if node is not None]
    if len(nodes) != 1:
        raise InvalidArgumentError(f"the predicate {sql!r} must be one condition, not {len(nodes)}")
    return translate_predicate(nodes[0], schema)


def translate_predicate(node: exp.Expr, schema: pa.Schema) -> pc.Expression:
    """The pyarrow expression of a parsed sqlglot condition over ``schema``."""
    expression = _Translator(schema).condition(node)
    return fitted_filter(expression, schema, f"the predicate {node.sql()!r}", "the column types")


def fitted_filter(
    expression: pc.Expression, schema: pa.Schema, shown: str, against: str
) -> pc.Expression:
    """``expression`` checked as a filter over ``schema`` (an
    :class:`InvalidArgumentError`, "``shown`` does not fit ``against``", naming the columns,
    when it names another column or mixes types) and fitted to its ``uint64`` columns
    (:func:`fit_unsigned_literals`)."""
    try:
        schema.empty_table().filter(expression)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise InvalidArgumentError(
            f"{shown} does not fit {against} ({_first_line(str(exc))}); columns: {_columns(schema)}"
        ) from None
    return fit_unsigned_literals(expression, schema)


_UINT64_MAX = 2**64 - 1


def fit_unsigned_literals(expression: pc.Expression, schema: pa.Schema) -> pc.Expression:
    """``expression`` (a filter over ``schema``) made to answer on ``uint64`` columns whose
    values reach ``2**63`` and more.

    ``pc.field("key") == 1`` holds an ``int64`` literal, and Arrow compares ``uint64`` with
    ``int64`` by casting the column to ``int64``, which fails on larger values (in a filter
    and in row-group pruning by statistics). An expression on ``uint64`` columns only (a
    filter on an unsigned key) gets its integer literals and ``isin`` value sets as
    ``uint64`` (the same numbers; a negative one, which no such value equals, is an
    :class:`InvalidArgumentError`); one that also refers to other columns gets its
    non-negative ones so only when it fails on the largest ``uint64`` values. An expression
    that still fails on them is an :class:`InvalidArgumentError` saying to compare with
    ``pa.scalar(n, pa.uint64())``.
    """
    unsigned = pa.schema([f for f in schema if pa.types.is_uint64(f.type)])
    if len(unsigned) == 0:
        return expression
    names = ", ".join(unsigned.names)
    probe = pa.table({f.name: pa.array([_probe_value(f.type)], f.type) for f in schema})
    try:
        unsigned.empty_table().filter(expression)
        only_unsigned = True
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        only_unsigned = False  # it refers to other columns too
    if only_unsigned:  # always: row-group pruning compares statistics with the literals too
        fitted = _unsigned_literals(expression, names, refuse_negative=True)
    elif _evaluates(expression, probe):
        return expression
    else:
        fitted = _unsigned_literals(expression, names, refuse_negative=False)
    if _evaluates(fitted, probe):
        return fitted
    raise InvalidArgumentError(
        f"the filter {expression} cannot be evaluated on the unsigned 64-bit column(s) {names}, "
        "whose values may exceed the signed range; compare them with whole numbers >= 0 (in "
        "Python, unsigned values such as pa.scalar(1, pa.uint64()))"
    )


def _evaluates(expression: pc.Expression, probe: pa.Table) -> bool:
    """Whether ``expression`` evaluates on ``probe`` (any failure but an integer out of
    range is left for the scan to report)."""
    try:
        probe.filter(expression)
    except pa.ArrowInvalid as exc:
        return "not in range" not in str(exc)
    except (pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return True
    return True


def _probe_value(dtype: pa.DataType) -> Any:
    return _UINT64_MAX if pa.types.is_uint64(dtype) else None


def _unsigned_literals(
    expression: pc.Expression, names: str, *, refuse_negative: bool
) -> pc.Expression:
    """``expression`` with its non-negative signed integer literals (and ``isin`` value
    sets) cast to ``uint64``; a negative one is refused or left as it is. Rewritten
    through the expression's own serialized form (what pickling it writes): an Arrow IPC
    batch with one column per literal or function option."""
    try:
        reduced: Any = expression.__reduce__()
        rebuild, arguments = reduced
        batch = pa.ipc.open_file(arguments[0]).get_batch(0)
    except (pa.ArrowException, TypeError, ValueError):
        return expression  # a form Arrow does not serialize: left as it is
    schema, columns = batch.schema, list(batch.columns)
    changed = False
    for index, column in enumerate(columns):
        fitted = _unsigned_column(column, names, refuse_negative)
        if fitted is not None:
            columns[index] = fitted
            schema = schema.set(index, schema.field(index).with_type(fitted.type))
            changed = True
    if not changed:
        return expression
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, schema) as writer:  # Schema.set keeps the expression tree
        writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=schema))
    rebuilt: pc.Expression = rebuild(sink.getvalue())
    return rebuilt


def _unsigned_column(
    column: pa.Array[Any], names: str, refuse_negative: bool
) -> pa.Array[Any] | None:
    """A literal's or a set lookup's column with signed integers as ``uint64`` (``None``:
    nothing to change)."""
    dtype = column.type
    if pa.types.is_signed_integer(dtype):
        return _unsigned_values(column, names, refuse_negative)
    if pa.types.is_struct(dtype) and dtype.get_field_index("value_set") >= 0:
        struct = cast(pa.StructArray, column)
        value_set = struct.field("value_set")
        values: Any = cast(Any, value_set).flatten()
        if not pa.types.is_signed_integer(values.type):
            return None
        if _unsigned_values(values, names, refuse_negative) is None:
            return None
        fields = [f.with_type(pa.list_(pa.uint64())) if f.name == "value_set" else f for f in dtype]
        return column.cast(pa.struct(fields))
    return None


def _unsigned_values(values: Any, names: str, refuse_negative: bool) -> pa.Array[Any] | None:
    negative = pc.any(pc.less(values, pa.scalar(0, values.type))).as_py()
    if negative and not refuse_negative:
        return None
    if negative:
        least = pc.min(values).as_py()
        raise InvalidArgumentError(
            f"the filter compares the unsigned 64-bit column(s) {names} with {least}, which "
            "no value of them can equal; compare with whole numbers >= 0"
        )
    unsigned: pa.Array[Any] = values.cast(pa.uint64())
    return unsigned


class _Translator:
    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema

    # -- conditions --------------------------------------------------------------------------

    def condition(self, node: exp.Expr) -> pc.Expression:
        if isinstance(node, exp.Paren):
            return self.condition(node.this)
        if isinstance(node, exp.And):
            return self.condition(node.left) & self.condition(node.right)
        if isinstance(node, exp.Or):
            return self.condition(node.left) | self.condition(node.right)
        if isinstance(node, exp.Not):
            return ~self.condition(node.this)
        if isinstance(node, (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE)):
            return self._compare(node, self.operand(node.left), self.operand(node.right))
        if isinstance(node, exp.In):
            return self._in(node)
        if isinstance(node, exp.Between):
            return self._between(node)
        if isinstance(node, exp.Is):
            return self._is(node)
        if isinstance(node, (exp.Like, exp.ILike)):
            return self._like(node, escape=None)
        if isinstance(node, exp.Escape) and isinstance(node.this, (exp.Like, exp.ILike)):
            return self._like(node.this, escape=self._string_literal(node.expression, "ESCAPE"))
        operand = self.operand(node)
        if isinstance(operand, _Literal):
            if operand.value is None or isinstance(operand.value, bool):
                return _constant(pa.scalar(operand.value, pa.bool_()))
        elif pa.types.is_boolean(operand.type):
            return operand.expression
        raise InvalidArgumentError(
            f"{node.sql()!r} is not a condition; write a comparison such as key = 'a'"
        )

    def _compare(self, node: exp.Expr, left: _Operand, right: _Operand) -> pc.Expression:
        lhs, rhs = self._pair(left, right)
        if isinstance(node, exp.EQ):
            return lhs == rhs
        if isinstance(node, exp.NEQ):
            return lhs != rhs
        if isinstance(node, exp.LT):
            return lhs < rhs
        if isinstance(node, exp.LTE):
            return lhs <= rhs
        if isinstance(node, exp.GT):
            return lhs > rhs
        return lhs >= rhs

    def _pair(self, left: _Operand, right: _Operand) -> tuple[pc.Expression, pc.Expression]:
        if isinstance(left, _Typed) and isinstance(right, _Literal):
            return left.expression, _constant(_scalar(right, left))
        if isinstance(left, _Literal) and isinstance(right, _Typed):
            return _constant(_scalar(left, right)), right.expression
        if isinstance(left, _Literal) and isinstance(right, _Literal):
            return _constant(_untyped_scalar(left)), _constant(_untyped_scalar(right))
        assert isinstance(left, _Typed)
        assert isinstance(right, _Typed)
        return left.expression, right.expression

    def _in(self, node: exp.In) -> pc.Expression:
        if node.args.get("query") is not None or node.args.get("unnest") is not None:
            raise UnsupportedPredicateError(
                f"subqueries are not supported in {node.sql()!r}; list the values instead"
            )
        subject = self.operand(node.this)
        if not isinstance(subject, _Typed):
            raise UnsupportedPredicateError(
                f"{node.sql()!r}: the left side of IN must be a column, not a literal"
            )
        if not node.expressions:
            raise InvalidArgumentError(f"{node.sql()!r}: IN needs at least one value")
        scalars: list[pa.Scalar[Any]] = []
        has_null = False
        for item in node.expressions:
            value = self.operand(item)
            if not isinstance(value, _Literal):
                raise UnsupportedPredicateError(
                    f"{node.sql()!r}: IN (...) takes literal values only, not {item.sql()!r}"
                )
            if value.value is None:
                has_null = True
                continue
            scalar = _scalar(value, subject)
            if scalar.type == subject.type:  # a finer timestamp can equal no stored value
                scalars.append(scalar)
        value_set = pa.array(scalars, type=subject.type)
        field = subject.expression
        member = _call("if_else", field.is_null(), _constant(_NULL_BOOL), field.isin(value_set))
        if has_null:  # x IN (..., NULL) is true or unknown, never false
            member = _call("if_else", member, _constant(pa.scalar(True)), _constant(_NULL_BOOL))
        return member

    def _between(self, node: exp.Between) -> pc.Expression:
        if node.args.get("symmetric"):
            raise UnsupportedPredicateError(f"BETWEEN SYMMETRIC is not supported: {node.sql()!r}")
        subject = self.operand(node.this)
        low, high = self.operand(node.args["low"]), self.operand(node.args["high"])
        lhs, low_value = self._pair(subject, low)
        rhs, high_value = self._pair(subject, high)
        return (lhs >= low_value) & (rhs <= high_value)

    def _is(self, node: exp.Is) -> pc.Expression:
        target = node.expression
        subject = self.operand(node.this)
        value = (
            subject.expression
            if isinstance(subject, _Typed)
            else _constant(_untyped_scalar(subject))
        )
        if isinstance(target, exp.Null):
            return value.is_null()
        if isinstance(target, exp.Boolean):
            condition = self.condition(node.this)
            wanted = condition if target.this else ~condition
            return _call("coalesce", wanted, _constant(pa.scalar(False)))
        raise UnsupportedPredicateError(
            f"{node.sql()!r}: IS takes NULL, TRUE or FALSE; use = to compare values"
        )

    def _like(self, node: exp.Like | exp.ILike, escape: str | None) -> pc.Expression:
        subject = self.operand(node.this)
        pattern = self._string_literal(node.expression, "LIKE pattern")
        if not isinstance(subject, _Typed) or not _is_string(subject.type):
            kind = "a literal" if isinstance(subject, _Literal) else str(subject.type)
            raise InvalidArgumentError(
                f"{node.sql()!r}: LIKE needs a string column on its left, not {kind}"
            )
        if escape is not None and len(escape) != 1:
            raise InvalidArgumentError(f"{node.sql()!r}: ESCAPE takes one character")
        matched = pc.match_like(
            subject.expression,
            pattern=_arrow_like_pattern(pattern, escape),
            ignore_case=isinstance(node, exp.ILike),
        )
        return ~matched if node.args.get("negate") else matched

    def _string_literal(self, node: exp.Expr, what: str) -> str:
        value = self.operand(node)
        if not isinstance(value, _Literal) or not isinstance(value.value, str):
            raise InvalidArgumentError(f"the {what} must be a string literal, not {node.sql()!r}")
        return value.value

    # -- operands ----------------------------------------------------------------------------

    def operand(self, node: exp.Expr) -> _Operand:
        if isinstance(node, exp.Paren):
            return self.operand(node.this)
        if isinstance(node, exp.Column):
            return self._column(node)
        if isinstance(node, exp.Literal):
            return _literal(node)
        if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
            inner = _literal(node.this)
            if isinstance(inner.value, (int, float)) and not isinstance(inner.value, bool):
                text = f"-{inner.number_text}"
                return _Literal(-inner.value, node.sql(), text)
        if isinstance(node, exp.Boolean):
            return _Literal(bool(node.this), node.sql())
        if isinstance(node, exp.Null):
            return _Literal(None, node.sql())
        if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal):
            return _typed_literal(node)
        if isinstance(node, _CONDITIONS):
            return _Typed(self.condition(node), pa.bool_(), node.sql())
        if isinstance(node, exp.Alias):  # "a = 1 b" parses as "a = 1 AS b"
            raise InvalidArgumentError(
                f"unexpected {node.alias!r} after {node.this.sql()!r}; join conditions "
                "with AND or OR"
            )
        raise UnsupportedPredicateError(
            f"{node.sql()!r} is not supported in a predicate; use columns, literals, "
            "comparisons, AND/OR/NOT, IN, BETWEEN, IS NULL and LIKE"
        )

    def _column(self, node: exp.Column) -> _Typed:
        if node.table:
            raise UnsupportedPredicateError(
                f"qualified column {node.sql()!r} is not supported; write just {node.name!r}"
            )
        if isinstance(node.this, exp.Star):
            raise UnsupportedPredicateError("'*' is not a column")
        name = node.name
        quoted = isinstance(node.this, exp.Identifier) and bool(node.this.quoted)
        names = self.schema.names
        if name not in names and not quoted:
            folded = [n for n in names if n.lower() == name.lower()]
            if len(folded) == 1:
                name = folded[0]
        if name not in names:
            raise InvalidArgumentError(
                f"unknown column {node.name!r} in the predicate; columns: {_columns(self.schema)}"
            )
        return _Typed(pc.field(name), self.schema.field(name).type, node.sql())


_CONDITIONS = (
    exp.And,
    exp.Or,
    exp.Not,
    exp.EQ,
    exp.NEQ,
    exp.LT,
    exp.LTE,
    exp.GT,
    exp.GTE,
    exp.In,
    exp.Between,
    exp.Is,
    exp.Like,
    exp.ILike,
    exp.Escape,
)


def _literal(node: exp.Literal) -> _Literal:
    text = str(node.this)
    if node.is_string:
        return _Literal(text, node.sql())
    try:
        return _Literal(int(text), node.sql(), text)
    except ValueError:
        pass
    try:
        return _Literal(float(text), node.sql(), text)
    except ValueError:
        raise InvalidArgumentError(f"{node.sql()!r} is not a number") from None


def _typed_literal(node: exp.Cast) -> _Literal:
    kind = node.to.this
    literal = node.this
    if not literal.is_string:
        raise UnsupportedPredicateError(f"{node.sql()!r}: only string literals can be cast")
    text = str(literal.this)
    if kind in _TIMESTAMP_TYPES:
        return _Literal(_Timestamp(parse_instant(text, f"the literal {node.sql()}")), node.sql())
    if kind in _DATE_TYPES:
        try:
            return _Literal(date.fromisoformat(text.strip()), node.sql())
        except ValueError:
            raise InvalidArgumentError(
                f"{node.sql()!r} is not a date; write DATE 'YYYY-MM-DD'"
            ) from None
    raise UnsupportedPredicateError(
        f"{node.sql()!r}: only TIMESTAMP '...' and DATE '...' typed literals are supported; "
        "write other values as plain literals"
    )


def _scalar(literal: _Literal, target: _Typed) -> pa.Scalar[Any]:
    """``literal`` as a scalar of ``target``'s type (what SQL's implicit cast would do)."""
    dtype = target.type
    value = literal.value
    try:
        if value is None:
            return pa.scalar(None, dtype)
        if pa.types.is_timestamp(dtype):
            return _timestamp_scalar(literal, target)
        if _is_string(dtype):
            if isinstance(value, str):
                return pa.scalar(value, dtype)
        elif pa.types.is_boolean(dtype):
            if isinstance(value, bool):
                return pa.scalar(value, dtype)
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return pa.scalar(value.strip().lower() == "true", dtype)
        elif pa.types.is_integer(dtype) or pa.types.is_floating(dtype):
            if isinstance(value, bool):
                pass
            elif isinstance(value, int):
                return (
                    pa.scalar(value, dtype)
                    if pa.types.is_integer(dtype)
                    else pa.scalar(float(value), dtype)
                )
            elif isinstance(value, float):
                return pa.scalar(value, pa.float64() if pa.types.is_integer(dtype) else dtype)
            elif isinstance(value, str):
                return pa.scalar(value.strip()).cast(dtype)
        elif pa.types.is_decimal(dtype):
            if literal.number_text is not None or isinstance(value, str):
                text = literal.number_text if literal.number_text is not None else str(value)
                return pa.scalar(Decimal(text.strip()), dtype)
        elif pa.types.is_date(dtype):
            if isinstance(value, date):
                return pa.scalar(value, dtype)
            if isinstance(value, str):
                return pa.scalar(date.fromisoformat(value.strip()), dtype)
        else:
            return _untyped_scalar(literal).cast(dtype)
    except (
        pa.ArrowInvalid,
        pa.ArrowNotImplementedError,
        OverflowError,
        ValueError,
        InvalidOperation,
        TypeError,
    ) as exc:
        if isinstance(exc, InvalidArgumentError):
            raise
        raise InvalidArgumentError(
            f"{literal.sql} does not fit column {target.sql} ({dtype}): {_first_line(str(exc))}"
        ) from None
    hint = "a quoted string such as '42'" if _is_string(dtype) else f"a value of type {dtype}"
    raise InvalidArgumentError(
        f"{literal.sql} cannot be compared with {target.sql}, which is {dtype}; use {hint}"
    )


def _timestamp_scalar(literal: _Literal, target: _Typed) -> pa.Scalar[Any]:
    dtype = cast(pa.TimestampType, target.type)
    value = literal.value
    if isinstance(value, _Timestamp):
        instant = value.instant
    elif isinstance(value, str):
        instant = parse_instant(value, f"the value for {target.sql}")
    elif isinstance(value, date):
        instant = parse_instant(value)
    else:
        raise InvalidArgumentError(
            f"{literal.sql} cannot be compared with {target.sql}, which is {dtype}; use a "
            "timestamp such as '2024-03-15T14:30:00' or TIMESTAMP '2024-03-15 14:30:00' "
            "(no offset means UTC)"
        )
    per_unit = unit_nanos(dtype)
    if instant % per_unit == 0:
        return pa.scalar(instant // per_unit, pa.int64()).cast(dtype)
    finer = pa.timestamp("ns") if dtype.tz is None else pa.timestamp("ns", dtype.tz)
    return pa.scalar(instant, pa.int64()).cast(finer)


def _untyped_scalar(literal: _Literal) -> pa.Scalar[Any]:
    """A literal compared with another literal: its natural Arrow type."""
    value = literal.value
    if isinstance(value, _Timestamp):
        return pa.scalar(value.instant, pa.int64()).cast(pa.timestamp("ns", "UTC"))
    if value is None:
        return pa.scalar(None, pa.null())
    return pa.scalar(value)


def _constant(value: pa.Scalar[Any]) -> pc.Expression:
    return pc.scalar(cast(Any, value))


def _call(function: str, *arguments: pc.Expression) -> pc.Expression:
    return cast(pc.Expression, getattr(pc, function)(*arguments))


def _arrow_like_pattern(pattern: str, escape: str | None) -> str:
    """A SQL LIKE pattern in Arrow's syntax (where a backslash escapes)."""
    out = []
    chars = iter(pattern)
    for char in chars:
        if escape is not None and char == escape:
            following = next(chars, None)
            if following is None:
                raise InvalidArgumentError(f"LIKE pattern {pattern!r} ends with its escape")
            out.append("\\" + following)
        elif char == "\\":
            out.append("\\\\")
        else:
            out.append(char)
    return "".join(out)


def _is_string(dtype: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_string_view(dtype)
    )


def _columns(schema: pa.Schema) -> str:
    return ", ".join(schema.names)


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def _describe(exc: SqlglotError) -> str:
    if isinstance(exc, ParseError) and exc.errors:
        first: dict[str, Any] = exc.errors[0]
        description = _ANSI.sub("", str(first.get("description") or "syntax error"))
        if description.startswith("Required keyword"):
            description = "incomplete condition"
        elif description.startswith("Invalid expression / Unexpected token"):
            description = "unexpected text"
        highlight = _ANSI.sub("", str(first.get("highlight") or "")).strip()
        near = f" near {highlight!r}" if highlight else ""
        return f"{description}{near} (line {first.get('line')}, column {first.get('col')})"
    if isinstance(exc, TokenError):
        return "it does not split into SQL tokens (an unterminated quote?)"
    return _first_line(_ANSI.sub("", str(exc))) or type(exc).__name__
