"""The compaction policy: stored with the table, a frozen value (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from azof.errors import InvalidArgumentError

__all__ = ["GRANULARITIES", "CompactionPolicy"]

GRANULARITIES = ("year", "quarter", "month", "week", "day", "hour")
"""Segment granularities, coarse to fine (calendar periods in UTC; weeks start Monday)."""


@dataclass(frozen=True)
class CompactionPolicy:
    """How a table is compacted.

    ``segment``: the granularity of leaf segments, each holding a base (every key's state
    at its start) and the events inside it; an as-of read touches one leaf, so finer
    segments mean faster reads of mid-history times and more base files (one full copy of
    the key space per non-empty segment). ``levels``: the tree above the leaves, coarse to
    fine, ending with ``segment`` (default: ``year`` then ``segment``).
    ``max_deltas`` / ``max_delta_rows``: pending deltas (or rows) that make a compaction
    due. ``target_file_mb``: the size data files are split at. ``buckets``: how many hash
    buckets of keys files are split into (0: chosen by compaction so that a bucket holds
    at most ``bucket_keys`` keys; scans and compaction then work one bucket at a time,
    in parallel, with memory bounded by a bucket). ``auto``: compact after a
    commit that makes compaction due.
    """

    segment: str = "quarter"
    levels: tuple[str, ...] = field(default=())
    max_deltas: int = 8
    max_delta_rows: int = 1_000_000
    target_file_mb: int = 128
    auto: bool = False
    buckets: int = 0
    bucket_keys: int = 500_000

    def __post_init__(self) -> None:
        if not isinstance(self.segment, str) or self.segment not in GRANULARITIES:
            raise InvalidArgumentError(
                f"segment {self.segment!r} is not one of {', '.join(GRANULARITIES)}"
            )
        if isinstance(self.levels, str) or not isinstance(self.levels, list | tuple):
            raise InvalidArgumentError(
                f"levels must be a list of granularities, not {self.levels!r}"
            )
        levels = tuple(self.levels) or _default_levels(self.segment)
        unknown = [
            level for level in levels if not isinstance(level, str) or level not in GRANULARITIES
        ]
        if unknown:
            raise InvalidArgumentError(
                f"levels {unknown} are not granularities ({', '.join(GRANULARITIES)})"
            )
        order = [GRANULARITIES.index(level) for level in levels]
        if order != sorted(set(order)) or levels[-1] != self.segment:
            raise InvalidArgumentError(
                f"levels {list(levels)} must go from coarse to fine without repeats and end "
                f"with segment {self.segment!r}"
            )
        if "week" in levels[1:]:
            raise InvalidArgumentError(
                "weeks do not nest in years, quarters or months; use 'week' as the first level"
            )
        if (
            isinstance(self.buckets, bool)
            or not isinstance(self.buckets, int)
            or not (0 <= self.buckets <= 4096)
        ):
            raise InvalidArgumentError(f"buckets must be 0 (auto) to 4096, not {self.buckets!r}")
        for name in ("max_deltas", "max_delta_rows", "target_file_mb", "bucket_keys"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgumentError(f"{name} must be a whole number >= 1, not {value!r}")
        if not isinstance(self.auto, bool):
            raise InvalidArgumentError(f"auto must be true or false, not {self.auto!r}")
        object.__setattr__(self, "levels", levels)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["levels"] = list(self.levels)
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> CompactionPolicy:
        """The policy stored in a snapshot (defaults for absent fields); an
        :class:`InvalidArgumentError` saying which field is wrong if it is invalid."""
        if not raw:
            return cls()
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        if isinstance(known.get("levels"), list):
            known["levels"] = tuple(known["levels"])
        try:
            return cls(**known)
        except InvalidArgumentError as exc:
            # name the field: the checks of __post_init__ name it first in their message
            field_name = next(
                (name for name in cls.__dataclass_fields__ if str(exc).startswith(name)),
                "levels",
            )
            raise InvalidArgumentError(f"policy field {field_name!r}: {exc}") from None

    def bucket_count(self, keys: int) -> int:
        """Buckets for a table of about ``keys`` keys: the fixed count, or the smallest
        power of two keeping a bucket within ``bucket_keys``."""
        if self.buckets:
            return self.buckets
        count = 1
        while keys > count * self.bucket_keys and count < 4096:
            count *= 2
        return count

    def due(self, pending_files: int, pending_rows: int) -> bool:
        return pending_files >= self.max_deltas or pending_rows >= self.max_delta_rows


def _default_levels(segment: str) -> tuple[str, ...]:
    if segment in ("year", "week"):
        return (segment,)
    return ("year", segment)
