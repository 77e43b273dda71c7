"""Per-row commit times: which version of a table each row of a frame knew.

A row's ``known_at`` (commit time, as in ``scan(known_at=...)``) selects the latest version
committed at or before it, among the versions up to the one the table has loaded. Commit
times never decrease with the version, so the versions of all rows are found with one
``numpy.searchsorted`` over the commit times of the versions between the earliest and the
latest row's (each found by bisection, so only those snapshots are read).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from azof.errors import VersionNotFoundError
from azof.timestamps import Instant, format_instant

if TYPE_CHECKING:
    from azof.table import Table

__all__ = ["versions_known_at"]

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


class _CommitTimes:
    """The retained versions up to the loaded one, and their commit times (read lazily)."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.versions = [v for v in table.versions() if v <= table.version]
        self._times: dict[int, Instant] = {}

    def time(self, index: int) -> Instant:
        held = self._times.get(index)
        if held is None:
            held = self._times[index] = self.table.commit_time(self.versions[index])
        return held

    def last_at_or_before(self, instant: Instant) -> int:
        """The index of the last version committed at or before ``instant``; -1: none."""
        low, high, found = 0, len(self.versions) - 1, -1
        while low <= high:
            middle = (low + high) // 2
            if self.time(middle) <= instant:
                found, low = middle, middle + 1
            else:
                high = middle - 1
        return found


def versions_known_at(table: Table, instants: Ints, valid: Bools, column: str) -> Ints:
    """Per row, the version committed last at or before ``instants[i]`` (nanoseconds since
    the epoch); -1 where the row's instant is not ``valid`` (null).

    Raises :class:`~azof.errors.VersionNotFoundError` when a row's instant is before the
    first retained commit (expired by a vacuum, or before the table was created)."""
    out = np.full(len(instants), -1, dtype=np.int64)
    if not valid.any():
        return out
    commits = _CommitTimes(table)
    earliest, latest = int(instants[valid].min()), int(instants[valid].max())
    first = commits.last_at_or_before(earliest)
    if first < 0:
        oldest = format_instant(commits.time(0)) if commits.versions else "never"
        early = valid & (instants < (commits.time(0) if commits.versions else latest + 1))
        row = int(np.flatnonzero(early)[0])
        raise VersionNotFoundError(
            f"table {table.name!r}: {int(early.sum())} left row(s) have {column} before the "
            f"first retained commit ({oldest}), the first at row {row} "
            f"({format_instant(int(instants[row]))}); the versions they would read were "
            "expired by a vacuum or predate the table: drop those rows, or give them a later "
            f"{column}"
        )
    last = commits.last_at_or_before(latest)
    times = np.array([commits.time(i) for i in range(first, last + 1)], dtype=np.int64)
    index = np.searchsorted(times, instants[valid], side="right") - 1 + first
    out[valid] = np.asarray(commits.versions, dtype=np.int64)[index]
    return out
