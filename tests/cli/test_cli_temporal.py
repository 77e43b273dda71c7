"""``azof history``, ``changes``, ``restatements`` and ``asof-join`` end to end through the
installed console script, on the table of docs/temporal.md (late data, a correction and a
delete) and on the seed table ``financials``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import azof


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lakehouse folder with ``prices``: v1 AAPL, MSFT; v2 delete MSFT on 2019-03-01;
    v3 a correction of AAPL on 2019-02-01 and late data on 2019-01-15."""
    path = tmp_path_factory.mktemp("temporal") / "lake"
    path.mkdir()
    schema = pa.schema(
        [
            ("key", pa.string()),
            ("event_time", pa.timestamp("ms", tz="UTC")),
            ("price", pa.float64()),
        ]
    )
    prices = azof.Lakehouse(path).create_table("prices", schema)
    prices.append(
        [
            {"key": "AAPL", "event_time": day("2019-01-02"), "price": 157.9},
            {"key": "AAPL", "event_time": day("2019-02-01"), "price": 166.5},
            {"key": "MSFT", "event_time": day("2019-01-02"), "price": 101.1},
        ]
    )
    prices.delete("MSFT", day("2019-03-01"))
    prices.append(
        [
            {"key": "AAPL", "event_time": day("2019-02-01"), "price": 166.4},
            {"key": "AAPL", "event_time": day("2019-01-15"), "price": 150.0},
        ]
    )
    return path


def prices(lake: Path) -> azof.Table:
    return azof.Lakehouse(lake).table("prices")


def test_history_plain_and_bitemporal(azof_cli, lake: Path, tmp_path: Path) -> None:
    result = azof_cli("history", "--path", lake, "--table", "prices", "AAPL")
    assert (result.code, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "key\tvalid_from\tvalid_to\tis_deleted\tprice",
        "AAPL\t2019-01-02T00:00:00.000Z\t2019-01-15T00:00:00.000Z\tfalse\t157.9",
        "AAPL\t2019-01-15T00:00:00.000Z\t2019-02-01T00:00:00.000Z\tfalse\t150",
        "AAPL\t2019-02-01T00:00:00.000Z\t\tfalse\t166.4",
    ]
    out = tmp_path / "v1.parquet"
    result = azof_cli(
        "history", "--path", lake, "--table", "prices", "AAPL", "MSFT", "--version", "1",
        "--start", "2019-01-10", "-o", out,
    )  # fmt: skip
    assert (result.code, result.stderr, result.stdout) == (0, f"wrote 3 rows to {out}\n", "")
    expected = prices(lake).history(["AAPL", "MSFT"], "2019-01-10", version=1)
    assert pq.read_table(out).to_pylist() == expected.to_pylist()


def test_changes_csv(azof_cli, lake: Path) -> None:
    result = azof_cli(
        "changes", "--path", lake, "--table", "prices", "--start", "2019-02-01",
        "--end", "2019-04-01", "--format", "csv",
    )  # fmt: skip
    assert (result.code, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "key,change,before_event_time,before_price,after_event_time,after_price",
        "AAPL,update,2019-01-15T00:00:00.000Z,150,2019-02-01T00:00:00.000Z,166.4",
        "MSFT,delete,2019-01-02T00:00:00.000Z,101.1,2019-03-01T00:00:00.000Z,",
    ]


def test_restatements_json(azof_cli, lake: Path) -> None:
    result = azof_cli(
        "restatements", "--path", lake, "--table", "prices", "--as-of", "2019-02-10",
        "--since-version", "1", "-f", "json",
    )  # fmt: skip
    assert (result.code, result.stderr) == (0, "")
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {
            "key": "AAPL",
            "change": "changed",
            "old_event_time": "2019-02-01T00:00:00.000Z",
            "old_price": 166.5,
            "new_event_time": "2019-02-01T00:00:00.000Z",
            "new_price": 166.4,
        }
    ]


def test_asof_join_csv_file(azof_cli, lake: Path, tmp_path: Path) -> None:
    left = tmp_path / "orders.csv"
    left.write_text(
        "symbol,ordered_at,qty\n"
        "MSFT,2019-02-01,1\nAAPL,2018-12-31T00:00:00Z,2\nAAPL,2019-01-20 12:00:00,3\n"
        "MSFT,2019-03-01,4\nIBM,2019-02-01,5\n"
    )
    out = tmp_path / "features.parquet"
    result = azof_cli(
        "asof-join", "--path", lake, "--table", "prices", "--left", left, "--on", "symbol",
        "--at", "ordered_at", "--columns", "price,event_time", "-o", out,
    )  # fmt: skip
    assert (result.code, result.stderr, result.stdout) == (0, f"wrote 5 rows to {out}\n", "")
    joined = pq.read_table(out)
    times = ["2019-02-01", "2018-12-31", "2019-01-20T12:00:00", "2019-03-01", "2019-02-01"]
    frame = pa.table(
        {
            "symbol": ["MSFT", "AAPL", "AAPL", "MSFT", "IBM"],
            "ordered_at": pa.array([day(t) for t in times], pa.timestamp("ms", tz="UTC")),
            "qty": [1, 2, 3, 4, 5],
        }
    )
    expected = prices(lake).asof_join(
        frame, "symbol", "ordered_at", columns=["price", "event_time"]
    )
    assert joined.to_pylist() == expected.to_pylist()
    assert joined.column("price").to_pylist() == [101.1, None, 150.0, None, None]


def test_errors_are_one_line(azof_cli, lake: Path) -> None:
    result = azof_cli("history", "--path", lake, "--table", "nope", "AAPL")
    result.assert_clean_error("no table 'nope'")
    assert result.code == 1
    result = azof_cli(
        "restatements", "--path", lake, "--table", "prices", "--since-version", "9",
        "--version", "1", "--known-at", "2030-01-01",
    )  # fmt: skip
    result.assert_clean_error("give --version or --known-at, not both")
    assert result.code == 2


def test_seed_financials(azof_cli, seed: Path, tmp_path: Path) -> None:
    out = tmp_path / "aapl.parquet"
    result = azof_cli(
        "history", "--path", seed, "--table", "financials", "AAPL", "--start", "2019-01-01",
        "--end", "2020-01-01", "--columns", "revenue,net_income", "-o", out,
    )  # fmt: skip
    assert (result.code, result.stderr) == (0, f"wrote 5 rows to {out}\n")
    financials = azof.Lakehouse(seed).table("financials")
    expected = financials.history(
        "AAPL", "2019-01-01", "2020-01-01", columns=["revenue", "net_income"]
    )
    assert pq.read_table(out).to_pylist() == expected.to_pylist()
    assert expected.num_rows == 5


@pytest.mark.parametrize("command", ["scan", "info"])
def test_version_and_known_at_together_is_a_usage_error(azof_cli, lake: Path, command: str) -> None:
    result = azof_cli(
        command, "--path", lake, "--table", "prices", "--version", "1", "--known-at", "2030-01-01"
    )
    result.assert_clean_error("give --version or --known-at, not both")
    assert result.code == 2


def json_rows(result) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    assert (result.code, result.stderr) == (0, ""), result
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_row_commands_print_json_lines(azof_cli, lake: Path, tmp_path: Path) -> None:
    """history, changes, restatements and asof-join: one JSON object per row (docs/cli.md),
    times as RFC 3339 text, the same rows as the API gives."""
    base = ["--path", lake, "--table", "prices"]
    history = json_rows(azof_cli("history", *base, "AAPL", "-f", "json"))
    assert history == [
        {**row, "valid_from": text(row["valid_from"]), "valid_to": text(row["valid_to"])}
        for row in prices(lake).history(["AAPL"]).to_pylist()
    ]
    assert history[0]["valid_from"] == "2019-01-02T00:00:00.000Z"
    changes = json_rows(
        azof_cli("changes", *base, "--start", "2019-02-01", "--end", "2019-04-01", "-f", "json")
    )
    assert sorted(row["key"] for row in changes) == ["AAPL", "MSFT"]
    restated = json_rows(
        azof_cli("restatements", *base, "--as-of", "2019-02-10", "--since-version", "1",
                 "-f", "json")
    )  # fmt: skip
    assert {row["key"] for row in restated} == {"AAPL"}
    left = tmp_path / "orders.csv"
    left.write_text("symbol,ordered_at\nAAPL,2019-01-20\nMSFT,2019-03-05\n")
    joined = json_rows(
        azof_cli("asof-join", *base, "--left", left, "--on", "symbol", "--at", "ordered_at",
                 "--columns", "price", "-f", "json")
    )  # fmt: skip
    assert [(row["symbol"], row["price"]) for row in joined] == [("AAPL", 150.0), ("MSFT", None)]


def text(value: object) -> object:
    """A timestamp as the CLI writes it (RFC 3339 UTC, milliseconds)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "Z"
    return value
