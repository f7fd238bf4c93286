"""What a payment adapter's payment must cover (adapters.md §2.4): a pure function."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kassa import jsonutil
from kassa.money import ZERO, as_decimal, minor_unit


def remainder(order: Mapping[str, Any], payment_id: str | None = None) -> Decimal:
    """``max(0, total.includingVat - Σ amount of the other payments that count)``, half-up to
    the currency's minor unit. Counted: not ``removed`` and not of type ``default`` (part
    payments such as vouchers reduce it; a second ``default`` payment does not)."""
    total = as_decimal((order.get("total") or {}).get("includingVat"))
    others = ZERO
    for payment in order.get("payments") or []:
        if payment.get("id") == payment_id:
            continue
        if payment.get("state") == "removed" or payment.get("type", "default") == "default":
            continue
        others += as_decimal(payment.get("amount"))
    quantum = Decimal(1).scaleb(-minor_unit(order.get("currency")))
    value = max(ZERO, total - others).quantize(quantum, rounding=ROUND_HALF_UP)
    return value if value != value.to_integral_value() else value.quantize(Decimal(1))


def amount_patch(
    order: Mapping[str, Any], payment_id: str, states: Collection[str]
) -> list[dict[str, Any]]:
    """A payment adapter's /total and /payments hook answer: while the payment is in one of
    ``states``, replace its amount by the remainder if they differ; else no change."""
    for i, payment in enumerate(order.get("payments") or []):
        if not isinstance(payment, dict) or payment.get("id") != payment_id:
            continue
        if payment.get("state") not in states:
            return []
        due = remainder(order, payment_id)
        if jsonutil.json_equal(due, payment.get("amount")):
            return []
        return [{"op": "replace", "path": f"/payments/{i}/amount", "value": due}]
    return []
