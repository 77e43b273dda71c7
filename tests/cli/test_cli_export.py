"""Exports: the column-wise writers agree with Python's csv/json on odd values, with and
without polars, and ``-o`` says what it wrote."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from azof.cli.export import csv_lines, json_lines, plain_lines
from azof.cli.output import write_csv, write_json_lines, write_plain

ODD_TEXT = ["a,b", 'say "hi"', "two\nlines", "tab\there", "back\\slash", "\x01ctl", "é ü", None]
ROWS = len(ODD_TEXT)
TABLE = pa.table(
    {
        "text": ODD_TEXT,
        "n": pa.array([1, -2, None, 4, 5, 6, 7, 8], pa.int64()),
        "x": pa.array([1.5, math.nan, math.inf, None, -0.25, 1e20, 3.0, 0.1], pa.float64()),
        "ok": [True, False, None, True, False, True, False, True],
        "at": pa.array(
            [0, 1_706_745_600_123, None, 1, 2, 3, 4, 5], pa.timestamp("ms", "Europe/Paris")
        ),
        "naive": pa.array([0, 1, 2, 3, 4, 5, 6, None], pa.timestamp("us")),
        "day": pa.array([0, 1, 2, 3, 4, 5, 6, None], pa.date32()),
        "price": pa.array([Decimal("1.50"), None, *[Decimal("2.00")] * 6], pa.decimal128(5, 2)),
        "tags": pa.array([["a"], [], None, ["b", "c"], [], [], [], []], pa.list_(pa.string())),
        "props": pa.array(
            [[("k", "v")], None, [], [], [], [], [], []], pa.map_(pa.string(), pa.string())
        ),
    }
)


def expected_json(row: dict[str, object]) -> dict[str, object]:
    """What one row must read as: timestamps RFC 3339 UTC, NaN/inf null, maps objects."""
    out = dict(row)
    for name in ("at", "naive"):
        value = row[name]
        if isinstance(value, datetime):
            aware = value if value.tzinfo else value.replace(tzinfo=UTC)
            digits = 3 if name == "at" else 6
            out[name] = aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[: 20 + digits] + "Z"
    x = row["x"]
    out["x"] = None if x is None or not math.isfinite(x) else x  # type: ignore[arg-type]
    out["day"] = None if row["day"] is None else str(row["day"])
    out["price"] = None if row["price"] is None else str(row["price"])
    props = row["props"]
    out["props"] = None if props is None else dict(props)  # type: ignore[call-overload]
    return out


@pytest.mark.parametrize("polars", [True, False], ids=["polars", "pyarrow-only"])
def test_json_lines_read_back(polars: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not polars:
        monkeypatch.setitem(sys.modules, "polars", None)  # import polars fails
    else:
        pytest.importorskip("polars")
    for table in (TABLE, TABLE.drop_columns(["tags", "props", "price"])):  # polars: the 2nd
        out = io.StringIO()
        write_json_lines(table, out)
        got = [json.loads(line) for line in out.getvalue().splitlines()]
        expected = [expected_json(row) for row in TABLE.to_pylist()]
        assert got == [{k: row[k] for k in table.column_names} for row in expected]


def test_json_lines_same_with_and_without_polars(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("polars")
    simple = TABLE.drop_columns(["tags", "props", "price"]).to_batches()[0]
    with_polars = json_lines(simple)
    monkeypatch.setitem(sys.modules, "polars", None)
    without = json_lines(simple)
    assert [json.loads(x) for x in with_polars.splitlines()] == [
        json.loads(x) for x in without.splitlines()
    ]


def test_csv_reads_back_with_the_csv_module() -> None:
    out = io.StringIO()
    write_csv(TABLE.select(["text", "n", "ok", "at"]), out)
    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert rows[0] == ["text", "n", "ok", "at"]
    assert [r[0] for r in rows[1:]] == [v or "" for v in ODD_TEXT]
    assert [r[1] for r in rows[1:]] == ["1", "-2", "", "4", "5", "6", "7", "8"]
    assert rows[1][2:] == ["true", "1970-01-01T00:00:00.000Z"]
    assert rows[2][3] == "2024-02-01T00:00:00.123Z"
    assert out.getvalue().splitlines()[1] == '"a,b",1,true,1970-01-01T00:00:00.000Z'


def test_plain_lines_escape_and_keep_one_line_per_row() -> None:
    out = io.StringIO()
    write_plain(TABLE.select(["text", "x"]), out)
    lines = out.getvalue().split("\n")
    assert lines[0] == "text\tx"
    assert lines[1:-1] == [
        "a,b\t1.5",
        'say "hi"\tnan',
        "two\\nlines\tinf",
        "tab\\there\t",
        "back\\\\slash\t-0.25",
        "\x01ctl\t1e+20",
        "é ü\t3",
        "\t0.1",
    ]


def test_batches_concatenate() -> None:
    """Encoders work on slices (offsets not at zero) and batches join into the whole."""
    batch = TABLE.select(["text", "n"]).to_batches()[0]
    whole = plain_lines(batch)
    assert plain_lines(batch.slice(0, 3)) + plain_lines(batch.slice(3)) == whole
    assert csv_lines(batch.slice(0, 3)) + csv_lines(batch.slice(3)) == csv_lines(batch)
    assert json_lines(batch.slice(2)) == b"".join(json_lines(batch).splitlines(True)[2:])


def test_output_file_names_itself(azof_cli, seed: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    result = azof_cli("scan", "--path", seed, "--table", "table2", "-o", out)
    assert result.code == 0, result
    assert result.stdout == ""
    assert result.stderr == f"wrote 3 rows to {out}\n"
    assert [json.loads(line)["key"] for line in out.read_text().splitlines()] == ["1", "2", "3"]
    result = azof_cli(
        "scan", "--path", seed, "--table", "table2", "-o", tmp_path / "t.csv",
        env={"AZOF_OUTPUT": "rich"},
    )  # fmt: skip
    assert result.code == 0, result
    assert "wrote 3 rows to" in result.stderr
