"""Exact money (semantics §3.1-3.2, api §1.7): minor units, price rules, exact sums and
the units/micros split of ``kassa.money``."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kassa import money


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
