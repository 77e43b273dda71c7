"""Filters as users write them, resolved to one pyarrow expression for every read path.

``filter=`` takes any of:

- SQL text, the dialect of the CLI's ``--where`` (:func:`azof.predicate.parse_predicate`):
  ``"industry = 'Software' AND revenue > 1e9"``;
- DNF tuples, as ``deltalake`` and ``pyarrow.parquet`` take them: a list of
  ``(column, op, value)`` conditions that must all hold, or a list of such lists of which
  one must hold (``op`` is ``=``, ``==``, ``!=``, ``<>``, ``<``, ``<=``, ``>``, ``>=``,
  ``in`` or ``not in``; ``value`` a Python value, a list of them for ``in``);
- a ``pyarrow.compute.Expression``.

SQL text and tuples are translated by the same code (:mod:`azof.predicate`), so their
literals take the type of the column they are compared with (``("event_time", ">",
"2024-01-01")`` compares instants) and SQL's three-valued logic holds for both: a null
matches no comparison, ``not in`` included.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from azof.errors import InvalidArgumentError
from azof.predicate import fitted_filter, parse_predicate, translate_predicate

__all__ = ["FilterLike", "resolve_filter"]

FilterLike: TypeAlias = "pc.Expression | str | Sequence[Any] | None"
"""What ``filter=`` takes: SQL text, DNF tuples, a pyarrow expression or ``None``."""

_COMPARISONS: dict[str, type[exp.Expr]] = {
    "=": exp.EQ,
    "==": exp.EQ,
    "!=": exp.NEQ,
    "<>": exp.NEQ,
    "<": exp.LT,
    "<=": exp.LTE,
    ">": exp.GT,
    ">=": exp.GTE,
}
_FORMS = (
    "SQL text such as \"industry = 'Software' AND revenue > 1e9\", DNF tuples such as "
    "[('industry', '=', 'Software'), ('revenue', '>', 1e9)] (a list of such lists means OR), "
    "or a pyarrow.compute.Expression"
)


def resolve_filter(filter: Any, schema: pa.Schema) -> pc.Expression | None:
    """``filter`` in any accepted form as an expression over ``schema`` (``None``: no
    filter). A filter that names no column of ``schema``, does not fit the column types or
    has another form is an :class:`~azof.errors.InvalidArgumentError`."""
    if filter is None:
        return None
    if isinstance(filter, pc.Expression):
        return fitted_filter(filter, schema, f"the filter {filter}", "the table")
    if isinstance(filter, str):
        return parse_predicate(filter, schema)
    if isinstance(filter, (list, tuple)):
        return translate_predicate(_dnf(filter), schema)
    raise InvalidArgumentError(f"filter cannot be a {type(filter).__name__}; pass {_FORMS}")


def _dnf(filter: Sequence[Any]) -> exp.Expr:
    """DNF tuples as one sqlglot condition (OR of ANDs)."""
    if _is_condition(filter):
        filter = [filter]  # one tuple alone
    if not filter:
        raise InvalidArgumentError(f"the filter is an empty list; pass {_FORMS}")
    if all(_is_condition(item) for item in filter):
        return _all(filter)
    if all(isinstance(item, (list, tuple)) and not _is_condition(item) for item in filter):
        alternatives = [_all(item) for item in filter]
        node = alternatives[0]
        for other in alternatives[1:]:
            node = exp.Or(this=node, expression=other)
        return node
    raise InvalidArgumentError(
        f"the filter {filter!r} mixes conditions and lists of conditions; pass {_FORMS}"
    )


def _is_condition(item: Any) -> bool:
    return isinstance(item, tuple) and len(item) == 3 and isinstance(item[0], str)


def _all(conditions: Sequence[Any]) -> exp.Expr:
    if not conditions:
        raise InvalidArgumentError("a list of conditions in the filter is empty")
    nodes = [_condition(item) for item in conditions]
    node = nodes[0]
    for other in nodes[1:]:
        node = exp.And(this=node, expression=other)
    return exp.Paren(this=node)


def _condition(item: Any) -> exp.Expr:
    if not _is_condition(item):
        raise InvalidArgumentError(
            f"{item!r} is not a condition; write (column, op, value) such as "
            "('industry', '=', 'Software')"
        )
    name, op, value = item
    column = exp.column(name, quoted=True)
    operator = op.strip().lower() if isinstance(op, str) else op
    if operator in _COMPARISONS:
        return _COMPARISONS[operator](this=column, expression=_literal(value, item))
    if operator in ("in", "not in"):
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise InvalidArgumentError(
                f"{item!r}: {operator!r} takes a list of values, not {type(value).__name__}"
            )
        listed = exp.In(this=column, expressions=[_literal(v, item) for v in value])
        return listed if operator == "in" else exp.Not(this=listed)
    raise InvalidArgumentError(
        f"{item!r}: unknown operator {op!r}; use one of {', '.join(_COMPARISONS)}, in, not in"
    )


def _literal(value: Any, item: Any) -> exp.Expr:
    """A Python value as the SQL literal the predicate translator types by its column."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, Decimal)) or (isinstance(value, float) and math.isfinite(value)):
        text = str(value)
        negative = text.startswith("-")
        number = exp.Literal.number(text.lstrip("-"))
        return exp.Neg(this=number) if negative else number
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, datetime):  # pandas.Timestamp too: its isoformat keeps nanoseconds
        return exp.Cast(
            this=exp.Literal.string(value.isoformat()), to=exp.DataType.build("TIMESTAMP")
        )
    if isinstance(value, date):
        return exp.Cast(this=exp.Literal.string(value.isoformat()), to=exp.DataType.build("DATE"))
    raise InvalidArgumentError(
        f"{item!r}: {value!r} ({type(value).__name__}) cannot be compared; use a number, "
        "text, a bool, None, a datetime or a date"
    )


def _typed(text: str, kind: str) -> exp.Expr:
    """``TIMESTAMP 'text'`` or ``DATE 'text'``."""
    return exp.Cast(this=exp.Literal.string(text), to=exp.DataType.build(kind))
