"""TableScan: one immutable read object; every output answers the same question over the
same snapshot, checked against the naive oracle; lazy Polars pushes key predicates below
the as-of merge and keeps value predicates above it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import azof
from azof.scan.read import ScanMetrics
from naive import latest_per_key
from strategies import KEYS, apply_op, as_of_time, day, maintained_operations, rows_of

pl = pytest.importorskip("polars")

SCHEMA = pa.schema(
    [("key", pa.string()), ("event_time", pa.timestamp("ms", tz="UTC")), ("value", pa.int64())]
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def prices(tmp_path: Path) -> azof.Table:
    """a: px 1 (Jan 1), 15 (Jan 15), 2 (Feb 1); b: 10 (Jan 1), deleted Jan 25; c: 100
    (Jan 1), 150 (Jan 20); d: 1000 (Jan 10). Three appends and a delete: four files."""
    table = azof.Lakehouse(tmp_path).create_table(
        "prices",
        pa.schema(
            [("key", pa.string()), ("event_time", pa.timestamp("ms", tz="UTC")), ("px", pa.int64())]
        ),
    )
    table.append({"key": ["a", "b", "c"], "event_time": [at("2024-01-01")] * 3, "px": [1, 10, 100]})
    table.append(
        {
            "key": ["a", "c", "d"],
            "event_time": [at("2024-01-15"), at("2024-01-20"), at("2024-01-10")],
            "px": [15, 150, 1000],
        }
    )
    table.delete(["b"], at("2024-01-25"))
    table.append({"key": ["a"], "event_time": [at("2024-02-01")], "px": [2]})
    return table


def rows(data: Any) -> list[dict[str, Any]]:
    return sorted(pa.table(data).to_pylist(), key=lambda r: r["key"])


# -- one object, every output ------------------------------------------------------------------


def test_every_output_answers_alike(prices: azof.Table) -> None:
    import duckdb

    scan = prices.scanner("2024-01-31")
    expected = rows(prices.scan("2024-01-31"))
    assert [r["key"] for r in expected] == ["a", "c", "d"]
    assert rows(scan.to_arrow()) == expected
    assert rows(scan.to_batches(batch_size=1).read_all()) == expected
    assert rows(pa.table(scan)) == expected  # the Arrow C stream
    assert rows(pl.from_arrow(scan).to_arrow()) == expected
    assert rows(scan.to_polars().to_arrow()) == expected
    assert rows(scan.to_polars(lazy=True).collect().to_arrow()) == expected
    assert rows(duckdb.from_arrow(scan).to_arrow_table()) == expected
    assert rows(pa.Table.from_pandas(scan.to_pandas(), preserve_index=False)) == expected
    assert scan.count() == 3
    assert scan.schema == prices.schema


def test_snapshot_is_resolved_once(prices: azof.Table) -> None:
    scan = prices.scanner()
    before = rows(scan.to_arrow())
    prices.append({"key": ["e"], "event_time": [at("2024-03-01")], "px": [7]})
    assert rows(scan.to_arrow()) == before  # the scan reads the version it was made on
    assert scan.count() == 3
    assert prices.scanner().count() == 4
    with pytest.raises(AttributeError):
        scan.snapshot = prices.snapshot  # type: ignore[misc]


def test_builders_return_new_scans(prices: azof.Table) -> None:
    scan = prices.scanner("2024-01-31")
    narrow = scan.select(["key", "px"]).where(pc.field("px") > 50)
    assert scan.columns == ["key", "event_time", "px"]
    assert scan.filter is None
    assert narrow.columns == ["key", "px"]
    assert narrow.to_arrow().to_pylist() == [{"key": "c", "px": 150}, {"key": "d", "px": 1000}]
    keyed = scan.where(pc.field("key") == "a")
    assert keyed.pushed_filter is not None
    assert keyed.filter is None
    assert keyed.to_arrow().column("px").to_pylist() == [15]
    assert rows(scan.for_bucket(0).to_arrow()) == rows(scan.to_arrow())


def test_bitemporal_arguments(prices: azof.Table) -> None:
    """``version`` / ``known_at`` choose the snapshot; ``as_of`` is event time."""
    scan = prices.scanner("2024-01-31", version=2)
    assert scan.version == 2
    assert {r["key"]: r["px"] for r in scan.to_arrow().to_pylist()} == {
        "a": 15,
        "b": 10,
        "c": 150,
        "d": 1000,
    }
    with pytest.raises(azof.InvalidArgumentError, match="not both"):
        prices.scanner(version=1, known_at="2024-01-01")


def test_files_and_explain_show_the_plan(prices: azof.Table) -> None:
    scan = prices.scanner("2024-01-31")
    files = scan.files()
    assert len(files) == 3  # the Feb 1 append starts after T: not planned
    assert all(f.rows and f.bytes for f in files)
    assert [f.priority for f in files] == sorted(f.priority for f in files)
    text = scan.where(pc.field("key") == "a").where(pc.field("px") > 1).explain()
    assert "version 4" in text
    assert "2024-01-31" in text
    assert 'below the merge (prunes files, row groups): (key == "a")' in text
    assert "above the merge (filters the answer): (px > 1)" in text
    assert "plan: 2 of 4 files" in text  # the delete of b: its key bounds rule it out


def test_bad_arguments_are_refused(prices: azof.Table) -> None:
    with pytest.raises(azof.InvalidArgumentError, match="no column"):
        prices.scanner(columns=["nope"])
    with pytest.raises(azof.InvalidArgumentError, match="filter cannot be a int"):
        prices.scanner(filter=1)  # type: ignore[arg-type]
    assert prices.scanner(filter="px > 1").filter is not None  # SQL text is a filter too
    with pytest.raises(azof.InvalidArgumentError, match="bucket"):
        prices.scanner(bucket=3)
    with pytest.raises(azof.InvalidArgumentError, match="below the as-of merge"):
        prices.scanner().prune_keys(pc.field("px") > 1)
    with pytest.raises(azof.InvalidArgumentError, match="batch_size"):
        prices.scanner().to_batches(batch_size=0)


def test_metrics_count_what_was_read(prices: azof.Table) -> None:
    metrics = ScanMetrics()
    prices.scanner(filter=pc.field("key") == "d").to_arrow(metrics)
    assert metrics.files_planned == 4
    assert metrics.rows_out == 1


# -- lazy Polars ---------------------------------------------------------------------------


def test_lazy_key_filter_reaches_the_source_and_answers_as_scan(prices: azof.Table) -> None:
    lazy = prices.to_polars("2024-01-31", lazy=True)
    query = lazy.filter(pl.col("key") == "a")
    plan = query.explain()
    scan_node = plan[plan.index("PYTHON[azof] SCAN") :]
    selection = next(line for line in scan_node.splitlines() if "SELECTION:" in line)
    assert 'col("key")' in selection
    assert '"a"' in selection
    assert (
        query.collect().to_arrow().to_pylist()
        == prices.scan("2024-01-31", filter=pc.field("key") == "a").to_pylist()
    )


def test_lazy_value_filter_stays_above_the_merge(prices: azof.Table) -> None:
    """As of Jan 31, a's latest px is 15 and c's is 150; their older rows (a: px 1, c: px
    100) pass ``px < 10`` and ``px < 120``: a value filter below the merge would resurrect
    them."""
    older = {r["key"]: r["px"] for r in prices.scan("2024-01-01").to_pylist()}
    assert older["a"] < 10
    assert older["c"] < 120
    lazy = prices.to_polars("2024-01-31", lazy=True)
    assert lazy.filter(pl.col("px") < 10).collect().height == 0
    got = lazy.filter(pl.col("px") < 120).select("key", "px").collect().to_dicts()
    assert got == [{"key": "a", "px": 15}]
    mixed = lazy.filter((pl.col("key") == "c") & (pl.col("px") < 120)).collect()
    assert mixed.height == 0  # the key half prunes below, the value half filters above


def test_below_merge_splits_predicates(prices: azof.Table) -> None:
    from azof.polars import below_merge

    schema = prices.schema
    t = at("2024-01-10")
    key = pl.col("key") == "a"
    assert str(below_merge(key, schema)) == '(key == "a")'
    assert str(below_merge(pl.col("key").is_in(["a", "c"]), schema)).startswith("is_in(key")
    assert below_merge(pl.col("px") < 10, schema) is None  # a value predicate
    assert below_merge(pl.col("event_time") <= t, schema) is None  # an upper bound
    assert below_merge(~key, schema) is None
    assert below_merge(key | (pl.col("px") > 1), schema) is None
    assert str(below_merge(key & (pl.col("px") > 1), schema)) == '(key == "a")'
    lower = below_merge(pl.lit(t) < pl.col("event_time"), schema)
    assert lower is not None
    assert "event_time >" in str(lower)
    assert below_merge(key | (pl.col("event_time") >= t), schema) is not None


def test_lazy_pruning_reads_fewer_rows(tmp_path: Path) -> None:
    """A key filter through the lazy frame prunes row groups (fewer rows read than the
    value filter, which must read every key)."""
    table = azof.Lakehouse(tmp_path).create_table("t", SCHEMA)
    keys = [f"k{i:05d}" for i in range(20_000)]
    table.append(
        {"key": keys, "event_time": [at("2024-01-01")] * len(keys), "value": range(20_000)}
    )
    table.compact(azof.CompactionPolicy(segment="month", buckets=1))
    read: list[ScanMetrics] = []
    original = azof.TableScan.to_batches

    def counted(self: azof.TableScan, **kwargs: Any) -> pa.RecordBatchReader:
        read.append(kwargs.setdefault("metrics", ScanMetrics()))
        return original(self, **kwargs)

    lazy = table.to_polars(lazy=True)
    try:
        azof.TableScan.to_batches = counted  # type: ignore[method-assign]
        by_key = lazy.filter(pl.col("key") == "k00042").collect()
        by_value = lazy.filter(pl.col("value") == 42).collect()
    finally:
        azof.TableScan.to_batches = original  # type: ignore[method-assign]
    assert by_key.to_dicts() == by_value.to_dicts()
    assert by_key["value"].to_list() == [42]
    keyed, valued = read
    assert valued.rows_read == 20_000
    assert keyed.rows_read < valued.rows_read


# -- against the oracle --------------------------------------------------------------------

PROPERTY = settings(
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@PROPERTY
@given(
    ops=maintained_operations,
    as_of=st.one_of(st.none(), st.integers(-1, 32)),
    keys=st.lists(st.sampled_from([*KEYS, "zz"]), max_size=3, unique=True),
    threshold=st.integers(-1000, 1000),
    since=st.one_of(st.none(), st.integers(-1, 32)),
)
def test_outputs_and_lazy_filters_match_the_oracle(
    ops: list[tuple[Any, ...]],
    as_of: int | None,
    keys: list[str],
    threshold: int,
    since: int | None,
) -> None:
    table = azof.Lakehouse(f"memory://{uuid.uuid4().hex}").create_table("t", SCHEMA)
    written: list[dict[str, Any]] = []
    for op in ops:
        apply_op(table, op)
        written += rows_of(op)
    when = as_of_time(as_of)
    state = latest_per_key(written, when)
    expected = sorted((k, r["event_time"], r["value"]) for k, r in state.items())
    scan = table.scanner(when)

    def triples(data: Any) -> list[tuple[Any, ...]]:
        got = pa.table(data).to_pylist()
        return sorted((r["key"], r["event_time"], r["value"]) for r in got)

    assert triples(scan.to_arrow()) == expected
    assert triples(scan) == expected
    assert triples(scan.to_batches(merge_rows=3, batch_size=2).read_all()) == expected
    assert scan.count() == len(expected)
    lazy = scan.to_polars(lazy=True)
    condition = pl.col("key").is_in(keys) & (pl.col("value") > threshold)
    if since is not None:
        condition = condition & (pl.col("event_time") >= day(since))
    filtered = [
        (k, t, v)
        for k, t, v in expected
        if k in keys and v > threshold and (since is None or t >= day(since))
    ]
    assert triples(lazy.filter(condition).collect().to_arrow()) == filtered
