"""Pure mutations for payments and actions (see ``kassa.orders.model``)."""

from __future__ import annotations

from typing import Any, cast

from kassa import ids
from kassa.errors import LimitExceeded, NotFound, field_error
from kassa.orders import rules as order_rules
from kassa.orders.document import Meta, Order, Payment, PaymentAction, in_field_order
from kassa.orders.model import Apply, Context
from kassa.orders.rules import Area
from kassa.payments import rules
from kassa.schemas_common import PaymentState, PaymentType

# Field order of a payment in the order document (api §3.17)
_ORDER = (
    "id",
    "adapterId",
    "name",
    "merchant",
    "channel",
    "currency",
    "type",
    "orderId",
    "amount",
    "upperLimitAmount",
    "state",
    "reference",
    "attributes",
    "actions",
    "recurring",
    "upsell",
)


class PaymentNotFound(NotFound):
    code = "payment-not-found"

    def __init__(self, payment_id: str) -> None:
        super().__init__(f"Payment with id:{payment_id} not found.")


class ActionNotFound(NotFound):
    code = "action-not-found"

    def __init__(self, action_id: str) -> None:
        super().__init__(f"Action with id:{action_id} not found.")


def find_payment(order: Order, payment_id: str) -> Payment:
    return order["payments"][payment_index(order, payment_id)].copy()


def payment_index(order: Order, payment_id: str) -> int:
    for index, payment in enumerate(order.get("payments") or []):
        if payment["id"] == payment_id:
            return index
    raise PaymentNotFound(payment_id)


def find_action(payment: Payment, action_id: str) -> PaymentAction:
    for action in payment.get("actions") or []:
        if action["id"] == action_id:
            return action.copy()
    raise ActionNotFound(action_id)


def _ordered(payment: Payment) -> Payment:
    return in_field_order(payment, _ORDER)


def _actions(sent: list[dict[str, Any]], current: list[PaymentAction]) -> list[PaymentAction]:
    known = {a["id"] for a in current}
    result: list[PaymentAction] = []
    for action in sent:
        action_id = action.get("id")
        # a current id is kept once; a repeated or unknown one gets a fresh id
        kept = action_id if action_id in known else ids.new_id("pa_")
        known.discard(action_id)
        # validated by PaymentActionIn
        result.append(
            cast(PaymentAction, {"id": kept, **{k: v for k, v in action.items() if k != "id"}})
        )
    return result


def _check_action_count(actions: list[Any], path: str) -> None:
    if len(actions) > rules.MAX_ACTIONS:
        raise LimitExceeded(
            f"A payment may hold at most {rules.MAX_ACTIONS} actions.",
            errors=[field_error(path, f"more than {rules.MAX_ACTIONS} actions")],
        )


def _value_rules(order: Order, payment: Payment, meta: Meta) -> None:
    """Order-dependent value rules, in the precedence of api §1.9 (level 12)."""
    rules.check_minor_units(
        {"amount": payment.get("amount"), "upperLimitAmount": payment.get("upperLimitAmount")},
        rules.currency_for(order, payment),
    )
    rules.check_currency(order, payment)
    rules.check_payment_amounts(payment, rules.captured_of(meta, payment["id"]))


def add_payment(body: dict[str, Any]) -> Apply[str]:
    """POST payments; the result is the new payment's id."""

    def apply(order: Order, meta: Meta, ctx: Context) -> str:
        order_rules.check_editable(Area.CART, order_rules.status_of(order))
        # the body (validated by PaymentIn) with kassa's fields; defaults and actions follow
        payment = cast(
            Payment,
            {
                **{k: v for k, v in body.items() if k != "actions"},
                "id": ids.new_id("p_"),
                "merchant": order["merchant"],
                "channel": order["channel"],
                "orderId": order["id"],
            },
        )
        payment.setdefault("type", PaymentType.default.value)
        payment.setdefault("amount", 0)
        payment.setdefault("state", PaymentState.intent.value)
        payment["actions"] = _actions(body.get("actions") or [], [])
        _check_action_count(payment["actions"], "/actions")
        _value_rules(order, payment, meta)
        if len(order["payments"]) >= rules.MAX_PAYMENTS:
            raise LimitExceeded(
                f"An order may hold at most {rules.MAX_PAYMENTS} payments.",
                errors=[field_error("/payments", f"more than {rules.MAX_PAYMENTS} payments")],
            )
        order["payments"].append(_ordered(payment))
        return str(payment["id"])

    return apply


def put_payment(payment_id: str, body: dict[str, Any]) -> Apply[None]:
    """PUT payment: full replacement of the data fields (semantics §3.7)."""

    def apply(order: Order, meta: Meta, ctx: Context) -> None:
        index = payment_index(order, payment_id)
        order_rules.check_editable(Area.POST_PAYMENT, order_rules.status_of(order))
        current = order["payments"][index]
        state = body.get("state", current["state"])
        rules.check_payment_move(current["state"], state, enforce=ctx.payment_state_enforcement)
        # the body (validated by PaymentIn) with kassa's fields; defaults and actions follow
        payment = cast(
            Payment,
            {
                **{k: v for k, v in body.items() if k not in {"actions", "state"}},
                "id": payment_id,
                "merchant": order["merchant"],
                "channel": order["channel"],
                "orderId": order["id"],
                "state": state,
            },
        )
        payment.setdefault("type", PaymentType.default.value)
        payment.setdefault("amount", 0)
        if "actions" in body:
            payment["actions"] = _actions(body["actions"], current.get("actions") or [])
            _check_action_count(payment["actions"], "/actions")
        else:
            payment["actions"] = current.get("actions") or []
        _value_rules(order, payment, meta)
        order["payments"][index] = _ordered(payment)

    return apply


def add_actions(payment_id: str, actions: list[dict[str, Any]]) -> Apply[list[PaymentAction]]:
    """POST actions; the result is the new actions with their ids."""

    def apply(order: Order, meta: Meta, ctx: Context) -> list[PaymentAction]:
        index = payment_index(order, payment_id)
        order_rules.check_editable(Area.POST_PAYMENT, order_rules.status_of(order))
        payment = order["payments"][index]
        new = _actions([{k: v for k, v in a.items() if k != "id"} for a in actions], [])
        combined = (payment.get("actions") or []) + new
        _check_action_count(combined, "/")
        payment["actions"] = combined
        return new

    return apply
