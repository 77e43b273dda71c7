"""The first snapshot of a new table."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from azof.format import KEY, CommitInfo, Snapshot, TableSchema
from azof.format.schema import EVENT_TIME, Column
from azof.write.commit import now_instant

__all__ = ["initial_snapshot", "schema_from_arrow"]


def schema_from_arrow(schema: pa.Schema) -> TableSchema:
    """The table schema of an Arrow schema (ids 1..n; the event time is stored as UTC)."""
    event_type = schema.field(EVENT_TIME).type
    columns = tuple(
        Column(index, field.name, field.type, field.nullable)
        for index, field in enumerate(
            (f for f in schema if f.name not in (KEY, EVENT_TIME)), start=1
        )
    )
    return TableSchema(
        columns,
        key_type=schema.field(KEY).type,
        event_time_type=pa.timestamp(event_type.unit, tz="UTC"),
    )


def initial_snapshot(schema: TableSchema, properties: Mapping[str, Any]) -> Snapshot:
    return Snapshot(
        format_version=2,
        version=0,
        schema=schema,
        parent_version=None,
        commit=CommitInfo(time=now_instant(), operation="create", txn=uuid.uuid4().hex),
        table_uuid=uuid.uuid4().hex,
        properties=dict(properties),
    )
