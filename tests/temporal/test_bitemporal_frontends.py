"""A known_at column through SQL (``azof_asof_join(..., known_at => 'col')``) and the command
line (``azof asof-join --known-at COL``): the same rows as the Python API."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

import azof
from azof.timestamps import format_instant, instant_to_datetime

T0 = datetime(2024, 3, 1, tzinfo=UTC)
SCHEMA = pa.schema(
    [
        pa.field("key", pa.string()),
        pa.field("event_time", pa.timestamp("ms", tz="UTC")),
        pa.field("balance", pa.float64()),
    ]
)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def balances(lake: azof.Lakehouse) -> tuple[azof.Table, list[datetime]]:
    """100 on day 1, then a late row for day 3 (50), then a correction of day 1 (90)."""
    table = lake.create_table("balances", SCHEMA)
    commits = []
    for time, value in ((1, 100.0), (3, 50.0), (1, 90.0)):
        table.append([{"key": "acct", "event_time": day(time), "balance": value}])
        commits.append(instant_to_datetime(table.commit_time(table.version)))
    return table, commits


def labels(commits: list[datetime]) -> pa.Table:
    return pa.table(
        {
            "id": [1, 2, 3],
            "key": ["acct"] * 3,
            "ts": [day(2), day(4), day(2)],
            "seen": [commits[0], commits[1], commits[2]],
        }
    )


def test_sql_known_at_column(tmp_path: Path) -> None:
    lake = azof.Lakehouse(tmp_path)
    table, commits = balances(lake)
    left = labels(commits)
    want = table.asof_join(left, known_at="seen")
    assert want.column("balance").to_pylist() == [100.0, 50.0, 90.0]
    ctx = azof.ExecutionContext(lake)
    ctx.session.from_arrow(left, name="labels")
    got = ctx.sql(
        "SELECT * FROM azof_asof_join('balances', 'labels', known_at => 'seen') ORDER BY id"
    ).to_arrow_table()
    assert got.column("balance").to_pylist() == [100.0, 50.0, 90.0]
    instant = format_instant(table.commit_time(1))
    one = ctx.sql(
        "SELECT * FROM azof_asof_join('balances', 'labels', "
        f"known_at => TIMESTAMP '{instant}') ORDER BY id"
    ).to_arrow_table()
    assert one.column("balance").to_pylist() == [100.0, 100.0, 100.0]
    with pytest.raises(azof.InvalidArgumentError, match="neither a column"):
        ctx.sql("SELECT * FROM azof_asof_join('balances', 'labels', known_at => 'sean')")


def azof_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "azof", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_known_at_column(tmp_path: Path) -> None:
    (tmp_path / "lake").mkdir()
    lake = azof.Lakehouse(tmp_path / "lake")
    _, commits = balances(lake)
    left = labels(commits)
    text = left.set_column(3, "seen", pa.array([c.isoformat() for c in commits]))
    text = text.set_column(2, "ts", pa.array([day(t).isoformat() for t in (2, 4, 2)]))
    pcsv.write_csv(text, tmp_path / "labels.csv")
    base = ["asof-join", "--path", tmp_path / "lake", "--table", "balances"]
    done = azof_cli(*base, "--left", tmp_path / "labels.csv", "--known-at", "seen",
                    "-o", tmp_path / "out.parquet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.column("balance").to_pylist() == [100.0, 50.0, 90.0]
    done = azof_cli(*base, "--left", tmp_path / "labels.csv", "--known-at", "sean")
    assert done.returncode != 0
    assert "neither a column" in done.stderr
    assert "Traceback" not in done.stderr
