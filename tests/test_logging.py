"""azof logs through the ``logging`` module (logger ``azof``); storage options from the
environment and obstore's retry settings reach the object store."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

import azof
import azof.storage.store
from azof import tablelog
from azof.write.commit import append_files, commit_snapshot

SCHEMA = pa.schema([("key", pa.string()), ("event_time", pa.timestamp("ms", "UTC"))])
DAY = datetime(2024, 1, 1, tzinfo=UTC)


def test_silent_by_default() -> None:
    handlers = logging.getLogger("azof").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def test_commits_compaction_plans_and_storage_calls(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    table = azof.Lakehouse(tmp_path).create_table("t", SCHEMA)
    with caplog.at_level(logging.DEBUG, logger="azof"):
        table.append({"key": ["a"], "event_time": [DAY]})
        table.compact()
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert "table 't': committed version 1 (append: 1 rows, 1 files added, 0 removed)" in infos
    assert any(m.startswith("table 't': compaction plan at version 1:") for m in infos)
    debug = [r for r in caplog.records if r.name == "azof.storage.store"]
    assert any(r.getMessage().startswith("put_if_absent ") for r in debug)


def test_slow_storage_calls_at_info(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(azof.storage.store, "SLOW_CALL_SECONDS", 0.0)
    with caplog.at_level(logging.INFO, logger="azof"):
        azof.Lakehouse(tmp_path).create_table("t", SCHEMA)
    assert any(r.getMessage().startswith("slow storage call: ") for r in caplog.records)


def test_commit_retries_are_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    table = azof.Lakehouse(tmp_path).create_table("t", SCHEMA)
    stale = table.snapshot
    table.append({"key": ["a"], "event_time": [DAY]})  # version 1 lands first
    with caplog.at_level(logging.DEBUG, logger="azof.write.commit"):
        # read "just now": the commit tries version 1 before it looks for newer ones
        landed = commit_snapshot(
            table.storage, "t", stale, append_files([], "append"), parent_read_at=time.monotonic()
        )
    assert landed.version == 2
    assert "table 't': version 1 taken; retrying" in [r.getMessage() for r in caplog.records]
    assert tablelog.current_version(table.storage, "t") == 2


def test_lakehouse_reads_storage_options_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AZOF_STORAGE_OPTIONS", '{"region": "eu-west-1", "skip_signature": "true"}')
    lake = azof.Lakehouse(
        "s3://bucket/lake", {"region": "us-east-1", "max_retries": "2", "retry_timeout": "PT30S",
                             "init_backoff": "1s", "timeout": "10s"},
    )  # fmt: skip
    store = lake.storage._store
    assert store.config["region"] == "us-east-1"  # explicit options win
    assert store.config["skip_signature"] == "true"  # from the environment
    assert store.retry_config["max_retries"] == 2
    assert store.retry_config["retry_timeout"].total_seconds() == 30
    assert store.retry_config["backoff"]["init_backoff"].total_seconds() == 1
    assert store.client_options == {"timeout": "10s"}
    monkeypatch.setenv("AZOF_STORAGE_OPTIONS", "{oops")
    with pytest.raises(azof.InvalidArgumentError, match="AZOF_STORAGE_OPTIONS"):
        azof.Lakehouse("s3://bucket/lake")
    monkeypatch.delenv("AZOF_STORAGE_OPTIONS")
    with pytest.raises(azof.InvalidArgumentError, match="retry_timeout"):
        azof.Lakehouse("s3://bucket/lake", {"retry_timeout": "soon"})


def test_local_lakehouse_ignores_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZOF_STORAGE_OPTIONS", '{"region": "eu-west-1"}')
    assert azof.Lakehouse(tmp_path).tables() == []
