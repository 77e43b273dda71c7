"""SQL over a lakehouse with DataFusion: :class:`ExecutionContext`.

A query runs in three steps:

1. :func:`~azof.sql.clauses.rewrite_query` finds every lakehouse table reference and its
   time-travel clause, checks them, and gives each reference its own internal name;
2. each reference's :class:`~azof.tablescan.TableScan` (its snapshot resolved now) is
   registered under that name as a dataset that streams (:mod:`azof.dataset`): nothing is
   read yet;
3. DataFusion plans the query once, and :func:`~azof.sql.pushdown.needs_from_datafusion`
   reads from the optimized plan which columns each reference needs and which key
   predicates and lower bounds on ``event_time`` may prune files and row groups below the
   as-of merge; those reach the scans when DataFusion runs them, with the columns and
   filters DataFusion itself hands the dataset.

The lazy DataFrame returned reads the tables when it is computed, a batch at a time, so an
aggregate over a table's current state runs in memory bounded by the streams' merge
setting, not by the table.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from azof.errors import InvalidArgumentError
from azof.lakehouse import Lakehouse
from azof.scan.stream import MERGE_ROWS, check_merge_rows
from azof.sql.alter import alter_table, is_alter_table
from azof.sql.clauses import RewrittenQuery, rewrite_query
from azof.sql.functions import FunctionEngine, table_functions
from azof.sql.pushdown import needs_from_datafusion, reference_schema
from azof.sql.scans import LakehouseTables, ReferenceStream, ScanRecord, reference_scan
from azof.table import Table

if TYPE_CHECKING:
    import datafusion

__all__ = ["ExecutionContext"]

_DIALECT = "postgres"  # sqlglot's tokenizer closest to DataFusion's (E'..', $$..$$)


def _empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([], type=f.type) for f in schema], schema=schema)


class _DataFusionEngine:
    """The table functions' view of an :class:`ExecutionContext`."""

    dialect = _DIALECT
    own_tables = "a table registered in the context's session"

    def __init__(self, context: ExecutionContext) -> None:
        self.context = context

    def run(self, query: str) -> pa.Table:
        result: pa.Table = self.context.sql(query).to_arrow_table()
        return result

    def own_table(self, name: str) -> pa.Table | None:
        session = self.context.session
        if not session.table_exist(name):
            return None
        result: pa.Table = session.table(name).to_arrow_table()
        return result

    def register(self, name: str, result: pa.Table) -> None:
        """``result`` as one partition (a plain ``SELECT *`` keeps its order; DataFusion
        spreads the work over its threads where an operator gains from it)."""
        batches = result.to_batches() or [_empty_batch(result.schema)]
        self.context.session.register_record_batches(name, [batches])

    def deregister(self, name: str) -> None:
        self.context.session.deregister_table(name)


class ExecutionContext:
    """Run SQL over the tables of a lakehouse, each as of any event time.

    >>> ctx = ExecutionContext("path/to/lake")
    >>> ctx.sql("SELECT key, revenue FROM financials AT ('2019-01-17') LIMIT 3").show()

    Every table of the lakehouse is queryable by name (without a clause: its current
    state). After a table name: ``AT ('ts')``, ``AT (TIMESTAMP => 'ts')``,
    ``FOR SYSTEM_TIME AS OF 'ts'`` (event time); ``AT (TIMESTAMP => 'ts', VERSION => n)``,
    ``AT (VERSION => n)``, ``AT (TIMESTAMP => 'ts', KNOWN_AT => 'ts2')`` (bitemporal:
    also choose the snapshot by commit time). Timestamps without an offset are UTC. See
    ``docs/sql.md``.

    ``sql`` returns a lazy :class:`datafusion.DataFrame`: the snapshots are resolved when
    ``sql`` is called, the tables are read (streamed, ``merge_rows`` rows merged at a
    time, see :meth:`azof.Table.to_batches`) each time the DataFrame is computed.
    ``last_scans`` lists what each table reference of the last query reads.
    """

    def __init__(
        self,
        lakehouse: str | Path | Lakehouse,
        storage_options: dict[str, Any] | None = None,
        *,
        target_partitions: int | None = None,
        merge_rows: int = MERGE_ROWS,
    ) -> None:
        try:
            import datafusion
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError(
                "azof SQL needs DataFusion; install it with: pip install 'azof[sql]'"
            ) from None
        if isinstance(lakehouse, Lakehouse):
            if storage_options is not None:
                raise InvalidArgumentError(
                    "storage_options go with a lakehouse URI, not with a Lakehouse object"
                )
            self.lakehouse = lakehouse
        else:
            self.lakehouse = Lakehouse(lakehouse, storage_options)
        self.merge_rows = check_merge_rows(merge_rows)
        partitions = target_partitions or os.cpu_count() or 1
        config = datafusion.SessionConfig().with_target_partitions(partitions)
        self.session: datafusion.SessionContext = datafusion.SessionContext(config)
        """The DataFusion session the queries run in (azof registers its scans in it only
        for the duration of a ``sql`` call)."""
        self._options = datafusion.SQLOptions().with_allow_ddl(False).with_allow_dml(False)
        self._tables: dict[str, Table] = {}
        self._queries = itertools.count()
        self.last_scans: list[ScanRecord] = []

    def __repr__(self) -> str:
        return f"ExecutionContext({self.lakehouse.storage.uri!r})"

    def tables(self) -> list[str]:
        """The names of the lakehouse's tables, as queries use them."""
        return self.lakehouse.tables()

    def sql(self, query: str) -> datafusion.DataFrame:
        """Run ``query`` (one statement: a query, or ``EXPLAIN [ANALYZE]`` of one; or an
        ``ALTER TABLE``, committed at once, whose frame is one row: table, version, changes).

        Raises :class:`~azof.errors.InvalidArgumentError` for a malformed time-travel
        clause, timestamp or query, :class:`~azof.errors.TableNotFoundError` for an unknown
        table and :class:`~azof.errors.VersionNotFoundError` for an unknown version or a
        ``KNOWN_AT`` before the first commit; messages quote the text at fault.
        """
        if isinstance(query, str) and is_alter_table(query, _DIALECT):
            self.last_scans = []
            name = f"__azof_alter_{next(self._queries)}"
            frame = self.session.from_arrow(alter_table(self.lakehouse, query, _DIALECT), name=name)
            self.session.deregister_table(name)
            return frame
        prefix = f"__azof_{next(self._queries)}_"
        tables = LakehouseTables(self.lakehouse, self._tables)
        rewritten = rewrite_query(
            query,
            tables.resolve,
            dialect=_DIALECT,
            prefix=prefix,
            unknown="error",
            describe_lakehouse=tables.describe,
        )
        scans = {
            ref.internal: reference_scan(tables.open(ref.table), ref)
            for ref in rewritten.references
        }
        schemas = {name: reference_schema(scan.snapshot.schema) for name, scan in scans.items()}
        engine: FunctionEngine = _DataFusionEngine(self)
        rewritten, functions = table_functions(engine, query, rewritten, tables, prefix)
        streams = {
            ref.internal: ReferenceStream(scans[ref.internal], ref, self.merge_rows)
            for ref in rewritten.references
        }
        try:
            for name, stream in streams.items():
                self.session.register_dataset(name, stream.dataset.as_pyarrow())
            frame = self._plan(rewritten)
            try:
                plan = frame.optimized_logical_plan()
            except Exception as exc:  # DataFusion raises plain Exceptions
                raise InvalidArgumentError(
                    f"DataFusion cannot plan the query: {rewritten.readable(str(exc))}"
                ) from None
            needs = needs_from_datafusion(plan, schemas)
            records = [stream.analysed(needs[name]) for name, stream in streams.items()]
            if rewritten.explain:
                frame = self._explain(frame, records)
        finally:
            self._deregister(schemas)
            self._deregister(functions)
        self.last_scans = records
        return frame

    def _plan(self, rewritten: RewrittenQuery) -> datafusion.DataFrame:
        try:
            return self.session.sql(rewritten.sql, options=self._options)
        except Exception as exc:  # DataFusion raises plain ValueError/Exception
            message = rewritten.readable(str(exc))
            raise InvalidArgumentError(f"DataFusion cannot run the query: {message}") from None

    def _deregister(self, names: dict[str, pa.Schema]) -> None:
        for name in names:
            if self.session.table_exist(name):
                self.session.deregister_table(name)

    def _explain(
        self, frame: datafusion.DataFrame, records: list[ScanRecord]
    ) -> datafusion.DataFrame:
        """``EXPLAIN`` output with one ``azof_scan`` row per table reference."""
        plan = frame.to_arrow_table()
        if plan.column_names != ["plan_type", "plan"]:
            return frame
        extra = pa.table(
            {
                "plan_type": ["azof_scan"] * len(records),
                "plan": [record.describe() for record in records],
            },
            schema=plan.schema,
        )
        name = f"__azof_explain_{next(self._queries)}"
        out = self.session.from_arrow(pa.concat_tables([plan, extra]), name=name)
        self.session.deregister_table(name)
        return out
