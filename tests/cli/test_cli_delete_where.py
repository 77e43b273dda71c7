"""``azof delete --where PREDICATE`` (issue 15): a tombstone for every key whose state as
of --event-time matches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

import azof

SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("event_time", pa.timestamp("ms", tz="UTC")),
        ("value", pa.int64()),
        ("status", pa.string()),
    ]
)


def test_cli_delete_where(azof_cli: Any, tmp_path: Path) -> None:
    table = azof.Lakehouse(tmp_path).create_table("t", SCHEMA)
    table.append(
        [
            {"key": k, "event_time": "2024-01-01", "value": i, "status": s}
            for i, (k, s) in enumerate(
                zip("abcde", ["open", "closed", "closed", "open", "x"], strict=True)
            )
        ]
    )
    result = azof_cli(
        "delete", "--path", tmp_path, "--table", "t", "--where", "status = 'closed'",
        "--event-time", "2024-02-01",
    )  # fmt: skip
    assert (result.code, result.stderr) == (0, ""), result
    assert result.stdout == "deleted 2 keys from t as of 2024-02-01T00:00:00.000Z: version 2\n"
    assert azof.Lakehouse(tmp_path).table("t").scan()["key"].to_pylist() == ["a", "d", "e"]
    result = azof_cli("delete", "--path", tmp_path, "--table", "t", "--where", "value > 99")
    assert result.stdout.startswith("deleted 0 keys from t as of 20"), result  # the instant used
    assert result.stdout.endswith(": version 2\n"), result
    result = azof_cli("delete", "--path", tmp_path, "--table", "t", "--where", "nope = 1")
    result.assert_clean_error("unknown column 'nope'")
    result = azof_cli("delete", "--path", tmp_path, "--table", "t")
    result.assert_clean_error("give the KEYs to delete or --where")
    assert azof.Lakehouse(tmp_path).table("t").version == 2
