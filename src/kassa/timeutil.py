"""Timestamps as kassa writes them: RFC 3339, UTC, millisecond precision, ``Z`` suffix."""

from __future__ import annotations

import re
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


def parse_bound(text: str, *, upper: bool) -> str:
    """A ``date_from``/``date_to`` value as an exclusive-or-inclusive bound in ``fmt`` form.

    Returns the ``fmt`` string; for a date-only upper bound the next day's midnight is returned
    and the caller compares with ``<``.
    """
    if len(text) == 10:
        day = date.fromisoformat(text)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return fmt(start + timedelta(days=1) if upper else start)
    moment = datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return fmt(moment)
