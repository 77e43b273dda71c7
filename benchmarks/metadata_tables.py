"""The tables of the metadata benchmark (benchmarks/metadata.py): azof and Delta Lake tables
of about N live data files, built for real (small N) or synthetically (large N).

*Real* (N below ``--synthetic-from``): rows are appended and compacted by azof into 12
monthly leaves in ``B`` hash buckets; Delta holds the same rows partitioned into as many
files. Every file exists.

*Synthetic* (larger N; real compaction of a million files takes hours): the azof table is
created and appended to through the API (one real data file), then ONE commit, through
``azof.write.commit.commit_snapshot``, sets a segment tree of N file records shaped like
compaction's: 80 quarter leaves (20 years) under year segments, in ``B`` buckets (up to
4,096), each leaf holding per bucket a base (every key's state as of the leaf's start;
none in the first leaf) and ``k`` deltas (the leaf's events, split by key range), plus
the last leaf's tip. The Delta table is a ``_delta_log`` whose first commit adds the same
number of files (partitioned by quarter, with the statistics Delta writes), checkpointed
by deltalake. The data files of a synthetic table do not exist: appends write their own
file and a plan reads no data, so neither needs them.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

import azof
from azof.compact.tree import build_tree, period_label
from azof.format import CommitInfo, DataFile, Segment, Snapshot
from azof.timestamps import Instant
from azof.write.commit import commit_snapshot, upgrade

SCHEMA = pa.schema(
    [("key", pa.int64()), ("event_time", pa.timestamp("ms", tz="UTC")), ("value", pa.float64())]
)
START = datetime(2024, 1, 1, tzinfo=UTC)
KEYS_PER_BUCKET = 20
"""Keys per bucket of a real table."""
QUARTERS = 80
"""Leaves of a synthetic table: 20 years of quarters."""
HISTORY = datetime(2005, 1, 1, tzinfo=UTC)
"""The first quarter of a synthetic table."""
MAX_BUCKETS = 4096
SYNTHETIC_KEYS = 10_000_000
"""Keys of a synthetic table (spread over its buckets)."""
MS = 1_000_000  # nanoseconds per millisecond: event times are milliseconds


@dataclass(frozen=True)
class Built:
    """A table of the benchmark: where it is, how many live files, its event-time span."""

    folder: Path
    """The lakehouse (azof: the table is ``t`` in it) or the Delta table folder."""
    files: int
    first: datetime
    last: datetime
    synthetic: bool
    buckets: int = 1
    partition: str | None = None
    """Delta: the partition column ("quarter" or "part")."""

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "folder": str(self.folder), "first": self.first.isoformat(),
                "last": self.last.isoformat()}  # fmt: skip

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Built:
        return cls(**{**raw, "folder": Path(raw["folder"]),
                      "first": datetime.fromisoformat(raw["first"]),
                      "last": datetime.fromisoformat(raw["last"])})  # fmt: skip

    def row(self, n: int) -> pa.Table:
        """One new row, just after the last event (the kind of row a live table gets)."""
        when = pa.array([self.last + timedelta(seconds=n + 1)], SCHEMA.field(1).type)
        return pa.table({"key": [n], "event_time": when, "value": [1.0]}, SCHEMA)

    def delta_row(self, n: int) -> pa.Table:
        row = self.row(n)
        value = quarter_label(self.last) if self.partition == "quarter" else 0
        return row.append_column(self.partition or "part", pa.array([value]))


@dataclass(frozen=True)
class Layout:
    """A synthetic tree: ``leaves`` quarters x ``buckets`` x (base + ``deltas``), the first
    leaf without a base, the last with a tip."""

    buckets: int
    deltas: int
    leaves: int = QUARTERS

    @property
    def files(self) -> int:
        return self.buckets * self.leaves * (1 + self.deltas)


def layout(files: int) -> Layout:
    """The synthetic layout closest to ``files`` live files (one delta per leaf and bucket
    until the buckets reach 4,096, then more deltas)."""
    buckets = min(MAX_BUCKETS, max(1, round(files / (2 * QUARTERS))))
    deltas = max(1, round(files / (buckets * QUARTERS)) - 1)
    return Layout(buckets, deltas)


def quarter_label(moment: datetime) -> str:
    return f"{moment:%Y}-Q{(moment.month - 1) // 3 + 1}"


def _instant(moment: datetime) -> Instant:
    return int(moment.timestamp()) * 1_000_000_000


def _quarter_starts(count: int) -> list[datetime]:
    return [
        HISTORY.replace(year=HISTORY.year + q // 4, month=1 + 3 * (q % 4)) for q in range(count)
    ]


# -- real tables ---------------------------------------------------------------------------


def rows(keys: int) -> pa.Table:
    """Every key once a month for a year."""
    ids = np.tile(np.arange(keys, dtype=np.int64), 12)
    months = np.repeat(np.arange(12), keys)
    times = [START + timedelta(days=30 * int(m) + 1) for m in months]
    return pa.table(
        {"key": ids, "event_time": pa.array(times, SCHEMA.field(1).type),
         "value": np.random.default_rng(0).random(len(ids))},
        SCHEMA,
    )  # fmt: skip


def real_azof(lakehouse: Path, size: int) -> Built:
    """12 monthly leaves in ``size / 22`` buckets, by real appends and compaction."""
    buckets = max(1, round(size / 22))  # 12 deltas, 11 bases (not the first) and a tip
    table = azof.Lakehouse(lakehouse).create_table("t", SCHEMA)
    data = rows(buckets * KEYS_PER_BUCKET)
    table.append(data)
    table.compact(azof.CompactionPolicy(segment="month", levels=("month",), buckets=buckets))
    files = len({f.file for f in table.snapshot.files()})
    times = data.column("event_time")
    return Built(lakehouse, files, times[0].as_py(), times[-1].as_py(), False, buckets)


def real_delta(folder: Path, files: int) -> Built:
    from deltalake import DeltaTable, write_deltalake

    data = rows(max(files, 1) * 2)
    part = pa.array(np.arange(data.num_rows) % files, pa.int64())
    write_deltalake(str(folder), data.append_column("part", part), partition_by=["part"])
    live = len(DeltaTable(str(folder)).file_uris())
    times = data.column("event_time")
    return Built(folder, live, times[0].as_py(), times[-1].as_py(), False, partition="part")


# -- synthetic tables ----------------------------------------------------------------------


class _Records:
    """File records shaped like compaction's (sizes and key ranges vary a little)."""

    def __init__(self, lay: Layout) -> None:
        self.lay = lay
        self.rng = np.random.default_rng(lay.files)
        self.keys = SYNTHETIC_KEYS // lay.buckets  # keys per bucket

    def make(self, bucket: int, start: Instant, end: Instant, rows: int, part: int = 0,
             parts: int = 1, *, derived: bool = False, seq: int = 1) -> DataFile:  # fmt: skip
        low, high = SYNTHETIC_KEYS * part // parts, SYNTHETIC_KEYS * (part + 1) // parts - 1
        jitter = int(self.rng.integers(0, 1 + self.lay.buckets))
        return DataFile(
            file=f"data/{uuid.uuid4().hex}.parquet",
            start=start,
            end=end,
            seq=seq,
            rows=rows,
            size=4_096 + rows * 21 + jitter,
            bucket=bucket,
            buckets=self.lay.buckets,
            min_key=low + jitter % max(1, self.lay.buckets),
            max_key=high - jitter % max(1, self.lay.buckets),
            derived=derived,
            sorted=True,
        )


def synthetic_tree(lay: Layout) -> tuple[tuple[Segment, ...], datetime, datetime]:
    """The segment tree (year > quarter) of ``lay``; the first and last event times."""
    starts = _quarter_starts(lay.leaves + 1)
    first, last = starts[0] + timedelta(hours=1), starts[-1] - timedelta(days=2)
    records = _Records(lay)
    per_leaf = records.keys * 3 // (4 * lay.deltas)  # events of a bucket in a quarter, split
    leaves = []
    for q in range(lay.leaves):
        begin, after = _instant(starts[q]), _instant(starts[q + 1])
        is_last = q == lay.leaves - 1
        event_end = _instant(last) if is_last else after - 86_400_000_000_000
        base = () if q == 0 else tuple(
            records.make(b, _instant(first), begin - MS, records.keys, derived=True)
            for b in range(lay.buckets)
        )  # fmt: skip
        deltas = tuple(
            records.make(b, begin + 3_600 * 10**9, event_end, per_leaf, part, lay.deltas)
            for b in range(lay.buckets)
            for part in range(lay.deltas)
        )
        tip = () if not is_last else tuple(
            records.make(b, _instant(first), event_end, records.keys, derived=True)
            for b in range(lay.buckets)
        )  # fmt: skip
        leaves.append(
            Segment(
                id=period_label(begin, "quarter"),
                start=begin,
                end=None if is_last else after - 1,
                base=base,
                deltas=deltas,
                tip=tip,
                tip_from=event_end if is_last else None,
            )
        )
    return build_tree(leaves, ("year", "quarter")), first, last


def synthetic_azof(lakehouse: Path, size: int) -> Built:
    """A real table (create, one real append) given a synthetic tree by one commit."""
    lay = layout(size)
    table = azof.Lakehouse(lakehouse).create_table("t", SCHEMA)
    tree, first, last = synthetic_tree(lay)
    table.append(Built(lakehouse, 0, first, first, True).row(0))  # one real data file
    policy = azof.CompactionPolicy(segment="quarter", buckets=lay.buckets)

    def build(parent: Snapshot, version: int, when: Instant) -> Snapshot:
        info = CommitInfo(
            time=when,
            operation="compact",
            txn=uuid.uuid4().hex,
            added_rows=sum(f.rows or 0 for s in tree for f in s.files()),
            added_files=lay.files,
            summary={"leaves_rewritten": lay.leaves, "levels": ["year", "quarter"]},
        )
        return upgrade(
            parent,
            version,
            info,
            segments=tree,
            tree_levels=policy.levels,
            buckets=lay.buckets,
            policy=policy.to_json(),
        )

    storage = table.storage
    landed = commit_snapshot(storage, "t", table.snapshot, build)
    assert not landed.policy.get("auto"), "an append must not compact"
    files = sum(1 for _ in landed.files())
    return Built(lakehouse, files, first, last, True, lay.buckets)


def _delta_schema() -> str:
    fields = [("key", "long"), ("event_time", "timestamp"), ("value", "double"),
              ("quarter", "string")]  # fmt: skip
    return json.dumps(
        {
            "type": "struct",
            "fields": [
                {"name": name, "type": kind, "nullable": True, "metadata": {}}
                for name, kind in fields
            ],
        }
    )


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def synthetic_delta(folder: Path, files: int, first: datetime, last: datetime) -> Built:
    """A Delta table of ``files`` files over 80 quarters: one commit of every ``add``
    (paths, sizes and statistics as deltalake writes them), then deltalake's checkpoint."""
    from deltalake import DeltaTable

    log = folder / "_delta_log"
    log.mkdir(parents=True)
    now = int(datetime.now(UTC).timestamp() * 1000)
    starts = _quarter_starts(QUARTERS + 1)
    rng = np.random.default_rng(files)
    header = [
        {"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}},
        {"metaData": {"id": str(uuid.uuid4()), "name": None, "description": None,
                      "format": {"provider": "parquet", "options": {}},
                      "schemaString": _delta_schema(), "partitionColumns": ["quarter"],
                      "configuration": {}, "createdTime": now}},
    ]  # fmt: skip
    with (log / "00000000000000000000.json").open("w") as out:
        for action in header:
            out.write(json.dumps(action) + "\n")
        for q in range(QUARTERS):
            label = quarter_label(starts[q])
            low = max(first, starts[q])
            high = min(last, starts[q + 1] - timedelta(days=1))
            count = files // QUARTERS + (1 if q < files % QUARTERS else 0)
            for i in range(count):
                rows = int(rng.integers(2_000, 4_000))
                stats = {
                    "numRecords": rows,
                    "minValues": {"key": int(rng.integers(0, 5_000)),
                                  "event_time": _stamp(low), "value": float(rng.random() / 100)},
                    "maxValues": {"key": SYNTHETIC_KEYS - int(rng.integers(1, 5_000)),
                                  "event_time": _stamp(high),
                                  "value": 1 - float(rng.random() / 100)},
                    "nullCount": {"key": 0, "event_time": 0, "value": 0},
                }  # fmt: skip
                add = {
                    "path": f"quarter={label}/part-{i:05d}-{uuid.uuid4()}-c000.snappy.parquet",
                    "partitionValues": {"quarter": label},
                    "size": 4_096 + rows * 21,
                    "modificationTime": now,
                    "dataChange": True,
                    "stats": json.dumps(stats, separators=(",", ":")),
                }
                out.write(json.dumps({"add": add}) + "\n")
        commit: dict[str, Any] = {"timestamp": now, "operation": "WRITE",
                                  "operationParameters": {"mode": "Append"}}  # fmt: skip
        out.write(json.dumps({"commitInfo": commit}) + "\n")
    DeltaTable(str(folder)).create_checkpoint()
    return Built(folder, files, first, last, True, partition="quarter")


def history_point(built: Built, fraction: float) -> datetime:
    """The instant ``fraction`` of the way through the table's event-time span (whole ms)."""
    span = built.last - built.first
    moment = built.first + span * fraction
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
