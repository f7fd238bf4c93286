"""Pure payment rules: the payment state machine (semantics §2), money rules (§3.2-3.3, §3.7)
and the ledger (§3.5). No I/O."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kassa import money
from kassa.errors import InvalidAmount, InvalidStateTransition, KassaError, field_error
from kassa.orders.document import LedgerEntry, Meta, Order, Payment
from kassa.schemas_common import PaymentEvent, PaymentState

P = PaymentState

PAYMENT_TRANSITIONS: Mapping[PaymentState, frozenset[PaymentState]] = {
    P.intent: frozenset(
        {P.processing, P.pending, P.confirmed, P.reserved, P.captured}
        | {P.declined, P.failed, P.cancelled, P.removed}
    ),
    P.processing: frozenset(
        {P.intent, P.pending, P.confirmed, P.reserved, P.captured}
        | {P.declined, P.failed, P.cancelled, P.removed}
    ),
    P.pending: frozenset(
        {P.processing, P.confirmed, P.reserved, P.captured}
        | {P.declined, P.failed, P.cancelled, P.removed}
    ),
    P.confirmed: frozenset({P.reserved, P.captured, P.declined, P.failed, P.cancelled, P.removed}),
    P.reserved: frozenset({P.captured, P.cancelled, P.failed}),
    P.captured: frozenset({P.credited, P.refunded}),
    P.credited: frozenset({P.refunded}),
    P.declined: frozenset({P.intent, P.removed}),
    P.failed: frozenset({P.intent, P.removed}),
    P.cancelled: frozenset({P.removed}),
    P.refunded: frozenset(),
    P.removed: frozenset(),
}

MAX_PAYMENTS = 50
MAX_ACTIONS = 50
MAX_TRANSACTIONS = 1000


class AmountExceedsUpperLimit(KassaError):
    code, status, default_message = (
        "amount-exceeds-upper-limit",
        400,
        "The payment amount exceeds its upperLimitAmount.",
    )


class CurrencyMismatch(KassaError):
    code, status, default_message = (
        "currency-mismatch",
        400,
        "The payment currency differs from the order currency.",
    )


class AmountBelowCaptured(KassaError):
    code, status = "amount-below-captured", 409

    def __init__(self, captured: Decimal) -> None:
        super().__init__(
            f"The payment amount cannot be lower than the captured sum {captured}.",
            captured=captured,
        )


class AmountExceedsReserved(KassaError):
    code, status = "amount-exceeds-reserved", 409

    def __init__(self, available: Decimal) -> None:
        super().__init__(
            f"The capture exceeds the payment amount; {available} is available.",
            available=available,
        )


class AmountExceedsCaptured(KassaError):
    code, status = "amount-exceeds-captured", 409

    def __init__(self, available: Decimal) -> None:
        super().__init__(
            f"The refund exceeds the captured sum; {available} is available.", available=available
        )


def payment_move_allowed(current: PaymentState, requested: PaymentState) -> bool:
    return current == requested or requested in PAYMENT_TRANSITIONS[current]


def check_payment_move(current: str, requested: str, *, enforce: bool = True) -> None:
    if enforce and not payment_move_allowed(PaymentState(current), PaymentState(requested)):
        raise InvalidStateTransition(current, requested)


def check_currency(order: Order, payment: Payment) -> None:
    """Default the payment currency to the order's; refuse a different one (§3.3)."""
    order_currency = order.get("currency")
    if not order_currency:
        return
    currency = payment.get("currency")
    if currency is None:
        payment["currency"] = order_currency
    elif currency.lower() != order_currency.lower():
        raise CurrencyMismatch(
            f"The payment currency {currency} differs from the order currency {order_currency}."
        )


def currency_for(order: Order, payment: Payment | None = None) -> str | None:
    currency = order.get("currency") or (payment.get("currency") if payment else None)
    return str(currency) if currency else None


def check_minor_units(values: Mapping[str, Any], currency: str | None, base_path: str = "") -> None:
    """Payment and transaction amounts must fit the currency's minor unit (§3.2)."""
    errors = []
    for name, value in values.items():
        if value is None:
            continue
        if not money.fits_minor_unit(money.as_decimal(value), currency):
            digits = money.minor_unit(currency)
            errors.append(
                field_error(f"{base_path}/{name}", f"must have at most {digits} decimals")
            )
    if errors:
        raise InvalidAmount(
            f"Amount does not fit the minor unit of {currency or 'the currency'}.", errors=errors
        )


def check_payment_amounts(payment: Payment, captured: Decimal) -> None:
    amount = money.as_decimal(payment.get("amount"))
    limit = payment.get("upperLimitAmount")
    if limit is not None and amount > money.as_decimal(limit):
        raise AmountExceedsUpperLimit(
            f"The payment amount {amount} exceeds its upperLimitAmount {limit}."
        )
    if amount < captured:
        raise AmountBelowCaptured(captured)


# The ledger (§3.5) ----------------------------------------------------------------------------


def ledger_of(meta: Meta, payment_id: str) -> LedgerEntry:
    """Running sums of one payment, kept in the order's metadata beside the document."""
    ledgers = meta.setdefault("ledger", {})
    ledger = ledgers.setdefault(
        payment_id, {"captured": "0", "refunded": "0", "captures": 0, "count": 0}
    )
    return ledger


def captured_of(meta: Meta, payment_id: str) -> Decimal:
    ledger = (meta.get("ledger") or {}).get(payment_id)
    return Decimal(ledger["captured"]) if ledger else money.ZERO


def has_captures(meta: Meta) -> bool:
    return any(entry.get("captures", 0) > 0 for entry in (meta.get("ledger") or {}).values())


def apply_transaction(
    ledger: LedgerEntry, payment_amount: Decimal, event: str, amount: Decimal, success: bool
) -> None:
    """Check the invariants and add one transaction to the running sums, or raise."""
    captured, refunded = Decimal(ledger["captured"]), Decimal(ledger["refunded"])
    if success and event == PaymentEvent.capture:
        if captured + amount > payment_amount:
            raise AmountExceedsReserved(payment_amount - captured)
        ledger["captured"] = str(captured + amount)
        ledger["captures"] += 1
    elif success and event == PaymentEvent.refund:
        if refunded + amount > captured:
            raise AmountExceedsCaptured(captured - refunded)
        ledger["refunded"] = str(refunded + amount)
    ledger["count"] += 1
