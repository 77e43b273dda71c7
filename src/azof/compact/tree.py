"""The segment tree azof's compaction writes: calendar periods, leaves and their parents.

Pure functions, no I/O. Leaves exist only for periods that hold events; a leaf covers its
period and any empty periods after it, up to the next leaf (the last leaf is open), so
every instant from the first leaf's start on falls in exactly one leaf. Parents group
leaves by coarser periods and span exactly their children.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

import pyarrow as pa
import pyarrow.compute as pc

from azof.format.snapshot import Segment
from azof.format.types import unit_nanos
from azof.timestamps import Instant, instant_to_datetime

__all__ = ["build_tree", "leaves", "period_label", "period_start", "period_starts"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_Granularity = Literal["year", "quarter", "month", "week", "day", "hour"]
"""The calendar periods a tree level may use (the units :func:`period_start` knows)."""


def _to_instant(moment: datetime) -> Instant:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def period_start(instant: Instant, granularity: str) -> Instant:
    """The start of the calendar period (UTC) holding ``instant``."""
    moment = instant_to_datetime(instant)
    if granularity == "year":
        moment = moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    elif granularity == "quarter":
        month = 3 * ((moment.month - 1) // 3) + 1
        moment = moment.replace(month=month, day=1, hour=0, minute=0, second=0, microsecond=0)
    elif granularity == "month":
        moment = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elif granularity == "week":
        moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        moment -= timedelta(days=moment.weekday())
    elif granularity == "day":
        moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    elif granularity == "hour":
        moment = moment.replace(minute=0, second=0, microsecond=0)
    else:
        raise ValueError(f"unknown granularity {granularity!r}")
    return _to_instant(moment)


def period_starts(
    event_times: pa.ChunkedArray[Any] | pa.Array[Any], granularity: str
) -> list[Instant]:
    """The distinct period starts of an array of event times, ascending."""
    if len(event_times) == 0:
        return []
    per_unit = unit_nanos(event_times.type)
    unit = cast("_Granularity", granularity)  # pyarrow refuses units it does not know
    floored = pc.floor_temporal(event_times, unit=unit, week_starts_monday=True)
    distinct = pc.unique(floored.cast(pa.int64()))
    values = cast("list[int]", distinct.to_pylist())  # event times are never null
    return sorted(int(v) * per_unit for v in values)


def period_label(start: Instant, granularity: str) -> str:
    moment = instant_to_datetime(start)
    if granularity == "year":
        return f"{moment:%Y}"
    if granularity == "quarter":
        return f"{moment:%Y}-Q{(moment.month - 1) // 3 + 1}"
    if granularity == "month":
        return f"{moment:%Y-%m}"
    if granularity == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    if granularity == "day":
        return f"{moment:%Y-%m-%d}"
    return f"{moment:%Y-%m-%dT%H}"


def leaves(segments: tuple[Segment, ...]) -> list[Segment]:
    """The leaf segments of a tree, in time order."""
    out: list[Segment] = []
    for segment in sorted(segments, key=lambda s: s.start):
        if segment.children:
            out.extend(leaves(segment.children))
        else:
            out.append(segment)
    return out


def build_tree(leaf_list: list[Segment], levels: tuple[str, ...]) -> tuple[Segment, ...]:
    """Group leaves (time order, ends already set) under parents of the coarser levels."""
    nodes = list(leaf_list)
    for level in reversed(levels[:-1]):
        groups: dict[Instant, list[Segment]] = {}
        for node in nodes:
            groups.setdefault(period_start(node.start, level), []).append(node)
        nodes = [
            Segment(
                id=period_label(start, level),
                start=children[0].start,
                end=children[-1].end,
                children=tuple(children),
            )
            for start, children in sorted(groups.items())
        ]
    return tuple(nodes)
