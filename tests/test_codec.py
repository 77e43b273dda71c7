"""The snapshot codec: what it writes decodes to the same snapshot, and its caches (a tree's
encoded text by identity, a tree's decoded segments by content) never change an answer."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import azof
from azof.format import Snapshot, decode_snapshot, encode_snapshot

SCHEMA = pa.schema(
    [("key", pa.string()), ("event_time", pa.timestamp("ms", "UTC")), ("v", pa.int64())]
)


def compacted(appends: int, buckets: int = 3) -> azof.Table:
    table = azof.Lakehouse(f"memory://{uuid.uuid4().hex}").create_table("t", SCHEMA)
    for month in range(1, appends + 1):
        table.append([{"key": f"k{i}", "event_time": f"2024-{month:02d}-1{i % 9}", "v": i}
                      for i in range(12)])  # fmt: skip
    table.compact(azof.CompactionPolicy(segment="month", buckets=buckets))
    return table


def round_trip(snapshot: Snapshot, version: int) -> Snapshot:
    data = encode_snapshot(snapshot)
    return decode_snapshot(data, table="t", file=f"s{version}.json", version=version)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 3))
def test_a_snapshot_survives_encoding(appends: int, buckets: int, pending: int) -> None:
    table = compacted(appends, buckets)
    for i in range(pending):
        table.put(f"p{i}", "2025-01-01", v=i)
    snapshot = table.snapshot
    again = round_trip(snapshot, snapshot.version)
    assert again == snapshot
    # the stored bytes are what the codec writes: one JSON object, on one line
    stored = table.storage.read(f"s{snapshot.version}.json")
    assert stored == encode_snapshot(snapshot)
    assert stored.count(b"\n") == 0
    assert list(json.loads(stored))[-2:] == ["segments", "deltas"]


def test_the_encoded_tree_is_reused_only_for_the_same_tree() -> None:
    table = compacted(2)
    first = table.snapshot
    table.put("x", "2025-01-01", v=1)  # keeps the tree: its text is reused
    second = table.snapshot
    assert second.segments is first.segments
    assert (
        json.loads(encode_snapshot(second))["segments"]
        == json.loads(encode_snapshot(first))["segments"]
    )
    # an equal but distinct tree object, and a changed one, are encoded afresh
    changed = replace(second, segments=second.segments[:-1])
    assert round_trip(changed, second.version) == changed
    assert round_trip(replace(second, segments=tuple(second.segments)), second.version) == second


def test_decoded_trees_are_shared_but_never_confused() -> None:
    table = compacted(2)
    data = table.storage.read(f"s{table.version}.json")
    one = decode_snapshot(data, table="t", file="s", version=table.version)
    two = decode_snapshot(data, table="t", file="s", version=table.version)
    assert one.segments is two.segments  # decoded once
    raw = json.loads(data)
    raw["segments"][0]["segments"][-1]["delta"][0]["rows"] += 1
    other = decode_snapshot(json.dumps(raw).encode(), table="t", file="s", version=table.version)
    assert other.segments is not one.segments
    assert other.segments != one.segments
    raw["segments"][0]["segments"][-1]["delta"][0]["rows"] = -1
    with pytest.raises(azof.CorruptTableError, match="rows -1 is not a whole number"):
        decode_snapshot(json.dumps(raw).encode(), table="t", file="s", version=table.version)
    # the same tree under another table name is decoded for that table
    assert decode_snapshot(data, table="u", file="s", version=table.version) == replace(one)
