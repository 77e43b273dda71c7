"""Exports: the column-wise writers agree with Python's csv/json on odd values, with and
without polars, and ``-o`` says what it wrote."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from azof.cli import export
from azof.cli.export import csv_lines, json_lines, plain_lines, timestamp_text
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
    assert "Writing t.csv" in result.stderr  # the progress bar of a terminal
    assert "wrote 3 rows to" in result.stderr


# -- timestamps of every year, and text past 32-bit offsets --------------------------------

PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def oracle_text(value: int, unit: str) -> str:
    """RFC 3339 text of a value in years 0001-9999, by Python's datetime."""
    seconds, fraction = divmod(value, PER_SECOND[unit])
    moment = datetime(1970, 1, 1) + timedelta(seconds=seconds)
    digits = len(str(PER_SECOND[unit])) - 1
    tail = f".{fraction:0{digits}d}" if digits else ""
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}{tail}Z"


def instant_of(year: int, unit: str) -> int:
    return (
        (datetime(year, 1, 1) - datetime(1970, 1, 1)) // timedelta(seconds=1) * (PER_SECOND[unit])
    )


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_timestamp_text_pads_every_year_to_four_digits(unit: str) -> None:
    years = [1678, 1970, 2024, 2261] if unit == "ns" else [1, 9, 99, 999, 1000, 1678, 2261, 9999]
    values = [instant_of(y, unit) + 123 for y in years] + [None]
    column = pa.array(values, pa.timestamp(unit, "UTC"))
    expected = [None if v is None else oracle_text(v, unit) for v in values]
    assert timestamp_text(column).to_pylist() == expected
    assert timestamp_text(column.slice(3)).to_pylist() == expected[3:]
    assert [v[:4] for v in expected if v] == [f"{y:04d}" for y in years]


@given(
    st.lists(st.one_of(st.none(), st.integers(-62_135_596_800_000, 253_402_300_799_999))),
    st.integers(0, 3),
)
def test_timestamp_text_matches_python(values: list[int | None], start: int) -> None:
    start = min(start, len(values))
    column = pa.array(values, pa.timestamp("ms")).slice(start)
    expected = [None if v is None else oracle_text(v, "ms") for v in values[start:]]
    assert timestamp_text(column).to_pylist() == expected


def test_timestamp_text_beyond_four_digit_years() -> None:
    """ISO 8601's expanded years (a sign, at least four digits): never a wrong date."""
    day = 86_400_000_000
    values = [
        instant_of(9999, "us") + 365 * day,  # 10000-01-01
        instant_of(1, "us") - day,  # 0000-12-31 (1 BC)
        -(2**63) + 1,
        2**63 - 1,
        0,
        None,
    ]
    got = timestamp_text(pa.array(values, pa.timestamp("us", "UTC"))).to_pylist()
    assert got[:2] == ["+10000-01-01T00:00:00.000000Z", "+0000-12-31T00:00:00.000000Z"]
    assert got[2].startswith("-290308-12-21T19:59:05.")
    assert got[3].startswith("+294247-01-10T04:00:54.775807")
    assert got[4:] == ["1970-01-01T00:00:00.000000Z", None]
    for text, value in zip(got[:4], values[:4], strict=True):
        year = int(text[: text.index("-", 1)])
        assert value is not None
        numpy_year = np.datetime64(value, "us").astype("datetime64[Y]").astype(int) + 1970
        assert year == numpy_year


@pytest.mark.parametrize("polars", [True, False], ids=["polars", "pyarrow-only"])
def test_large_string_columns_export_like_strings(
    polars: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not polars:
        monkeypatch.setitem(sys.modules, "polars", None)
    small = TABLE.select(["text", "n", "at"])
    large = small.set_column(0, "text", small["text"].cast(pa.large_string()))
    for write in (write_plain, write_csv, write_json_lines):
        expected, got = io.StringIO(), io.StringIO()
        write(small, expected)
        write(large, got)
        assert got.getvalue() == expected.getvalue()


def test_lines_past_32_bit_offsets(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a limit of a few bytes every join takes 64-bit offsets: same bytes."""
    monkeypatch.setitem(sys.modules, "polars", None)
    batch = TABLE.append_column("raw", pa.array([b"\x00\xff"] * ROWS)).to_batches()[0]
    expected = [plain_lines(batch), csv_lines(batch), json_lines(batch)]
    monkeypatch.setattr(export, "_OFFSET_LIMIT", 16)
    assert [plain_lines(batch), csv_lines(batch), json_lines(batch)] == expected
    stamps = pa.array([0, None, 1_706_745_600_123], pa.timestamp("ms"))
    assert pa.types.is_large_string(timestamp_text(stamps).type)
    assert timestamp_text(stamps).to_pylist() == [
        "1970-01-01T00:00:00.000Z",
        None,
        "2024-02-01T00:00:00.123Z",
    ]
