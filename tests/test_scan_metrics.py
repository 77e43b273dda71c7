"""ScanMetrics on local disk: bytes read are counted, and only files read are listed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

import azof


def test_local_scan_counts_bytes_and_lists_only_files_read(tmp_path: Path) -> None:
    table = azof.Lakehouse(tmp_path).create_table(
        "t",
        pa.schema([("key", pa.int64()), ("event_time", pa.timestamp("ms", "UTC")),
                   ("v", pa.string())]),
    )  # fmt: skip
    early = datetime(2024, 1, 1, tzinfo=UTC)
    late = datetime(2024, 6, 1, tzinfo=UTC)
    table.append({"key": list(range(100)), "event_time": [early] * 100, "v": ["x" * 20] * 100})
    table.append({"key": list(range(1000, 1100)), "event_time": [late] * 100, "v": ["y"] * 100})
    files = [f.file for f in table.snapshot.deltas]

    metrics = azof.ScanMetrics()
    assert table.scan(metrics=metrics).num_rows == 200
    assert metrics.files == files
    assert metrics.bytes_read > 0
    whole = metrics.bytes_read

    metrics = azof.ScanMetrics()
    table.scan(filter=pc.field("key") == 5, metrics=metrics)
    assert metrics.files_planned == 2
    assert metrics.files == files[:1]  # the other file's keys cannot match
    assert 0 < metrics.bytes_read < whole

    metrics = azof.ScanMetrics()
    table.scan(metrics=metrics, columns=["key"])
    assert 0 < metrics.bytes_read < whole  # the value column is not read


def test_explain_shows_bytes_read(tmp_path: Path) -> None:
    from azof.sql import ExecutionContext

    table = azof.Lakehouse(tmp_path).create_table(
        "t", pa.schema([("key", pa.int64()), ("event_time", pa.timestamp("ms", "UTC"))])
    )
    table.append({"key": [1, 2], "event_time": [datetime(2024, 1, 1, tzinfo=UTC)] * 2})
    context = ExecutionContext(azof.Lakehouse(tmp_path))
    context.sql("SELECT count(*) FROM t").to_arrow_table()
    scan = context.last_scans[0]
    assert scan.metrics.bytes_read > 0
