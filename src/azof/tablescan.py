"""One read of one table: :class:`TableScan`, made by :meth:`azof.Table.scanner`.

A scan is an immutable value: the snapshot is resolved once, when the scan is made, and
every output (:meth:`~TableScan.to_arrow`, :meth:`~TableScan.to_batches`,
:meth:`~TableScan.count`, the Arrow C stream that ``pa.table(scan)``, ``pl.from_arrow(scan)``
and ``duckdb.from_arrow(scan)`` read...) answers the same question over the same version.
Builder methods (:meth:`~TableScan.select`, :meth:`~TableScan.where`...) return a new scan.

Filters have two places. Applied *above* the as-of merge, a filter keeps the rows of the
answer that pass it: any predicate may go there. Applied *below* the merge, it prunes files
and row groups before rows are merged; only predicates that select whole keys keep the
answer there: predicates on ``key`` alone, and lower bounds on ``event_time`` (if a key's
latest row passes one, it is still the latest among the rows that pass; if it fails, every
older row fails too). A value predicate below the merge would resurrect an older row of a
key whose latest row fails it. :meth:`~TableScan.where` puts a filter on ``key`` alone
below the merge and any other above; :meth:`~TableScan.prune_keys` puts one below.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, cast, overload

import pyarrow as pa
import pyarrow.compute as pc

from azof import manifests
from azof.errors import InvalidArgumentError
from azof.filters import FilterLike, resolve_filter
from azof.format import Snapshot
from azof.scan.read import ScanMetrics, ScanRequest, execute_scan, plan_request, references_only
from azof.scan.stream import MERGE_ROWS, check_merge_rows, iter_scan, record_batches
from azof.storage import Storage
from azof.timestamps import Instant, format_instant, parse_as_of

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

    from azof.dataset import ScanDataset

__all__ = ["BATCH_SIZE", "PlannedRead", "TableScan", "optional_module"]

BATCH_SIZE = 65_536
"""The default most rows of a record batch that :meth:`TableScan.to_batches` yields."""


def optional_module(module: str, needed_by: str) -> Any:
    """The optional engine ``module``, or an ImportError saying which extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"{needed_by} needs {module}; install it with: pip install 'azof[{module}]'"
        ) from None


@dataclass(frozen=True)
class PlannedRead:
    """One data file a scan opens (:meth:`TableScan.files`). ``rows`` and ``bytes`` are
    the whole file's (from its record; ``None`` for seed files without them): row groups
    that the as-of time or the key filter prunes are skipped when it is read."""

    file: str
    rows: int | None
    bytes: int | None
    bucket: int
    """The hash bucket the file holds (0 of 1: any key)."""
    priority: int
    """Among rows of equal ``(key, event_time)`` the file of greater priority wins."""


def _columns(columns: Sequence[str] | str | None) -> tuple[str, ...] | None:
    if columns is None:
        return None
    if isinstance(columns, str):
        return (columns,)
    if not all(isinstance(name, str) for name in columns):
        raise InvalidArgumentError(f"columns must be column names (strings), not {columns!r}")
    return tuple(columns)


def _expression(filter: object, what: str) -> pc.Expression:
    if not isinstance(filter, pc.Expression):
        raise InvalidArgumentError(
            f"{what} must be a pyarrow.compute.Expression such as "
            f"pc.field('industry') == 'Software', not {type(filter).__name__}"
        )
    return filter


def _and(left: pc.Expression | None, right: pc.Expression) -> pc.Expression:
    return right if left is None else left & right


@dataclass(frozen=True)
class TableScan:
    """The as-of answer of one table version: every key's latest row with
    ``event_time <= as_of`` (``as_of`` ``None``: the current state), with the columns and
    filters asked for. Made by :meth:`azof.Table.scanner`; see the module docstring."""

    storage: Storage
    table: str
    """The table's name."""
    snapshot: Snapshot
    """The version read (resolved once, when the scan was made)."""
    request: ScanRequest
    known_at: Instant | None = None
    """The commit time that chose :attr:`snapshot`, if one did (for :meth:`explain`)."""

    @classmethod
    def build(
        cls,
        storage: Storage,
        table: str,
        snapshot: Snapshot,
        as_of: Any = None,
        *,
        known_at: Instant | None = None,
        columns: Sequence[str] | None = None,
        filter: FilterLike = None,
        bucket: int | None = None,
    ) -> TableScan:
        """A scan of ``snapshot`` (arguments as :meth:`azof.Table.scanner`), checked."""
        instant = None if as_of is None else parse_as_of(as_of, "as_of")
        snapshot = manifests.resolve_for(storage, table, snapshot, instant)
        scan = cls(storage, table, snapshot, ScanRequest(as_of=instant), known_at)
        scan = scan.select(columns) if columns is not None else scan
        scan = scan.where(filter) if filter is not None else scan
        return scan.for_bucket(bucket) if bucket is not None else scan

    def __repr__(self) -> str:
        when = "current" if self.as_of is None else f"as_of={format_instant(self.as_of)!r}"
        return f"TableScan({self.table!r}, version={self.version}, {when})"

    # -- what is read --------------------------------------------------------------------

    @property
    def version(self) -> int:
        return self.snapshot.version

    @property
    def as_of(self) -> Instant | None:
        """The event time of the answer (nanoseconds since the epoch; ``None``: current)."""
        return self.request.as_of

    @property
    def columns(self) -> list[str]:
        """The answer's column names."""
        if self.request.columns is not None:
            return list(self.request.columns)
        return self.snapshot.schema.names

    @property
    def schema(self) -> pa.Schema:
        """The answer's schema."""
        schema = self.snapshot.schema.to_arrow()
        return pa.schema([schema.field(name) for name in self.columns])

    @property
    def filter(self) -> pc.Expression | None:
        """The filter applied to the merged answer (above the merge)."""
        return self.request.filter

    @property
    def pushed_filter(self) -> pc.Expression | None:
        """The filter applied below the merge (it prunes files and row groups)."""
        return self.request.key_filter

    # -- builders --------------------------------------------------------------------------

    def select(self, columns: Sequence[str] | str) -> TableScan:
        """This scan with only ``columns`` in the answer (in that order); only those are
        read (and the ones the filter needs)."""
        names = _columns(columns)
        assert names is not None
        unknown = [name for name in names if name not in self.snapshot.schema.names]
        if unknown:
            raise InvalidArgumentError(
                f"table {self.table!r} has no column(s) {', '.join(map(repr, unknown))}; it "
                f"has {', '.join(self.snapshot.schema.names)}"
            )
        return replace(self, request=replace(self.request, columns=names))

    def where(self, filter: FilterLike) -> TableScan:
        """This scan's answer filtered by ``filter`` too (AND): SQL text, DNF tuples or a
        pyarrow expression (:mod:`azof.filters`). A filter on ``key`` alone goes below the
        merge instead (it selects whole keys, so the answer is the same), where it prunes
        files and row groups: a filter on the key columns alone (all or some of them)."""
        expression = resolve_filter(filter, self._table_schema())
        if expression is None:
            return self
        request = self.request
        if references_only(expression, pa.schema(self.snapshot.schema.key_fields)):
            request = replace(request, key_filter=_and(request.key_filter, expression))
        else:
            request = replace(request, filter=_and(request.filter, expression))
        return replace(self, request=request)

    def prune_keys(self, predicate: pc.Expression) -> TableScan:
        """This scan with ``predicate`` applied below the merge as well (AND), to prune
        files and row groups. The caller vouches that it only selects whole keys: it holds
        only conditions on the key columns and lower bounds on the event time (anything
        else would change the answer: see the module docstring). Its columns are checked."""
        expression = _expression(predicate, "predicate")
        schema = self.snapshot.schema
        bounds = pa.schema([*schema.key_fields, schema.field(schema.event_time_name)])
        if not references_only(expression, bounds):
            raise InvalidArgumentError(
                f"a predicate below the as-of merge may name only "
                f"{', '.join(schema.fixed_names)}, not {expression}; filter the answer with "
                "where() instead"
            )
        key_filter = _and(self.request.key_filter, expression)
        return replace(self, request=replace(self.request, key_filter=key_filter))

    def for_bucket(self, bucket: int) -> TableScan:
        """This scan of one hash bucket only (see :meth:`azof.Table.bucket_count`)."""
        buckets = self.snapshot.buckets
        if isinstance(bucket, bool) or not isinstance(bucket, int) or not 0 <= bucket < buckets:
            raise InvalidArgumentError(
                f"bucket {bucket!r} is not in 0..{buckets - 1} for version "
                f"{self.snapshot.version} of table {self.table!r}"
            )
        return replace(self, request=replace(self.request, bucket=bucket))

    def _table_schema(self) -> pa.Schema:
        return self.snapshot.schema.to_arrow()

    # -- outputs ---------------------------------------------------------------------------

    def to_arrow(self, metrics: ScanMetrics | None = None) -> pa.Table:
        """The answer as one Arrow table (buckets merged in parallel; within a bucket rows
        are sorted by key). ``metrics`` receives what the read touched."""
        return execute_scan(self.storage, self.table, self.snapshot, self.request, metrics)

    def to_batches(
        self,
        *,
        batch_size: int = BATCH_SIZE,
        merge_rows: int = MERGE_ROWS,
        metrics: ScanMetrics | None = None,
    ) -> pa.RecordBatchReader:
        """The answer as a stream of record batches of at most ``batch_size`` rows.

        The table is merged one hash bucket at a time, and a bucket whose files hold more
        than ``merge_rows`` rows one key range at a time, each range reading about
        ``merge_rows`` rows (row groups that the as-of time or a key filter prunes do not
        count). So memory is bounded by ``merge_rows``, not by the table. Ranges are cut
        where row groups start (azof writes 131,072 rows per group), so a step reads at
        least a row group of the largest files. Rows come bucket by bucket, each bucket
        sorted by key. A bucket with rows of unsorted files (seed tables) or of files split
        by another bucket count is merged whole. Nothing is read until the first batch is
        asked for."""
        check_merge_rows(merge_rows)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgumentError(
                f"batch_size must be a whole number >= 1, not {batch_size!r}"
            )
        schema = self.schema
        return pa.RecordBatchReader.from_batches(
            schema, self._batches(schema, batch_size, merge_rows, metrics)
        )

    def _batches(
        self, schema: pa.Schema, batch_size: int, merge_rows: int, metrics: ScanMetrics | None
    ) -> Iterator[pa.RecordBatch]:
        parts = iter_scan(
            self.storage, self.table, self.snapshot, self.request, metrics, merge_rows=merge_rows
        )
        yield from record_batches(parts, schema, batch_size)

    def to_pandas(self) -> pd.DataFrame:
        """The answer as a pandas DataFrame (needs ``azof[pandas]``)."""
        optional_module("pandas", "TableScan.to_pandas")
        return self.to_arrow().to_pandas()

    @overload
    def to_polars(self, *, lazy: Literal[False] = False) -> pl.DataFrame: ...

    @overload
    def to_polars(self, *, lazy: Literal[True]) -> pl.LazyFrame: ...

    def to_polars(self, *, lazy: bool = False) -> pl.DataFrame | pl.LazyFrame:
        """The answer as a polars DataFrame (needs ``azof[polars]``), or with ``lazy`` a
        ``LazyFrame`` that reads when collected: polars hands it the columns a query uses
        and its filters, key filters and ``event_time`` lower bounds prune below the merge
        (see :mod:`azof.polars`)."""
        polars = optional_module("polars", "TableScan.to_polars")
        if lazy:
            from azof.polars import lazy_frame

            return lazy_frame(self)
        frame = polars.from_arrow(self.to_arrow())
        assert isinstance(frame, polars.DataFrame)
        return cast("pl.DataFrame", frame)

    def to_dataset(self) -> ScanDataset:
        """The answer as a ``pyarrow.dataset.Dataset`` whose scanners stream (DuckDB and
        DataFusion read it so: their projection and filters reach the scan; see
        :mod:`azof.dataset`)."""
        from azof.dataset import ScanDataset

        return ScanDataset(self)

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """The answer through the Arrow PyCapsule interface, streamed (:meth:`to_batches`)."""
        reader = self.to_batches()
        return reader.__arrow_c_stream__(requested_schema)  # type: ignore[no-untyped-call]

    def count(self) -> int:
        """The number of rows of the answer, read as a stream of the key column (and the
        columns the filter needs)."""
        scan = self.select(list(self.snapshot.schema.key_names))
        return sum(batch.num_rows for batch in scan.to_batches())

    def files(self) -> list[PlannedRead]:
        """The plan: the data files the read opens, in priority order (no data is read)."""
        planned = plan_request(self.storage, self.snapshot, self.request)
        return [
            PlannedRead(
                file=item.file.file,
                rows=item.file.rows,
                bytes=item.file.size,
                bucket=item.file.bucket,
                priority=item.priority,
            )
            for item in planned
        ]

    def explain(self) -> str:
        """What the scan reads, as text: version, times, columns, the filters below and
        above the merge, and the planned files with their rows and bytes."""
        files = self.files()
        rows = sum(f.rows or 0 for f in files)
        size = sum(f.bytes or 0 for f in files)
        known = f", known at {format_instant(self.known_at)}" if self.known_at else ""
        when = "current state" if self.as_of is None else format_instant(self.as_of)
        bucket = self.request.bucket
        buckets = self.snapshot.buckets
        lines = [
            f"TableScan of table {self.table!r}, version {self.version}{known}",
            f"  as of (event time): {when}",
            f"  columns: {', '.join(self.columns)}",
            f"  below the merge (prunes files, row groups): {self.pushed_filter}",
            f"  above the merge (filters the answer): {self.filter}",
            f"  buckets: {'all' if bucket is None else bucket} of {buckets}",
            f"  plan: {len(files)} of {self.snapshot.file_count()} files, "
            f"{rows:,} rows, {size:,} bytes",
        ]
        lines += [f"    {f.file} ({f.rows} rows, {f.bytes} bytes)" for f in files]
        return "\n".join(lines)
