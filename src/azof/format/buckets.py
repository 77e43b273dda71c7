"""Hash buckets of keys (``docs/spec.md``, "Buckets").

A table may split its data files by a hash of the key into ``B`` buckets, so that scans,
compaction and distributed readers can work one bucket at a time. The hash is specified
so other implementations can compute it:

- string keys: 64-bit FNV-1a over the key's UTF-8 bytes (offset basis 0xcbf29ce484222325,
  prime 0x100000001b3), then the splitmix64 finaliser below;
- integer keys: the value as a two's-complement 64-bit integer, then the finaliser;
- finaliser (splitmix64): ``z ^= z >> 30; z *= 0xbf58476d1ce4e5b9; z ^= z >> 27;
  z *= 0x94d049bb133111eb; z ^= z >> 31`` (all mod 2**64);
- composite keys (format 4): ``h = 0``, then for each key column in order
  ``h = finaliser((h * 0x100000001b3) XOR r)`` where ``r`` is the column's value before the
  finaliser (FNV-1a for strings, the 64 bits for integers, days since 1970-01-01 for dates,
  the stored integer for timestamps); a one-column key hashes as above;
- bucket = hash mod B.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["bucket_of", "bucket_of_rows", "key_hash", "rows_hash", "split_by_bucket"]

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def _finalise(z: np.ndarray[Any, np.dtype[np.uint64]]) -> np.ndarray[Any, np.dtype[np.uint64]]:
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _string_hash(array: pa.Array[Any]) -> np.ndarray[Any, np.dtype[np.uint64]]:
    array = array.cast(pa.large_string())
    n = len(array)
    _, offsets_buffer, data_buffer = array.buffers()
    assert offsets_buffer is not None  # a (large) string array always has its offsets
    offsets = np.frombuffer(
        memoryview(offsets_buffer), dtype=np.int64, count=n + 1, offset=array.offset * 8
    )
    data = (
        np.frombuffer(memoryview(data_buffer), dtype=np.uint8)
        if data_buffer is not None
        else np.zeros(0, np.uint8)
    )
    starts = offsets[:-1]
    lengths = offsets[1:] - starts
    hashes = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    longest = int(lengths.max()) if n else 0
    last = max(len(data) - 1, 0)
    padded = data if len(data) else np.zeros(1, np.uint8)
    step = max(1, (1 << 24) // max(longest, 1))  # bound the byte matrix to ~16 MiB
    with np.errstate(over="ignore"):
        for low in range(0, n, step):
            high = min(n, low + step)
            width = int(lengths[low:high].max()) if high > low else 0
            index = starts[low:high, None] + np.arange(width)[None, :]
            matrix = padded[np.minimum(index, last)].astype(np.uint64)
            part = hashes[low:high]
            for position in range(width):
                stepped = (part ^ matrix[:, position]) * _FNV_PRIME
                part = np.where(lengths[low:high] > position, stepped, part)
            hashes[low:high] = part
        return hashes


def _raw_hash(
    keys: pa.Array[Any] | pa.ChunkedArray[Any],
) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """Every key's value before the finaliser: FNV-1a of a string, the 64 bits of an
    integer, the stored integer of a date or timestamp."""
    array = keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
    if pa.types.is_dictionary(array.type):
        array = cast("pa.DictionaryArray[Any, Any]", array).dictionary_decode()
    if pa.types.is_date(array.type) or pa.types.is_timestamp(array.type):
        array = array.cast(pa.int32() if pa.types.is_date32(array.type) else pa.int64())
        if pa.types.is_int32(array.type):
            array = array.cast(pa.int64())
    if pa.types.is_integer(array.type):  # the value's 64 bits (uint64 above 2**63 too)
        wide = pa.uint64() if pa.types.is_unsigned_integer(array.type) else pa.int64()
        values = pc.cast(array, wide).to_numpy(zero_copy_only=False)
        return values.astype(values.dtype, copy=False).view(np.uint64)
    return _string_hash(array)


def key_hash(
    keys: pa.Array[Any] | pa.ChunkedArray[Any],
) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """The specified 64-bit hash of every key of a one-column key (no nulls)."""
    with np.errstate(over="ignore"):
        return _finalise(_raw_hash(keys))


def rows_hash(
    rows: pa.Table | pa.RecordBatch, names: Sequence[str]
) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """The specified 64-bit hash of every row's key, the key being the columns ``names``
    (one or several, combined as the module docstring says)."""
    hashes = np.zeros(len(rows), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for name in names:
            hashes = _finalise((hashes * _FNV_PRIME) ^ _raw_hash(rows.column(name)))
    return hashes


def bucket_of_rows(
    rows: pa.Table | pa.RecordBatch, names: Sequence[str], buckets: int
) -> np.ndarray[Any, Any]:
    """The bucket (0 .. buckets-1) of every row's key (the columns ``names``)."""
    if buckets == 1:
        return np.zeros(len(rows), dtype=np.int64)
    return (rows_hash(rows, names) % np.uint64(buckets)).astype(np.int64)


def split_by_bucket(rows: pa.Table, buckets: int, names: Sequence[str]) -> list[pa.Table]:
    """The rows of each bucket (``buckets`` tables, some maybe empty), order kept; the key
    is the columns ``names``."""
    if buckets == 1:
        return [rows]
    ids = bucket_of_rows(rows, names, buckets)
    order = np.argsort(ids, kind="stable")
    counts = np.bincount(ids, minlength=buckets).tolist()
    ordered = rows.take(order)
    parts, offset = [], 0
    for count in counts:
        parts.append(ordered.slice(offset, count))
        offset += count
    return parts


def bucket_of(keys: pa.Array[Any] | pa.ChunkedArray[Any], buckets: int) -> np.ndarray[Any, Any]:
    """The bucket (0 .. buckets-1) of every key."""
    if buckets == 1:
        return np.zeros(len(keys), dtype=np.int64)
    return (key_hash(keys) % np.uint64(buckets)).astype(np.int64)
