"""Projection and filter pushdown, proven by what a scan reads (``azof.ScanMetrics``), and
filters on value columns applied after the as-of merge."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import azof
from azof.storage import open_storage
from naive import latest_per_key

JAN1 = datetime(2024, 1, 1, tzinfo=UTC)
FEB1 = datetime(2024, 2, 1, tzinfo=UTC)
KEYS = [f"k{i:03d}" for i in range(100)]
ROW_GROUP = 10
EVENT_TIME = pa.timestamp("ms", tz="UTC")


def rfc3339(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parquet_bytes(rows: list[dict[str, Any]]) -> bytes:
    table = pa.table(
        {
            "key": pa.array([r["key"] for r in rows], pa.string()),
            "event_time": pa.array([r["event_time"] for r in rows], EVENT_TIME),
            "value": pa.array([r["value"] for r in rows], pa.int64()),
        }
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=ROW_GROUP)
    return bytes(sink.getvalue().to_pybytes())


def write_table(
    uri: str,
    name: str,
    base: list[dict[str, Any]],
    delta: list[dict[str, Any]],
    delta_end: datetime,
) -> None:
    """A format-1 table: one open segment from Jan 1 with a base and one delta from Feb 1."""
    snapshot = {
        "schema": {"columns": [{"name": "value", "data_type": "Int", "nullable": False}]},
        "segments": [
            {
                "id": "1",
                "start": rfc3339(JAN1),
                "file": "base.parquet",
                "delta": [
                    {"file": "delta.parquet", "start": rfc3339(FEB1), "end": rfc3339(delta_end)}
                ],
            }
        ],
    }
    storage = open_storage(uri)
    storage.write(f"{name}/base.parquet", parquet_bytes(base))
    storage.write(f"{name}/delta.parquet", parquet_bytes(delta))
    storage.write(f"{name}/s1.json", json.dumps(snapshot).encode())
    storage.write(f"{name}/version.txt", b"1")


# "hours": 100 keys; base: key i = i as of Jan 1; delta: key i = 1000 + i at Feb 1 + i hours.
# Both files hold 10 row groups sorted by key and by event time, so row-group statistics
# can prune on either.
BASE = [{"key": k, "event_time": JAN1, "value": i} for i, k in enumerate(KEYS)]
DELTA = [
    {"key": k, "event_time": FEB1 + timedelta(hours=i), "value": 1000 + i}
    for i, k in enumerate(KEYS)
]


@pytest.fixture(params=["local", "memory"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> azof.Lakehouse:
    uri = str(tmp_path) if request.param == "local" else f"memory://{uuid.uuid4().hex}"
    write_table(uri, "hours", BASE, DELTA, FEB1 + timedelta(hours=99))
    return azof.Lakehouse(uri)


def oracle(as_of: datetime | None) -> dict[str, int]:
    return {k: r["value"] for k, r in latest_per_key(BASE + DELTA, as_of).items()}


def answer(table: pa.Table) -> dict[str, int]:
    return {r["key"]: r["value"] for r in table.to_pylist()}


# -- filters on the key prune row groups ---------------------------------------------------


def test_every_row_group_is_read_without_a_filter(lake: azof.Lakehouse) -> None:
    metrics = azof.ScanMetrics()
    result = lake.table("hours").scan(metrics=metrics)
    assert answer(result) == oracle(None)
    assert metrics.row_groups_total == 20
    assert metrics.row_groups_read == 20
    assert metrics.rows_read == 200


def test_key_equality_prunes_row_groups(lake: azof.Lakehouse) -> None:
    metrics = azof.ScanMetrics()
    result = lake.table("hours").scan(filter=pc.field("key") == "k042", metrics=metrics)
    assert answer(result) == {"k042": 1042}
    assert metrics.row_groups_total == 20
    assert metrics.row_groups_read == 2  # one per file
    assert metrics.rows_read == 2  # rows that reach the merge


def test_key_isin_prunes_row_groups(lake: azof.Lakehouse) -> None:
    metrics = azof.ScanMetrics()
    keys = ["k003", "k077", "nope"]
    result = lake.table("hours").scan(filter=pc.field("key").isin(keys), metrics=metrics)
    assert answer(result) == {"k003": 1003, "k077": 1077}
    assert metrics.row_groups_total == 20
    assert metrics.row_groups_read == 4


def test_key_range_prunes_row_groups(lake: azof.Lakehouse) -> None:
    metrics = azof.ScanMetrics()
    key = pc.field("key")
    result = lake.table("hours").scan(filter=(key >= "k090") & (key < "k095"), metrics=metrics)
    assert answer(result) == {f"k{i:03d}": 1000 + i for i in range(90, 95)}
    assert metrics.row_groups_read == 2


def test_key_filter_reads_fewer_bytes() -> None:
    uri = f"memory://{uuid.uuid4().hex}"  # bytes are counted for object stores only
    write_table(uri, "hours", BASE, DELTA, FEB1 + timedelta(hours=99))
    table = azof.Lakehouse(uri).table("hours")
    everything, one_key = azof.ScanMetrics(), azof.ScanMetrics()
    table.scan(metrics=everything)
    table.scan(filter=pc.field("key") == "k042", metrics=one_key)
    assert 0 < one_key.bytes_read < everything.bytes_read


def test_key_filter_skips_files_by_their_records_key_range(tmp_path: Path) -> None:
    """Files whose records' min_key..max_key cannot hold the keys are not even opened."""
    table = azof.Lakehouse(tmp_path).create_table(
        "t",
        pa.schema([("key", pa.string()), ("event_time", EVENT_TIME), ("value", pa.int64())]),
    )
    for batch in range(10):  # ten files of disjoint key ranges k00..k09, k10..k19, ...
        table.append([{"key": f"k{batch}{i}", "event_time": JAN1 + timedelta(days=i),
                       "value": batch * 10 + i} for i in range(10)])  # fmt: skip
    table.append([{"key": "k35", "event_time": FEB1, "value": -1}])  # a later correction
    metrics = azof.ScanMetrics()
    result = table.scan(filter=pc.field("key") == "k35", metrics=metrics)
    assert result.column("value").to_pylist() == [-1]
    assert (metrics.files_planned, metrics.files_read) == (11, 2)
    assert metrics.row_groups_total == 2  # only those two footers were read
    metrics = azof.ScanMetrics()
    keys = pc.field("key").isin(["k07", "k71", "zz"])
    assert table.scan(filter=keys, metrics=metrics).column("value").to_pylist() == [7, 71]
    assert metrics.files_read == 2
    metrics = azof.ScanMetrics()
    wide = (pc.field("key") >= "k55") & (pc.field("key") < "k7")
    assert table.scan(filter=wide, metrics=metrics).num_rows == 15
    assert metrics.files_read == 2
    (tmp_path / "t" / table.snapshot.deltas[0].file).unlink()  # k00..k09: never opened
    assert table.scan(filter=pc.field("key") == "k35").num_rows == 1


# -- the as-of time prunes files and row groups --------------------------------------------


def test_as_of_prunes_later_row_groups(lake: azof.Lakehouse) -> None:
    as_of = FEB1 + timedelta(hours=35)
    metrics = azof.ScanMetrics()
    result = lake.table("hours").scan(as_of=as_of, metrics=metrics)
    assert answer(result) == oracle(as_of)
    assert answer(result)["k035"] == 1035
    assert answer(result)["k036"] == 36
    # The base's 10 row groups, and the delta's first 4 (hours 0-39): later ones start after T.
    assert metrics.row_groups_total == 20
    assert metrics.row_groups_read == 14


def test_as_of_before_a_delta_does_not_plan_it(lake: azof.Lakehouse) -> None:
    as_of = datetime(2024, 1, 15, tzinfo=UTC)
    metrics = azof.ScanMetrics()
    result = lake.table("hours").scan(as_of=as_of, metrics=metrics)
    assert answer(result) == oracle(as_of)
    assert metrics.files_planned == 1
    assert metrics.files == ["base.parquet"]
    assert metrics.row_groups_total == 10


def test_as_of_and_key_filter_together(lake: azof.Lakehouse) -> None:
    as_of = FEB1 + timedelta(hours=35)
    metrics = azof.ScanMetrics()
    keys = ["k010", "k060"]
    result = lake.table("hours").scan(
        as_of=as_of, filter=pc.field("key").isin(keys), metrics=metrics
    )
    assert answer(result) == {"k010": 1010, "k060": 60}
    assert metrics.row_groups_read == 3  # base: 2; delta: only hours 10-19


# -- filters on values apply to the merged answer ------------------------------------------


@pytest.mark.parametrize("as_of", [None, FEB1 + timedelta(hours=35), FEB1, JAN1])
def test_value_filter_applies_after_the_merge(lake: azof.Lakehouse, as_of: datetime | None) -> None:
    """Every key's base value is below 50 and its delta value is not: filtering rows before
    the merge would resurrect the base row of a key whose latest row fails the filter."""
    result = lake.table("hours").scan(as_of=as_of, filter=pc.field("value") < 50)
    expected = {k: v for k, v in oracle(as_of).items() if v < 50}
    assert answer(result) == expected
    if as_of is None:
        assert result.num_rows == 0


def test_value_filter_on_a_column_not_returned(lake: azof.Lakehouse) -> None:
    as_of = FEB1 + timedelta(hours=35)
    result = lake.table("hours").scan(as_of=as_of, columns=["key"], filter=pc.field("value") < 50)
    assert result.column_names == ["key"]
    assert result.column("key").to_pylist() == [f"k{i:03d}" for i in range(36, 50)]


def test_mixed_key_and_value_filter_applies_after_the_merge(lake: azof.Lakehouse) -> None:
    result = lake.table("hours").scan(filter=(pc.field("key") == "k005") & (pc.field("value") < 50))
    assert result.num_rows == 0  # k005's latest value is 1005; its base row must not return


def test_value_filter_on_event_time_applies_after_the_merge(lake: azof.Lakehouse) -> None:
    result = lake.table("hours").scan(filter=pc.field("event_time") < pa.scalar(FEB1, EVENT_TIME))
    assert result.num_rows == 0  # every key's latest event is in February


def test_tie_of_a_filtered_key(tmp_path: Path) -> None:
    """One key: Jan 1 -> 10 (base), Feb 1 -> 5 (delta). ``value > 7`` keeps it only before Feb."""
    uri = str(tmp_path)
    base = [
        {"key": "a", "event_time": JAN1, "value": 10},
        {"key": "b", "event_time": JAN1, "value": 8},
    ]
    delta = [{"key": "a", "event_time": FEB1, "value": 5}]
    write_table(uri, "small", base, delta, FEB1)
    table = azof.Lakehouse(uri).table("small")
    assert answer(table.scan(filter=pc.field("value") > 7)) == {"b": 8}
    assert answer(table.scan(as_of="2024-01-31", filter=pc.field("value") > 7)) == {
        "a": 10,
        "b": 8,
    }


# -- projection reads fewer bytes ----------------------------------------------------------


def test_fewer_columns_read_fewer_bytes(seed_memory_uri: str) -> None:
    table = azof.Lakehouse(seed_memory_uri).table("financials")
    as_of = "2019-06-15"
    read: dict[tuple[str, ...], int] = {}
    answers: dict[tuple[str, ...], pa.Table] = {}
    for columns in [(), ("key", "revenue"), ("key",)]:
        metrics = azof.ScanMetrics()
        answers[columns] = table.scan(as_of=as_of, columns=list(columns) or None, metrics=metrics)
        assert metrics.files_read == 3
        read[columns] = metrics.bytes_read
    assert 0 < read[("key",)] < read[("key", "revenue")] < read[()]
    assert read[("key", "revenue")] < 0.7 * read[()]
    assert answers[("key", "revenue")] == answers[()].select(["key", "revenue"])
    assert answers[("key",)] == answers[()].select(["key"])


def test_filter_column_is_read_but_not_returned(seed_memory_uri: str) -> None:
    table = azof.Lakehouse(seed_memory_uri).table("financials")
    projected, full = azof.ScanMetrics(), azof.ScanMetrics()
    software = pc.field("industry") == "Software"
    result = table.scan(as_of="2019-06-15", columns=["key"], filter=software, metrics=projected)
    everything = table.scan(as_of="2019-06-15", filter=software, metrics=full)
    assert result.column_names == ["key"]
    assert result == everything.select(["key"])
    assert result.num_rows > 100
