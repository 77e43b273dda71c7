"""The command line on a table with a composite key and its own event-time name: create,
write, scan, delete, history, changes, asof-join and sql answer with the table's names."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Runner

SCHEMA = "sensor_id:string, metric:string, reading_ts:timestamp[ms, tz=UTC], value:float64"
CSV = """sensor_id,metric,reading_ts,value
s1,temp,2024-01-01T00:00:00Z,20.0
s1,hum,2024-01-01T00:00:00Z,55.0
s2,temp,2024-01-02T00:00:00Z,18.0
s1,temp,2024-01-05T00:00:00Z,21.5
"""


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_composite_key_end_to_end(azof_cli: Runner, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    where = ("--path", str(lake), "--table", "readings")
    made = azof_cli(
        "create", *where, "--schema", SCHEMA, "--key", "sensor_id,metric",
        "--event-time", "reading_ts",
    )  # fmt: skip
    assert made.code == 0, made.stderr
    data = tmp_path / "readings.csv"
    data.write_text(CSV)
    wrote = azof_cli("write", *where, str(data))
    assert wrote.code == 0, wrote.stderr

    scanned = azof_cli("scan", *where, "--format", "json")
    assert scanned.code == 0, scanned.stderr
    rows = lines(scanned.stdout)
    assert list(rows[0]) == ["sensor_id", "metric", "reading_ts", "value"]
    assert [(r["sensor_id"], r["metric"], r["value"]) for r in rows] == [
        ("s1", "hum", 55.0),
        ("s1", "temp", 21.5),
        ("s2", "temp", 18.0),
    ]

    history = azof_cli("history", *where, "s1,temp", "--format", "json")
    assert history.code == 0, history.stderr
    versions = lines(history.stdout)
    assert list(versions[0])[:3] == ["sensor_id", "metric", "valid_from"]
    assert [v["value"] for v in versions] == [20.0, 21.5]

    changes = azof_cli(
        "changes", *where, "--start", "2024-01-02", "--end", "2024-01-06", "--format", "json"
    )
    assert changes.code == 0, changes.stderr
    changed = lines(changes.stdout)
    assert {(c["sensor_id"], c["metric"], c["change"]) for c in changed} == {
        ("s1", "temp", "update"),
        ("s2", "temp", "insert"),
    }
    assert "after_reading_ts" in changed[0]

    left = tmp_path / "left.csv"
    left.write_text("sensor_id,metric,ts\ns1,temp,2024-01-03T00:00:00Z\ns2,temp,2024-01-01\n")
    joined = azof_cli("asof-join", *where, "--left", str(left), "--format", "json")
    assert joined.code == 0, joined.stderr
    assert [r["value"] for r in lines(joined.stdout)] == [20.0, None]

    deleted = azof_cli("delete", *where, "s1,hum", "--event-time", "2024-01-06")
    assert deleted.code == 0, deleted.stderr
    query = "SELECT sensor_id, metric FROM readings ORDER BY sensor_id, metric"
    answered = azof_cli("sql", "--path", str(lake), query, "--format", "json")
    assert answered.code == 0, answered.stderr
    assert lines(answered.stdout) == [
        {"sensor_id": "s1", "metric": "temp"},
        {"sensor_id": "s2", "metric": "temp"},
    ]

    azof_cli("delete", *where, "s1").assert_clean_error("'s1' is not a key", "sensor_id,metric")
