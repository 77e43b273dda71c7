"""Writing benchmark results into docs/benchmarks.md, one section per benchmark."""

from __future__ import annotations

import os
import platform
import re
import sys
from importlib import metadata
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\n"
    "Figures measured on this project's machines (2 cores, 24 GiB). Each section says the\n"
    "command that produced it; rerun it to refresh the section. Timings are medians.\n"
)


def machine(packages: tuple[str, ...] = ("pyarrow",)) -> str:
    """One line describing the machine and the versions measured."""
    versions = []
    for name in ("azof", *packages):
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        + ", ".join(versions)
    )


def update_section(title: str, body: str) -> None:
    """Replace (or append) the ``## title`` section of docs/benchmarks.md."""
    text = DOC.read_text() if DOC.exists() else HEADER
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)


def publish(title: str, body: str, *, write_doc: bool) -> None:
    """Print ``body``, after writing it as the ``## title`` section when ``write_doc``."""
    if write_doc:
        update_section(title, body)
    print(body)
