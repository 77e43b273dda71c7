"""``azof compact``, ``azof vacuum`` and ``azof log`` through the console script."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pytest

import azof
from azof.cli import main

SCHEMA = pa.schema(
    [("key", pa.string()), ("event_time", pa.timestamp("ms", "UTC")), ("v", pa.int64())]
)
AS_OF = ["2024-01-15", "2024-02-10", "2024-02-29T23:59:59", "2024-04-01"]
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """Table ``events``: four appends over January-March 2024, one of them late."""
    table = azof.Lakehouse(tmp_path).create_table("events", SCHEMA)
    batches = [
        [("a", "2024-01-05", 1), ("b", "2024-01-20", 2)],
        [("a", "2024-02-03", 3), ("c", "2024-02-14", 4)],
        [("b", "2024-01-25", 5)],  # late: January, after February's load
        [("c", "2024-03-02", 6), ("d", "2024-03-30", 7)],
    ]
    for batch in batches:
        table.append([{"key": k, "event_time": t, "v": v} for k, t, v in batch])
    return tmp_path


def answers(lake: Path) -> list[list[dict[str, object]]]:
    table = azof.Lakehouse(lake).table("events")
    return [table.scan(t).sort_by("key").to_pylist() for t in [*AS_OF, None]]


def test_log_compact_vacuum(azof_cli, lake: Path) -> None:
    before = answers(lake)
    pending = {f.file for f in azof.Lakehouse(lake).table("events").snapshot.deltas}
    assert len(pending) == 4

    result = azof_cli(
        "log", "--path", lake, "--table", "events", "--format", "json", "--limit", "2"
    )
    assert (result.code, result.stderr) == (0, ""), result
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    assert [
        (e["version"], e["operation"], e["rows"], e["files"], e["parent"]) for e in entries
    ] == [
        (3, "append", 1, 1, 2),
        (4, "append", 2, 1, 3),
    ]
    assert all(RFC3339.match(e["time"]) for e in entries)

    result = azof_cli("compact", "--path", lake, "--table", "events", "--segment", "month")
    assert (result.code, result.stderr) == (0, ""), result
    assert result.stdout.splitlines() == [
        "policy: segment=month levels=year,month max_deltas=8 max_delta_rows=1000000 "
        "target_file_mb=128 auto=false",
        result.stdout.splitlines()[1],
    ]
    assert re.fullmatch(
        r"compacted events: version 5; rewrote 3 segments, \d+ rows in \d+ new files?, "
        r"4 files dropped",
        result.stdout.splitlines()[1],
    )
    table = azof.Lakehouse(lake).table("events")
    assert table.snapshot.deltas == ()
    assert answers(lake) == before

    result = azof_cli(
        "vacuum", "--path", lake, "--table", "events", "--retain-versions", "1", "--grace", "0s",
        "--dry-run",
    )  # fmt: skip
    assert (result.code, result.stderr) == (0, ""), result
    lines = result.stdout.splitlines()
    assert lines[:5] == [f"would expire version {v}" for v in range(5)]
    assert set(lines[5:-1]) == {f"would delete {name}" for name in pending}
    assert re.fullmatch(
        r"dry run: events: would expire 5 versions, would delete 4 files \([\d.]+ (bytes|kB)\)",
        lines[-1],
    )
    assert all((lake / "events" / name).exists() for name in pending)

    result = azof_cli(
        "vacuum", "--path", lake, "--table", "events", "--retain-versions", "1", "--grace", "0s"
    )
    assert (result.code, result.stderr) == (0, ""), result
    assert result.stdout.splitlines()[-1].startswith("events: expired 5 versions, deleted 4 files")
    assert not any((lake / "events" / name).exists() for name in pending)
    assert azof.Lakehouse(lake).table("events").versions() == [5]
    assert answers(lake) == before

    result = azof_cli("log", "--path", lake, "--table", "events")
    assert (result.code, result.stderr) == (0, ""), result
    header, row = result.stdout.splitlines()
    assert header == "version\ttime\toperation\trows\tfiles\tparent\tproperties"
    version, time, operation, rows, files, parent, properties = row.split("\t")
    assert (version, operation, parent, properties) == ("5", "compact", "4", "")
    assert RFC3339.match(time)
    assert int(rows) >= 7
    assert int(files) >= 3


def test_compact_stores_a_policy(azof_cli, lake: Path) -> None:
    result = azof_cli(
        "compact", "--path", lake, "--table", "events", "--levels", "year,quarter,month",
        "--max-deltas", "3", "--target-file-mb", "64", "--set-policy", "--auto",
    )  # fmt: skip
    assert (result.code, result.stderr) == (0, ""), result
    assert result.stdout.splitlines()[0] == (
        "stored the policy of events (version 5): segment=month levels=year,quarter,month "
        "max_deltas=3 max_delta_rows=1000000 target_file_mb=64 auto=true"
    )
    assert result.stdout.splitlines()[1].startswith("compacted events: version 6;")
    table = azof.Lakehouse(lake).table("events")
    assert table.policy == azof.CompactionPolicy(
        segment="month", levels=("year", "quarter", "month"), max_deltas=3, target_file_mb=64,
        auto=True,
    )  # fmt: skip
    assert [c.operation for c in table.log()[-2:]] == ["set_policy", "compact"]


ERRORS = [
    pytest.param(
        ["compact", "--levels", "quarter,year"], 1, ["coarse to fine"], id="levels-out-of-order"
    ),
    pytest.param(["compact", "--auto"], 2, ["add --set-policy"], id="auto-without-set-policy"),
    pytest.param(
        ["vacuum", "--older-than", "7x"], 2, ["'--older-than'", "'7x'", "7d"], id="bad-duration"
    ),
]


@pytest.mark.parametrize(("args", "code", "fragments"), ERRORS)
def test_maintenance_errors(
    azof_cli, lake: Path, args: list[str], code: int, fragments: list[str]
) -> None:
    command, *rest = args
    result = azof_cli(command, "--path", lake, "--table", "events", *rest)
    result.assert_clean_error(*fragments)
    assert result.code == code
    assert azof.Lakehouse(lake).table("events").version == 4  # nothing done


def test_log_of_a_corrupt_table(azof_cli, lake: Path) -> None:
    (lake / "events" / "s4.json").write_text("{not json")
    result = azof_cli("log", "--path", lake, "--table", "events")
    result.assert_clean_error("table 'events'", "s4.json")
    assert result.code == 1


def test_missing_table_in_process(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("compact", "vacuum", "log", "delete"):
        argv = [
            command,
            "--path",
            str(lake),
            "--table",
            "nope",
            *(["k"] if command == "delete" else []),
        ]
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: no table 'nope'"), err
        assert err.count("\n") == 1


@pytest.mark.parametrize(
    "command", ["create", "write", "delete", "compact", "vacuum", "log", "gen"]
)
def test_help_has_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"azof {command} --path" in out
    assert "Examples:" in out
