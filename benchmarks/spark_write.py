"""Spark writes and distributed compaction: the event log written from Spark ``local[2]``
and compacted with ``azof.spark.compact``, against ``Table.append`` + ``Table.compact`` on
the same machine and Delta Lake's Spark-free writer (``deltalake.write_deltalake``).

Each writer writes the whole log (``eventlog.py``) as **one** commit into a new table:
Spark reads the log's Parquet files and writes them with ``df.write.format("azof")``; azof
and Delta take the same files as one Arrow stream. Then each azof table is compacted with
the default policy, and the two compacted tables are checked to give the same answers at
the log's probe times. One timed run each (a write of the whole log is long enough not to
need a median), after a small warm-up write that starts Spark's Python workers.

    .venv/bin/python benchmarks/spark_write.py --preset small               # ~2 minutes
    .venv/bin/python benchmarks/spark_write.py --preset full --write-doc    # 20M events
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from eventlog import add_log_arguments, config_from_args, ensure_log, probe_times
from report import machine, publish

import azof

TITLE = "Spark: writes and distributed compaction"


def log_files(folder: Path, manifest: dict[str, Any]) -> list[str]:
    return [str(folder / name) for name in manifest["files"]]


def log_reader(files: list[str]) -> pa.RecordBatchReader:
    dataset = ds.dataset(files, format="parquet")
    return pa.RecordBatchReader.from_batches(dataset.schema, dataset.to_batches())


def spark_session() -> Any:
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("azof-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "4g")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def timed(action: Any) -> tuple[float, Any]:
    begin = time.perf_counter()
    result = action()
    return time.perf_counter() - begin, result


def answers(table: azof.Table, probes: dict[str, Any]) -> dict[str, tuple[int, float]]:
    """Rows and the sum of revenue of every probe time's answer (a cheap fingerprint)."""
    out = {}
    for name, when in {**probes, "latest": None}.items():
        answer = table.scan(as_of=when, columns=["revenue"])
        out[name] = (answer.num_rows, float(pc.sum(answer.column("revenue")).as_py() or 0))
    return out


def run(
    folder: Path, manifest: dict[str, Any], probes: dict[str, Any], work: Path, skip_delta: bool
) -> dict[str, Any]:
    import azof.spark

    rows = int(manifest["config"]["events"])
    spark = spark_session()
    (work / "lake").mkdir()
    lake = azof.Lakehouse(work / "lake")
    # warm-up: start the Python workers (and load azof in them) before the clock starts
    tiny = spark.createDataFrame([("a", 1.0)], "key STRING, v DOUBLE").selectExpr(
        "key", "current_timestamp() AS event_time", "v"
    )
    tiny.write.format("azof").mode("append").save(f"{work / 'lake'}/warmup")
    results: dict[str, Any] = {"rows": rows}

    files = log_files(folder, manifest)
    log = spark.read.parquet(*files)
    seconds, _ = timed(
        lambda: log.write.format("azof").mode("append").save(f"{work / 'lake'}/spark_log")
    )
    results["spark_write"] = seconds
    seconds, stats = timed(lambda: azof.spark.compact(spark, f"{work / 'lake'}/spark_log"))
    results["spark_compact"] = seconds
    results["spark_files"] = stats.files_added
    spark.stop()

    local = lake.create_table("local_log", log_reader(files).schema)
    seconds, _ = timed(lambda: local.append(log_reader(files)))
    results["local_write"] = seconds
    seconds, stats = timed(local.compact)
    results["local_compact"] = seconds
    results["local_files"] = stats.files_added

    if not skip_delta:
        from deltalake import write_deltalake

        seconds, _ = timed(lambda: write_deltalake(str(work / "delta"), log_reader(files)))
        results["delta_write"] = seconds

    written = lake.table("spark_log")
    results["same_answers"] = answers(written, probes) == answers(local.refresh(), probes)
    return results


def render(results: dict[str, Any], command: str) -> str:
    rows = results["rows"]

    def rate(seconds: float) -> str:
        return f"{rows / seconds / 1000:,.0f}k rows/s"

    lines = [
        f"Command: `{command}`  ",
        f"Machine: {machine(('pyarrow', 'pyspark', 'deltalake'))}",
        "",
        f"The whole event log ({rows:,} events, `eventlog.py`) written as one commit into a "
        "new table, then compacted with the default policy (year -> quarter leaves). Spark "
        "runs `local[2]` (2 task slots: the machine's cores) and reads the log's Parquet "
        "files itself; `Table.append` and Delta take the same files as one Arrow stream. "
        "One timed run each, in one process run, after a warm-up write. The machine is "
        "shared: compare the rows of one run with each other, not with other sections.",
        "",
        "| writer | write | rate | compaction |",
        "|---|---|---|---|",
        f'| Spark `df.write.format("azof")` + `azof.spark.compact` | '
        f"{results['spark_write']:.1f} s | {rate(results['spark_write'])} | "
        f"{results['spark_compact']:.1f} s ({results['spark_files']} files) |",
        f"| `Table.append` + `Table.compact` | {results['local_write']:.1f} s | "
        f"{rate(results['local_write'])} | {results['local_compact']:.1f} s "
        f"({results['local_files']} files) |",
    ]
    if "delta_write" in results:
        lines.append(
            f"| Delta Lake `write_deltalake` | {results['delta_write']:.1f} s | "
            f"{rate(results['delta_write'])} | - |"
        )
    lines += [
        "",
        "Both compacted azof tables give the same answers at the probe times: "
        f"{'yes' if results['same_answers'] else '**no**'}.",
        "",
        "On one 2-core machine Spark adds its own work (reading Parquet into Spark rows, "
        "Arrow conversion to and from the Python workers, a shuffle for compaction) to the "
        "same file writing, so it is not expected to beat `Table.append` here; what it adds "
        "is that the same job runs on as many executors as a cluster has, each bounded in "
        "memory (`file_rows` for writes; one bucket's group of leaves for compaction).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_log_arguments(parser)
    parser.add_argument("--skip-delta", action="store_true")
    parser.add_argument("--write-doc", action="store_true")
    args = parser.parse_args()
    config = config_from_args(args)
    folder, manifest = ensure_log(config)
    work = Path(tempfile.mkdtemp(prefix="azof-spark-bench-"))
    try:
        results = run(folder, manifest, probe_times(config), work, args.skip_delta)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = ".venv/bin/python benchmarks/spark_write.py " + " ".join(sys.argv[1:])
    publish(TITLE, render(results, command.strip()), write_doc=args.write_doc)


if __name__ == "__main__":
    main()
