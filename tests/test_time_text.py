"""Timestamp columns that arrive as text are parsed (issue 15, "Times as text"): ISO-8601
with or without offset, no offset = UTC, exactly at the column's unit, the first bad row
named; the same answer as ``put`` gives for the same text."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import azof

MS = pa.timestamp("ms", tz="UTC")
SCHEMA = pa.schema(
    [("key", pa.string()), ("event_time", MS), ("v", pa.int64()), ("seen", pa.timestamp("us"))]
)
TEXTS = [
    "2024-03-15",
    "2024-03-15T14:30",
    "2024-03-15T14:30:00",
    "2024-03-15 14:30:00.125",
    "2024-03-15T14:30:00Z",
    "2024-03-15T14:30:00.5+02:00",
    "2024-03-15T14:30:00-0530",
    "2024-03-15T14:30:00+01",
    " 2024-03-15T14:30:00z ",
    "2024-03-15T14:30:00,250",
]


def table() -> azof.Table:
    return azof.Lakehouse(f"memory://{uuid.uuid4().hex}").create_table("t", SCHEMA)


def times(t: azof.Table) -> list[datetime]:
    return [r["event_time"] for r in t.scan().sort_by("key").to_pylist()]


def expected(texts: list[str]) -> list[datetime]:
    """What ``put`` stores for each text."""
    t = table()
    for i, text in enumerate(texts):
        t.put(f"k{i:03d}", text, v=i)
    return times(t)


def keys(n: int) -> list[str]:
    return [f"k{i:03d}" for i in range(n)]


@pytest.mark.parametrize(
    "form", ["arrow string", "arrow large_string", "dictionary", "pandas", "stream", "polars"]
)
def test_text_times_are_parsed_as_put_reads_them(form: str) -> None:
    data: Any
    if form == "arrow string":
        data = pa.table({"key": keys(len(TEXTS)), "event_time": TEXTS})
    elif form == "arrow large_string":
        data = pa.table({"key": keys(len(TEXTS)), "event_time": pa.array(TEXTS, pa.large_string())})
    elif form == "dictionary":
        data = pa.table(
            {"key": keys(len(TEXTS)), "event_time": pa.array(TEXTS).dictionary_encode()}
        )
    elif form == "pandas":
        data = pd.DataFrame({"key": keys(len(TEXTS)), "event_time": TEXTS})
    elif form == "polars":
        pl = pytest.importorskip("polars")
        data = pl.DataFrame({"key": keys(len(TEXTS)), "event_time": TEXTS})
    else:
        whole = pa.table({"key": keys(len(TEXTS)), "event_time": TEXTS})
        data = pa.RecordBatchReader.from_batches(whole.schema, whole.to_batches(max_chunksize=3))
    t = table()
    t.append(data)
    assert times(t) == expected(TEXTS)
    assert times(t)[5] == datetime(2024, 3, 15, 12, 30, 0, 500_000, tzinfo=UTC)


def test_other_timestamp_columns_take_text_too() -> None:
    t = table()
    t.append(
        pa.table(
            {"key": ["a"], "event_time": ["2024-01-01"], "seen": ["2024-01-02T03:04:05.000006Z"]}
        )
    )
    assert t.scan().column("seen").to_pylist() == [datetime(2024, 1, 2, 3, 4, 5, 6)]


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (["2024-01-01", "2024-01-02", "yesterday"], "'event_time', row 2: cannot read 'yesterday'"),
        (["2024-01-01", "2024-02-30"], "'event_time', row 1: '2024-02-30' is not a valid"),
        (["2024-01-01T00:00:00.0001Z"], "row 0: .* finer than the column's unit \\(ms\\)"),
        (["2024-01-01", "1600-01-01"], "event time 1600-01-01.* outside the supported range"),
        (["2024-01-01", "2300-01-01"], "event time 2300-01-01.* outside the supported range"),
        (["2024-01-01T10"], "row 0: cannot read '2024-01-01T10'"),
    ],
)
def test_the_first_bad_text_is_named_and_nothing_is_written(texts: list[str], message: str) -> None:
    t = table()
    for data in (
        pa.table({"key": keys(len(texts)), "event_time": texts}),
        pd.DataFrame({"key": keys(len(texts)), "event_time": texts}),
    ):
        with pytest.raises(azof.SchemaMismatchError, match=message):
            t.append(data)
    assert t.refresh().version == 0


def test_rows_are_counted_across_the_batches_of_a_stream() -> None:
    texts = ["2024-01-01"] * 7 + ["nope"]
    whole = pa.table({"key": keys(8), "event_time": texts})
    reader = pa.RecordBatchReader.from_batches(whole.schema, whole.to_batches(max_chunksize=3))
    t = table()
    with pytest.raises(azof.SchemaMismatchError, match="row 7: cannot read 'nope'"):
        t.append(reader)
    assert t.refresh().version == 0


def test_nulls_stay_null_and_are_refused_as_event_times() -> None:
    t = table()
    t.append(
        pa.table(
            {"key": ["a"], "event_time": ["2024-01-01"], "seen": pa.array([None], pa.string())}
        )
    )
    assert t.scan().column("seen").to_pylist() == [None]
    with pytest.raises(azof.SchemaMismatchError, match="'event_time' has 1 null"):
        t.append(pa.table({"key": ["a"], "event_time": pa.array([None], pa.string())}))


instants = st.datetimes(
    min_value=datetime(1678, 1, 2), max_value=datetime(2261, 12, 30), timezones=st.just(UTC)
)
offsets = st.sampled_from(["", "Z", "+00:00", "+05:30", "-08:00", "+0100", "-03"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(instants, offsets, st.sampled_from(["T", " "])), min_size=1, max_size=12))
def test_any_text_reads_as_put_reads_it(items: list[tuple[datetime, str, str]]) -> None:
    texts = []
    for moment, offset, sep in items:
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        text = moment.replace(tzinfo=None).isoformat(sep=sep)
        texts.append(text + offset)
    t = table()
    data = pa.table({"key": keys(len(texts)), "event_time": texts})
    try:
        want = expected(texts)
    except azof.InvalidArgumentError:  # an offset moved it out of the range: refused alike
        with pytest.raises(azof.SchemaMismatchError, match="outside the supported range"):
            t.append(data)
        return
    t.append(data)
    assert times(t) == want
