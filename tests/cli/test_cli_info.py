"""``azof info``, ``azof tables``, ``--help`` and ``--version`` through the console script."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

import azof
from broken_lake import build_broken_lake


def test_info_plain(azof_cli, seed: Path) -> None:
    result = azof_cli("info", "--path", seed, "--table", "table0")
    assert (result.code, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[0] == "table: table0"
    assert "version: 1 (latest)" in lines
    assert "versions: 1" in lines
    assert "data: files=2 rows=5 bytes=2036" in lines
    schema = lines[lines.index("schema:") + 1 : lines.index("segments:")]
    assert schema == [
        "  key\tstring\tnot null",
        "  event_time\ttimestamp[ms, tz=UTC]\tnot null",
        "  value\tstring",
    ]
    assert lines[lines.index("segments:") + 1 :] == [
        "  segment 10 [2024-01-01T00:00:00.000Z, open]",
        "    base base.parquet rows=2 size=997",
        "    delta delta1.parquet [2024-02-01T00:00:00.000Z, 2024-04-01T00:00:00.000Z] "
        "rows=3 size=1039",
    ]


def test_info_json_of_financials(azof_cli, seed: Path) -> None:
    result = azof_cli("info", "--path", seed, "--table", "financials", "--format", "json")
    assert (result.code, result.stderr) == (0, "")
    described = json.loads(result.stdout)
    assert described["version"] == described["latest_version"] == 1
    assert [c["name"] for c in described["schema"]] == [
        "key", "event_time", "industry", "revenue", "shares_diluted", "net_income",
    ]  # fmt: skip
    first = described["segments"][0]
    assert (first["id"], first["start"], first["end"]) == (
        "year_2000", "2000-01-01T00:00:00.000Z", "2000-12-31T23:59:59.999Z",
    )  # fmt: skip
    assert [s["id"] for s in first["segments"]] == [f"year_2000_q{q}" for q in range(1, 5)]
    assert first["base"][0]["rows"] > 0
    assert first["base"][0]["size"] > 0
    assert described["rows"] > 2_000_000
    assert described["deltas"] == []


def test_info_of_a_written_table_with_pending_deltas(azof_cli, tmp_path: Path) -> None:
    lake = azof.Lakehouse(tmp_path)
    schema = pa.schema(
        [("key", pa.string()), ("event_time", pa.timestamp("ms", "UTC")), ("amount", pa.int64())]
    )
    table = lake.create_table("events", schema)
    table.append([{"key": "a", "event_time": datetime(2024, 1, 1, tzinfo=UTC), "amount": 1}])
    table.compact()
    table.append([{"key": "b", "event_time": datetime(2024, 1, 5, tzinfo=UTC), "amount": 2}])
    table.delete("a", "2024-01-06")
    pending = table.snapshot.deltas
    assert len(pending) == 2

    result = azof_cli("info", "--path", tmp_path, "--table", "events", "--version", "3")
    assert (result.code, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert "version: 3 (latest: 4)" in lines
    assert "versions: 0-4" in lines
    tail = lines[lines.index("pending deltas (1):") :]
    assert tail == [
        "pending deltas (1):",
        f"  delta {pending[0].file} [2024-01-05T00:00:00.000Z, 2024-01-05T00:00:00.000Z] "
        f"rows=1 size={pending[0].size}",
    ]
    segments = lines[lines.index("segments:") + 1 : lines.index("pending deltas (1):")]
    assert segments
    assert segments[0].startswith("  segment ")
    assert all(" rows=1 " in line for line in segments if "parquet" in line)


def test_info_rich_tree(azof_cli, seed: Path) -> None:
    result = azof_cli(
        "info", "--path", seed, "--table", "table1",
        env={"AZOF_OUTPUT": "rich", "COLUMNS": "160", "NO_COLOR": "1"},
    )  # fmt: skip
    assert (result.code, result.stderr) == (0, "")
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    assert "Segments" in text
    assert "└── segment 10 [2024-01-01T00:00:00.000Z, open]" in text
    assert "├── delta delta1.parquet [2024-02-01T00:00:00.000Z" in text
    assert "timestamp[ms, tz=UTC]" in text


def test_tables(azof_cli, seed: Path, tmp_path: Path) -> None:
    result = azof_cli("tables", "--path", seed)
    assert (result.code, result.stdout, result.stderr) == (
        0, "financials\ntable0\ntable1\ntable2\n", "",
    )  # fmt: skip
    empty = azof_cli("tables", "--path", tmp_path)
    assert (empty.code, empty.stdout, empty.stderr) == (0, "", "")


def test_tables_with_broken_folders(azof_cli, tmp_path: Path) -> None:
    """One unreadable table folder hides no other table: it gets a warning line."""
    lake = build_broken_lake(tmp_path / "lake")
    result = azof_cli("tables", "--path", lake)
    assert (result.code, result.stdout) == (0, "good\nodd\n"), result
    assert result.stderr.splitlines() == [
        "warning: table 'badhint' is unreadable: version.txt holds 'garbage', not a snapshot "
        "number; write the number of the latest s<N>.json into it",
        "warning: table 'truncated' is unreadable: s1.json: not readable JSON (Unterminated "
        "string starting at: line 1 column 23 (char 22))",
    ]
    result = azof_cli("tables", "--path", lake, "--format", "json")
    assert result.code == 0, result
    listed = json.loads(result.stdout)
    assert (listed["command"], listed["tables"]) == ("tables", ["good", "odd"])
    assert sorted(listed["unreadable"]) == ["badhint", "truncated"]
    assert listed["unreadable"]["badhint"].startswith("version.txt holds 'garbage'")
    assert len(result.stderr.splitlines()) == 2  # the warnings still go to stderr
    result = azof_cli("sql", "--path", lake, "SELECT key FROM good JOIN odd USING (key)")
    assert (result.code, result.stdout, result.stderr) == (0, "key\na\n", ""), result
    result = azof_cli("sql", "--path", lake, "SELECT * FROM truncated")
    result.assert_clean_error("table 'truncated': s1.json: not readable JSON")


def test_help_and_version(azof_cli) -> None:
    top = azof_cli("--help")
    assert top.code == 0
    for command in ("info", "scan", "tables"):
        assert f"  {command} " in top.stdout
    for command in ("scan", "info", "tables"):
        page = azof_cli(command, "--help")
        assert page.code == 0
        assert "Examples:" in page.stdout
        assert f"azof {command} --path" in page.stdout
    version = azof_cli("--version")
    assert (version.code, version.stdout) == (0, f"azof {azof.__version__}\n")
