"""``azof alter`` through the console script: schema changes as one commit, refusals as one
error line with the table unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

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
def lake(tmp_path: Path) -> Path:
    table = azof.Lakehouse(tmp_path).create_table("prices", SCHEMA)
    table.append(
        [
            {"key": "a", "event_time": "2024-01-01", "px": 1.5, "volume": 10, "legacy": "x"},
            {"key": "b", "event_time": "2024-01-02", "px": 2.5, "volume": 20, "legacy": "y"},
        ]
    )
    return tmp_path


def files(lake: Path) -> list[str]:
    return sorted(str(p.relative_to(lake)) for p in lake.rglob("*") if p.is_file())


def test_alter_commits_every_change(azof_cli, lake: Path) -> None:
    result = azof_cli(
        "alter", "--path", lake, "--table", "prices", "--add", "currency:string default USD",
        "--add", "qty:int64 not null default 0", "--rename", "px:price",
        "--widen", "volume:int64", "--drop", "legacy", "--move", "currency:before:price",
    )  # fmt: skip
    assert (result.code, result.stderr) == (0, ""), result
    assert result.stdout.splitlines() == [
        "altered prices: version 2 (6 changes)",
        "  key\tstring\tnot null",
        "  event_time\ttimestamp[ms, tz=UTC]\tnot null",
        "  currency\tstring",
        "  price\tfloat",
        "  volume\tint64",
        "  qty\tint64\tnot null",
    ]
    table = azof.Lakehouse(lake).table("prices")
    assert table.log()[-1].operation == "evolve"
    assert table.scan().sort_by("key").to_pylist()[0] == {
        "key": "a",
        "event_time": datetime(2024, 1, 1, tzinfo=UTC),
        "currency": "USD",
        "price": 1.5,
        "volume": 10,
        "qty": 0,
    }
    scanned = azof_cli("scan", "--path", lake, "--table", "prices", "--columns", "key,price")
    assert scanned.stdout.splitlines() == ["key\tprice", "a\t1.5", "b\t2.5"]
    old = azof_cli("scan", "--path", lake, "--table", "prices", "--version", "1")
    assert old.stdout.splitlines()[0] == "key\tevent_time\tpx\tvolume\tlegacy"


def test_reorder_and_dry_run(azof_cli, lake: Path) -> None:
    before = files(lake)
    result = azof_cli(
        "alter", "--path", lake, "--table", "prices", "--reorder", "legacy, volume, px",
        "--dry-run",
    )  # fmt: skip
    assert (result.code, result.stderr) == (0, ""), result
    assert result.stdout.splitlines()[0] == (
        "dry run: prices would get this schema (nothing committed):"
    )
    assert [line.split("\t")[0].strip() for line in result.stdout.splitlines()[1:]] == [
        "key", "event_time", "legacy", "volume", "px",
    ]  # fmt: skip
    assert files(lake) == before
    result = azof_cli("alter", "--path", lake, "--table", "prices", "--reorder", "legacy,volume,px")
    assert result.code == 0, result
    assert azof.Lakehouse(lake).table("prices").schema.names[2:] == ["legacy", "volume", "px"]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--widen", "volume:int16"], ["cannot narrow column 'volume' from int32 to int16"]),
        (["--drop", "key"], ["cannot drop column 'key'"]),
        (["--rename", "event_time:_azof_t"], ["'_azof_t' is reserved"]),
        (["--rename", "px:volume"], ["already has a column 'volume'"]),
        (["--add", "px:int64"], ["already has a column 'px'"]),
        (["--drop", "nope"], ["cannot drop column 'nope': there is no such column"]),
        (["--add", "q:int64 not null"], ["not nullable without a default"]),
        (["--add", "q:int8 default 300"], ["default 300 does not fit int8"]),
        (["--add", "c:string", "--drop", "nope"], ["'nope'"]),
    ],
)
def test_refusals_leave_the_table_unchanged(
    azof_cli, lake: Path, args: list[str], fragments: list[str]
) -> None:
    before = files(lake)
    result = azof_cli("alter", "--path", lake, "--table", "prices", *args)
    assert result.code == 1
    result.assert_clean_error("table 'prices'", *fragments)
    assert files(lake) == before


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        ([], ["give at least one change"]),
        (["--add", "currency"], ["'--add'", "is not NAME:TYPE"]),
        (["--add", "q:money"], ["'--add'", "unknown type 'money'"]),
        (["--add", "q:int64 default x"], ["default 'x' does not fit int64"]),
        (["--move", "px:beside:volume"], ["'--move'", "NAME:before:OTHER"]),
        (["--rename", "px"], ["'--rename'", "OLD:NEW"]),
    ],
)
def test_usage_errors(azof_cli, lake: Path, args: list[str], fragments: list[str]) -> None:
    before = files(lake)
    result = azof_cli("alter", "--path", lake, "--table", "prices", *args)
    assert result.code == 2
    result.assert_clean_error(*fragments)
    assert files(lake) == before


def test_alter_a_seed_table(azof_cli, writable_copy) -> None:
    lake = writable_copy("table2")
    before = azof.Lakehouse(lake).table("table2").scan(as_of="2024-02-20").sort_by("key")
    result = azof_cli(
        "alter", "--path", lake, "--table", "table2", "--rename", "value1:label",
        "--drop", "created",
    )  # fmt: skip
    assert (result.code, result.stderr) == (0, ""), result
    after = azof.Lakehouse(lake).table("table2").scan(as_of="2024-02-20").sort_by("key")
    assert after.column("label") == before.column("value1")
    assert after.column_names == ["key", "event_time", "label", "value2", "is_active"]
