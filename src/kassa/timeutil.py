"""Timestamps as kassa writes them: RFC 3339, UTC, millisecond precision, ``Z`` suffix."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
)


def now() -> datetime:
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def fmt(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_second: tuple[int, str] = (-1, "")


def now_text() -> str:
    """``fmt(now())``, without building a datetime: the text up to the second is remembered
    for as long as the second lasts (a change stamps its write time on every request)."""
    global _second
    milliseconds = time.time_ns() // 1_000_000  # whole numbers: truncated like ``now``
    second, millisecond = divmod(milliseconds, 1000)
    cached = _second
    if cached[0] != second:
        cached = _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second)))
    return f"{cached[1]}{millisecond:03d}Z"


def parse_stamp(text: str) -> datetime:
    """Parse a timestamp written by ``fmt``."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def is_rfc3339(text: str) -> bool:
    if not _RFC3339.match(text):
        return False
    try:
        datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return False
    return True


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BOUND = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$")
_LOWEST = "0000-01-01T00:00:00.000Z"
_HIGHEST = "9999-12-31T23:59:59.999Z"


def parse_bound(text: str, *, upper: bool) -> tuple[str, bool]:
    """A ``date_from``/``date_to`` value as a bound on ``fmt`` strings.

    Returns the bound and whether it is exclusive (a date-only upper bound means "before the
    next day"). A lower bound finer than milliseconds is rounded up, so ``created >= bound``
    stays exact; bounds outside the representable years are clamped. Raises ``ValueError``
    for anything but an RFC 3339 date or date-time.
    """
    if _DATE.match(text):
        day = date.fromisoformat(text)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if not upper:
            return fmt(start), False
        try:
            return fmt(start + timedelta(days=1)), True
        except OverflowError:
            return _HIGHEST, False
    if not _BOUND.match(text):
        raise ValueError(f"not an RFC 3339 date or date-time: {text!r}")
    moment = datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
    if moment.tzinfo is None:  # date-times without offset are UTC
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        return (_HIGHEST if moment.year > 1 else _LOWEST), False
    if not upper and moment.microsecond % 1000:
        try:
            moment += timedelta(microseconds=1000 - moment.microsecond % 1000)
        except OverflowError:
            return _HIGHEST, False
    return fmt(moment), False
