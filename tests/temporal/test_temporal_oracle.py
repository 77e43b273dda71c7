"""Property tests: history, asof_join, changes and restatements after any sequence of
appends (late, out of order, ties), deletes, compactions (random policies) and vacuums
equal the naive oracle over everything written, at the latest and at older versions; also
on a table with a composite key of mixed types and its own column names."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import temporal_oracle as oracle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import azof
from azof.temporal import asof_join, changes, history, restatements
from strategies import (
    COMPOSITE,
    PLAIN,
    Layout,
    as_of_days,
    as_of_time,
    key_choices,
    left_rows,
    maintained_operations,
    windows,
)

PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def rows(table: pa.Table, layout: Layout = PLAIN) -> list[tuple[Any, ...]]:
    """The rows as tuples, the key columns folded into the oracle's key."""
    width = len(layout.names)
    out = []
    for r in table.to_pylist():
        values = tuple(r.values())
        out.append((layout.key_of(r), *values[width:]))
    return out


def check_history(
    table: azof.Table,
    written: list[dict[str, Any]],
    keys: list[Any] | None,
    window: tuple[float | None, float | None],
    layout: Layout = PLAIN,
    **read: Any,
) -> None:
    start, end = (as_of_time(d) for d in window)
    got = history(table, keys, start, end, **read)
    names = [*layout.names, "valid_from", "valid_to", "is_deleted", "value"]
    assert got.column_names == names
    assert rows(got, layout) == oracle.history(written, keys, start, end)


def check_history_matches_scans(
    table: azof.Table, days: list[float | None], layout: Layout = PLAIN
) -> None:
    """The version in force at T of every key is what scan(as_of=T) answers."""
    full = history(table)
    for when in (as_of_time(d) for d in days):
        if when is None:
            continue
        live = {
            layout.key_of(r): (r["valid_from"], r["value"])
            for r in full.to_pylist()
            if r["valid_from"] <= when
            and (r["valid_to"] is None or when < r["valid_to"])
            and not r["is_deleted"]
        }
        scanned = {
            layout.key_of(r): (r[layout.time], r["value"]) for r in table.scan(when).to_pylist()
        }
        assert live == scanned, when


def check_changes(
    table: azof.Table,
    written: list[dict[str, Any]],
    keys: list[Any] | None,
    window: tuple[float | None, float | None],
    layout: Layout = PLAIN,
    **read: Any,
) -> None:
    start, end = (as_of_time(d) for d in window)
    got = changes(table, start, end, keys, **read)
    assert got.column_names == [
        *layout.names,
        "change",
        f"before_{layout.time}",
        "before_value",
        f"after_{layout.time}",
        "after_value",
    ]
    assert rows(got, layout) == oracle.changes(written, keys, start, end)


def check_asof_join(
    table: azof.Table,
    written: list[dict[str, Any]],
    left: list[tuple[str, float]],
    layout: Layout = PLAIN,
    **read: Any,
) -> None:
    times = [oracle.at_day(d) for _, d in left]
    keys = [layout.keys[k] for k, _ in left]
    columns = layout.columns(keys)
    frame = pa.table(
        {
            "row": list(range(len(left))),
            **{
                f"left_{n}": pa.array(columns[n], f.type)
                for n, f in zip(layout.names, layout.fields, strict=True)
            },
            "ts": pa.array(times, pa.timestamp("us", tz="UTC")),
        }
    )
    # the key columns matched by a mapping (left column -> key column)
    on = {f"left_{n}": n for n in layout.names}
    got = asof_join(table, frame, on=on, columns=["value", layout.time], **read)
    assert got.column_names == [*frame.column_names, "value", layout.time]
    assert got.column("row").to_pylist() == list(range(len(left)))
    expected = [oracle.asof(written, k, t) for k, t in zip(keys, times, strict=True)]
    found = list(
        zip(got.column(layout.time).to_pylist(), got.column("value").to_pylist(), strict=True)
    )
    assert found == expected
    for matched, when in zip(got.column(layout.time).to_pylist(), times, strict=True):
        assert matched is None or matched <= when  # never a value from the row's future


def check_restatements(
    table: azof.Table,
    known: dict[int, list[dict[str, Any]]],
    picks: list[int],
    as_of: datetime | None,
    keys: list[Any] | None,
    layout: Layout = PLAIN,
) -> None:
    retained = [v for v in sorted(known) if v in set(table.versions())]
    since = retained[picks[0] % len(retained)]
    until = [v for v in retained if v >= since][picks[1] % len([v for v in retained if v >= since])]
    got = restatements(table, as_of, since, version=until, keys=keys)
    assert got.column_names == [
        *layout.names,
        "change",
        f"old_{layout.time}",
        "old_value",
        f"new_{layout.time}",
        "new_value",
    ]
    expected = oracle.restatements(known[since], known[until], as_of, keys)
    assert rows(got, layout) == expected, (since, until)
    latest = restatements(table, as_of, since_version=since)
    expected = oracle.restatements(known[since], known[table.version], as_of, None)
    assert rows(latest, layout) == expected


def check_all(
    lake: azof.Lakehouse,
    ops: list[tuple[Any, ...]],
    data: st.DataObject,
    layout: Layout = PLAIN,
) -> None:
    table, written, known = oracle.build(lake, ops, layout)
    keys = layout.oracle_keys(data.draw(key_choices, "keys"))
    window = data.draw(windows, "window")
    check_history(table, written, keys, window, layout)
    check_history_matches_scans(table, data.draw(as_of_days, "days"), layout)
    check_changes(table, written, keys, window, layout)
    check_asof_join(table, written, data.draw(left_rows, "left"), layout)
    picks = data.draw(st.lists(st.integers(0, 30), min_size=2, max_size=2), "versions")
    as_of = as_of_time(data.draw(as_of_days, "as_of")[0])
    check_restatements(table, known, picks, as_of, keys, layout)
    # Bitemporal: each query read at an older retained version sees what was known then.
    retained = [v for v in sorted(known) if v in set(table.versions())]
    old = retained[picks[0] % len(retained)]
    check_history(table, known[old], keys, window, layout, version=old)
    check_changes(table, known[old], keys, window, layout, version=old)
    check_asof_join(table, known[old], data.draw(left_rows, "old left"), layout, version=old)


@PROPERTY
@given(ops=maintained_operations, data=st.data())
def test_temporal_queries_match_oracle(ops: list[tuple[Any, ...]], data: st.DataObject) -> None:
    check_all(azof.Lakehouse(f"memory://{uuid.uuid4().hex}"), ops, data)


@settings(PROPERTY, max_examples=10)
@given(ops=maintained_operations, data=st.data())
def test_temporal_queries_on_local_disk(
    tmp_path: Path, ops: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    folder = tmp_path / uuid.uuid4().hex
    folder.mkdir()
    check_all(azof.Lakehouse(folder), ops, data)


@settings(PROPERTY, max_examples=40)
@given(ops=maintained_operations, data=st.data())
def test_temporal_queries_with_a_composite_key(
    ops: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    """The same, on a table keyed by (sensor_id string, metric int32) with event time
    ``reading_ts``: every query answers with those names and agrees with the oracle."""
    check_all(azof.Lakehouse(f"memory://{uuid.uuid4().hex}"), ops, data, COMPOSITE)
