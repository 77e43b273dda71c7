"""``ALTER TABLE`` through :class:`azof.ExecutionContext`: one evolve commit per statement."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

import azof

SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("event_time", pa.timestamp("ms", "UTC")),
        ("px", pa.float32()),
        ("volume", pa.int32()),
        ("legacy", pa.string()),
    ]
)


@pytest.fixture
def context() -> azof.ExecutionContext:
    lake = azof.Lakehouse(f"memory://{uuid.uuid4().hex}")
    table = lake.create_table("Prices", SCHEMA)
    table.append([{"key": "a", "event_time": "2024-01-01", "px": 1.5, "volume": 10,
                   "legacy": "x"}])  # fmt: skip
    return azof.ExecutionContext(lake)


def query(context: azof.ExecutionContext, sql: str) -> list[dict[str, Any]]:
    return list(context.sql(sql).to_arrow_table().to_pylist())


def test_alter_table_actions(context: azof.ExecutionContext) -> None:
    result = query(
        context,
        "ALTER TABLE prices ADD COLUMN qty BIGINT NOT NULL DEFAULT -1, DROP legacy, "
        "RENAME COLUMN px TO price, ALTER COLUMN volume SET DATA TYPE BIGINT, "
        "ADD d DECIMAL(10, 2) DEFAULT 1.5, ADD at TIMESTAMPTZ(3), ADD note VARCHAR",
    )
    assert result == [
        {
            "table": "Prices",
            "version": 2,
            "changes": "add qty int64 not null default -1; drop legacy; rename px to price; "
            "widen volume to int64; add d decimal128(10, 2) default '1.50'; "
            "add at timestamp[ms, tz=UTC]; add note string",
        }
    ]
    assert context.last_scans == []
    assert query(context, "SELECT * FROM prices") == [
        {"key": "a", "event_time": query(context, "SELECT event_time FROM prices")[0]["event_time"],
         "price": 1.5, "volume": 10, "qty": -1, "d": Decimal("1.50"), "at": None, "note": None}
    ]  # fmt: skip
    old = context.sql("SELECT * FROM prices AT (VERSION => 1)").to_arrow_table()
    assert old.column_names == ["key", "event_time", "px", "volume", "legacy"]
    assert query(context, "SELECT price + volume AS total FROM prices") == [{"total": 11.5}]


@pytest.mark.parametrize(
    ("sql", "error", "message"),
    [
        ("ALTER TABLE prices RENAME TO x", azof.InvalidArgumentError, "RENAME TO x is not"),
        ("ALTER TABLE prices ALTER COLUMN volume TYPE SMALLINT", azof.InvalidArgumentError,
         "cannot narrow column 'volume' from int32 to int16"),
        ("ALTER TABLE prices DROP COLUMN key", azof.InvalidArgumentError, "cannot drop column"),
        ("ALTER TABLE prices ADD c BIGINT NOT NULL", azof.InvalidArgumentError,
         "not nullable without a default"),
        ("ALTER TABLE prices ADD c BIGINT UNIQUE", azof.InvalidArgumentError, "UNIQUE is not"),
        ("ALTER TABLE prices ADD c INTERVAL", azof.InvalidArgumentError, "INTERVAL is not"),
        ("ALTER TABLE prices ADD c BIGINT DEFAULT 1 + 1", azof.InvalidArgumentError,
         "not a literal"),
        ("ALTER TABLE prices ADD px DOUBLE, DROP COLUMN legacy", azof.InvalidArgumentError,
         "already has a column 'px'"),
        ("ALTER TABLE nope DROP COLUMN x", azof.TableNotFoundError, "ALTER TABLE nope"),
        ("ALTER TABLE db.prices DROP COLUMN x", azof.InvalidArgumentError, "name a table"),
    ],
)  # fmt: skip
def test_refusals_leave_the_table_unchanged(
    context: azof.ExecutionContext, sql: str, error: type[Exception], message: str
) -> None:
    table = context.lakehouse.table("Prices")
    with pytest.raises(error, match=message):
        context.sql(sql)
    assert table.refresh().version == 1
    assert table.schema == SCHEMA.remove(0).insert(0, pa.field("key", pa.string(), False)).set(
        1, pa.field("event_time", pa.timestamp("ms", "UTC"), False)
    )


def test_alter_table_in_duckdb(context: azof.ExecutionContext) -> None:
    duckdb = pytest.importorskip("duckdb")
    import azof.duckdb

    con = duckdb.connect()
    try:
        lake = context.lakehouse
        # DuckDB's grammar takes one action per ALTER TABLE statement
        done = azof.duckdb.sql(con, lake, "ALTER TABLE prices ADD COLUMN qty BIGINT DEFAULT 7")
        assert done.fetchall() == [("Prices", 2, "add qty int64 default 7")]
        done = azof.duckdb.sql(con, lake, "ALTER TABLE prices DROP legacy")
        assert done.fetchall() == [("Prices", 3, "drop legacy")]
        assert azof.duckdb.sql(con, lake, "SELECT key, qty FROM prices").fetchall() == [("a", 7)]
        old = azof.duckdb.sql(con, lake, "SELECT * FROM prices AT (VERSION => 1)")
        assert old.columns == ["key", "event_time", "px", "volume", "legacy"]
        # DuckDB's own tables are altered by DuckDB
        con.sql("CREATE TABLE mine (a INTEGER)")
        azof.duckdb.sql(con, lake, "ALTER TABLE mine ADD COLUMN b VARCHAR")
        assert con.sql("SELECT * FROM mine").columns == ["a", "b"]
        with pytest.raises(azof.InvalidArgumentError, match="cannot narrow"):
            azof.duckdb.sql(con, lake, "ALTER TABLE prices ALTER COLUMN volume TYPE SMALLINT")
        assert lake.table("Prices").version == 3
    finally:
        con.close()
