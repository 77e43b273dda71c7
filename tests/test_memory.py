"""A full streaming scan keeps peak memory bounded by ``merge_rows``, not by the table.

Two tables of 400k and 1.6M keys, each with two months of history compacted into one
hash bucket (the default policy gives 400k keys one bucket; the larger table is held to
one bucket too, so that buckets bound nothing) and pending updates of 5% of the keys.
In a fresh process, reading the current state whole (``scan``) grows with the table;
reading it through ``to_batches(merge_rows=50_000)``, which merges the bucket in key
ranges, must not: its peak stays about the same for 4x the keys, far below the whole read.
(Ranges are cut at row groups of 131,072 rows, so the stream's peak is a few row groups'
work plus the allocator's and the thread pools' share, whatever the table's size.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

import azof
import memory_probe
from memory_probe import MIB, SCHEMA

MERGE_ROWS = 50_000


def probe(lake: Path, *mode: str) -> tuple[int, int]:
    return memory_probe.probe(lake, "big", *mode)


def events(ids: np.ndarray[tuple[int], np.dtype[np.int64]], start: str, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    times = np.datetime64(start, "ms") + rng.integers(0, 86_400_000, len(ids)).astype(
        "timedelta64[ms]"
    )
    return pa.table(
        {
            "key": ids,
            "event_time": pa.array(times).cast(pa.timestamp("ms", tz="UTC")),
            "payload": pa.array(
                np.char.add("payload-", np.char.zfill(ids.astype(str), 24)).astype(object)
            ),
            "amount": rng.random(len(ids)),
        }
    )


def build(lake: Path, keys: int, policy: azof.CompactionPolicy) -> None:
    table = azof.Lakehouse(lake).create_table("big", SCHEMA)
    ids = np.arange(keys, dtype=np.int64)
    table.append(events(ids, "2024-01-01", 1))
    table.append(events(ids, "2024-02-01", 2))
    table.compact(policy)
    assert table.bucket_count() == 1
    updated = np.random.default_rng(3).choice(ids, keys // 20, replace=False)
    table.append(events(np.sort(updated), "2024-03-01", 4))  # pending: merged at read time


def peaks(lake: Path, keys: int) -> tuple[int, int]:
    """(whole scan, streaming scan) peak memory above an idle process, in bytes."""
    _, idle = probe(lake, "idle")
    rows, whole = probe(lake, "scan")
    streamed_rows, streamed = probe(lake, "stream", str(MERGE_ROWS))
    assert rows == streamed_rows == keys
    return whole - idle, streamed - idle


def test_streaming_scan_memory_is_bounded_by_merge_rows(tmp_path: Path) -> None:
    small, large = tmp_path / "small", tmp_path / "large"
    small.mkdir()
    large.mkdir()
    build(small, 400_000, azof.CompactionPolicy())  # the default: one bucket
    build(large, 1_600_000, azof.CompactionPolicy(buckets=1))
    whole_small, stream_small = peaks(small, 400_000)
    whole_large, stream_large = peaks(large, 1_600_000)
    sizes = (whole_small, stream_small, whole_large, stream_large)
    assert whole_large - whole_small > 128 * MIB, sizes  # the whole answer grows with the keys
    # the stream merges a range of about MERGE_ROWS rows at a time: 4x the keys adds
    # little to its peak, which stays far below the whole read's
    assert stream_large - stream_small < (whole_large - whole_small) / 4, sizes
    assert stream_large < whole_large / 2, sizes


def test_sql_aggregates_stream_in_bounded_memory(tmp_path: Path) -> None:
    """``SELECT count(*), avg(amount)`` over the current state (1M keys: 20x the merge
    setting) run by DataFusion and by DuckDB: each table reference is streamed to the
    engine, so the peak above idle stays within 2x that of the bounded ``to_batches``
    stream of the same table, and far below reading the state whole."""
    build(tmp_path, 1_000_000, azof.CompactionPolicy(buckets=1))
    _, idle = probe(tmp_path, "idle")
    rows, streamed = probe(tmp_path, "stream", str(MERGE_ROWS))
    _, whole = probe(tmp_path, "scan")
    assert rows == 1_000_000
    stream_above, whole_above = streamed - idle, whole - idle
    for engine in ("datafusion", "duckdb"):
        _, engine_idle = probe(tmp_path, "idle", engine)  # the engine's library loaded
        counted, peak = probe(tmp_path, engine, str(MERGE_ROWS))
        assert counted == rows
        above = peak - engine_idle
        sizes = (engine, above // MIB, stream_above // MIB, whole_above // MIB)
        assert above < 2 * stream_above, sizes
        assert above < whole_above / 2, sizes
