"""Bad input never bricks azof (issue 14): hypothesis feeds it malformed snapshots and
malformed arguments to every write API.

(a) A valid snapshot of a real table (plain; compacted into a segment tree with buckets;
    evolved schema) is mutated at random (wrong types, huge or negative numbers, NaN,
    escaping or absolute paths, URLs, empty and unicode strings, bad timestamps, missing,
    extra and duplicated fields, deep nesting) and written as the table's next snapshot.
    Opening, scanning, compacting, history, verify and log must succeed or raise an
    ``AzofError``: no other exception, no hang (a deadline per example), bounded memory.
(b) Malformed data and arguments go to append, put, delete, the buffered writer, evolve,
    set_policy and create_table: each succeeds or raises an ``AzofError``, and after an
    error the table is unchanged for a fresh reader (same version, same answer).
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import re
import resource
import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import azof
from azof.errors import AzofError

EXAMPLE_SECONDS = 30.0
"""Longest an example may run: a hang fails the test instead of stalling the suite."""
MEMORY_GROWTH_KB = 1_500_000
"""Peak resident memory may not grow by more than this over a test (bounded, not 10**12
buckets)."""

SCHEMA = pa.schema(
    [
        pa.field("key", pa.string()),
        pa.field("event_time", pa.timestamp("ms", tz="UTC")),
        pa.field("v", pa.int64()),
        pa.field("s", pa.string()),
        pa.field("n", pa.float64(), nullable=False),
    ]
)


def rows(start: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "key": f"k{i % 7}",
            "event_time": datetime(2024, 1 + i % 12, 1 + i % 27, tzinfo=UTC),
            "v": i,
            "s": f"s{i}",
            "n": i / 2,
        }
        for i in range(start, start + count)
    ]


def run_bounded(body: Callable[[], None]) -> None:
    """Run ``body`` in a thread with a deadline: an error is re-raised, a hang fails."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            body()
        except BaseException as exc:  # re-raised in the test's thread
            failure.append(exc)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(EXAMPLE_SECONDS)
    if worker.is_alive():
        pytest.fail(f"an example ran longer than {EXAMPLE_SECONDS} s (a hang)")
    if failure:
        raise failure[0]


def peak_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# -- (a) malformed snapshots ---------------------------------------------------------------


class Lake:
    """A lakehouse of the three base tables; ``reset`` puts a table back as built."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lake = azof.Lakehouse(root)
        self.kept: dict[str, set[Path]] = {}
        self.latest: dict[str, int] = {}
        self.raw: dict[str, dict[str, Any]] = {}

    def keep(self, name: str) -> None:
        table = self.lake.table(name)
        folder = self.root / name
        self.kept[name] = {p for p in folder.rglob("*") if p.is_file()}
        self.latest[name] = table.version
        self.raw[name] = json.loads((folder / f"s{table.version}.json").read_text())

    def reset(self, name: str) -> None:
        folder = self.root / name
        for path in sorted(folder.rglob("*"), reverse=True):
            if path.is_file() and path not in self.kept[name]:
                path.unlink()
        (folder / "version.txt").write_text(str(self.latest[name]))


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    root = tmp_path_factory.mktemp("fuzz") / "lake"
    root.mkdir()
    out = Lake(root)
    plain = out.lake.create_table("plain", SCHEMA)
    plain.append(rows(0, 12))
    plain.delete(["k1"], datetime(2024, 6, 1, tzinfo=UTC))
    plain.append(rows(12, 5))
    compacted = out.lake.create_table("compacted", SCHEMA)
    compacted.append(rows(0, 20))
    compacted.set_policy(azof.CompactionPolicy(segment="month", buckets=2))
    compacted.compact()
    compacted.append(rows(20, 6))
    evolved = out.lake.create_table("evolved", SCHEMA)
    evolved.append(rows(0, 8))
    evolved.evolve().add_column("c", pa.int32(), default=3).rename_column("s", "t").commit()
    evolved.evolve().drop_column("v").widen("c", pa.int64()).commit()
    evolved.append([{"key": "k9", "event_time": "2024-09-09", "t": "x", "n": 1.0, "c": 5}])
    for name in ("plain", "compacted", "evolved"):
        out.keep(name)
    yield out
    shutil.rmtree(root, ignore_errors=True)


Path_ = tuple[str | int, ...]


def paths(value: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every path to a value inside a JSON document (the root is ``()``)."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths(v, (*prefix, i))


def at(doc: Any, path: Path_) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def deep(depth: int) -> str:
    """A placeholder for ``depth`` nested arrays, put into the JSON text by :func:`encode`
    (the test's own helpers need not recurse that deep)."""
    return f"__deep_{depth}__"


def encode(doc: dict[str, Any]) -> str:
    """The document's JSON (NaN and Infinity as Python's JSON reader accepts them), with
    deep nestings in place of their placeholders."""
    text = json.dumps(doc)
    return re.sub(r'"__deep_(\d+)__"', lambda m: "[" * int(m[1]) + "]" * int(m[1]), text)


BAD_TEXT = [
    "",
    " ",
    ".",
    "..",
    "../outside.parquet",
    "data/../../outside.parquet",
    "/etc/passwd",
    "\\\\server\\share\\x.parquet",
    "C:\\x.parquet",
    "s3://bucket/x.parquet",
    "https://example.com/x.parquet",
    "file:///etc/passwd",
    "data//x.parquet",
    "data/x.parquet\x00",
    "ünïcødé/数据.parquet",
    "\ud7ff\ue000",
    "x" * 5000,
    "2024-13-45T00:00:00.000Z",
    "2024-02-30T00:00:00.000Z",
    "0000-01-01T00:00:00.000Z",
    "0001-01-01T00:00:00.000Z",
    "1677-09-21T00:12:43.145224191Z",
    "2262-04-11T23:47:16.854775808Z",
    "9999-12-31T23:59:59.999999999Z",
    "10000-01-01T00:00:00.000Z",
    "2024-01-01T00:00:00",
    "2024-01-01T00:00:00+25:00",
    "2024-01-01",
    "yesterday",
    "NaN",
    "year",
    "fortnight",
    "string",
    "int64",
]
BAD_NUMBERS = [
    -1,
    0,
    1,
    2,
    3,
    4096,
    4097,
    2**31,
    2**32,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64,
    10**12,
    10**30,
    -(2**63) - 1,
    0.5,
    1e308,
    -0.0,
    math.nan,
    math.inf,
    -math.inf,
]

scalar_values = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(BAD_NUMBERS),
    st.integers(),
    st.sampled_from(BAD_TEXT),
    st.text(max_size=12),
)
bad_values = st.one_of(
    scalar_values,
    st.lists(scalar_values, max_size=4),
    st.dictionaries(st.sampled_from(["file", "start", "type", "name", "x"]), scalar_values),
    st.integers(10, 3000).map(deep),
)
FIELDS = frozenset(
    {
        "buckets", "bucket", "seq", "rows", "bytes", "tombstones", "min_key", "max_key",
        "start", "end", "tip_from", "file", "time", "policy", "segment", "levels", "auto",
        "max_deltas", "target_file_mb", "bucket_keys", "schema_id", "next_column_id", "id",
        "key_type", "event_time_type", "type", "unit", "default", "added_in_schema", "tree",
        "derived", "sorted", "summary", "properties", "parent_version", "table_uuid",
    }
)  # fmt: skip
"""Fields a mutation aims at half the time (the others are anywhere in the document)."""
MUTATIONS = ("replace", "replace", "replace", "delete", "extra", "duplicate", "nest", "copy")


def mutate(doc: dict[str, Any], data: st.DataObject) -> None:
    """Change one place of ``doc`` in one of the ways of ``MUTATIONS``."""
    every = list(paths(doc))[1:]
    named = [p for p in every if p[-1] in FIELDS]
    pool = named if named and data.draw(st.booleans(), label="a named field") else every
    path = data.draw(st.sampled_from(pool), label="path")
    kind = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    parent, last = at(doc, path[:-1]), path[-1]
    if kind == "replace":
        parent[last] = data.draw(bad_values, label="value")
    elif kind == "delete":
        del parent[last]
    elif kind == "extra" and isinstance(parent, dict):
        parent[data.draw(st.text(max_size=8), label="extra field")] = data.draw(bad_values)
    elif kind == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))  # e.g. a data file named twice
    elif kind == "nest":
        parent[last] = [parent[last]]
    elif kind == "copy":  # a value of another field (another file's name, another time)
        other = data.draw(st.sampled_from(list(paths(doc))[1:]), label="from")
        parent[last] = copy.deepcopy(at(doc, other))


def exercise(lake: Lake, name: str) -> None:
    """Every read and maintenance path over the table's latest snapshot: each must succeed
    or raise an AzofError."""
    steps: list[Callable[[Any], Any]] = [
        lambda t: t.scan(),
        lambda t: t.scan(as_of="2024-03-15"),
        lambda t: t.scan(filter=pc.field("key") == "k3"),
        lambda t: t.to_pandas(as_of="2024-02-01"),
        lambda t: t.history("k2"),
        lambda t: t.verify(),
        lambda t: t.log(),
        lambda t: t.policy,
        lambda t: t.compact(),
        lambda t: t.scan(),
    ]
    try:
        table = lake.lake.table(name)
    except AzofError:
        return
    for step in steps:
        with contextlib.suppress(AzofError):
            step(table)


@settings(
    max_examples=int(os.environ.get("AZOF_FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_malformed_snapshots_are_refused_cleanly(lake: Lake, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(["plain", "compacted", "evolved"]), label="table")
    doc = copy.deepcopy(lake.raw[name])
    version = lake.latest[name] + 1
    doc.update(version=version, parent_version=version - 1)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        mutate(doc, data)
    doc_text = encode(doc)
    folder = lake.root / name
    lake.reset(name)
    (folder / f"s{version}.json").write_text(doc_text)
    (folder / "version.txt").write_text(str(version))
    before = peak_kb()
    try:
        run_bounded(lambda: exercise(lake, name))
    finally:
        lake.reset(name)
    assert peak_kb() - before < MEMORY_GROWTH_KB


# -- (b) malformed input to the write APIs -------------------------------------------------

FIELD_NAMES = ["key", "event_time", "v", "s", "n", "extra", "_azof_deleted", "", "ünï", "k y"]
wild_values = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(BAD_NUMBERS),
    st.integers(),
    st.floats(),
    st.sampled_from(BAD_TEXT),
    st.text(max_size=8),
    st.sampled_from(
        [
            "x" * 1_000_000,
            b"\x00bytes",
            datetime(2024, 5, 1),
            datetime(2024, 5, 1, tzinfo=UTC),
            datetime(1, 1, 1),
            datetime(9999, 12, 31, 23, 59),
            date(2024, 5, 1),
            Decimal("1.5"),
            Decimal("NaN"),
            pd.NaT,
            pd.Timestamp("2024-05-01T12:00:00+05:00"),
            [1, 2],
            {"a": 1},
            (),
            object(),
        ]
    ),
)
valid_rows = st.lists(
    st.builds(
        lambda i, day: {
            "key": f"k{i}",
            "event_time": datetime(2024, 1 + day % 12, 1 + day % 28, tzinfo=UTC),
            "v": i,
            "s": "s",
            "n": 0.5,
        },
        st.integers(0, 5),
        st.integers(0, 400),
    ),
    min_size=1,
    max_size=4,
)


@st.composite
def bad_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Valid rows, some of their fields replaced, dropped or added."""
    out = []
    for row in draw(valid_rows):
        for name in draw(st.lists(st.sampled_from(FIELD_NAMES), max_size=3)):
            if draw(st.booleans()):
                row[name] = draw(wild_values)
            else:
                row.pop(name, None)
        out.append(row)
    return out


def as_frame(rows: list[dict[str, Any]], form: str) -> Any:
    """The rows in one of the forms ``append`` takes (or the list if they do not fit it)."""
    try:
        if form == "columns":
            names = {n for r in rows for n in r}
            return {n: [r.get(n) for r in rows] for n in names}
        if form == "short column":
            names = {n for r in rows for n in r}
            return {
                n: [r.get(n) for r in rows][: max(0, len(rows) - i)] for i, n in enumerate(names)
            }
        if form == "arrow":
            return pa.Table.from_pylist(rows)
        if form == "pandas":
            return pd.DataFrame(rows)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        pass
    return rows


appendable = st.one_of(
    st.builds(
        as_frame,
        bad_rows(),
        st.sampled_from(["list", "columns", "short column", "arrow", "pandas"]),
    ),
    wild_values,
    st.just([]),
    st.lists(wild_values, max_size=3),
)
TYPES = [
    pa.int8(),
    pa.int64(),
    pa.float32(),
    pa.string(),
    pa.large_string(),
    pa.bool_(),
    pa.null(),
    pa.timestamp("s"),
    pa.timestamp("ns", tz="Asia/Tokyo"),
    pa.decimal128(5, 2),
    pa.list_(pa.int32()),
    pa.struct([("a", pa.int8())]),
    pa.dictionary(pa.int8(), pa.string()),
    pa.map_(pa.string(), pa.int8()),
    pa.binary(3),
]
types = st.one_of(st.sampled_from(TYPES), wild_values)
names = st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=6), wild_values)
schema_changes = st.lists(
    st.one_of(
        st.tuples(st.just("add_column"), names, types, st.booleans(), wild_values),
        st.tuples(st.just("drop_column"), names),
        st.tuples(st.just("rename_column"), names, names),
        st.tuples(st.just("widen"), names, types),
        st.tuples(st.just("move_column"), names, names),
        st.tuples(st.just("reorder"), st.lists(names, max_size=4)),
    ),
    min_size=1,
    max_size=3,
)
policy_values = st.dictionaries(
    st.sampled_from(
        ["segment", "levels", "max_deltas", "max_delta_rows", "target_file_mb", "auto",
         "buckets", "bucket_keys"]
    ),
    st.one_of(wild_values, st.lists(st.sampled_from(["year", "month", "day", "week", "x"]))),
    max_size=3,
)  # fmt: skip
write_ops = st.one_of(
    st.tuples(st.just("append"), appendable),
    st.tuples(
        st.just("put"),
        wild_values,
        wild_values,
        st.dictionaries(st.sampled_from([n for n in FIELD_NAMES if n]), wild_values, max_size=3),
    ),
    st.tuples(st.just("delete"), st.one_of(wild_values, st.lists(wild_values)), wild_values),
    st.tuples(
        st.just("writer"),
        st.lists(
            st.one_of(
                st.tuples(st.just("put"), wild_values, wild_values, st.just({"v": 1})),
                st.tuples(st.just("write"), appendable),
            ),
            min_size=1,
            max_size=3,
        ),
    ),
    st.tuples(st.just("write_table"), appendable, st.sampled_from(["append", "error", "x"])),
    st.tuples(
        st.just("delete where"),
        st.one_of(
            wild_values,
            st.sampled_from(["v > 1", "s = 'x' OR n < 0", "nope = 1", "v >", "key IN ('k1')"]),
            st.lists(
                st.tuples(
                    st.sampled_from(FIELD_NAMES), st.sampled_from(["=", "in", "~"]), wild_values
                ),
                max_size=2,
            ),
        ),
        wild_values,
    ),
    st.tuples(st.just("evolve"), schema_changes),
    st.tuples(st.just("set_policy"), policy_values),
    st.tuples(st.just("set_policy object"), wild_values),
)


def apply_write(table: azof.Table, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "append":
        table.append(op[1])
    elif kind == "put":
        table.put(op[1], op[2], **op[3])
    elif kind == "delete":
        table.delete(op[1], op[2])
    elif kind == "writer":
        with table.writer() as writer:
            for step in op[1]:
                if step[0] == "put":
                    writer.put(step[1], step[2], **step[3])
                else:
                    writer.write(step[1])
    elif kind == "write_table":
        azof.write_table(table, op[1], mode=op[2])
    elif kind == "delete where":
        table.delete(where=op[1], event_time=op[2])
    elif kind == "evolve":
        update = table.evolve()
        for change in op[1]:
            if change[0] == "add_column":
                update = update.add_column(
                    change[1], change[2], nullable=change[3], default=change[4]
                )
            elif change[0] in ("move_column",):
                update = update.move_column(change[1], after=change[2])
            else:
                update = getattr(update, change[0])(*change[1:])
        update.commit()
    elif kind == "set_policy":
        table.set_policy(azof.CompactionPolicy(**op[1]))
    else:
        table.set_policy(op[1])


def attempt(table: azof.Table, op: tuple[Any, ...]) -> AzofError | None:
    """Run one write with a deadline; the AzofError it raised, if any (any other error
    fails the test)."""
    failure: list[AzofError] = []

    def body() -> None:
        try:
            apply_write(table, op)
        except AzofError as exc:
            failure.append(exc)

    run_bounded(body)
    return failure[0] if failure else None


def state(lake: azof.Lakehouse, name: str) -> tuple[int, pa.Table, list[str]]:
    """What a fresh reader sees: the version, the answer, the snapshot files."""
    table = lake.table(name)
    logs = sorted(o.path for o in table.storage.list("", recursive=False))
    return table.version, table.scan(), logs


@pytest.fixture(scope="module")
def write_lake(tmp_path_factory: pytest.TempPathFactory) -> azof.Lakehouse:
    root = tmp_path_factory.mktemp("fuzz-writes") / "lake"
    root.mkdir()
    return azof.Lakehouse(root)


@settings(
    max_examples=int(os.environ.get("AZOF_FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(write_ops, min_size=1, max_size=3))
def test_malformed_writes_change_nothing(
    write_lake: azof.Lakehouse, ops: list[tuple[Any, ...]]
) -> None:
    name = f"t{len(write_lake.tables())}"
    table = write_lake.create_table(name, SCHEMA)
    table.append(rows(0, 3))
    before_peak = peak_kb()
    for op in ops:
        before = state(write_lake, name)
        failure = attempt(table, op)
        if failure:
            after = state(write_lake, name)
            assert after[0] == before[0], f"{op[0]} failed ({failure}) but committed"
            assert after[1].equals(before[1]), f"{op[0]} failed but the answer changed"
            assert after[2] == before[2], f"{op[0]} failed but left files in the log"
    assert peak_kb() - before_peak < MEMORY_GROWTH_KB


names_or_wild = st.one_of(st.sampled_from(["ok", "a/b", "..", "", "x" * 300, "s3://x", "ü"]), names)


@settings(
    max_examples=int(os.environ.get("AZOF_FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=names_or_wild,
    fields=st.lists(st.tuples(names, types, st.booleans()), max_size=4),
    keep=st.sets(st.sampled_from(["key", "event_time"])),
)
def test_malformed_create_table_creates_nothing(
    write_lake: azof.Lakehouse, name: Any, fields: list[tuple[Any, Any, bool]], keep: set[str]
) -> None:
    base = [f for f in SCHEMA if f.name in keep]
    try:
        schema: Any = pa.schema([*base, *(pa.field(n, t, nullable=b) for n, t, b in fields)])
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        schema = fields  # not an Arrow schema at all
    if isinstance(name, str) and name:
        name = f"c-{name}" if name[0].isalnum() else name
    tables = write_lake.tables()
    try:
        run_bounded(lambda: write_lake.create_table(name, schema))
    except AzofError:
        assert write_lake.tables() == tables
