"""The cases of the temporal table functions, shared by the tests of both engines
(``test_sql_temporal`` for DataFusion, ``test_sql_duckdb_temporal`` for DuckDB): the table
of docs/temporal.md (late data, a correction and a delete), the queries with the Python API
call each means, and the errors every engine reports alike."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

import azof
from azof.timestamps import format_instant

MS = pa.timestamp("ms", tz="UTC")


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Lake:
    """``prices`` (docs/temporal.md: v1 AAPL, MSFT; v2 delete MSFT on 2019-03-01; v3 a
    correction of AAPL on 2019-02-01 and late data on 2019-01-15) and ``trades`` (rows to
    join: v1 AAPL on Jan 20, MSFT on Mar 5; v2 MSFT on Feb 5)."""

    def __init__(self) -> None:
        self.lake = azof.Lakehouse(f"memory://sql-temporal-{uuid.uuid4().hex}")
        schema = pa.schema([("key", pa.string()), ("event_time", MS), ("price", pa.float64())])
        self.prices = self.lake.create_table("prices", schema)
        self.prices.append(
            [
                {"key": "AAPL", "event_time": day("2019-01-02"), "price": 157.9},
                {"key": "AAPL", "event_time": day("2019-02-01"), "price": 166.5},
                {"key": "MSFT", "event_time": day("2019-01-02"), "price": 101.1},
            ]
        )
        self.prices.delete("MSFT", day("2019-03-01"))
        self.prices.append(
            [
                {"key": "AAPL", "event_time": day("2019-02-01"), "price": 166.4},
                {"key": "AAPL", "event_time": day("2019-01-15"), "price": 150.0},
            ]
        )
        trades = pa.schema([("key", pa.string()), ("event_time", MS), ("qty", pa.int64())])
        self.trades = self.lake.create_table("trades", trades)
        self.trades.append(
            [
                {"key": "AAPL", "event_time": day("2019-01-20"), "qty": 5},
                {"key": "MSFT", "event_time": day("2019-03-05"), "qty": 7},
            ]
        )
        self.trades.append([{"key": "MSFT", "event_time": day("2019-02-05"), "qty": 9}])
        self.known_at = format_instant(self.prices.commit_time(1))


LEFT_CTE = """WITH l AS (
    SELECT * FROM (VALUES
        (1, 'MSFT', TIMESTAMP '2019-02-01'), (2, 'AAPL', TIMESTAMP '2018-12-31'),
        (3, 'AAPL', TIMESTAMP '2019-01-20'), (4, 'MSFT', TIMESTAMP '2019-03-01'),
        (5, 'IBM', TIMESTAMP '2019-02-01')) AS v(id, key, ts))
"""


def left_rows() -> pa.Table:
    """The rows of ``LEFT_CTE``, as DataFusion types them."""
    return pa.table(
        {
            "id": pa.array([1, 2, 3, 4, 5], pa.int64()),
            "key": ["MSFT", "AAPL", "AAPL", "MSFT", "IBM"],
            "ts": pa.array(
                [day(d).replace(tzinfo=None) for d in ("2019-02-01", "2018-12-31", "2019-01-20")]
                + [day(d).replace(tzinfo=None) for d in ("2019-03-01", "2019-02-01")],
                pa.timestamp("ns"),
            ),
        }
    )


Expected = Callable[[Lake], pa.Table]

# query (``{known_at}``: the commit time of version 1) -> the API call it means
FORMS: dict[str, tuple[str, Expected]] = {
    "history-all": (
        "SELECT * FROM azof_history('prices')",
        lambda lk: lk.prices.history(),
    ),
    "history-one-key": (
        "SELECT * FROM azof_history('prices', keys => 'AAPL')",
        lambda lk: lk.prices.history(["AAPL"]),
    ),
    "history-key-list": (
        "SELECT * FROM azof_history('prices', keys => 'AAPL, MSFT', end => '2019-02-01')",
        lambda lk: lk.prices.history(["AAPL", "MSFT"], end="2019-02-01"),
    ),
    "history-array-window": (
        "SELECT * FROM azof_history('prices', keys => ARRAY['MSFT'], start => '2019-02-15', "
        "end => TIMESTAMP '2019-04-01')",
        lambda lk: lk.prices.history(["MSFT"], "2019-02-15", "2019-04-01"),
    ),
    "history-positional": (
        "SELECT * FROM AZOF_HISTORY('prices', NULL, '2019-02-15', '2019-04-01')",
        lambda lk: lk.prices.history(None, "2019-02-15", "2019-04-01"),
    ),
    "history-version": (
        "SELECT * FROM azof_history('prices', 'AAPL', version => 1)",
        lambda lk: lk.prices.history("AAPL", version=1),
    ),
    "history-known-at": (
        "SELECT * FROM azof_history('prices', known_at => '{known_at}', columns => '')",
        lambda lk: lk.prices.history(known_at=lk.known_at, columns=[]),
    ),
    "changes": (
        "SELECT * FROM azof_changes('prices', '2019-02-01', '2019-04-01')",
        lambda lk: lk.prices.changes("2019-02-01", "2019-04-01"),
    ),
    "changes-open-start-version": (
        "SELECT * FROM azof_changes('prices', NULL, '2019-02-10', version => 2)",
        lambda lk: lk.prices.changes(None, "2019-02-10", version=2),
    ),
    "changes-named-keys": (
        "SELECT * FROM azof_changes(end => NULL, start => '2019-01-10', table => 'prices', "
        "keys => ARRAY['AAPL'], columns => ARRAY['price'])",
        lambda lk: lk.prices.changes("2019-01-10", None, ["AAPL"], columns=["price"]),
    ),
    "restatements": (
        "SELECT * FROM azof_restatements('prices', '2019-01-20', 2)",
        lambda lk: lk.prices.restatements("2019-01-20", 2),
    ),
    "restatements-named": (
        "SELECT * FROM azof_restatements('prices', as_of => '2019-02-10', since_version => 1)",
        lambda lk: lk.prices.restatements("2019-02-10", 1),
    ),
    "restatements-current-known-at": (
        "SELECT * FROM azof_restatements('prices', NULL, 0, known_at => '{known_at}')",
        lambda lk: lk.prices.restatements(None, 0, known_at=lk.known_at),
    ),
    "asof-join-cte": (
        LEFT_CTE + "SELECT * FROM azof_asof_join('prices', 'l', on => 'key', at => 'ts', "
        "columns => 'price,event_time')",
        lambda lk: lk.prices.asof_join(left_rows(), columns=["price", "event_time"]),
    ),
    "asof-join-cte-known-at": (
        LEFT_CTE + "SELECT * FROM azof_asof_join('prices', 'L', known_at => '{known_at}', "
        "prefix => 'p_')",
        lambda lk: lk.prices.asof_join(left_rows(), known_at=lk.known_at, prefix="p_"),
    ),
    "asof-join-lakehouse-table": (
        "SELECT * FROM azof_asof_join('prices', 'trades', 'key', 'event_time')",
        lambda lk: lk.prices.asof_join(lk.trades.scan(), at="event_time"),
    ),
    "asof-join-time-travel": (
        "SELECT * FROM azof_asof_join('prices', 'trades AT (''2019-02-10'')', "
        "at => 'event_time', version => 2, suffix => '_p')",
        lambda lk: lk.prices.asof_join(
            lk.trades.scan("2019-02-10"), at="event_time", version=2, suffix="_p"
        ),
    ),
}


ERRORS: list[tuple[str, type[Exception], tuple[str, ...]]] = [
    (
        "SELECT * FROM azof_history('nope')",
        azof.TableNotFoundError,
        ("no table 'nope'", "azof_history('nope')", "tables: prices, trades"),
    ),
    (
        "SELECT * FROM azof_history('prices', foo => 1)",
        azof.InvalidArgumentError,
        ("line 1, column 15", "unknown argument 'foo'", "keys, start, end"),
    ),
    (
        "SELECT *\nFROM azof_history('prices', start => '2019-02-30')",
        azof.InvalidArgumentError,
        ("line 2, column 6", "start: '2019-02-30' is not a valid timestamp"),
    ),
    (
        "SELECT * FROM azof_history('prices', version => 1, known_at => '2030-01-01')",
        azof.InvalidArgumentError,
        ("version or known_at, not both",),
    ),
    (
        "SELECT * FROM azof_history('prices', version => -1)",
        azof.InvalidArgumentError,
        ("version takes a whole number",),
    ),
    (
        "SELECT * FROM azof_history('prices', version => 7)",
        azof.VersionNotFoundError,
        ("azof_history('prices', version => 7)", "has no version 7"),
    ),
    (
        "SELECT * FROM azof_history('prices', known_at => '2000-01-01')",
        azof.VersionNotFoundError,
        ("before the first retained commit",),
    ),
    (
        "SELECT * FROM azof_history('prices', keys => upper('a'))",
        azof.InvalidArgumentError,
        ("keys: \"upper('a')\" is not a literal",),
    ),
    (
        "SELECT * FROM azof_history('prices', 'AAPL', keys => 'MSFT')",
        azof.InvalidArgumentError,
        ("keys is given twice",),
    ),
    (
        "SELECT * FROM azof_history('prices', columns => 'nope')",
        azof.InvalidArgumentError,
        ("azof_history('prices', columns => 'nope')", "no value column(s) 'nope'"),
    ),
    (
        "SELECT * FROM azof_history('prices', start => '2019-02-01', end => '2019-01-01')",
        azof.InvalidArgumentError,
        ("azof_history('prices', start => ",),
    ),
    (
        "SELECT * FROM azof_changes('prices', '2019-01-01')",
        azof.InvalidArgumentError,
        ("azof_changes needs end", "azof_changes(table, start, end, keys"),
    ),
    (
        "SELECT * FROM azof_changes('prices', NULL, NULL, NULL, NULL)",
        azof.InvalidArgumentError,
        ("at most 4 positional arguments",),
    ),
    (
        "SELECT * FROM azof_restatements('prices', as_of => NULL, 2)",
        azof.InvalidArgumentError,
        ("a positional argument follows a named one",),
    ),
    (
        "SELECT * FROM azof_restatements('prices', NULL, '2')",
        azof.InvalidArgumentError,
        ("since_version takes a whole number",),
    ),
    (
        "SELECT azof_changes('prices', NULL, NULL)",
        azof.InvalidArgumentError,
        ("azof_changes is a table function: call it in FROM or JOIN",),
    ),
    (
        "SELECT * FROM azof_asof_join('prices', 'nothing')",
        azof.TableNotFoundError,
        ("left 'nothing' is neither a CTE",),
    ),
    (
        "SELECT * FROM azof_asof_join('prices', 'trades')",
        azof.InvalidArgumentError,
        ("the left rows have no at column 'ts'",),
    ),
    (
        "SELECT * FROM azof_asof_join('prices', 'trades AT (''2019-13-01'')', at => 'x')",
        azof.InvalidArgumentError,
        ("left: \"trades AT ('2019-13-01')\": AT: '2019-13-01' is not a valid timestamp",),
    ),
    (
        "SELECT * FROM azof_asof_join('prices', 'trades WHERE 1 = 1')",
        azof.InvalidArgumentError,
        ("left 'trades WHERE 1 = 1' is not a table name",),
    ),
    (
        "SELECT * FROM azof_history('prices') AT ('2019-01-01')",
        azof.InvalidArgumentError,
        ("a time-travel clause must directly follow a lakehouse table name",),
    ),
]
"""Malformed calls and what the temporal functions refuse: each engine raises the same
error, naming the call (the errors of the engines themselves differ, and are tested apart)."""


def values(table: pa.Table) -> list[dict[str, Any]]:
    """The rows of ``table`` as Python values, in a canonical order, timestamps with a zone
    in UTC: what two engines agree on (DuckDB returns its own Arrow types, e.g. ``us``
    timestamps for ``ms`` ones; the values are the same)."""

    def canonical(value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(UTC)
        return value

    rows = [{k: canonical(v) for k, v in row.items()} for row in table.to_pylist()]
    return sorted(rows, key=lambda r: tuple(str(v) for v in r.values()))
