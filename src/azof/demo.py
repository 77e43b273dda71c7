"""The demo lakehouse behind ``azof demo``: support tickets with late corrections.

A help desk records ticket events (opened, assigned, escalated, resolved). Some events
reach the lakehouse late: a batch loaded in March corrects what happened in January. One
ticket is deleted as spam. The demo writes this as three commits, compacts the table, and
answers "how many tickets were open, and in which state, as of T?" three ways:

- azof as of T (event time): the world as it was at T;
- the "latest row" mistake: take every ticket's current row and keep those with
  ``event_time <= T`` (tickets that changed after T vanish, and their old state is lost);
- commit-time travel (what Delta or Iceberg offer): the table as it was *known* at the
  first load, which misses the late corrections.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from azof.lakehouse import Lakehouse
from azof.table import Table

__all__ = ["DEMO_TIMES", "DemoReport", "build_demo"]

_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("key", pa.string()),
    ("event_time", pa.timestamp("ms", tz="UTC")),
    ("status", pa.string()),
    ("priority", pa.string()),
    ("assignee", pa.string()),
]
SCHEMA = pa.schema(_COLUMNS)
DEMO_TIMES = ("2024-01-15", "2024-02-01", "2024-02-15", "2024-03-01")
_START = datetime(2024, 1, 2, 9, tzinfo=UTC)
_AGENTS = ("ana", "bo", "chen", "dee")


@dataclass
class DemoReport:
    """What the demo wrote and what it found."""

    path: str
    table: str
    rows_written: int
    versions: list[int]
    first_load_version: int
    status_as_of: dict[str, Counter[str]] = field(default_factory=dict)
    """azof: tickets by status as of each time (event time)."""
    status_latest_row: dict[str, Counter[str]] = field(default_factory=dict)
    """The mistake: current rows filtered by event_time <= T."""
    status_first_load: dict[str, Counter[str]] = field(default_factory=dict)
    """Commit-time travel: as of T, as known right after the first load."""

    def unresolved(self, counts: Counter[str]) -> int:
        return sum(n for status, n in counts.items() if status != "resolved")


def _events(rng: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(on-time events, late corrections) for 60 tickets over January-March 2024."""
    on_time: list[dict[str, Any]] = []
    late: list[dict[str, Any]] = []
    for number in range(1, 61):
        key = f"T-{number:03d}"
        when = _START + timedelta(hours=rng.randrange(0, 24 * 50))
        priority = rng.choice(("low", "normal", "normal", "high"))
        on_time.append(_row(key, when, "open", priority, None))
        when += timedelta(hours=rng.randrange(2, 72))
        agent = rng.choice(_AGENTS)
        on_time.append(_row(key, when, "in_progress", priority, agent))
        if rng.random() < 0.3:  # escalation recorded late, dated when it happened
            escalated = when + timedelta(hours=rng.randrange(1, 48))
            late.append(_row(key, escalated, "escalated", "high", agent))
            when = escalated
        if rng.random() < 0.75:
            when += timedelta(hours=rng.randrange(12, 24 * 20))
            on_time.append(_row(key, when, "resolved", priority, agent))
    return on_time, late


def _row(
    key: str, when: datetime, status: str, priority: str, assignee: str | None
) -> dict[str, Any]:
    return {
        "key": key,
        "event_time": when,
        "status": status,
        "priority": priority,
        "assignee": assignee,
    }


def build_demo(path: str | Path, *, table_name: str = "tickets") -> DemoReport:
    """Create (or recreate) the demo table under ``path`` and compute the comparisons."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    lake = Lakehouse(folder)
    name = table_name
    if name in lake.tables():
        name = f"{table_name}_{datetime.now(UTC):%Y%m%d%H%M%S}"
    table = lake.create_table(name, SCHEMA)
    on_time, late = _events(random.Random(42))
    first = table.append(on_time)  # the regular load
    table.append(late)  # March: corrections dated in January and February
    table.delete(["T-013"], event_time="2024-02-10")  # spam, removed
    table.compact()
    report = DemoReport(
        str(folder.resolve()), name, len(on_time) + len(late) + 1, table.versions(), first
    )
    current = table.scan(columns=["key", "event_time", "status"]).to_pylist()
    for when in DEMO_TIMES:
        report.status_as_of[when] = _statuses(table, when, None)
        cutoff = datetime.fromisoformat(when).replace(tzinfo=UTC)
        report.status_latest_row[when] = Counter(
            r["status"] for r in current if r["event_time"] <= cutoff
        )
        report.status_first_load[when] = _statuses(table, when, first)
    return report


def _statuses(table: Table, when: str, version: int | None) -> Counter[str]:
    rows = table.scan(when, columns=["status"], version=version).to_pylist()
    return Counter(r["status"] for r in rows)
