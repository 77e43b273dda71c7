"""Parsing and formatting of instants, and the one conversion of instants to a unit.

azof keeps every instant as an ``int`` of nanoseconds since the Unix epoch, UTC. Users may
pass an aware ``datetime``; a naive ``datetime`` (read as UTC); an ISO-8601 string with or
without time and offset (``2019-01-17``, ``2024-03-15T14:30:00``, ``...Z``, ``...+02:00``; a
string without offset is read as UTC); a ``pandas.Timestamp``; a ``numpy.datetime64``; or an
``int``/``float`` is *refused* (ambiguous unit). Anything else is an
:class:`~azof.errors.InvalidArgumentError` naming the bad value.

Instants become a timestamp column's units here and nowhere else, with one rounding rule per
purpose (``docs/spec.md``, "Supported event times"):

- a time to read *as of* is clamped to ``[MIN_INSTANT, MAX_INSTANT]`` and rounded down
  (:func:`as_of_units`): before every event time answers the empty state, after every event
  time the latest;
- a time to *write* is exact or refused (:func:`exact_units`), and an event time must lie in
  ``[MIN_EVENT_INSTANT, MAX_EVENT_INSTANT]`` (:func:`check_event_instants`).
"""

from __future__ import annotations

import functools
import re
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from azof.errors import AzofError, InvalidArgumentError

__all__ = [
    "AS_OF_WORDS",
    "ISO_PATTERN",
    "MAX_EVENT_INSTANT",
    "MAX_INSTANT",
    "MIN_EVENT_INSTANT",
    "MIN_INSTANT",
    "Instant",
    "TimeLike",
    "as_of_units",
    "check_event_instants",
    "clamp_instant",
    "describe_instant",
    "event_range_text",
    "event_range_units",
    "exact_units",
    "format_instant",
    "instant_to_datetime",
    "parse_as_of",
    "parse_duration",
    "parse_instant",
]

Instant = int
"""Nanoseconds since 1970-01-01T00:00:00Z."""

TimeLike = Any
"""What azof reads as an instant: an aware or naive ``datetime``, a ``date``, ISO-8601 text,
a ``pandas.Timestamp`` or a ``numpy.datetime64`` (see :func:`parse_instant`)."""

MIN_INSTANT: Instant = -(2**63) + 1
"""The earliest instant azof reads as of (an earlier ``as_of`` is clamped to it)."""
MAX_INSTANT: Instant = 2**63 - 1
"""The instant of the current state (+infinity); a later ``as_of`` is clamped to it."""
MIN_EVENT_INSTANT: Instant = -9_214_560_000_000_000_000
"""The earliest event time a table accepts: 1678-01-01T00:00:00Z."""
MAX_EVENT_INSTANT: Instant = 9_214_646_399_999_999_999
"""The latest event time a table accepts: 2261-12-31T23:59:59.999999999Z. Whole calendar
years inside the int64 nanoseconds (1677-09-21 to 2262-04-11): every instant azof derives
from an event time (the start of its year, quarter, week... in compaction's tree) is an
int64 too, and stays strictly between the read sentinels ``MIN_INSTANT``/``MAX_INSTANT``
and Arrow's null (NaT) ``-(2**63)``."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ISO_PATTERN = (
    r"^\s*(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)(?:[.,](?P<frac>\d{1,9}))?)?"
    r"\s*(?P<tz>Z|z|[+-]\d{2}(?::?\d{2})?)?\s*$"
)
"""The ISO-8601 text :func:`parse_instant` reads (also valid RE2, for Arrow's compute)."""
_ISO = re.compile(ISO_PATTERN)


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
    """RFC 3339 text in UTC with ``Z``: a 4-digit year, milliseconds, or more digits when
    needed (cached: snapshots repeat the same times, commit after commit). Every instant
    of years 0001-9999 can be written; :func:`parse_instant` reads each one back."""
    seconds, nanos = divmod(instant, 1_000_000_000)
    w = _EPOCH + timedelta(seconds=seconds)
    # not strftime("%Y"): it does not pad years before 1000 on every platform
    text = f"{w.year:04d}-{w.month:02d}-{w.day:02d}T{w.hour:02d}:{w.minute:02d}:{w.second:02d}"
    if nanos % 1_000_000 == 0:
        frac = f"{nanos // 1_000_000:03d}"
    elif nanos % 1_000 == 0:
        frac = f"{nanos // 1_000:06d}"
    else:
        frac = f"{nanos:09d}"
    return f"{text}.{frac}Z"


def describe_instant(instant: Instant) -> str:
    """Timestamp text of any instant, for messages: beyond years 0001-9999 the count of
    nanoseconds since the epoch."""
    try:
        return format_instant(instant)
    except (OverflowError, ValueError):
        return f"{instant} ns since 1970-01-01T00:00:00Z"


def clamp_instant(instant: Instant) -> Instant:
    """``instant`` within ``[MIN_INSTANT, MAX_INSTANT]``: as of any earlier time nothing has
    happened yet, as of any later time everything has."""
    return min(max(instant, MIN_INSTANT), MAX_INSTANT)


def as_of_units(instant: Instant, per_unit: int) -> int:
    """The as-of time ``instant`` in units of ``per_unit`` nanoseconds: clamped
    (:func:`clamp_instant`), then rounded down. The result fits an int64 for every unit."""
    return clamp_instant(instant) // per_unit


def event_range_units(per_unit: int) -> tuple[int, int]:
    """The least and greatest event time a column of ``per_unit`` nanoseconds holds, in
    its units (whole units inside ``[MIN_EVENT_INSTANT, MAX_EVENT_INSTANT]``)."""
    return -(-MIN_EVENT_INSTANT // per_unit), MAX_EVENT_INSTANT // per_unit


def event_range_text(per_unit: int) -> str:
    """The supported event times of a unit, as text for messages and docs."""
    low, high = event_range_units(per_unit)
    return f"{format_instant(low * per_unit)} to {format_instant(high * per_unit)}"


_UNIT_NAMES = {1: "ns", 1_000: "us", 1_000_000: "ms", 1_000_000_000: "s"}


def exact_units(
    instant: Instant, per_unit: int, what: str, error: type[AzofError] = InvalidArgumentError
) -> int:
    """``instant`` in units of ``per_unit`` nanoseconds, exactly: a finer instant is an
    ``error`` (:class:`~azof.errors.InvalidArgumentError`; a write never rounds silently)."""
    units, rest = divmod(instant, per_unit)
    if rest:
        unit = _UNIT_NAMES.get(per_unit, f"{per_unit} ns")
        raise error(
            f"{what}: {describe_instant(instant)} is finer than the column's unit ({unit}); "
            f"round it to whole {unit} first"
        )
    return units


def check_event_instants(
    least: Instant,
    greatest: Instant,
    per_unit: int,
    what: str,
    error: type[AzofError] = InvalidArgumentError,
) -> None:
    """Refuse event times outside ``[MIN_EVENT_INSTANT, MAX_EVENT_INSTANT]`` (the least and
    greatest of a column, as instants) with an ``error`` naming the first bad value and the
    range of a column of ``per_unit`` nanoseconds."""
    if least >= MIN_EVENT_INSTANT and greatest <= MAX_EVENT_INSTANT:
        return
    bad = least if least < MIN_EVENT_INSTANT else greatest
    raise error(
        f"{what}: event time {describe_instant(bad)} is outside the supported range "
        f"{event_range_text(per_unit)}; azof cannot store it"
    )


_DURATION_PART = r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)"
_DURATION = re.compile(rf"^(?:{_DURATION_PART}\s*)+$")
_DURATION_PARTS = re.compile(_DURATION_PART)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_ISO_DURATION = re.compile(
    r"^P(?!$)(?:(?P<w>\d+(?:[.,]\d+)?)W)?(?:(?P<d>\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+(?:[.,]\d+)?)H)?(?:(?P<m>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<s>\d+(?:[.,]\d+)?)S)?)?$",
    re.IGNORECASE,
)
_SECONDS = re.compile(r"^\d+(?:\.\d+)?$")


def _duration_seconds(text: str) -> float | None:
    """The seconds of a duration text, or ``None`` when it is not one (see parse_duration)."""
    text = text.strip()
    if _SECONDS.match(text):
        return float(text)
    if _DURATION.match(text):
        return sum(
            float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PARTS.findall(text)
        )
    iso = _ISO_DURATION.match(text)
    if iso:
        return sum(
            float(number.replace(",", ".")) * _UNIT_SECONDS[unit.lower()]
            for unit, number in iso.groupdict().items()
            if number is not None
        )
    return None


def parse_duration(value: Any, what: str = "duration") -> int:
    """Read a duration as nanoseconds: a ``timedelta``, a number of seconds (``int``,
    ``float`` or text such as ``'90'``), text with units (``'30s'``, ``'15m'``, ``'12h'``,
    ``'7d'``, ``'2w'``, combined as in ``'1h30m'``) or ISO-8601 (``'P7D'``, ``'PT90M'``,
    ``'P1DT12H'``; years and months are refused, their length varies)."""
    if isinstance(value, timedelta):
        return int(value.total_seconds() * 1_000_000_000)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and 0 <= value < float("inf"):  # NaN compares false
        return int(value * 1_000_000_000)
    if isinstance(value, str):
        seconds = _duration_seconds(value)
        if seconds is not None:
            return int(seconds * 1_000_000_000)
    raise InvalidArgumentError(
        f"{what}: cannot read {value!r} as a duration; use a timedelta, seconds (90), text "
        "such as '30s', '15m', '12h', '7d', '2w', '1h30m', or ISO-8601 such as 'P7D', 'PT90M'"
    )


AS_OF_WORDS = ("now", "today")
"""Words an ``as_of`` may be instead of an instant (see :func:`parse_as_of`)."""


def parse_as_of(value: Any, what: str = "as_of", *, now: Instant | None = None) -> Instant:
    """Read an event time: ``'now'`` (the current instant), ``'today'`` (midnight UTC of
    the current day) or anything :func:`parse_instant` reads. ``now`` fixes the current
    instant (default: the clock)."""
    if isinstance(value, str) and value.strip().lower() in AS_OF_WORDS:
        current = time.time_ns() if now is None else now
        if value.strip().lower() == "now":
            return current
        return current - current % 86_400_000_000_000
    return parse_instant(value, what)
