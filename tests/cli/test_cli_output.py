"""In-process tests of the CLI's building blocks: output formats, storage options, the
error boundary (the console script itself is exercised by the other test files)."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pyarrow as pa
import pytest

from azof.cli import main
from azof.cli.info import compress_versions
from azof.cli.options import storage_options
from azof.cli.output import (
    TreeNode,
    print_tree,
    text_column,
    write_csv,
    write_json_lines,
    write_plain,
)

HOUR_NS = 3_600_000_000_000
ODD = pa.table(
    {
        "key": ["tab\there", "new\nline", None],
        "when": pa.array([0, HOUR_NS, None], pa.timestamp("ns", "Europe/Paris")),
        "naive": pa.array([0, 1, None], pa.timestamp("s")),
        "x": pa.array([1.5, math.nan, None], pa.float64()),
        "ok": [True, False, None],
        "tags": pa.array([["a", "b"], [], None], pa.list_(pa.string())),
    }
)


def test_text_column_timestamps_are_utc_rfc3339() -> None:
    assert text_column(ODD["when"]) == [
        "1970-01-01T00:00:00.000000000Z",
        "1970-01-01T01:00:00.000000000Z",
        None,
    ]
    assert text_column(ODD["naive"]) == ["1970-01-01T00:00:00Z", "1970-01-01T00:00:01Z", None]
    millis = pa.array([1_706_745_600_000], pa.timestamp("ms", "UTC"))
    assert text_column(millis) == ["2024-02-01T00:00:00.000Z"]
    assert text_column(ODD["ok"]) == ["true", "false", None]
    assert text_column(ODD["tags"]) == ['["a", "b"]', "[]", None]


def test_plain_escapes_and_nulls() -> None:
    out = io.StringIO()
    write_plain(ODD.select(["key", "x", "ok"]), out)
    assert out.getvalue() == "key\tx\tok\ntab\\there\t1.5\ttrue\nnew\\nline\tnan\tfalse\n\t\t\n"


def test_csv_quotes_only_where_needed() -> None:
    out = io.StringIO()
    write_csv(pa.table({"a": ["x,y", 'q"', None, "plain"], "b": [1, None, 3, 4]}), out)
    assert out.getvalue() == 'a,b\n"x,y",1\n"q""",\n,3\nplain,4\n'


def test_json_lines_are_strict_json() -> None:
    out = io.StringIO()
    write_json_lines(ODD.select(["when", "x", "ok", "tags"]), out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rows == [
        {"when": "1970-01-01T00:00:00.000000000Z", "x": 1.5, "ok": True, "tags": ["a", "b"]},
        {"when": "1970-01-01T01:00:00.000000000Z", "x": None, "ok": False, "tags": []},
        {"when": None, "x": None, "ok": None, "tags": None},
    ]


def test_plain_tree(capsys: pytest.CaptureFixture[str]) -> None:
    root = TreeNode("segments:")
    root.add("segment 1").add("base b.parquet")
    root.add("segment 2")
    print_tree(root, rich=False)
    assert capsys.readouterr().out == "segments:\n  segment 1\n    base b.parquet\n  segment 2\n"


def test_compress_versions() -> None:
    assert compress_versions([]) == "none"
    assert compress_versions([1]) == "1"
    assert compress_versions([0, 1, 2, 5, 7, 8]) == "0-2, 5, 7-8"


def test_storage_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZOF_STORAGE_OPTIONS", '{"region": "eu-west-1", "allow_http": true}')
    assert storage_options("s3://b/lake", ["region=us-east-1", "endpoint=http://h:1=2"]) == {
        "region": "us-east-1",
        "allow_http": True,
        "endpoint": "http://h:1=2",
    }
    assert storage_options("/some/folder", []) == {}  # the environment is for object stores
    monkeypatch.setenv("AZOF_STORAGE_OPTIONS", "[1]")
    with pytest.raises(ValueError, match="must hold a JSON object"):
        storage_options("s3://b/lake", [])


def test_unexpected_errors_are_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import azof.cli.info

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(azof.Lakehouse, "tables", broken)
    code = main(["tables", "--path", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err == (
        "error: unexpected RuntimeError: boom (...) (a bug in azof? rerun with --debug and "
        "report the traceback)\n"
    )
    assert main(["--debug", "tables", "--path", str(tmp_path)]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_no_arguments_shows_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "Usage: azof" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2
    assert capsys.readouterr().err == ("error: No such command 'frobnicate'. (see 'azof --help')\n")
