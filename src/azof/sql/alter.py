"""``ALTER TABLE`` in SQL: schema changes of a lakehouse table, as one commit.

Supported actions (comma-separated in one statement, applied in order)::

    ALTER TABLE prices ADD [COLUMN] currency VARCHAR [NOT NULL] [DEFAULT 'USD']
    ALTER TABLE prices DROP [COLUMN] legacy
    ALTER TABLE prices RENAME [COLUMN] px TO price
    ALTER TABLE prices ALTER [COLUMN] volume [SET DATA] TYPE BIGINT

They call :meth:`azof.Table.evolve`; anything else (renaming the table, constraints other
than ``NOT NULL``/``DEFAULT``...) is an :class:`~azof.errors.InvalidArgumentError`. The
statement is parsed with sqlglot; no engine is involved.
"""

from __future__ import annotations

import re
from typing import Any, cast

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError

from azof.errors import InvalidArgumentError, TableNotFoundError
from azof.format.evolution import describe_change
from azof.lakehouse import Lakehouse
from azof.sql.scans import LakehouseTables
from azof.write.evolve import SchemaUpdate

__all__ = ["AlterResult", "alter_table", "alters_lakehouse_table", "is_alter_table", "sql_type"]

AlterResult = pa.Table
"""One row: ``table``, ``version`` (the commit) and ``changes`` (described for people)."""

_UNITS = {0: "s", 3: "ms", 6: "us", 9: "ns"}
_BARE_NAME = re.compile(r'^(?:"(?P<quoted>[^"]+)"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))$')
_SIMPLE: dict[str, pa.DataType] = {
    "BOOLEAN": pa.bool_(),
    "TINYINT": pa.int8(),
    "SMALLINT": pa.int16(),
    "INT": pa.int32(),
    "BIGINT": pa.int64(),
    "FLOAT": pa.float32(),
    "DOUBLE": pa.float64(),
    "VARCHAR": pa.string(),
    "CHAR": pa.string(),
    "TEXT": pa.string(),
    "NVARCHAR": pa.string(),
    "BINARY": pa.binary(),
    "VARBINARY": pa.binary(),
    "BLOB": pa.binary(),
    "DATE": pa.date32(),
}


def is_alter_table(sql: str, dialect: str) -> bool:
    """Whether ``sql`` is an ``ALTER TABLE`` statement (its first token is ``ALTER``)."""
    try:
        tokens = Dialect.get_or_raise(dialect).tokenize(sql)
    except TokenError:
        return False
    return bool(tokens) and tokens[0].token_type.name == "ALTER"


def _param(node: exp.Expression) -> int:
    value = node.this if isinstance(node, exp.DataTypeParam) else node
    if not isinstance(value, exp.Literal) or value.is_string:
        raise InvalidArgumentError(f"type parameter {node.sql()} is not a whole number")
    return int(value.this)


def sql_type(node: exp.DataType) -> pa.DataType:
    """The Arrow type of a SQL type: ``BIGINT`` -> int64, ``DECIMAL(12, 2)``, ``VARCHAR``,
    ``TIMESTAMP[(p)]`` (naive; p 0/3/6/9, default 6) and ``TIMESTAMPTZ`` (UTC)..."""
    name = node.this.name
    params = [_param(p) for p in node.expressions]
    if name in _SIMPLE and (not params or name in ("VARCHAR", "CHAR", "NVARCHAR", "BINARY")):
        return _SIMPLE[name]
    if name == "DECIMAL" and len(params) in (1, 2):
        precision, scale = params[0], params[1] if len(params) == 2 else 0
        return (
            pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
        )
    if name in ("TIMESTAMP", "TIMESTAMPTZ") and len(params) <= 1:
        digits = params[0] if params else 6
        if digits not in _UNITS:
            raise InvalidArgumentError(f"{node.sql()}: the precision must be 0, 3, 6 or 9")
        unit = cast(Any, _UNITS[digits])
        if name == "TIMESTAMPTZ":
            return cast(pa.DataType, pa.timestamp(unit, tz="UTC"))
        return cast(pa.DataType, pa.timestamp(unit))
    raise InvalidArgumentError(
        f"type {node.sql()} is not supported in ALTER TABLE; use BOOLEAN, TINYINT, SMALLINT, "
        "INT, BIGINT, FLOAT, DOUBLE, DECIMAL(p, s), VARCHAR, VARBINARY, DATE, TIMESTAMP[(p)] "
        "or TIMESTAMPTZ[(p)]"
    )


def _literal(node: exp.Expression) -> Any:
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Neg):
        value = _literal(node.this)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = node.this
        return float(text) if any(c in text for c in ".eE") else int(text)
    raise InvalidArgumentError(f"DEFAULT {node.sql()} is not a literal value")


def _add(update: SchemaUpdate, node: exp.ColumnDef) -> SchemaUpdate:
    kind = node.args.get("kind")
    if not isinstance(kind, exp.DataType):
        raise InvalidArgumentError(f"ADD COLUMN {node.name}: give the column's type")
    dtype = sql_type(kind)
    nullable, default = True, None
    for constraint in node.args.get("constraints") or []:
        rule = constraint.args.get("kind")
        if isinstance(rule, exp.NotNullColumnConstraint):
            nullable = bool(rule.args.get("allow_null"))
        elif isinstance(rule, exp.DefaultColumnConstraint):
            default = _literal(rule.this)
        else:
            raise InvalidArgumentError(
                f"ADD COLUMN {node.name}: {constraint.sql()} is not supported (only NOT NULL, "
                "NULL and DEFAULT)"
            )
    if default is not None and pa.types.is_decimal(dtype) and not isinstance(default, str):
        default = str(default)
    return update.add_column(node.name, dtype, nullable=nullable, default=default)


def _action(update: SchemaUpdate, node: exp.Expression) -> SchemaUpdate:
    if isinstance(node, exp.ColumnDef):
        return _add(update, node)
    if isinstance(node, exp.Drop) and str(node.args.get("kind", "")).upper() == "COLUMN":
        for column in node.args.get("tables") or []:
            update = update.drop_column(column.name)
        return update
    if isinstance(node, exp.Command) and str(node.this).upper() == "DROP":
        # sqlglot reads "DROP name" (COLUMN left out) as an opaque command
        name = _BARE_NAME.match(str(node.expression or "").strip())
        if name is not None:
            return update.drop_column(name["quoted"] or name["plain"])
    if isinstance(node, exp.RenameColumn):
        return update.rename_column(node.this.name, node.args["to"].name)
    if isinstance(node, exp.AlterColumn) and isinstance(node.args.get("dtype"), exp.DataType):
        return update.widen(node.name, sql_type(node.args["dtype"]))
    raise InvalidArgumentError(
        f"ALTER TABLE ... {node.sql()} is not supported; use ADD COLUMN, DROP COLUMN, RENAME "
        "COLUMN ... TO ... or ALTER COLUMN ... TYPE ..."
    )


def _statement(sql: str, dialect: str) -> exp.Alter:
    try:
        statement = sqlglot.parse_one(sql, dialect=dialect)
    except (ParseError, TokenError) as exc:
        raise InvalidArgumentError(f"cannot parse the ALTER TABLE statement: {exc}") from None
    if not isinstance(statement, exp.Alter) or str(statement.args.get("kind")).upper() != "TABLE":
        raise InvalidArgumentError(
            "only ALTER TABLE <table> ADD/DROP/RENAME/ALTER COLUMN ... is supported"
        )
    return statement


def _identifier(statement: exp.Alter) -> exp.Identifier | None:
    """The name the statement alters, when it is a plain (unqualified) table name."""
    target = statement.this
    if not isinstance(target, exp.Table) or target.args.get("db") is not None:
        return None
    identifier = target.this
    return identifier if isinstance(identifier, exp.Identifier) else None


def _resolve(tables: LakehouseTables, identifier: exp.Identifier) -> str | None:
    return tables.resolve(identifier.name, bool(identifier.args.get("quoted")))


def alters_lakehouse_table(lakehouse: Lakehouse, sql: str, dialect: str) -> bool:
    """Whether ``ALTER TABLE`` statement ``sql`` names a table of the lakehouse (and not,
    say, one of an engine's own tables)."""
    try:
        identifier = _identifier(_statement(sql, dialect))
    except InvalidArgumentError:
        return False
    if identifier is None:
        return False
    return _resolve(LakehouseTables(lakehouse, {}), identifier) is not None


def alter_table(lakehouse: Lakehouse, sql: str, dialect: str) -> AlterResult:
    """Run one ``ALTER TABLE`` statement as one ``evolve`` commit; its result row."""
    statement = _statement(sql, dialect)
    identifier = _identifier(statement)
    if identifier is None:
        raise InvalidArgumentError(
            f"ALTER TABLE {statement.this.sql()}: name a table of the lakehouse"
        )
    tables = LakehouseTables(lakehouse, {})
    name = _resolve(tables, identifier)
    if name is None:
        raise TableNotFoundError(
            f"ALTER TABLE {identifier.name}: no such table in {tables.describe()}"
        )
    table = tables.open(name)
    update = table.evolve()
    for action in statement.args.get("actions") or []:
        update = _action(update, action)
    version = update.commit()
    described = "; ".join(describe_change(change) for change in update.changes)
    return pa.table({"table": [name], "version": [version], "changes": [described]})
