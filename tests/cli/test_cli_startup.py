"""The command line starts quickly: ``azof --help`` imports no command, and light commands
do not load the table layers (pyarrow.dataset, which pulls in pandas)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from azof.cli.app import COMMANDS, SUMMARIES, cli


def test_the_summaries_are_the_commands_own() -> None:
    ctx = click.Context(cli)
    assert set(SUMMARIES) == set(COMMANDS)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None
        assert SUMMARIES[name] == command.get_short_help_str(limit=1000), name


def loaded_after(*args: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``azof ARGS``."""
    code = (
        "import sys\n"
        "from azof.cli.app import cli\n"
        f"try: cli.main({list(args)!r}, prog_name='azof')\n"
        "except SystemExit: pass\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(done.stdout.split())


def test_help_imports_no_command() -> None:
    modules = loaded_after("--help")
    assert not {m for m in modules if m.startswith("azof.cli.") and m != "azof.cli.app"} - {
        "azof.cli"
    }
    assert "pyarrow" not in modules


def test_listing_tables_does_not_load_the_table_layers(tmp_path: Path) -> None:
    modules = loaded_after("tables", "--path", str(tmp_path))
    assert "azof.cli.info" in modules
    assert {"azof.table", "azof.scan.read", "pyarrow.dataset", "pandas"}.isdisjoint(modules)
