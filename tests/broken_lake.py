"""A local lakehouse with one good table beside broken table folders, for the tests that
one unreadable folder hides no other table (``azof tables``, ``azof sql``, SQL engines)."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

import azof

SCHEMA = pa.schema([("key", pa.string()), ("event_time", pa.timestamp("ms", "UTC"))])


def build_broken_lake(lake: Path) -> Path:
    """Tables ``good``, ``odd`` (a file whose name is not UTF-8 beside its snapshots: the
    folder cannot be listed, the table still opens), ``badhint`` (``version.txt`` holds
    text) and ``truncated`` (its latest snapshot cut short)."""
    lake.mkdir(parents=True, exist_ok=True)
    lakehouse = azof.Lakehouse(lake)
    for name in ("good", "odd", "badhint", "truncated"):
        table = lakehouse.create_table(name, SCHEMA)
        table.append(pa.table({"key": ["a"], "event_time": pa.array([0], SCHEMA.field(1).type)}))
    try:
        os.close(os.open(os.fsencode(lake / "odd") + b"/note\xff", os.O_CREAT | os.O_WRONLY))
    except OSError:  # pragma: no cover - a file system that refuses such names
        pytest.skip("this file system refuses file names that are not UTF-8")
    (lake / "badhint" / "version.txt").write_text("garbage\n")
    latest = lake / "truncated" / "s1.json"
    latest.write_bytes(latest.read_bytes()[:30])
    return lake
