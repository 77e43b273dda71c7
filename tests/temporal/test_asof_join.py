"""asof_join: point-in-time correct rows for many left rows at differing times, every input
kind, every time unit, and never a value from a row's future."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import azof
from azof.temporal import asof_join
from naive import latest_per_key

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)
FIELDS: list[pa.Field[Any]] = [
    pa.field("key", pa.string()),
    pa.field("event_time", pa.timestamp("ms", tz="UTC")),
    pa.field("price", pa.float64()),
    pa.field("venue", pa.string()),
]
SCHEMA = pa.schema(FIELDS)


def lake() -> azof.Lakehouse:
    return azof.Lakehouse(f"memory://{uuid.uuid4().hex}")


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def events_table() -> tuple[azof.Table, list[dict[str, Any]]]:
    """Keys k0..k29 with events every few hours, late rows, corrections and deletes."""
    rng = random.Random(7)
    table = lake().create_table("prices", SCHEMA)
    written: list[dict[str, Any]] = []
    for batch in range(6):
        rows = []
        for _ in range(40):
            key = f"k{rng.randrange(30)}"
            hour = rng.randrange(0, 100) // 3 * 3  # shared hours: ties and corrections
            rows.append(
                {
                    "key": key,
                    "event_time": at(hour),
                    "price": float(rng.randrange(1000)),
                    "venue": rng.choice(["X", "Y", None]),
                }
            )
        table.append(rows)
        written += [{**r, "_deleted": False} for r in rows]
        gone = [f"k{i}" for i in rng.sample(range(30), 4)]
        hour = rng.randrange(0, 100)
        table.delete(gone, at(hour))
        written += [
            {"key": k, "event_time": at(hour), "price": None, "venue": None, "_deleted": True}
            for k in gone
        ]
        if batch == 3:
            table.compact(azof.CompactionPolicy(segment="day"))
    return table, written


def expected(written: list[dict[str, Any]], key: Any, when: datetime | None) -> tuple[Any, Any]:
    if when is None or key is None:
        return (None, None)
    row = latest_per_key(written, when).get(key)
    return (None, None) if row is None else (row["price"], row["event_time"])


def test_many_rows_at_differing_times_match_the_oracle() -> None:
    table, written = events_table()
    rng = random.Random(11)
    event_times = sorted({r["event_time"] for r in written})
    times: list[datetime | None] = []
    for _ in range(3000):
        pick = rng.random()
        if pick < 0.3:  # exactly at an event (a delete's too)
            times.append(rng.choice(event_times))
        elif pick < 0.5:  # one millisecond before or after one
            times.append(rng.choice(event_times) + rng.choice([-MS, MS]))
        elif pick < 0.6:  # before any event
            times.append(at(-rng.randrange(1, 1000)))
        elif pick < 0.98:  # anywhere, between events or after the last
            times.append(at(rng.uniform(-5, 120)))
        else:
            times.append(None)
    keys = [rng.choice([*(f"k{i}" for i in range(32)), None]) for _ in times]
    left = pa.table(
        {
            "key": keys,
            "ts": pa.array(times, pa.timestamp("us", tz="UTC")),
            "id": pa.array(np.arange(len(times))),
        }
    )
    got = asof_join(table, left, columns=["price", "event_time"])
    assert got.column_names == ["key", "ts", "id", "price", "event_time"]
    assert got.column("id").to_pylist() == list(range(len(times)))  # the left order
    # A microsecond time rounds down to the table's milliseconds, as scan(as_of=...) does.
    floored = [
        None if t is None else t.replace(microsecond=t.microsecond // 1000 * 1000) for t in times
    ]
    want = [expected(written, k, t) for k, t in zip(keys, floored, strict=True)]
    found = list(
        zip(got.column("price").to_pylist(), got.column("event_time").to_pylist(), strict=True)
    )
    assert found == want
    for matched, when in zip(got.column("event_time").to_pylist(), times, strict=True):
        assert matched is None or (when is not None and matched <= when)
    # The same rows one by one through scan(as_of=...): the join is that, vectorized.
    for index in rng.sample(range(len(times)), 40):
        if keys[index] is None or times[index] is None:
            continue
        scanned = {r["key"]: r["price"] for r in table.scan(times[index]).to_pylist()}
        assert got.column("price")[index].as_py() == scanned.get(keys[index])


def test_deletes_give_nulls_until_the_key_returns() -> None:
    table = lake().create_table("t", SCHEMA)
    table.append([{"key": "a", "event_time": at(1), "price": 1.0, "venue": "X"}])
    table.delete("a", at(5))
    table.append([{"key": "a", "event_time": at(9), "price": 9.0, "venue": "Y"}])
    hours = [0, 1, 4.99, 5, 6, 8.999, 9, 100]
    left = pa.table({"key": ["a"] * len(hours), "ts": [at(h) for h in hours]})
    got = asof_join(table, left)
    assert got.column("price").to_pylist() == [None, 1.0, 1.0, None, None, None, 9.0, 9.0]
    assert got.column("venue").to_pylist() == [None, "X", "X", None, None, None, "Y", "Y"]


@pytest.mark.parametrize(
    ("left_type", "offsets", "expected"),
    [
        # 1 ns / 1 us before the event's millisecond floors to the millisecond before it.
        (pa.timestamp("ns", tz="UTC"), [-1, 0, 999_999, 1_000_000], [None, 1.0, 1.0, 1.0]),
        (pa.timestamp("us"), [-1, 0, 999, 1_000], [None, 1.0, 1.0, 1.0]),
        (pa.timestamp("s", tz="Asia/Tokyo"), [-1, 0, 1], [None, 1.0, 1.0]),
    ],
)
def test_left_times_of_any_unit_round_down(
    left_type: pa.TimestampType, offsets: list[int], expected: list[Any]
) -> None:
    table = lake().create_table("t", SCHEMA)
    per_unit = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}[left_type.unit]
    event = at(3) + 250 * MS if per_unit < 1_000_000_000 else at(3)
    table.append([{"key": "a", "event_time": event, "price": 1.0, "venue": None}])
    nanos = (event - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000
    base = nanos // per_unit
    left = pa.table(
        {
            "key": ["a"] * len(offsets),
            "ts": pa.array([base + o for o in offsets], pa.int64()).cast(left_type),
        }
    )
    assert asof_join(table, left).column("price").to_pylist() == expected


def test_table_units_finer_than_the_left_and_dates() -> None:
    schema = pa.schema(
        [
            pa.field("key", pa.int64()),
            pa.field("event_time", pa.timestamp("ns", tz="UTC")),
            pa.field("v", pa.int32()),
        ]
    )
    table = lake().create_table("t", schema)
    table.append(
        {
            "key": [1, 1, 2],
            "event_time": pa.array(
                [at(0), at(24) + timedelta(microseconds=1), at(24)], pa.timestamp("ns", tz="UTC")
            ),
            "v": [10, 11, 20],
        }
    )
    left = pa.table(
        {
            "key": pa.array([1, 1, 2, 3, None], pa.int32()),
            "day": pa.array([T0.date() + timedelta(days=d) for d in (0, 1, 1, 1, 1)], pa.date32()),
        }
    )
    got = asof_join(table, left, at="day")
    assert got.column("v").to_pylist() == [10, 10, 20, None, None]


def test_names_that_clash_get_the_suffix_or_a_prefix() -> None:
    table = lake().create_table("t", SCHEMA)
    table.append([{"key": "a", "event_time": at(1), "price": 1.0, "venue": "X"}])
    left = pa.table({"key": ["a"], "ts": [at(2)], "price": [99.0]})
    got = asof_join(table, left, columns=["price", "event_time"])
    assert got.column_names == ["key", "ts", "price", "price_right", "event_time"]
    assert got.column("price_right").to_pylist() == [1.0]
    got = asof_join(table, left, columns=["price"], prefix="f_")
    assert got.column_names == ["key", "ts", "price", "f_price"]
    clash = left.append_column("price_right", pa.array([0.0]))
    with pytest.raises(azof.InvalidArgumentError, match="prefix= or suffix="):
        asof_join(table, clash, columns=["price"])


def test_bad_arguments_are_refused() -> None:
    table = lake().create_table("t", SCHEMA)
    left = pa.table({"key": ["a"], "ts": [at(2)]})
    with pytest.raises(azof.InvalidArgumentError, match="no at column 'when'"):
        asof_join(table, left, at="when")
    with pytest.raises(azof.InvalidArgumentError, match="must hold timestamps"):
        asof_join(table, pa.table({"key": ["a"], "ts": ["2024-01-01"]}))
    with pytest.raises(azof.InvalidArgumentError, match="has string keys"):
        asof_join(table, pa.table({"key": [1], "ts": [at(2)]}))
    with pytest.raises(azof.InvalidArgumentError, match="no value column"):
        asof_join(table, left, columns=["nope"])
    with pytest.raises(azof.InvalidArgumentError, match="cannot read a dict"):
        asof_join(table, {"key": ["a"]})


def test_empty_left_and_empty_table() -> None:
    table = lake().create_table("t", SCHEMA)
    left = pa.table({"key": pa.array([], pa.string()), "ts": pa.array([], pa.timestamp("ms"))})
    assert asof_join(table, left).num_rows == 0
    left = pa.table({"key": ["a"], "ts": [at(1)]})
    assert asof_join(table, left).column("price").to_pylist() == [None]


def test_old_versions_and_compaction_give_the_same_rows() -> None:
    table = lake().create_table("t", SCHEMA)
    first = table.append(
        [
            {"key": "a", "event_time": at(h), "price": float(h), "venue": None}
            for h in range(0, 200, 10)
        ]
    )
    table.append([{"key": "a", "event_time": at(50), "price": -1.0, "venue": None}])  # a fix
    left = pa.table({"key": ["a"] * 4, "ts": [at(5), at(55), at(150), at(1000)]})
    before = asof_join(table, left)
    assert before.column("price").to_pylist() == [0.0, -1.0, 150.0, 190.0]
    assert asof_join(table, left, version=first).column("price").to_pylist() == [
        0.0,
        50.0,
        150.0,
        190.0,
    ]
    table.compact(azof.CompactionPolicy(segment="day"))
    assert asof_join(table, left).equals(before)


def test_only_files_of_the_touched_keys_are_read() -> None:
    table = lake().create_table("t", SCHEMA)
    for batch in range(10):
        table.append(
            [
                {"key": f"k{batch}-{i:03d}", "event_time": at(i), "price": 1.0, "venue": None}
                for i in range(100)
            ]
        )
    metrics = azof.ScanMetrics()
    left = pa.table({"key": ["k3-007", "k3-050"], "ts": [at(8), at(60)]})
    got = asof_join(table, left, metrics=metrics)
    assert got.column("price").to_pylist() == [1.0, 1.0]
    assert metrics.files_read == 1
    assert metrics.rows_read == 2  # key and time bounds are pushed into the read


def test_record_batch_reader_pandas_and_polars_inputs() -> None:
    table = lake().create_table("t", SCHEMA)
    table.append(
        [
            {"key": "a", "event_time": at(1), "price": 1.0, "venue": "X"},
            {"key": "b", "event_time": at(2), "price": 2.0, "venue": "Y"},
        ]
    )
    left = pa.table({"key": ["b", "a", "a", "c"], "ts": [at(3), at(0), at(1), at(9)]})
    want = [2.0, None, 1.0, None]
    reader = pa.RecordBatchReader.from_batches(left.schema, left.to_batches(max_chunksize=1))
    streamed = asof_join(table, reader, batch_rows=2)  # a stream in, a stream out
    assert isinstance(streamed, pa.RecordBatchReader)
    assert streamed.read_all().column("price").to_pylist() == want
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {"key": ["b", "a", "a", "c"], "ts": pd.to_datetime([at(3), at(0), at(1), at(9)], utc=True)},
        index=[10, 11, 12, 13],
    )
    got = asof_join(table, frame)
    assert got.column("price").to_pylist() == want
    naive = frame.assign(ts=frame["ts"].dt.tz_localize(None))  # naive means UTC
    assert asof_join(table, naive).column("price").to_pylist() == want
    pl = pytest.importorskip("polars")
    polars_frame = pl.DataFrame({"key": ["b", "a", "a", "c"], "ts": [at(3), at(0), at(1), at(9)]})
    assert asof_join(table, polars_frame).column("price").to_pylist() == want
