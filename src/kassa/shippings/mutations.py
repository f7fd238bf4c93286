"""Pure mutations for shippings (see ``kassa.orders.model``)."""

from __future__ import annotations

from typing import Any, cast

from kassa import ids, money
from kassa.errors import LimitExceeded, NotFound, OrderNotEditable, field_error
from kassa.orders import rules as order_rules
from kassa.orders.document import Meta, Order, Price, Shipping, in_field_order
from kassa.orders.model import Apply, Context
from kassa.orders.rules import Area
from kassa.schemas_common import OrderStatus, ShippingState

MAX_SHIPPINGS = 50

_ORDER = (
    "id",
    "merchant",
    "channel",
    "state",
    "reference",
    "tmsReference",
    "orderId",
    "adapterId",
    "name",
    "total",
    "vatRate",
    "deliveryDetails",
    "addons",
    "attributes",
)


class ShippingNotFound(NotFound):
    code = "shipping-not-found"

    def __init__(self, shipping_id: str) -> None:
        super().__init__(f"Shipping with id:{shipping_id} not found.")


def shipping_index(order: Order, shipping_id: str) -> int:
    for index, shipping in enumerate(order.get("shippings") or []):
        if shipping["id"] == shipping_id:
            return index
    raise ShippingNotFound(shipping_id)


def _build(order: Order, shipping_id: str, body: dict[str, Any], state: str) -> Shipping:
    # the body (validated by ShippingIn) with kassa's fields, in the field order of api §3.20
    shipping = cast(
        Shipping,
        {
            **body,
            "id": shipping_id,
            "merchant": order["merchant"],
            "channel": order["channel"],
            "orderId": order["id"],
            "state": state,
        },
    )
    return in_field_order(shipping, _ORDER)


def add_shipping(body: dict[str, Any]) -> Apply[str]:
    """POST shippings; the result is the new shipping's id."""

    def apply(order: Order, meta: Meta, ctx: Context) -> str:
        order_rules.check_editable(Area.CART, order_rules.status_of(order))
        if len(order["shippings"]) >= MAX_SHIPPINGS:
            raise LimitExceeded(
                f"An order may hold at most {MAX_SHIPPINGS} shippings.",
                errors=[field_error("/shippings", f"more than {MAX_SHIPPINGS} shippings")],
            )
        shipping_id = ids.new_id("s_")
        state = body.get("state", ShippingState.intent.value)
        order["shippings"].append(_build(order, shipping_id, body, state))
        return shipping_id

    return apply


def _price_changed(old: Price | None, new: Price | None) -> bool:
    return any(
        order_rules.price_component(old, key) != order_rules.price_component(new, key)
        or ((old or {}).get(key) is None) != ((new or {}).get(key) is None)
        for key in order_rules.PRICE_KEYS
    )


def put_shipping(shipping_id: str, body: dict[str, Any]) -> Apply[None]:
    def apply(order: Order, meta: Meta, ctx: Context) -> None:
        index = shipping_index(order, shipping_id)
        status = order_rules.status_of(order)
        order_rules.check_editable(Area.POST_PAYMENT, status)
        current = order["shippings"][index]
        money_changed = _price_changed(current.get("total"), body.get("total")) or (
            money.as_decimal(current.get("vatRate")) != money.as_decimal(body.get("vatRate"))
        )
        if money_changed and status is not OrderStatus.checkout:
            raise OrderNotEditable(status.value, "Changing a shipping's total or vatRate")
        state = body.get("state", current["state"])
        order["shippings"][index] = _build(order, shipping_id, body, state)

    return apply
