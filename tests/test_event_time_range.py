"""The supported event-time range (``docs/spec.md`` 15.1): writes outside it are refused and
change nothing; reads take any time (clamped); snapshots write 4-digit years; compaction
never raises a raw ``OverflowError``; times finer than the unit are refused for every input
form (azof issue 14, items 4-6)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import azof
from azof.format.schema import TOMBSTONE
from azof.timestamps import (
    MAX_EVENT_INSTANT,
    MIN_EVENT_INSTANT,
    event_range_units,
    format_instant,
    parse_instant,
)
from azof.write.commit import append_files, commit_snapshot
from azof.write.files import write_sorted
from naive import latest_per_key

UNITS = ("s", "ms", "us", "ns")
PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
AZOF = Path(sys.executable).parent / "azof"

# instants azof cannot hold as event times (years 1, 999, 1600, 2300, 9999)
OUTSIDE = ["0001-01-01T00:00:00Z", "0999-06-01T00:00:00Z", "1600-01-01T00:00:00Z",
           "1677-12-31T23:59:59Z", "2262-01-01T00:00:00Z", "2300-01-01T00:00:00Z",
           "9999-12-31T23:59:59Z"]  # fmt: skip


def schema(unit: str) -> pa.Schema:
    return pa.schema(
        [("key", pa.string()), ("event_time", pa.timestamp(unit, tz="UTC")), ("v", pa.int64())]
    )


def memory_table(unit: str) -> azof.Table:
    lake = azof.Lakehouse(f"memory://range-{uuid.uuid4().hex}")
    return lake.create_table("t", schema(unit))


def local_table(tmp_path: Path, unit: str) -> azof.Table:
    """Table ``t`` of a new local lakehouse ``tmp_path / lake-<unit>``."""
    (tmp_path / f"lake-{unit}").mkdir()
    return azof.Lakehouse(tmp_path / f"lake-{unit}").create_table("t", schema(unit))


def data_files(lake_path: Path) -> list[Path]:
    return sorted((lake_path / "t").rglob("*.parquet"))


def instants(table: pa.Table) -> list[int]:
    per_unit = PER_UNIT[table.schema.field("event_time").type.unit]
    return [v * per_unit for v in table.column("event_time").cast(pa.int64()).to_pylist()]


# -- timestamp text ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("0999-06-01T00:00:00Z", "0999-06-01T00:00:00.000Z"),
        ("0001-01-01T00:00:00.000000001Z", "0001-01-01T00:00:00.000000001Z"),
        ("1600-02-29T12:00:00.5Z", "1600-02-29T12:00:00.500Z"),
        ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"),
    ],
)
def test_timestamp_text_has_a_four_digit_year(text: str, written: str) -> None:
    instant = parse_instant(text)
    assert format_instant(instant) == written
    assert parse_instant(format_instant(instant)) == instant


@given(st.integers(parse_instant("0001-01-01"), parse_instant("9999-12-31T23:59:59.999999999Z")))
def test_every_formatted_instant_reads_back(instant: int) -> None:
    text = format_instant(instant)
    assert len(text.split("-", 1)[0]) == 4
    assert parse_instant(text) == instant


def test_snapshot_with_an_unpadded_year_still_opens(tmp_path: Path) -> None:
    """Snapshots written by the 0.3 development builds (``999-06-01...``) stay readable."""
    table = local_table(tmp_path, "ms")
    table.put("a", "2024-01-01", v=1)
    path = tmp_path / "lake-ms" / "t" / "s1.json"
    text = path.read_text()
    assert text.count('"2024-01-01T00:00:00.000Z"') >= 2  # start and end of the delta
    path.write_text(text.replace('"2024-01-01T00:00:00.000Z"', '"999-06-01T00:00:00.000Z"'))
    reopened = azof.Lakehouse(tmp_path / "lake-ms").table("t")
    (delta,) = reopened.snapshot.deltas
    assert delta.start == delta.end == parse_instant("0999-06-01")


def input_forms(instant: Any, text: str, arrow_unit: str) -> list[Any]:
    """One row (key ``a``, ``v`` 1) at ``instant`` in every input form an append takes: a
    list of dicts, a dict of lists (``text``), a pandas frame of objects and an Arrow table
    of ``timestamp[arrow_unit]``."""
    return [
        [{"key": "a", "event_time": instant, "v": 1}],
        {"key": ["a"], "event_time": [text], "v": [1]},
        pd.DataFrame({"key": ["a"], "event_time": pd.Series([instant], dtype=object), "v": [1]}),
        pa.table(
            {
                "key": ["a"],
                "event_time": pa.array([instant], pa.timestamp(arrow_unit, "UTC")),
                "v": [1],
            }
        ),
    ]


# -- item 4: early event times brick the table ----------------------------------------------


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("when", OUTSIDE)
def test_event_time_outside_the_range_is_refused(tmp_path: Path, unit: str, when: str) -> None:
    table = local_table(tmp_path, unit)
    moment = datetime.fromisoformat(when)
    inputs = input_forms(moment, when, "us")
    for data in inputs:
        with pytest.raises(azof.SchemaMismatchError, match="outside the supported range") as info:
            table.append(data)
        message = str(info.value)
        assert "'event_time'" in message
        assert f"{when[:10]}T" in message  # the offending value, 4-digit year
        low, high = event_range_units(PER_UNIT[unit])
        assert format_instant(low * PER_UNIT[unit]) in message
        assert format_instant(high * PER_UNIT[unit]) in message
    for call in (lambda: table.put("a", when, v=1), lambda: table.delete(["a"], when)):
        with pytest.raises(azof.InvalidArgumentError, match="outside the supported range"):
            call()
    with table.writer() as writer, pytest.raises(azof.InvalidArgumentError):
        writer.put("a", moment, v=1)
    assert table.refresh().version == 0
    assert data_files(tmp_path / f"lake-{unit}") == []
    reopened = azof.Lakehouse(tmp_path / f"lake-{unit}").table("t")
    assert reopened.version == 0
    assert reopened.scan().num_rows == 0


@pytest.mark.parametrize("unit", UNITS)
def test_the_ends_of_the_range_are_stored_and_reopen(tmp_path: Path, unit: str) -> None:
    table = local_table(tmp_path, unit)
    low, high = event_range_units(PER_UNIT[unit])
    rows = pa.table(
        {
            "key": ["low", "high"],
            "event_time": pa.array([low, high], pa.timestamp(unit, "UTC")),
            "v": [1, 2],
        }
    )
    table.append(rows)
    for reopened in (azof.Lakehouse(tmp_path / f"lake-{unit}").table("t"), table):
        assert sorted(instants(reopened.scan())) == [low * PER_UNIT[unit], high * PER_UNIT[unit]]
    table.compact()
    reopened = azof.Lakehouse(tmp_path / f"lake-{unit}").table("t")
    assert reopened.scan(as_of=format_instant(low * PER_UNIT[unit])).column("key").to_pylist() == [
        "low"
    ]
    assert reopened.scan(as_of="9999-01-01").num_rows == 2
    with pytest.raises(azof.SchemaMismatchError, match="outside the supported range"):
        table.append({"key": ["x"], "event_time": [high + 1], "v": [3]})
    with pytest.raises(azof.SchemaMismatchError, match="outside the supported range"):
        table.append({"key": ["x"], "event_time": [low - 1], "v": [3]})


# -- item 5: late event times and out-of-range as-of times ----------------------------------


@pytest.mark.parametrize("unit", UNITS)
def test_as_of_any_time_answers(unit: str) -> None:
    table = memory_table(unit)
    table.put("a", "2000-01-01", v=1)
    table.put("a", "2001-01-01", v=2)
    for when in ("0001-01-01", "1600-01-01", "1677-09-21"):
        assert table.scan(as_of=when).num_rows == 0
        assert table.to_batches(as_of=when).read_all().num_rows == 0
        assert table.restatements(as_of=when, since_version=1).num_rows == 0
    for when in ("2300-01-01", "9999-12-31T23:59:59.999999999Z"):
        assert table.scan(as_of=when).column("v").to_pylist() == [2]
        assert table.to_batches(as_of=when).read_all().column("v").to_pylist() == [2]
        assert table.restatements(as_of=when, since_version=1).column("change").to_pylist() == [
            "changed"
        ]
    assert table.history(start="0001-01-01", end="9999-01-01").num_rows == 2
    assert table.history(start="2300-01-01").column("v").to_pylist() == [2]  # still valid
    assert table.history(end="1600-01-01").num_rows == 0
    whole = table.changes(start="0001-01-01", end="9999-01-01")
    assert (whole.column("change").to_pylist(), whole.column("after_v").to_pylist()) == (
        ["insert"],
        [2],
    )
    assert table.changes(start="2300-01-01", end="9999-01-01").num_rows == 0
    left = pa.table(
        {
            "key": ["a", "a", "a"],
            "ts": pa.array(
                [datetime(1, 1, 1), datetime(2000, 6, 1), datetime(9999, 1, 1)],
                pa.timestamp("us", "UTC"),
            ),
        }
    )
    joined = table.asof_join(left, on="key", at="ts")
    assert joined.column("v").to_pylist() == [None, 1, 2]


def test_sql_at_any_time_answers(tmp_path: Path) -> None:
    table = local_table(tmp_path, "ns")
    table.put("a", "2000-01-01", v=1)
    ctx = azof.ExecutionContext(tmp_path / "lake-ns")
    early = ctx.sql("SELECT v FROM t AT ('0001-01-01')").to_arrow_table()
    late = ctx.sql("SELECT v FROM t AT (TIMESTAMP => '2300-01-01')").to_arrow_table()
    assert early.num_rows == 0
    assert late.column("v").to_pylist() == [1]


def _legacy_append(table: azof.Table, unit: str, units: list[int]) -> None:
    """Rows committed the way azof did before it checked the range (conform bypassed)."""
    snapshot = table.refresh().snapshot
    rows = pa.table(
        {
            "key": [f"k{i}" for i in range(len(units))],
            "event_time": pa.array(units, pa.timestamp(unit, "UTC")),
            "v": list(range(len(units))),
            TOMBSTONE: [False] * len(units),
        }
    )
    written = write_sorted(table.storage, rows, snapshot.schema, snapshot.buckets)
    build = append_files(written, "append", {"rows": len(units), "deletes": 0})
    commit_snapshot(table.storage, table.name, snapshot, build)


@pytest.mark.parametrize(("unit", "when"), [("ms", "2300-01-01"), ("us", "1600-01-01")])
def test_compaction_of_legacy_out_of_range_events_is_a_clear_error(
    tmp_path: Path, unit: str, when: str
) -> None:
    table = local_table(tmp_path, unit)
    table.put("a", "2000-01-01", v=1)
    _legacy_append(table, unit, [parse_instant(when) // PER_UNIT[unit]])
    reopened = azof.Lakehouse(tmp_path / f"lake-{unit}").table("t")  # 4-digit years: opens
    assert reopened.version == 2
    for attempt in (reopened, table.refresh()):
        with pytest.raises(azof.CorruptTableError, match="outside the supported range"):
            attempt.compact()
    assert reopened.refresh().version == 2


# -- item 6: times finer than the unit ------------------------------------------------------


@pytest.mark.parametrize("unit", ["s", "ms", "us"])
def test_finer_times_are_refused_for_every_input_form(unit: str) -> None:
    table = memory_table(unit)
    finer = {"s": "2024-01-01T00:00:00.5Z", "ms": "2024-01-01T00:00:00.0008Z",
             "us": "2024-01-01T00:00:00.0000008Z"}[unit]  # fmt: skip
    fine = pd.Timestamp(finer)
    inputs = input_forms(fine, finer, "ns")
    if unit != "us":  # a datetime holds microseconds
        inputs.append([{"key": "a", "event_time": fine.to_pydatetime(), "v": 1}])
    for data in inputs:
        with pytest.raises(azof.SchemaMismatchError, match="event_time"):
            table.append(data)
    with pytest.raises(azof.InvalidArgumentError, match="finer than"):
        table.put("a", finer, v=1)
    assert table.refresh().version == 0


def test_two_events_under_a_millisecond_apart_are_not_merged() -> None:
    """The reported case: 0.8 ms apart in a ms table used to become one row, a value lost."""
    table = memory_table("ms")
    rows = [
        {"key": "a", "event_time": datetime(2024, 1, 1, 0, 0, 0, 100, tzinfo=UTC), "v": 1},
        {"key": "a", "event_time": datetime(2024, 1, 1, 0, 0, 0, 900, tzinfo=UTC), "v": 2},
    ]
    for data in (rows, {name: [row[name] for row in rows] for name in rows[0]}):
        with pytest.raises(azof.SchemaMismatchError, match="finer than the column's unit"):
            table.append(data)
    assert table.refresh().version == 0
    exact = [{**row, "event_time": row["event_time"].replace(microsecond=0)} for row in rows]
    table.append(exact)
    assert table.scan().column("v").to_pylist() == [2]


def test_finer_times_in_a_value_column_are_refused() -> None:
    lake = azof.Lakehouse(f"memory://range-{uuid.uuid4().hex}")
    table = lake.create_table(
        "t", pa.schema([*schema("ms"), ("seen", pa.timestamp("s", tz="UTC"))])
    )
    with pytest.raises(azof.SchemaMismatchError, match="'seen'"):
        table.append([{"key": "a", "event_time": "2024-01-01", "seen": "2024-01-01T00:00:00.5Z"}])
    table.append([{"key": "a", "event_time": "2024-01-01", "seen": datetime(1, 1, 1)}])
    assert table.scan().column("seen").to_pylist() == [datetime(1, 1, 1, tzinfo=UTC)]


# -- the property: any instant is refused cleanly or round-trips ----------------------------

_YEAR_1 = parse_instant("0001-01-01")
_YEAR_9999 = parse_instant("9999-12-31T23:59:59.999999999Z")
_instants = st.one_of(
    st.integers(_YEAR_1, _YEAR_9999),  # anywhere text can say
    st.integers(MIN_EVENT_INSTANT - 10**12, MIN_EVENT_INSTANT + 10**12),  # near the ends
    st.integers(MAX_EVENT_INSTANT - 10**12, MAX_EVENT_INSTANT + 10**12),
    st.integers(parse_instant("1990-01-01"), parse_instant("2030-01-01")),
)


@st.composite
def _event_times(draw: st.DrawFn, per_unit: int) -> int:
    instant = draw(_instants)
    if draw(st.booleans()):  # mostly whole units: they may be stored
        instant -= instant % per_unit
    return instant


@pytest.mark.parametrize("unit", UNITS)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_instant_is_refused_or_stored_exactly(unit: str, data: st.DataObject) -> None:
    per_unit = PER_UNIT[unit]
    lake = azof.Lakehouse(f"memory://range-{uuid.uuid4().hex}")
    table = lake.create_table("t", schema(unit))
    written: list[dict[str, Any]] = []
    for batch in range(data.draw(st.integers(1, 3))):
        times = data.draw(st.lists(_event_times(per_unit), min_size=1, max_size=4))
        rows = [
            {"key": data.draw(st.sampled_from("abc")), "event_time": t, "v": batch * 10 + i}
            for i, t in enumerate(times)
        ]
        before = table.refresh().version
        text_rows = [{**row, "event_time": format_instant(row["event_time"])} for row in rows]
        storable = all(
            t % per_unit == 0 and MIN_EVENT_INSTANT <= t <= MAX_EVENT_INSTANT for t in times
        )
        try:
            table.append(text_rows)
        except azof.AzofError:
            assert not storable
            assert table.refresh().version == before
            continue
        assert storable
        written.extend(rows)
    as_ofs = data.draw(st.lists(_instants, min_size=1, max_size=3))
    if data.draw(st.booleans()):
        table.compact()
    reopened = lake.table("t")
    for as_of in [*as_ofs, None]:
        expected = latest_per_key(written, None if as_of is None else as_of)
        for reader in (table, reopened):
            answer = reader.scan(as_of=None if as_of is None else format_instant(as_of))
            got = {
                key: (time, value)
                for key, time, value in zip(
                    answer.column("key").to_pylist(),
                    instants(answer),
                    answer.column("v").to_pylist(),
                    strict=True,
                )
            }
            assert got == {k: (r["event_time"], r["v"]) for k, r in expected.items()}, as_of


# -- the CLI --------------------------------------------------------------------------------


def test_cli_write_of_a_year_999_time_is_one_clear_line(tmp_path: Path) -> None:
    local_table(tmp_path, "ms")
    csv = tmp_path / "old.csv"
    csv.write_text("key,event_time,v\na,0999-06-01T00:00:00Z,1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZOF_")}
    done = subprocess.run(
        [str(AZOF), "write", "--path", str(tmp_path / "lake-ms"), "--table", "t", str(csv)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert "0999-06-01T00:00:00.000Z" in lines[0]
    assert "outside the supported range" in lines[0]
    assert "Traceback" not in done.stderr
    reopened = azof.Lakehouse(tmp_path / "lake-ms").table("t")
    assert reopened.version == 0
    assert data_files(tmp_path / "lake-ms") == []
