"""What a scan is asked for (:class:`ScanRequest`) and what it touched (:class:`ScanMetrics`),
with the small expression helpers every reader shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from azof.format.types import unit_nanos
from azof.timestamps import Instant, as_of_units

__all__ = ["ScanMetrics", "ScanRequest", "instant_scalar", "references_only"]


@dataclass(frozen=True)
class ScanRequest:
    """What to read: as of when, which columns, and which filters.

    ``key_filter`` is applied before the merge, so it may only hold predicates that keep
    the answer: on ``key`` alone (they select whole keys) and lower bounds on
    ``event_time`` (if a key's latest row passes the bound it is still the latest among
    rows that pass; if it fails, every older row fails too). It prunes files and row
    groups. ``filter`` is applied to the merged answer.
    """

    as_of: Instant | None = None
    columns: tuple[str, ...] | None = None
    filter: pc.Expression | None = None
    key_filter: pc.Expression | None = None
    min_event_time: Instant | None = None
    bucket: int | None = None
    """Read only this hash bucket (distributed readers: one task per bucket)."""


@dataclass
class ScanMetrics:
    """What a scan touched: counted for tests, ``explain`` and benchmarks."""

    files_planned: int = 0
    files_read: int = 0
    row_groups_read: int = 0
    row_groups_total: int = 0
    rows_read: int = 0
    rows_out: int = 0
    bytes_read: int = 0
    """Bytes fetched from an object store; on local disk, the compressed bytes of the
    column chunks read (footers aside)."""
    files: list[str] = field(default_factory=list)
    """The data files read, in plan order (files pruned by key or time are not listed)."""

    def add(self, other: ScanMetrics) -> None:
        """Add the counts of a part of the scan (a bucket)."""
        self.files_read += other.files_read
        self.row_groups_read += other.row_groups_read
        self.row_groups_total += other.row_groups_total
        self.rows_read += other.rows_read
        self.bytes_read += other.bytes_read
        self.files.extend(other.files)


def instant_scalar(instant: Instant, dtype: pa.DataType) -> pa.Scalar[Any]:
    """``instant`` as a scalar of a timestamp type, clamped and rounded down to its unit
    (:func:`~azof.timestamps.as_of_units`: any instant fits)."""
    return pa.scalar(as_of_units(instant, unit_nanos(dtype)), type=dtype)


def references_only(expression: pc.Expression, schema: pa.Schema) -> bool:
    """Whether ``expression`` binds against ``schema`` (references no other field)."""
    try:
        ds.dataset(schema.empty_table()).to_table(filter=expression)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return False
    return True
