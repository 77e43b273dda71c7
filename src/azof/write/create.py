"""The first snapshot of a new table."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from azof.format import KEY, CommitInfo, Snapshot, TableSchema
from azof.format.schema import EVENT_TIME, Column
from azof.write.commit import now_instant
from azof.write.conform import KEY_TYPES

__all__ = ["initial_snapshot", "schema_from_arrow"]


def schema_from_arrow(
    schema: pa.Schema, key: Sequence[str] = (KEY,), event_time: str = EVENT_TIME
) -> TableSchema:
    """The table schema of an Arrow schema (the event time is stored as UTC).

    A table keyed by ``key`` (a string or integer) and timed by ``event_time`` gets a
    format-2 schema (value columns numbered 1..n); any other key or event-time name, a
    date or timestamp key, or a composite key, a format-4 schema whose columns, key and
    event time included, are numbered 1..n in the Arrow schema's order."""
    event_type = schema.field(event_time).type
    time_type = pa.timestamp(event_type.unit, tz="UTC")
    fixed = (*key, event_time)
    if tuple(key) == (KEY,) and event_time == EVENT_TIME and schema.field(KEY).type in KEY_TYPES:
        columns = tuple(
            Column(index, field.name, field.type, field.nullable)
            for index, field in enumerate((f for f in schema if f.name not in fixed), start=1)
        )
        return TableSchema(columns, key_type=schema.field(KEY).type, event_time_type=time_type)
    ids = {name: index for index, name in enumerate(schema.names, start=1)}
    key_columns = tuple(
        Column(ids[name], name, schema.field(name).type, nullable=False) for name in key
    )
    time_column = Column(ids[event_time], event_time, time_type, nullable=False)
    columns = tuple(
        Column(ids[f.name], f.name, f.type, f.nullable) for f in schema if f.name not in fixed
    )
    return TableSchema(
        columns,
        next_column_id=len(schema) + 1,
        key_columns=key_columns,
        event_time_column=time_column,
    )


def initial_snapshot(schema: TableSchema, properties: Mapping[str, Any]) -> Snapshot:
    return Snapshot(
        format_version=4 if schema.named else 2,
        version=0,
        schema=schema,
        parent_version=None,
        commit=CommitInfo(time=now_instant(), operation="create", txn=uuid.uuid4().hex),
        table_uuid=uuid.uuid4().hex,
        properties=dict(properties),
    )
