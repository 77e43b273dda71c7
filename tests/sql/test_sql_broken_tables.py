"""One unreadable table folder does not stop queries that do not name it, in both engines;
a query naming it fails with that table's own error."""

from __future__ import annotations

from pathlib import Path

import pytest

import azof
import azof.duckdb
from azof.sql import ExecutionContext
from broken_lake import build_broken_lake

duckdb = pytest.importorskip("duckdb")


def test_queries_skip_broken_tables(tmp_path: Path) -> None:
    lake = azof.Lakehouse(build_broken_lake(tmp_path / "lake"))
    query = "SELECT key FROM good JOIN odd USING (key)"
    ctx = ExecutionContext(lake)
    assert ctx.tables() == ["badhint", "good", "odd", "truncated"]
    assert ctx.sql(query).to_pylist() == [{"key": "a"}]
    con = duckdb.connect()
    try:
        assert azof.duckdb.sql(con, lake, query).fetchall() == [("a",)]
        for run in (lambda q: ctx.sql(q), lambda q: azof.duckdb.sql(con, lake, q)):
            with pytest.raises(azof.CorruptTableError, match=r"table 'badhint': version\.txt"):
                run("SELECT * FROM good, badhint")
            with pytest.raises(azof.CorruptTableError, match=r"table 'truncated': s1\.json"):
                run("SELECT * FROM truncated AT ('2024-01-01')")
    finally:
        con.close()
