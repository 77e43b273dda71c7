"""The operations the harness interleaves, the small table they start from, and a naive
oracle of what each acknowledged operation does to the table's state.

The oracle's state is the list of every row written (in commit-version order), the value
column names and the policy marker (``max_deltas``); the answer of a state is computed with
:func:`naive.latest_per_key`. Replaying the acknowledged operations in the order of the
versions they returned gives the state every version must answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from azof import CompactionPolicy, Lakehouse
from azof.table import Table
from naive import latest_per_key

__all__ = [
    "AS_OF",
    "KINDS",
    "NAME",
    "RESTORE_TARGET",
    "SETUP_STATES",
    "Ack",
    "Answer",
    "Op",
    "State",
    "answer_of",
    "as_datetime",
    "build_base",
    "expected_answer",
]

NAME = "t"
KINDS = ("append", "delete", "compact", "vacuum", "restore", "evolve", "set_policy")
SCHEMA = pa.schema(
    [("key", pa.string()), ("event_time", pa.timestamp("ms", tz="UTC")), ("px", pa.float64())]
)
DEFAULT_MAX_DELTAS = CompactionPolicy().max_deltas


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def as_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


AS_OF = _ms("2024-03-15")
"""The event time of the as-of answer checked besides the current one."""
LATE = _ms("2023-11-01")
DELETE_AT = _ms("2024-04-20")

Row = dict[str, Any]
Answer = tuple[tuple[str, ...], tuple[tuple[Any, ...], ...]]
"""Value column names, then (key, event time in ms, values...) per key, sorted by key."""


@dataclass(frozen=True)
class State:
    rows: tuple[Row, ...] = ()
    columns: tuple[str, ...] = ("px",)
    max_deltas: int = DEFAULT_MAX_DELTAS


def _row(key: str, at: int, value: float) -> Row:
    return {"key": key, "event_time": at, "value": float(value)}


def expected_answer(state: State, as_of: int | None = None) -> Answer:
    latest = latest_per_key(state.rows, as_of)
    filler = (None,) * (len(state.columns) - 1)
    rows = tuple(
        sorted((key, row["event_time"], row["value"], *filler) for key, row in latest.items())
    )
    return state.columns, rows


def answer_of(table: pa.Table) -> Answer:
    """An azof answer (key, event_time, value columns) in the oracle's form."""
    names = tuple(table.column_names[2:])
    times = table.column("event_time").cast(pa.int64()).to_pylist()
    keys = table.column("key").to_pylist()
    values = [table.column(name).to_pylist() for name in names]
    rows = tuple(sorted(zip(keys, times, *values, strict=True)))
    return names, rows


@dataclass(frozen=True)
class Ack:
    """What an operation acknowledged: the version it returned (``None``: no commit) and
    what the oracle needs to replay it."""

    op: Op
    version: int | None
    renamed: str | None = None  # evolve: the column it renamed


# The table every scenario starts from: versions 0..5 (restore goes back to version 2).
_SETUP_ROWS: tuple[tuple[Row, ...], ...] = (
    (_row("A", _ms("2024-01-10"), 1), _row("B", _ms("2024-01-10"), 10)),
    (_row("C", _ms("2024-02-10"), 20),),
    (_row("A", _ms("2024-01-10"), -999), _row("D", _ms("2024-04-10"), 30)),
)
RESTORE_TARGET = 2


def _setup_states() -> dict[int, State]:
    states = {0: State()}
    rows = _SETUP_ROWS[0] + _SETUP_ROWS[1]
    states[1] = State(rows=rows)  # one append of A, B, C
    states[2] = states[1]  # compact
    states[3] = State(rows=rows + _SETUP_ROWS[2])  # the -999 correction, D
    tomb = {"key": "B", "event_time": _ms("2024-03-01"), "value": None, "_deleted": True}
    states[4] = State(rows=(*states[3].rows, tomb))  # delete B
    states[5] = State(rows=(*states[4].rows, _row("E", _ms("2023-12-01"), 40)))  # late row
    return states


SETUP_STATES = _setup_states()


def build_base(lake: Lakehouse) -> None:
    """Create the starting table (versions 0..5 of :data:`SETUP_STATES`) in ``lake``."""
    table = lake.create_table(NAME, SCHEMA)
    table.append([_user_row(r, "px") for r in _SETUP_ROWS[0] + _SETUP_ROWS[1]])
    table.compact()
    table.append([_user_row(r, "px") for r in _SETUP_ROWS[2]])
    table.delete(["B"], event_time=as_datetime(_ms("2024-03-01")))
    table.append([_user_row(_row("E", _ms("2023-12-01"), 40), "px")])
    assert table.version == max(SETUP_STATES)


def _user_row(row: Row, column: str) -> dict[str, Any]:
    return {"key": row["key"], "event_time": as_datetime(row["event_time"]), column: row["value"]}


@dataclass(frozen=True)
class Op:
    """One operation of a schedule: ``kind`` (one of :data:`KINDS`) and a unique number
    ``uid`` that marks what it writes (keys, values, column names, policy)."""

    kind: str
    uid: int
    retain: int = 1  # vacuum: retain_versions

    @property
    def name(self) -> str:
        extra = f"(retain={self.retain})" if self.kind == "vacuum" else ""
        return f"{self.kind}{extra}#{self.uid}"

    # -- what it writes ----------------------------------------------------------------------

    def rows(self) -> tuple[Row, ...]:
        """Rows an append writes: a new key of late data, a correction of C's row and a
        newer row of A."""
        u = self.uid
        return (
            _row(f"n{u}", LATE, u),
            _row("C", _ms("2024-02-10"), 1000 + u),
            _row("A", _ms("2024-06-01") + u * 1000, 2000 + u),
        )

    @property
    def max_deltas(self) -> int:
        return 100 + self.uid

    # -- running it --------------------------------------------------------------------------

    def run(self, table: Table, grace: Callable[[], timedelta]) -> Ack:
        if self.kind == "append":
            column = table.schema.names[2]
            return Ack(self, table.append([_user_row(r, column) for r in self.rows()]))
        if self.kind == "delete":
            return Ack(self, table.delete(["C", "D"], event_time=as_datetime(DELETE_AT)))
        if self.kind == "compact":
            return Ack(self, table.compact().version)
        if self.kind == "vacuum":
            table.vacuum(retain_versions=self.retain, grace=grace())
            return Ack(self, None)  # a commit of its own, if any, changes no state
        if self.kind == "restore":
            return Ack(self, table.restore(version=RESTORE_TARGET))
        if self.kind == "evolve":
            update = table.evolve()
            first = update.schema.names[2]
            update = update.add_column(f"c{self.uid}", pa.string())
            version = update.rename_column(first, f"v{self.uid}").commit()
            return Ack(self, version, renamed=first)
        if self.kind == "set_policy":
            policy = CompactionPolicy(segment="month", max_deltas=self.max_deltas)
            return Ack(self, table.set_policy(policy))
        raise ValueError(f"unknown operation kind {self.kind!r}")

    # -- the oracle ----------------------------------------------------------------------------

    def apply(self, state: State, ack: Ack) -> State:
        """The state after this operation landed on ``state``."""
        if self.kind == "append":
            return replace(state, rows=state.rows + self.rows())
        if self.kind == "delete":
            tombs = tuple(
                {"key": key, "event_time": DELETE_AT, "value": None, "_deleted": True}
                for key in ("C", "D")
            )
            return replace(state, rows=state.rows + tombs)
        if self.kind == "restore":
            target = SETUP_STATES[RESTORE_TARGET]
            return replace(state, rows=target.rows, columns=target.columns)
        if self.kind == "evolve":
            columns = tuple(f"v{self.uid}" if c == ack.renamed else c for c in state.columns)
            return replace(state, columns=(*columns, f"c{self.uid}"))
        if self.kind == "set_policy":
            return replace(state, max_deltas=self.max_deltas)
        return state  # compact, vacuum: the same state

    def marks(self) -> tuple[set[str], set[str], set[int]]:
        """Keys, column names and policy markers only this operation writes."""
        if self.kind == "append":
            return {f"n{self.uid}"}, set(), set()
        if self.kind == "evolve":
            return set(), {f"c{self.uid}", f"v{self.uid}"}, set()
        if self.kind == "set_policy":
            return set(), set(), {self.max_deltas}
        return set(), set(), set()
