"""Metadata costs as a table grows in files: one small append, opening and planning, the log.

For tables of N live data files (by default about 10,000, 100,000 and 1,000,000), azof and
Delta Lake (the baseline, measured in the same run) each:

- append one row, ``max(--runs, 10)`` times: wall time and the bytes of metadata the commit
  wrote (azof: every new or rewritten object of the table folder but the data files, i.e.
  the snapshot, ``version.txt`` and any manifests; Delta: what ``_delta_log`` gained);
- open the table in a fresh process and plan an as-of scan at a random T in the middle half
  of its history (azof: ``Lakehouse(folder).table("t").scanner(as_of=T).files()``; Delta:
  ``DeltaTable(path)``, then ``file_uris`` of the partitions up to T), ``--runs`` processes:
  wall time, and for azof the metadata objects and bytes the process read;
- azof only, in the same fresh process after the plan: ``log(limit=10)``, its time and the
  snapshot objects it read.

Tables below ``--synthetic-from`` files are built for real (appends and compaction); larger
ones get a synthetic segment tree in one real commit (see benchmarks/metadata_tables.py).

    .venv/bin/python benchmarks/metadata.py [--sizes 10000,100000,1000000] [--runs 5]
        [--synthetic-from 10000] [--write-doc]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from metadata_tables import (
    Built,
    history_point,
    quarter_label,
    real_azof,
    real_delta,
    synthetic_azof,
    synthetic_delta,
)
from report import machine, publish

HERE = Path(__file__).resolve().parent
LOG_LIMIT = 10
APPEND_TARGET = 64 * 1024
"""The most metadata bytes one append may write (issue 17)."""
SNAPSHOT = re.compile(r"(^|/)s\d+\.json$")


# -- what changed in a folder --------------------------------------------------------------


def folder_state(root: Path) -> dict[str, tuple[int, int]]:
    """Every file below ``root``: relative path -> (size, modification time in ns)."""
    state = {}
    for folder, _, names in os.walk(root):
        for name in names:
            stat = os.stat(os.path.join(folder, name))
            rel = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
            state[rel] = (stat.st_size, stat.st_mtime_ns)
    return state


def written(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]],
            counts: Callable[[str], bool]) -> int:  # fmt: skip
    """Bytes of the objects that are new or rewritten in ``after`` and that ``counts``."""
    return sum(
        size for path, (size, mtime) in after.items()
        if counts(path) and before.get(path) != (size, mtime)
    )  # fmt: skip


def azof_metadata(path: str) -> bool:
    return not (path.startswith("data/") and path.endswith(".parquet"))


def measure_appends(root: Path, append: Callable[[int], object], counts: Callable[[str], bool],
                    times: int) -> dict[str, list[float]]:  # fmt: skip
    """Wall time and metadata bytes written of ``times`` one-row appends."""
    seconds, sizes = [], []
    for n in range(times):
        before = folder_state(root)
        begin = time.perf_counter()
        append(n)
        seconds.append(time.perf_counter() - begin)
        sizes.append(float(written(before, folder_state(root), counts)))
    return {"seconds": seconds, "bytes": sizes}


# -- measurements in a fresh process -------------------------------------------------------


class Reads:
    """Every object read through obstore (the seam azof reads metadata through) or opened
    by ``Storage.open_input``: (key, bytes), in order."""

    def __init__(self) -> None:
        self.objects: list[tuple[str, int]] = []

    def install(self) -> None:
        import obstore

        from azof.storage.store import Storage

        def whole(original: Any) -> Any:
            def get(store: Any, path: str, *args: Any, **kwargs: Any) -> Any:
                result = original(store, path, *args, **kwargs)
                start, end = result.range
                self.objects.append((path, end - start))
                return result

            return get

        def ranged(original: Any) -> Any:
            def get_range(store: Any, path: str, *args: Any, **kwargs: Any) -> Any:
                result = original(store, path, *args, **kwargs)
                self.objects.append((path, len(result)))
                return result

            return get_range

        def ranges(original: Any) -> Any:
            def get_ranges(store: Any, path: str, *args: Any, **kwargs: Any) -> Any:
                result = original(store, path, *args, **kwargs)
                self.objects.append((path, sum(len(r) for r in result)))
                return result

            return get_ranges

        obstore.get = whole(obstore.get)
        obstore.get_range = ranged(obstore.get_range)
        obstore.get_ranges = ranges(obstore.get_ranges)
        open_input = Storage.open_input

        def opened(storage: Any, path: str) -> Any:
            file = open_input(storage, path)
            self.objects.append((path, file.size()))
            return file

        Storage.open_input = opened  # type: ignore[method-assign]

    def take(self) -> list[tuple[str, int]]:
        taken, self.objects = self.objects, []
        return taken


def process_read_bytes() -> int:
    """Bytes this process has read by system calls so far (0 where /proc has no io)."""
    try:
        text = Path("/proc/self/io").read_text()
    except OSError:
        return 0
    return int(re.search(r"^rchar: (\d+)", text, re.M)[1])  # type: ignore[index]


def peak_kib() -> int:
    """This process's peak resident memory so far, in KiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def summarize(objects: list[tuple[str, int]]) -> dict[str, Any]:
    kinds: dict[str, list[int]] = {"snapshot": [], "manifest": [], "other": []}
    for path, size in objects:
        kind = "snapshot" if SNAPSHOT.search(path) else (
            "manifest" if "/manifests/" in f"/{path}" else "other")  # fmt: skip
        kinds[kind].append(size)
    return {f"{kind}_{what}": (len(sizes) if what == "objects" else sum(sizes))
            for kind, sizes in kinds.items() for what in ("objects", "bytes")}  # fmt: skip


def child_azof(spec: dict[str, Any]) -> dict[str, Any]:
    """Open + plan an as-of scan, then ``log(limit=10)``, in this (fresh) process."""
    import azof
    import azof.scan.read
    import azof.table
    import azof.tablescan  # loaded before the clock starts

    reads = Reads()
    reads.install()
    io_before = process_read_bytes()
    begin = time.perf_counter()
    lakehouse = azof.Lakehouse(spec["lakehouse"])
    table = lakehouse.table("t")
    planned = table.scanner(as_of=spec["as_of"]).files()
    seconds = time.perf_counter() - begin
    io_read = process_read_bytes() - io_before
    opened = summarize(reads.take())
    requests = lakehouse.storage.requests.snapshot()
    begin = time.perf_counter()
    peak = peak_kib()
    commits = table.log(limit=LOG_LIMIT)
    log_seconds = time.perf_counter() - begin
    logged = summarize(reads.take())
    return {"seconds": seconds, "planned": len(planned), "io_bytes": io_read, "peak_kib": peak,
            "requests": requests, **opened, "log_seconds": log_seconds,
            "log_commits": len(commits), **{f"log_{k}": v for k, v in logged.items()}}  # fmt: skip


def child_delta(spec: dict[str, Any]) -> dict[str, Any]:
    """``DeltaTable(path)``, then the files of the partitions up to T, in this process."""
    from deltalake import DeltaTable

    begin = time.perf_counter()
    table = DeltaTable(spec["folder"])
    opened = time.perf_counter() - begin
    if spec["partition"] == "quarter":
        files = table.file_uris(file_pruning_predicate=[("quarter", "<=", spec["upto"])])
    else:
        files = table.file_uris()
    return {"seconds": opened, "plan_seconds": time.perf_counter() - begin,
            "planned": len(files), "peak_kib": peak_kib()}  # fmt: skip


CHILD_TASKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "azof": child_azof,
    "delta": child_delta,
}


def run_child(task: str, spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", task, json.dumps(spec)],
        capture_output=True, text=True, cwd=HERE, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"child {task} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- one size ------------------------------------------------------------------------------


def say(message: str) -> None:
    print(f"[metadata {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def writes_azof(spec: dict[str, Any]) -> dict[str, Any]:
    """Build the azof table, then append one row ``times`` times with one Table (in a
    process of its own: the opens that follow must not share the memory with it)."""
    import azof

    folder, size = Path(spec["lakehouse"]), spec["size"]
    folder.mkdir(parents=True)
    built = (synthetic_azof if spec["synthetic"] else real_azof)(folder, size)
    table = azof.Lakehouse(folder).table("t")
    appends = measure_appends(
        folder / "t", lambda n: table.append(built.row(n)), azof_metadata, spec["times"]
    )
    return {"built": built.to_json(), "appends": appends}


def writes_delta(spec: dict[str, Any]) -> dict[str, Any]:
    """Build the Delta table like the azof one, then append one row ``times`` times."""
    from deltalake import write_deltalake

    ours = Built.from_json(spec["azof"])
    folder = Path(spec["folder"])
    if ours.synthetic:
        built = synthetic_delta(folder, ours.files, ours.first, ours.last)
    else:
        built = real_delta(folder, ours.files)

    def append(n: int) -> None:
        write_deltalake(str(folder), built.delta_row(n), mode="append",
                        partition_by=[built.partition or "part"])  # fmt: skip

    appends = measure_appends(folder / "_delta_log", append, lambda _: True, spec["times"])
    return {"built": built.to_json(), "appends": appends}


CHILD_TASKS.update({"writes-azof": writes_azof, "writes-delta": writes_delta})


def probe_times(built: Built, runs: int) -> list[datetime]:
    """``runs`` random times in the middle half of the table's history (the same for azof
    and Delta: both tables span the same history and hold as many files)."""
    rng = np.random.default_rng(built.files)
    return [history_point(built, float(rng.uniform(0.25, 0.75))) for _ in range(runs)]


def measure_azof(spec: dict[str, Any], runs: int) -> dict[str, Any]:
    written = run_child("writes-azof", spec)
    built = Built.from_json(written["built"])
    opens = [
        run_child("azof", {"lakehouse": str(built.folder), "as_of": when.isoformat()})
        for when in probe_times(built, runs)
    ]
    state = folder_state(built.folder / "t")
    latest = max((p for p in state if SNAPSHOT.search(p)), key=lambda p: int(p[1:-5]))
    manifests = [size for path, (size, _) in state.items() if path.startswith("manifests/")]
    return {"files": built.files, "built": written["built"], "appends": written["appends"],
            "opens": opens, "snapshot_bytes": state[latest][0], "manifests": len(manifests),
            "manifest_bytes": sum(manifests)}  # fmt: skip


def measure_delta(spec: dict[str, Any], runs: int) -> dict[str, Any]:
    written = run_child("writes-delta", spec)
    built = Built.from_json(written["built"])
    opens = [
        run_child(
            "delta",
            {
                "folder": str(built.folder),
                "partition": built.partition,
                "upto": quarter_label(when),
            },
        )
        for when in probe_times(built, runs)
    ]
    checkpoints = sorted((built.folder / "_delta_log").glob("*.checkpoint*.parquet"))
    return {"files": built.files, "appends": written["appends"], "opens": opens,
            "checkpoint_bytes": checkpoints[-1].stat().st_size if checkpoints else 0}  # fmt: skip


def measure_size(size: int, runs: int, synthetic_from: int, work: Path) -> dict[str, Any]:
    """Build, append to and open an azof and a Delta table of about ``size`` files; every
    step runs in a fresh process."""
    synthetic = size >= synthetic_from
    times = max(runs, LOG_LIMIT)
    say(f"{size:,} files: azof ({'synthetic' if synthetic else 'real'} table)")
    spec = {"lakehouse": str(work / "azof"), "size": size, "synthetic": synthetic,
            "times": times}  # fmt: skip
    ours = measure_azof(spec, runs)
    say(f"{size:,} files: {ours['files']:,} live azof files; Delta")
    theirs = measure_delta({"folder": str(work / "delta"), "azof": ours["built"],
                            "times": times}, runs)  # fmt: skip
    return {"size": size, "synthetic": synthetic, "azof": ours, "delta": theirs}


# -- the report ----------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


def kib(size: float) -> str:
    if size >= 10 * 1024 * 1024:
        return f"{size / 1024 / 1024:,.0f} MiB"
    return f"{size / 1024:,.1f} KiB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MiB"


def med(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float], show: Callable[[float], str]) -> str:
    return f"{show(med(values))} (max {show(max(values))})"


def render(results: list[dict[str, Any]], command: str, runs: int, load: float) -> str:
    appends = max(runs, LOG_LIMIT)
    lines = [
        f"Command: `{command}`",
        "",
        f"Machine: {machine(('pyarrow', 'deltalake'))}; load average {load:.1f} at the "
        f"start and {os.getloadavg()[0]:.1f} at the end (the machine is shared: other work "
        "slows every figure alike).",
        "",
        "Local disk. For each table size, azof and Delta Lake are measured in the same run, "
        "each step in a fresh process.",
        "",
        f"- **Append**: one process appends one row {appends} times (median, and max). "
        "Metadata written: for azof, "
        "every new or rewritten object of the table folder except data files (`s<N>.json`, "
        "`version.txt`, any `manifests/*`); for Delta, what `_delta_log` gained (the commit "
        "JSON, and a checkpoint if one was written).",
        f"- **Open + plan**: {runs} fresh processes each (no cache of an earlier open "
        "helps). azof: `Lakehouse(folder).table('t').scanner(as_of=T).files()` at a random T "
        "in the middle half of the history; the metadata objects and bytes read are counted "
        "where azof reads metadata (obstore `get`/`get_range`, and `Storage.open_input`), "
        "with the obstore requests of the last process; *process read* is what the process "
        "read by system calls meanwhile (a check that nothing read escaped the count). "
        "Delta: `DeltaTable(path)` (it loads the checkpoint and later commits), then "
        "`file_uris` of the quarters up to the same T (every file, for a real table). Peak "
        "RSS is the fresh process's, at the end of the open + plan.",
        "- **Log**: in the same azof process, after the plan, `table.log(limit=10)`: its time "
        "and the snapshot objects it read (the open has already loaded the latest).",
        "",
        "Tables of fewer than the `--synthetic-from` files are built for real (appends, then "
        "compaction into 12 monthly leaves). Larger ones are **synthetic**: real compaction "
        "of a million files takes hours, so the azof table is created and appended to "
        "through the API and then given, by one real commit (`commit_snapshot`), a segment "
        "tree of N file records shaped like compaction's: 80 quarter leaves (20 years) under "
        "years, in up to 4,096 buckets, each leaf with a base and deltas per bucket (the "
        "first without a base, the last with a tip). The Delta table gets the same number "
        "of `add` actions (partitioned by quarter, with statistics) in its first commit, "
        "checkpointed by deltalake. The data files of a synthetic table do not exist: an "
        "append writes its own and a plan reads none.",
        "",
        "| live files | azof append | Delta append | azof metadata written | "
        "Delta metadata written |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        a, d = r["azof"], r["delta"]
        lines.append(
            f"| {a['files']:,}{' (synthetic)' if r['synthetic'] else ''} | "
            f"{spread(a['appends']['seconds'], ms)} | {spread(d['appends']['seconds'], ms)} | "
            f"{spread(a['appends']['bytes'], kib)} | {spread(d['appends']['bytes'], kib)} |"
        )
    lines += [
        "",
        "| live files | azof open + plan | metadata azof read (objects, bytes) | process "
        "read | azof peak RSS | Delta open | Delta open + plan | Delta peak RSS | "
        "azof `log(limit=10)` (snapshots read) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        a, d = r["azof"], r["delta"]
        o = a["opens"]
        objects = [x["snapshot_objects"] + x["manifest_objects"] + x["other_objects"] for x in o]
        read = [x["snapshot_bytes"] + x["manifest_bytes"] + x["other_bytes"] for x in o]
        manifests = [x["manifest_objects"] for x in o]
        lines.append(
            f"| {a['files']:,} | {ms(med([x['seconds'] for x in o]))} | "
            f"{max(objects)} objects ({max(manifests)} of {a['manifests']:,} manifests), "
            f"{kib(max(read))}; {requests(o[-1]['requests'])} | "
            f"{kib(med([x['io_bytes'] for x in o]))} | "
            f"{kib(1024 * max(x['peak_kib'] for x in o))} | "
            f"{ms(med([x['seconds'] for x in d['opens']]))} | "
            f"{ms(med([x['plan_seconds'] for x in d['opens']]))} | "
            f"{kib(1024 * max(x['peak_kib'] for x in d['opens']))} | "
            f"{ms(med([x['log_seconds'] for x in o]))} "
            f"({max(x['log_snapshot_objects'] for x in o)}) |"
        )
    lines += ["", *targets(results)]
    return "\n".join(lines)


def requests(counts: dict[str, int]) -> str:
    """Requests sent through obstore, e.g. ``2 get, 2 head``."""
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "none"


def verdict(met: bool, gap: str) -> str:
    return "**met**" if met else f"**not met**: {gap}"


def targets(results: list[dict[str, Any]]) -> list[str]:
    lines = ["### Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    worst = max(max(r["azof"]["appends"]["bytes"]) for r in results)
    lines.append(
        f"| an append of one row writes at most 64 KiB of metadata, whatever the file count | "
        f"at most {kib(worst)} (at {max(r['azof']['files'] for r in results):,} files: "
        f"{kib(max(results[-1]['azof']['appends']['bytes']))}) | "
        f"{verdict(worst <= APPEND_TARGET, f'{worst / APPEND_TARGET:,.0f}x over')} |"
    )
    for r in results:
        a, d = r["azof"], r["delta"]
        ours = med([x["seconds"] for x in a["opens"]])
        theirs = med([x["seconds"] for x in d["opens"]])
        lines.append(
            f"| first open + plan of an as-of scan at {a['files']:,} files within Delta's open "
            f"| {ms(ours)} vs {ms(theirs)} ({ours / theirs:.2f}x) | "
            f"{verdict(ours <= theirs, f'{ours / theirs:.1f}x slower')} |"
        )
    top = results[-1]["azof"]
    read = max(x["snapshot_bytes"] + x["manifest_bytes"] + x["other_bytes"] for x in top["opens"])
    whole = top["snapshot_bytes"] + top["manifest_bytes"]
    lines.append(
        f"| open + plan at {top['files']:,} files reads only the manifests on T's path "
        "(checked as: it reads at most 1/8 of the bytes of the latest snapshot and every "
        f"manifest in the table folder) | {kib(read)} of {kib(whole)} ({read / whole:.1%}) | "
        f"{verdict(read * 8 <= whole, f'it reads {read / whole:.0%} of it')} |"
    )
    snapshots = max(x["log_snapshot_objects"] for r in results for x in r["azof"]["opens"])
    data = max(x["log_snapshot_bytes"] for r in results for x in r["azof"]["opens"])
    lines.append(
        f"| `log(limit=10)` reads at most 10 commit records | {snapshots} snapshot objects "
        f"({kib(data)}) | {verdict(snapshots <= LOG_LIMIT, f'{snapshots} read')} |"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--synthetic-from", type=int, default=10_000)
    parser.add_argument("--write-doc", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    command = (
        f".venv/bin/python benchmarks/metadata.py --sizes {args.sizes} --runs {args.runs} "
        f"--synthetic-from {args.synthetic_from}{' --write-doc' if args.write_doc else ''}"
    )
    load = os.getloadavg()[0]
    results = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="azof-metadata-") as folder:
            results.append(measure_size(size, args.runs, args.synthetic_from, Path(folder)))
        say(f"{size:,} files: done")
    body = render(results, command, args.runs, load)
    publish("Metadata: appends and opens as files grow", body, write_doc=args.write_doc)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        sys.path.insert(0, str(HERE))
        print(json.dumps(CHILD_TASKS[sys.argv[2]](json.loads(sys.argv[3]))))
    else:
        main()
