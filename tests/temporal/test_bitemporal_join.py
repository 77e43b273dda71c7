"""asof_join with a known_at per left row: each row sees the table as it was known at its own
commit time. The property test replays random workloads (late rows, corrections, deletes,
compactions, vacuums over many commits) and checks every output row against the oracle:
the rows committed up to the row's known_at, then an as-of lookup at the row's time."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import temporal_oracle as oracle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import azof
from azof.temporal import asof_join
from azof.timestamps import instant_to_datetime
from strategies import KEYS, append_op, compact_op, delete_op, vacuum_op

PROPERTY = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
long_workloads = st.lists(
    st.one_of(append_op, append_op, append_op, delete_op, compact_op, vacuum_op),
    min_size=3,
    max_size=20,
)
"""Many commits: appends (late and out of order, corrections of equal key and day),
deletes, compactions with random policies and vacuums that expire the oldest versions."""
left_row = st.tuples(
    st.sampled_from([*KEYS, "zz"]),
    st.builds(lambda d, frac: d + frac, st.integers(-2, 32), st.sampled_from([0.0, 0.5])),
    st.integers(0, 40),  # which retained version's commit time to start from
    st.sampled_from(["exact", "exact", "between", "null", "after"]),
)


def lake() -> azof.Lakehouse:
    return azof.Lakehouse(f"memory://{uuid.uuid4().hex}")


def known_at_of(pick: int, mode: str, commits: list[tuple[int, int]]) -> int | None:
    """A commit-time instant (ns) near a retained version's commit time."""
    index = pick % len(commits)
    time = commits[index][1]
    if mode == "null":
        return None
    if mode == "after":
        return commits[-1][1] + 1_000_000_000
    if mode == "between" and index + 1 < len(commits):
        return time + (commits[index + 1][1] - time) // 2
    return time


def expected_row(
    known: dict[int, list[dict[str, Any]]],
    commits: list[tuple[int, int]],
    key: str,
    when: datetime,
    known_at: int | None,
) -> tuple[Any, Any]:
    """Replay: the rows committed up to known_at, then the as-of answer at ``when``."""
    if known_at is None:
        return (None, None)
    version = max(v for v, t in commits if t <= known_at)
    return oracle.asof(known[version], key, when)


def check_bitemporal(table: azof.Table, known: dict[int, list[dict[str, Any]]], left: Any) -> None:
    retained = set(table.versions())
    commits = [(v, table.commit_time(v)) for v in sorted(known) if v in retained]
    known_ats = [known_at_of(pick, mode, commits) for _, _, pick, mode in left]
    times = [oracle.at_day(d) for _, d, _, _ in left]
    frame = pa.table(
        {
            "row": list(range(len(left))),
            "key": pa.array([k for k, _, _, _ in left], pa.string()),
            "ts": pa.array(times, pa.timestamp("us", tz="UTC")),
            "known": pa.array(known_ats, pa.timestamp("ns", tz="UTC")),
        }
    )
    got = asof_join(table, frame, columns=["value", "event_time"], known_at="known")
    assert got.column_names == ["row", "key", "ts", "known", "value", "event_time"]
    assert got.column("row").to_pylist() == list(range(len(left)))
    found = list(
        zip(got.column("event_time").to_pylist(), got.column("value").to_pylist(), strict=True)
    )
    expected = [
        expected_row(known, commits, key, when, known_at)
        for (key, _, _, _), when, known_at in zip(left, times, known_ats, strict=True)
    ]
    assert found == expected
    # A stream in small chunks answers the same, chunk by chunk.
    reader = pa.RecordBatchReader.from_batches(frame.schema, frame.to_batches(max_chunksize=3))
    streamed = asof_join(table, reader, columns=["value", "event_time"], known_at="known",
                         batch_rows=5)  # fmt: skip
    assert streamed.read_all().equals(got)


@PROPERTY
@given(ops=long_workloads, left=st.lists(left_row, min_size=1, max_size=40))
def test_each_row_sees_the_commits_up_to_its_known_at(
    ops: list[tuple[Any, ...]], left: list[tuple[str, float, int, str]]
) -> None:
    table, _, known = oracle.build(lake(), ops)
    check_bitemporal(table, known, left)


@settings(PROPERTY, max_examples=8)
@given(ops=long_workloads, left=st.lists(left_row, min_size=1, max_size=40))
def test_each_row_sees_its_known_at_on_local_disk(
    tmp_path: Path, ops: list[tuple[Any, ...]], left: list[tuple[str, float, int, str]]
) -> None:
    folder = tmp_path / uuid.uuid4().hex
    folder.mkdir()
    table, _, known = oracle.build(azof.Lakehouse(folder), ops)
    check_bitemporal(table, known, left)


# -- the leakage example and the edges -------------------------------------------------------

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def balances() -> tuple[azof.Table, list[datetime]]:
    """A balance of 100 on day 1; on day 5 a late row for day 3 (50); on day 7 a correction
    of day 1 (90) and a delete as of day 4. Commit times returned after each commit."""
    table = lake().create_table(
        "balances",
        pa.schema(
            [
                pa.field("key", pa.string()),
                pa.field("event_time", pa.timestamp("ms", tz="UTC")),
                pa.field("balance", pa.float64()),
            ]
        ),
    )
    commits = []
    for rows in (
        [{"key": "acct", "event_time": day(1), "balance": 100.0}],
        [{"key": "acct", "event_time": day(3), "balance": 50.0}],  # late
        [{"key": "acct", "event_time": day(1), "balance": 90.0}],  # a correction
    ):
        table.append(rows)
        commits.append(instant_to_datetime(table.commit_time(table.version)))
    table.delete("acct", day(4))
    commits.append(instant_to_datetime(table.commit_time(table.version)))
    return table, commits


def test_a_correction_committed_after_known_at_is_not_seen() -> None:
    table, commits = balances()
    labels = pa.table(
        {
            "key": ["acct"] * 5,
            "ts": [day(2), day(3.5), day(2), day(3.5), day(5)],
            "known": [commits[0], commits[0], commits[1], commits[1], commits[3]],
        }
    )
    got = asof_join(table, labels, known_at="known")
    assert got.column("balance").to_pylist() == [100.0, 100.0, 100.0, 50.0, None]
    leaky = asof_join(table, labels)  # the latest version: the future leaks into day 2
    assert leaky.column("balance").to_pylist() == [90.0, 50.0, 90.0, 50.0, None]
    one_instant = asof_join(table, labels.drop(["known"]), known_at=commits[1])
    assert one_instant.column("balance").to_pylist() == [100.0, 50.0, 100.0, 50.0, 50.0]


def test_null_known_at_gives_nulls_and_dates_work() -> None:
    table, commits = balances()
    labels = pa.table(
        {
            "key": ["acct", "acct"],
            "ts": pa.array([day(2).date(), day(2).date()], pa.date32()),
            "known": pa.array([None, commits[-1]], pa.timestamp("us", tz="UTC")),
        }
    )
    got = asof_join(table, labels, known_at="known")
    assert got.column("balance").to_pylist() == [None, 90.0]


def test_known_at_before_the_first_retained_version_is_an_error() -> None:
    table, commits = balances()
    table.vacuum(retain_versions=2, grace="0s")
    labels = pa.table({"key": ["acct", "acct"], "ts": [day(2), day(2)], "known": commits[:2]})
    with pytest.raises(azof.VersionNotFoundError, match="before the first retained commit"):
        asof_join(table, labels, known_at="known")
    later = pa.table({"key": ["acct"], "ts": [day(2)], "known": [commits[-1]]})
    assert asof_join(table, later, known_at="known").column("balance").to_pylist() == [90.0]


def test_known_at_arguments_are_checked() -> None:
    table, commits = balances()
    labels = pa.table({"key": ["acct"], "ts": [day(2)], "known": [commits[0]], "n": [1]})
    with pytest.raises(azof.InvalidArgumentError, match="not both"):
        asof_join(table, labels, known_at="known", version=1)
    with pytest.raises(azof.InvalidArgumentError, match="neither a column"):
        asof_join(table, labels, known_at="knwon")
    with pytest.raises(azof.InvalidArgumentError, match="must hold timestamps"):
        asof_join(table, labels, known_at="n")
    reader = pa.RecordBatchReader.from_batches(labels.schema, labels.to_batches())
    with pytest.raises(azof.InvalidArgumentError, match="no at column"):
        asof_join(table, reader, at="when")  # a stream fails before any row is read


def test_on_takes_a_name_a_list_or_a_mapping() -> None:
    table, commits = balances()
    labels = pa.table({"account": ["acct"], "ts": [day(2)], "known": [commits[0]]})
    want = [100.0]
    for on in ("account", ["account"], {"account": "key"}):
        got = asof_join(table, labels, on=on, known_at="known")
        assert got.column("balance").to_pylist() == want
    with pytest.raises(azof.InvalidArgumentError, match="key column"):
        asof_join(table, labels, on=["account", "ts"])


@pytest.mark.parametrize("spread", [1, 10**12])  # dense keys (a lookup table) and sparse
def test_integer_keys_match_the_same_join_on_text_keys(spread: int) -> None:
    """Integer keys take other paths (codes without hashing); the answers are those of the
    same rows with the keys as text, many keys (beyond the pushed-down key list) included."""
    rng = random.Random(spread)
    fields = [("event_time", pa.timestamp("ms", tz="UTC")), ("v", pa.int64())]
    by_int = lake().create_table("i", pa.schema([("key", pa.int64()), *fields]))
    by_text = lake().create_table("s", pa.schema([("key", pa.string()), *fields]))
    for _ in range(4):
        keys = [rng.randrange(3000) * spread for _ in range(500)]
        times = [day(rng.randrange(40)) for _ in keys]
        values = [rng.randrange(100) for _ in keys]
        by_int.append({"key": keys, "event_time": times, "v": values})
        by_text.append({"key": [str(k) for k in keys], "event_time": times, "v": values})
        gone = list({rng.randrange(3000) * spread for _ in range(30)})
        deleted_on = day(rng.randrange(40))
        by_int.delete(gone, deleted_on)
        by_text.delete([str(k) for k in gone], deleted_on)
    probe = [rng.randrange(3100) * spread for _ in range(4000)]
    when = [day(rng.uniform(-1, 42)) for _ in probe]
    ints = asof_join(by_int, pa.table({"key": probe, "ts": when}))
    texts = asof_join(by_text, pa.table({"key": [str(k) for k in probe], "ts": when}))
    assert ints.column("v").equals(texts.column("v"))
    assert ints.column("v").null_count < len(probe)


def test_keys_with_long_and_short_histories() -> None:
    """A key with hundreds of events (probes search all events, sorted) beside keys with a
    few (probes bisect their key's run): both agree with the oracle."""
    rng = random.Random(5)
    table = lake().create_table(
        "t", pa.schema([("key", pa.string()), ("event_time", pa.timestamp("ms", tz="UTC")),
                        ("value", pa.int64())])
    )  # fmt: skip
    written: list[dict[str, Any]] = []
    for hot in (True, False):
        for _ in range(3):
            count = 150 if hot else 20
            rows = [
                {"key": "hot" if hot else f"k{rng.randrange(10)}",
                 "event_time": day(rng.randrange(300) / 4), "value": rng.randrange(1000)}
                for _ in range(count)
            ]  # fmt: skip
            table.append(rows)
            written += [{**r, "_deleted": False} for r in rows]
        rows = [{"key": "hot", "event_time": day(30), "value": None, "_deleted": True}]
        table.delete("hot", day(30))
        written += rows
    keys = [rng.choice(["hot", *(f"k{i}" for i in range(11))]) for _ in range(500)]
    times = [day(rng.uniform(-1, 80)) for _ in keys]
    got = asof_join(table, pa.table({"key": keys, "ts": times}))
    want = [
        oracle.asof(written, key, when.replace(microsecond=when.microsecond // 1000 * 1000))[1]
        for key, when in zip(keys, times, strict=True)
    ]
    assert got.column("value").to_pylist() == want


@pytest.mark.parametrize(
    ("key_type", "keys"),
    [(pa.int8(), [-100, 0, 100, 27]), (pa.uint64(), [2**64 - 1, 0, 2**63, 5])],
)
def test_integer_key_types_at_their_limits(key_type: pa.DataType, keys: list[int]) -> None:
    table = lake().create_table(
        "t", pa.schema([("key", key_type), ("event_time", pa.timestamp("ms", tz="UTC")),
                        ("value", pa.int64())])
    )  # fmt: skip
    table.append({"key": keys[:3], "event_time": [day(1)] * 3, "value": [1, 2, 3]})
    left = pa.table({"key": pa.array([keys[2], keys[3], keys[0], None], key_type),
                     "ts": [day(2)] * 4})  # fmt: skip
    assert asof_join(table, left).column("value").to_pylist() == [3, None, 1, None]
