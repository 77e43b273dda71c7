"""``--format json`` on every command that changes or checks a table: one JSON object per
run, with the keys docs/cli.md documents; and honest row counts in ``write`` and ``gen``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import azof

SCHEMA = "key:string, event_time:timestamp[ms, tz=UTC], px:float64"


def one_object(result: Any, command: str) -> dict[str, Any]:
    """The single JSON object on stdout (nothing else there), naming ``command``."""
    assert result.code == 0, result
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    data = json.loads(lines[0])
    assert isinstance(data, dict)
    assert data["command"] == command
    return data


def test_every_change_command_prints_one_json_object(azof_cli, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    base = ["--path", lake, "--table", "prices"]
    created = one_object(azof_cli("create", *base, "--schema", SCHEMA, "-f", "json"), "create")
    assert created | {"lakehouse": None} == {
        "command": "create",
        "table": "prices",
        "lakehouse": None,
        "created": True,
        "version": 0,
        "schema": [
            {"name": "key", "type": "string", "nullable": False},
            {"name": "event_time", "type": "timestamp[ms, tz=UTC]", "nullable": False},
            {"name": "px", "type": "double", "nullable": True},
        ],
    }

    data = tmp_path / "prices.csv"
    data.write_text(
        "key,event_time,px\n"
        "A,2024-01-01,1\n"
        "B,2024-01-01,2\n"
        "A,2024-01-01,1.5\n"  # same key and event time as row 1: replaces it
        "A,2024-01-02,3\n"
    )
    wrote = one_object(azof_cli("write", *base, data, "--format", "json"), "write")
    assert wrote["seconds"] >= 0
    assert {k: v for k, v in wrote.items() if k != "seconds"} == {
        "command": "write",
        "table": "prices",
        "created": False,
        "inputs": [str(data)],
        "bytes": data.stat().st_size,
        "rows_read": 4,
        "rows_stored": 3,
        "rows_replaced": 1,
        "commits": 1,
        "versions": [1],
        "version": 1,
    }
    text = azof_cli("write", *base, data)
    assert text.stdout == (
        "wrote 1 file to prices: 4 rows read, 3 stored (1 replaced an earlier row of the same "
        "key and event time) in 1 commit (version 2)\n"
    )

    deleted = one_object(
        azof_cli("delete", *base, "B", "--event-time", "2024-01-03", "-f", "json"), "delete"
    )
    assert (deleted["version"], deleted["keys"]) == (3, 1)
    assert deleted["event_time"] == "2024-01-03T00:00:00.000Z"

    altered = one_object(
        azof_cli("alter", *base, "--add", "qty:int64", "--dry-run", "-f", "json"), "alter"
    )
    assert (altered["dry_run"], altered["version"], altered["changes"]) == (True, None, 1)
    altered = one_object(azof_cli("alter", *base, "--add", "qty:int64", "-f", "json"), "alter")
    assert (altered["version"], altered["schema"][-1]["name"]) == (4, "qty")

    compacted = one_object(azof_cli("compact", *base, "-f", "json"), "compact")
    assert compacted["version"] == 5
    assert compacted["files_removed"] == 3
    assert compacted["policy"]["segment"] == "quarter"
    assert compacted["policy_version"] is None

    verified = one_object(azof_cli("verify", *base, "-f", "json"), "verify")
    assert (verified["version"], verified["ok"]) == (5, True)
    assert verified["files"] >= 1
    assert verified["bytes"] > 0

    restored = one_object(azof_cli("restore", *base, "--version", "1", "-f", "json"), "restore")
    assert restored == {
        "command": "restore",
        "table": "prices",
        "restored_version": 1,
        "version": 6,
        "committed": True,
    }

    vacuumed = one_object(
        azof_cli("vacuum", *base, "--retain-versions", "1", "--grace", "0", "--dry-run", "-f",
                 "json"),
        "vacuum",
    )  # fmt: skip
    assert vacuumed["dry_run"] is True
    assert vacuumed["expired_versions"] == [0, 1, 2, 3, 4, 5]
    assert vacuumed["bytes"] > 0
    assert all(name.startswith("data/") for name in vacuumed["deleted_files"])

    listed = one_object(azof_cli("tables", "--path", lake, "-f", "json"), "tables")
    assert listed["tables"] == ["prices"]


def test_delete_names_the_instant_it_used(azof_cli, tmp_path: Path) -> None:
    """The default event time (now) and the words now/today: the instant, at the table's
    unit (ms here), in the text and the JSON."""
    base = ["--path", tmp_path / "lake", "--table", "t"]
    assert azof_cli("create", *base, "--schema", SCHEMA).code == 0
    before = datetime.now(UTC)
    deleted = one_object(azof_cli("delete", *base, "A", "-f", "json"), "delete")
    used = datetime.fromisoformat(deleted["event_time"])
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= used
    assert used <= datetime.now(UTC)
    assert len(deleted["event_time"]) == len("2024-01-01T00:00:00.000Z")
    result = azof_cli("delete", *base, "A", "--event-time", "NOW")
    assert result.code == 0, result
    assert result.stdout.startswith(f"deleted 1 key from t as of {before:%Y-%m-%d}T")
    result = azof_cli("delete", *base, "A", "--event-time", "today")
    midnight = datetime.now(UTC).strftime("%Y-%m-%dT00:00:00.000Z")
    assert result.stdout == f"deleted 1 key from t as of {midnight}: version 3\n"
    result = azof_cli("delete", *base, "A", "--event-time", "tomorrow")
    result.assert_clean_error("cannot read 'tomorrow' as a timestamp")
    assert result.code == 2


def test_log_json_nests_properties(azof_cli, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    assert azof_cli("create", "--path", lake, "--table", "t", "--schema", SCHEMA).code == 0
    data = tmp_path / "t.csv"
    data.write_text("key,event_time,px\nA,2024-01-01,1\n")
    assert azof_cli("write", "--path", lake, "--table", "t", data).code == 0
    result = azof_cli("log", "--path", lake, "--table", "t", "--format", "json")
    assert result.code == 0, result
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["properties"] for e in entries] == [None, {"source": "t.csv"}]


def test_gen_counts_what_it_stored(azof_cli, tmp_path: Path) -> None:
    result = azof_cli(
        "gen", "--path", tmp_path, "--table", "fin", "--kind", "financials", "--rows", "3000",
        "--keys", "5", "--start", "2024-01-01", "--end", "2024-01-03", "--period", "day",
        "-f", "json",
    )  # fmt: skip
    data = one_object(result, "gen")
    stored = sum(c.rows for c in azof.Lakehouse(tmp_path).table("fin").log())
    assert data["rows_read"] == 3000
    assert data["rows_stored"] == stored < 3000  # event times are days: they collide
    assert data["rows_replaced"] == 3000 - stored
    text = azof_cli(
        "gen", "--path", tmp_path, "--table", "fin2", "--kind", "financials", "--rows", "3000",
        "--keys", "5", "--start", "2024-01-01", "--end", "2024-01-03", "--period", "day",
    )  # fmt: skip
    assert text.stdout.startswith(
        f"generated financials table fin2: 3,000 rows read, {stored:,} stored ({3000 - stored:,} "
        "replaced an earlier row of the same key and event time), 5 keys, "
    ), text.stdout


def test_demo_json(azof_cli, tmp_path: Path) -> None:
    data = one_object(azof_cli("demo", "--path", tmp_path / "demo", "-f", "json"), "demo")
    assert data["table"] == "tickets"
    assert {"as_of", "unresolved"} <= set(data["as_of"][0])


def test_info_says_where_a_seed_commit_time_comes_from(azof_cli, seed: Path) -> None:
    result = azof_cli("info", "--path", seed, "--table", "table0", "--format", "json")
    assert json.loads(result.stdout)["commit_time_from"] == "file_modified"
    result = azof_cli("info", "--path", seed, "--table", "table0")
    notes = [line for line in result.stdout.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1
    assert "modification time" in notes[0]
    assert "cp -r" in notes[0]


def test_history_help_points_to_log(azof_cli) -> None:
    result = azof_cli("history", "--help")
    assert result.code == 0
    assert "azof log" in " ".join(result.stdout.split())


def test_table_history_help_names_the_commit_log() -> None:
    """deltalake's history() is the commit log: help(Table.history) points to Table.log."""
    doc = " ".join((azof.Table.history.__doc__ or "").split())
    assert "Not the commit log" in doc
    assert "Table.log" in doc


def test_azof_log_prints_the_logger_on_stderr(azof_cli, tmp_path: Path) -> None:
    base = ["--path", tmp_path / "lake", "--table", "t"]
    assert azof_cli("create", *base, "--schema", SCHEMA).code == 0
    data = tmp_path / "t.csv"
    data.write_text("key,event_time,px\nA,2024-01-01,1\n")
    result = azof_cli("write", *base, data, "-f", "json", env={"AZOF_LOG": "info"})
    assert one_object(result, "write")["version"] == 1  # stdout stays the result alone
    assert "INFO azof.table: table 't': committed version 1 (append: 1 rows" in result.stderr
    result = azof_cli("compact", *base, env={"AZOF_LOG": "DEBUG"})
    assert "INFO azof.compact.rewrite: table 't': compaction plan at version 1" in result.stderr
    result = azof_cli("tables", "--path", tmp_path / "lake", env={"AZOF_LOG": "loud"})
    assert (result.code, result.stdout) == (0, "t\n")
    assert result.stderr == (
        "warning: $AZOF_LOG='loud' is not DEBUG, INFO or WARNING; nothing is logged\n"
    )
    assert azof_cli("tables", "--path", tmp_path / "lake").stderr == ""
