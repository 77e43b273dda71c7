"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_time(action: Callable[[], object], runs: int = 5, *, warm_up: bool = True) -> float:
    """The median wall time of ``runs`` calls of ``action``, after one warm-up call (unless
    not ``warm_up``)."""
    if warm_up:
        action()
    samples = []
    for _ in range(runs):
        begin = time.perf_counter()
        action()
        samples.append(time.perf_counter() - begin)
    return statistics.median(samples)
