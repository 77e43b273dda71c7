"""The temporal analytics as :class:`azof.Table` methods (``table.history(...)``...): thin
delegations to :mod:`azof.temporal`, kept apart from the table's reads and writes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast, overload

import pyarrow as pa

if TYPE_CHECKING:
    from azof.scan.read import ScanMetrics
    from azof.table import Table
    from azof.temporal.asof_join import KeyColumns

__all__ = ["TemporalMethods"]


class TemporalMethods:
    """History, as-of joins, changes and restatements of a table (mixed into ``Table``)."""

    def history(
        self,
        keys: Any = None,
        start: Any = None,
        end: Any = None,
        *,
        columns: Sequence[str] | None = None,
        version: int | None = None,
        known_at: Any = None,
        metrics: ScanMetrics | None = None,
    ) -> pa.Table:
        """Each key's versions over event time as validity intervals (SCD type 2); see
        :func:`azof.temporal.history`.

        Not the commit log: deltalake's ``DeltaTable.history()`` lists commits, which is
        :meth:`Table.log` here (``azof log`` on the command line)."""
        from azof import temporal

        return temporal.history(
            cast("Table", self),
            keys,
            start,
            end,
            columns=columns,
            version=version,
            known_at=known_at,
            metrics=metrics,
        )

    @overload
    def asof_join(
        self,
        left: pa.RecordBatchReader,
        on: KeyColumns | None = ...,
        at: str = ...,
        *,
        columns: Sequence[str] | None = ...,
        version: int | None = ...,
        known_at: Any = ...,
        metrics: ScanMetrics | None = ...,
        prefix: str = ...,
        suffix: str = ...,
    ) -> pa.RecordBatchReader: ...

    @overload
    def asof_join(
        self,
        left: pa.Table | pa.RecordBatch | Any,
        on: KeyColumns | None = ...,
        at: str = ...,
        *,
        columns: Sequence[str] | None = ...,
        version: int | None = ...,
        known_at: Any = ...,
        metrics: ScanMetrics | None = ...,
        prefix: str = ...,
        suffix: str = ...,
    ) -> pa.Table: ...

    def asof_join(
        self,
        left: Any,
        on: KeyColumns | None = None,
        at: str = "ts",
        *,
        columns: Sequence[str] | None = None,
        version: int | None = None,
        known_at: Any = None,
        metrics: ScanMetrics | None = None,
        prefix: str = "",
        suffix: str = "_right",
    ) -> pa.Table | pa.RecordBatchReader:
        """Each row of ``left`` (in order) with its key's state as of the row's own time,
        as known at the row's ``known_at`` (a column, or one instant): point-in-time-correct
        features; see :func:`azof.temporal.asof_join`."""
        from azof import temporal

        joined: pa.Table | pa.RecordBatchReader = temporal.asof_join(
            cast("Table", self),
            left,
            on,
            at,
            columns=columns,
            version=version,
            known_at=known_at,
            metrics=metrics,
            prefix=prefix,
            suffix=suffix,
        )
        return joined

    def changes(
        self,
        start: Any,
        end: Any,
        keys: Any = None,
        *,
        columns: Sequence[str] | None = None,
        version: int | None = None,
        known_at: Any = None,
        metrics: ScanMetrics | None = None,
    ) -> pa.Table:
        """Keys whose state changed in event time ``[start, end)``: insert, update or
        delete, with before and after values; see :func:`azof.temporal.changes`."""
        from azof import temporal

        return temporal.changes(
            cast("Table", self),
            start,
            end,
            keys,
            columns=columns,
            version=version,
            known_at=known_at,
            metrics=metrics,
        )

    def restatements(
        self,
        as_of: Any,
        since_version: int,
        *,
        version: int | None = None,
        known_at: Any = None,
        keys: Any = None,
        columns: Sequence[str] | None = None,
        metrics: ScanMetrics | None = None,
    ) -> pa.Table:
        """Answers as of ``as_of`` that commits after ``since_version`` changed (late data,
        corrections), with old and new values; see :func:`azof.temporal.restatements`."""
        from azof import temporal

        return temporal.restatements(
            cast("Table", self),
            as_of,
            since_version,
            version=version,
            known_at=known_at,
            keys=keys,
            columns=columns,
            metrics=metrics,
        )
