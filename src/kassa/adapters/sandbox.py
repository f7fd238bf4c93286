"""The pure part of the sandbox card PSP (adapters.md §5): scenarios and test cards, the
action list of a payment state, challenge tokens, the ledger sums and the callbacks' answers.

No I/O here: the routes (``kassa.adapters.sandbox_psp``) read the order and write through the
Order API; everything they decide comes from these functions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

from kassa.adapters import documents
from kassa.adapters.documents import status_of
from kassa.adapters.errors import PaymentNotFound
from kassa.adapters.remainder import amount_patch
from kassa.errors import KassaError

ADAPTER_ID = "kassa_sandbox_psp_adapter"
ORDERS = "/api/checkout/v1/orders/{order_id}/payments"
CALLBACKS = "/api/checkout/v1/callback/orders/{order_id}/payments/{payment_id}"
ACTIONS = "/api/order/v1/orders/{order_id}/payments/{payment_id}"
CHALLENGE = "/sandbox/challenge/{token}"

SCENARIOS = ("approve", "decline", "redirect", "pending", "review")
RESULTS = {
    "approve": "approved",
    "decline": "declined",
    "redirect": "redirect",
    "pending": "pending",
    "review": "review",
}

# Test cards, in the manner of Stripe's: the number picks the scenario (spaces and dashes ignored)
TEST_CARDS: dict[str, str] = {
    "4242424242424242": "approve",
    "5555555555554444": "approve",
    "4000000000000002": "decline",
    "4000000000009995": "decline",
    "4000000000003220": "redirect",
    "4000000000000077": "pending",
    "4000000000000259": "review",
}

CHALLENGE_TTL_S = 30 * 60
_IN_PROGRESS = {"processing", "pending"}
RESOLVED = {"reserved", "captured", "credited", "refunded"}  # authorised, whatever came after


class PaymentInProgress(KassaError):
    code, status, default_message = (
        "payment-in-progress",
        409,
        "An authorisation of this payment is running.",
    )

    def __init__(self, state: str, message: str | None = None) -> None:
        super().__init__(message, state=state)


class ActionNotAvailable(KassaError):
    code, status, default_message = (
        "action-not-available",
        409,
        "This action is not available in the payment's state.",
    )

    def __init__(self, state: str, message: str | None = None) -> None:
        super().__init__(message, state=state)


# scenarios ---------------------------------------------------------------------------------------


def card_scenario(number: str) -> str | None:
    digits = "".join(c for c in number if c not in " -")
    return TEST_CARDS.get(digits)


def scenario_of(body: Any, default: str) -> str:
    """P3's scenario: ``scenario``, else ``cardNumber`` (a test card), else the default.
    Raises ``ValueError`` with the pointer and problem when the body names none we know."""
    if body is None:
        return default
    if not isinstance(body, dict):
        raise ValueError("", "the body must be a JSON object")
    scenario = body.get("scenario")
    card = body.get("cardNumber")
    if scenario is not None:
        if not isinstance(scenario, str) or scenario not in SCENARIOS:
            raise ValueError("/scenario", "must be one of " + ", ".join(SCENARIOS))
        if card is not None and (not isinstance(card, str) or card_scenario(card) != scenario):
            raise ValueError("/cardNumber", "names another scenario than scenario")
        return scenario
    if card is not None:
        found = card_scenario(card) if isinstance(card, str) else None
        if found is None:
            raise ValueError("/cardNumber", "not a sandbox test card")
        return found
    return default


# the payment and its ledger ----------------------------------------------------------------------


def own(payment: Any) -> dict[str, Any]:
    mine = ((payment.get("attributes") or {}) if isinstance(payment, dict) else {}).get(ADAPTER_ID)
    return dict(mine) if isinstance(mine, dict) else {}


def with_own(payment: dict[str, Any], **values: Any) -> dict[str, Any]:
    attributes = dict(payment.get("attributes") or {})
    attributes[ADAPTER_ID] = {**own(payment), **values}
    return {**payment, "attributes": attributes}


def current_payment(order: dict[str, Any]) -> dict[str, Any] | None:
    return documents.current(order, "payments", ADAPTER_ID)


def sums(transactions: list[dict[str, Any]]) -> tuple[Decimal, Decimal]:
    """(captured, refunded) of a payment's ledger (semantics §3.5)."""
    captured = refunded = Decimal(0)
    for t in transactions:
        if t.get("isSuccess") is not True:
            continue
        amount = Decimal(str(t.get("amount") or 0))
        if t.get("event") == "capture":
            captured += amount
        elif t.get("event") == "refund":
            refunded += amount
    return captured, refunded


def action_types(state: str, amount: Decimal, captured: Decimal) -> list[str]:
    """§5.3: the actions a payment in ``state`` offers."""
    if state == "reserved":
        return ["capture", "cancel", "refresh"]
    if state == "captured":
        return (["capture"] if captured < amount else []) + ["refund", "refresh"]
    if state == "credited":
        return ["refund", "refresh"]
    return ["refresh"]


def actions_for(
    callback_base: str,
    order_id: str,
    payment: dict[str, Any],
    state: str,
    captured: Decimal,
) -> list[dict[str, Any]]:
    """The new ``actions`` list, keeping the ids of unchanged elements (semantics §3.7)."""
    base = callback_base + ACTIONS.format(order_id=order_id, payment_id=payment["id"])
    amount = Decimal(str(payment.get("amount") or 0))
    existing = {
        (a.get("type"), a.get("url")): a.get("id")
        for a in payment.get("actions") or []
        if isinstance(a, dict)
    }
    found: list[dict[str, Any]] = []
    for kind in action_types(state, amount, captured):
        url = f"{base}/{kind}"
        action: dict[str, Any] = {"adapterId": ADAPTER_ID, "type": kind, "url": url}
        if existing.get((kind, url)):
            action = {"id": existing[(kind, url)], **action}
        found.append(action)
    return found


def same_actions(a: Any, b: list[dict[str, Any]]) -> bool:
    def key(actions: Any) -> list[tuple[Any, Any]]:
        return [(x.get("type"), x.get("url")) for x in actions or [] if isinstance(x, dict)]

    return key(a) == key(b)


def view(payment: dict[str, Any], redirect_url: str | None = None) -> dict[str, Any]:
    """SandboxPayment (P1, P2)."""
    body: dict[str, Any] = {
        "paymentId": payment["id"],
        "state": payment.get("state"),
        "amount": payment.get("amount", 0),
        "currency": payment.get("currency"),
        "pspReference": payment.get("reference"),
    }
    scenario = own(payment).get("scenario")
    if isinstance(scenario, str):
        body["scenario"] = scenario
    if redirect_url is not None and payment.get("state") == "processing":
        body["redirectUrl"] = redirect_url
    return body


def psp_exchange(payment: dict[str, Any], attempt: int, outcome: str) -> tuple[str, str]:
    """The simulated PSP request and response of an authorisation, as JSON text."""
    request = {
        "pspReference": payment.get("reference"),
        "attempt": attempt,
        "amount": {"value": str(payment.get("amount", 0)), "currency": payment.get("currency")},
    }
    response = {
        "pspReference": payment.get("reference"),
        "resultCode": "Authorised" if outcome == "approve" else "Refused",
    }
    if outcome != "approve":
        response["refusalReason"] = "card_declined"
    return json.dumps(request, sort_keys=True), json.dumps(response, sort_keys=True)


def attempt_of(transaction: dict[str, Any]) -> int | None:
    try:
        request = json.loads(str(transaction.get("requestJson") or ""))
    except ValueError:
        return None
    attempt = request.get("attempt") if isinstance(request, dict) else None
    return attempt if isinstance(attempt, int) else None


# the order as the routes see it ------------------------------------------------------------------


def own_payment(order: dict[str, Any], payment_id: str) -> tuple[int, dict[str, Any]]:
    for i, payment in enumerate(order.get("payments") or []):
        if payment.get("id") == payment_id and payment.get("adapterId") == ADAPTER_ID:
            return i, dict(payment)
    raise PaymentNotFound(payment_id)


def callbacks_for(callback_base: str, order_id: str, payment_id: str) -> dict[str, list[Any]]:
    """The hooks, validation and notification of §5.6 for one payment, by order field."""
    base = callback_base + CALLBACKS.format(order_id=order_id, payment_id=payment_id)
    reference = f"{ADAPTER_ID}/{payment_id}/"
    hooks = [
        {
            "adapterId": ADAPTER_ID,
            "version": "v1",
            "scope": scope,
            "target": "/payments",
            "invoke": f"{base}/{callback}",
            "reference": reference + name,
        }
        for scope, callback, name in (
            ("/total", "update-payment", "update-payment-total"),
            ("/payments", "update-payment", "update-payment-payments"),
            ("/state", "state-changed", "state-changed"),
        )
    ]
    validation = {
        "adapterId": ADAPTER_ID,
        "invoke": f"{base}/validate",
        "description": "The sandbox payment can be authorised",
        "reference": reference + "validate",
    }
    notification = {
        "adapterId": ADAPTER_ID,
        "version": "v1",
        "scope": "/state/currentStatus",
        "schema": {"const": "completed"},
        "invoke": f"{base}/completed",
        "description": "Capture on completion when captureOnComplete is set",
        "reference": reference + "completed",
    }
    return {"hooks": hooks, "validations": [validation], "notifications": [notification]}


def authorize_result(payment: dict[str, Any], url: str | None) -> dict[str, Any]:
    state = str(payment.get("state"))
    scenario = own(payment).get("scenario")
    if state in RESOLVED:
        result = "approved"
    elif state == "declined":
        result = "declined"
    elif state == "processing":
        result = "redirect"
    elif scenario == "review":
        result = "review"
    else:
        result = "pending"
    body: dict[str, Any] = {"paymentId": payment["id"], "result": result, "state": state}
    if result == "redirect" and url is not None:
        body["redirectUrl"] = url
    return body


# the challenge token (§5.4) ----------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def challenge_key(adapter_key: str) -> bytes:
    """The token key, derived from the adapter's own key (itself derived from
    ``adapter_key_secret`` in-process), so every process agrees and a new secret voids tokens."""
    return hmac.new(adapter_key.encode(), b"sandbox-challenge-token", hashlib.sha256).digest()


def make_token(key: bytes, m: str, c: str, o: str, p: str, now: float) -> str:
    claims = {"m": m, "c": c, "o": o, "p": p, "exp": int(now) + CHALLENGE_TTL_S}
    payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    signature = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def read_token(key: bytes, token: str, now: float) -> dict[str, str] | None:
    """The claims of a valid, unexpired token; else ``None``."""
    payload, _, signature = token.partition(".")
    if not payload or not signature:
        return None
    expected = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature):
        return None
    try:
        claims = json.loads(_unb64(payload))
    except ValueError:
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int):
        return None
    if claims["exp"] < now or not all(isinstance(claims.get(k), str) for k in "mcop"):
        return None
    return {k: claims[k] for k in "mcop"}


# callbacks (pure functions of the body) ----------------------------------------------------------


def update_payment(order: dict[str, Any], payment_id: str) -> list[dict[str, Any]]:
    """The /total and /payments hooks: keep an ``intent`` payment equal to the remainder."""
    return amount_patch(order, payment_id, ("intent",))


def state_changed(order: dict[str, Any], payment_id: str) -> tuple[int, Any]:
    """The /state hook: (status, body). A running authorisation vetoes a return to checkout."""
    status = status_of(order)
    for i, payment in enumerate(order.get("payments") or []):
        if not isinstance(payment, dict) or payment.get("id") != payment_id:
            continue
        state = payment.get("state")
        if status == "checkout" and state in _IN_PROGRESS:
            return 409, {
                "code": "payment-in-progress",
                "message": "The sandbox payment is being authorised; it cannot be abandoned.",
                "state": state,
            }
        if status in {"declined", "removed"} and state == "intent":
            return 200, [{"op": "replace", "path": f"/payments/{i}/state", "value": "cancelled"}]
        return 200, []
    return 200, []


def validation_problem(
    order: dict[str, Any], payment_id: str, config: dict[str, Any] | None
) -> str | None:
    """Why the validation callback fails (``None``: it passes)."""
    if (config or {}).get("failValidation") is True:
        return "The sandbox configuration sets failValidation."
    for payment in order.get("payments") or []:
        if not isinstance(payment, dict) or payment.get("id") != payment_id:
            continue
        if payment.get("state") == "removed":
            return "The sandbox payment is removed."
        total = Decimal(str(((order.get("total") or {}).get("includingVat")) or 0))
        if Decimal(str(payment.get("amount") or 0)) == 0 and total > 0:
            return "The sandbox payment covers nothing."
        return None
    return "The sandbox payment is not on the order."
