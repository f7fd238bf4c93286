"""Transactions and action execution: the writes outside the order document (semantics §4.4, §8)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from kassa import http, ids, jsonutil, money, unit_of_work
from kassa.callbacks import callouts
from kassa.callbacks.kinds import ACTION
from kassa.errors import InvalidRequest, KassaError, LimitExceeded, field_error
from kassa.http import Call
from kassa.idempotency import Outcome
from kassa.orders import repository as repo
from kassa.orders import rules as order_rules
from kassa.orders import service
from kassa.orders.document import Meta, Order, Payment
from kassa.orders.model import Context
from kassa.orders.rules import Area
from kassa.payments import ledger, rules
from kassa.payments.mutations import find_action, find_payment
from kassa.schemas_common import PaymentEvent
from kassa.unit_of_work import Append, LedgerRow


class ActionFailed(KassaError):
    code, status = "action-failed", 502


def _transaction_doc(body: dict[str, Any], transaction_id: str, created: str) -> dict[str, Any]:
    order = (
        "id",
        "event",
        "pspEvent",
        "amount",
        "isSuccess",
        "errorDetail",
        "pspStatus",
        "requestJson",
        "responseJson",
        "created",
        "paymentAction",
    )
    doc = {**body, "id": transaction_id, "created": created}
    doc.setdefault("isSuccess", False)
    return {key: doc[key] for key in order if key in doc}


def _check_count(meta: Meta, payment_id: str) -> None:
    ledger_entry = (meta.get("ledger") or {}).get(payment_id)
    if (ledger_entry.get("count", 0) if ledger_entry else 0) >= rules.MAX_TRANSACTIONS:
        raise LimitExceeded(
            f"A payment may hold at most {rules.MAX_TRANSACTIONS} transactions.",
            errors=[field_error("/", f"{rules.MAX_TRANSACTIONS} transactions already")],
        )


def _fill_action_id(payment: Payment, snapshot: dict[str, Any] | None) -> None:
    if not snapshot or "id" in snapshot:
        return
    same = [
        a
        for a in payment.get("actions") or []
        if all(a.get(k) == snapshot.get(k) for k in ("adapterId", "type", "url"))
    ]
    if len(same) == 1:
        snapshot["id"] = same[0]["id"]
        for key in ("id", "adapterId", "type", "url"):
            if key in snapshot:
                snapshot[key] = snapshot.pop(key)


def _record(
    payment_id: str, body: dict[str, Any], *, check_ledger: bool
) -> Callable[[Order, Meta, Context], tuple[dict[str, Any], LedgerRow]]:
    """The pure ``prepare`` of an ``Append`` recording one transaction."""

    def prepare(order: Order, meta: Meta, ctx: Context) -> tuple[dict[str, Any], LedgerRow]:
        payment = find_payment(order, payment_id)
        order_rules.check_editable(Area.POST_PAYMENT, order_rules.status_of(order))
        _check_count(meta, payment_id)
        amount = body.get("amount")
        if amount is not None:
            rules.check_minor_units({"amount": amount}, rules.currency_for(order, payment))
        entry = rules.ledger_of(meta, payment_id)
        if check_ledger:
            rules.apply_transaction(
                entry,
                money.as_decimal(payment.get("amount")),
                body["event"],
                money.as_decimal(amount),
                bool(body.get("isSuccess")),
            )
        else:
            entry["count"] += 1
        snapshot = body.get("paymentAction")
        if snapshot is not None:
            snapshot = dict(snapshot)
            _fill_action_id(payment, snapshot)
        transaction_id = ids.new_id("pt_")
        doc = _transaction_doc(
            {**body, **({"paymentAction": snapshot} if snapshot else {})}, transaction_id, ctx.now
        )
        details = {
            "paymentId": payment_id,
            "transactionId": transaction_id,
            "event": doc["event"],
            "isSuccess": doc["isSuccess"],
        }
        if "amount" in doc:
            details["amount"] = doc["amount"]
        return details, LedgerRow(order["id"], payment_id, entry["count"], doc)

    return prepare


def _respond(version: int, row: LedgerRow) -> Outcome:
    return Outcome(200, jsonutil.dumps(row.doc), {"Content-Type": "application/json"})


def _append(
    order_id: str, payment_id: str, body: dict[str, Any], *, check_ledger: bool, record: bool = True
) -> Append:
    return Append(
        order_id,
        locate=lambda order: find_payment(order, payment_id),
        prepare=_record(payment_id, body, check_ledger=check_ledger),
        respond=_respond,
        record=record,
    )


async def add_transaction(
    call: Call, order_id: str, payment_id: str, body: dict[str, Any]
) -> Outcome:
    success = bool(body.get("isSuccess"))
    money_event = body["event"] in {PaymentEvent.capture, PaymentEvent.refund}
    if success and money_event and body.get("amount") is None:
        raise InvalidRequest(
            "amount is required for a successful capture or refund.",
            errors=[field_error("/amount", "Field required")],
        )
    return await unit_of_work.execute(call, _append(order_id, payment_id, body, check_ledger=True))


async def list_transactions(
    call: Call, stored: repo.StoredOrder, order_id: str, payment_id: str
) -> bytes:
    """The ledger of a payment of ``stored`` (the order as the caller read it)."""
    find_payment(jsonutil.loads(stored.doc), payment_id)
    docs = await ledger.transaction_docs(call.app.db, order_id, payment_id)
    return b"[" + ",".join(docs).encode() + b"]"


async def execute_action(call: Call, order_id: str, payment_id: str, action_id: str) -> Outcome:
    """Call the action's URL with no lock held, then record the call as a transaction."""
    stored = await service.read(call, order_id)
    order: Order = jsonutil.loads(stored.doc)
    payment = find_payment(order, payment_id)
    action = find_action(payment, action_id)
    http.check_if_match(call, stored.version)
    order_rules.check_editable(Area.POST_PAYMENT, order_rules.status_of(order))
    _check_count(orjson.loads(stored.meta), payment_id)

    state = call.app
    result = await callouts.call_for_order(
        state, ACTION, action["url"], order, b"", payment_id=payment_id
    )
    body: dict[str, Any] = {
        "event": PaymentEvent.payment_action.value,
        "isSuccess": result.ok,
        "paymentAction": {k: action[k] for k in ("id", "adapterId", "type", "url") if k in action},
    }
    if result.status is not None:
        body["pspStatus"] = str(result.status)
        if result.body.strip():
            try:
                jsonutil.parse_body(result.body)
                body["responseJson"] = result.body.decode()
            except jsonutil.JSONError:
                pass  # only JSON text is kept
    if not result.ok:
        body["errorDetail"] = result.error or f"HTTP {result.status}"
    # a failed call is recorded too, but the answer is a 502: not kept for the idempotency key
    append = _append(order_id, payment_id, body, check_ledger=False, record=result.ok)
    outcome = await unit_of_work.execute(call, append)
    if result.ok:
        return outcome
    reason = "url-not-allowed" if result.reason == "url-not-allowed" else result.reason
    if reason == "too-large":
        reason = "http-error"
    raise ActionFailed(
        f"The action did not succeed: {body['errorDetail']}",
        upstreamStatus=result.status,
        reason=reason,
    )
