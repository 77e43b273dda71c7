"""A closed stdout is normal for a command in a pipe (``azof scan ... | head -1``): the
command stops quietly with exit code 0, through a real pipe whose reader goes away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

import azof

AZOF = Path(sys.executable).parent / "azof"

ROWS = 20_000  # far more output than a pipe's buffer holds


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pipe") / "lake"
    path.mkdir()
    table = azof.Lakehouse(path).create_table(
        "big", pa.schema([("key", pa.int64()), ("event_time", pa.timestamp("ms", "UTC"))])
    )
    data = {"key": list(range(ROWS)), "event_time": pa.array([0] * ROWS, pa.timestamp("ms"))}
    table.append(pa.table(data), properties={"note": "x" * 200_000})  # a long log line
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "--table", "big"],
        ["scan", "--table", "big", "--format", "json"],
        ["sql", "SELECT * FROM big"],
        ["log", "--table", "big"],
        ["history", "--table", "big"],
    ],
    ids=["scan", "scan-json", "sql", "log", "history"],
)
def test_a_closed_stdout_ends_quietly(lake: Path, args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZOF_")}
    command, *rest = args
    with subprocess.Popen(
        [str(AZOF), command, "--path", str(lake), *rest],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        assert process.stdout.readline()  # the reader takes one line (as head -1) ...
        process.stdout.close()  # ... and goes away while the command still writes
        stderr = process.stderr.read().decode()
        code = process.wait(timeout=120)
    assert (code, stderr) == (0, "")
