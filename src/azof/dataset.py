"""A :class:`~azof.tablescan.TableScan` as a ``pyarrow.dataset.Dataset`` that streams:
how DuckDB and DataFusion read azof tables without holding them in memory.

Both engines read a pyarrow dataset through its ``scanner(columns=..., filter=...)`` (and
DataFusion through ``get_fragments`` and each fragment's ``scanner``), handing it the
columns a query uses and the filters they can translate, and they trust the scanner to
apply those filters. :class:`ScanDataset` answers with :class:`ScanStream`, which narrows
the scan (:meth:`~azof.tablescan.TableScan.select`, :meth:`~azof.tablescan.TableScan.where`:
a filter on ``key`` alone prunes below the as-of merge, any other filters the merged
answer, so the engine's filters never change the answer) and streams it through
:meth:`~azof.tablescan.TableScan.to_batches`. Nothing is read until the engine pulls the
first batch, and every pull starts a fresh read of the same snapshot, so a query over a
dataset can run any number of times. A table with several hash buckets is one fragment per
bucket (DataFusion reads them in parallel).

The classes subclass pyarrow's ``Dataset``/``Fragment`` so that engines accept them, but do
not wrap a C++ dataset: only the methods defined here may be called.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from azof.scan.read import ScanMetrics, references_only
from azof.scan.stream import MERGE_ROWS
from azof.tablescan import BATCH_SIZE, TableScan

__all__ = ["ScanDataset", "ScanFragment", "ScanLog", "ScanStream"]

if TYPE_CHECKING:  # typed as what they are: Python classes with the methods below
    _Dataset = object
    _Fragment = object
else:  # engines accept only (subclasses of) pyarrow's classes
    _Dataset = ds.Dataset
    _Fragment = ds.Fragment


@dataclass
class ScanLog:
    """What the streams of one dataset read, summed over every read the engines ran (a
    query that runs twice reads twice): the columns read and the time spent, and the
    metrics. Safe to update from the engines' threads."""

    metrics: ScanMetrics = field(default_factory=ScanMetrics)
    columns: tuple[str, ...] | None = None
    """The columns the last stream read from Parquet (``key``, ``event_time``, then the
    value columns the engine asked for or its filter needs), in schema order."""
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, scan: TableScan, metrics: ScanMetrics, seconds: float) -> None:
        with self._lock:
            self.columns = tuple(_read_columns(scan))
            self.metrics.files_planned += metrics.files_planned
            self.metrics.rows_out += metrics.rows_out
            self.metrics.add(metrics)
            self.seconds += seconds


def _read_columns(scan: TableScan) -> list[str]:
    """The columns ``scan`` reads from Parquet, in schema order: ``key``, ``event_time``,
    the columns of the answer, and every value column if the filter needs others."""
    names = scan.snapshot.schema.names
    if scan.request.columns is None:
        return names
    wanted = {*scan.snapshot.schema.fixed_names, *scan.request.columns}
    if scan.filter is not None:
        schema = scan.snapshot.schema.to_arrow()
        if not references_only(scan.filter, pa.schema([schema.field(n) for n in wanted])):
            return names
    return [name for name in names if name in wanted]


def filter_columns(expression: pc.Expression, schema: pa.Schema) -> list[str]:
    """The columns of ``schema`` that ``expression`` names (it must bind to ``schema``):
    each column is left out in turn and kept if the expression no longer binds."""
    needed = list(schema.names)
    for name in schema.names:
        fewer = [n for n in needed if n != name]
        if references_only(expression, pa.schema([schema.field(n) for n in fewer])):
            needed = fewer
    return needed


class ScanStream:
    """An engine's scanner over a :class:`ScanDataset`: ``scan`` narrowed to ``columns``
    and ``filter``, read as a stream when the engine pulls batches."""

    def __init__(
        self,
        scan: TableScan,
        columns: Sequence[str] | None,
        filter: pc.Expression | None,
        batch_size: int | None,
        merge_rows: int,
        log: ScanLog | None,
    ) -> None:
        self._scan = scan
        self._columns = None if columns is None else list(columns)
        if columns is not None:
            read = list(columns) or list(scan.snapshot.schema.key_names)
            if filter is not None:  # read the filter's columns too, then drop them
                named = filter_columns(filter, scan.schema)
                read += [name for name in named if name not in read]
            scan = scan.select(read)
        if filter is not None:
            scan = scan.where(filter)
        self.scan = scan
        self._batch_size = batch_size or BATCH_SIZE
        self._merge_rows = merge_rows
        self._log = log

    @property
    def projected_schema(self) -> pa.Schema:
        if self._columns is None:
            return self.scan.schema
        schema = self.scan.schema
        return pa.schema([schema.field(name) for name in self._columns])

    @property
    def dataset_schema(self) -> pa.Schema:
        return self._scan.schema

    def to_batches(self) -> Iterator[pa.RecordBatch]:
        metrics = ScanMetrics()
        started = time.perf_counter()
        reader = self.scan.to_batches(
            batch_size=self._batch_size, merge_rows=self._merge_rows, metrics=metrics
        )
        try:
            for batch in reader:
                # no columns asked for (a count): batches of rows without columns
                yield batch if self._columns is None else batch.select(self._columns)
        finally:
            if self._log is not None:
                self._log.add(self.scan, metrics, time.perf_counter() - started)

    def to_reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.projected_schema, self.to_batches())

    def to_table(self) -> pa.Table:
        return pa.Table.from_batches(list(self.to_batches()), schema=self.projected_schema)

    def count_rows(self) -> int:
        return sum(batch.num_rows for batch in self.to_batches())

    def head(self, num_rows: int) -> pa.Table:
        rows, taken = [], 0
        for batch in self.to_batches():
            rows.append(batch.slice(0, num_rows - taken))
            taken += rows[-1].num_rows
            if taken >= num_rows:
                break
        return pa.Table.from_batches(rows, schema=self.projected_schema)


class ScanFragment(_Fragment):
    """One hash bucket of a :class:`ScanDataset` (or all of it)."""

    def __init__(self, dataset: ScanDataset, scan: TableScan) -> None:  # no C++ fragment
        self._dataset = dataset
        self._scan = scan

    @property
    def physical_schema(self) -> pa.Schema:
        return self._scan.schema

    @property
    def partition_expression(self) -> pc.Expression:
        return pc.scalar(True)

    def scanner(
        self,
        schema: pa.Schema | None = None,
        columns: Sequence[str] | None = None,
        filter: pc.Expression | None = None,
        batch_size: int | None = None,
        **options: Any,
    ) -> ScanStream:
        return self._dataset.stream(self._scan, columns, filter, batch_size)

    def to_batches(self, **options: Any) -> Iterator[pa.RecordBatch]:
        return self.scanner(**options).to_batches()

    def to_table(self, **options: Any) -> pa.Table:
        return self.scanner(**options).to_table()


class ScanDataset(_Dataset):
    """A :class:`~azof.tablescan.TableScan` as a pyarrow dataset whose scanners stream.

    ``merge_rows`` bounds the rows merged at once (see
    :meth:`~azof.tablescan.TableScan.to_batches`); ``log``, if given, receives what each
    read touched; ``on_scan``, if given, may narrow the scan before each read (the SQL
    front ends add the key predicates they found in the query there)."""

    def __init__(  # no C++ dataset: only the methods below may be called
        self,
        scan: TableScan,
        *,
        merge_rows: int = MERGE_ROWS,
        log: ScanLog | None = None,
        on_scan: Callable[[TableScan], TableScan] | None = None,
    ) -> None:
        self._scan = scan
        self._merge_rows = merge_rows
        self._log = log
        self._on_scan = on_scan

    def __repr__(self) -> str:
        return f"ScanDataset({self._scan!r})"

    @property
    def table_scan(self) -> TableScan:
        return self._scan

    def as_pyarrow(self) -> ds.Dataset:
        """This dataset, typed as what it is at run time: a ``pyarrow.dataset.Dataset``."""
        return cast("ds.Dataset", self)

    @property
    def schema(self) -> pa.Schema:
        return self._scan.schema

    @property
    def partition_expression(self) -> pc.Expression:
        return pc.scalar(True)

    def stream(
        self,
        scan: TableScan,
        columns: Sequence[str] | None,
        filter: pc.Expression | None,
        batch_size: int | None,
    ) -> ScanStream:
        if self._on_scan is not None:
            scan = self._on_scan(scan)
        return ScanStream(scan, columns, filter, batch_size, self._merge_rows, self._log)

    def scanner(
        self,
        columns: Sequence[str] | None = None,
        filter: pc.Expression | None = None,
        batch_size: int | None = None,
        **options: Any,
    ) -> ScanStream:
        return self.stream(self._scan, columns, filter, batch_size)

    def get_fragments(self, filter: pc.Expression | None = None) -> list[ScanFragment]:
        """One fragment per hash bucket (one for a table of one bucket, or a scan of one
        bucket); ``filter`` is applied by each fragment's scanner."""
        scan = self._scan
        if scan.request.bucket is not None or scan.snapshot.buckets == 1:
            return [ScanFragment(self, scan)]
        return [ScanFragment(self, scan.for_bucket(b)) for b in range(scan.snapshot.buckets)]

    def to_batches(self, **options: Any) -> Iterator[pa.RecordBatch]:
        return self.scanner(**options).to_batches()

    def to_table(self, **options: Any) -> pa.Table:
        return self.scanner(**options).to_table()

    def count_rows(self, **options: Any) -> int:
        return self.scanner(**options).count_rows()

    def head(self, num_rows: int, **options: Any) -> pa.Table:
        return self.scanner(**options).head(num_rows)
