"""The naive oracle: what a scan "as of T" must answer, computed the slow, obvious way.

Nothing here uses azof. :func:`read_rows` and :class:`History` read every row of every
Parquet file of a table folder with plain ``pyarrow.parquet`` (no snapshot, no planning);
the answer is, per key, the row with the greatest ``event_time <= T``, picked in plain
Python. Write tests reuse :func:`latest_per_key` on the rows they wrote.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

__all__ = ["History", "Row", "latest_per_key", "parquet_files", "read_rows"]

Row = dict[str, Any]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _comparable(value: Any) -> Any:
    """An event time or as-of time in a form that compares with others of its kind:
    datetimes (naive ones, and ISO strings without offset, are UTC) or plain ints."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def latest_per_key(rows: Iterable[Row], as_of: Any) -> dict[Any, Row]:
    """Per key, the row with the greatest ``event_time <= as_of`` (``None``: no bound).

    Rows hold ``key`` and ``event_time`` (aware datetimes, or ints; ``as_of`` of the same
    kind) and optionally ``_deleted``: a key whose latest row is a tombstone is absent.
    Among rows of equal key and event time, the later one in ``rows`` wins.
    """
    bound = None if as_of is None else _comparable(as_of)
    latest: dict[Any, Row] = {}
    for row in rows:
        time = _comparable(row["event_time"])
        if bound is not None and time > bound:
            continue
        held = latest.get(row["key"])
        if held is None or time >= _comparable(held["event_time"]):
            latest[row["key"]] = row
    return {key: row for key, row in latest.items() if not row.get("_deleted", False)}


def parquet_files(folder: Path) -> list[Path]:
    """Every Parquet file of a table folder, in name order (snapshots are not read)."""
    return sorted(folder.glob("*.parquet"))


def read_rows(folder: Path) -> list[Row]:
    """Every row of every Parquet file of a table folder, as dicts (files in name order)."""
    return [row for path in parquet_files(folder) for row in pq.read_table(path).to_pylist()]


def _millis(as_of: datetime) -> int:
    """Whole milliseconds since the epoch, rounded down (an aware or UTC-naive datetime)."""
    delta: timedelta = _comparable(as_of) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000 + delta.microseconds // 1_000


class History:
    """Every row of every Parquet file of a table folder, indexed by key.

    For tables too big for :func:`latest_per_key` on dicts (the seed's financials): the same
    answer, but each as-of time costs one bisect per key. Event times must be
    ``timestamp[ms, UTC]``, as in the seed; there are no tombstones.
    """

    def __init__(self, folder: Path) -> None:
        tables = [pq.read_table(p).replace_schema_metadata(None) for p in parquet_files(folder)]
        self.table = pa.concat_tables(tables).combine_chunks()
        if self.table.schema.field("event_time").type != pa.timestamp("ms", tz="UTC"):
            raise TypeError("History reads event_time as timestamp[ms, UTC] only")
        keys = self.table.column("key").to_pylist()
        self._millis = self.table.column("event_time").cast(pa.int64()).to_pylist()
        rows_of_key: dict[Any, list[tuple[int, int]]] = {}
        for position, (key, time) in enumerate(zip(keys, self._millis, strict=True)):
            rows_of_key.setdefault(key, []).append((time, position))
        # Per key: event times ascending and the positions of their rows (on equal times,
        # the later row last).
        self._times: dict[Any, list[int]] = {}
        self._positions: dict[Any, list[int]] = {}
        for key in sorted(rows_of_key):
            entries = sorted(rows_of_key[key])
            self._times[key] = [time for time, _ in entries]
            self._positions[key] = [position for _, position in entries]
        # (key, event time) pairs whose rows disagree: the seed's financials holds five.
        values = [n for n in self.table.column_names if n not in ("key", "event_time")]
        counts = self.table.group_by(["key", "event_time"]).aggregate(
            [(name, "count_distinct", pc.CountOptions(mode="all")) for name in values]
        )
        disagree = pc.greater(
            pc.max_element_wise(*(counts[f"{n}_count_distinct"] for n in values)), 1
        )
        conflicts = counts.filter(disagree)
        self._conflicts = set(
            zip(
                conflicts.column("key").to_pylist(),
                conflicts.column("event_time").cast(pa.int64()).to_pylist(),
                strict=True,
            )
        )

    def _winners(self, as_of: datetime | None) -> dict[Any, list[int]]:
        """Per key (sorted), the positions of its rows at its greatest event time <= T."""
        bound = math.inf if as_of is None else _millis(as_of)
        winners: dict[Any, list[int]] = {}
        for key, times in self._times.items():
            end = bisect.bisect_right(times, bound)
            if end > 0:
                start = bisect.bisect_left(times, times[end - 1], 0, end)
                winners[key] = self._positions[key][start:end]
        return winners

    def latest_table(self, as_of: datetime | None) -> pa.Table:
        """``latest_per_key(read_rows(folder), as_of)`` as a table sorted by key."""
        winners = self._winners(as_of)
        return self.table.take(pa.array([p[-1] for p in winners.values()], pa.int64()))

    def latest(self, as_of: datetime | None) -> dict[Any, Row]:
        """``latest_per_key(read_rows(folder), as_of)``: on ties the later row wins."""
        return {row["key"]: row for row in self.latest_table(as_of).to_pylist()}

    def ties(self, as_of: datetime | None) -> dict[Any, list[Row]]:
        """The keys whose rows at their greatest event time <= T disagree, with those rows
        (distinct): any of them is a right answer."""
        ties: dict[Any, list[Row]] = {}
        winners = self._winners(as_of)
        for key, time in sorted(self._conflicts):
            positions = winners.get(key, [])
            if positions and self._millis[positions[-1]] == time:
                rows = self.table.take(pa.array(positions, pa.int64())).to_pylist()
                ties[key] = [row for i, row in enumerate(rows) if row not in rows[:i]]
        return ties
