"""``azof scan`` end to end through the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

import azof

TABLE0_AS_OF = (
    "key\tevent_time\tvalue\n1\t2024-02-01T00:00:00.000Z\tabc2\n2\t2024-01-01T00:00:00.000Z\txyz\n"
)
TABLE0_CURRENT = (
    "key\tevent_time\tvalue\n"
    "1\t2024-02-01T00:00:00.000Z\tabc2\n"
    "2\t2024-02-20T00:00:00.000Z\txyz2\n"
    "3\t2024-03-10T00:00:00.000Z\twww2\n"
)


def test_seed_syntax_as_of(azof_cli, seed: Path) -> None:
    result = azof_cli("scan", "--path", seed, "--table", "table0", "--as-of", "2024-02-17T00:00:00")
    assert (result.code, result.stderr) == (0, "")
    assert result.stdout == TABLE0_AS_OF


def test_python_dash_m(seed: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "azof", "scan", "--path", str(seed), "--table", "table0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == TABLE0_CURRENT


def test_csv(azof_cli, seed: Path) -> None:
    result = azof_cli("scan", "--path", seed, "--table", "table2", "--format", "csv")
    assert (result.code, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "key,event_time,value1,value2,is_active,created",
        "1,2024-02-01T00:00:00.000Z,abc2,100,true,2024-01-01T00:00:00.000Z",
        "2,2024-02-20T00:00:00.000Z,xyz2,222,false,2024-01-01T00:00:00.000Z",
        "3,2024-03-10T00:00:00.000Z,www2,300,false,2024-03-01T00:00:00.000Z",
    ]


def test_json_lines(azof_cli, seed: Path) -> None:
    result = azof_cli(
        "scan", "--path", seed, "--table", "table2", "--as-of", "2024-02-17", "-f", "json"
    )
    assert (result.code, result.stderr) == (0, "")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows == [
        {
            "key": "1",
            "event_time": "2024-02-01T00:00:00.000Z",
            "value1": "abc2",
            "value2": 100,
            "is_active": True,
            "created": "2024-01-01T00:00:00.000Z",
        },
        {
            "key": "2",
            "event_time": "2024-01-01T00:00:00.000Z",
            "value1": "xyz",
            "value2": 200,
            "is_active": False,
            "created": "2024-01-01T00:00:00.000Z",
        },
    ]


def test_parquet_output_keeps_types(azof_cli, seed: Path, tmp_path: Path) -> None:
    out = tmp_path / "t1.parquet"
    result = azof_cli(
        "scan", "--path", seed, "--table", "table1", "--as-of", "2024-06-01", "--output", out
    )
    assert (result.code, result.stdout, result.stderr) == (0, "", f"wrote 2 rows to {out}\n")
    expected = azof_table(seed, "table1").scan("2024-06-01")
    assert pq.read_table(out).equals(expected)
    assert dict(zip(expected["key"].to_pylist(), expected["value"].to_pylist(), strict=True)) == {
        "1": "abc3",
        "2": "xyz2",
    }


def test_csv_and_tsv_output_files(azof_cli, seed: Path, tmp_path: Path) -> None:
    out = tmp_path / "rows.txt"
    result = azof_cli(
        "scan", "--path", seed, "--table", "table0", "-f", "csv", "-o", out, "-c", "key,value"
    )
    assert (result.code, result.stdout, result.stderr) == (0, "", f"wrote 3 rows to {out}\n")
    assert out.read_text() == "key,value\n1,abc2\n2,xyz2\n3,www2\n"


def test_where_columns_limit(azof_cli, seed: Path) -> None:
    result = azof_cli(
        "scan",
        "--path", seed,
        "--table", "table2",
        "--columns", "value2, key",
        "--where", "(value1 LIKE 'abc%' OR key IN ('3')) AND NOT is_active = FALSE "
        "OR created >= TIMESTAMP '2024-03-01 00:00:00'",
    )  # fmt: skip
    assert (result.code, result.stderr) == (0, "")
    assert result.stdout == "value2\tkey\n100\t1\n300\t3\n"
    limited = azof_cli("scan", "--path", seed, "--table", "table0", "--limit", "2", "-c", "key")
    assert (limited.code, limited.stdout) == (0, "key\n1\n2\n")


def test_version_and_known_at(azof_cli, seed: Path) -> None:
    result = azof_cli(
        "scan", "--path", seed, "--table", "table0", "--version", "1",
        "--as-of", "2024-02-17T00:00:00Z", "--where", "event_time < '2024-01-02'",
    )  # fmt: skip
    assert (result.code, result.stderr) == (0, "")
    assert result.stdout == "key\tevent_time\tvalue\n2\t2024-01-01T00:00:00.000Z\txyz\n"
    known = azof_cli(
        "scan", "--table", "table0", "--known-at", "2999-01-01", env={"AZOF_PATH": str(seed)}
    )
    assert (known.code, known.stdout, known.stderr) == (0, TABLE0_CURRENT, "")


def test_headline_query_on_financials(azof_cli, seed: Path) -> None:
    """The seed's headline query, through --where/--columns, against the Python API."""
    result = azof_cli(
        "scan", "--path", seed, "--table", "financials", "--as-of", "2019-01-17T00:00:00.000Z",
        "--where", "industry IN ('Software')", "--columns", "key,revenue,net_income",
        "--format", "json",
    )  # fmt: skip
    assert (result.code, result.stderr) == (0, "")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    expected = azof_table(seed, "financials").scan(
        "2019-01-17T00:00:00.000Z", columns=["key", "revenue", "net_income", "industry"]
    )
    software = [r for r in expected.to_pylist() if r["industry"] == "Software"]
    assert len(rows) == len(software) > 5
    assert rows == [{k: r[k] for k in ("key", "revenue", "net_income")} for r in software]


def azof_table(seed: Path, name: str) -> azof.Table:
    return azof.Lakehouse(seed).table(name)
