"""Pair scenarios: X paused at one of its storage calls, Y run to completion there, X
resumed.

A vacuum run as Y comes after three quick appends by the same other process, so that it
expires versions newer than the one X read (the slow-writer case: X's next snapshot name
is one the vacuum frees). Vacuums keep one or two versions (alternating with the pause
point).
"""

from __future__ import annotations

from collections.abc import Iterable

from interleave.model import Op
from interleave.scenario import Lake, Scenario, Step, run_scenario

__all__ = ["LEAD_APPENDS", "pair", "run_pairs", "solo_calls"]

LEAD_APPENDS = 3
"""Appends Y's process commits before a vacuum."""

_SOLO_CALLS: dict[tuple[str, int], int] = {}


def pair(x: str, y: str, pause_at: int | None) -> tuple[list[Op], list[Step]]:
    """The operations and steps of one pair scenario."""
    retain = 1 + (pause_at or 0) % 2
    ops = [Op(x, 1, retain=retain)]
    if y == "vacuum":
        ops += [Op("append", 2 + i) for i in range(LEAD_APPENDS)]
    ops.append(Op(y, len(ops) + 1, retain=retain))
    steps = [Step("start", 0, pause_at)] + [Step("start", i) for i in range(1, len(ops))]
    return ops, steps


def solo_calls(kind: str, lake: Lake) -> int:
    """How many storage calls an operation of ``kind`` makes alone on the starting table."""
    if (kind, id(lake)) not in _SOLO_CALLS:
        lakehouse, root = lake.open_fresh()
        scenario = Scenario(lakehouse, root, [Op(kind, 1)], lake.margin, lake.slack)
        violations = scenario.run([Step("start", 0)])
        assert not violations, violations
        _SOLO_CALLS[kind, id(lake)] = len(scenario.gates[0].calls)
    return _SOLO_CALLS[kind, id(lake)]


def run_pairs(lake: Lake, x: str, y: str, pause_points: Iterable[int] | None = None) -> list[str]:
    """Run the pair at every pause point of X (or the ones given); the failures, described."""
    points = pause_points if pause_points is not None else range(solo_calls(x, lake))
    failures: list[str] = []
    for pause_at in points:
        ops, steps = pair(x, y, pause_at)
        violations = run_scenario(lake, ops, steps)
        if violations:
            failures.append(f"{x} paused at call {pause_at}, {y} run there:")
            failures += [f"    {v}" for v in violations[:4]]
    return failures
