"""azof tables in DuckDB, each as of any event time (the ``duckdb`` extra).

Two forms::

    import duckdb, azof.duckdb

    con = duckdb.connect()
    lake = azof.Lakehouse("path/to/lake")

    # 1. DuckDB SQL with azof's time-travel clauses after lakehouse table names
    rel = azof.duckdb.sql(con, lake, '''
        SELECT key, revenue FROM financials AT ('2019-01-17')
        WHERE industry = 'Software' ORDER BY revenue DESC LIMIT 5''')
    rel.fetchall()
    azof.duckdb.sql(con, lake, "SELECT * FROM azof_history('financials', keys => 'AAPL')")

    # 2. one table as of T registered under a name, then plain DuckDB SQL
    azof.duckdb.register(con, lake.table("financials"), "fin_2019", as_of="2019-01-17",
                         columns=["key", "industry", "revenue"])
    con.sql("SELECT count(*) FROM fin_2019").fetchall()

In :func:`sql`, the clauses and the temporal table functions (``azof_history``,
``azof_changes``, ``azof_restatements``, ``azof_asof_join``: :mod:`azof.sql.functions`, the
code DataFusion's path runs too) are those of :class:`azof.sql.ExecutionContext`. Names that
are not lakehouse tables are left to DuckDB (its own tables and views stay usable); a name
*with* a clause must be a lakehouse table. Each lakehouse reference is scanned as of its
time with only the columns the query uses (found with sqlglot; every column when the query
is beyond that analysis) and key predicates / ``event_time`` lower bounds of the WHERE
pushed below the as-of merge, then registered on the connection under an internal name
(``__azof_d<n>_<i>``; a table function's result: ``__azof_d<n>_f<i>``). DuckDB relations
are lazy and look their tables up when they run, so these registrations stay until
:func:`release` (or the connection closes).

``duckdb`` is imported only when these functions are called: azof imports without it.
"""

from __future__ import annotations

import itertools
import re
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from azof.errors import InvalidArgumentError
from azof.lakehouse import Lakehouse
from azof.sql.alter import alter_table, alters_lakehouse_table, is_alter_table
from azof.sql.clauses import RewrittenQuery, rewrite_query
from azof.sql.functions import FunctionEngine, table_functions
from azof.sql.pushdown import READ_ALL, needs_from_sqlglot, reference_schema
from azof.sql.scans import LakehouseTables, ScanRecord, read_columns, scan_reference, snapshot_for
from azof.table import Table

if TYPE_CHECKING:
    import duckdb

__all__ = ["register", "release", "sql"]

_queries = itertools.count()
_registered: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
_DIALECT = "duckdb"
_EXPLAIN = re.compile(r"^\s*EXPLAIN\s+(?:ANALY[SZ]E\s+)?", re.IGNORECASE)


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "azof.duckdb needs DuckDB; install it with: pip install 'azof[duckdb]'"
        ) from None
    return duckdb


def _lakehouse(lakehouse: Lakehouse | str | Path) -> Lakehouse:
    return lakehouse if isinstance(lakehouse, Lakehouse) else Lakehouse(lakehouse)


def sql(
    con: duckdb.DuckDBPyConnection,
    lakehouse: Lakehouse | str | Path,
    query: str,
    *,
    scans: list[ScanRecord] | None = None,
) -> duckdb.DuckDBPyRelation:
    """Run DuckDB SQL ``query`` on ``con``, lakehouse tables read as of their clauses, and
    azof's table functions (``azof_history``...) evaluated. ``ALTER TABLE`` of a lakehouse
    table is one evolve commit, as in :meth:`azof.sql.ExecutionContext.sql` (its relation
    is one row: table, version, changes); of one of DuckDB's own tables, DuckDB's.

    Returns DuckDB's (lazy) relation. Pass a list as ``scans`` to receive one
    :class:`~azof.sql.ScanRecord` per lakehouse reference (columns read, pushed filter,
    metrics). Errors are those of :meth:`azof.sql.ExecutionContext.sql`; DuckDB's parser,
    binder and catalog errors become :class:`~azof.errors.InvalidArgumentError` with the
    internal names replaced by the references as written.
    """
    duck = _duckdb()
    lake = _lakehouse(lakehouse)
    if is_alter_table(query, _DIALECT) and alters_lakehouse_table(lake, query, _DIALECT):
        result = alter_table(lake, query, _DIALECT)  # one evolve commit, no DuckDB involved
        return con.from_arrow(result)
    relation, records, _ = _run(duck, con, lake, query, {})
    if scans is not None:
        scans.extend(records)
    return relation


def _run(
    duck: Any, con: Any, lake: Lakehouse, query: str, cache: dict[str, Table]
) -> tuple[duckdb.DuckDBPyRelation, list[ScanRecord], set[str]]:
    """:func:`sql`: the relation, what each reference read, and the names registered."""
    tables = LakehouseTables(lake, cache)
    prefix = f"__azof_d{next(_queries)}_"
    rewritten = rewrite_query(
        query,
        tables.resolve,
        dialect=_DIALECT,
        prefix=prefix,
        unknown="keep",
        describe_lakehouse=tables.describe,
    )
    opened = {ref.internal: tables.open(ref.table) for ref in rewritten.references}
    snapshots = {
        ref.internal: snapshot_for(opened[ref.internal], ref) for ref in rewritten.references
    }
    schemas = {name: reference_schema(snapshot.schema) for name, snapshot in snapshots.items()}
    engine: FunctionEngine = _DuckDBEngine(duck, con, lake, cache)
    rewritten, results = table_functions(engine, query, rewritten, tables, prefix)
    registered = set(results)
    body = _EXPLAIN.sub("", rewritten.sql) if rewritten.explain else rewritten.sql
    needs = needs_from_sqlglot(body, schemas, dialect=_DIALECT, others=results) if schemas else {}

    def load(all_columns: bool) -> list[ScanRecord]:
        records = []
        for ref in rewritten.references:
            name = ref.internal
            need = READ_ALL if all_columns else needs.get(name, READ_ALL)
            columns = read_columns(schemas[name], need)
            data, record = scan_reference(opened[name], snapshots[name], ref, columns, need)
            _register_tracked(con, name, data)
            registered.add(name)
            records.append(record)
        return records

    records = load(all_columns=False)
    try:
        relation = _relation(duck, con, rewritten)
    except _BinderError:
        if not any(need.columns is not None for need in needs.values()):
            raise
        # The column analysis missed a column DuckDB needs: read every column and retry.
        records = load(all_columns=True)
        relation = _relation(duck, con, rewritten)
    return relation, records, registered


def _register_tracked(con: Any, name: str, data: pa.Table) -> None:
    """Register ``data`` on ``con`` as ``name``, until :func:`release`."""
    con.register(name, data)
    _registered.setdefault(con, set()).add(name)


def _unregister(con: Any, names: Iterable[str]) -> None:
    for name in names:
        con.unregister(name)
        _registered.get(con, set()).discard(name)


class _DuckDBEngine:
    """The table functions' view of a DuckDB connection."""

    dialect = _DIALECT
    own_tables = "a table or view of the DuckDB connection"

    def __init__(self, duck: Any, con: Any, lake: Lakehouse, cache: dict[str, Table]) -> None:
        self.duck = duck
        self.con = con
        self.lake = lake
        self.cache = cache

    def run(self, query: str) -> pa.Table:
        """The rows of ``query`` (its scans are unregistered once read)."""
        relation, _, names = _run(self.duck, self.con, self.lake, query, self.cache)
        try:
            result: pa.Table = relation.to_arrow_table()
        finally:
            _unregister(self.con, names)
        return result

    def own_table(self, name: str) -> pa.Table | None:
        try:
            result: pa.Table = self.con.table(name).to_arrow_table()
        except (self.duck.CatalogException, self.duck.ParserException):
            return None
        return result

    def register(self, name: str, result: pa.Table) -> None:
        _register_tracked(self.con, name, result)

    def deregister(self, name: str) -> None:
        _unregister(self.con, [name])


class _BinderError(InvalidArgumentError):
    """DuckDB could not bind a name of the query (a column, a function...)."""


def _relation(duck: Any, con: Any, rewritten: RewrittenQuery) -> duckdb.DuckDBPyRelation:
    try:
        relation: duckdb.DuckDBPyRelation = con.sql(rewritten.sql)
    except (duck.ParserException, duck.BinderException, duck.CatalogException) as exc:
        kind = _BinderError if isinstance(exc, duck.BinderException) else InvalidArgumentError
        message = rewritten.readable(str(exc))
        raise kind(f"DuckDB cannot run the query: {message}") from None
    return relation


def register(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    name: str,
    as_of: Any = None,
    *,
    columns: Sequence[str] | None = None,
    filter: pc.Expression | None = None,
    version: int | None = None,
    known_at: Any = None,
) -> duckdb.DuckDBPyRelation:
    """Scan ``table`` as of ``as_of`` (the arguments of :meth:`azof.Table.scan`: only
    ``columns`` are read; a ``filter`` on ``key`` prunes files) and register the answer on
    ``con`` as ``name``; returns the relation of that view."""
    _duckdb()
    if not isinstance(table, Table):
        raise InvalidArgumentError(
            f"table must be an azof.Table (lakehouse.table(name)), not {type(table).__name__}"
        )
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError("name must be a non-empty string")
    data: pa.Table = table.scan(
        as_of, columns=columns, filter=filter, version=version, known_at=known_at
    )
    con.register(name, data)
    view: duckdb.DuckDBPyRelation = con.view(name)
    return view


def release(con: duckdb.DuckDBPyConnection) -> None:
    """Unregister every table :func:`sql` registered on ``con`` (relations made by earlier
    :func:`sql` calls cannot run afterwards)."""
    for name in sorted(_registered.pop(con, set())):
        con.unregister(name)
