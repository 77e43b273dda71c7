"""A full streaming scan keeps peak memory bounded by a bucket, not by the table.

Two tables of 400k and 1.6M keys are compacted into buckets of at most 50k keys. In a
fresh process, reading the current state whole (``scan``) grows with the table; reading
it through ``to_batches`` must not: its peak stays about the same for 4x the keys.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

import azof

PROBE = str(Path(__file__).with_name("memory_probe.py"))
MIB = 1024 * 1024


def probe(lake: Path, mode: str) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, PROBE, str(lake), "big", mode],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout.split()
    return int(out[0]), int(out[1])


def build(lake: Path, keys: int) -> None:
    table = azof.Lakehouse(lake).create_table(
        "big",
        pa.schema(
            [
                ("key", pa.int64()),
                ("event_time", pa.timestamp("ms", tz="UTC")),
                ("payload", pa.string()),
                ("amount", pa.float64()),
            ]
        ),
    )
    rng = np.random.default_rng(1)
    for month in range(2):
        ids = np.arange(keys, dtype=np.int64)
        times = (
            np.datetime64("2024-01-01", "ms")
            + np.timedelta64(31 * month, "D")
            + (rng.integers(0, 86_400_000, keys).astype("timedelta64[ms]"))
        )
        table.append(
            pa.table(
                {
                    "key": ids,
                    "event_time": pa.array(times).cast(pa.timestamp("ms", tz="UTC")),
                    "payload": pa.array(np.char.add("payload-", ids.astype(str)).astype(object)),
                    "amount": rng.random(keys),
                }
            )
        )
    table.compact(azof.CompactionPolicy(segment="month", bucket_keys=50_000))


def peaks(lake: Path, keys: int) -> tuple[int, int]:
    """(whole scan, streaming scan) peak memory above an idle process, in bytes."""
    _, idle = probe(lake, "idle")
    rows, whole = probe(lake, "scan")
    streamed_rows, streamed = probe(lake, "stream")
    assert rows == streamed_rows == keys
    return whole - idle, streamed - idle


def test_streaming_scan_memory_does_not_grow_with_the_table(tmp_path: Path) -> None:
    small, large = tmp_path / "small", tmp_path / "large"
    small.mkdir()
    large.mkdir()
    build(small, 400_000)
    build(large, 1_600_000)
    whole_small, stream_small = peaks(small, 400_000)
    whole_large, stream_large = peaks(large, 1_600_000)
    assert whole_large - whole_small > 32 * MIB  # the whole answer grows with the keys
    # the stream holds one bucket at a time: 4x the keys adds little to its peak
    assert stream_large - stream_small < (whole_large - whole_small) / 4, (
        whole_small,
        stream_small,
        whole_large,
        stream_large,
    )
    assert stream_large < whole_large / 2
