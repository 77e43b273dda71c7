"""The pair and random schedules of the interleaving harness on a table whose every commit
stores its file records in manifests (format 5): commits that add, reuse, merge and drop
manifests, paused at each storage call (manifest reads and writes included) against every
other operation; the invariants of :mod:`interleave.scenario`, which also check that no
retained version loses a manifest."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from interleave.model import KINDS, Op
from interleave.pairs import run_pairs
from interleave.scenario import Lake, Step, run_scenario
from interleave.test_interleave_random import EXAMPLES, schedules


@pytest.mark.parametrize("y", KINDS)
@pytest.mark.parametrize("x", KINDS)
def test_pair_with_manifests(manifest_memory: Lake, x: str, y: str) -> None:
    failures = run_pairs(manifest_memory, x, y)
    assert not failures, "\n".join(failures)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(schedule=schedules())
def test_random_schedules_with_manifests(
    manifest_memory: Lake, schedule: tuple[list[Op], list[Step]]
) -> None:
    ops, steps = schedule
    violations = run_scenario(manifest_memory, ops, steps)
    assert not violations, "\n".join(violations)
