"""A smoke run of the Scale benchmark (benchmarks/scale.py) on its small preset (200k
events, in-process, one run per read): the harness works end to end and every method's
answer agrees with the oracle. Timings are not checked."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import eventlog  # noqa: E402
import scale  # noqa: E402

SMALL = eventlog.PRESETS["small"]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scale")


@pytest.fixture(scope="module")
def results(root: Path) -> scale.Results:
    return scale.run_benchmark(
        SMALL,
        runs=1,
        delta=scale.delta_available(),
        isolate=False,
        work=root / "work",
        log_folder=root / "log",
        keep=True,
    )


def test_log_is_deterministic() -> None:
    config = eventlog.LogConfig(events=3_000, keys=500, years=2)
    first = [batch.to_pydict() for batch in eventlog.batches(config)]
    assert first == [batch.to_pydict() for batch in eventlog.batches(config)]
    assert len(first) == 24
    assert sum(len(batch["key"]) for batch in first) == 3_000


def test_probe_times_cover_the_key_growth(results: scale.Results) -> None:
    keys = {name: a["digest"]["rows"] for name, a in results.oracle["answers"].items()}
    assert 0 < keys["early"] < keys["middle"] < keys["latest"] == SMALL.keys
    assert results.oracle["log_rows"] == SMALL.events
    assert results.oracle["duplicates"] == 0


def test_every_answer_agrees_with_the_oracle(results: scale.Results) -> None:
    assert results.mismatches == []
    methods = {"floor", "azof", "duckdb"} | ({"delta"} if "delta" in results.writes else set())
    for name in ("early", "middle", "latest"):
        assert set(results.reads[name]) == methods
    for name, (probe, _) in scale.STREAMS.items():
        expected = results.oracle["answers"][probe or "latest"]["digest"]["rows"]
        assert results.streams[name]["aggregates"]["rows"] == expected


def test_a_wrong_answer_is_reported(results: scale.Results) -> None:
    broken = scale.Results(**{**results.__dict__, "mismatches": []})
    broken.reads = {n: {m: dict(r) for m, r in ms.items()} for n, ms in results.reads.items()}
    azof_middle = broken.reads["middle"]["azof"]
    azof_middle["digest"] = {**azof_middle["digest"], "revenue": "0" * 16}
    assert scale.check(broken) == [
        "azof at middle T differs from the oracle in revenue "
        f"({azof_middle['digest']['rows']:,} rows, expected {azof_middle['digest']['rows']:,})"
    ]


def test_the_report_renders_also_from_saved_results(results: scale.Results) -> None:
    body = scale.render(results)
    assert "### Targets" in body
    assert "MISMATCH" not in body
    saved = json.loads(json.dumps(results.__dict__))
    assert scale.render(scale.Results(**saved)) == body


def test_a_read_in_a_fresh_process_reports_its_peak_rss(root: Path, results: scale.Results) -> None:
    spec = {"method": "floor", "floor": str(root / "work" / "floor-latest.parquet"), "runs": 1}
    measured = scale.run_task("read", spec, isolate=True)
    assert measured["digest"] == results.oracle["answers"]["latest"]["digest"]
    assert measured["peak_kib"] > 10_000


def test_random_times_and_the_sql_aggregate_are_measured(results: scale.Results) -> None:
    assert len(results.random_probes) == scale.RANDOM_T
    times = list(results.random_probes.values())
    assert times == sorted(times)
    for name in results.random_probes:
        assert set(results.reads[name]) == set(scale.RANDOM_READS)  # checked by check()
    assert set(results.aggregates) == set(scale.AGGREGATES)
    rows = {json.dumps(r["rows"]) for r in results.aggregates.values()}
    assert len(rows) == 1  # every engine gives the same groups
    (first,) = [r["rows"] for r in results.aggregates.values()][:1]
    assert sum(n for _, n, _ in first) == SMALL.keys  # every key's current row, counted once
    body = scale.render(results)
    assert "### As of a random T" in body
    assert "### SQL aggregate over the current state" in body
    assert "at random T (median of 10)" in body
