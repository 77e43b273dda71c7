"""Every ordered pair of operations (X, Y): X paused at each of its storage calls in turn,
Y run to completion there, X resumed; then the invariants of :mod:`interleave.scenario`
(see :mod:`interleave.pairs` for how a pair runs)."""

from __future__ import annotations

import pytest

from interleave.model import KINDS
from interleave.pairs import run_pairs
from interleave.scenario import Lake


@pytest.mark.parametrize("y", KINDS)
@pytest.mark.parametrize("x", KINDS)
def test_pair(memory: Lake, x: str, y: str) -> None:
    failures = run_pairs(memory, x, y)
    assert not failures, "\n".join(failures)
