"""Property tests: history, asof_join, changes and restatements after any sequence of
appends (late, out of order, ties), deletes, compactions (random policies) and vacuums
equal the naive oracle over everything written, at the latest and at older versions."""

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


def rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in table.to_pylist()]


def check_history(
    table: azof.Table,
    written: list[dict[str, Any]],
    keys: list[str] | None,
    window: tuple[float | None, float | None],
    **read: Any,
) -> None:
    start, end = (as_of_time(d) for d in window)
    got = history(table, keys, start, end, **read)
    assert got.column_names == ["key", "valid_from", "valid_to", "is_deleted", "value"]
    assert rows(got) == oracle.history(written, keys, start, end)


def check_history_matches_scans(table: azof.Table, days: list[float | None]) -> None:
    """The version in force at T of every key is what scan(as_of=T) answers."""
    full = history(table)
    for when in (as_of_time(d) for d in days):
        if when is None:
            continue
        live = {
            r["key"]: (r["valid_from"], r["value"])
            for r in full.to_pylist()
            if r["valid_from"] <= when
            and (r["valid_to"] is None or when < r["valid_to"])
            and not r["is_deleted"]
        }
        scanned = {r["key"]: (r["event_time"], r["value"]) for r in table.scan(when).to_pylist()}
        assert live == scanned, when


def check_changes(
    table: azof.Table,
    written: list[dict[str, Any]],
    keys: list[str] | None,
    window: tuple[float | None, float | None],
    **read: Any,
) -> None:
    start, end = (as_of_time(d) for d in window)
    got = changes(table, start, end, keys, **read)
    assert got.column_names == [
        "key",
        "change",
        "before_event_time",
        "before_value",
        "after_event_time",
        "after_value",
    ]
    assert rows(got) == oracle.changes(written, keys, start, end)


def check_asof_join(
    table: azof.Table, written: list[dict[str, Any]], left: list[tuple[str, float]], **read: Any
) -> None:
    times = [oracle.at_day(d) for _, d in left]
    frame = pa.table(
        {
            "row": list(range(len(left))),
            "key": pa.array([k for k, _ in left], pa.string()),
            "ts": pa.array(times, pa.timestamp("us", tz="UTC")),
        }
    )
    got = asof_join(table, frame, columns=["value", "event_time"], **read)
    assert got.column_names == ["row", "key", "ts", "value", "event_time"]
    assert got.column("row").to_pylist() == list(range(len(left)))
    expected = [oracle.asof(written, k, t) for (k, _), t in zip(left, times, strict=True)]
    found = list(
        zip(got.column("event_time").to_pylist(), got.column("value").to_pylist(), strict=True)
    )
    assert found == expected
    for matched, when in zip(got.column("event_time").to_pylist(), times, strict=True):
        assert matched is None or matched <= when  # never a value from the row's future


def check_restatements(
    table: azof.Table,
    known: dict[int, list[dict[str, Any]]],
    picks: list[int],
    as_of: datetime | None,
    keys: list[str] | None,
) -> None:
    retained = [v for v in sorted(known) if v in set(table.versions())]
    since = retained[picks[0] % len(retained)]
    until = [v for v in retained if v >= since][picks[1] % len([v for v in retained if v >= since])]
    got = restatements(table, as_of, since, version=until, keys=keys)
    assert got.column_names == [
        "key",
        "change",
        "old_event_time",
        "old_value",
        "new_event_time",
        "new_value",
    ]
    assert rows(got) == oracle.restatements(known[since], known[until], as_of, keys), (since, until)
    latest = restatements(table, as_of, since_version=since)
    assert rows(latest) == oracle.restatements(known[since], known[table.version], as_of, None)


def check_all(lake: azof.Lakehouse, ops: list[tuple[Any, ...]], data: st.DataObject) -> None:
    table, written, known = oracle.build(lake, ops)
    keys = data.draw(key_choices, "keys")
    window = data.draw(windows, "window")
    check_history(table, written, keys, window)
    check_history_matches_scans(table, data.draw(as_of_days, "days"))
    check_changes(table, written, keys, window)
    check_asof_join(table, written, data.draw(left_rows, "left"))
    picks = data.draw(st.lists(st.integers(0, 30), min_size=2, max_size=2), "versions")
    as_of = as_of_time(data.draw(as_of_days, "as_of")[0])
    check_restatements(table, known, picks, as_of, keys)
    # Bitemporal: each query read at an older retained version sees what was known then.
    retained = [v for v in sorted(known) if v in set(table.versions())]
    old = retained[picks[0] % len(retained)]
    check_history(table, known[old], keys, window, version=old)
    check_changes(table, known[old], keys, window, version=old)
    check_asof_join(table, known[old], data.draw(left_rows, "old left"), version=old)


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
