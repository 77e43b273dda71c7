"""Reading the table references of a query: which tables a query names, which snapshot each
reference reads, and the as-of scan itself, with a record of what it touched.

Shared by the DataFusion context (:mod:`azof.sql.context`) and :mod:`azof.duckdb`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from azof.errors import InvalidArgumentError, VersionNotFoundError
from azof.format import Snapshot
from azof.lakehouse import Lakehouse
from azof.scan.read import ScanMetrics, ScanRequest, execute_scan
from azof.sql.clauses import TableReference
from azof.sql.pushdown import ScanNeeds, fixed_names
from azof.table import Table
from azof.timestamps import format_instant, parse_instant

__all__ = ["LakehouseTables", "ScanRecord", "scan_reference"]


@dataclass(frozen=True)
class ScanRecord:
    """What one table reference of a query read (``ExecutionContext.last_scans``)."""

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
    columns: tuple[str, ...]
    """The columns read from Parquet: ``key`` and ``event_time`` (the merge reads them
    anyway), then the value columns the query uses."""
    filter: pc.Expression | None
    """The predicate pushed below the as-of merge (pruning files and row groups)."""
    filter_sql: str | None
    metrics: ScanMetrics
    seconds: float

    def describe(self) -> str:
        when = f"as of {self.as_of}" if self.as_of is not None else "current"
        known = f", known at {self.known_at}" if self.known_at is not None else ""
        pushed = self.filter_sql if self.filter_sql is not None else "none"
        m = self.metrics
        return (
            f"{self.internal} = {self.reference} -> table {self.table!r} {when}, "
            f"version {self.version}{known}; columns [{', '.join(self.columns)}]; "
            f"pushed filter: {pushed}; files {m.files_read}/{m.files_planned}, "
            f"row groups {m.row_groups_read}/{m.row_groups_total}, rows read {m.rows_read}, "
            f"rows out {m.rows_out}, bytes read {m.bytes_read}; {self.seconds * 1000:.1f} ms"
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


def snapshot_for(table: Table, reference: TableReference) -> Snapshot:
    """The snapshot ``reference`` reads (its VERSION or KNOWN_AT, else the latest)."""
    travel = reference.travel
    try:
        return table.snapshot_at(travel.version, travel.known_at)
    except VersionNotFoundError as exc:
        raise VersionNotFoundError(f"{reference.where()}: {exc}") from None
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{reference.where()}: {exc}") from None


def read_columns(schema: pa.Schema, needs: ScanNeeds) -> list[str]:
    """The columns to read, in schema order: the key and event-time columns (read for the
    merge anyway) and the value columns the query needs."""
    if needs.columns is None:
        return list(schema.names)
    key_names, time = fixed_names(schema)
    return [n for n in schema.names if n in needs.columns or n in (*key_names, time)]


def scan_reference(
    table: Table,
    snapshot: Snapshot,
    reference: TableReference,
    columns: Sequence[str],
    needs: ScanNeeds,
) -> tuple[pa.Table, ScanRecord]:
    """The as-of answer for ``reference`` (only ``columns``), and what the scan touched."""
    travel = reference.travel
    as_of = None if travel.as_of is None else parse_instant(travel.as_of, "AT")
    known_at = None if travel.known_at is None else parse_instant(travel.known_at, "KNOWN_AT")
    request = ScanRequest(as_of=as_of, columns=tuple(columns), key_filter=needs.predicate)
    metrics = ScanMetrics()
    started = time.perf_counter()
    try:
        result = execute_scan(table.storage, table.name, snapshot, request, metrics)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{reference.where()}: {exc}") from None
    record = ScanRecord(
        reference=reference.text,
        table=table.name,
        alias=reference.alias,
        internal=reference.internal,
        as_of=None if as_of is None else format_instant(as_of),
        version=snapshot.version,
        known_at=None if known_at is None else format_instant(known_at),
        columns=tuple(columns),
        filter=needs.predicate,
        filter_sql=needs.predicate_sql,
        metrics=metrics,
        seconds=time.perf_counter() - started,
    )
    return result, record
