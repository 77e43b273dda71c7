"""A deterministic synthetic event log: company figures arriving in monthly batches.

The log of the "Scale" benchmark: ``events`` rows over ``keys`` keys and ``years`` years,
delivered as one arrival batch per calendar month (starting 2015-01). A batch holds the
events of its month for a subset of the keys alive then, plus *late* rows (a fraction
``late_fraction`` of all events) whose event times lie 1-6 months before the batch.

Keys appear over time, not all at once: the share of keys that exist by a fraction ``x``
of the time range is ``x ** GROWTH`` (GROWTH = log(0.332) / log(0.5), about 1.59), so at
the early probe time (:func:`probe_times`) about 1.4% of the keys exist, at the middle of
the range about 33% and after the last event all of them: the proportions of the issue's
measurement (13.6k / 332k / 1M keys). Key names are shuffled (``K0000001`` is not the
oldest), so key order says nothing about time. ``(key, event_time)`` is meant to be
unique, so that "the latest row" is never a tie: on-time events fall on even milliseconds,
late ones on odd milliseconds, a key has at most one on-time event per month, and repeated
late rows within a batch are dropped (two late rows of different batches could still meet,
with odds of about 1e-6 for the full log; :func:`latest_rows` counts such pairs).

Columns: key (string), event_time (timestamp[ms, UTC]), industry (string, 50 values, fixed
per key), revenue, shares, net_income (int64), flag (bool); no nulls. The same
:class:`LogConfig` always gives the same batches; each month has its own random stream,
so any batch can be produced alone.

    .venv/bin/python benchmarks/eventlog.py --preset small            # 200k events
    .venv/bin/python benchmarks/eventlog.py --preset full             # 20M events
    .venv/bin/python benchmarks/eventlog.py --events 1000000 --keys 50000 --single-file

Without ``--out`` the log goes to ``benchmarks/data/<name>/`` (git-ignored): one Parquet
file per arrival batch (``arrival-0000.parquet``, ...) and ``manifest.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

DATA = Path(__file__).resolve().parent / "data"
START = datetime(2015, 1, 1, tzinfo=UTC)
GROWTH = math.log(0.332) / math.log(0.5)
PROBES = {"early": 0.0136, "middle": 0.332}
"""Probe name -> share of keys that exist then (``latest`` is after every event)."""
MAX_LAG_MONTHS = 6
INDUSTRIES = tuple(
    f"{sector} {kind}"
    for sector in ("Software", "Retail", "Banks", "Oil", "Pharma", "Media", "Mining",
                   "Utilities", "Insurance", "Transport")
    for kind in ("Services", "Products", "Holdings", "Equipment", "Distribution")
)  # fmt: skip
SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("event_time", pa.timestamp("ms", tz="UTC")),
        ("industry", pa.string()),
        ("revenue", pa.int64()),
        ("shares", pa.int64()),
        ("net_income", pa.int64()),
        ("flag", pa.bool_()),
    ]
)
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class LogConfig:
    """The parameters that determine the log."""

    events: int = 200_000
    keys: int = 10_000
    years: int = 10
    late_fraction: float = 0.02
    seed: int = 42

    @property
    def months(self) -> int:
        return 12 * self.years

    @property
    def name(self) -> str:
        late = f"{self.late_fraction:g}".replace(".", "p")
        return f"eventlog-{self.events}e-{self.keys}k-{self.years}y-late{late}-seed{self.seed}"

    def check(self) -> None:
        if self.keys < 1 or self.years < 1 or not 0 <= self.late_fraction < 1:
            raise ValueError("need keys >= 1, years >= 1 and 0 <= late_fraction < 1")
        if self.keys > 9_999_999:
            raise ValueError("at most 9,999,999 keys (K0000001 ... K9999999)")
        plan = _plan(self)
        if plan.extra.sum() + self.keys + plan.late.sum() != self.events:
            raise AssertionError("event counts do not add up")


PRESETS = {
    "tiny": LogConfig(events=20_000, keys=3_000, years=2),
    "small": LogConfig(events=200_000, keys=10_000),
    "full": LogConfig(events=20_000_000, keys=1_000_000),
}


@dataclass(frozen=True)
class _Plan:
    alive: np.ndarray  # keys born by the end of month m: key indices [0, alive[m])
    extra: np.ndarray  # on-time events in month m of keys born before m
    late: np.ndarray  # late rows arriving in month m's batch
    bounds: np.ndarray  # month starts in ms since the epoch, months + 1 of them


def _spread(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` split in proportion to ``weights`` (largest remainder, exact sum)."""
    if total == 0 or weights.sum() == 0:
        return np.zeros(len(weights), dtype=np.int64)
    share = weights / weights.sum() * total
    counts = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def _plan(config: LogConfig) -> _Plan:
    months, keys = config.months, config.keys
    birth = np.floor(months * ((np.arange(keys) + 0.5) / keys) ** (1 / GROWTH)).astype(np.int64)
    alive = np.searchsorted(birth, np.arange(months), side="right").astype(np.int64)
    older = np.concatenate([[0], alive[:-1]])  # keys born before month m
    late_total = round(config.events * config.late_fraction)
    extra_total = config.events - late_total - keys
    if extra_total < 0:
        raise ValueError(
            f"{config.events:,} events cannot give each of {keys:,} keys its first event "
            f"with {config.late_fraction:.0%} late rows; use more events or fewer keys"
        )
    extra = _spread(extra_total, older.astype(np.float64))
    if (extra > older).any():
        raise ValueError(
            f"{config.events:,} events over {keys:,} keys would need two on-time events "
            "per key in a month; use more keys or fewer events"
        )
    late_weights = np.where(np.arange(months) >= 2, older, 0).astype(np.float64)
    late = _spread(late_total, late_weights)
    if late_total and late.sum() == 0:
        raise ValueError("late rows need at least 3 months of history")
    first = np.datetime64(START.replace(tzinfo=None), "M")
    bounds = (first + np.arange(months + 1)).astype("datetime64[ms]").astype(np.int64)
    return _Plan(alive=alive, extra=extra, late=late, bounds=bounds)


def key_names(config: LogConfig) -> pa.Array:
    """The name of each key index: a fixed shuffle of ``K0000001`` ... ``K{keys}``."""
    order = np.random.default_rng([config.seed, 0]).permutation(config.keys) + 1
    return pa.array([f"K{n:07d}" for n in order.tolist()], pa.string())


def _key_traits(config: LogConfig) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([config.seed, 1])
    return {
        "industry": rng.integers(0, len(INDUSTRIES), config.keys),
        "scale": np.exp(rng.normal(16.0, 1.5, config.keys)),  # revenue per month, lognormal
        "shares": rng.integers(1_000_000, 5_000_000_000, config.keys),
        "margin": rng.normal(0.08, 0.12, config.keys),
    }


def batches(config: LogConfig) -> Iterator[pa.Table]:
    """The arrival batches in order, one per month (schema :data:`SCHEMA`)."""
    plan = _plan(config)
    names = key_names(config)
    traits = _key_traits(config)
    industries = pa.array(INDUSTRIES, pa.string())
    for month in range(config.months):
        yield _batch(config, plan, month, names, traits, industries)


def _batch(
    config: LogConfig,
    plan: _Plan,
    month: int,
    names: pa.Array,
    traits: dict[str, np.ndarray],
    industries: pa.Array,
) -> pa.Table:
    rng = np.random.default_rng([config.seed, 2, month])
    older = int(plan.alive[month - 1]) if month else 0
    newborn = np.arange(older, int(plan.alive[month]))
    chosen = rng.choice(older, size=int(plan.extra[month]), replace=False) if older else []
    on_time = np.concatenate([newborn, np.asarray(chosen, dtype=np.int64)])
    start, end = plan.bounds[month], plan.bounds[month + 1]
    times = start + 2 * rng.integers(0, (end - start) // 2, len(on_time))
    late_count = int(plan.late[month])
    if late_count:
        lag = np.minimum(rng.geometric(0.5, late_count), min(month - 1, MAX_LAG_MONTHS))
        target = month - lag
        late_keys = np.floor(rng.random(late_count) * plan.alive[target - 1]).astype(np.int64)
        span = plan.bounds[target + 1] - plan.bounds[target]
        late_times = plan.bounds[target] + 2 * np.floor(rng.random(late_count) * (span // 2))
        late_times = late_times.astype(np.int64) + 1
        pairs = np.unique(np.stack([late_keys, late_times]), axis=1)
        late_keys, late_times = pairs[0], pairs[1]
        on_time = np.concatenate([on_time, late_keys])
        times = np.concatenate([times, late_times])
    order = rng.permutation(len(on_time))
    index, times = on_time[order], times[order]
    noise = rng.normal(1.0, 0.1, len(index))
    revenue = np.round(traits["scale"][index] * noise, -3).astype(np.int64)
    net_income = np.round(revenue * (traits["margin"][index] + rng.normal(0, 0.02, len(index))))
    shares = traits["shares"][index] + rng.integers(-1000, 1000, len(index)) * 1000
    return pa.table(
        [
            names.take(pa.array(index)),
            pa.array(times, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            industries.take(pa.array(traits["industry"][index])),
            pa.array(revenue),
            pa.array(shares.astype(np.int64)),
            pa.array(net_income.astype(np.int64)),
            pa.array(rng.random(len(index)) < 0.1),
        ],
        schema=SCHEMA,
    )


def probe_times(config: LogConfig) -> dict[str, datetime]:
    """The as-of times read by the benchmark: ``early`` (about 1.4% of the keys exist),
    ``middle`` (the middle of the time range, about 33%) and ``latest`` (after every
    event, all keys)."""
    bounds = _plan(config).bounds
    out = {}
    for name, share in PROBES.items():
        months = config.months * share ** (1 / GROWTH)
        whole = int(months)
        millis = bounds[whole] + (months - whole) * (bounds[whole + 1] - bounds[whole])
        out[name] = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(millis))
    out["latest"] = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(bounds[-1]))
    return out


def random_times(config: LogConfig, count: int) -> dict[str, datetime]:
    """``count`` as-of times drawn uniformly (seeded by the log's seed) between the first
    and the last event, named ``random-1``... in time order: reads at any T, not at the
    starts of the segment tree's leaves (month and quarter starts) that favour a read."""
    bounds = _plan(config).bounds
    rng = np.random.default_rng(config.seed + 1)
    drawn = np.sort(rng.integers(int(bounds[0]), int(bounds[-1]), count))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return {f"random-{i + 1}": epoch + timedelta(milliseconds=int(m)) for i, m in enumerate(drawn)}


# -- the true answers: "as of T, the latest row per key", and how to compare answers ----------


def normalise(table: pa.Table) -> pa.Table:
    """An answer's columns in the log's order and types, sorted by key."""
    table = table.select(SCHEMA.names).cast(SCHEMA)
    return table.take(pc.sort_indices(table, [("key", "ascending")])).combine_chunks()


def column_digest(column: pa.ChunkedArray | pa.Array) -> str:
    """SHA-256 of a column's values and validity (independent of chunking and slicing)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    digest = hashlib.sha256(array.is_valid().to_numpy(zero_copy_only=False).tobytes())
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        width = "int64" if pa.types.is_large_string(array.type) else "int32"
        offsets = np.frombuffer(array.buffers()[1], dtype=width)
        offsets = offsets[array.offset : array.offset + len(array) + 1]
        digest.update((offsets - offsets[0]).astype("int64").tobytes())
        data = array.buffers()[2]
        if data is not None:
            digest.update(memoryview(data)[int(offsets[0]) : int(offsets[-1])])
    else:
        if pa.types.is_timestamp(array.type) or pa.types.is_boolean(array.type):
            array = array.cast(pa.int64())
        digest.update(array.fill_null(0).to_numpy(zero_copy_only=False).tobytes())
    return digest.hexdigest()[:16]


def answer_digest(table: pa.Table) -> dict[str, Any]:
    """Row count and per-column digests of the key-sorted answer: equal digests, equal
    answers (whatever the row order, chunking or Arrow types of the source)."""
    table = normalise(table)
    return {"rows": table.num_rows, **{c: column_digest(table.column(c)) for c in SCHEMA.names}}


def add_aggregates(totals: dict[str, int], batch: pa.RecordBatch | pa.Table) -> None:
    """Add a batch's order-free aggregates (rows, sums, string bytes) to ``totals``: what a
    stream of batches can be checked by without holding it."""

    def add(name: str, value: Any) -> None:
        totals[name] = totals.get(name, 0) + int(value or 0)

    add("rows", batch.num_rows)
    key = batch.column("key").cast(pa.string())
    add("key_bytes", pc.sum(pc.binary_length(key)).as_py())
    add("key_numbers", pc.sum(pc.utf8_slice_codeunits(key, 1).cast(pa.int64())).as_py())
    add("industry_bytes", pc.sum(pc.binary_length(batch.column("industry"))).as_py())
    times = batch.column("event_time").cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64())
    add("event_time", pc.sum(times).as_py())
    for name in ("revenue", "shares", "net_income"):
        add(name, pc.sum(batch.column(name)).as_py())
    add("flag", pc.sum(batch.column("flag").cast(pa.int64())).as_py())


def aggregates(table: pa.Table) -> dict[str, int]:
    totals: dict[str, int] = {}
    for batch in table.to_batches(max_chunksize=65_536):
        add_aggregates(totals, batch)
    return totals


def latest_rows(
    log: Iterable[pa.Table], probes: dict[str, str], floors: dict[str, str] | None = None
) -> dict[str, Any]:
    """The naive oracle: the whole log sorted by (key, event_time), each key's last row at
    or before each probe time (ISO strings). Also counts repeated (key, event_time) pairs
    (which would make the answer ambiguous). With ``floors`` (probe -> path), each answer
    is written there as one Parquet file."""
    table = pa.concat_tables(log).combine_chunks()
    table = table.take(pc.sort_indices(table, [("key", "ascending"), ("event_time", "ascending")]))
    keys, times = table.column("key"), table.column("event_time")
    same_key = pc.equal(keys.slice(0, len(table) - 1), keys.slice(1))
    same_time = pc.equal(times.slice(0, len(table) - 1), times.slice(1))
    duplicates = pc.sum(pc.and_(same_key, same_time).cast(pa.int64())).as_py() or 0
    out: dict[str, Any] = {"log_rows": table.num_rows, "duplicates": duplicates, "answers": {}}
    for name, as_of in probes.items():
        bound = pa.scalar(datetime.fromisoformat(as_of), pa.timestamp("ms", tz="UTC"))
        upto = table.filter(pc.less_equal(table.column("event_time"), bound))
        key = upto.column("key")
        last = pc.not_equal(key.slice(0, len(upto) - 1), key.slice(1)).combine_chunks()
        answer = upto.filter(pa.concat_arrays([last, pa.array([True] * min(len(upto), 1))]))
        del upto, key, last
        out["answers"][name] = {
            "digest": answer_digest(answer),
            "aggregates": aggregates(answer),
            "arrow_bytes": answer.nbytes,
        }
        if floors is not None:
            pq.write_table(answer, floors[name])
            out["answers"][name]["file_bytes"] = Path(floors[name]).stat().st_size
        del answer
    return out


def write_log(config: LogConfig, folder: Path, *, single_file: bool = False) -> dict[str, Any]:
    """Write the log under ``folder`` (replacing it) and return its manifest.

    One Parquet file per arrival batch (``arrival-0000.parquet``...), or with
    ``single_file`` one ``eventlog.parquet`` holding the batches in arrival order (one row
    group each)."""
    config.check()
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    begin = time.perf_counter()
    files, rows = [], 0
    writer = pq.ParquetWriter(folder / "eventlog.parquet", SCHEMA) if single_file else None
    try:
        for month, batch in enumerate(batches(config)):
            rows += batch.num_rows
            if writer is not None:
                writer.write_table(batch, row_group_size=max(batch.num_rows, 1))
            else:
                name = f"arrival-{month:04d}.parquet"
                pq.write_table(batch, folder / name)
                files.append(name)
    finally:
        if writer is not None:
            writer.close()
            files.append("eventlog.parquet")
    manifest = {
        "config": asdict(config),
        "name": config.name,
        "rows": rows,
        "batches": config.months,
        "files": files,
        "bytes": sum((folder / f).stat().st_size for f in files),
        "probe_times": {k: v.isoformat() for k, v in probe_times(config).items()},
        "seconds": round(time.perf_counter() - begin, 2),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def ensure_log(config: LogConfig, folder: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """The folder of ``config``'s log (one file per batch), written unless already there."""
    folder = folder or DATA / config.name
    manifest_path = folder / MANIFEST
    if manifest_path.exists():
        manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        if (
            manifest.get("config") == asdict(config)
            and len(manifest.get("files", ())) == config.months
            and all((folder / f).exists() for f in manifest["files"])
        ):
            return folder, manifest
    return folder, write_log(config, folder)


def config_from_args(args: argparse.Namespace) -> LogConfig:
    """The :class:`LogConfig` of ``--preset`` overridden by explicit size flags."""
    base = PRESETS[args.preset]
    overrides = {
        name: getattr(args, name)
        for name in ("events", "keys", "years", "late_fraction", "seed")
        if getattr(args, name) is not None
    }
    return LogConfig(**{**asdict(base), **overrides})


def add_log_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small")
    parser.add_argument("--events", type=int, help="total rows (preset's by default)")
    parser.add_argument("--keys", type=int, help="distinct keys")
    parser.add_argument("--years", type=int, help="years of monthly batches")
    parser.add_argument("--late-fraction", type=float, help="share of late rows (0.02)")
    parser.add_argument("--seed", type=int, help="random seed (42)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_log_arguments(parser)
    parser.add_argument("--out", type=Path, help="folder (default benchmarks/data/<name>)")
    parser.add_argument("--single-file", action="store_true", help="one Parquet file")
    args = parser.parse_args()
    config = config_from_args(args)
    folder = args.out or DATA / (config.name + ("-single" if args.single_file else ""))
    manifest = write_log(config, folder, single_file=args.single_file)
    print(
        f"{manifest['rows']:,} events, {config.keys:,} keys, {manifest['batches']} batches, "
        f"{manifest['bytes'] / 2**20:.0f} MiB in {folder} ({manifest['seconds']} s)"
    )
    for name, when in manifest["probe_times"].items():
        print(f"  {name}: {when}")


if __name__ == "__main__":
    main()
