"""What each table reference of a query must read: its columns, and the predicate that may
be pushed below the as-of merge.

A scan answers "every key's latest row as of T". A predicate may prune files and row groups
*before* that merge only if it cannot change which row is a key's latest, and so can only
remove whole keys from the answer:

* a predicate on ``key`` alone selects whole keys;
* a lower bound on ``event_time`` (``event_time >= L`` or ``> L``): if a key's latest row
  passes it, that row is still the latest among the rows that pass; if it fails, every
  older row of the key fails too, so the key is absent either way (tombstones included).

Anything else (value columns, upper bounds on ``event_time``, ``OR`` across columns) stays
above the merge, where the engine applies it. The engine still applies the pushed
predicate as well; pushing it only reads less.

Two analyses find the needs: :func:`needs_from_datafusion` reads DataFusion's optimized
plan (exact: its projection pushdown and the filters it placed right above each scan);
:func:`needs_from_sqlglot` qualifies the query with sqlglot (for DuckDB; conservative:
anything it cannot follow reads every column).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from azof.errors import InvalidArgumentError
from azof.format.keys import fixed_names, reference_schema
from azof.predicate import translate_predicate

__all__ = [
    "ScanNeeds",
    "fixed_names",
    "needs_from_datafusion",
    "needs_from_sqlglot",
    "pushable_predicate",
    "reference_schema",
]


@dataclass(frozen=True)
class ScanNeeds:
    """``columns``: the columns to read (``None``: all); ``predicate``: what may be pushed
    below the merge, with ``predicate_sql`` its SQL text."""

    columns: tuple[str, ...] | None = None
    predicate: pc.Expression | None = None
    predicate_sql: str | None = None


READ_ALL = ScanNeeds()


def _conjuncts(node: exp.Expr) -> Iterable[exp.Expr]:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        yield from _conjuncts(node.left)
        yield from _conjuncts(node.right)
    else:
        yield node


def _is_lower_bound(node: exp.Expr, time: str) -> bool:
    """``event_time >= / > <no column>``, or the mirrored ``<no column> <= / < event_time``
    (``time``: the event-time column's name)."""
    if isinstance(node, (exp.GT, exp.GTE)):
        column, bound = node.left, node.right
    elif isinstance(node, (exp.LT, exp.LTE)):
        column, bound = node.right, node.left
    else:
        return False
    return (
        isinstance(column, exp.Column)
        and column.name == time
        and not list(bound.find_all(exp.Column))
    )


def pushable_predicate(
    condition: exp.Expr, schema: pa.Schema, qualifiers: Iterable[str] | None = None
) -> tuple[pc.Expression, str] | None:
    """The conjuncts of ``condition`` that may be pushed below the merge, translated over
    ``schema`` (``key``, ``event_time``...), with their SQL; None if there are none.

    ``qualifiers``: the names a column may be qualified with to belong to this reference
    (None: any; the condition is known to be about this reference alone).
    """
    allowed = None if qualifiers is None else set(qualifiers)
    key_names, time = fixed_names(schema)
    bounds = pa.schema([schema.field(time)])
    keys = pa.schema([schema.field(name) for name in key_names])
    pushed: list[tuple[pc.Expression, exp.Expr]] = []
    for conjunct in _conjuncts(condition):
        columns = list(conjunct.find_all(exp.Column))
        if not columns or any(
            allowed is not None and column.table not in allowed for column in columns
        ):
            continue
        if list(conjunct.find_all(exp.Subquery, exp.Select)):
            continue
        bare = conjunct.copy()
        for column in bare.find_all(exp.Column):
            column.set("table", None)
            column.set("db", None)
            column.set("catalog", None)
            column.set("this", exp.to_identifier(column.name))
        names = {column.name for column in columns}
        if names <= set(key_names):
            target = keys
        elif _is_lower_bound(bare, time):
            target = bounds
        else:
            continue
        try:
            pushed.append((translate_predicate(bare, target), bare))
        except InvalidArgumentError:
            continue  # not translatable: the engine applies it, nothing is pruned
    if not pushed:
        return None
    expression = pushed[0][0]
    for other, _ in pushed[1:]:
        expression = expression & other
    return expression, exp.and_(*(node for _, node in pushed)).sql()


def _combine(needs: list[ScanNeeds]) -> ScanNeeds:
    """One reference scanned several times (a CTE used twice): the union of the columns, and
    a predicate only if every scan has one (their OR)."""
    if len(needs) == 1:
        return needs[0]
    columns: tuple[str, ...] | None = ()
    for need in needs:
        if need.columns is None or columns is None:
            columns = None
        else:
            columns = (*columns, *(c for c in need.columns if c not in columns))
    predicate: pc.Expression | None = None
    texts: list[str] = []
    for need in needs:
        if need.predicate is None or need.predicate_sql is None:
            return ScanNeeds(columns=columns)
        predicate = need.predicate if predicate is None else predicate | need.predicate
        texts.append(f"({need.predicate_sql})")
    return ScanNeeds(columns=columns, predicate=predicate, predicate_sql=" OR ".join(texts))


# -- DataFusion -------------------------------------------------------------------------------


def _names_pushable(predicates: Iterable[str], schema: pa.Schema) -> bool:
    """Whether one of the ``predicates`` (DataFusion's text) names a key column or the
    event time of ``schema`` (a cheap test before unparsing them)."""
    key_names, time = fixed_names(schema)
    names = [f".{name}" for name in (*key_names, time)]
    return any(name in text for text in predicates for name in names)


def _mentions_pushable(plan: Any, schema: pa.Schema) -> bool:
    """Whether ``plan`` is a Filter whose predicate names a key column or the event time."""
    variant = plan.to_variant()
    if type(variant).__name__ != "Filter":
        return False
    return _names_pushable([str(variant.predicate())], schema)


def _filter_predicate(plan: Any, schema: pa.Schema) -> tuple[pc.Expression, str] | None:
    """The pushable part of the Filter node ``plan`` (whose input is a table scan), or of
    the filters of the TableScan node ``plan``."""
    from datafusion.unparser import Dialect, Unparser

    try:
        text = Unparser(Dialect.default()).plan_to_sql(plan)
        where = sqlglot.parse_one(text, read="postgres").args.get("where")
    except Exception:  # sqlglot's and DataFusion's errors alike: then nothing is pushed
        return None
    if where is None:
        return None
    return pushable_predicate(where.this, schema)


def needs_from_datafusion(plan: Any, schemas: Mapping[str, pa.Schema]) -> dict[str, ScanNeeds]:
    """Per internal table name in ``schemas``, what DataFusion's optimized logical ``plan``
    reads of it. A table with a scan the plan tree does not show (a subquery kept as an
    expression) reads everything, with no predicate; a table absent from the plan (optimized
    away) reads no value column."""
    found: dict[str, list[ScanNeeds]] = {}

    def visit(node: Any, parent: Any | None) -> None:
        variant = node.to_variant()
        if type(variant).__name__ == "TableScan":
            name = str(variant.table_name())
            if name in schemas:
                projection = variant.projection()
                columns = (
                    tuple(schemas[name].names)
                    if projection is None
                    else tuple(str(column) for _, column in projection)
                )
                filters = " ".join(str(f) for f in variant.filters())
                columns += tuple(  # filters the engine hands the scan read columns too
                    column
                    for column in schemas[name].names
                    if column not in columns and re.search(rf'\.("?){column}\1\b', filters)
                )
                pushed = None
                if _names_pushable([str(f) for f in variant.filters()], schemas[name]):
                    pushed = _filter_predicate(node, schemas[name])  # filters in the scan
                elif parent is not None and _mentions_pushable(parent, schemas[name]):
                    pushed = _filter_predicate(parent, schemas[name])
                found.setdefault(name, []).append(
                    ScanNeeds(
                        columns=columns,
                        predicate=pushed[0] if pushed else None,
                        predicate_sql=pushed[1] if pushed else None,
                    )
                )
        for child in node.inputs():
            visit(child, node)

    visit(plan, None)
    display = plan.display_indent()
    needs: dict[str, ScanNeeds] = {}
    for name in schemas:
        scans = found.get(name, [])
        mentions = len(re.findall(rf"TableScan: {re.escape(name)}\b", display))
        if mentions != len(scans):
            needs[name] = READ_ALL
        elif scans:
            needs[name] = _combine(scans)
        else:
            needs[name] = ScanNeeds(columns=(), predicate=None)
    return needs


# -- sqlglot (DuckDB) -------------------------------------------------------------------------

_SQLGLOT_TYPES = {
    "string": "VARCHAR",
    "large_string": "VARCHAR",
    "int64": "BIGINT",
    "int32": "INT",
    "double": "DOUBLE",
    "bool": "BOOLEAN",
}


def _sqlglot_type(dtype: pa.DataType) -> str:
    if pa.types.is_timestamp(dtype):
        return "TIMESTAMPTZ" if dtype.tz is not None else "TIMESTAMP"
    return _SQLGLOT_TYPES.get(str(dtype), "VARCHAR")


def needs_from_sqlglot(
    sql: str,
    schemas: Mapping[str, pa.Schema],
    *,
    dialect: str,
    others: Mapping[str, pa.Schema] | None = None,
) -> dict[str, ScanNeeds]:
    """Per internal table name in ``schemas``, what ``sql`` uses of it, found by qualifying
    the query with sqlglot and pruning the unused columns of CTEs and subqueries.
    ``others``: the schemas of the query's other tables (the results of table functions),
    to qualify the query with.

    Conservative: when the query cannot be followed (it does not parse, a ``*`` is left, a
    column cannot be placed, ``COLUMNS(...)`` or a whole row used as a value), every column
    is read; a predicate is pushed only from the WHERE of the SELECT that reads the
    reference, and only when all that SELECT's joins are inner joins.
    """
    from sqlglot.optimizer.pushdown_projections import pushdown_projections
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import traverse_scope

    everything = dict.fromkeys(schemas, READ_ALL)
    mapping: dict[str, object] = {
        name: {field.name: _sqlglot_type(field.type) for field in schema}
        for name, schema in {**(others or {}), **schemas}.items()
    }
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
        if not isinstance(tree, exp.Query):
            return everything
        tree = qualify(
            tree,
            schema=mapping,
            dialect=dialect,
            validate_qualify_columns=False,
            quote_identifiers=False,
            identify=False,
        )
        tree = pushdown_projections(tree)
        scopes = traverse_scope(tree)
    except (SqlglotError, KeyError, ValueError, AttributeError, TypeError):
        return everything
    if _opaque(tree, {name for schema in schemas.values() for name in schema.names}):
        return everything
    columns = list(tree.find_all(exp.Column))
    aliases: dict[str, set[str]] = {name: set() for name in schemas}
    pushed: dict[str, tuple[pc.Expression, str]] = {}
    for scope in scopes:
        for alias, (_, source) in scope.selected_sources.items():
            if not isinstance(source, exp.Table) or source.name not in schemas:
                continue
            aliases[source.name].add(alias)
            where = scope.expression.args.get("where")
            if where is not None and _inner_joins_only(scope.expression):
                found = pushable_predicate(where.this, schemas[source.name], [alias])
                if found is not None:
                    pushed[source.name] = found
    needs: dict[str, ScanNeeds] = {}
    for name, schema in schemas.items():
        used = {c.name for c in columns if c.table in aliases[name] and c.name in schema.names}
        predicate = pushed.get(name)
        needs[name] = ScanNeeds(
            columns=tuple(n for n in schema.names if n in used),
            predicate=predicate[0] if predicate else None,
            predicate_sql=predicate[1] if predicate else None,
        )
    return needs


def _opaque(tree: exp.Expr, column_names: set[str]) -> bool:
    """Whether the qualified ``tree`` uses columns in ways not visible as columns."""
    for node in tree.walk():
        if isinstance(node, exp.Star) and not isinstance(node.parent, exp.Count):
            return True
        if isinstance(node, (exp.Columns, exp.TableColumn)):
            return True
        if isinstance(node, exp.Anonymous) and str(node.this).upper() in ("COLUMNS", "UNPACK"):
            return True
    outputs = {
        select.alias_or_name for query in tree.find_all(exp.Select) for select in query.selects
    }
    return any(
        not column.table and column.name in column_names and column.name not in outputs
        for column in tree.find_all(exp.Column)
    )


def _inner_joins_only(select: exp.Expr) -> bool:
    if not isinstance(select, exp.Select):
        return False
    for join in select.args.get("joins") or []:
        side = str(join.args.get("side") or "").upper()
        kind = str(join.args.get("kind") or "").upper()
        if side or kind not in ("", "INNER", "CROSS") or join.args.get("method"):
            return False
    return True
