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
*with* a clause must be a lakehouse table. Each lakehouse reference is registered on the
connection under an internal name (``__azof_d<n>_<i>``; a table function's result:
``__azof_d<n>_f<i>``) as a dataset that streams its as-of answer (:mod:`azof.dataset`):
DuckDB hands it the columns the query uses and the filters it pushes down, and the key
predicates / ``event_time`` lower bounds of the WHERE (found with sqlglot) prune below the
as-of merge. So an aggregate over a large table runs in memory bounded by ``merge_rows``,
not by the table. DuckDB relations are lazy and look their tables up when they run, so
these registrations stay until :func:`release` (or the connection closes).

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

from azof.dataset import ScanDataset
from azof.errors import InvalidArgumentError
from azof.filters import FilterLike
from azof.lakehouse import Lakehouse
from azof.scan.stream import MERGE_ROWS, check_merge_rows
from azof.sql.alter import alter_table, alters_lakehouse_table, is_alter_table
from azof.sql.clauses import RewrittenQuery, rewrite_query
from azof.sql.functions import FunctionEngine, table_functions
from azof.sql.pushdown import READ_ALL, needs_from_sqlglot, reference_schema
from azof.sql.scans import LakehouseTables, ReferenceStream, ScanRecord, reference_scan
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
    merge_rows: int = MERGE_ROWS,
) -> duckdb.DuckDBPyRelation:
    """Run DuckDB SQL ``query`` on ``con``, lakehouse tables read as of their clauses, and
    azof's table functions (``azof_history``...) evaluated. ``ALTER TABLE`` of a lakehouse
    table is one evolve commit, as in :meth:`azof.sql.ExecutionContext.sql` (its relation
    is one row: table, version, changes); of one of DuckDB's own tables, DuckDB's.

    Returns DuckDB's (lazy) relation: the snapshots are resolved now, the tables are
    streamed to DuckDB (``merge_rows`` rows merged at a time) each time it runs. Pass a
    list as ``scans`` to receive one :class:`~azof.sql.ScanRecord` per lakehouse reference
    (columns read, pushed filter, metrics, filled as the relation runs). Errors are those
    of :meth:`azof.sql.ExecutionContext.sql`; DuckDB's parser, binder and catalog errors
    become :class:`~azof.errors.InvalidArgumentError` with the internal names replaced by
    the references as written.
    """
    duck = _duckdb()
    lake = _lakehouse(lakehouse)
    if is_alter_table(query, _DIALECT) and alters_lakehouse_table(lake, query, _DIALECT):
        result = alter_table(lake, query, _DIALECT)  # one evolve commit, no DuckDB involved
        return con.from_arrow(result)
    relation, records, _ = _run(duck, con, lake, query, {}, check_merge_rows(merge_rows))
    if scans is not None:
        scans.extend(records)
    return relation


def _run(
    duck: Any, con: Any, lake: Lakehouse, query: str, cache: dict[str, Table], merge_rows: int
) -> tuple[duckdb.DuckDBPyRelation, list[ScanRecord], set[str]]:
    """:func:`sql`: the relation, what each reference reads, and the names registered."""
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
    scans = {
        ref.internal: reference_scan(tables.open(ref.table), ref) for ref in rewritten.references
    }
    schemas = {name: reference_schema(scan.snapshot.schema) for name, scan in scans.items()}
    engine: FunctionEngine = _DuckDBEngine(duck, con, lake, cache, merge_rows)
    rewritten, results = table_functions(engine, query, rewritten, tables, prefix)
    registered = set(results)
    body = _EXPLAIN.sub("", rewritten.sql) if rewritten.explain else rewritten.sql
    needs = needs_from_sqlglot(body, schemas, dialect=_DIALECT, others=results) if schemas else {}
    records = []
    for ref in rewritten.references:
        stream = ReferenceStream(scans[ref.internal], ref, merge_rows)
        records.append(stream.analysed(needs.get(ref.internal, READ_ALL)))
        _register_tracked(con, ref.internal, stream.dataset)
        registered.add(ref.internal)
    return _relation(duck, con, rewritten), records, registered


def _register_tracked(con: Any, name: str, data: pa.Table | ScanDataset) -> None:
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

    def __init__(
        self, duck: Any, con: Any, lake: Lakehouse, cache: dict[str, Table], merge_rows: int
    ) -> None:
        self.duck = duck
        self.con = con
        self.lake = lake
        self.cache = cache
        self.merge_rows = merge_rows

    def run(self, query: str) -> pa.Table:
        """The rows of ``query`` (its scans are unregistered once read)."""
        relation, _, names = _run(
            self.duck, self.con, self.lake, query, self.cache, self.merge_rows
        )
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


def _relation(duck: Any, con: Any, rewritten: RewrittenQuery) -> duckdb.DuckDBPyRelation:
    try:
        relation: duckdb.DuckDBPyRelation = con.sql(rewritten.sql)
    except (duck.ParserException, duck.BinderException, duck.CatalogException) as exc:
        message = rewritten.readable(str(exc))
        raise InvalidArgumentError(f"DuckDB cannot run the query: {message}") from None
    return relation


def register(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    name: str,
    as_of: Any = None,
    *,
    columns: Sequence[str] | None = None,
    filter: FilterLike = None,
    version: int | None = None,
    known_at: Any = None,
    merge_rows: int = MERGE_ROWS,
) -> duckdb.DuckDBPyRelation:
    """Register :meth:`azof.Table.scanner` of ``table`` (same arguments) on ``con`` as
    ``name``, streamed (:mod:`azof.dataset`): DuckDB reads it each time a query uses it,
    handing it the columns the query uses and its filters (a filter on ``key`` alone
    prunes files), ``merge_rows`` rows merged at a time; returns the relation of that
    view. The snapshot is resolved now."""
    _duckdb()
    if not isinstance(table, Table):
        raise InvalidArgumentError(
            f"table must be an azof.Table (lakehouse.table(name)), not {type(table).__name__}"
        )
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError("name must be a non-empty string")
    check_merge_rows(merge_rows)
    scan = table.scanner(as_of, version=version, known_at=known_at, columns=columns, filter=filter)
    con.register(name, ScanDataset(scan, merge_rows=merge_rows))
    view: duckdb.DuckDBPyRelation = con.view(name)
    return view


def release(con: duckdb.DuckDBPyConnection) -> None:
    """Unregister every table :func:`sql` registered on ``con`` (relations made by earlier
    :func:`sql` calls cannot run afterwards)."""
    for name in sorted(_registered.pop(con, set())):
        con.unregister(name)
