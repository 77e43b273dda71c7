"""Write the compatibility fixtures: small tables of format versions 2, 3 and 4 as the
release before the manifest layer (issue 17) wrote them, with their expected answers.

Run once, with that release, from the repository root::

    PYTHONPATH=src python tests/compat/make_fixtures.py

It writes the lakehouse ``tests/compat/tables/`` (one folder per table: snapshots and data
files exactly as azof left them) and ``tests/compat/expected/<table>.json``: every row
written with the version that committed it, the scan answers at a few as-of times of the
latest version and of older versions, computed by the naive oracle (tests/naive.py) from
those rows (not by azof), and the format version of every snapshot. The output is
committed; ``test_older_versions.py`` reads copies of it. It refuses to overwrite existing
fixtures: they are the previous release's output, and a newer release must never
regenerate them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # answers.py, and tests/naive.py

from answers import key_text, latest_rows, to_json  # noqa: E402

import azof  # noqa: E402

TABLES = HERE / "tables"
EXPECTED = HERE / "expected"

POLICY = azof.CompactionPolicy(segment="month", buckets=2, max_deltas=1000)
"""Monthly leaves under years, two key buckets, no automatic compaction."""


def at(month: int, day: int, hour: int = 0, micros: int = 0) -> datetime:
    return datetime(2024, month, day, hour, 0, 0, micros, tzinfo=UTC)


LATEST_TIMES: list[datetime | None] = [
    at(1, 15),
    at(2, 15),
    datetime(2024, 3, 31, 23, 59, 59, 999000, tzinfo=UTC),
    None,
]
"""The as-of times every fixture's latest version is scanned at (``None``: current)."""


@dataclass
class Recorder:
    """A table being written, with every row it was given (in commit order) and its
    schema changes, so that the oracle can answer for any version."""

    table: azof.Table
    key: tuple[str, ...]
    event_time: str
    columns: list[str]
    written: list[tuple[int, dict[str, Any], bool]] = field(default_factory=list)
    changes: list[tuple[int, Callable[[dict[str, Any]], None]]] = field(default_factory=list)
    columns_at: dict[int, list[str]] = field(default_factory=dict)
    formats: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.columns_at[0] = list(self.columns)

    def _landed(self, version: int) -> int:
        for missing in range(max(self.columns_at) + 1, version + 1):
            self.columns_at[missing] = list(self.columns)
        return version

    def append(self, rows: list[dict[str, Any]]) -> int:
        version = self.table.append(rows)
        self.written += [(version, dict(row), False) for row in rows]
        return self._landed(version)

    def delete(self, keys: Sequence[Any], when: datetime) -> int:
        version = self.table.delete(list(keys), when)
        for key in keys:
            parts = key if isinstance(key, tuple) else (key,)
            row = dict(zip(self.key, parts, strict=True))
            self.written.append((version, {**row, self.event_time: when}, True))
        return self._landed(version)

    def add_column(self, name: str, type: pa.DataType, default: Any) -> int:
        version = self.table.evolve().add_column(name, type, default=default).commit()

        def add(row: dict[str, Any]) -> None:
            row.setdefault(name, default)

        self.changes.append((version, add))
        self.columns.append(name)
        return self._landed(version)

    def rename_column(self, old: str, new: str) -> int:
        version = self.table.evolve().rename_column(old, new).commit()

        def rename(row: dict[str, Any]) -> None:
            if old in row:
                row[new] = row.pop(old)

        self.changes.append((version, rename))
        self.columns[self.columns.index(old)] = new
        return self._landed(version)

    def set_policy_and_compact(self) -> int:
        self._landed(self.table.set_policy(POLICY))
        self.table.compact()
        return self._landed(self.table.version)

    def rows_at(self, version: int) -> list[tuple[dict[str, Any], bool]]:
        """The rows committed up to ``version``, as that version's schema reads them."""
        out = []
        for written_in, row, deleted in self.written:
            if written_in > version:
                continue
            seen = dict(row)
            for changed_in, change in self.changes:
                if changed_in <= version and not deleted:
                    change(seen)
            out.append((seen, deleted))
        return out

    def answer(self, version: int, as_of: datetime | None) -> dict[str, dict[str, Any]]:
        return latest_rows(
            self.rows_at(version), self.key, self.event_time, self.columns_at[version], as_of
        )


def v2_plain(lake: azof.Lakehouse) -> tuple[Recorder, list[tuple[int, datetime | None]]]:
    """Format 2: integer key, appends with late rows and ties, deletes, a compacted tree in
    two buckets and pending deltas after it."""
    schema = {
        "key": pa.int64(),
        "event_time": pa.timestamp("ms", tz="UTC"),
        "price": pa.float64(),
        "note": pa.string(),
    }
    table = lake.create_table("v2_plain", schema)
    rec = Recorder(table, ("key",), "event_time", ["key", "event_time", "price", "note"])

    def row(key: int, when: datetime, price: float, note: str | None) -> dict[str, Any]:
        return {"key": key, "event_time": when, "price": price, "note": note}

    first = [row(k, at(1, k), float(k), "a") for k in range(1, 11)]
    first += [row(k, at(2, k), k + 0.5, "b") for k in range(1, 11)]
    first += [row(k, at(3, k), k + 0.25, "c") for k in range(1, 6)]
    rec.append(first)  # 1
    rec.append(  # 2: a correction, late rows, a new key, a tie inside one append
        [
            row(1, at(1, 1), 100.0, "fix"),
            row(2, at(1, 20), 2.75, "late"),
            row(11, at(1, 5), 11.0, "late-new"),
            row(4, at(2, 4), 40.0, "first"),
            row(4, at(2, 4), 41.0, "second"),
            row(6, at(3, 6), 6.75, "c"),
        ]
    )
    rec.delete([3, 7], at(2, 15))  # 3
    rec.append(  # 4: a deleted key comes back, April events, a null
        [
            row(3, at(3, 20), 33.0, "back"),
            row(8, at(4, 2), 8.0, "d"),
            row(9, at(4, 9), 9.0, "d"),
            row(12, at(4, 1), 12.0, None),
        ]
    )
    rec.set_policy_and_compact()  # 5 set_policy, 6 compact
    rec.append(  # 7: pending: ties with compacted rows, a late row, a new key
        [
            row(2, at(2, 2), 222.0, "late-tie"),
            row(5, at(1, 31), 5.5, "late"),
            row(13, at(4, 20), 13.0, "new"),
        ]
    )
    rec.delete([9, 10], at(4, 10))  # 8
    rec.append([row(10, at(4, 15), 10.0, "after-delete"), row(4, at(2, 4), 42.0, "third")])
    old = [(4, at(2, 15)), (4, None), (6, at(3, 1))]
    return rec, old


def v3_evolved(lake: azof.Lakehouse) -> tuple[Recorder, list[tuple[int, datetime | None]]]:
    """Format 3: string key; a column added with a default, a value column renamed; a
    compacted tree in two buckets and pending deltas after it."""
    schema = {
        "key": pa.string(),
        "event_time": pa.timestamp("ms", tz="UTC"),
        "px": pa.float64(),
        "qty": pa.int64(),
    }
    table = lake.create_table("v3_evolved", schema)
    rec = Recorder(table, ("key",), "event_time", ["key", "event_time", "px", "qty"])
    keys = "abcdefgh"
    first = [
        {"key": k, "event_time": at(1, i + 1), "px": i + 0.5, "qty": i} for i, k in enumerate(keys)
    ]
    first += [
        {"key": k, "event_time": at(2, i + 1), "px": i + 1.5, "qty": 10 + i}
        for i, k in enumerate(keys)
    ]
    rec.append(first)  # 1
    rec.append(  # 2
        [
            {"key": "a", "event_time": at(1, 15), "px": 9.5, "qty": 90},
            {"key": "b", "event_time": at(2, 2), "px": 8.5, "qty": 80},
            {"key": "i", "event_time": at(1, 3), "px": 7.5, "qty": 70},
        ]
    )
    rec.delete(["c"], at(2, 20))  # 3
    rec.add_column("currency", pa.string(), "USD")  # 4
    rec.rename_column("px", "price")  # 5
    rec.append(  # 6: the new column given (a null too), a key back
        [
            {"key": "d", "event_time": at(3, 4), "price": 3.25, "qty": 34, "currency": "EUR"},
            {"key": "c", "event_time": at(3, 1), "price": 2.25, "qty": 31, "currency": "GBP"},
            {"key": "j", "event_time": at(3, 10), "price": 5.25, "qty": 36, "currency": None},
        ]
    )
    # 7: an append without the new column: its rows hold the default
    rec.append([{"key": "e", "event_time": at(3, 5), "price": 4.25, "qty": 35}])
    rec.set_policy_and_compact()  # 8 set_policy, 9 compact
    rec.append(  # 10: pending: a late row, a tie with a compacted row
        [
            {"key": "f", "event_time": at(1, 31), "price": 6.0, "qty": 60, "currency": "CHF"},
            {"key": "a", "event_time": at(2, 1), "price": 1.0, "qty": 11, "currency": "JPY"},
        ]
    )
    rec.delete(["d"], at(3, 15))  # 11
    old = [(3, at(1, 15)), (3, None), (5, at(2, 20))]
    return rec, old


def v4_named(lake: azof.Lakehouse) -> tuple[Recorder, list[tuple[int, datetime | None]]]:
    """Format 4: composite key (``region``, ``id``), event time ``ts`` in microseconds;
    a compacted tree in two buckets and pending deltas after it."""
    schema = pa.schema(
        [
            pa.field("region", pa.string(), nullable=False),
            pa.field("id", pa.int64(), nullable=False),
            pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
            ("amount", pa.int64()),
            ("status", pa.string()),
        ]
    )
    table = lake.create_table("v4_named", schema, key=["region", "id"], event_time="ts")
    rec = Recorder(table, ("region", "id"), "ts", ["region", "id", "ts", "amount", "status"])

    def row(region: str, id: int, when: datetime, amount: int, status: str) -> dict[str, Any]:
        return {"region": region, "id": id, "ts": when, "amount": amount, "status": status}

    keys = [("eu", 1), ("eu", 2), ("us", 1), ("us", 2), ("ap", 7)]
    first = [row(r, i, at(1, n + 1, 9, 250), 100 * n, "open") for n, (r, i) in enumerate(keys)]
    first += [row(r, i, at(2, n + 1), 100 * n + 1, "paid") for n, (r, i) in enumerate(keys)]
    rec.append(first)  # 1
    rec.append(  # 2: a late row of a new key, a correction, a tie inside one append
        [
            row("us", 3, at(1, 10, 12, 123456), 7, "late"),
            row("eu", 1, at(1, 1, 9, 250), 5, "fix"),
            row("ap", 7, at(2, 5), 1, "first"),
            row("ap", 7, at(2, 5), 2, "second"),
        ]
    )
    rec.delete([("eu", 2)], at(2, 10))  # 3
    rec.append(  # 4
        [
            row("eu", 2, at(3, 3), 300, "back"),
            row("us", 1, at(3, 7, 6, 1), 301, "paid"),
            row("eu", 9, at(3, 30), 302, "open"),
        ]
    )
    rec.set_policy_and_compact()  # 5 set_policy, 6 compact
    rec.append(  # 7: pending: a tie with a compacted row, a late row
        [
            row("us", 2, at(2, 4), 999, "restated"),
            row("ap", 7, at(1, 20), 55, "late"),
        ]
    )
    rec.delete([("us", 1)], at(3, 20))  # 8
    old = [(4, at(2, 10)), (4, None), (6, at(2, 4))]
    return rec, old


FIXTURES: dict[str, Callable[[azof.Lakehouse], tuple[Recorder, list[Any]]]] = {
    "v2_plain": v2_plain,
    "v3_evolved": v3_evolved,
    "v4_named": v4_named,
}


def snapshot_formats(folder: Path) -> dict[int, int]:
    """The ``format_version`` of every snapshot file of a table folder (absent: 1)."""
    formats = {}
    for path in folder.glob("s*.json"):
        formats[int(path.stem[1:])] = json.loads(path.read_text()).get("format_version", 1)
    return dict(sorted(formats.items()))


def check_tree(rec: Recorder) -> None:
    """The latest snapshot has a compacted tree in two buckets (bases, deltas, a tip) and
    pending deltas after it."""
    raw = json.loads((TABLES / rec.table.name / f"s{rec.table.version}.json").read_text())
    assert raw["buckets"] == 2, raw["buckets"]
    assert raw["deltas"], "no pending deltas"
    leaves = [leaf for root in raw["segments"] for leaf in root.get("segments", [])]
    assert len(leaves) >= 3, leaves
    assert any(leaf["base"] for leaf in leaves), "no leaf has a base"
    assert leaves[-1].get("tip"), "the last leaf has no tip"
    assert {f["bucket"] for leaf in leaves for f in leaf["delta"]} == {0, 1}


def write_fixture(lake: azof.Lakehouse, name: str) -> None:
    rec, old = FIXTURES[name](lake)
    latest = rec.table.version
    check_tree(rec)
    scans = [(latest, as_of, False) for as_of in LATEST_TIMES]
    scans += [(version, as_of, True) for version, as_of in old]
    answers = []
    for version, as_of, pinned in scans:
        expected = rec.answer(version, as_of)
        # the release writing the fixture must agree with the oracle, or the fixture is wrong
        got = rec.table.scan(as_of, version=version)
        got_rows = {key_text(r, rec.key): to_json(r) for r in got.to_pylist()}
        assert got.column_names == rec.columns_at[version], (name, version, got.column_names)
        assert got_rows == expected, (name, version, as_of, got_rows, expected)
        answers.append(
            {
                "version": version if pinned else None,
                "as_of": None if as_of is None else as_of.isoformat(),
                "columns": rec.columns_at[version],
                "rows": expected,
            }
        )
    rec.table.verify()
    document = {
        "written_by": f"azof {azof.__version__}",
        "key": list(rec.key),
        "event_time": rec.event_time,
        "columns": rec.columns,
        "buckets": POLICY.buckets,
        "formats": snapshot_formats(TABLES / name),
        "log": [commit.operation for commit in rec.table.log()],
        "rows": [
            {"version": version, "deleted": deleted, "row": to_json(row)}
            for version, (row, deleted) in zip(
                [v for v, _, _ in rec.written], rec.rows_at(latest), strict=True
            )
        ],
        "scans": answers,
    }
    EXPECTED.mkdir(exist_ok=True)
    (EXPECTED / f"{name}.json").write_text(json.dumps(document, indent=1) + "\n")
    print(name, "format versions", document["formats"])


def main() -> None:
    existing = [name for name in FIXTURES if (TABLES / name).exists()]
    if existing:
        sys.exit(
            f"fixtures {', '.join(existing)} exist in {TABLES}: they are the previous "
            "release's output and must not be regenerated (delete them only to rebuild "
            "them with that same release)"
        )
    lake = azof.Lakehouse(TABLES)
    for name in FIXTURES:
        write_fixture(lake, name)
    size = sum(p.stat().st_size for p in TABLES.rglob("*") if p.is_file())
    print(f"{size} bytes in {TABLES}")


if __name__ == "__main__":
    main()
