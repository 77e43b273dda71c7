"""``azof verify``: every data file of a version checked, one clear line on damage."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

import azof

SCHEMA = pa.schema(
    [("key", pa.string()), ("event_time", pa.timestamp("ms", "UTC")), ("v", pa.int64())]
)


def test_azof_verify(azof_cli, tmp_path: Path) -> None:
    table = azof.Lakehouse(tmp_path).create_table("t", SCHEMA)
    for month in (1, 2):
        table.append([{"key": k, "event_time": f"2024-0{month}-10", "v": month} for k in "ab"])
    table.compact(azof.CompactionPolicy(segment="month"))
    files = sorted({f.file for f in table.snapshot.files()})
    ok = azof_cli("verify", "--path", tmp_path, "--table", "t")
    assert ok.code == 0, ok
    assert ok.stdout.strip() == f"t: version 3: {len(files)} data files present and readable"
    old = azof_cli("verify", "--path", tmp_path, "--table", "t", "--version", "1")
    assert old.stdout.strip() == "t: version 1: 1 data file present and readable"
    (tmp_path / "t" / files[0]).unlink()
    azof_cli("verify", "--path", tmp_path, "--table", "t").assert_clean_error(
        "table 't'", files[0], "which is missing"
    )
    azof_cli("verify", "--path", tmp_path, "--table", "nope").assert_clean_error("no table")
    azof_cli(
        "verify", "--path", tmp_path, "--table", "t", "--version", "1", "--known-at", "2024-01-01"
    ).assert_clean_error()
