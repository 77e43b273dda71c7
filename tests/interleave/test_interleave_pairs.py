"""Every ordered pair of operations (X, Y): X paused at each of its storage calls in turn,
Y run to completion there, X resumed; then the invariants of :mod:`interleave.scenario`.

A vacuum run as Y comes after three quick appends by the same other process, so that it
expires versions newer than the one X read (the slow-writer case: X's next snapshot name
is one the vacuum frees). Vacuums keep one or two versions (alternating with the pause
point).
"""

from __future__ import annotations

import functools

import pytest

from interleave.model import KINDS, Op
from interleave.scenario import Lake, Step, run_scenario

LEAD_APPENDS = 3
"""Appends Y's process commits before a vacuum."""


def pair(x: str, y: str, pause_at: int | None) -> tuple[list[Op], list[Step]]:
    """The operations and steps of one pair scenario."""
    retain = 1 + (pause_at or 0) % 2
    ops = [Op(x, 1, retain=retain)]
    if y == "vacuum":
        ops += [Op("append", 2 + i) for i in range(LEAD_APPENDS)]
    ops.append(Op(y, len(ops) + 1, retain=retain))
    steps = [Step("start", 0, pause_at)] + [Step("start", i) for i in range(1, len(ops))]
    return ops, steps


@functools.cache
def _solo_calls(kind: str, lake: Lake) -> int:
    from interleave.scenario import Scenario

    lakehouse, root = lake.open_fresh()
    scenario = Scenario(lakehouse, root, [Op(kind, 1)], lake.margin)
    violations = scenario.run([Step("start", 0)])
    assert not violations, violations
    return len(scenario.gates[0].calls)


def run_pairs(lake: Lake, x: str, y: str, pause_points: list[int] | None = None) -> list[str]:
    """Run the pair at every pause point (or the ones given); a report of the failures."""
    points = pause_points if pause_points is not None else range(_solo_calls(x, lake))
    failures: list[str] = []
    for pause_at in points:
        ops, steps = pair(x, y, pause_at)
        violations = run_scenario(lake, ops, steps)
        if violations:
            failures.append(f"{x} paused at call {pause_at}, {y} run there:")
            failures += [f"    {v}" for v in violations[:4]]
    return failures


@pytest.mark.parametrize("y", KINDS)
@pytest.mark.parametrize("x", KINDS)
def test_pair(memory: Lake, x: str, y: str) -> None:
    failures = run_pairs(memory, x, y)
    assert not failures, "\n".join(failures)
