"""Exact money (semantics §3.1-3.2, api §1.7), JSON in/out (api §1.6-1.7, §1.12) and timestamps
(api §1.8, list filter ``date_from``/``date_to`` of operation 2)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kassa import jsonutil, money, timeutil
from kassa.jsonutil import JSONError

# --- money --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "expected"),
    [
        ("SEK", 2),
        ("sek", 2),
        ("EUR", 2),
        ("USD", 2),
        ("JPY", 0),
        ("jpy", 0),
        ("KRW", 0),
        ("ISK", 0),
        ("KWD", 3),
        ("Kwd", 3),
        ("BHD", 3),
        ("TND", 3),
        ("CLF", 4),
        ("UYW", 4),
        ("XYZ", 2),
        ("", 2),
        (None, 2),
    ],
)
def test_minor_unit(currency: str | None, expected: int) -> None:
    assert money.minor_unit(currency) == expected


def test_minor_unit_tables_of_spec() -> None:
    zero = ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"]
    zero += ["RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"]
    three = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]
    four = ["CLF", "UYW"]
    assert all(money.minor_unit(c) == 0 for c in zero)
    assert all(money.minor_unit(c) == 3 for c in three)
    assert all(money.minor_unit(c) == 4 for c in four)
    assert all(money.minor_unit(c) == 2 for c in ["NOK", "DKK", "GBP", "CHF"])


@pytest.mark.parametrize(
    ("value", "currency", "fits"),
    [
        ("10.50", "SEK", True),
        ("10.5", "SEK", True),
        ("10.505", "SEK", False),
        ("10.500", "SEK", True),  # 10.500 * 100 is an integer
        ("10", "JPY", True),
        ("10.0", "JPY", True),
        ("10.5", "JPY", False),
        ("1.234", "KWD", True),
        ("1.2345", "KWD", False),
        ("1.2345", "CLF", True),
        ("1.23456", "CLF", False),
        ("1.23", None, True),
        ("1.234", None, False),
        ("1.234", "XYZ", False),
        ("0", "JPY", True),
        ("1E+3", "JPY", True),
    ],
)
def test_fits_minor_unit(value: str, currency: str | None, fits: bool) -> None:
    assert money.fits_minor_unit(Decimal(value), currency) is fits


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0", None),
        ("12.5", None),
        ("0.000001", None),
        ("1.1234560", None),  # 6 digits after canonicalisation
        ("999999999999999.999999", None),
        ("-0.01", "negative"),
        ("-1", "negative"),
        ("0.0000001", "fractional"),
        ("1.1234567", "fractional"),
        ("1000000000000000", "10^15"),
        ("1E+15", "10^15"),
    ],
)
def test_price_problem(value: str, problem: str | None) -> None:
    found = money.price_problem(Decimal(value))
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_exact_sum_and_as_decimal() -> None:
    assert money.exact_sum([Decimal("0.1")] * 10) == Decimal(1)
    assert money.exact_sum([]) == 0
    assert money.as_decimal(Decimal("1.5")) == Decimal("1.5")
    assert money.as_decimal(3) == Decimal(3)
    assert isinstance(money.as_decimal(3), Decimal)
    assert money.as_decimal(None) == 0
    assert money.as_decimal(True) == 0
    assert money.as_decimal("5") == 0


def test_split_join_examples() -> None:
    assert money.split_units(Decimal("12.345678")) == (12, 345678)
    assert money.split_units(Decimal("987.20")) == (987, 200000)
    assert money.split_units(Decimal(0)) == (0, 0)
    assert money.join_units(12, 345678) == Decimal("12.345678")
    assert money.join_units(None, None) == 0
    assert money.join_units(5, None) == 5


price_decimals = st.decimals(
    min_value=Decimal("-999999999999999.999999"),
    max_value=Decimal("999999999999999.999999"),
    places=6,
    allow_nan=False,
    allow_infinity=False,
)


@given(price_decimals)
@settings(max_examples=200, deadline=None)
def test_split_join_round_trip(value: Decimal) -> None:
    units, micros = money.split_units(value)
    assert isinstance(units, int)
    assert isinstance(micros, int)
    assert 0 <= micros < 1_000_000
    back = money.join_units(units, micros)
    assert isinstance(back, Decimal)
    assert back == value


@given(st.integers(min_value=-(10**15), max_value=10**15), st.integers(0, 999_999))
@settings(max_examples=200, deadline=None)
def test_join_split_round_trip(units: int, micros: int) -> None:
    assert money.split_units(money.join_units(units, micros)) == (units, micros)


# --- JSON in ------------------------------------------------------------------------------------


def test_parse_body_decimals_exact() -> None:
    value = jsonutil.parse_body(b'{"a": 0.1, "b": 987.20, "c": 10, "d": 1E+2, "e": -0.0}')
    assert value["a"] == Decimal("0.1")
    assert isinstance(value["a"], Decimal)
    assert value["b"] == Decimal("987.20")
    assert isinstance(value["b"], Decimal)
    assert value["c"] == 10
    assert isinstance(value["c"], int)
    assert value["d"] == 100
    assert not isinstance(value["d"], float)
    assert value["e"] == 0
    assert not isinstance(value["e"], float)


def test_parse_body_point_one_is_exact_decimal() -> None:
    value = jsonutil.parse_body(b"0.1")
    assert isinstance(value, Decimal)
    assert value == Decimal("0.1")
    assert value != Decimal(float("0.1"))  # the binary float 0.1 is a different number
    total = jsonutil.parse_body(b"[0.1, 0.2]")
    assert total[0] + total[1] == Decimal("0.3")


def test_parse_body_many_digits_exact() -> None:
    text = "123456789012345678901234567890.123456789"
    assert jsonutil.parse_body(text.encode()) == Decimal(text)
    assert jsonutil.parse_body(b"123456789012345678901234567890") == 123456789012345678901234567890


@pytest.mark.parametrize(
    "raw",
    [b"NaN", b"Infinity", b"-Infinity", b'{"a": NaN}', b"[1, Infinity]", b'{"a": -Infinity}'],
)
def test_parse_body_rejects_non_finite(raw: bytes) -> None:
    with pytest.raises(JSONError):
        jsonutil.parse_body(raw)


def nested(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * (depth - 1) + b"{}" + b"}" * (depth - 1)


@pytest.mark.parametrize("kind", ["list", "object"])
def test_parse_body_depth_64_ok_65_rejected(kind: str) -> None:
    jsonutil.parse_body(nested(64, kind))
    with pytest.raises(JSONError):
        jsonutil.parse_body(nested(65, kind))


def test_parse_body_mixed_depth() -> None:
    ok = b'{"a":' + b"[" * 63 + b"]" * 63 + b"}"
    jsonutil.parse_body(ok)
    deep = b'{"a":' + b"[" * 64 + b"]" * 64 + b"}"
    with pytest.raises(JSONError):
        jsonutil.parse_body(deep)


def test_parse_body_very_deep_is_json_error_not_crash() -> None:
    with pytest.raises(JSONError):
        jsonutil.parse_body(b"[" * 100_000 + b"]" * 100_000)


@pytest.mark.parametrize("raw", [b'{"a": "\xff"}', b"\xc3\x28", '"värde"'.encode("latin-1")])
def test_parse_body_rejects_non_utf8(raw: bytes) -> None:
    with pytest.raises(JSONError):
        jsonutil.parse_body(raw)


def test_parse_body_utf8_text_round_trips() -> None:
    value = jsonutil.parse_body('{"k": "värde"}'.encode())
    assert value == {"k": "värde"}
    assert json.loads(jsonutil.dumps(value)) == {"k": "värde"}


@pytest.mark.parametrize("raw", [b"", b"{", b'{"a": 1,}', b"[1 2]", b"{'a': 1}"])
def test_parse_body_rejects_malformed(raw: bytes) -> None:
    with pytest.raises(JSONError):
        jsonutil.parse_body(raw)


# --- JSON out -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("987.20"), b"987.2"),
        (Decimal("20.0"), b"20"),
        (Decimal("20"), b"20"),
        (Decimal("12.5"), b"12.5"),
        (Decimal("1E+2"), b"100"),
        (Decimal("1.0E+2"), b"100"),
        (Decimal("-0"), b"0"),
        (Decimal("-0.00"), b"0"),
        (Decimal("0.000"), b"0"),
        (Decimal("0.000001"), b"0.000001"),
        (Decimal("1E-7"), b"0.0000001"),
        (Decimal("-12.50"), b"-12.5"),
        (Decimal("999999999999999.999999"), b"999999999999999.999999"),
        (20, b"20"),
    ],
)
def test_dumps_canonical_numbers(value: Any, text: bytes) -> None:
    assert jsonutil.dumps(value) == text
    assert jsonutil.dumps({"n": value}) == b'{"n":' + text + b"}"


CANONICAL_NUMBER = re.compile(rb"^-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$")


@pytest.mark.parametrize("value", [2**63, 2**64 + 1, -(2**63) - 1, -(10**27) - 7, 10**30 + 1])
def test_dumps_huge_integers_round_trip(value: int) -> None:
    text = jsonutil.dumps(value)
    assert CANONICAL_NUMBER.match(text), text
    assert int(text) == value
    assert jsonutil.loads(jsonutil.dumps({"big": [value]})) == {"big": [value]}


def test_dumps_never_rounds_long_decimals() -> None:
    # more significant digits than the default decimal context (28) holds
    text = "1.0000000000000000000000000000001"
    out = jsonutil.dumps(Decimal(text))
    assert CANONICAL_NUMBER.match(out), out
    assert Decimal(out.decode()) == Decimal(text)


def test_dumps_rejects_non_finite_decimal() -> None:
    with pytest.raises(TypeError):
        jsonutil.dumps(Decimal("NaN"))
    with pytest.raises(TypeError):
        jsonutil.dumps([Decimal("Infinity")])


def test_loads_exact() -> None:
    assert jsonutil.loads(b'{"a": 0.1}') == {"a": Decimal("0.1")}
    assert isinstance(jsonutil.loads("1.5"), Decimal)


def test_canonical_and_json_equal() -> None:
    a = {"b": [Decimal("12.50"), {"y": 1, "x": 2}], "a": Decimal("1E+2")}
    b = {"a": 100, "b": [Decimal("12.5"), {"x": 2, "y": 1}]}
    assert jsonutil.canonical(a) == jsonutil.canonical(b)
    assert jsonutil.canonical(a) == b'{"a":100,"b":[12.5,{"x":2,"y":1}]}'
    assert jsonutil.json_equal(a, b)
    assert not jsonutil.json_equal({"a": Decimal("12.5")}, {"a": Decimal("12.51")})
    assert not jsonutil.json_equal([1, 2], [2, 1])


# any finite decimal, any number of digits: every JSON number must read back equal (api §1.7)
finite_decimals = st.decimals(allow_nan=False, allow_infinity=False)
# up to 21 significant digits in varied spellings (1E+5, 12.500, -0.0): the structural properties
# below should not depend on the long-number case, which test_decimal_round_trip_property covers
spelled_decimals = st.builds(
    lambda digits, exponent: Decimal(digits).scaleb(exponent),
    st.integers(min_value=-(10**21) + 1, max_value=10**21 - 1),
    st.integers(min_value=-12, max_value=12),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**27), max_value=10**27),
    spelled_decimals,
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(max_size=8), children, max_size=5),
    ),
    max_leaves=25,
)


def numerically_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b
    if isinstance(a, int | Decimal) and isinstance(b, int | Decimal):
        return not isinstance(a, float) and not isinstance(b, float) and Decimal(a) == Decimal(b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(numerically_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(numerically_equal(a[k], b[k]) for k in a)
    return False


@given(finite_decimals)
@settings(max_examples=200, deadline=None)
def test_decimal_round_trip_property(value: Decimal) -> None:
    text = jsonutil.dumps(value)
    assert CANONICAL_NUMBER.match(text), text
    back = jsonutil.loads(text)
    assert not isinstance(back, float)
    assert back == value


@given(json_values)
@settings(max_examples=150, deadline=None)
def test_json_round_trip_property(value: Any) -> None:
    back = jsonutil.loads(jsonutil.dumps(value))
    assert numerically_equal(back, value)
    # parse_body accepts what dumps writes (depth permitting) with the same result
    assert numerically_equal(jsonutil.parse_body(jsonutil.dumps(value)), value)


def reorder(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: reorder(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reorder(v) for v in value]
    if isinstance(value, Decimal) and value.is_finite() and not value.is_zero():
        # same number, different spelling: one more trailing zero (exact, no context rounding)
        sign, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)
        return Decimal((sign, (*digits, 0), exponent - 1))
    return value


@given(json_values)
@settings(max_examples=150, deadline=None)
def test_canonical_ignores_key_order_and_spelling(value: Any) -> None:
    other = reorder(value)
    assert jsonutil.canonical(other) == jsonutil.canonical(value)
    assert jsonutil.json_equal(other, value)


# --- timestamps ---------------------------------------------------------------------------------

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
