"""A :class:`~azof.tablescan.TableScan` as a polars ``LazyFrame`` (the ``polars`` extra).

:func:`lazy_frame` registers the scan as a polars IO source
(``polars.io.plugins.register_io_source``). When the frame is collected, polars hands the
source the columns the query uses and its predicate. The source reads only those columns
(and the ones the predicate needs), streamed a batch at a time
(:meth:`~azof.tablescan.TableScan.to_batches`), and applies the whole predicate to the
merged answer, so the answer is exactly polars' over :meth:`~azof.tablescan.TableScan.to_arrow`.
The parts of the predicate that select whole keys also go below the as-of merge, where they
prune files and row groups: comparisons and ``is_in`` of ``key`` with literals, lower bounds
on ``event_time`` (``>=``, ``>``), and ``&`` / ``|`` of those (each such combination keeps,
of every key, either none of its rows or all those from some time on, so a key's latest row
stays its latest). A value predicate never goes below the merge: it would resurrect an older
row of a key whose latest row fails it.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

import pyarrow as pa
import pyarrow.compute as pc

from azof.format.keys import fixed_names, reference_schema
from azof.tablescan import BATCH_SIZE, TableScan, optional_module
from azof.timestamps import format_instant

if TYPE_CHECKING:
    import polars as pl

__all__ = ["below_merge", "lazy_frame"]

_COMPARISONS: dict[str, Callable[[pc.Expression, pc.Expression], pc.Expression]] = {
    "Eq": lambda a, b: a == b,
    "EqValidity": lambda a, b: a == b,
    "NotEq": lambda a, b: a != b,
    "Lt": lambda a, b: a < b,
    "LtEq": lambda a, b: a <= b,
    "Gt": lambda a, b: a > b,
    "GtEq": lambda a, b: a >= b,
}
_MIRRORED = {"Lt": "Gt", "LtEq": "GtEq", "Gt": "Lt", "GtEq": "LtEq"}
_LOWER_BOUNDS = ("Gt", "GtEq")


def lazy_frame(scan: TableScan) -> pl.LazyFrame:
    """``scan`` as a ``LazyFrame`` that reads when collected (see the module docstring);
    ``explain()`` of a query over it shows the predicate reaching the ``azof`` source."""
    polars = optional_module("polars", "TableScan.to_polars(lazy=True)")
    from polars.io.plugins import register_io_source

    schema = polars.from_arrow(scan.schema.empty_table()).schema

    def source(
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        return _frames(scan, with_columns, predicate, n_rows, batch_size or BATCH_SIZE)

    when = "current state" if scan.as_of is None else f"as of {format_instant(scan.as_of)}"
    labels = {
        "explain_name": "azof",
        "explain_detail": f"table {scan.table!r}, version {scan.version}, {when}",
    }
    accepted = inspect.signature(register_io_source).parameters  # labels: newer polars
    options: dict[str, Any] = {k: v for k, v in labels.items() if k in accepted}
    return register_io_source(source, schema=schema, is_pure=True, **options)


def _frames(
    scan: TableScan,
    with_columns: list[str] | None,
    predicate: pl.Expr | None,
    n_rows: int | None,
    batch_size: int,
) -> Iterator[pl.DataFrame]:
    polars = optional_module("polars", "TableScan.to_polars(lazy=True)")
    names = with_columns if with_columns is not None else scan.columns
    read = list(names) or list(scan.snapshot.schema.key_names)  # a count: read the key
    if predicate is not None:
        pushed = below_merge(predicate, reference_schema(scan.snapshot.schema))
        if pushed is not None:
            scan = scan.prune_keys(pushed)
        read += [n for n in predicate.meta.root_names() if n not in read]
    left = n_rows
    for batch in scan.select(read).to_batches(batch_size=batch_size):
        frame = cast("pl.DataFrame", polars.from_arrow(batch))
        if predicate is not None:
            frame = frame.filter(predicate)
        if left is not None:
            frame = frame.head(left)
            left -= frame.height
        yield frame.select(names) if names else frame
        if left is not None and left <= 0:
            return


def below_merge(predicate: pl.Expr, schema: pa.Schema) -> pc.Expression | None:
    """The part of ``predicate`` that may go below the as-of merge, as a pyarrow
    expression over ``schema`` (the table's, as :func:`~azof.format.keys.reference_schema`
    gives it: the key and event-time names in its metadata), or ``None``: see the module
    docstring."""
    try:
        tree = json.loads(predicate.meta.serialize(format="json"))
    except Exception:  # an expression polars cannot write as JSON: push nothing
        return None
    return _translate(predicate, tree, schema)


def _translate(expr: pl.Expr, tree: Any, schema: pa.Schema) -> pc.Expression | None:
    if not isinstance(tree, dict) or len(tree) != 1:
        return None
    ((kind, body),) = tree.items()
    if kind == "BinaryExpr":
        op = body.get("op")
        left, right = _sides(expr, body)
        if left is None or right is None:
            return None
        if op in ("And", "LogicalAnd"):
            parts = (
                _translate(left, body["left"], schema),
                _translate(right, body["right"], schema),
            )
            kept = [part for part in parts if part is not None]
            return None if not kept else kept[0] if len(kept) == 1 else kept[0] & kept[1]
        if op in ("Or", "LogicalOr"):
            a = _translate(left, body["left"], schema)
            b = _translate(right, body["right"], schema)
            return None if a is None or b is None else a | b
        if op in _COMPARISONS:
            return _comparison(op, left, body["left"], right, body["right"], schema)
        return None
    if kind == "Function":
        return _is_in(expr, body, schema)
    return None


def _sides(expr: pl.Expr, body: dict[str, Any]) -> tuple[pl.Expr | None, pl.Expr | None]:
    """The left and right operands of a binary expression, matched to its JSON."""
    children = expr.meta.pop()
    if len(children) != 2:
        return None, None
    texts = [json.loads(child.meta.serialize(format="json")) for child in children]
    if texts[0] == body["left"] and texts[1] == body["right"]:
        return children[0], children[1]
    if texts[1] == body["left"] and texts[0] == body["right"]:
        return children[1], children[0]
    return None, None


def _comparison(
    op: str, left: pl.Expr, left_tree: Any, right: pl.Expr, right_tree: Any, schema: pa.Schema
) -> pc.Expression | None:
    if _column(right_tree) is not None and _column(left_tree) is None:
        op = _MIRRORED.get(op, op)  # literal op column: column (mirrored op) literal
        left, left_tree, right = right, right_tree, left
    name = _column(left_tree)
    if name is None or right.meta.root_names():
        return None
    keys, time = fixed_names(schema)
    if name in keys or (name == time and op in _LOWER_BOUNDS):
        value = _literal(right, schema.field(name).type)
        if value is None:
            return None
        return _COMPARISONS[op](pc.field(name), pc.scalar(value))  # type: ignore[arg-type]
    return None


def _is_in(expr: pl.Expr, body: dict[str, Any], schema: pa.Schema) -> pc.Expression | None:
    """``key.is_in(literals)`` as a pyarrow ``isin``."""
    function = body.get("function")
    inputs = body.get("input")
    if not (isinstance(function, dict) and "Boolean" in function and isinstance(inputs, list)):
        return None
    boolean = function["Boolean"]
    name = boolean if isinstance(boolean, str) else next(iter(boolean), None)
    keys, _time = fixed_names(schema)
    column = _column(inputs[0]) if len(inputs) == 2 else None
    if name != "IsIn" or column is None or column not in keys:
        return None
    children = expr.meta.pop()
    values = next((c for c in children if not c.meta.root_names()), None)
    if values is None:
        return None
    polars = optional_module("polars", "TableScan.to_polars(lazy=True)")
    try:
        series = polars.select(values.alias("values")).to_series()
        if isinstance(series.dtype, polars.List | polars.Array):
            series = series.explode()
        array = series.to_arrow().cast(schema.field(column).type)
    except Exception:  # not literals of the key's kind: push nothing
        return None
    if array.null_count:
        return None
    return pc.field(column).isin(array)


def _column(tree: Any) -> str | None:
    if isinstance(tree, dict) and set(tree) == {"Column"} and isinstance(tree["Column"], str):
        return tree["Column"]
    return None


def _literal(expr: pl.Expr, dtype: pa.DataType) -> pa.Scalar[Any] | None:
    """The value of the column-free ``expr`` as a scalar of ``dtype`` (exactly), or None."""
    polars = optional_module("polars", "TableScan.to_polars(lazy=True)")
    try:
        series = polars.select(expr.alias("value")).to_series()
        if series.len() != 1:
            return None
        value = series.to_arrow().cast(dtype)[0]
    except Exception:  # not a literal of the column's kind (or not exactly): push nothing
        return None
    return None if not value.is_valid else value
