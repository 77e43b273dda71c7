"""Compaction's peak memory does not grow with the table's history.

Two tables hold the same 20k keys; the second has 4x the events (16 months instead of 4,
the same events per month). In a fresh process, reading every event at once grows with
the history; a compaction (thresholds scaled down to these sizes) holds a few input files,
one month of one bucket and every key's latest row, so 4x the events must add little to
its peak.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

import azof
import memory_probe
from memory_probe import MIB, SCHEMA

KEYS = 20_000
PER_MONTH = 150_000


def probe(lake: Path, mode: str) -> tuple[int, int]:
    return memory_probe.probe(lake, "events", mode)


def build(lake: Path, months: int) -> None:
    """``months`` monthly appends of ``PER_MONTH`` events of ``KEYS`` keys, each with a few
    late events reaching back to the first month."""
    table = azof.Lakehouse(lake).create_table("events", SCHEMA)
    rng = np.random.default_rng(months)
    for month in range(months):
        days = rng.integers(31 * month, 31 * month + 28, PER_MONTH)
        late = rng.random(PER_MONTH) < 0.02
        days[late] = rng.integers(0, 31 * month + 1, int(late.sum()))
        millis = days * 86_400_000 + rng.integers(0, 86_400_000, PER_MONTH)
        ids = rng.integers(0, KEYS, PER_MONTH)
        table.append(
            pa.table(
                {
                    "key": ids,
                    "event_time": pa.array(
                        np.datetime64("2022-01-01", "ms") + millis.astype("timedelta64[ms]")
                    ).cast(pa.timestamp("ms", tz="UTC")),
                    "payload": pa.array(
                        np.char.add(
                            "a payload of an event, long enough to weigh on memory: ",
                            ids.astype(str),
                        ).astype(object)
                    ),
                    "amount": rng.random(PER_MONTH),
                }
            )
        )


def peaks(lake: Path, months: int) -> tuple[int, int]:
    """(all events read, compaction) peak memory above an idle process, in bytes."""
    _, idle = probe(lake, "idle")
    rows, history = probe(lake, "read")
    assert rows == months * PER_MONTH
    written, compaction = probe(lake, "compact")
    assert written > 0
    return history - idle, compaction - idle


def test_compaction_memory_does_not_grow_with_history(tmp_path: Path) -> None:
    short, long = tmp_path / "short", tmp_path / "long"
    short.mkdir()
    long.mkdir()
    build(short, 4)
    build(long, 16)
    history_short, compact_short = peaks(short, 4)
    history_long, compact_long = peaks(long, 16)
    grown = history_long - history_short
    assert grown > 64 * MIB  # holding the history grows with it
    # compaction holds a few files, a month of a bucket and the keys' latest rows
    assert compact_long - compact_short < grown / 4, (
        history_short,
        compact_short,
        history_long,
        compact_long,
    )
