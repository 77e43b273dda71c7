"""SQL over azof tables, each as of any event time.

:class:`ExecutionContext` runs SQL with DataFusion (the ``sql`` extra); :mod:`azof.duckdb`
runs the same clauses and table functions with DuckDB. DataFusion is imported when a
context is created, so this package imports without it. See ``docs/sql.md``.
"""

from azof.sql.clauses import RewrittenQuery, TableReference, TimeTravel, rewrite_query
from azof.sql.context import ExecutionContext
from azof.sql.scans import ScanRecord

__all__ = [
    "ExecutionContext",
    "RewrittenQuery",
    "ScanRecord",
    "TableReference",
    "TimeTravel",
    "rewrite_query",
]
