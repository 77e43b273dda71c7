"""Deterministic synthetic tables for demos, tests and benchmarks (``azof gen --kind``).

:func:`generate` yields the batches of a table in the order they would arrive: one batch
per calendar period (monthly by default) holding the events of that period, plus a
fraction of *late* events whose event times lie in earlier periods (corrections and
delayed feeds), the situation event-time travel is for. The same arguments always give
the same batches.

Kinds (see :data:`SCHEMAS`):

- ``financials``: company figures keyed by ticker-like symbols: ``industry`` (a few
  nulls), ``revenue``, ``shares_diluted``, ``net_income`` (int64, rounded to thousands),
  each company growing along its own trend with seasonality and noise; event times are
  whole days.
- ``kv``: ``key`` (``k0000042``), ``event_time`` (milliseconds), ``value`` (float64).

>>> from azof.sample import generate
>>> batches = list(generate("kv", rows=1_000, keys=50, seed=1))
>>> sum(b.num_rows for b in batches)
1000
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from azof.compact.tree import period_start
from azof.errors import InvalidArgumentError
from azof.timestamps import Instant, parse_instant

__all__ = ["INDUSTRIES", "KINDS", "SCHEMAS", "generate", "period_bounds", "ticker_symbols"]

_KEY: pa.Field[Any] = pa.field("key", pa.string(), nullable=False)
_EVENT_TIME: pa.Field[Any] = pa.field("event_time", pa.timestamp("ms", tz="UTC"), nullable=False)
SCHEMAS: dict[str, pa.Schema] = {
    "financials": pa.schema(
        [
            _KEY,
            _EVENT_TIME,
            pa.field("industry", pa.string()),
            pa.field("revenue", pa.int64()),
            pa.field("shares_diluted", pa.int64()),
            pa.field("net_income", pa.int64()),
        ]
    ),
    "kv": pa.schema([_KEY, _EVENT_TIME, pa.field("value", pa.float64())]),
}
KINDS = tuple(SCHEMAS)

INDUSTRIES = (
    "Software",
    "Banks",
    "Semiconductors",
    "Pharmaceuticals, Biotechnology and Life Sciences",
    "Real Estate",
    "Retailing",
    "Energy",
    "Utilities",
    "Insurance",
    "Capital Goods",
    "Media & Entertainment",
    "Telecommunication Services",
    "Transportation",
    "Materials",
    "Food, Beverage & Tobacco",
    "Health Care Equipment & Services",
    "Automobiles & Components",
    "Consumer Services",
    "Technology Hardware & Equipment",
    "Diversified Financials",
    "Textiles, Apparel & Luxury Goods",
)
_INDUSTRY_NULLS = 0.01
_MS = 1_000_000
_DAY_MS = 86_400_000
_YEAR_MS = 365.25 * _DAY_MS
_STEPS = {
    "year": timedelta(days=367),
    "quarter": timedelta(days=93),
    "month": timedelta(days=32),
    "week": timedelta(days=7),
    "day": timedelta(days=1),
}
_DATE_ONLY = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")
_LETTERS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
_TICKER_LENGTHS = np.array([1, 2, 3, 4, 5, 6])
_TICKER_WEIGHTS = np.array([0.01, 0.09, 0.35, 0.45, 0.09, 0.01])


def period_bounds(start: Instant, end: Instant, period: str) -> list[Instant]:
    """``[start, b1, b2, ..., end]``: the calendar period starts (UTC) strictly inside."""
    if period not in _STEPS:
        raise InvalidArgumentError(f"period {period!r} is not one of {', '.join(_STEPS)}")
    step = int(_STEPS[period].total_seconds()) * 1_000_000_000
    bounds = [start]
    boundary = period_start(start, period)
    while True:
        boundary = period_start(boundary + step, period)
        if boundary >= end:
            break
        bounds.append(boundary)
    bounds.append(end)
    return bounds


def ticker_symbols(count: int, rng: np.random.Generator) -> list[str]:
    """``count`` distinct ticker-like symbols (1-6 capital letters, mostly 3-4)."""
    symbols: dict[str, None] = {}
    while len(symbols) < count:
        want = max(64, 2 * (count - len(symbols)))
        lengths = rng.choice(_TICKER_LENGTHS, size=want, p=_TICKER_WEIGHTS)
        letters = rng.integers(0, 26, size=(want, int(_TICKER_LENGTHS[-1])))
        for length, row in zip(lengths.tolist(), _LETTERS[letters].tolist(), strict=True):
            symbols.setdefault("".join(row[:length]))
            if len(symbols) == count:
                break
    return list(symbols)


def _instant(value: Any, what: str, *, end: bool) -> Instant:
    """An instant; a date alone as ``end`` means the end of that day (exclusive bound)."""
    instant = parse_instant(value, what)
    date_only = (isinstance(value, date) and not isinstance(value, datetime)) or (
        isinstance(value, str) and _DATE_ONLY.match(value) is not None
    )
    return instant + 86_400_000_000_000 if end and date_only else instant


def _check(kind: str, rows: int, keys: int, late_fraction: float) -> None:
    if kind not in SCHEMAS:
        raise InvalidArgumentError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    for name, value, least in (("rows", rows, 0), ("keys", keys, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise InvalidArgumentError(f"{name} must be a whole number >= {least}, not {value!r}")
    if not 0.0 <= late_fraction <= 1.0 or math.isnan(late_fraction):
        raise InvalidArgumentError(f"late_fraction must be between 0 and 1, not {late_fraction!r}")


class _Financials:
    """Per-company parameters: industry, size, growth, margin, shares."""

    def __init__(self, keys: int, rng: np.random.Generator) -> None:
        self.names = ticker_symbols(keys, rng)
        industry = rng.integers(0, len(INDUSTRIES), size=keys)
        self.industry: list[str | None] = [
            None if missing else INDUSTRIES[i]
            for i, missing in zip(
                industry.tolist(), (rng.random(keys) < _INDUSTRY_NULLS).tolist(), strict=True
            )
        ]
        self.revenue = np.exp(rng.normal(18.5, 1.8, size=keys))
        self.growth = rng.normal(0.06, 0.12, size=keys)
        self.margin = rng.normal(0.07, 0.10, size=keys)
        self.shares = np.exp(rng.normal(18.0, 1.2, size=keys))
        self.dilution = rng.normal(0.01, 0.03, size=keys)
        self.phase = rng.random(keys)

    def columns(
        self, key: np.ndarray, years: np.ndarray, rng: np.random.Generator
    ) -> dict[str, pa.Array[Any]]:
        n = len(key)
        season = 1.0 + 0.04 * np.sin(2 * np.pi * (years + self.phase[key]))
        revenue = self.revenue[key] * np.exp(self.growth[key] * years + rng.normal(0, 0.05, n))
        revenue *= season
        income = revenue * (self.margin[key] + rng.normal(0, 0.04, n))
        shares = self.shares[key] * np.exp(self.dilution[key] * years)

        def thousands(values: np.ndarray) -> pa.Array[Any]:
            return pa.array(np.round(values / 1000.0).astype(np.int64) * 1000, pa.int64())

        return {
            "industry": pa.array([self.industry[k] for k in key.tolist()], pa.string()),
            "revenue": thousands(revenue),
            "shares_diluted": thousands(shares),
            "net_income": thousands(income),
        }


def generate(
    kind: str,
    rows: int,
    keys: int,
    late_fraction: float = 0.02,
    seed: int = 0,
    start: Any = "2015-01-01",
    end: Any = "2024-12-31",
    *,
    period: str = "month",
) -> Iterator[pa.Table]:
    """The batches of a synthetic table, in arrival order (one per ``period``).

    ``rows`` events over ``keys`` keys between ``start`` and ``end`` (instants or ISO-8601;
    a date alone as ``end`` includes that day). Each batch holds its period's events and
    some late ones: about ``late_fraction`` of all rows have an event time in an earlier
    period than the batch that brings them (1-2 periods late, sometimes more). Empty
    periods yield no batch. Deterministic for a given ``seed``.
    """
    _check(kind, rows, keys, late_fraction)
    low = _instant(start, "start", end=False)
    high = _instant(end, "end", end=True)
    if high <= low:
        raise InvalidArgumentError("end must be after start")
    bounds = [b // _MS for b in period_bounds(low, high, period)]
    periods = len(bounds) - 1
    lengths = np.diff(np.array(bounds, dtype=np.int64)).astype(np.float64)
    setup = np.random.default_rng([seed, 0])
    late_total = int(setup.binomial(rows, late_fraction)) if periods > 1 else 0
    on_time = setup.multinomial(rows - late_total, lengths / lengths.sum())
    late = np.zeros(periods, dtype=np.int64)
    if late_total:
        late[1:] = setup.multinomial(late_total, lengths[1:] / lengths[1:].sum())
    return _batches(kind, keys, seed, bounds, on_time, late, setup)


def _batches(
    kind: str,
    keys: int,
    seed: int,
    bounds: list[int],
    on_time: np.ndarray,
    late: np.ndarray,
    setup: np.random.Generator,
) -> Iterator[pa.Table]:
    """The batches :func:`generate` planned (``bounds`` in milliseconds)."""
    model = _Financials(keys, setup) if kind == "financials" else None
    width = len(str(keys - 1))
    schema = SCHEMAS[kind]
    for batch in range(len(bounds) - 1):
        count = int(on_time[batch] + late[batch])
        if count == 0:
            continue
        rng = np.random.default_rng([seed, 1, batch])
        lag = np.minimum(rng.geometric(0.55, size=int(late[batch])), batch)
        origin = np.concatenate([np.full(int(on_time[batch]), batch), batch - lag])
        lo = np.array(bounds, dtype=np.int64)[origin]
        hi = np.array(bounds, dtype=np.int64)[origin + 1]
        times = lo + (rng.random(count) * (hi - lo)).astype(np.int64)
        if model is not None:  # whole days, never before the period's start
            times = np.maximum(times - times % _DAY_MS, lo)
        key = rng.integers(0, keys, size=count)
        order = np.lexsort((key, times))
        key, times = key[order], times[order]
        columns: dict[str, pa.Array[Any]] = {
            "event_time": pa.array(times, pa.timestamp("ms", tz="UTC")),
        }
        if model is not None:
            columns["key"] = pa.array([model.names[k] for k in key.tolist()], pa.string())
            years = (times - bounds[0]).astype(np.float64) / _YEAR_MS
            columns.update(model.columns(key, years, rng))
        else:
            columns["key"] = pa.array([f"k{k:0{width}d}" for k in key.tolist()], pa.string())
            columns["value"] = pa.array(np.round(rng.normal(100.0, 25.0, count), 2), pa.float64())
        yield pa.table({name: columns[name] for name in schema.names}, schema=schema)
