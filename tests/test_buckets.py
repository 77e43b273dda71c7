"""The specified key hash (docs/spec.md, "Buckets"): its test values, every key type, and
tables whose keys span the whole integer range."""

from __future__ import annotations

import uuid

import numpy as np
import pyarrow as pa
import pytest

import azof
from azof.format.buckets import bucket_of, key_hash, split_by_bucket


def test_the_spec_test_values() -> None:
    assert key_hash(pa.array(["a", "AAPL"])).tolist() == [
        198367012849983736,
        14906023498249745320,
    ]
    assert key_hash(pa.array([1, 0], pa.int64())).tolist() == [6238072747940578789, 0]
    assert bucket_of(pa.array(["AAPL"]), 4).tolist() == [0]
    assert bucket_of(pa.array([1]), 4).tolist() == [1]


@pytest.mark.parametrize("dtype", [pa.int8(), pa.int16(), pa.int32(), pa.uint8(), pa.uint32()])
def test_narrow_integers_hash_as_their_value(dtype: pa.DataType) -> None:
    values = [0, 1, 7, 100]
    assert (
        key_hash(pa.array(values, dtype)).tolist()
        == key_hash(pa.array(values, pa.int64())).tolist()
    )


def test_uint64_hashes_its_bits_above_two_to_the_63() -> None:
    big = [2**63, 2**64 - 1, 5]
    signed = [-(2**63), -1, 5]  # the same 64 bits
    assert (
        key_hash(pa.array(big, pa.uint64())).tolist()
        == key_hash(pa.array(signed, pa.int64())).tolist()
    )


def test_string_hash_handles_empty_long_and_unicode_keys() -> None:
    keys = ["", "é", "x" * 5000, "日本"]
    hashes = key_hash(pa.chunked_array([pa.array(keys[:2]), pa.array(keys[2:])]))
    assert len(set(hashes.tolist())) == 4
    assert hashes.tolist() == [key_hash(pa.array([k])).tolist()[0] for k in keys]


def test_split_keeps_order_within_each_bucket() -> None:
    rows = pa.table({"key": pa.array(np.arange(1000) % 37), "n": np.arange(1000)})
    parts = split_by_bucket(rows, 4, ("key",))
    assert sum(p.num_rows for p in parts) == 1000
    for bucket, part in enumerate(parts):
        assert set(bucket_of(part.column("key"), 4).tolist()) <= {bucket}
        assert part.column("n").to_pylist() == sorted(part.column("n").to_pylist())


def test_a_uint64_table_with_huge_keys_compacts_into_buckets() -> None:
    schema = pa.schema(
        [("key", pa.uint64()), ("event_time", pa.timestamp("s", tz="UTC")), ("v", pa.int64())]
    )
    table = azof.Lakehouse(f"memory://{uuid.uuid4().hex}").create_table("t", schema)
    keys = [2**64 - 1 - i for i in range(50)] + list(range(50))
    table.append(
        pa.table({"key": keys, "event_time": [1_700_000_000] * 100, "v": list(range(100))}, schema)
    )
    table.append(
        pa.table({"key": keys[:10], "event_time": [1_700_000_100] * 10, "v": [0] * 10}, schema)
    )
    table.compact(azof.CompactionPolicy(segment="month", buckets=4))
    assert table.bucket_count() == 4
    got = dict(zip(*(table.scan().column(c).to_pylist() for c in ("key", "v")), strict=True))
    assert got == {k: (0 if i < 10 else i) for i, k in enumerate(keys)}
