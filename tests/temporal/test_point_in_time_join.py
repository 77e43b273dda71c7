"""point_in_time_join: training sets over several feature tables, bitemporal, with ttl,
prefixes, one output row per left row in left order, and streams."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

import azof
from azof.timestamps import instant_to_datetime
from naive import latest_per_key

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def feature_table(lake: azof.Lakehouse, name: str, column: str) -> azof.Table:
    return lake.create_table(
        name,
        pa.schema(
            [
                pa.field("key", pa.string()),
                pa.field("event_time", pa.timestamp("ms", tz="UTC")),
                pa.field(column, pa.float64()),
            ]
        ),
    )


def commit_time(table: azof.Table) -> datetime:
    return instant_to_datetime(table.commit_time(table.version))


def test_two_tables_bitemporal_ttl_and_left_order() -> None:
    lake = azof.Lakehouse(f"memory://{uuid.uuid4().hex}")
    spend = feature_table(lake, "spend", "amount")
    risk = feature_table(lake, "risk", "score")
    spend.append([{"key": "u1", "event_time": day(1), "amount": 10.0}])
    risk.append([{"key": "u1", "event_time": day(1), "score": 0.1}])
    first = max(commit_time(spend), commit_time(risk))
    spend.append([{"key": "u1", "event_time": day(1), "amount": 99.0}])  # a correction
    risk.append([{"key": "u2", "event_time": day(2), "score": 0.7}])  # a late row
    labels = pa.table(
        {
            "user": ["u2", "u1", "u1", "u3"],
            "ts": [day(3), day(2), day(30), day(3)],
            "known": [first, first, commit_time(risk), first],
            "label": [1, 0, 1, 0],
        }
    )
    got = azof.point_in_time_join(
        labels,
        [
            azof.Feature(spend, ["amount"], prefix="spend_"),
            azof.Feature(risk, ["score", "event_time"], prefix="risk_", ttl="7d"),
        ],
        at="ts",
        known_at="known",
        on="user",
    )
    assert got.column_names == [
        "user",
        "ts",
        "known",
        "label",
        "spend_amount",
        "risk_score",
        "risk_event_time",
    ]
    assert got.column("label").to_pylist() == [1, 0, 1, 0]  # left order
    assert got.column("spend_amount").to_pylist() == [None, 10.0, 99.0, None]
    # u2's row was committed after `first`; u1 on day 30 is older than the 7 day ttl.
    assert got.column("risk_score").to_pylist() == [None, 0.1, None, None]
    assert got.column("risk_event_time").to_pylist() == [None, day(1), None, None]
    leaky = azof.point_in_time_join(labels, [(spend, ["amount"])], at="ts", on="user")
    assert leaky.column("amount").to_pylist() == [None, 99.0, 99.0, None]


def test_random_rows_match_asof_lookups_and_streams() -> None:
    lake = azof.Lakehouse(f"memory://{uuid.uuid4().hex}")
    rng = random.Random(3)
    prices = feature_table(lake, "prices", "price")
    written: list[dict[str, Any]] = []
    for _ in range(5):
        rows = [
            {
                "key": f"k{rng.randrange(8)}",
                "event_time": day(rng.randrange(20)),
                "price": float(rng.randrange(100)),
            }
            for _ in range(10)
        ]
        prices.append(rows)
        written += rows
    keys = [f"k{rng.randrange(9)}" for _ in range(200)]
    times = [day(rng.uniform(-1, 25)) for _ in keys]
    left = pa.table({"key": keys, "ts": times, "n": list(range(len(keys)))})
    got = azof.point_in_time_join(left, [{"table": prices, "ttl": timedelta(days=3)}], at="ts")
    for row in got.to_pylist():
        match = latest_per_key(written, row["ts"]).get(row["key"])
        fresh = match is not None and row["ts"] - match["event_time"] <= timedelta(days=3)
        assert row["price"] == (match["price"] if fresh else None)
    reader = pa.RecordBatchReader.from_batches(left.schema, left.to_batches(max_chunksize=16))
    streamed = azof.point_in_time_join(
        reader, [{"table": prices, "ttl": timedelta(days=3)}], at="ts", batch_rows=50
    )
    assert isinstance(streamed, pa.RecordBatchReader)
    assert streamed.read_all().equals(got)


def test_clashes_and_bad_features_are_refused() -> None:
    lake = azof.Lakehouse(f"memory://{uuid.uuid4().hex}")
    a = feature_table(lake, "a", "value")
    b = feature_table(lake, "b", "value")
    left = pa.table({"key": ["x"], "ts": [day(1)]})
    with pytest.raises(azof.InvalidArgumentError, match="give the feature a prefix"):
        azof.point_in_time_join(left, [a, b], at="ts")
    with pytest.raises(azof.InvalidArgumentError, match="cannot read"):
        azof.point_in_time_join(left, [object()], at="ts")
    with pytest.raises(azof.InvalidArgumentError, match="no at column"):
        azof.point_in_time_join(left, [a], at="when")
    with pytest.raises(azof.InvalidArgumentError, match="duration"):
        azof.point_in_time_join(left, [azof.Feature(a, ttl="soon")], at="ts")
    got = azof.point_in_time_join(left, [a, (b, ["value"], "b_")], at="ts")
    assert got.column_names == ["key", "ts", "value", "b_value"]
