"""The report of the Scale benchmark (``scale.py``): its results, the targets of the issue
and the markdown written to docs/benchmarks.md."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eventlog import SCHEMA

COLUMNS = tuple(SCHEMA.names)
PROBES = ("early", "middle", "latest")
READS = ("floor", "azof", "duckdb", "delta")

LABELS = {
    "floor": "floor: `pq.read_table` of a file holding exactly the answer",
    "azof": "azof `scan(as_of=T)`",
    "duckdb": "DuckDB `arg_max` over the raw log (one glob over its files)",
    "delta": "Delta Lake -> DuckDB `arg_max`",
}
AGGREGATES = {
    "datafusion": "azof via DataFusion (`ExecutionContext.sql`)",
    "duckdb-azof": "azof via DuckDB (`azof.duckdb.sql`)",
    "duckdb-raw": "DuckDB `arg_max` over the raw log, then the aggregate",
}
"""The SQL aggregate over the current state: method -> label."""
RANDOM_T = 10
"""How many as-of times are drawn at random across the history."""
RANDOM_READS = ("floor", "azof")
TARGET_FLOOR_RATIO = 3.0
TARGET_DUCKDB_SPEEDUP = 20.0
TARGET_RANDOM_MEDIAN = 2.0
TARGET_RANDOM_WORST = 3.0
TARGET_SMALL_READ_SECONDS = 0.010
"""An early-T read (few keys) within the floor plus this fixed cost."""
TARGET_RSS_RATIO = 1.5
TARGET_COMPACT_SECONDS = 60.0
TARGET_STREAM_GROWTH = 1.5
BOUND_ROWS = 131_072
"""The fixed ``merge_rows`` of the bounded streams: one row group of azof's files."""
STREAMS: dict[str, tuple[str | None, int | None]] = {
    # name: (probe time, None for the current state; merge_rows, None for the default)
    "current": (None, None),
    "middle": ("middle", None),
    "bounded-early": ("early", BOUND_ROWS),
    "bounded-middle": ("middle", BOUND_ROWS),
    "bounded-current": (None, BOUND_ROWS),
}
MIB = 2**20


@dataclass
class Results:
    """Everything one run measured (JSON-able parts), plus the disagreements found."""

    config: dict[str, Any]
    log: dict[str, Any]
    runs: int
    probes: dict[str, str]
    random_probes: dict[str, str] = field(default_factory=dict)
    oracle: dict[str, Any] = field(default_factory=dict)
    writes: dict[str, dict[str, Any]] = field(default_factory=dict)
    reads: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)
    aggregates: dict[str, dict[str, Any]] = field(default_factory=dict)
    idle: dict[str, Any] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    isolated: bool = True
    load: list[float] = field(default_factory=list)  # 1-minute load average, start and end
    command: str = ""
    machine: str = ""


# -- the report -------------------------------------------------------------------------------


def seconds_text(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def mib(kib: int | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:,.0f} MiB"


def verdict(met: bool, gap: str) -> str:
    return "**met**" if met else f"**not met**: {gap}"


def time_verdict(by_wall: bool, by_cpu: bool, gap: str) -> str:
    """Met only if met by wall time and by CPU time (other work on a shared machine slows
    multi-threaded readers' wall time the most, which must not flatter azof)."""
    if by_wall == by_cpu:
        return verdict(by_wall, gap)
    return f"**not met** by {'CPU' if by_wall else 'wall'} time ({gap}); met by the other"


def render(results: Results) -> str:
    config, probes = results.config, results.probes
    reads, oracle_answers = results.reads, results.oracle["answers"]
    methods = [m for m in READS if m in reads["latest"]]
    keys = {name: oracle_answers[name]["digest"]["rows"] for name in PROBES}
    lines = [
        f"Command: `{results.command}`",
        "",
        f"Machine: {results.machine}",
        "",
        f"Log (`benchmarks/eventlog.py`, seed {config['seed']}): {results.log['rows']:,} "
        f"events over {config['keys']:,} keys, {config['years']} years in "
        f"{results.log['batches']} monthly arrival batches with "
        f"{config['late_fraction']:.0%} late rows; flat Parquet, one file per batch, "
        f"{results.log['bytes'] / MIB:,.0f} MiB (the issue's log: 776 MiB). Probe times: "
        + ", ".join(f"{n} {probes[n][:19].replace('T', ' ')} ({keys[n]:,} keys)" for n in PROBES)
        + f". Timings: median of {results.runs} runs after a warm-up, each run opening its "
        "source and answering; each method and T in a fresh process, whose peak RSS "
        "(VmHWM) includes the interpreter and its imports.",
    ]
    if len(results.load) == 2:
        lines[-1] += (
            f" Load average (1 min) at the start and end of the run: {results.load[0]:.1f} / "
            f"{results.load[1]:.1f} on {os.cpu_count()} cores (the run itself keeps the cores "
            "busy; a high figure at the start means other work ran alongside)."
        )
    if not results.isolated:
        lines.append("\n(In-process run: peak RSS figures are not per method.)")
    lines += ["", "### Writes", "", "| step | time | rate | peak RSS |", "|---|---|---|---|"]
    az = results.writes["azof"]
    lines.append(
        f"| azof: {az['commits']} appends | {az['append_seconds']:.1f} s | "
        f"{az['rows'] / az['append_seconds'] / 1e3:,.0f}k rows/s | {mib(az['append_peak_kib'])} |"
    )
    policy = az["policy"]
    lines.append(
        f"| azof: compaction, default policy ({' -> '.join(policy['levels'])}) | "
        f"{az['compact_seconds']:.1f} s | {az['compaction']['rows_written']:,} rows written, "
        f"{az['live_files']} live files, {az['live_bytes'] / MIB:,.0f} MiB | "
        f"{mib(az['compact_peak_kib'])} |"
    )
    delta_write = results.writes.get("delta")
    if delta_write:
        lines.append(
            f"| Delta Lake: {delta_write['commits']} appends | "
            f"{delta_write['append_seconds']:.1f} s | "
            f"{delta_write['rows'] / delta_write['append_seconds'] / 1e3:,.0f}k rows/s | "
            f"{mib(delta_write['append_peak_kib'])} |"
        )
    header = "| method | " + " | ".join(f"{n} T ({keys[n]:,} keys)" for n in PROBES) + " |"
    lines += ["", "### As of T, latest row per key: time", "", header, "|---|---|---|---|"]
    for method in methods:
        cells = []
        for name in PROBES:
            r = reads[name][method]["seconds"]
            floor = reads[name]["floor"]["seconds"]
            duck = reads[name]["duckdb"]["seconds"]
            text = seconds_text(r)
            if method != "floor":
                text += f" ({r / floor:,.1f}x floor"
                text += f", {duck / r:,.1f}x faster than DuckDB)" if method == "azof" else ")"
            cells.append(text)
        lines.append(f"| {LABELS[method]} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "CPU time of the same reads (user + system, all threads of the process; less "
        "sensitive than wall time to other work on the machine):",
        "",
        header,
        "|---|---|---|---|",
    ]
    for method in methods:
        cells = [seconds_text(reads[name][method]["cpu_seconds"]) for name in PROBES]
        lines.append(f"| {LABELS[method]} | " + " | ".join(cells) + " |")
    lines += ["", "### Peak RSS", "", header, "|---|---|---|---|"]
    if results.idle:
        idle = mib(results.idle["peak_kib"])
        lines.append(f"| idle process (Python, azof.table imported) | {idle} | {idle} | {idle} |")
    for method in methods:
        cells = []
        for name in PROBES:
            peak = reads[name][method]["peak_kib"]
            text = mib(peak)
            if method != "floor":
                text += f" ({peak / reads[name]['floor']['peak_kib']:.1f}x floor)"
            cells.append(text)
        lines.append(f"| {LABELS[method]} | " + " | ".join(cells) + " |")
    lines += random_section(results)
    idle_kib = results.idle.get("peak_kib", 0)
    answer_mib = oracle_answers["latest"]["arrow_bytes"] / MIB
    lines += [
        "",
        "### Streaming scan",
        "",
        "| read | time | batches | peak RSS | above idle |",
        "|---|---|---|---|---|",
    ]
    for name, (probe, merge_rows) in STREAMS.items():
        result = results.streams.get(name)
        if result is None:
            continue
        arguments = ", ".join(
            [*([] if probe is None else [f"as_of={probe}"]),
             *([] if merge_rows is None else [f"merge_rows={merge_rows:_}"])]
        )  # fmt: skip
        label = f"azof `to_batches({arguments})`"
        label += ", current state" if probe is None else ""
        label += f" ({keys[probe or 'latest']:,} keys)"
        lines.append(
            f"| {label} | {seconds_text(result['seconds'])} | {result['batches']} | "
            f"{mib(result['peak_kib'])} | {mib(result['peak_kib'] - idle_kib)} |"
        )
    materialised = reads["latest"]["azof"]["peak_kib"]
    lines.append(
        f"| azof `scan(as_of=latest)`, materialised (for comparison) | "
        f"{seconds_text(reads['latest']['azof']['seconds'])} | - | {mib(materialised)} | "
        f"{mib(materialised - idle_kib)} |"
    )
    lines.append(
        f"\nThe current state is {answer_mib:,.0f} MiB in Arrow. A stream merges a bucket at a "
        "time, and a bucket of more than `merge_rows` rows one key range at a time (default "
        f"1,000,000; the bounded rows use {BOUND_ROWS:,}, one row group), handing freed "
        "memory back to the system between ranges: its peak follows the setting, not the "
        "answer."
    )
    lines += aggregate_section(results)
    lines += ["", "### Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    lines += target_rows(results)
    busy = results.load[0] if results.load else 0.0
    if busy > (os.cpu_count() or 1) / 2:
        lines.append(
            f"\nThe load average was {busy:.1f} on {os.cpu_count()} cores when the run started: "
            "other work was running, so wall times are inflated, multi-threaded readers "
            "(DuckDB, pyarrow) the most; rerun on a quiet machine before drawing fine "
            "conclusions."
        )
    lines += ["", "### Answers", ""]
    if results.mismatches:
        lines += [f"- **MISMATCH**: {m}" for m in results.mismatches]
    else:
        lines.append(
            "Every answer agrees with the oracle (pyarrow: the log sorted by key and event "
            "time, each key's last row at or before T): same keys and the same SHA-256 of "
            "every column of the key-sorted answer, for "
            + ", ".join(methods)
            + " at each T; the streams' row counts, sums and string bytes match too. "
            "(key, event_time) is unique in the log."
        )
    lines += [
        "",
        "The issue's figures for reference (same machine class, its own 776 MiB log): "
        "DuckDB arg_max 0.11 / 1.52 / 4.80 s, peak 885 MiB; "
        "floor 0.002 / 0.03 / 0.07 s, 385 MiB; Delta -> DuckDB 0.25 / 2.51 / 7.24 s; Delta "
        "writes 14.4 s for 122 commits.",
    ]
    return "\n".join(lines) + "\n"


def aggregate_section(results: Results) -> list[str]:
    """The SQL aggregate over the current state (none if the run had none)."""
    if not results.aggregates:
        return []
    idle = results.idle.get("peak_kib", 0)
    lines = [
        "",
        "### SQL aggregate over the current state",
        "",
        "`SELECT industry, count(*) AS n, sum(revenue) AS revenue FROM events GROUP BY "
        "industry`; azof streams the table to the engine (default `merge_rows`), so its "
        "peak follows that setting, not the table.",
        "",
        "| method | time | CPU time | peak RSS | above idle |",
        "|---|---|---|---|---|",
    ]
    for method, label in AGGREGATES.items():
        result = results.aggregates.get(method)
        if result is None:
            continue
        lines.append(
            f"| {label} | {seconds_text(result['seconds'])} | "
            f"{seconds_text(result['cpu_seconds'])} | {mib(result['peak_kib'])} | "
            f"{mib(result['peak_kib'] - idle) if idle else 'n/a'} |"
        )
    return lines


def touched(read: dict[str, Any]) -> str:
    """What an azof read touched: files and rows read."""
    if "rows_read" not in read:
        return "n/a"
    return (
        f"{read['files_read']} of {read['files_planned']} files, {read['rows_read']:,} rows "
        f"({read['rows_read'] / max(read['rows_out'], 1):.1f}x the answer)"
    )


def random_ratios(results: Results, key: str) -> list[float]:
    """azof's time over the floor's at each random T (``key``: wall or CPU seconds)."""
    reads = results.reads
    return [reads[n]["azof"][key] / reads[n]["floor"][key] for n in results.random_probes]


def random_section(results: Results) -> list[str]:
    """The table of the reads at random T (none if the run had none)."""
    if not results.random_probes:
        return []
    answers = results.oracle["answers"]
    lines = [
        "",
        f"### As of a random T ({len(results.random_probes)} times drawn uniformly across "
        "the history)",
        "",
        "| T | keys | floor | azof `scan(as_of=T)` | azof / floor (wall) | (CPU) | azof read |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, as_of in results.random_probes.items():
        floor, azof = results.reads[name]["floor"], results.reads[name]["azof"]
        lines.append(
            f"| {as_of[:19].replace('T', ' ')} | {answers[name]['digest']['rows']:,} | "
            f"{seconds_text(floor['seconds'])} | {seconds_text(azof['seconds'])} | "
            f"{azof['seconds'] / floor['seconds']:.1f}x | "
            f"{azof['cpu_seconds'] / floor['cpu_seconds']:.1f}x | {touched(azof)} |"
        )
    wall = sorted(random_ratios(results, "seconds"))
    cpu = sorted(random_ratios(results, "cpu_seconds"))
    read = [results.reads[n]["azof"] for n in results.random_probes]
    extra = [r["rows_read"] / max(r["rows_out"], 1) for r in read if "rows_read" in r]
    lines.append(
        f"\nMedian {statistics.median(wall):.1f}x the floor, worst {wall[-1]:.1f}x (wall "
        f"time; CPU time: median {statistics.median(cpu):.1f}x, worst {cpu[-1]:.1f}x)."
    )
    if extra:
        lines.append(
            "\nAt a leaf's start (the middle and latest probes) a read needs one base and no "
            "merge; at any other T it reads the leaf's base (every key's state at the leaf's "
            "start) and the pieces of the leaf's deltas up to T (compaction cuts them by event "
            "time, about 131,072 rows each, so the pieces after T are skipped), and merges "
            "those sorted runs. The last column shows what that costs: azof decodes median "
            f"{statistics.median(extra):.1f}x the answer's rows, each row costing about what "
            "it costs the floor, and the merge (order codes of the keys, a stable sort of the "
            "runs, each key's last candidate, and gathering the winning rows) costs about as much "
            "again; for the smallest answers (a floor of 1 ms) the fixed cost of a "
            "read (opening the table, planning, one footer per file) is most of the gap. "
            "Profile of one read at 2017-03-31 (93,187 keys, floor 6 ms, azof 26 ms): Parquet "
            "decoding of 195,943 rows 9 ms, the merge 10 ms, gathering the answer 3 ms, "
            "opening fragments 2 ms. Monthly leaves (a policy choice: about twice the "
            "storage) bring the median to about 1.5x; a smaller gap with quarter leaves needs "
            "a base that holds less than every key (reading fewer rows than 1.6x the answer) "
            "or a merge that works on dictionary-encoded keys without materialising them."
        )
    return lines


def target_rows(results: Results) -> list[str]:
    reads = results.reads
    rows = []

    def ratios(
        method: str, value: Callable[[dict[str, Any]], float], base: str = "floor"
    ) -> list[float]:
        return [value(reads[n][method]) / value(reads[n][base]) for n in ("middle", "latest")]

    def pair(values: list[float]) -> str:
        return " / ".join(f"{v:,.1f}x" for v in values)

    wall = ratios("azof", lambda r: r["seconds"])
    cpu = ratios("azof", lambda r: r["cpu_seconds"])
    rows.append(
        f"| azof within {TARGET_FLOOR_RATIO:g}x of the floor (middle, latest T) | "
        f"{pair(wall)} (CPU time: {pair(cpu)}) | "
        + time_verdict(max(wall) <= TARGET_FLOOR_RATIO, max(cpu) <= TARGET_FLOOR_RATIO,
                       f"{max(wall + cpu) / TARGET_FLOOR_RATIO:.1f}x too slow")
        + " |"
    )  # fmt: skip
    wall = [1 / r for r in ratios("azof", lambda r: r["seconds"], "duckdb")]
    cpu = [1 / r for r in ratios("azof", lambda r: r["cpu_seconds"], "duckdb")]
    rows.append(
        f"| azof at least {TARGET_DUCKDB_SPEEDUP:g}x faster than DuckDB arg_max "
        f"(middle, latest T) | {pair(wall)} (CPU time: {pair(cpu)}) | "
        + time_verdict(min(wall) >= TARGET_DUCKDB_SPEEDUP, min(cpu) >= TARGET_DUCKDB_SPEEDUP,
                       f"needs {TARGET_DUCKDB_SPEEDUP / min(wall + cpu):.1f}x")
        + " |"
    )  # fmt: skip
    rows += random_target_rows(results)
    if results.isolated:
        rss = ratios("azof", lambda r: r["peak_kib"])
        worst = max(rss)
        rows.append(
            f"| azof peak RSS at most {TARGET_RSS_RATIO:g}x the floor's (middle, latest T) | "
            + pair(rss)
            + " | "
            + verdict(worst <= TARGET_RSS_RATIO, f"{worst / TARGET_RSS_RATIO:.1f}x over")
            + " |"
        )
        rows.append(stream_target(results))
    az = results.writes["azof"]
    az_rate = az["rows"] / az["append_seconds"]
    delta_write = results.writes.get("delta")
    if delta_write:
        delta_rate = delta_write["rows"] / delta_write["append_seconds"]
        rows.append(
            f"| azof appends at least Delta's write rate | {az_rate / 1e3:,.0f}k vs "
            f"{delta_rate / 1e3:,.0f}k rows/s | "
            + verdict(az_rate >= delta_rate, f"{delta_rate / az_rate:.1f}x slower")
            + " |"
        )
    else:
        rows.append(
            f"| azof appends at least Delta's write rate | {az_rate / 1e3:,.0f}k rows/s; "
            "Delta not measured (the issue: 14.4 s for its full log, ~1,390k rows/s) | "
            "not measured |"
        )
    rows.append(
        f"| compaction of the whole log in under {TARGET_COMPACT_SECONDS:g} s | "
        f"{az['compact_seconds']:.1f} s | "
        + verdict(
            az["compact_seconds"] < TARGET_COMPACT_SECONDS,
            f"{az['compact_seconds'] / TARGET_COMPACT_SECONDS:.1f}x over",
        )
        + " |"
    )
    return rows


def random_target_rows(results: Results) -> list[str]:
    """The targets at random T (median and worst against the floor) and of a small read
    (the early T within the floor plus a fixed cost)."""
    rows = []
    if results.random_probes:
        wall, cpu = random_ratios(results, "seconds"), random_ratios(results, "cpu_seconds")
        for what, target, pick in (
            ("median", TARGET_RANDOM_MEDIAN, statistics.median),
            ("worst", TARGET_RANDOM_WORST, max),
        ):
            by_wall, by_cpu = pick(wall), pick(cpu)
            rows.append(
                f"| azof within {target:g}x of the floor at random T ({what} of "
                f"{len(wall)}) | {by_wall:.1f}x (CPU time: {by_cpu:.1f}x) | "
                + time_verdict(by_wall <= target, by_cpu <= target,
                               f"{max(by_wall, by_cpu) / target:.1f}x too slow")
                + " |"
            )  # fmt: skip
    early = results.reads["early"]
    extra = early["azof"]["seconds"] - early["floor"]["seconds"]
    extra_cpu = early["azof"]["cpu_seconds"] - early["floor"]["cpu_seconds"]
    limit = TARGET_SMALL_READ_SECONDS
    rows.append(
        f"| a small read (early T) within the floor + {limit * 1000:g} ms | "
        f"+{extra * 1000:.1f} ms (CPU time: +{extra_cpu * 1000:.1f} ms) | "
        + time_verdict(extra <= limit, extra_cpu <= limit,
                       f"{max(extra, extra_cpu) * 1000:.0f} ms fixed cost")
        + " |"
    )  # fmt: skip
    return rows


def stream_target(results: Results) -> str:
    """The bounded-stream target: with a fixed ``merge_rows``, the peaks above idle of the
    streams at every T (answers of very different sizes) stay within a factor."""
    idle = results.idle["peak_kib"]
    answers = results.oracle["answers"]
    names = [n for n in STREAMS if n.startswith("bounded-") and n in results.streams]
    above = [results.streams[n]["peak_kib"] - idle for n in names]
    keys = [answers[STREAMS[n][0] or "latest"]["digest"]["rows"] for n in names]
    growth = max(above) / max(min(above), 1)
    return (
        f"| streaming `to_batches(merge_rows={BOUND_ROWS:_})` peak RSS bounded by the "
        f"setting: above idle, at most {TARGET_STREAM_GROWTH:g}x apart from {keys[0]:,} to "
        f"{keys[-1]:,} keys ({keys[-1] / max(keys[0], 1):.0f}x) | "
        + " / ".join(mib(a) for a in above)
        + f" ({growth:.2f}x) | "
        + verdict(growth <= TARGET_STREAM_GROWTH, "memory grows with the answer")
        + " |"
    )
