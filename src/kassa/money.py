"""Exact money: decimal rules of api §1.7 and ISO 4217 minor units (semantics §3.1-3.2)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

PRICE_MAX_FRACTION_DIGITS = 6
PRICE_LIMIT = Decimal(10) ** 15
ZERO = Decimal(0)

_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(),  # noqa: SIM905
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    **dict.fromkeys(["CLF", "UYW"], 4),
}


def minor_unit(currency: str | None) -> int:
    """Fractional digits allowed for payment amounts in ``currency`` (2 when unknown or unset)."""
    if not currency:
        return 2
    return _MINOR_UNITS.get(currency.upper(), 2)


def fraction_digits(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def price_problem(value: Decimal) -> str | None:
    """Why ``value`` is not a valid price component, or ``None`` when it is."""
    if value < 0:
        return "must not be negative"
    if fraction_digits(value) > PRICE_MAX_FRACTION_DIGITS:
        return f"must have at most {PRICE_MAX_FRACTION_DIGITS} fractional digits"
    if abs(value) >= PRICE_LIMIT:
        return "must be less than 10^15"
    return None


def fits_minor_unit(value: Decimal, currency: str | None) -> bool:
    return fraction_digits(value) <= minor_unit(currency)


def exact_sum(values: Iterable[Decimal | int]) -> Decimal:
    total = ZERO
    for value in values:
        total += value
    return total


def as_decimal(value: object) -> Decimal:
    """A stored JSON number (int or Decimal) as Decimal; absent or other types count as 0."""
    if isinstance(value, bool):
        return ZERO
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    return ZERO


def split_units(value: Decimal) -> tuple[int, int]:
    """``value`` as (whole units, millionths) for exact storage in two integer columns."""
    micros = int((value * 1_000_000).to_integral_value())
    units, rest = divmod(micros, 1_000_000)
    return units, rest


def join_units(units: int | None, micros: int | None) -> Decimal:
    return Decimal(units or 0) + Decimal(micros or 0) / Decimal(1_000_000)
