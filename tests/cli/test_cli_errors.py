"""Every failure prints one ``error: ...`` line on stderr and exits non-zero; no tracebacks
unless ``--debug``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

CASES = [
    pytest.param(["--table", "nope"], 1, ["no table 'nope'", "table0, table1"], id="missing-table"),
    pytest.param(
        ["--table", "table0", "--as-of", "2024-13-45"],
        2,
        ["'--as-of'", "2024-13-45"],
        id="bad-timestamp",
    ),
    pytest.param(
        ["--table", "table0", "--where", "value = 'abc' AND"],
        1,
        ["cannot parse the predicate", "value = 'abc' AND"],
        id="bad-where-sql",
    ),
    pytest.param(
        ["--table", "table0", "--where", "valu = 'abc'"],
        1,
        ["unknown column 'valu'", "key, event_time, value"],
        id="unknown-column-in-where",
    ),
    pytest.param(
        ["--table", "table0", "--where", "lower(value) = 'abc'"],
        1,
        ["LOWER(value)", "not supported"],
        id="unsupported-where",
    ),
    pytest.param(
        ["--table", "table0", "--where", "value = 5"],
        1,
        ["5 cannot be compared with value"],
        id="where-type-mismatch",
    ),
    pytest.param(
        ["--table", "table0", "--columns", "key,nope"],
        1,
        ["no column(s) 'nope'"],
        id="unknown-column-in-columns",
    ),
    pytest.param(
        ["--table", "table0", "--version", "7"], 1, ["has no version 7"], id="missing-version"
    ),
    pytest.param(
        ["--table", "table0", "--format", "parquet"], 2, ["--output"], id="parquet-to-stdout"
    ),
    pytest.param([], 2, ["Missing option '--table'", "azof scan --help"], id="usage"),
    pytest.param(
        ["--table", "table0", "--storage-option", "region"],
        2,
        ["KEY=VALUE"],
        id="bad-storage-option",
    ),
]


@pytest.mark.parametrize(("args", "code", "fragments"), CASES)
def test_scan_errors(
    azof_cli, seed: Path, args: list[str], code: int, fragments: list[str]
) -> None:
    result = azof_cli("scan", "--path", seed, *args)
    result.assert_clean_error(*fragments)
    assert result.code == code
    assert result.stdout == ""


def test_bad_path(azof_cli, tmp_path: Path) -> None:
    result = azof_cli("info", "--path", tmp_path / "missing", "--table", "table0")
    result.assert_clean_error("does not exist", str(tmp_path / "missing"))


def test_bad_storage_options_env(azof_cli) -> None:
    result = azof_cli(
        "tables", "--path", "s3://bucket/lake", env={"AZOF_STORAGE_OPTIONS": "{region: x"}
    )
    result.assert_clean_error("AZOF_STORAGE_OPTIONS", "not valid JSON")


def test_output_to_missing_folder(azof_cli, seed: Path, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "out.csv"
    result = azof_cli("scan", "--path", seed, "--table", "table0", "--output", target)
    result.assert_clean_error("No such file or directory", str(target))


def test_corrupt_snapshot(azof_cli, writable_copy: Callable[..., Path]) -> None:
    lake = writable_copy("table0")
    (lake / "table0" / "s1.json").write_text('{"schema": {"columns": [')
    result = azof_cli("scan", "--path", lake, "--table", "table0")
    result.assert_clean_error("table 'table0'", "s1.json")


def test_corrupt_data_file(azof_cli, writable_copy: Callable[..., Path]) -> None:
    lake = writable_copy("table0")
    (lake / "table0" / "delta1.parquet").write_bytes(b"not parquet at all")
    result = azof_cli("scan", "--path", lake, "--table", "table0", "--as-of", "2024-03-01")
    result.assert_clean_error("table 'table0'", "delta1.parquet")


def test_debug_shows_the_traceback(azof_cli, writable_copy: Callable[..., Path]) -> None:
    lake = writable_copy("table0")
    (lake / "table0" / "s1.json").write_text("{")
    result = azof_cli("--debug", "scan", "--path", lake, "--table", "table0")
    assert result.code == 1
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert "CorruptTableError" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: table 'table0'")
