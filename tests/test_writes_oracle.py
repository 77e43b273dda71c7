"""Property test: any sequence of appends (late, out of order, ties), deletes, compactions
(random policies) and vacuums, read at any event time, version and known_at, equals the
naive oracle over everything written; also on a table with a composite key of mixed types
and its own column names (``strategies.COMPOSITE``)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import azof
from azof.compact import rewrite
from naive import latest_per_key
from strategies import (
    COMPOSITE,
    PLAIN,
    Layout,
    apply_op,
    as_of_days,
    as_of_time,
    maintained_operations,
    operations,
    rows_of,
)

SCHEMA = pa.schema(
    [("key", pa.string()), ("event_time", pa.timestamp("ms", tz="UTC")), ("value", pa.int64())]
)


def answer(table: azof.Table, layout: Layout = PLAIN, **kwargs: Any) -> dict[Any, tuple[Any, int]]:
    return {
        layout.key_of(r): (r[layout.time], r["value"]) for r in table.scan(**kwargs).to_pylist()
    }


def renamed_layout(layout: Layout) -> Layout:
    """``layout`` with its first key column and its event time renamed."""
    first = layout.fields[0].with_name("device")
    return replace(
        layout, names=("device", *layout.names[1:]), time="ts", fields=(first, *layout.fields[1:])
    )


def expected(rows: list[dict[str, Any]], as_of: Any) -> dict[Any, tuple[Any, int]]:
    return {k: (r["event_time"], r["value"]) for k, r in latest_per_key(rows, as_of).items()}


def check_sequence(
    lake: azof.Lakehouse,
    ops: list[tuple[Any, ...]],
    days: list[float | None],
    versions_to_check: list[int],
    layout: Layout = PLAIN,
    rename_at: int | None = None,
) -> None:
    """``rename_at``: before that operation, rename the key's first column and the event
    time (``RENAMED``); later writes and reads use the new names, older versions the old."""
    name = f"t{uuid.uuid4().hex[:8]}"
    if layout is PLAIN:
        table = lake.create_table(name, SCHEMA)
    else:
        table = layout.create(lake, name, pa.field("value", pa.int64()))
    ops = layout.translate(ops)
    written: list[dict[str, Any]] = []
    landed: list[tuple[int, list[dict[str, Any]], Layout]] = [(0, [], layout)]
    for position, op in enumerate(ops):
        if position == rename_at:
            renamed = renamed_layout(layout)
            update = table.evolve().rename_column(layout.names[0], renamed.names[0])
            update.rename_column(layout.time, renamed.time).commit()
            layout = renamed
            landed.append((table.version, written, layout))
        version = apply_op(table, op, layout=layout)
        written = written + rows_of(op)
        landed.append((version, written, layout))
    times = [as_of_time(d) for d in days]
    for as_of in times:
        assert answer(table, layout, as_of=as_of) == expected(written, as_of), as_of
    retained = set(table.versions())
    for index in versions_to_check:
        version, rows, then = landed[index % len(landed)]
        if version not in retained:
            continue
        for as_of in times[:2]:
            assert answer(table, then, as_of=as_of, version=version) == expected(rows, as_of)
            commit_time = next(c.time for c in table.log() if c.version == version)
            assert answer(table, then, as_of=as_of, known_at=commit_time) == expected(rows, as_of)
    reopened = lake.table(table.name)
    assert answer(reopened, layout) == expected(written, None)
    if layout is not PLAIN:
        assert reopened.key_columns == layout.names
        assert reopened.event_time_column == layout.time
        reopened.verify()


PROPERTY = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(ops=operations, days=as_of_days, versions=st.lists(st.integers(0, 20), max_size=3))
def test_memory_store_matches_oracle(
    ops: list[tuple[Any, ...]], days: list[int | None], versions: list[int]
) -> None:
    check_sequence(azof.Lakehouse(f"memory://{uuid.uuid4().hex}"), ops, days, versions)


@settings(PROPERTY, max_examples=20)
@given(ops=operations, days=as_of_days, versions=st.lists(st.integers(0, 20), max_size=3))
def test_local_store_matches_oracle(
    tmp_path: Path, ops: list[tuple[Any, ...]], days: list[int | None], versions: list[int]
) -> None:
    folder = tmp_path / uuid.uuid4().hex
    folder.mkdir()
    check_sequence(azof.Lakehouse(folder), ops, days, versions)


def test_known_at_before_first_commit_is_an_error() -> None:
    lake = azof.Lakehouse(f"memory://{uuid.uuid4().hex}")
    table = lake.create_table("t", SCHEMA)
    with pytest.raises(azof.VersionNotFoundError, match="before the first retained commit"):
        table.scan(known_at="2001-01-01")


def test_version_and_known_at_together_are_refused() -> None:
    table = azof.Lakehouse(f"memory://{uuid.uuid4().hex}").create_table("t", SCHEMA)
    with pytest.raises(azof.InvalidArgumentError, match="not both"):
        table.scan(version=0, known_at="2030-01-01")
    with pytest.raises(azof.VersionNotFoundError, match="no version 7"):
        table.scan(version=7)


@settings(PROPERTY, max_examples=60)
@given(
    ops=maintained_operations, days=as_of_days, versions=st.lists(st.integers(0, 20), max_size=3)
)
def test_compaction_and_vacuum_match_oracle(
    ops: list[tuple[Any, ...]], days: list[float | None], versions: list[int]
) -> None:
    check_sequence(azof.Lakehouse(f"memory://{uuid.uuid4().hex}"), ops, days, versions)


@settings(PROPERTY, max_examples=15)
@given(
    ops=maintained_operations, days=as_of_days, versions=st.lists(st.integers(0, 20), max_size=3)
)
def test_compaction_and_vacuum_on_local_disk(
    tmp_path: Path, ops: list[tuple[Any, ...]], days: list[float | None], versions: list[int]
) -> None:
    folder = tmp_path / uuid.uuid4().hex
    folder.mkdir()
    check_sequence(azof.Lakehouse(folder), ops, days, versions)


@settings(PROPERTY, max_examples=40)
@given(
    ops=maintained_operations,
    days=as_of_days,
    versions=st.lists(st.integers(0, 20), max_size=3),
    composite=st.booleans(),
)
def test_leaf_deltas_cut_in_time_pieces_match_oracle(
    monkeypatch: pytest.MonkeyPatch,
    ops: list[tuple[Any, ...]],
    days: list[float | None],
    versions: list[int],
    composite: bool,
) -> None:
    """Compaction cutting every leaf's deltas into pieces of about two rows (by event time):
    reads that skip the pieces after T (and merge many runs) still agree with the oracle."""
    monkeypatch.setattr(rewrite, "DELTA_PIECE_ROWS", 2)
    lake = azof.Lakehouse(f"memory://{uuid.uuid4().hex}")
    check_sequence(lake, ops, days, versions, COMPOSITE if composite else PLAIN)


@settings(PROPERTY, max_examples=40)
@given(
    ops=maintained_operations, days=as_of_days, versions=st.lists(st.integers(0, 20), max_size=3)
)
def test_composite_key_matches_oracle(
    ops: list[tuple[Any, ...]], days: list[float | None], versions: list[int]
) -> None:
    """A composite key (string + int32) and named columns, under late data, corrections,
    deletes (as tuples, dicts of lists and Arrow tables), compactions and vacuums."""
    lake = azof.Lakehouse(f"memory://{uuid.uuid4().hex}")
    check_sequence(lake, ops, days, versions, COMPOSITE)


@settings(PROPERTY, max_examples=10)
@given(
    ops=maintained_operations, days=as_of_days, versions=st.lists(st.integers(0, 20), max_size=3)
)
def test_composite_key_on_local_disk(
    tmp_path: Path, ops: list[tuple[Any, ...]], days: list[float | None], versions: list[int]
) -> None:
    folder = tmp_path / uuid.uuid4().hex
    folder.mkdir()
    check_sequence(azof.Lakehouse(folder), ops, days, versions, COMPOSITE)


@settings(PROPERTY, max_examples=30)
@given(
    ops=maintained_operations,
    days=as_of_days,
    versions=st.lists(st.integers(0, 20), max_size=3),
    rename_at=st.integers(0, 12),
)
def test_renamed_key_columns_match_oracle(
    ops: list[tuple[Any, ...]], days: list[float | None], versions: list[int], rename_at: int
) -> None:
    """Key and event-time columns renamed partway (of a composite key, and of a plain table,
    which then becomes format 4): later writes use the new names, compaction and reads of
    older versions (under the old names) still agree with the oracle."""
    for layout in (COMPOSITE, PLAIN):
        lake = azof.Lakehouse(f"memory://{uuid.uuid4().hex}")
        check_sequence(lake, ops, days, versions, layout, rename_at=rename_at % len(ops))
