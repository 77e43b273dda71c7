"""Reading the table references of a query: which tables a query names, which snapshot each
reference reads, and its scan as the stream an engine reads, with a record of what it
touched.

Shared by the DataFusion context (:mod:`azof.sql.context`) and :mod:`azof.duckdb`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from azof.dataset import ScanDataset, ScanLog
from azof.errors import InvalidArgumentError, VersionNotFoundError
from azof.lakehouse import Lakehouse
from azof.scan.read import ScanMetrics
from azof.sql.clauses import TableReference
from azof.sql.pushdown import READ_ALL, ScanNeeds, fixed_names, reference_schema
from azof.table import Table
from azof.tablescan import TableScan
from azof.timestamps import format_instant, parse_as_of, parse_instant

__all__ = ["LakehouseTables", "ReferenceStream", "ScanRecord", "read_columns", "reference_scan"]


@dataclass(frozen=True)
class ScanRecord:
    """What one table reference of a query reads (``ExecutionContext.last_scans``).

    The reference is streamed to the engine when the query runs (:mod:`azof.dataset`), so
    :attr:`metrics` and :attr:`seconds` count from then on, summed over every run of the
    query's frame or relation."""

    reference: str
    """The reference as written in the query, e.g. ``financials AT ('2019-01-17')``."""
    table: str
    alias: str
    internal: str
    """The name the rewritten query used for it (it appears in ``EXPLAIN`` output)."""
    as_of: str | None
    """Event time, RFC 3339 in UTC; None: the current state."""
    version: int
    """The snapshot read (from ``VERSION =>``, ``KNOWN_AT =>`` or the latest)."""
    known_at: str | None
    planned_columns: tuple[str, ...] | None
    """The columns the query analysis found it needs (None: not analysed)."""
    filter: pc.Expression | None
    """The predicate the query analysis pushed below the as-of merge (pruning files and
    row groups); the engine's own filters reach the scan too, above the merge (or below,
    when they name ``key`` alone)."""
    filter_sql: str | None
    scan: TableScan
    """The scan the engine reads (before the engine narrows it)."""
    log: ScanLog

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns read from Parquet: ``key`` and ``event_time`` (the merge reads them
        anyway), then the value columns the query uses (as read, once the query ran)."""
        if self.log.columns is not None:
            return self.log.columns
        if self.planned_columns is not None:
            return self.planned_columns
        return tuple(self.scan.columns)

    @property
    def metrics(self) -> ScanMetrics:
        return self.log.metrics

    @property
    def seconds(self) -> float:
        return self.log.seconds

    def describe(self) -> str:
        when = f"as of {self.as_of}" if self.as_of is not None else "current"
        known = f", known at {self.known_at}" if self.known_at is not None else ""
        pushed = self.filter_sql if self.filter_sql is not None else "none"
        m = self.metrics
        if m.files_planned == 0 and self.seconds == 0:
            files = self.scan.files()
            read = f"not read yet; plan: {len(files)} files, {sum(f.rows or 0 for f in files)} rows"
        else:
            read = (
                f"files {m.files_read}/{m.files_planned}, row groups {m.row_groups_read}/"
                f"{m.row_groups_total}, rows read {m.rows_read}, rows out {m.rows_out}, bytes "
                f"read {m.bytes_read}; {self.seconds * 1000:.1f} ms"
            )
        return (
            f"{self.internal} = {self.reference} -> table {self.table!r} {when}, "
            f"version {self.version}{known}; columns [{', '.join(self.columns)}]; "
            f"pushed filter: {pushed}; {read}"
        )


class LakehouseTables:
    """The tables of a lakehouse as a query sees them: names resolved against one listing,
    each table opened once and refreshed to its latest version once per query."""

    def __init__(self, lakehouse: Lakehouse, cache: dict[str, Table]) -> None:
        self.lakehouse = lakehouse
        self._cache = cache
        self._names: list[str] | None = None
        self._fresh: set[str] = set()

    @property
    def names(self) -> list[str]:
        if self._names is None:
            self._names = self.lakehouse.tables()
        return self._names

    def resolve(self, name: str, quoted: bool) -> str | None:
        """The table a name in the query denotes: the exact name, or for an unquoted name
        the one table whose name matches ignoring case (engines fold unquoted names)."""
        if self._names is None and name in self._cache:  # opened before: no listing needed
            return name
        if name in self.names:
            return name
        if quoted:
            return None
        folded = [table for table in self.names if table.lower() == name.lower()]
        return folded[0] if len(folded) == 1 else None

    def describe(self) -> str:
        listed = ", ".join(self.names) if self.names else "none"
        return f"the lakehouse {self.lakehouse.storage.uri} (tables: {listed})"

    def open(self, name: str) -> Table:
        table = self._cache.get(name)
        if table is None:
            table = self._cache[name] = self.lakehouse.table(name)
            self._fresh.add(name)
        elif name not in self._fresh:
            table.refresh()
            self._fresh.add(name)
        return table


def reference_scan(table: Table, reference: TableReference) -> TableScan:
    """The scan ``reference`` reads: as of its ``AT``, of the snapshot its ``VERSION`` or
    ``KNOWN_AT`` chooses (else the latest); errors name the reference."""
    travel = reference.travel
    try:
        if travel.as_of is not None:
            parse_as_of(travel.as_of, "AT")
        if travel.known_at is not None:
            parse_instant(travel.known_at, "KNOWN_AT")
        return table.scanner(travel.as_of, version=travel.version, known_at=travel.known_at)
    except VersionNotFoundError as exc:
        raise VersionNotFoundError(f"{reference.where()}: {exc}") from None
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{reference.where()}: {exc}") from None


def read_columns(schema: pa.Schema, needs: ScanNeeds) -> tuple[str, ...] | None:
    """The columns the query analysis says a reference reads, in schema order: the key and
    event-time columns (read for the merge anyway; ``schema`` is a
    :func:`~azof.sql.pushdown.reference_schema`) and the value columns the query needs
    (None: not known)."""
    if needs.columns is None:
        return None
    key_names, time = fixed_names(schema)
    return tuple(n for n in schema.names if n in needs.columns or n in (*key_names, time))


class ReferenceStream:
    """One table reference of a query as the dataset the engine streams (nothing is read
    until the query runs). :meth:`analysed` gives it what the query analysis found: the
    predicate to push below the as-of merge, set before the query runs."""

    def __init__(self, scan: TableScan, reference: TableReference, merge_rows: int) -> None:
        self.scan = scan
        self.reference = reference
        self.needs = READ_ALL
        self.log = ScanLog()
        self.dataset = ScanDataset(scan, merge_rows=merge_rows, log=self.log, on_scan=self._narrow)

    def _narrow(self, scan: TableScan) -> TableScan:
        predicate = self.needs.predicate
        return scan if predicate is None else scan.prune_keys(predicate)

    def analysed(self, needs: ScanNeeds) -> ScanRecord:
        """Push ``needs.predicate`` below the merge from now on; the record of the read."""
        self.needs = needs
        scan, known_at = self.scan, self.scan.known_at
        return ScanRecord(
            reference=self.reference.text,
            table=scan.table,
            alias=self.reference.alias,
            internal=self.reference.internal,
            as_of=None if scan.as_of is None else format_instant(scan.as_of),
            version=scan.version,
            known_at=None if known_at is None else format_instant(known_at),
            planned_columns=read_columns(reference_schema(scan.snapshot.schema), needs),
            filter=needs.predicate,
            filter_sql=needs.predicate_sql,
            scan=scan,
            log=self.log,
        )
