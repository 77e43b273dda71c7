"""``azof sql`` end to end through the installed console script (piped, and in a pty)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import select
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from azof.cli.repl import Item, MetaCommand, Statement, StatementSplitter, history_entry

AZOF = str(Path(sys.executable).parent / "azof")
HEADLINE = """SELECT key AS symbol, revenue, net_income
FROM financials AT ('2019-01-17T00:00:00.000Z')
WHERE industry IN ('Software')
ORDER BY revenue DESC LIMIT 5"""
HEADLINE_AS_OF = datetime(2019, 1, 17, tzinfo=UTC)
TIMEOUT = 60.0

Run = Callable[..., Any]


@pytest.fixture(scope="module")
def headline_rows(seed: Path) -> list[tuple[str, int | None, int | None]]:
    """The headline query answered from the raw Parquet files with plain pyarrow: each
    key's latest row with event_time <= T over every row of every file (no snapshot), then
    the filter, the order (SQL's DESC puts nulls first) and the limit."""
    columns = ["key", "event_time", "industry", "revenue", "net_income"]
    files = sorted((seed / "financials").glob("*.parquet"))
    rows = pa.concat_tables(
        [pq.read_table(path, columns=columns).replace_schema_metadata(None) for path in files]
    )
    bound = pa.scalar(HEADLINE_AS_OF, rows.schema.field("event_time").type)
    rows = rows.filter(pc.less_equal(rows["event_time"], bound))
    latest = rows.group_by("key").aggregate([("event_time", "max")])
    latest = latest.rename_columns(["key", "event_time"])
    answer = rows.join(latest, keys=["key", "event_time"], join_type="inner")
    answer = answer.group_by(columns).aggregate([])  # rows repeated across files: once
    keys = answer["key"].to_pylist()
    assert len(keys) == len(set(keys)), "keys with disagreeing latest rows: ambiguous oracle"
    software = answer.filter(pc.equal(answer["industry"], "Software"))
    missing = pc.is_null(software["revenue"])
    ordered = pa.concat_tables(
        [
            software.filter(missing),
            software.filter(pc.invert(missing)).sort_by([("revenue", "descending")]),
        ]
    )
    revenue = ordered["revenue"].to_pylist()
    assert len(revenue) > 5
    assert len(set(revenue[:6])) == 6, "tied revenues: the order would be ambiguous"
    top = ordered.slice(0, 5)
    return list(
        zip(
            top["key"].to_pylist(),
            top["revenue"].to_pylist(),
            top["net_income"].to_pylist(),
            strict=True,
        )
    )


def _environment(**extra: str) -> dict[str, str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AZOF_") and k not in ("COLUMNS", "LINES")
    }
    environment.update(extra)
    return environment


def test_headline_query(azof_cli: Run, seed: Path, headline_rows: list[tuple[Any, ...]]) -> None:
    result = azof_cli("sql", "--path", seed, HEADLINE)
    assert (result.code, result.stderr) == (0, "")
    expected = ["symbol\trevenue\tnet_income"]
    expected += ["\t".join("" if v is None else str(v) for v in row) for row in headline_rows]
    assert result.stdout.splitlines() == expected


def test_csv_and_json(azof_cli: Run, seed: Path, headline_rows: list[tuple[Any, ...]]) -> None:
    result = azof_cli("sql", "--path", seed, "--format", "csv", HEADLINE)
    assert (result.code, result.stderr) == (0, "")
    assert list(csv.reader(io.StringIO(result.stdout))) == [
        ["symbol", "revenue", "net_income"],
        *(["" if v is None else str(v) for v in row] for row in headline_rows),
    ]

    result = azof_cli("sql", "--path", seed, HEADLINE, "--format", "json")
    assert (result.code, result.stderr) == (0, "")
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {"symbol": key, "revenue": revenue, "net_income": income}
        for key, revenue, income in headline_rows
    ]


def test_parquet_output(
    azof_cli: Run, seed: Path, tmp_path: Path, headline_rows: list[tuple[Any, ...]]
) -> None:
    out = tmp_path / "top.parquet"
    result = azof_cli("sql", "--path", seed, "-o", out, HEADLINE)
    assert (result.code, result.stdout, result.stderr) == (0, "", f"wrote 5 rows to {out}\n")
    table = pq.read_table(out)
    assert table.schema.field("revenue").type == pa.int64()
    assert [tuple(row.values()) for row in table.to_pylist()] == headline_rows


def test_file_with_two_statements(azof_cli: Run, seed: Path, tmp_path: Path) -> None:
    script = tmp_path / "report.sql"
    script.write_text(
        "-- two statements; the second spans lines\n"
        "SELECT key, value FROM table0 AT ('2024-02-17') ORDER BY key;\n"
        "SELECT count(*) AS n,\n"
        "       'a;b' AS s  /* not the end; */\n"
        "FROM financials AT (TIMESTAMP => '2019-01-17');\n",
        encoding="utf-8",
    )
    result = azof_cli("sql", "--path", seed, "-f", script, "--format", "csv")
    assert (result.code, result.stderr) == (0, "")
    first, second = result.stdout.split("\n\n")  # results are separated by an empty line
    assert first.splitlines() == ["key,value", "1,abc2", "2,xyz"]
    header, row = second.splitlines()
    assert header == "n,s"
    count, text = row.split(",")
    assert int(count) > 100
    assert text == "a;b"


def test_piped_stdin(seed: Path) -> None:
    script = (
        "SELECT key,\n"
        "       value  -- a comment; not the end\n"
        "FROM table0 AT ('2024-02-17')\n"
        "ORDER BY key;\n"
        ".schema table0\n"
        "SELECT 'x;\n"
        "y' AS s; SELECT 42 AS answer"  # the last statement needs no ';'
    )
    done = subprocess.run(
        [AZOF, "sql", "--path", str(seed)],
        input=script,
        capture_output=True,
        text=True,
        env=_environment(),
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert "azof>" not in done.stdout
    assert done.stdout.split("\n\n") == [
        "key\tvalue\n1\tabc2\n2\txyz",
        "column\ttype\tnullable\n"
        "key\tstring\tfalse\n"
        "event_time\ttimestamp[ms, tz=UTC]\tfalse\n"
        "value\tstring\ttrue",
        "s\nx;\\ny",
        "answer\n42\n",
    ]


class Terminal:
    """The console script on a pseudo-terminal: send lines, wait for output."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        import fcntl  # POSIX only
        import pty
        import termios

        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.process = subprocess.Popen(
            args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
        )
        os.close(slave)
        self.text = ""
        self.position = 0

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        if not data:
            return False
        raw = data.decode("utf-8", errors="replace")
        self.text += re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\r", "", raw)
        return True

    def expect(self, fragment: str) -> None:
        """Wait until ``fragment`` appears after the previous match."""
        deadline = time.monotonic() + TIMEOUT
        while (found := self.text.find(fragment, self.position)) < 0:
            if time.monotonic() > deadline or not self._read(0.1):
                raise AssertionError(f"{fragment!r} not in the output:\n{self.text}")
        self.position = found + len(fragment)

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def finish(self) -> int:
        deadline = time.monotonic() + TIMEOUT
        while self._read(0.1) and time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
        code = self.process.wait(timeout=TIMEOUT)
        os.close(self.master)
        return code


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_interactive_prompt(seed: Path, tmp_path: Path) -> None:
    history = tmp_path / "history"
    terminal = Terminal(
        [AZOF, "sql", "--path", str(seed)],
        _environment(AZOF_HISTORY=str(history), TERM="dumb"),
    )
    try:
        terminal.expect("azof> ")
        terminal.send("SELECT key,\r")
        terminal.expect("   -> ")
        terminal.send("  value FROM table0 AT ('2024-02-17')\r")
        terminal.expect("   -> ")
        terminal.send("ORDER BY key;\r")
        terminal.expect("abc2")
        terminal.expect("xyz")
        terminal.expect("azof> ")
        terminal.send(".tables\r")
        for name in ("financials", "table0", "table1", "table2"):
            terminal.expect(name)
        terminal.expect("azof> ")
        terminal.send("SELECT * FROM nope;\r")
        terminal.expect("error: no table 'nope'")
        terminal.expect("azof> ")  # the prompt goes on after an error
        terminal.send("SELECT 6 * 7 AS answer;\r")
        terminal.expect("42")
        terminal.expect("azof> ")
        terminal.send("\x04")  # Ctrl-D leaves
        code = terminal.finish()
    finally:
        if terminal.process.poll() is None:
            terminal.process.kill()
            terminal.process.wait()
    assert code == 0, terminal.text
    assert "Traceback" not in terminal.text
    assert terminal.text.count("error:") == 1
    assert history.read_text(encoding="utf-8").splitlines() == [
        "SELECT key, value FROM table0 AT ('2024-02-17') ORDER BY key;",
        ".tables",
        "SELECT * FROM nope;",
        "SELECT 6 * 7 AS answer;",
    ]


@pytest.mark.parametrize(
    ("query", "fragments"),
    [
        pytest.param("SELEC key FROM financials", ["SELEC"], id="bad-sql"),
        pytest.param("SELECT * FROM nope", ["no table 'nope'", "financials"], id="no-table"),
        pytest.param(
            "SELECT key FROM financials AT ('2019-13-45')",
            ["'2019-13-45'", "timestamp"],
            id="bad-timestamp",
        ),
    ],
)
def test_errors(azof_cli: Run, seed: Path, query: str, fragments: list[str]) -> None:
    result = azof_cli("sql", "--path", seed, query)
    assert result.stdout == ""
    result.assert_clean_error(*fragments)


def test_script_stops_at_first_error(azof_cli: Run, seed: Path, tmp_path: Path) -> None:
    script = tmp_path / "broken.sql"
    script.write_text(
        "SELECT 1 AS one;\n\nSELECT *\nFROM nope;\nSELECT 2 AS two;\n", encoding="utf-8"
    )
    result = azof_cli("sql", "--path", seed, "--file", script)
    assert result.stdout == "one\n1\n"
    result.assert_clean_error(f"{script}, line 3:", "no table 'nope'")
    assert result.code == 1


def test_help(azof_cli: Run) -> None:
    result = azof_cli("sql", "--help")
    assert (result.code, result.stderr) == (0, "")
    assert "azof sql --path ../shared/seed-tables" in result.stdout
    assert "FROM financials AT ('2019-01-17T00:00:00.000Z')" in result.stdout
    for option in ("--file", "--format", "--output", "--storage-option"):
        assert option in result.stdout


# -- the statement splitter and the history, in process --------------------------------------


def _feed(lines: list[str]) -> list[list[Item]]:
    splitter = StatementSplitter()
    fed = [splitter.feed(line) for line in lines]
    return [*fed, splitter.finish()]


def test_splitter_ends_statements_outside_strings_and_comments() -> None:
    assert _feed(
        [
            "SELECT 'a;b', \"c;d\" -- e;f",
            "  /* g; /* nested; */ h; */ , $$i;j$$, E'k\\';l' FROM t;  SELECT 2;;",
            "EXPLAIN SELECT ';'",
            "; SELECT",
        ]
    ) == [
        [],
        [
            Statement(
                "SELECT 'a;b', \"c;d\" -- e;f\n"
                "  /* g; /* nested; */ h; */ , $$i;j$$, E'k\\';l' FROM t",
                1,
            ),
            Statement("SELECT 2", 2),
        ],
        [],
        [Statement("EXPLAIN SELECT ';'", 3)],
        [Statement("SELECT", 4)],  # the rest, without ';', at the end of the input
    ]


def test_splitter_meta_commands_and_pending_state() -> None:
    splitter = StatementSplitter()
    assert splitter.feed("-- a comment alone") == []
    assert not splitter.pending
    assert splitter.feed(".schema  financials ;") == [MetaCommand(".schema  financials", 2)]
    assert splitter.feed("SELECT 'x") == []
    assert splitter.pending
    assert splitter.feed(".tables; y';") == [Statement("SELECT 'x\n.tables; y'", 3)]
    assert not splitter.pending
    assert splitter.feed("SELECT 1; SELECT 'open;") == [Statement("SELECT 1", 5)]
    assert splitter.pending
    splitter.reset()
    assert not splitter.pending
    assert splitter.finish() == []
    command = MetaCommand(".Schema  financials", 1)
    assert (command.name, command.argument) == (".schema", "financials")


def test_history_entry() -> None:
    assert history_entry(["", "  "]) is None
    assert history_entry(["SELECT 1;"]) == "SELECT 1;"
    assert history_entry(["SELECT key,", "", "   value FROM t;"]) == "SELECT key, value FROM t;"
    assert history_entry(["SELECT key -- k", "FROM t;"]) == "SELECT key -- k\nFROM t;"
