"""Scale: "as of T, the latest row per key" on a 20M-event log, azof against the baselines.

One run, side by side, on the log of ``eventlog.py`` (monthly arrival batches, 2% late):

1. the log is written into azof in its monthly batches (one append each, timed) and
   compacted with the default policy (timed); the same batches are written as Delta Lake
   commits if ``deltalake`` is installed (``--skip-delta`` skips it);
2. an oracle (pyarrow: sort the log by key and event time, keep each key's last row at or
   before T) gives the answer at three as-of times, early (~1.4% of the keys exist),
   middle (~33%) and latest (after every event), and writes each answer as one Parquet
   file: the *floor*, the cost of reading exactly the answer;
3. at each T: the floor (``pq.read_table``), azof ``scan(as_of=T)``, DuckDB ``arg_max``
   over the raw Parquet log, and Delta -> DuckDB ``arg_max``; each is the median of
   ``--runs`` runs after a warm-up, in a fresh process per method and T, which reports its
   own peak RSS (VmHWM; not ``ru_maxrss``, which on Linux inherits the parent's peak
   through vfork+exec); then the floor and azof at ``RANDOM_T`` times drawn uniformly
   across the log's history (seeded), where a read is not helped by starting at a leaf
   of the segment tree;
4. streaming ``to_batches()`` scans with their peak RSS: of the current state and the
   middle T with the default ``merge_rows``, and at every T with a small fixed
   ``merge_rows`` (``BOUND_ROWS``), whose peak must not grow with the answer;
5. ``SELECT industry, count(*), sum(revenue) ... GROUP BY industry`` over the current
   state: azof through DataFusion (``ExecutionContext``) and through DuckDB
   (``azof.duckdb.sql``), both streaming the table, against DuckDB ``arg_max`` over the
   raw log; time and peak RSS, each in a fresh process;
6. every answer is checked against the oracle: key sets and a SHA-256 of each column of
   the key-sorted answer; the streams by order-free aggregates; the SQL aggregates by
   agreeing with each other.

The markdown report is printed and, with ``--write-doc``, becomes the "Scale" section of
docs/benchmarks.md. Exit status 1 if any answer disagrees with the oracle.

    .venv/bin/python benchmarks/scale.py --preset small            # about a minute
    .venv/bin/python benchmarks/scale.py --preset full --write-doc # about five minutes

The log is cached in ``benchmarks/data/<name>/``; the tables and floor files are rebuilt
in ``benchmarks/data/scale-<name>/`` each run and deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from eventlog import (
    DATA,
    SCHEMA,
    add_aggregates,
    add_log_arguments,
    aggregates,
    answer_digest,
    config_from_args,
    ensure_log,
    latest_rows,
    probe_times,
    random_times,
)
from report import machine, update_section
from scale_report import (
    AGGREGATES,
    COLUMNS,
    MIB,
    RANDOM_READS,
    RANDOM_T,
    READS,
    STREAMS,
    Results,
    render,
)

HERE = Path(__file__).resolve().parent
TABLE = "events"
VALUES = COLUMNS[2:]


# -- the measured work, run in a child process (or in-process for the smoke test) ----------


def peak_rss_kib() -> int:
    """This process's peak resident set (KiB): VmHWM of /proc/self/status on Linux."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    scale = 1 if sys.platform != "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // scale


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux ``clear_refs``); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def argmax_sql(source: str, as_of: str) -> str:
    """The latest row per key at or before ``as_of``: ``arg_max`` of every value column.

    ``arg_max`` skips rows whose value is NULL; the log has no nulls and ``(key,
    event_time)`` is unique, so each column comes from the key's latest row (checked
    against the oracle). A log with nulls would need ``arg_max_null``.
    """
    values = ", ".join(f"arg_max({c}, event_time) AS {c}" for c in VALUES)
    return (
        f"SELECT key, max(event_time) AS event_time, {values} FROM {source} "
        f"WHERE event_time <= TIMESTAMPTZ '{as_of}' GROUP BY key"
    )


def reader(spec: dict[str, Any]) -> Callable[[], pa.Table]:
    """The action timed for ``spec["method"]``: open the source and answer, each call."""
    method, as_of = spec["method"], spec.get("as_of")
    if method == "floor":
        path = spec["floor"]
        return lambda: pq.read_table(path)
    if method == "azof":
        import azof

        when = datetime.fromisoformat(as_of)
        return lambda: azof.Lakehouse(spec["lake"]).table(TABLE).scan(as_of=when)
    if method == "duckdb":
        import duckdb

        source = f"read_parquet('{Path(spec['log']) / '*.parquet'}')"

        def run_duckdb() -> pa.Table:
            with duckdb.connect() as con:
                return con.sql(argmax_sql(source, as_of)).to_arrow_table()

        return run_duckdb
    if method == "delta":
        import duckdb
        from deltalake import DeltaTable

        def run_delta() -> pa.Table:
            dataset = DeltaTable(spec["delta"]).to_pyarrow_dataset()
            with duckdb.connect() as con:
                con.register("delta_log", dataset)
                return con.sql(argmax_sql("delta_log", as_of)).to_arrow_table()

        return run_delta
    raise ValueError(f"unknown read method {method!r}")


def measure_read(spec: dict[str, Any]) -> dict[str, Any]:
    """Time ``spec``'s read (median of ``runs`` after a warm-up) and describe its answer."""
    action = reader(spec)
    samples: list[float] = []
    cpu: list[float] = []
    answer: pa.Table | None = None
    for run in range(spec["runs"] + 1):
        answer = None  # the previous answer must not count in this run's peak
        begin, begin_cpu = time.perf_counter(), time.process_time()
        answer = action()
        if run:
            samples.append(time.perf_counter() - begin)
            cpu.append(time.process_time() - begin_cpu)
    peak = peak_rss_kib()
    assert answer is not None
    touched = scan_metrics(spec) if spec["method"] == "azof" else {}
    return {
        **touched,
        "seconds": statistics.median(samples),
        "samples": samples,
        "cpu_seconds": statistics.median(cpu),
        "peak_kib": peak,
        "arrow_bytes": answer.nbytes,
        "digest": answer_digest(answer),
        "aggregates": aggregates(answer),
    }


AGGREGATE_SQL = (
    "SELECT industry, count(*) AS n, sum(revenue) AS revenue FROM {source} GROUP BY industry"
)


def aggregate_action(spec: dict[str, Any]) -> Callable[[], pa.Table]:
    """The SQL aggregate over the current state for ``spec["method"]``, each call planning
    and running the query afresh."""
    method = spec["method"]
    if method == "datafusion":
        from azof.sql import ExecutionContext

        query = AGGREGATE_SQL.format(source=TABLE)
        return lambda: ExecutionContext(spec["lake"]).sql(query).to_arrow_table()
    import duckdb

    if method == "duckdb-azof":
        import azof.duckdb

        def run_azof() -> pa.Table:
            with duckdb.connect() as con:
                query = AGGREGATE_SQL.format(source=TABLE)
                result: pa.Table = azof.duckdb.sql(con, spec["lake"], query).to_arrow_table()
                return result

        return run_azof
    source = f"read_parquet('{Path(spec['log']) / '*.parquet'}')"
    latest = argmax_sql(source, "9999-12-31T00:00:00+00:00")

    def run_raw() -> pa.Table:
        with duckdb.connect() as con:
            return con.sql(AGGREGATE_SQL.format(source=f"({latest})")).to_arrow_table()

    return run_raw


def measure_aggregate(spec: dict[str, Any]) -> dict[str, Any]:
    """Time the SQL aggregate (median of ``runs`` after a warm-up); its rows, sorted."""
    action = aggregate_action(spec)
    samples: list[float] = []
    cpu: list[float] = []
    answer: pa.Table | None = None
    for run in range(spec["runs"] + 1):
        answer = None
        begin, begin_cpu = time.perf_counter(), time.process_time()
        answer = action()
        if run:
            samples.append(time.perf_counter() - begin)
            cpu.append(time.process_time() - begin_cpu)
    assert answer is not None
    rows = sorted((r["industry"], int(r["n"]), int(r["revenue"])) for r in answer.to_pylist())
    return {"seconds": statistics.median(samples), "cpu_seconds": statistics.median(cpu),
            "peak_kib": peak_rss_kib(), "rows": rows}  # fmt: skip


def scan_metrics(spec: dict[str, Any]) -> dict[str, Any]:
    """What azof's read of ``spec`` touched (one more, untimed read, after the peak)."""
    import azof
    from azof.scan.read import ScanMetrics

    metrics = ScanMetrics()
    when = datetime.fromisoformat(spec["as_of"])
    azof.Lakehouse(spec["lake"]).table(TABLE).scan(as_of=when, metrics=metrics)
    return {"files_read": metrics.files_read, "files_planned": metrics.files_planned,
            "rows_read": metrics.rows_read, "rows_out": metrics.rows_out}  # fmt: skip


def measure_stream(spec: dict[str, Any]) -> dict[str, Any]:
    """A streaming ``to_batches`` scan, consumed batch by batch (aggregates only)."""
    import azof
    import azof.table  # the table layers load before the clock starts

    when = datetime.fromisoformat(spec["as_of"]) if spec.get("as_of") else None
    options = {"merge_rows": spec["merge_rows"]} if spec.get("merge_rows") else {}
    totals: dict[str, int] = {}
    batches = 0
    begin = time.perf_counter()
    for batch in azof.Lakehouse(spec["lake"]).table(TABLE).to_batches(as_of=when, **options):
        add_aggregates(totals, batch)
        batches += 1
    seconds = time.perf_counter() - begin
    return {"seconds": seconds, "peak_kib": peak_rss_kib(), "batches": batches,
            "aggregates": totals}  # fmt: skip


def measure_idle(spec: dict[str, Any]) -> dict[str, Any]:
    """The footprint of a process that has imported azof's table layers (and so pyarrow and
    its dataset module) and done nothing."""
    import azof.table  # noqa: F401  # ``import azof`` alone loads them lazily

    return {"peak_kib": peak_rss_kib()}


def log_batches(spec: dict[str, Any]) -> Iterable[pa.Table]:
    for name in spec["files"]:
        yield pq.read_table(Path(spec["log"]) / name)


def write_azof(spec: dict[str, Any]) -> dict[str, Any]:
    """Append the batches to a new azof table (one commit each), then compact it."""
    import azof

    Path(spec["lake"]).mkdir(parents=True, exist_ok=True)
    table = azof.Lakehouse(spec["lake"]).create_table(TABLE, SCHEMA)
    append_seconds, rows = 0.0, 0
    for batch in log_batches(spec):
        begin = time.perf_counter()
        table.append(batch)
        append_seconds += time.perf_counter() - begin
        rows += batch.num_rows
    append_peak = peak_rss_kib()
    separate = reset_peak_rss()
    begin = time.perf_counter()
    stats = table.compact()
    compact_seconds = time.perf_counter() - begin
    return {
        "rows": rows,
        "commits": len(spec["files"]),
        "append_seconds": append_seconds,
        "append_peak_kib": append_peak,
        "compact_seconds": compact_seconds,
        "compact_peak_kib": peak_rss_kib() if separate else None,
        "compaction": {k: getattr(stats, k) for k in ("leaves_rewritten", "files_added",
                                                       "files_removed", "rows_written")},
        "live_bytes": sum(f.size or 0 for f in table.snapshot.files()),
        "live_files": sum(1 for _ in table.snapshot.files()),
        "policy": table.policy.to_json(),
    }  # fmt: skip


def write_delta(spec: dict[str, Any]) -> dict[str, Any]:
    """Append the batches to a new Delta table, one commit each."""
    from deltalake import DeltaTable, write_deltalake

    seconds, rows = 0.0, 0
    for batch in log_batches(spec):
        begin = time.perf_counter()
        write_deltalake(spec["delta"], batch, mode="append")
        seconds += time.perf_counter() - begin
        rows += batch.num_rows
    return {
        "rows": rows,
        "commits": DeltaTable(spec["delta"]).version() + 1,
        "append_seconds": seconds,
        "append_peak_kib": peak_rss_kib(),
        "live_bytes": folder_bytes(Path(spec["delta"])),
    }


def oracle(spec: dict[str, Any]) -> dict[str, Any]:
    """The naive answers of every probe time; writes each as the floor file of its T."""
    return {**latest_rows(log_batches(spec), spec["probes"], spec["floors"]),
            "peak_kib": peak_rss_kib()}  # fmt: skip


CHILD_TASKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "read": measure_read,
    "stream": measure_stream,
    "aggregate": measure_aggregate,
    "idle": measure_idle,
    "write-azof": write_azof,
    "write-delta": write_delta,
    "oracle": oracle,
}


def run_task(task: str, spec: dict[str, Any], *, isolate: bool) -> dict[str, Any]:
    """Run ``task`` in a fresh Python process (its peak RSS is its own), or in this one."""
    if not isolate:
        return CHILD_TASKS[task](spec)
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", task, json.dumps(spec)],
        capture_output=True,
        text=True,
        cwd=HERE,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"child {task} {spec.get('method', '')} failed ({completed.returncode}):\n"
            + completed.stderr[-4000:]
        )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


# -- the run ---------------------------------------------------------------------------------


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def delta_available() -> bool:
    try:
        import deltalake  # noqa: F401
    except ImportError:
        return False
    return True


def say(message: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_benchmark(
    config: Any,
    *,
    runs: int = 5,
    delta: bool = True,
    isolate: bool = True,
    work: Path | None = None,
    log_folder: Path | None = None,
    keep: bool = False,
) -> Results:
    """Write, compact, read and check, as the module docstring says; returns the results."""
    log, manifest = ensure_log(config, log_folder)
    say(f"log: {manifest['rows']:,} events in {log} ({manifest['bytes'] / MIB:.0f} MiB)")
    work = work or DATA / f"scale-{config.name}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    probes = {name: when.isoformat() for name, when in probe_times(config).items()}
    randoms = {name: when.isoformat() for name, when in random_times(config, RANDOM_T).items()}
    base = {"log": str(log), "files": manifest["files"], "lake": str(work / "lake"),
            "delta": str(work / "delta")}  # fmt: skip
    floors = {name: str(work / f"floor-{name}.parquet") for name in {**probes, **randoms}}
    results = Results(manifest["config"], manifest, runs, probes, isolated=isolate)
    results.random_probes = randoms
    results.load.append(os.getloadavg()[0])
    try:
        say("oracle: sorting the log, writing the floor files")
        results.oracle = run_task(
            "oracle", {**base, "probes": {**probes, **randoms}, "floors": floors}, isolate=isolate
        )
        say(f"azof: {len(manifest['files'])} appends, then compaction")
        results.writes["azof"] = run_task("write-azof", base, isolate=isolate)
        say(f"azof: {results.writes['azof']}")
        reads = [m for m in READS if m != "delta" or delta]
        if delta:
            say("Delta Lake: the same appends")
            results.writes["delta"] = run_task("write-delta", base, isolate=isolate)
            say(f"delta: {results.writes['delta']}")
        if isolate:
            results.idle = run_task("idle", {}, isolate=True)
        for name, as_of in probes.items():
            results.reads[name] = {}
            for method in reads:
                spec = {**base, "method": method, "as_of": as_of, "runs": runs,
                        "floor": floors[name]}  # fmt: skip
                result = run_task("read", spec, isolate=isolate)
                results.reads[name][method] = result
                say(f"{name} {method}: {result['seconds']:.4f} s, "
                    f"{result['peak_kib'] / 1024:.0f} MiB")  # fmt: skip
        for name, as_of in randoms.items():  # any T: azof against the floor only
            results.reads[name] = {}
            for method in RANDOM_READS:
                spec = {**base, "method": method, "as_of": as_of, "runs": runs,
                        "floor": floors[name]}  # fmt: skip
                results.reads[name][method] = run_task("read", spec, isolate=isolate)
            ratio = results.reads[name]["azof"]["seconds"] / results.reads[name]["floor"]["seconds"]
            say(f"{name} ({as_of[:19]}): azof {ratio:.1f}x the floor")
        for name, (probe, merge_rows) in STREAMS.items():
            spec = {**base, "as_of": probes.get(probe), "merge_rows": merge_rows}
            results.streams[name] = run_task("stream", spec, isolate=isolate)
            say(f"stream {name}: {results.streams[name]['peak_kib'] / 1024:.0f} MiB")
        for method in AGGREGATES:
            spec = {**base, "method": method, "runs": runs}
            results.aggregates[method] = run_task("aggregate", spec, isolate=isolate)
            say(f"aggregate {method}: {results.aggregates[method]['seconds']:.3f} s, "
                f"{results.aggregates[method]['peak_kib'] / 1024:.0f} MiB")  # fmt: skip
        results.mismatches = check(results)
        results.load.append(os.getloadavg()[0])
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return results


def check(results: Results) -> list[str]:
    """Every disagreement with the oracle, as messages (empty: all answers agree)."""
    problems = []
    if results.oracle["duplicates"]:
        problems.append(
            f"the log has {results.oracle['duplicates']} repeated (key, event_time) pairs: "
            "the latest row per key is ambiguous"
        )
    for name, methods in results.reads.items():
        expected = results.oracle["answers"][name]["digest"]
        for method, result in methods.items():
            got = result["digest"]
            wrong = [c for c in ("rows", *COLUMNS) if got[c] != expected[c]]
            if wrong:
                problems.append(
                    f"{method} at {name} T differs from the oracle in {', '.join(wrong)} "
                    f"({got['rows']:,} rows, expected {expected['rows']:,})"
                )
    for name, (probe, _) in STREAMS.items():
        expected = results.oracle["answers"][probe or "latest"]["aggregates"]
        stream = results.streams.get(name)
        if stream is not None and stream["aggregates"] != expected:
            wrong = [k for k in expected if stream["aggregates"].get(k) != expected[k]]
            problems.append(f"to_batches at {name} differs from the oracle in {wrong}")
    answers = {method: result["rows"] for method, result in results.aggregates.items()}
    if len({json.dumps(rows) for rows in answers.values()}) > 1:
        problems.append(f"the SQL aggregates disagree: {', '.join(answers)}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_log_arguments(parser)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per read (median)")
    parser.add_argument("--skip-delta", action="store_true", help="leave Delta Lake out")
    parser.add_argument("--write-doc", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--keep", action="store_true", help="keep the tables and floor files")
    parser.add_argument(
        "--render", type=Path, metavar="JSON", help="only re-render saved results (no run)"
    )
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.render:
        results = Results(**json.loads(args.render.read_text()))
    else:
        config = config_from_args(args)
        delta = not args.skip_delta and delta_available()
        if not args.skip_delta and not delta:
            say("deltalake is not installed: Delta Lake is skipped")
        results = run_benchmark(config, runs=args.runs, delta=delta, keep=args.keep)
        results.command = " ".join([".venv/bin/python benchmarks/scale.py", *sys.argv[1:]])
        results.machine = machine(("pyarrow", "duckdb", "deltalake", "numpy"))
        saved = DATA / f"scale-results-{config.name}.json"
        saved.write_text(json.dumps(results.__dict__, indent=1) + "\n")
        say(f"results saved in {saved}")
    body = render(results)
    if args.write_doc:
        update_section("Scale", body)
    print(body)
    if results.mismatches:
        sys.exit(1)


def child_main(task: str, raw: str) -> None:
    sys.path.insert(0, str(HERE))
    result = CHILD_TASKS[task](json.loads(raw))
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child_main(sys.argv[2], sys.argv[3])
    else:
        main()
