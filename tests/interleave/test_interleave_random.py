"""Random schedules of three operations: which operations, where each pauses, and in what
order the paused ones are resumed (nested, one after the other, or overlapping) are chosen
by hypothesis; the invariants are those of :mod:`interleave.scenario`."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interleave.model import KINDS, Op
from interleave.scenario import Lake, Step, run_scenario

OPS = 3
MAX_PAUSE = 45
"""Pause points are drawn up to here (a compaction makes about 45 storage calls; a pause
point past an operation's last call lets it run to the end)."""

EXAMPLES = int(os.environ.get("AZOF_INTERLEAVE_EXAMPLES", "60"))
"""Schedules per run (60 run in about 10 s; set the variable for a longer hunt)."""

pause_points = st.one_of(st.none(), st.integers(0, MAX_PAUSE))


@st.composite
def schedules(draw: st.DrawFn) -> tuple[list[Op], list[Step]]:
    """Three operations started in turn, each with a pause point; after each start some
    of the operations started so far are resumed (perhaps to a later pause point); the rest
    are resumed at the end, in an order hypothesis picks."""
    ops = [
        Op(draw(st.sampled_from(KINDS)), uid, retain=draw(st.integers(1, 2)))
        for uid in range(1, OPS + 1)
    ]
    steps: list[Step] = []
    for index in range(OPS):
        steps.append(Step("start", index, draw(pause_points)))
        started = list(range(index + 1))
        for again in draw(st.lists(st.sampled_from(started), max_size=2)):
            steps.append(Step("resume", again, draw(pause_points)))
    for index in draw(st.permutations(range(OPS))):
        steps.append(Step("resume", index))
    return ops, steps


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(schedule=schedules())
def test_random_schedules(memory: Lake, schedule: tuple[list[Op], list[Step]]) -> None:
    ops, steps = schedule
    violations = run_scenario(memory, ops, steps)
    assert not violations, "\n".join(violations)
