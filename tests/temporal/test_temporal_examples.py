"""The examples of docs/temporal.md, window edges, key pushdown and argument errors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

import azof
from azof.temporal import asof_join, changes, history, restatements

FIELDS: list[pa.Field[Any]] = [
    pa.field("key", pa.string()),
    pa.field("event_time", pa.timestamp("ms", tz="UTC")),
    pa.field("price", pa.float64()),
]
SCHEMA = pa.schema(FIELDS)


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def prices() -> azof.Table:
    """The table of docs/temporal.md."""
    lake = azof.Lakehouse(f"memory://{uuid.uuid4().hex}")
    table = lake.create_table("prices", SCHEMA)
    table.append(
        [
            {"key": "AAPL", "event_time": day("2019-01-02"), "price": 157.9},
            {"key": "AAPL", "event_time": day("2019-02-01"), "price": 166.5},
            {"key": "MSFT", "event_time": day("2019-01-02"), "price": 101.1},
        ]
    )
    table.delete("MSFT", day("2019-03-01"))
    table.append(
        [
            {"key": "AAPL", "event_time": day("2019-02-01"), "price": 166.4},
            {"key": "AAPL", "event_time": day("2019-01-15"), "price": 150.0},
        ]
    )
    return table


def rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in table.to_pylist()]


def test_history_example(prices: azof.Table) -> None:
    assert rows(history(prices, keys=["AAPL"])) == [
        ("AAPL", day("2019-01-02"), day("2019-01-15"), False, 157.9),
        ("AAPL", day("2019-01-15"), day("2019-02-01"), False, 150.0),
        ("AAPL", day("2019-02-01"), None, False, 166.4),
    ]
    assert rows(history(prices, start="2019-02-15", end="2019-04-01")) == [
        ("AAPL", day("2019-02-01"), None, False, 166.4),
        ("MSFT", day("2019-01-02"), day("2019-03-01"), False, 101.1),
        ("MSFT", day("2019-03-01"), None, True, None),
    ]
    assert rows(history(prices, keys="AAPL", version=1)) == [  # as known at version 1
        ("AAPL", day("2019-01-02"), day("2019-02-01"), False, 157.9),
        ("AAPL", day("2019-02-01"), None, False, 166.5),
    ]


def test_history_window_is_half_open(prices: azof.Table) -> None:
    # A version that ends exactly at start, or starts exactly at end, is outside.
    got = history(prices, "AAPL", start="2019-01-15", end="2019-02-01")
    assert [r["valid_from"] for r in got.to_pylist()] == [day("2019-01-15")]
    got = history(prices, "AAPL", start="2019-01-14T23:59:59.999", end="2019-02-01T00:00:00.001")
    assert len(got) == 3
    assert history(prices, start="2019-01-20", end="2019-01-20").num_rows == 0
    with pytest.raises(azof.InvalidArgumentError, match="is after end"):
        history(prices, start="2019-02-01", end="2019-01-01")
    assert history(prices, keys=[]).num_rows == 0
    assert history(prices, keys=["IBM"]).num_rows == 0


def test_history_columns_and_compaction(prices: azof.Table) -> None:
    before = history(prices)
    assert history(prices, columns=[]).column_names == [
        "key",
        "valid_from",
        "valid_to",
        "is_deleted",
    ]
    prices.compact(azof.CompactionPolicy(segment="month"))
    assert history(prices).equals(before)
    assert history(prices, start="2019-02-15").equals(
        history(prices, version=3, start="2019-02-15")
    )


def test_asof_join_example(prices: azof.Table) -> None:
    left = pa.table(
        {
            "key": ["MSFT", "AAPL", "AAPL", "MSFT", "IBM"],
            "ts": [
                day(d)
                for d in ("2019-02-01", "2018-12-31", "2019-01-20", "2019-03-01", "2019-02-01")
            ],
        }
    )
    got = asof_join(prices, left, columns=["price", "event_time"])
    assert got.column("price").to_pylist() == [101.1, None, 150.0, None, None]
    assert got.column("event_time").to_pylist() == [
        day("2019-01-02"),
        None,
        day("2019-01-15"),
        None,
        None,
    ]
    known = asof_join(prices, left, known_at=prices.log()[1].time)  # as known at version 1
    assert known.column("price").to_pylist() == [101.1, None, 157.9, 101.1, None]


def test_training_set_leakage_example(prices: azof.Table) -> None:
    ran = prices.commit_time(1)  # when the model ran
    labels = pa.table(
        {
            "key": ["AAPL", "AAPL"],
            "ts": [day("2019-01-20"), day("2019-02-10")],
            "known": pa.array([ran, ran], pa.timestamp("ns", tz="UTC")),
        }
    )
    seen = asof_join(prices, labels, columns=["price"], known_at="known")
    assert seen.column_names == ["key", "ts", "known", "price"]
    assert seen.column("price").to_pylist() == [157.9, 166.5]
    leaky = asof_join(prices, labels, columns=["price"])
    assert leaky.column("price").to_pylist() == [150.0, 166.4]
    features = azof.point_in_time_join(
        labels, [azof.Feature(prices, ["price"], prefix="px_", ttl="30d")], at="ts",
        known_at="known", on="key",
    )  # fmt: skip
    assert features.column("px_price").to_pylist() == [157.9, 166.5]


def test_changes_example(prices: azof.Table) -> None:
    assert rows(changes(prices, "2019-02-01", "2019-04-01")) == [
        ("AAPL", "update", day("2019-01-15"), 150.0, day("2019-02-01"), 166.4),
        ("MSFT", "delete", day("2019-01-02"), 101.1, day("2019-03-01"), None),
    ]
    assert rows(changes(prices, None, None)) == [
        ("AAPL", "insert", None, None, day("2019-02-01"), 166.4),
    ]
    # [start, end): an event at end belongs to the next window.
    assert changes(prices, "2019-01-03", "2019-01-15").num_rows == 0
    assert changes(prices, "2019-01-03", "2019-01-15T00:00:00.001").num_rows == 1
    assert changes(prices, "2019-01-01", "2019-04-01", keys="MSFT").num_rows == 0


def test_changes_compare_only_the_chosen_columns() -> None:
    schema = SCHEMA.append(pa.field("venue", pa.string()))
    table = azof.Lakehouse(f"memory://{uuid.uuid4().hex}").create_table("t", schema)
    table.append(
        [
            {"key": "a", "event_time": day("2020-01-01"), "price": 1.0, "venue": "X"},
            {"key": "a", "event_time": day("2020-02-01"), "price": 1.0, "venue": "Y"},
            {"key": "b", "event_time": day("2020-01-01"), "price": float("nan")},
            {"key": "b", "event_time": day("2020-02-01"), "price": float("nan")},
        ]
    )
    assert changes(table, "2020-01-15", "2020-03-01").column("key").to_pylist() == ["a"]
    assert changes(table, "2020-01-15", "2020-03-01", columns=["price"]).num_rows == 0


def test_restatements_example(prices: azof.Table) -> None:
    assert rows(restatements(prices, as_of="2019-01-20", since_version=2)) == [
        ("AAPL", "changed", day("2019-01-02"), 157.9, day("2019-01-15"), 150.0),
    ]
    assert rows(restatements(prices, as_of="2019-02-10", since_version=1)) == [
        ("AAPL", "changed", day("2019-02-01"), 166.5, day("2019-02-01"), 166.4),
    ]
    assert rows(restatements(prices, as_of="2019-03-01", since_version=1, version=2)) == [
        ("MSFT", "removed", day("2019-01-02"), 101.1, day("2019-03-01"), None),
    ]
    assert restatements(prices, as_of="2019-01-20", since_version=3).num_rows == 0
    with pytest.raises(azof.VersionNotFoundError):
        restatements(prices, as_of="2019-01-20", since_version=9)
    with pytest.raises(azof.InvalidArgumentError, match="not a whole number"):
        restatements(prices, as_of="2019-01-20", since_version="2")  # type: ignore[arg-type]


def test_reads_are_bounded_by_the_keys_asked_for() -> None:
    table = azof.Lakehouse(f"memory://{uuid.uuid4().hex}").create_table("t", SCHEMA)
    for batch in range(8):
        table.append(
            [
                {
                    "key": f"k{batch}-{i:02d}",
                    "event_time": day(f"2020-01-{i % 28 + 1:02d}"),
                    "price": float(i),
                }
                for i in range(50)
            ]
        )
    first = table.version
    table.append([{"key": "k5-07", "event_time": day("2020-01-02"), "price": -1.0}])
    metrics = azof.ScanMetrics()
    got = history(table, keys=["k2-03"], metrics=metrics)
    assert got.num_rows == 1
    assert (metrics.files_read, metrics.rows_read) == (1, 1)
    metrics = azof.ScanMetrics()
    assert changes(table, "2020-01-01", "2020-02-01", keys="k2-03", metrics=metrics).num_rows == 1
    assert metrics.files_read == 1
    metrics = azof.ScanMetrics()
    got = restatements(table, "2020-01-05", since_version=first, metrics=metrics)
    assert rows(got) == [("k5-07", "added", None, None, day("2020-01-02"), -1.0)]
    # The file committed after `first` (to find the candidates), then the files whose key
    # ranges hold them: one at `first`, two at the latest version.
    assert metrics.files_read == 4
    assert restatements(table, "2020-01-10", since_version=first).num_rows == 0
