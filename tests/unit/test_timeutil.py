"""Timestamps (api §1.8) and the list filter bounds ``date_from``/``date_to`` of operation 2, in
``kassa.timeutil``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kassa import timeutil

STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def test_fmt_milliseconds_and_z() -> None:
    moment = datetime(2026, 1, 12, 8, 21, 29, 123456, tzinfo=UTC)
    assert timeutil.fmt(moment) == "2026-01-12T08:21:29.123Z"
    assert timeutil.fmt(datetime(2026, 1, 12, 8, 21, 29, tzinfo=UTC)) == "2026-01-12T08:21:29.000Z"


def test_fmt_converts_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    moment = datetime(2026, 1, 12, 1, 0, 0, 5000, tzinfo=plus_two)
    assert timeutil.fmt(moment) == "2026-01-11T23:00:00.005Z"


def test_now_has_millisecond_precision() -> None:
    moment = timeutil.now()
    assert moment.tzinfo is not None
    assert moment.utcoffset() == timedelta(0)
    assert moment.microsecond % 1000 == 0
    text = timeutil.fmt(moment)
    assert STAMP.match(text)
    assert timeutil.parse_stamp(text) == moment


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 1, tzinfo=UTC).replace(tzinfo=None),
        max_value=datetime(9998, 12, 31, tzinfo=UTC).replace(tzinfo=None),
    )
)
@settings(max_examples=100, deadline=None)
def test_fmt_parse_stamp_round_trip(naive: datetime) -> None:
    moment = naive.replace(tzinfo=UTC, microsecond=naive.microsecond // 1000 * 1000)
    text = timeutil.fmt(moment)
    assert STAMP.match(text), text
    assert timeutil.is_rfc3339(text)
    assert timeutil.parse_stamp(text) == moment


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("2026-01-12T08:21:29.123Z", True),
        ("2026-01-12T08:21:29Z", True),
        ("2026-01-12T08:21:29+02:00", True),
        ("2026-01-12T08:21:29.5-05:30", True),
        ("2026-01-12t08:21:29z", True),
        ("2026-01-12", False),
        ("2026-01-12T08:21:29", False),  # no offset
        ("2026-13-12T08:21:29Z", False),
        ("2026-02-30T00:00:00Z", False),
        ("2026-01-12T25:00:00Z", False),
        ("12/01/2026", False),
        ("", False),
        ("2026-01-12T08:21Z", False),
    ],
)
def test_is_rfc3339(text: str, ok: bool) -> None:
    assert timeutil.is_rfc3339(text) is ok


def test_parse_bound_date_lower_is_midnight() -> None:
    assert timeutil.parse_bound("2026-01-12", upper=False) == ("2026-01-12T00:00:00.000Z", False)


def test_parse_bound_date_upper_is_next_day_exclusive() -> None:
    assert timeutil.parse_bound("2026-01-12", upper=True) == ("2026-01-13T00:00:00.000Z", True)
    assert timeutil.parse_bound("2026-12-31", upper=True) == ("2027-01-01T00:00:00.000Z", True)
    assert timeutil.parse_bound("2024-02-28", upper=True) == ("2024-02-29T00:00:00.000Z", True)


def test_parse_bound_date_time_is_itself() -> None:
    for upper in (False, True):
        assert timeutil.parse_bound("2026-01-12T08:00:00+02:00", upper=upper) == (
            "2026-01-12T06:00:00.000Z",
            False,
        )
        assert timeutil.parse_bound("2026-01-12T08:00:00Z", upper=upper) == (
            "2026-01-12T08:00:00.000Z",
            False,
        )
        # date-times without offset are UTC (op 2)
        assert timeutil.parse_bound("2026-01-12T08:00:00", upper=upper) == (
            "2026-01-12T08:00:00.000Z",
            False,
        )


def test_parse_bound_lower_rounds_sub_milliseconds_up() -> None:
    assert timeutil.parse_bound("2026-01-12T08:00:00.1234Z", upper=False) == (
        "2026-01-12T08:00:00.124Z",
        False,
    )
    assert timeutil.parse_bound("2026-01-12T08:00:00.1234Z", upper=True) == (
        "2026-01-12T08:00:00.123Z",
        False,
    )


def test_parse_bound_clamps_the_ends_of_time() -> None:
    assert timeutil.parse_bound("9999-12-31", upper=True) == ("9999-12-31T23:59:59.999Z", False)
    assert timeutil.parse_bound("0001-01-01T00:00:00+01:00", upper=False)[0] < "0001"


def test_parse_bound_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        timeutil.parse_bound("2026-13-45", upper=False)
    with pytest.raises(ValueError):
        timeutil.parse_bound("yesterday", upper=True)


def test_stamps_sort_as_text() -> None:
    early = timeutil.fmt(datetime(2026, 1, 12, 8, 0, 0, tzinfo=UTC))
    late = timeutil.fmt(datetime(2026, 1, 12, 8, 0, 0, 1000, tzinfo=UTC))
    assert early < late
    assert early < timeutil.parse_bound("2026-01-12", upper=True)[0]


def test_now_text_is_fmt_of_the_current_moment() -> None:
    for _ in range(2000):  # long enough to cross a millisecond, often a second boundary
        before = timeutil.fmt(timeutil.now())
        text = timeutil.now_text()
        after = timeutil.fmt(timeutil.now())
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", text), text
        assert before <= text <= after
        assert timeutil.fmt(timeutil.parse_stamp(text)) == text
