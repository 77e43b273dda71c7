"""``point_in_time_join``: a training set from labelled rows and several feature tables.

For every left row (entity keys, a time ``at``, maybe a knowledge time ``known_at``), each
feature table's values of the row's key as of ``at``, as they were known at ``known_at``
(commit time): no value from the row's future, neither an event after ``at`` nor a
correction, late row or delete committed after ``known_at``. One output row per left row,
in left order, like Feast's ``get_historical_features``, but bitemporal. Each feature is an
:func:`~azof.temporal.asof_join` of the left rows' key and time columns only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from azof.errors import InvalidArgumentError
from azof.temporal.asof_join import (
    BATCH_ROWS,
    KeyColumns,
    asof_join,
    event_time_name,
    key_columns,
    known_at_column,
    left_chunks,
    table_keys,
    to_arrow,
)
from azof.temporal.asof_match import time_column
from azof.temporal.events import open_source
from azof.timestamps import parse_duration

if TYPE_CHECKING:
    from azof.table import Table

__all__ = ["Feature", "point_in_time_join"]

_AT = "_azof_at"
_KNOWN = "_azof_known_at"


@dataclass(frozen=True)
class Feature:
    """Feature columns of one table for :func:`point_in_time_join`.

    ``columns``: the value columns to add (``None``: all; ``event_time`` gives the matched
    event's time), each named ``prefix + name``. ``ttl`` (a ``timedelta`` or text such as
    ``'7d'``): a value whose event is older than this at the row's time is null (stale).
    ``on``: the left column(s) holding this table's key, if not the join's ``on``.
    """

    table: Table
    columns: Sequence[str] | None = None
    prefix: str = ""
    ttl: Any = None
    on: KeyColumns | None = None


FeatureLike = Any
"""A :class:`Feature`, a :class:`~azof.Table` (all its columns), a tuple ``(table,
columns[, prefix[, ttl]])`` or a mapping with those names (and ``on``)."""


def _feature(value: FeatureLike) -> Feature:
    from azof.table import Table

    if isinstance(value, Feature):
        return value
    if isinstance(value, Table):
        return Feature(value)
    if isinstance(value, Mapping):
        unknown = set(value) - {"table", "columns", "prefix", "ttl", "on"}
        if "table" in value and not unknown:
            return _feature(Feature(**value))
    elif isinstance(value, tuple) and 1 <= len(value) <= 4:
        return _feature(Feature(*value))
    raise InvalidArgumentError(
        f"point_in_time_join: cannot read {value!r} as a feature; pass azof.Feature(table, "
        "columns, prefix=..., ttl=...), a Table, a tuple (table, columns[, prefix[, ttl]]) "
        "or a dict with those names"
    )


@dataclass(frozen=True)
class _Step:
    """One feature, checked: the left column holding its key, its columns, labels, ttl."""

    feature: Feature
    on: str
    names: list[str]
    labels: list[str]
    ttl: int | None
    """Nanoseconds, or ``None``."""


def _plan(features: Sequence[FeatureLike], schema: pa.Schema, on: KeyColumns | None) -> list[_Step]:
    steps = []
    taken = set(schema.names)
    for value in features:
        feature = _feature(value)
        source = open_source(feature.table, None, None)
        spec = feature.on if feature.on is not None else on
        if spec is None:  # the left columns named as the table's key columns
            spec = table_keys(source)
        ((left_key, _),) = key_columns(spec, source)
        names = source.value_columns(feature.columns, extra=(event_time_name(source),))
        labels = [feature.prefix + name for name in names]
        clash = [label for label in labels if label in taken]
        if clash:
            raise InvalidArgumentError(
                f"point_in_time_join: feature column(s) {', '.join(map(repr, clash))} of table "
                f"{source.name!r} clash with a left column or an earlier feature; give the "
                "feature a prefix (Feature(table, columns, prefix='name_'))"
            )
        taken.update(labels)
        ttl = None if feature.ttl is None else parse_duration(feature.ttl, "ttl")
        if ttl is not None and ttl < 0:
            raise InvalidArgumentError(f"point_in_time_join: ttl {feature.ttl!r} is negative")
        steps.append(_Step(feature, left_key, names, labels, ttl))
    return steps


def _add_feature(
    out: pa.Table, frame: pa.Table, step: _Step, at: str, known: str | None, instant: Any
) -> pa.Table:
    event_time = event_time_name(open_source(step.feature.table, None, None))
    asked = list(step.names)
    if step.ttl is not None and event_time not in asked:
        asked.append(event_time)
    slim_names = [step.on, _AT] if known is None else [step.on, _AT, _KNOWN]
    slim = [frame.column(step.on), frame.column(at)]
    if known is not None:
        slim.append(frame.column(known))
    joined = asof_join(
        step.feature.table,
        pa.Table.from_arrays(slim, names=slim_names),
        step.on,
        _AT,
        columns=asked,
        known_at=_KNOWN if known is not None else instant,
    )
    stale = None
    if step.ttl is not None:
        at_times = time_column(frame.column(at).combine_chunks(), 1, "at", at)
        matched: Any = joined.column(event_time)
        per_unit = open_source(step.feature.table, None, None).per_unit
        matched_ns = np.asarray(pc.fill_null(matched.cast(pa.int64()), 0), np.int64) * per_unit
        stale = pa.array(at_times.values - matched_ns > step.ttl)
    for name, label in zip(step.names, step.labels, strict=True):
        column: Any = joined.column(name)
        if stale is not None:
            column = pc.if_else(stale, pa.scalar(None, column.type), column)
        out = out.append_column(pa.field(label, column.type), column)
    return out


def _join_all(
    frame: pa.Table, steps: list[_Step], at: str, known: str | None, instant: Any
) -> pa.Table:
    out = frame
    for step in steps:
        out = _add_feature(out, frame, step, at, known, instant)
    return out


@overload
def point_in_time_join(
    left: pa.RecordBatchReader,
    features: Sequence[FeatureLike],
    *,
    at: str,
    known_at: Any = ...,
    on: KeyColumns | None = ...,
    batch_rows: int = ...,
) -> pa.RecordBatchReader: ...


@overload
def point_in_time_join(
    left: pa.Table | pa.RecordBatch | Any,
    features: Sequence[FeatureLike],
    *,
    at: str,
    known_at: Any = ...,
    on: KeyColumns | None = ...,
    batch_rows: int = ...,
) -> pa.Table: ...


def point_in_time_join(
    left: Any,
    features: Sequence[FeatureLike],
    *,
    at: str,
    known_at: Any = None,
    on: KeyColumns | None = None,
    batch_rows: int = BATCH_ROWS,
) -> pa.Table | pa.RecordBatchReader:
    """A training set: every row of ``left``, in order, with each feature table's values of
    its key as of the row's time ``at``, as known at commit time ``known_at``.

    ``left``: a pyarrow Table / RecordBatch / RecordBatchReader (then the answer is a
    stream, joined ``batch_rows`` rows at a time), a pandas or polars DataFrame.
    ``features``: :class:`Feature` values (or tables, tuples ``(table, columns[, prefix[,
    ttl]])``, dicts). ``at``: the left column of the rows' times (timestamps or dates).
    ``known_at``: a left column of commit times (each row sees only the commits made at or
    before its own; use the time the prediction would have been made), or one instant for
    all rows; ``None`` reads every table's loaded version, which leaks corrections and late
    rows committed after the rows' times into the features. ``on``: the left column(s)
    holding the entity key (default: the column named like the table's key column);
    a feature's own ``on`` takes precedence.
    """
    streamed = isinstance(left, pa.RecordBatchReader)
    frame = None if streamed else to_arrow(left)
    schema: pa.Schema = left.schema if frame is None else frame.schema
    if isinstance(features, (Mapping, str)) or not isinstance(features, Sequence):
        features = [features]
    if at not in schema.names:
        raise InvalidArgumentError(
            f"point_in_time_join: the left rows have no at column {at!r}; they have "
            f"{', '.join(schema.names) or '(none)'}"
        )
    known = known_at_column(known_at, schema.names)
    instant = None if known is not None else known_at
    steps = _plan(features, schema, on)
    if frame is not None:
        return _join_all(frame, steps, at, known, instant)
    out_schema = _join_all(schema.empty_table(), steps, at, known, instant).schema

    def chunks() -> Iterator[pa.RecordBatch]:
        for part in left_chunks(left, batch_rows):
            yield from _join_all(part, steps, at, known, instant).to_batches()

    return pa.RecordBatchReader.from_batches(out_schema, chunks())
