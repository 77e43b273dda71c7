"""Tables with their own key and event-time names and composite keys (format 4, spec 18):
creation, writes in every key form, scans, pruning, compaction, temporal queries, schema
evolution of key columns, and the specified hash and order."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import azof
from azof.format import decode_snapshot, encode_snapshot
from azof.format.buckets import bucket_of_rows, rows_hash
from azof.format.keys import key_array, key_sort
from azof.temporal import asof_join, changes, history, restatements

READINGS = pa.schema(
    [
        ("sensor_id", pa.string()),
        ("metric", pa.string()),
        ("reading_ts", pa.timestamp("ms", tz="UTC")),
        ("value", pa.float64()),
    ]
)
KEY = ["sensor_id", "metric"]


def when(day: int) -> dt.datetime:
    return dt.datetime(2024, 1, day, tzinfo=dt.UTC)


def readings(lake: azof.Lakehouse, name: str = "readings") -> azof.Table:
    table = lake.create_table(name, READINGS, key=KEY, event_time="reading_ts")
    table.append(
        pa.table(
            {
                "sensor_id": ["s1", "s1", "s2", "s1", "s2"],
                "metric": ["temp", "hum", "temp", "temp", "temp"],
                "reading_ts": pa.array(
                    [when(1), when(1), when(2), when(5), when(3)], READINGS.field(2).type
                ),
                "value": [20.0, 55.0, 18.0, 21.5, 19.0],
            }
        )
    )
    return table


def current(table: azof.Table, **read: Any) -> dict[tuple[str, str], float]:
    return {(r["sensor_id"], r["metric"]): r["value"] for r in table.scan(**read).to_pylist()}


def test_names_are_kept_everywhere(tmp_path: Path) -> None:
    lake = azof.Lakehouse(tmp_path)
    table = readings(lake)
    assert table.key_columns == ("sensor_id", "metric")
    assert table.event_time_column == "reading_ts"
    assert table.schema.names == ["sensor_id", "metric", "reading_ts", "value"]
    assert current(table) == {("s1", "hum"): 55.0, ("s1", "temp"): 21.5, ("s2", "temp"): 19.0}
    assert current(table, as_of=when(4)) == {
        ("s1", "hum"): 55.0,
        ("s1", "temp"): 20.0,
        ("s2", "temp"): 19.0,
    }
    scanned = table.scan()
    assert scanned.column_names == ["sensor_id", "metric", "reading_ts", "value"]
    # sorted by the key columns in order
    pairs = list(zip(scanned["sensor_id"].to_pylist(), scanned["metric"].to_pylist(), strict=True))
    assert pairs == sorted(pairs)
    raw = json.loads((tmp_path / "readings" / "s0.json").read_text())
    assert raw["format_version"] == 4
    assert [c["name"] for c in raw["schema"]["key"]] == KEY
    assert raw["schema"]["event_time"]["name"] == "reading_ts"
    assert [c["id"] for c in raw["schema"]["key"]] == [1, 2]
    assert raw["schema"]["columns"][0]["id"] == 4
    record = json.loads((tmp_path / "readings" / "s1.json").read_text())["deltas"][0]
    assert record["min_key"] == ["s1", "hum"]
    assert record["max_key"] == ["s2", "temp"]
    assert lake.table("readings").verify() == 1


def test_writes_take_composite_keys_in_every_form() -> None:
    table = readings(azof.Lakehouse(f"memory://{uuid.uuid4().hex}"))
    table.put(("s3", "temp"), when(6), value=1.0)
    table.delete([("s1", "hum")], when(6))
    assert set(current(table)) == {("s1", "temp"), ("s2", "temp"), ("s3", "temp")}
    table.delete({"sensor_id": ["s3"], "metric": ["temp"]}, when(7))
    table.delete(pa.table({"metric": ["temp"], "sensor_id": ["s2"]}), when(7))
    assert set(current(table)) == {("s1", "temp")}
    table.delete(("s1", "temp"), when(8))
    assert current(table) == {}
    assert current(table, as_of=when(6)) == {
        ("s1", "temp"): 21.5,
        ("s2", "temp"): 19.0,
        ("s3", "temp"): 1.0,
    }
    with table.writer() as writer:
        writer.put(("s9", "x"), when(9), value=2.0)
        writer.delete([("s9", "y")], when(9))
    assert current(table) == {("s9", "x"): 2.0}
    with pytest.raises(azof.InvalidArgumentError, match="tuple of 2 values"):
        table.put("s1", when(9), value=1.0)
    with pytest.raises(azof.InvalidArgumentError, match="is not a key"):
        table.delete([("s1",)], when(9))
    with pytest.raises(azof.InvalidArgumentError, match="missing"):
        table.delete({"sensor_id": ["s1"]}, when(9))
    with pytest.raises(azof.InvalidArgumentError, match="first two"):
        table.put(("s1", "x"), when(9), reading_ts=when(9))
    with pytest.raises(azof.SchemaMismatchError, match="'metric'"):
        table.append([{"sensor_id": "s1", "reading_ts": when(9), "value": 1.0}])
    assert table.version == 7  # the refused writes wrote nothing


def test_create_table_checks_the_names() -> None:
    lake = azof.Lakehouse(f"memory://{uuid.uuid4().hex}")
    with pytest.raises(azof.SchemaMismatchError, match="needs a 'sensor' column"):
        lake.create_table("t", READINGS, key="sensor", event_time="reading_ts")
    with pytest.raises(azof.SchemaMismatchError, match="reading_ts must be a timestamp"):
        lake.create_table(
            "t",
            READINGS.set(2, pa.field("reading_ts", pa.string())),
            key=KEY,
            event_time="reading_ts",
        )
    with pytest.raises(azof.SchemaMismatchError, match="key type double of column 'value'"):
        lake.create_table("t", READINGS, key=["sensor_id", "value"], event_time="reading_ts")
    with pytest.raises(azof.InvalidArgumentError, match="twice"):
        lake.create_table("t", READINGS, key=["metric", "metric"], event_time="reading_ts")
    with pytest.raises(azof.InvalidArgumentError, match="both the event time and part"):
        lake.create_table("t", READINGS, key=["reading_ts"], event_time="reading_ts")
    assert lake.tables() == []
    made = lake.create_table("t", READINGS, key=KEY, event_time="reading_ts")
    assert lake.create_table("t", READINGS, key=KEY, event_time="reading_ts", exist_ok=True)
    with pytest.raises(azof.TableExistsError, match="another schema"):
        lake.create_table("t", READINGS, key="sensor_id", event_time="reading_ts", exist_ok=True)
    assert made.version == 0


def test_date_and_timestamp_keys() -> None:
    schema = pa.schema(
        [
            ("day", pa.date32()),
            ("at", pa.timestamp("us", tz="UTC")),
            ("n", pa.int64()),
            ("t", pa.timestamp("ms", tz="UTC")),
            ("v", pa.int64()),
        ]
    )
    table = azof.Lakehouse(f"memory://{uuid.uuid4().hex}").create_table(
        "d", schema, key=["day", "at", "n"], event_time="t"
    )
    rows = [
        {"day": dt.date(2024, 1, d), "at": when(d), "n": n, "t": when(10 + d), "v": d * n}
        for d in (1, 2)
        for n in (-1, 1)
    ]
    table.append(rows)
    table.delete([("2024-01-01", "2024-01-01T00:00:00Z", -1)], when(20))
    assert table.scan().num_rows == 3
    table.compact(azof.CompactionPolicy(segment="month", buckets=2))
    assert table.scan().num_rows == 3
    assert table.verify() > 0
    got = history(table, [(dt.date(2024, 1, 1), when(1), -1)])
    assert got.column_names == ["day", "at", "n", "valid_from", "valid_to", "is_deleted", "v"]
    assert got["is_deleted"].to_pylist() == [False, True]


def test_temporal_queries_use_the_names() -> None:
    table = readings(azof.Lakehouse(f"memory://{uuid.uuid4().hex}"))
    got = history(table, [("s1", "temp")])
    assert got.column_names == [*KEY, "valid_from", "valid_to", "is_deleted", "value"]
    assert got["value"].to_pylist() == [20.0, 21.5]
    assert table.history(("s1", "temp")).num_rows == 2
    changed = changes(table, when(2), when(6))
    assert changed.column_names == [
        *KEY,
        "change",
        "before_reading_ts",
        "before_value",
        "after_reading_ts",
        "after_value",
    ]
    assert changed.to_pylist()[0]["change"] == "update"
    version = table.version
    table.put(("s2", "temp"), when(3), value=99.0)
    restated = restatements(table, None, version)
    assert restated.select(KEY).to_pylist() == [{"sensor_id": "s2", "metric": "temp"}]
    left = pa.table(
        {
            "sensor": ["s1", "s1", "s2", "nope"],
            "sensor_id": ["s1", "s1", "s2", "nope"],
            "metric": ["temp", "temp", "temp", "temp"],
            "ts": pa.array([when(2), when(6), when(4), when(4)], pa.timestamp("ms", tz="UTC")),
        }
    )
    expected = [20.0, 21.5, 99.0, None]
    assert asof_join(table, left)["value"].to_pylist() == expected  # on: the key's names
    by_list = asof_join(table, left.drop_columns(["sensor_id"]), on=["sensor", "metric"])
    assert by_list["value"].to_pylist() == expected
    by_map = asof_join(table, left, on={"sensor": "sensor_id", "metric": "metric"})
    assert by_map["value"].to_pylist() == expected
    with pytest.raises(azof.InvalidArgumentError, match="does not name a left column for each key"):
        asof_join(table, left, on="sensor")


def test_key_filters_prune_files_and_compaction_keeps_answers() -> None:
    table = readings(azof.Lakehouse(f"memory://{uuid.uuid4().hex}"))
    for day in range(6, 12):
        table.put((f"s{day}", "temp"), when(day), value=float(day))
    before = {d: current(table, as_of=when(d)) for d in range(1, 13)}
    metrics = azof.ScanMetrics()
    found = table.scan(filter=pc.field("sensor_id") == "s7", metrics=metrics)
    assert found["value"].to_pylist() == [7.0]
    assert metrics.files_read == 1  # the others ruled out by their min_key/max_key
    metrics = azof.ScanMetrics()
    both = (pc.field("sensor_id") == "s1") & (pc.field("metric") == "hum")
    assert table.scan(filter=both, metrics=metrics)["value"].to_pylist() == [55.0]
    assert metrics.files_read == 1
    metrics = azof.ScanMetrics()
    assert history(table, [("s7", "temp")], metrics=metrics)["value"].to_pylist() == [7.0]
    assert metrics.files_read == 1  # temporal reads skip files by their composite bounds
    table.compact(azof.CompactionPolicy(segment="week", buckets=3))
    assert {d: current(table, as_of=when(d)) for d in range(1, 13)} == before
    assert table.verify() > 0
    assert table.scan(filter=pc.field("metric") == "hum")["value"].to_pylist() == [55.0]


def test_renaming_key_and_event_time_columns() -> None:
    lake = azof.Lakehouse(f"memory://{uuid.uuid4().hex}")
    table = readings(lake)
    table.evolve().rename_column("sensor_id", "device").rename_column("reading_ts", "ts").commit()
    assert table.key_columns == ("device", "metric")
    assert table.event_time_column == "ts"
    table.put(("s1", "temp"), when(9), value=30.0)
    got = {(r["device"], r["metric"]): r["value"] for r in table.scan().to_pylist()}
    assert got == {("s1", "hum"): 55.0, ("s1", "temp"): 30.0, ("s2", "temp"): 19.0}
    assert table.scan(version=1).column_names == ["sensor_id", "metric", "reading_ts", "value"]
    table.compact()
    assert lake.table("readings").scan().num_rows == 3
    for change, message in [
        (lambda u: u.drop_column("device"), "cannot drop column 'device'"),
        (lambda u: u.widen("ts", pa.timestamp("us", "UTC")), "key or event-time column"),
        (lambda u: u.rename_column("metric", "value"), "already has a column 'value'"),
    ]:
        with pytest.raises(azof.InvalidArgumentError, match=message):
            change(table.evolve()).commit()


def test_renaming_the_key_of_a_plain_table(tmp_path: Path) -> None:
    """A version-2 table whose key is renamed becomes format 4 and reads its old files by
    their old name."""
    lake = azof.Lakehouse(tmp_path)
    schema = pa.schema([("key", pa.string()), ("event_time", pa.timestamp("ms", tz="UTC"))])
    table = lake.create_table("p", schema.append(pa.field("v", pa.int64())))
    table.put("a", when(1), v=1)
    table.evolve().rename_column("key", "ticker").commit()
    table.put("b", when(2), v=2)
    assert table.key_columns == ("ticker",)
    assert table.scan().to_pylist() == [
        {"ticker": "a", "event_time": when(1), "v": 1},
        {"ticker": "b", "event_time": when(2), "v": 2},
    ]
    raw = json.loads((tmp_path / "p" / "s3.json").read_text())
    assert raw["format_version"] == 4
    assert raw["schema"]["key"][0]["renames"][0]["from"] == "key"
    table.evolve().add_column("key", pa.string()).commit()  # the old name, now a value
    assert lake.table("p").scan().column("key").to_pylist() == [None, None]
    assert lake.table("p").verify() == 2


def test_composite_bucket_hash_matches_the_spec() -> None:
    """Spec 18.5's test values."""
    rows = pa.table({"t": ["AAPL", "AAPL", "sensor-1"], "n": [1, 2, 0]})
    assert rows_hash(rows, ["t", "n"]).tolist() == [
        8483802337755707869,
        9843613377954033256,
        17237041462771776510,
    ]
    assert bucket_of_rows(rows, ["t", "n"], 4).tolist() == [1, 0, 2]
    assert rows_hash(rows, ["t"]).tolist()[0] == 14906023498249745320  # spec 12's value


key_parts = st.tuples(
    st.text(alphabet="ab\x00é", max_size=3),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(0, 2**64 - 1),
    st.dates(),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(key_parts, min_size=1, max_size=30))
def test_the_key_encoding_orders_like_the_key_columns(keys: list[tuple[Any, ...]]) -> None:
    names = ["s", "i", "u", "d"]
    rows = pa.table(
        [
            pa.array([k[0] for k in keys], pa.string()),
            pa.array([k[1] for k in keys], pa.int64()),
            pa.array([k[2] for k in keys], pa.uint64()),
            pa.array([k[3] for k in keys], pa.date32()),
        ],
        names=names,
    )
    by_columns = rows.take(pc.sort_indices(rows, sort_keys=key_sort(names)))
    encoded = key_array(rows, names)
    by_encoding = rows.take(pc.sort_indices(encoded))
    assert by_encoding.to_pylist() == by_columns.to_pylist()
    # equal encodings exactly for equal keys
    assert len(set(encoded.to_pylist())) == len(set(keys))


def composite_snapshot() -> azof.Table:
    table = readings(azof.Lakehouse(f"memory://{uuid.uuid4().hex}"))
    table.compact(azof.CompactionPolicy(segment="week", buckets=2))
    table.put(("s3", "temp"), when(9), value=1.0)
    return table


def test_a_format_4_snapshot_survives_encoding() -> None:
    table = composite_snapshot()
    snapshot = table.snapshot
    data = encode_snapshot(snapshot)
    again = decode_snapshot(data, table="t", file="s9.json", version=snapshot.version)
    assert again == snapshot
    assert again.schema.key_names == ("sensor_id", "metric")
    assert all(isinstance(f.min_key, tuple) for f in again.files())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("key"), "missing field 'key'"),
        (lambda s: s.update(key=[]), "names no column"),
        (lambda s: s["key"][0].update(type="float64"), "is not a string, integer, date"),
        (lambda s: s["event_time"].update(type="string"), "is not a timestamp"),
        (lambda s: s["key"][1].update(name="sensor_id"), "not unique"),
        (lambda s: s["columns"][0].update(id=1), "ids are not unique"),
        (lambda s: s["columns"][0].update(name="metric"), "duplicated or reserved"),
    ],
)
def test_format_4_schemas_are_checked(change: Any, message: str) -> None:
    snapshot = composite_snapshot().snapshot
    raw = json.loads(encode_snapshot(snapshot))
    change(raw["schema"])
    with pytest.raises(azof.CorruptTableError, match=message):
        decode_snapshot(json.dumps(raw).encode(), table="t", file="s1.json", version=1)


def test_composite_key_bounds_are_checked() -> None:
    snapshot = composite_snapshot().snapshot
    raw = json.loads(encode_snapshot(snapshot))
    raw["deltas"][0]["min_key"] = "s1"
    with pytest.raises(azof.CorruptTableError, match="not a list of 2 key values"):
        decode_snapshot(json.dumps(raw).encode(), table="t", file="s1.json", version=1)
    raw["deltas"][0]["min_key"] = ["s1", 3]
    with pytest.raises(azof.CorruptTableError, match="min_key"):
        decode_snapshot(json.dumps(raw).encode(), table="t", file="s1.json", version=1)


def test_plain_tables_stay_format_2(tmp_path: Path) -> None:
    schema = pa.schema([("key", pa.int64()), ("event_time", pa.timestamp("ms", tz="UTC"))])
    table = azof.Lakehouse(tmp_path).create_table("p", schema)
    table.put(1, when(1))
    for name in ("s0.json", "s1.json"):
        assert json.loads((tmp_path / "p" / name).read_text())["format_version"] == 2
    assert table.key_columns == ("key",)
    assert table.event_time_column == "event_time"


def test_a_large_append_cuts_composite_key_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    """An append large enough to be cut into key ranges (written in parallel) keeps every
    row of a composite key in one file, each file sorted, and the later duplicate wins."""
    from azof.write import files

    monkeypatch.setattr(files, "PARALLEL_ROWS", 1000)
    monkeypatch.setattr(files.os, "cpu_count", lambda: 4)
    n = 20_000
    sensors = [f"s{i % 97}" for i in range(n)]
    metrics = [f"m{i % 13}" for i in range(n)]
    data = pa.table(
        {
            "sensor_id": sensors,
            "metric": metrics,
            "reading_ts": pa.array([when(1 + i % 5) for i in range(n)], READINGS.field(2).type),
            "value": [float(i) for i in range(n)],
        }
    )
    table = azof.Lakehouse(f"memory://{uuid.uuid4().hex}").create_table(
        "big", READINGS, key=KEY, event_time="reading_ts"
    )
    table.append(data)
    written = table.snapshot.deltas
    assert len(written) == 4
    assert table.verify() == 4
    bounds = sorted((tuple(f.min_key), tuple(f.max_key)) for f in written)
    for (_, high), (low, _) in itertools.pairwise(bounds):
        assert high < low  # disjoint key ranges
    expected: dict[tuple[str, str, dt.datetime], float] = {}
    for row in data.to_pylist():
        expected[(row["sensor_id"], row["metric"], row["reading_ts"])] = row["value"]
    latest: dict[tuple[str, str], tuple[dt.datetime, float]] = {}
    for (sensor, metric, at), value in expected.items():
        if (sensor, metric) not in latest or at >= latest[(sensor, metric)][0]:
            latest[(sensor, metric)] = (at, value)
    got = {
        (r["sensor_id"], r["metric"]): (r["reading_ts"], r["value"])
        for r in table.scan().to_pylist()
    }
    assert got == latest


def test_a_date_key_named_key_makes_a_format_4_table(tmp_path: Path) -> None:
    schema = pa.schema([("key", pa.date32()), ("event_time", pa.timestamp("ms", tz="UTC"))])
    table = azof.Lakehouse(tmp_path).create_table("d", schema.append(pa.field("v", pa.int8())))
    table.put(dt.date(2024, 1, 2), when(3), v=1)
    table.delete(["2024-01-03"], when(3))
    assert table.scan()["key"].to_pylist() == [dt.date(2024, 1, 2)]
    assert json.loads((tmp_path / "d" / "s0.json").read_text())["format_version"] == 4


def test_the_spec_example_schema_decodes() -> None:
    """The version-4 schema of docs/spec.md 18.1, in a snapshot, reads as it says."""
    spec = (Path(__file__).parent.parent / "docs" / "spec.md").read_text()
    section = spec[spec.index("### 18.1") :]
    example = section[section.index("```json") + len("```json") : section.index("```\n\n")]
    raw = {"format_version": 4, "version": 0, "schema": json.loads(example)}
    snapshot = decode_snapshot(json.dumps(raw).encode(), table="t", file="s0.json", version=0)
    assert snapshot.schema.key_names == ("sensor_id", "metric")
    assert snapshot.schema.event_time_name == "reading_ts"
    assert snapshot.schema.to_arrow().names == ["sensor_id", "metric", "reading_ts", "value"]
    assert snapshot.schema.field("metric").type == pa.int32()
    assert encode_snapshot(snapshot)  # and writes back


def test_delete_takes_a_dataframe_of_keys() -> None:
    pandas = pytest.importorskip("pandas")
    table = readings(azof.Lakehouse(f"memory://{uuid.uuid4().hex}"))
    table.delete(pandas.DataFrame({"sensor_id": ["s1"], "metric": ["hum"]}), when(9))
    assert set(current(table)) == {("s1", "temp"), ("s2", "temp")}


def test_verify_checks_composite_key_bounds(tmp_path: Path) -> None:
    lake = azof.Lakehouse(tmp_path)
    readings(lake)
    assert lake.table("readings").verify() == 1
    path = tmp_path / "readings" / "s1.json"
    raw = json.loads(path.read_text())
    raw["deltas"][0]["min_key"] = ["s1", "temp"]  # above ("s1", "hum"), which the file holds
    path.write_text(json.dumps(raw))
    with pytest.raises(azof.CorruptTableError, match="below the record's min_key"):
        lake.table("readings").verify()
    raw["deltas"][0]["min_key"] = ["s1", "hum"]
    raw["deltas"][0]["max_key"] = ["s2", "hum"]  # below ("s2", "temp")
    path.write_text(json.dumps(raw))
    with pytest.raises(azof.CorruptTableError, match="above the record's max_key"):
        lake.table("readings").verify()


def test_asof_join_rows_without_a_whole_key_get_nulls() -> None:
    table = readings(azof.Lakehouse(f"memory://{uuid.uuid4().hex}"))
    left = pa.table(
        {
            "sensor_id": ["s1", None, "s1"],
            "metric": ["temp", "temp", None],
            "ts": pa.array([when(6)] * 3, pa.timestamp("ms", tz="UTC")),
        }
    )
    assert asof_join(table, left)["value"].to_pylist() == [21.5, None, None]


def test_renaming_the_key_of_a_seed_table(seed_copy: Callable[[str], Path]) -> None:
    """A format-1 table whose key and event time are renamed reads its seed files by their
    old names, then writes and compacts under the new ones; older versions keep theirs."""
    folder = seed_copy("table0")
    table = azof.Lakehouse(folder.parent).table("table0")
    before = table.scan(as_of="2024-02-17")
    table.evolve().rename_column("key", "id").rename_column("event_time", "ts").commit()
    after = table.scan(as_of="2024-02-17")
    assert after.column_names == ["id", "ts", "value"]
    assert after.rename_columns(before.column_names).equals(before)
    table.put("9", "2024-05-01", value="z")
    table.compact()
    assert table.scan()["id"].to_pylist()[-1] == "9"
    assert table.verify() > 0
    assert table.scan(as_of="2024-02-17", version=1).equals(before)
