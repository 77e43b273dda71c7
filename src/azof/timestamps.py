"""Parsing and formatting of instants.

azof keeps every instant as an ``int`` of nanoseconds since the Unix epoch, UTC. Users may
pass an aware ``datetime``; a naive ``datetime`` (read as UTC); an ISO-8601 string with or
without time and offset (``2019-01-17``, ``2024-03-15T14:30:00``, ``...Z``, ``...+02:00``; a
string without offset is read as UTC); a ``pandas.Timestamp``; a ``numpy.datetime64``; or an
``int``/``float`` is *refused* (ambiguous unit). Anything else is an
:class:`~azof.errors.InvalidArgumentError` naming the bad value.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from azof.errors import InvalidArgumentError

__all__ = [
    "MAX_INSTANT",
    "MIN_INSTANT",
    "Instant",
    "format_instant",
    "instant_to_datetime",
    "parse_duration",
    "parse_instant",
]

Instant = int
"""Nanoseconds since 1970-01-01T00:00:00Z."""

MIN_INSTANT: Instant = -(2**63) + 1
MAX_INSTANT: Instant = 2**63 - 1

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ISO = re.compile(
    r"^\s*(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)(?:[.,](?P<frac>\d{1,9}))?)?"
    r"\s*(?P<tz>Z|z|[+-]\d{2}(?::?\d{2})?)?\s*$"
)


def _from_datetime(value: datetime) -> Instant:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _parse_text(text: str, what: str) -> Instant:
    match = _ISO.match(text)
    if match is None:
        raise InvalidArgumentError(
            f"{what}: cannot read {text!r} as a timestamp; use ISO-8601 such as "
            "'2024-03-15', '2024-03-15T14:30:00' or '2024-03-15T14:30:00+02:00' "
            "(no offset means UTC)"
        )
    time = match["time"] or "00:00:00"
    if len(time) == 5:
        time += ":00"
    tz = match["tz"] or "Z"
    if tz in ("Z", "z"):
        tz = "+00:00"
    elif len(tz) == 3:
        tz += ":00"
    elif ":" not in tz:
        tz = tz[:3] + ":" + tz[3:]
    try:
        whole = datetime.fromisoformat(f"{match['date']}T{time}{tz}")
    except ValueError as exc:
        raise InvalidArgumentError(f"{what}: {text!r} is not a valid timestamp ({exc})") from None
    frac = (match["frac"] or "").ljust(9, "0")
    return _from_datetime(whole) + int(frac)


_NUMPY_UNIT_NANOS = {
    "h": 3_600_000_000_000,
    "m": 60_000_000_000,
    "s": 1_000_000_000,
    "ms": 1_000_000,
    "us": 1_000,
    "ns": 1,
}


def _from_datetime64(value: Any, what: str) -> Instant:
    """A ``numpy.datetime64`` of any unit, exactly: numpy's own cast to nanoseconds wraps
    around silently outside 1678-2262."""
    import numpy as np  # present: value is a numpy scalar

    if np.isnat(value):
        raise InvalidArgumentError(f"{what}: NaT is not a timestamp")
    unit, count = np.datetime_data(value.dtype)
    if unit in ("Y", "M", "W", "D"):
        return int(value.astype("datetime64[D]").astype("int64")) * 86_400_000_000_000
    if unit not in _NUMPY_UNIT_NANOS:  # finer than nanoseconds: narrowing cannot overflow
        return int(value.astype("datetime64[ns]").astype("int64"))
    return int(value.astype("int64")) * count * _NUMPY_UNIT_NANOS[unit]


def parse_instant(value: Any, what: str = "timestamp") -> Instant:
    """Read ``value`` as an instant; ``what`` names the argument in error messages."""
    if isinstance(value, bool):
        raise InvalidArgumentError(f"{what}: {value!r} is not a timestamp")
    if isinstance(value, str):
        return _parse_text(value, what)
    if isinstance(value, datetime):
        if type(value).__name__ == "NaTType":  # pandas.NaT is a datetime too
            raise InvalidArgumentError(f"{what}: NaT is not a timestamp")
        # pandas.Timestamp is a datetime subclass that carries nanoseconds.
        nanos = getattr(value, "nanosecond", 0)
        return _from_datetime(value) + int(nanos)
    if isinstance(value, date):
        return _from_datetime(datetime(value.year, value.month, value.day))
    type_name = f"{type(value).__module__}.{type(value).__qualname__}"
    if type_name == "numpy.datetime64":
        return _from_datetime64(value, what)
    raise InvalidArgumentError(
        f"{what}: {value!r} ({type(value).__name__}) is not a timestamp; pass a datetime, "
        "an ISO-8601 string, a pandas.Timestamp or a numpy.datetime64"
    )


def instant_to_datetime(instant: Instant) -> datetime:
    """The aware UTC ``datetime`` of an instant (truncated to microseconds)."""
    return _EPOCH + timedelta(microseconds=instant // 1_000)


@functools.lru_cache(maxsize=1 << 16)
def format_instant(instant: Instant) -> str:
    """RFC 3339 text in UTC with ``Z``: milliseconds, or more digits when needed (cached:
    snapshots repeat the same times, commit after commit)."""
    seconds, nanos = divmod(instant, 1_000_000_000)
    whole = _EPOCH + timedelta(seconds=seconds)
    text = whole.strftime("%Y-%m-%dT%H:%M:%S")
    if nanos % 1_000_000 == 0:
        frac = f"{nanos // 1_000_000:03d}"
    elif nanos % 1_000 == 0:
        frac = f"{nanos // 1_000:06d}"
    else:
        frac = f"{nanos:09d}"
    return f"{text}.{frac}Z"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(value: Any, what: str = "duration") -> int:
    """Read a duration (``timedelta`` or text like ``'7d'``, ``'12h'``) as nanoseconds."""
    if isinstance(value, timedelta):
        return int(value.total_seconds() * 1_000_000_000)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return int(float(match[1]) * _UNIT_SECONDS[match[2]] * 1_000_000_000)
    raise InvalidArgumentError(
        f"{what}: cannot read {value!r} as a duration; use a timedelta or text such as "
        "'30s', '15m', '12h', '7d', '2w'"
    )
