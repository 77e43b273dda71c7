"""``azof create``, ``azof write`` and ``azof delete`` through the console script."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import azof
from azof.cli import main

PRICES = pa.schema(
    [
        ("key", pa.string()),
        ("event_time", pa.timestamp("ms", "UTC")),
        ("px", pa.float64()),
        ("qty", pa.int64()),
    ]
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_create_then_write_csv_and_json_lines(azof_cli, tmp_path: Path) -> None:
    lake = tmp_path / "lake"  # missing: create makes the folder
    result = azof_cli(
        "create", "--path", lake, "--table", "prices", "--schema",
        "key:string, event_time:timestamp[ms, tz=UTC], px:float64, qty:int64 not null, "
        "note:string",
    )  # fmt: skip
    assert (result.code, result.stderr) == (0, ""), result
    assert result.stdout.splitlines()[1:] == [
        "  key\tstring\tnot null",
        "  event_time\ttimestamp[ms, tz=UTC]\tnot null",
        "  px\tdouble",
        "  qty\tint64\tnot null",
        "  note\tstring",
    ]
    csv = tmp_path / "prices.csv"
    csv.write_text(
        "sym,ts,px,qty,note\n"
        "AAPL,2024-01-01T10:00:00Z,190.5,10,first\n"
        "MSFT,2024-01-01 11:00:00,370.25,5,\n"
        'AAPL,2024-01-02,191,7,"a, b"\n'
    )
    lines = tmp_path / "more.jsonl"
    lines.write_text(
        '{"sym": "AAPL", "ts": "2024-01-03T01:00:00+01:00", "px": 192.5, "qty": 3, "note": null}\n'
        '{"sym": "GOOG", "ts": "2024-01-03T00:00:00.250", "px": 140, "qty": 1}\n'
    )
    result = azof_cli(
        "write", "--path", lake, "--table", "prices", csv, lines,
        "--key", "sym", "--event-time", "ts", "--batch-size", "2",
    )  # fmt: skip
    assert (result.code, result.stderr) == (0, ""), result
    assert result.stdout == "wrote 2 files to prices: 5 rows in 3 commits (versions 1-3)\n"

    table = azof.Lakehouse(lake).table("prices")
    assert table.version == 3
    assert [c.properties for c in table.log()[1:]] == [
        {"source": "prices.csv"}, {"source": "prices.csv"}, {"source": "more.jsonl"},
    ]  # fmt: skip
    assert table.scan("2024-01-02T12:00:00").sort_by("key").to_pylist() == [
        {"key": "AAPL", "event_time": utc(2024, 1, 2), "px": 191.0, "qty": 7, "note": "a, b"},
        {"key": "MSFT", "event_time": utc(2024, 1, 1, 11), "px": 370.25, "qty": 5, "note": None},
    ]
    current = table.scan().sort_by("key").to_pylist()
    assert [(r["key"], r["event_time"], r["px"]) for r in current] == [
        ("AAPL", utc(2024, 1, 3), 192.5),  # +01:00 -> UTC
        ("GOOG", datetime(2024, 1, 3, 0, 0, 0, 250_000, tzinfo=UTC), 140.0),  # no offset: UTC
        ("MSFT", utc(2024, 1, 1, 11), 370.25),
    ]

    trades = tmp_path / "trades.parquet"
    pq.write_table(
        pa.table(
            {
                "ticker": ["X", "Y"],
                "when": pa.array(
                    [datetime(2024, 5, 1, 9, 30), datetime(2024, 5, 2)], pa.timestamp("us")
                ),
                "amount": pa.array([100, 250], pa.int32()),
            }
        ),
        trades,
    )
    result = azof_cli(
        "write", "--path", lake, "--table", "trades", trades,
        "--key", "ticker", "--event-time", "when", "--create",
    )  # fmt: skip
    assert (result.code, result.stderr) == (0, ""), result
    assert result.stdout.splitlines() == [
        "created table trades (version 0) with columns:",
        "  key\tstring\tnot null",
        "  event_time\ttimestamp[us, tz=UTC]\tnot null",
        "  amount\tint32",
        "wrote 1 file to trades: 2 rows in 1 commit (version 1)",
    ]
    assert azof.Lakehouse(lake).table("trades").scan().to_pylist() == [
        {"key": "X", "event_time": utc(2024, 5, 1, 9, 30), "amount": 100},
        {"key": "Y", "event_time": utc(2024, 5, 2), "amount": 250},
    ]


def test_create_like_a_csv_and_exist_ok(azof_cli, tmp_path: Path) -> None:
    sample = tmp_path / "sample.csv"
    sample.write_text(
        "sym,ts,px,n,flag,day,empty\n"
        "A,2024-01-01T00:00:00.123Z,1.5,1,true,2024-01-01,\n"
        "B,2024-01-02T00:00:00Z,2.5,2,false,2024-01-02,\n"
    )
    result = azof_cli(
        "create", "--path", tmp_path, "--table", "liked", "--like", sample,
        "--key", "sym", "--event-time", "ts",
    )  # fmt: skip
    assert (result.code, result.stderr) == (0, ""), result
    schema = azof.Lakehouse(tmp_path).table("liked").schema
    assert [(f.name, str(f.type)) for f in schema] == [
        ("key", "string"),
        ("event_time", "timestamp[ms, tz=UTC]"),
        ("px", "double"),
        ("n", "int64"),
        ("flag", "bool"),
        ("day", "date32[day]"),
        ("empty", "string"),
    ]
    # the names azof info prints read back as the same schema
    text = ", ".join(f"{f.name}:{f.type}" for f in schema)
    result = azof_cli(
        "create", "--path", tmp_path, "--table", "liked", "--schema", text, "--exist-ok"
    )
    assert (result.code, result.stderr) == (0, ""), result
    assert result.stdout == "table liked already exists with this schema (version 0)\n"


def test_write_headerless_csv_into_a_seed_table(azof_cli, writable_copy, tmp_path: Path) -> None:
    lake = writable_copy("table0")
    rows = tmp_path / "more.csv"
    rows.write_text("3,2024-05-01T00:00:00.000Z,www3\n4,2024-05-02T00:00:00Z,new\n")
    result = azof_cli("write", "--path", lake, "--table", "table0", "--no-header", rows)
    assert (result.code, result.stderr) == (0, ""), result
    assert result.stdout == "wrote 1 file to table0: 2 rows in 1 commit (version 2)\n"
    current = azof.Lakehouse(lake).table("table0").scan()
    assert dict(zip(current["key"].to_pylist(), current["value"].to_pylist(), strict=True)) == {
        "1": "abc2", "2": "xyz2", "3": "www3", "4": "new",
    }  # fmt: skip


def test_delete_integer_keys(azof_cli, tmp_path: Path) -> None:
    schema = pa.schema(
        [("key", pa.int64()), ("event_time", pa.timestamp("ms", "UTC")), ("v", pa.string())]
    )
    table = azof.Lakehouse(tmp_path).create_table("ints", schema)
    table.append([{"key": k, "event_time": "2024-01-10", "v": f"v{k}"} for k in (1, 2, 3)])
    result = azof_cli(
        "delete", "--path", tmp_path, "--table", "ints", "1", "3", "--event-time", "2024-02-01"
    )
    assert (result.code, result.stderr) == (0, ""), result
    assert result.stdout == "deleted 2 keys from ints as of 2024-02-01T00:00:00.000Z: version 2\n"
    table = azof.Lakehouse(tmp_path).table("ints")
    assert table.scan()["key"].to_pylist() == [2]
    assert table.scan("2024-01-31")["key"].to_pylist() == [1, 2, 3]


@pytest.fixture
def prices_lake(tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    lake.mkdir()
    azof.Lakehouse(lake).create_table("prices", PRICES)
    files = {
        "good.csv": "key,event_time,px,qty\nA,2024-01-01,1.5,1\nB,2024-01-02,2.5,2\n",
        "bad_type.csv": "key,event_time,px,qty\nA,2024-01-03,1.5,1\nB,2024-01-04,abc,2\n",
        "extra.csv": "key,event_time,px,qty,colour\nA,2024-01-01,1.5,1,red\n",
        "bad_time.csv": "key,event_time,px,qty\nA,yesterday,1.5,1\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return lake


ERRORS = [
    pytest.param(
        ["write", "--table", "prices", "good.csv", "bad_type.csv", "--batch-size", "5"],
        1,
        [
            "bad_type.csv: column 'px'",
            "invalid value 'abc'",
            "committed before it: 2 rows",
            "(version 1)",
        ],
        id="csv-wrong-column-type",
    ),
    pytest.param(
        ["write", "--table", "prices", "extra.csv"],
        1,
        ["extra.csv", "unknown column(s) 'colour'", "key, event_time, px, qty"],
        id="unknown-column",
    ),
    pytest.param(
        ["write", "--table", "prices", "bad_time.csv"],
        1,
        ["bad_time.csv: column 'event_time'", "cannot read 'yesterday' as a timestamp"],
        id="bad-timestamp-in-csv",
    ),
    pytest.param(
        ["write", "--table", "nope", "good.csv"],
        1,
        ["no table 'nope'", "tables here: prices"],
        id="missing-table",
    ),
    pytest.param(
        ["write", "--table", "prices", "good.csv", "--key", "sym"],
        1,
        ["no column 'sym' (given with --key)", "key, event_time, px, qty"],
        id="unknown-key-column",
    ),
    pytest.param(
        ["write", "--table", "prices", "missing.csv"],
        2,
        ["'missing.csv' does not exist"],
        id="missing-input",
    ),
    pytest.param(
        ["create", "--table", "t", "--schema", "key:string,event_time:timestamp,px:flaot64"],
        2,
        ["'--schema'", "column 'px': unknown type 'flaot64'"],
        id="bad-schema-text",
    ),
    pytest.param(
        ["delete", "--table", "prices", "A", "--event-time", "2024-13-45"],
        2,
        ["'--event-time'", "2024-13-45"],
        id="bad-delete-timestamp",
    ),
]


@pytest.mark.parametrize(("args", "code", "fragments"), ERRORS)
def test_write_errors(
    azof_cli, prices_lake: Path, args: list[str], code: int, fragments: list[str]
) -> None:
    command, *rest = args
    result = azof_cli(command, "--path", prices_lake, *rest, cwd=prices_lake.parent)
    result.assert_clean_error(*fragments)
    assert result.code == code
    if "committed before it" not in " ".join(fragments):
        assert azof.Lakehouse(prices_lake).table("prices").version == 0  # nothing written


def test_bad_lakehouse_path(azof_cli, tmp_path: Path) -> None:
    afile = tmp_path / "not-a-folder"
    afile.write_text("x")
    result = azof_cli(
        "create", "--path", afile, "--table", "t", "--schema", "key:string,event_time:timestamp"
    )
    result.assert_clean_error("lakehouse path", "is a file, not a folder")
    assert result.code == 1


def test_usage_errors_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Cheaper checks through the same entry point, without a subprocess."""
    azof.Lakehouse(tmp_path).create_table(
        "ints", pa.schema([("key", pa.int64()), ("event_time", pa.timestamp("ms"))])
    )
    data = tmp_path / "data.txt"
    data.write_text("key,event_time\n1,2024-01-01\n")
    cases = [
        (["write", "--path", str(tmp_path), "--table", "ints", str(data)], 1, "--input-format csv"),
        (["write", "--path", str(tmp_path), "--table", "ints", str(data), "--format", "csv"], 2,
         "the input files' format is --input-format"),
        (["delete", "--path", str(tmp_path), "--table", "ints", "x"], 2, "'x' is not an integer"),
        (["create", "--path", str(tmp_path), "--table", "t"], 2, "either --schema TEXT or --like"),
        (["create", "--path", str(tmp_path), "--table", "t", "--schema", "key:string,",
          "--input-format", "csv"], 2, "--input-format goes with --like"),
        (["create", "--path", str(tmp_path), "--table", "ints", "--schema",
          "key:int64,event_time:timestamp[ms]"], 1, "already exists"),
    ]  # fmt: skip
    for argv, code, fragment in cases:
        assert main(argv) == code, argv
        err = capsys.readouterr().err
        assert err.startswith("error: "), (argv, err)
        assert fragment in err, (argv, err)
        assert err.count("\n") == 1
    argv = ["write", "--path", str(tmp_path), "--table", "ints", str(data)]
    assert main([*argv, "--input-format", "csv", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows_stored"] == 1


def test_csv_text_like_na_or_null_is_a_value_not_null(azof_cli, tmp_path: Path) -> None:
    """Only an empty field is null: ``NA`` (a ticker, a country), ``NULL``, ``n/a`` are data."""
    lake = tmp_path / "lake"
    schema = "key:string, event_time:timestamp[ms, tz=UTC], px:float64, note:string"
    result = azof_cli("create", "--path", lake, "--table", "t", "--schema", schema)
    assert result.code == 0, result
    text = tmp_path / "text.csv"
    text.write_text(
        "key,event_time,px,note\n"
        "NA,2024-01-01,1.5,NA\n"
        "NULL,2024-01-01,2.5,NULL\n"
        "N/A,2024-01-01,,n/a\n"
        'B,2024-01-01,3.5,""\n'
        "C,2024-01-01,4.5,\n"
    )
    result = azof_cli("write", "--path", lake, "--table", "t", text)
    assert (result.code, result.stderr) == (0, ""), result
    rows = azof.Lakehouse(lake).table("t").scan().sort_by("key").to_pylist()
    assert [(r["key"], r["px"], r["note"]) for r in rows] == [
        ("B", 3.5, ""),
        ("C", 4.5, None),
        ("N/A", None, "n/a"),
        ("NA", 1.5, "NA"),
        ("NULL", 2.5, "NULL"),
    ]

    number = tmp_path / "number.csv"
    number.write_text("key,event_time,px,note\nD,2024-01-02,n/a,x\n")
    result = azof_cli("write", "--path", lake, "--table", "t", number)
    result.assert_clean_error("number.csv: column 'px'", "'n/a'")
    assert azof.Lakehouse(lake).table("t").version == 1  # nothing written

    # a new table from a CSV: "NA" in a column of numbers makes it text, not a null
    liked = tmp_path / "liked.csv"
    liked.write_text("key,event_time,n\nNA,2024-01-01,1\nB,2024-01-01,NA\n")
    result = azof_cli("write", "--path", lake, "--table", "liked", liked, "--create")
    assert result.code == 0, result
    table = azof.Lakehouse(lake).table("liked")
    assert str(table.schema.field("n").type) == "string"
    assert table.scan().sort_by("key").to_pylist() == [
        {"key": "B", "event_time": utc(2024, 1, 1), "n": "NA"},
        {"key": "NA", "event_time": utc(2024, 1, 1), "n": "1"},
    ]
