"""Tables written by the release before the manifest layer (issue 17) still open, scan,
append, compact and vacuum correctly.

The fixtures in ``tables/`` are that release's output (``make_fixtures.py``, never
regenerated); ``expected/<table>.json`` holds the rows written and the answers of the naive
oracle. Every test works on a copy in ``tmp_path``: the committed files are never written.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from answers import from_json, key_text, latest_rows, to_json

import azof

HERE = Path(__file__).resolve().parent
TABLES = HERE / "tables"
EXPECTED = HERE / "expected"

LATEST_FORMAT = {"v2_plain": 2, "v3_evolved": 3, "v4_named": 4}
"""The format version of each fixture's latest snapshot, as the previous release wrote it."""


def at(month: int, day: int, hour: int = 0, micros: int = 0) -> datetime:
    return datetime(2024, month, day, hour, 0, 0, micros, tzinfo=UTC)


# Per fixture: rows to append (a late row, a tie with an existing row, a new key) and keys
# to delete, with the event time of the delete.
APPENDS: dict[str, tuple[list[dict[str, Any]], list[Any], datetime]] = {
    "v2_plain": (
        [
            {"key": 1, "event_time": at(1, 2), "price": 0.5, "note": "compat-late"},
            {"key": 5, "event_time": at(3, 5), "price": 55.0, "note": "compat-tie"},
            {"key": 20, "event_time": at(4, 25), "price": 20.0, "note": "compat-new"},
        ],
        [11],
        at(3, 1),
    ),
    "v3_evolved": (
        [
            {"key": "b", "event_time": at(1, 5), "price": 0.5, "qty": 1, "currency": "SEK"},
            {"key": "g", "event_time": at(2, 7), "price": 77.0, "qty": 77, "currency": None},
            {"key": "z", "event_time": at(4, 1), "price": 1.5, "qty": 2, "currency": "USD"},
        ],
        ["i"],
        at(1, 10),
    ),
    "v4_named": (
        [
            {"region": "eu", "id": 1, "ts": at(1, 3), "amount": -1, "status": "late"},
            {"region": "us", "id": 2, "ts": at(2, 4), "amount": 4, "status": "tie"},
            {"region": "ap", "id": 8, "ts": at(4, 1, 0, 5), "amount": 8, "status": "new"},
        ],
        [("eu", 9)],
        at(3, 31),
    ),
}

NAMES = list(LATEST_FORMAT)


def expected(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EXPECTED / f"{name}.json").read_text())
    return document


def when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class Oracle:
    """The fixture's written rows plus the test's, answered by tests/naive.py."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.key = document["key"]
        self.event_time = document["event_time"]
        self.columns = document["columns"]
        self.written = [(from_json(r["row"]), r["deleted"]) for r in document["rows"]]

    def append(self, rows: list[dict[str, Any]]) -> None:
        self.written += [(row, False) for row in rows]

    def delete(self, keys: list[Any], at: datetime) -> None:
        for key in keys:
            parts = key if isinstance(key, tuple) else (key,)
            row = dict(zip(self.key, parts, strict=True))
            self.written.append(({**row, self.event_time: at}, True))

    def answer(self, as_of: datetime | None) -> dict[str, dict[str, Any]]:
        return latest_rows(self.written, self.key, self.event_time, self.columns, as_of)


def scanned(table: azof.Table, key: list[str], **read: Any) -> tuple[list[str], dict[str, Any]]:
    """The column names and the rows (by key text, JSON form) of a scan."""
    answer = table.scan(**read)
    rows = {key_text(row, key): to_json(row) for row in answer.to_pylist()}
    assert len(rows) == answer.num_rows, "a key appears twice in the answer"
    return answer.column_names, rows


def check_pinned(table: azof.Table, document: dict[str, Any]) -> None:
    """Scans of the fixture's older versions answer what the oracle said."""
    for scan in document["scans"]:
        if scan["version"] is not None:
            read = {"as_of": when(scan["as_of"]), "version": scan["version"]}
            assert scanned(table, document["key"], **read) == (scan["columns"], scan["rows"])


def check_latest(table: azof.Table, oracle: Oracle, times: list[datetime | None]) -> None:
    for as_of in times:
        columns, rows = scanned(table, oracle.key, as_of=as_of)
        assert columns == oracle.columns
        assert rows == oracle.answer(as_of), as_of


@pytest.fixture(params=NAMES)
def name(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def copy(name: str, tmp_path: Path) -> azof.Table:
    """The fixture table copied into a lakehouse in ``tmp_path``, opened."""
    shutil.copytree(TABLES / name, tmp_path / name)
    return azof.Lakehouse(tmp_path).table(name)


def test_fixture_is_of_its_format_version(name: str) -> None:
    """Reads the committed snapshots (only reads them)."""
    document = expected(name)
    formats = {
        int(path.stem[1:]): json.loads(path.read_text()).get("format_version", 1)
        for path in (TABLES / name).glob("s*.json")
    }
    assert {str(v): f for v, f in formats.items()} == document["formats"]
    assert formats[max(formats)] == LATEST_FORMAT[name]
    assert set(formats.values()) == ({2, 3} if name == "v3_evolved" else {LATEST_FORMAT[name]})


def test_expected_answers_are_the_oracle_of_the_rows(name: str) -> None:
    """The stored answers of the latest version follow from the stored rows (the file is
    consistent before it is used to judge azof)."""
    document = expected(name)
    oracle = Oracle(document)
    latest = [s for s in document["scans"] if s["version"] is None]
    assert len(latest) >= 3
    for scan in latest:
        assert scan["rows"] == oracle.answer(when(scan["as_of"]))


def test_older_table_opens_and_scans(copy: azof.Table, name: str) -> None:
    document = expected(name)
    table = copy
    assert table.versions() == list(range(len(document["formats"])))
    assert [commit.operation for commit in table.log()] == document["log"]
    assert table.key_columns == tuple(document["key"])
    assert table.event_time_column == document["event_time"]
    assert table.bucket_count() == document["buckets"]
    for scan in document["scans"]:
        read = {"as_of": when(scan["as_of"]), "version": scan["version"]}
        assert scanned(table, document["key"], **read) == (scan["columns"], scan["rows"])
    assert table.verify() > 0
    # the same older versions chosen by commit time, and opened pinned
    commit_times = {commit.version: commit.time for commit in table.log()}
    assert list(commit_times.values()) == sorted(set(commit_times.values()))
    for scan in document["scans"]:
        if scan["version"] is not None:
            read = {"as_of": when(scan["as_of"]), "known_at": commit_times[scan["version"]]}
            assert scanned(table, document["key"], **read) == (scan["columns"], scan["rows"])
            pinned = table.lakehouse.table(table.name, version=scan["version"])
            assert pinned.verify() > 0
            read = {"as_of": when(scan["as_of"])}
            assert scanned(pinned, document["key"], **read) == (scan["columns"], scan["rows"])


def test_older_table_restores_an_older_version(copy: azof.Table, name: str) -> None:
    """A restore to a version before the compaction (its own format version and schema),
    committed on the fixture's latest version."""
    document = expected(name)
    table = copy
    target = min(s["version"] for s in document["scans"] if s["version"] is not None)
    restored = table.restore(version=target)
    assert restored == len(document["formats"])
    for scan in document["scans"]:
        if scan["version"] == target:
            read = {"as_of": when(scan["as_of"])}
            assert scanned(table, document["key"], **read) == (scan["columns"], scan["rows"])
    assert table.verify() > 0


def test_older_table_appends_compacts_and_vacuums(copy: azof.Table, name: str) -> None:
    document = expected(name)
    table = copy
    oracle = Oracle(document)
    times = [when(s["as_of"]) for s in document["scans"] if s["version"] is None]
    fixture_versions = table.versions()
    old = [s["version"] for s in document["scans"] if s["version"] is not None]

    rows, deleted, deleted_at = APPENDS[name]
    appended = table.append(rows)
    oracle.append(rows)
    removed = table.delete(deleted, deleted_at)
    oracle.delete(deleted, deleted_at)
    assert (appended, removed) == (fixture_versions[-1] + 1, fixture_versions[-1] + 2)
    check_latest(table, oracle, times)
    check_pinned(table, document)

    stats = table.compact()  # the stored policy: the fixture's tree is built on
    assert stats.version == table.version == removed + 1
    assert stats.leaves_rewritten >= 1
    assert stats.files_removed >= 1
    assert table.bucket_count() == document["buckets"]
    check_latest(table, oracle, times)
    check_pinned(table, document)
    assert table.versions() == [*fixture_versions, appended, removed, removed + 1]
    assert [c.operation for c in table.log()] == [
        *document["log"],
        "append",
        "delete",
        "compact",
    ]

    result = table.vacuum(retain_versions=2, grace=0)
    kept = [removed, removed + 1]
    assert result.expired_versions == [*fixture_versions, appended]
    assert result.deleted_files, "the vacuum deleted none of the files it expired"
    assert table.versions() == kept
    assert [c.version for c in table.log()] == kept
    check_latest(table, oracle, times)
    assert table.verify() > 0
    assert table.verify(version=removed) > 0
    for version in old:
        with pytest.raises(azof.VersionNotFoundError):
            table.scan(version=version)
    reopened = azof.Lakehouse(table.lakehouse.storage.uri).table(name)
    assert reopened.version == removed + 1
    check_latest(reopened, oracle, times)
