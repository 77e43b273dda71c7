"""SQL over a lakehouse with DataFusion: :class:`ExecutionContext`.

A query runs in four steps:

1. :func:`~azof.sql.clauses.rewrite_query` finds every lakehouse table reference and its
   time-travel clause, checks them, and gives each reference its own internal name;
2. DataFusion plans the rewritten query over empty stand-ins of the right schemas, and
   :func:`~azof.sql.pushdown.needs_from_datafusion` reads from the optimized plan which
   columns each reference needs and which predicates sit right above its scan;
3. each reference is scanned as of its time (only those columns; key predicates and lower
   bounds on ``event_time`` prune files and row groups before the as-of merge) and its
   Arrow answer is registered under the internal name;
4. DataFusion plans the query again over the real data and returns its lazy DataFrame.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from azof.errors import InvalidArgumentError
from azof.lakehouse import Lakehouse
from azof.sql.alter import alter_table, is_alter_table
from azof.sql.clauses import RewrittenQuery, TableReference, rewrite_query
from azof.sql.functions import FunctionEngine, table_functions
from azof.sql.pushdown import fixed_names, needs_from_datafusion, reference_schema
from azof.sql.scans import LakehouseTables, ScanRecord, read_columns, scan_reference, snapshot_for
from azof.table import Table

if TYPE_CHECKING:
    import datafusion

__all__ = ["ExecutionContext"]

_DIALECT = "postgres"  # sqlglot's tokenizer closest to DataFusion's (E'..', $$..$$)


def _empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([], type=f.type) for f in schema], schema=schema)


def _stand_in_schema(schema: pa.Schema) -> pa.Schema:
    """The schema a reference is registered with: the table's, with every value column
    nullable (columns a query does not use are registered as nulls)."""
    key_names, time = fixed_names(schema)
    fixed = (*key_names, time)
    fields = [f if f.name in fixed else f.with_nullable(True) for f in schema]
    return pa.schema(fields).with_metadata(schema.metadata or {})


def _full_width(data: pa.Table, schema: pa.Schema) -> pa.Table:
    """``data`` (some columns of ``schema``) with the others as nulls, so that the query
    plans over exactly the schema it was analysed with (``SELECT * EXCLUDE (...)``, natural
    joins... see the same columns). The plan never reads those columns."""
    columns = []
    for field in schema:
        if field.name not in data.column_names:
            columns.append(pa.chunked_array([pa.nulls(data.num_rows, field.type)]))
            continue
        column = data.column(field.name)
        columns.append(column if column.type == field.type else column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _partitions(table: pa.Table, count: int) -> list[list[pa.RecordBatch]]:
    """``table`` as up to ``count`` partitions of similar size (DataFusion runs one thread
    per partition)."""
    if table.num_rows == 0:
        return [[_empty_batch(table.schema)]]
    size = max(1, -(-table.num_rows // count))
    batches = table.to_batches(max_chunksize=size)
    parts: list[list[pa.RecordBatch]] = [[] for _ in range(min(count, len(batches)))]
    for index, batch in enumerate(batches):
        parts[index % len(parts)].append(batch)
    return parts


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

    ``sql`` returns a :class:`datafusion.DataFrame`. The scans run when ``sql`` is called
    (the data is then in memory); the DataFrame computes the rest lazily. ``last_scans``
    lists what each table reference of the last query read.
    """

    def __init__(
        self,
        lakehouse: str | Path | Lakehouse,
        storage_options: dict[str, Any] | None = None,
        *,
        target_partitions: int | None = None,
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
        self._partitions = target_partitions or os.cpu_count() or 1
        config = datafusion.SessionConfig().with_target_partitions(self._partitions)
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
        opened = {ref.internal: tables.open(ref.table) for ref in rewritten.references}
        snapshots = {
            ref.internal: snapshot_for(opened[ref.internal], ref) for ref in rewritten.references
        }
        schemas = {
            name: _stand_in_schema(reference_schema(snapshot.schema))
            for name, snapshot in snapshots.items()
        }
        engine: FunctionEngine = _DataFusionEngine(self)
        rewritten, functions = table_functions(engine, query, rewritten, tables, prefix)
        try:
            for name, schema in schemas.items():
                self.session.register_record_batches(name, [[_empty_batch(schema)]])
            stand_in = self._plan(rewritten)
            try:
                plan = stand_in.optimized_logical_plan()
            except Exception as exc:  # DataFusion raises plain Exceptions
                raise InvalidArgumentError(
                    f"DataFusion cannot plan the query: {rewritten.readable(str(exc))}"
                ) from None
            needs = needs_from_datafusion(plan, schemas)
            self._deregister(schemas)

            def scan(ref: TableReference) -> tuple[pa.Table, ScanRecord]:
                need = needs[ref.internal]
                columns = read_columns(schemas[ref.internal], need)
                return scan_reference(
                    opened[ref.internal], snapshots[ref.internal], ref, columns, need
                )

            references = rewritten.references
            if len(references) > 1:  # Arrow reads and sorts without the GIL
                with ThreadPoolExecutor(max_workers=min(len(references), 4)) as pool:
                    scanned = list(pool.map(scan, references))
            else:
                scanned = [scan(ref) for ref in references]
            records = [record for _, record in scanned]
            for ref, (data, _) in zip(references, scanned, strict=True):
                data = _full_width(data, schemas[ref.internal])
                self.session.register_record_batches(
                    ref.internal, _partitions(data, self._partitions)
                )
            frame = self._plan(rewritten)
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
