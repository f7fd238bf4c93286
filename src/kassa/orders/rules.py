"""Pure order rules: the state machine, editability, totals, cart ids, built-in validation.

Nothing here does I/O. Each function takes and returns plain JSON-shaped values (dicts with
``Decimal``/``int`` numbers, as stored; their fields are declared in ``kassa.orders.document``)
and raises a named ``KassaError`` when a rule is broken.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from enum import Enum
from typing import Any, cast

from kassa import ids, money
from kassa.errors import InvalidRequest, InvalidStateTransition, LimitExceeded, field_error
from kassa.errors import OrderNotEditable as OrderNotEditable
from kassa.orders.document import Cart, CartItem, Order, Price, PriceKey
from kassa.schemas_common import OrderStatus

S = OrderStatus

MAX_CART_ITEMS = 1000
MAX_CONSENTS = 100
MAX_CALLBACKS = 50
PRICE_KEYS: tuple[PriceKey, ...] = ("includingVat", "excludingVat")


class Move(Enum):
    """What an order state change needs (semantics §1.2)."""

    SAME = "same"
    ALLOWED = "allowed"
    VALIDATE = "validate"
    REFUSED = "refused"


_V, _A, _X = Move.VALIDATE, Move.ALLOWED, Move.REFUSED
_ORDER = [S.checkout, S.processing, S.accepted, S.completed, S.declined, S.removed]
_TABLE_ROWS = {
    S.checkout: [None, _V, _V, _V, _A, _A],
    S.processing: [_A, None, _A, _A, _A, _A],
    S.accepted: [_X, _X, None, _A, _A, _X],
    S.completed: [_X, _X, _X, None, _X, _X],
    S.declined: [_X, _X, _X, _X, None, _X],
    S.removed: [_X, _X, _X, _X, _X, None],
}
ORDER_TRANSITIONS: dict[tuple[OrderStatus, OrderStatus], Move] = {
    (src, dst): (Move.SAME if move is None else move)
    for src, row in _TABLE_ROWS.items()
    for dst, move in zip(_ORDER, row, strict=True)
}


def order_move(current: OrderStatus, requested: OrderStatus) -> Move:
    return ORDER_TRANSITIONS[(current, requested)]


def check_order_move(current: OrderStatus, requested: OrderStatus) -> Move:
    move = order_move(current, requested)
    if move is Move.REFUSED:
        raise InvalidStateTransition(current.value, requested.value)
    return move


class Area(Enum):
    """Parts of the order whose editability depends on the order state (semantics §1.3)."""

    CART = "cart"
    CUSTOMER = "customer"
    CONSENTS = "consents"
    POST_PAYMENT = "post-payment"  # attributes, reference, callbacks, payments PUT, ...


_EDITABLE: dict[Area, frozenset[OrderStatus]] = {
    Area.CART: frozenset({S.checkout}),
    Area.CUSTOMER: frozenset({S.checkout}),
    Area.CONSENTS: frozenset({S.checkout, S.processing}),
    Area.POST_PAYMENT: frozenset(set(S) - {S.removed}),
}


def can_edit(area: Area, state: OrderStatus) -> bool:
    return state in _EDITABLE[area]


def check_editable(area: Area, state: OrderStatus) -> None:
    if not can_edit(area, state):
        raise OrderNotEditable(state.value)


def status_of(order: Order) -> OrderStatus:
    return OrderStatus(order["state"]["currentStatus"])


_VALIDATED = {S.processing, S.accepted, S.completed}


def leaves_checkout(before: Order, after: Order) -> bool:
    """Whether ``before`` → ``after`` moves the order out of checkout (validated, §4.1)."""
    return status_of(before) is S.checkout and status_of(after) in _VALIDATED


# Cart item ids (semantics §3.6) ---------------------------------------------------------------


def walk_items(items: Iterable[CartItem]) -> Iterator[CartItem]:
    stack = list(items)[::-1]
    while stack:
        item = stack.pop()
        yield item
        children = item.get("items")
        if children:
            stack.extend(reversed(children))


def assign_item_ids(cart: Cart, body_path: str = "/cart") -> None:
    """Give every item without an id a fresh ``ci_`` id; refuse duplicates and oversize carts."""
    seen: set[str] = set()
    count = 0
    for item in walk_items(cart.get("items") or []):
        count += 1
        item_id = item.get("id")
        if item_id is None:
            continue
        if item_id in seen:
            raise InvalidRequest(
                f"Duplicate cart item id {item_id!r}.",
                errors=[field_error(f"{body_path}/items", f"duplicate item id {item_id!r}")],
            )
        seen.add(item_id)
    if count > MAX_CART_ITEMS:
        raise LimitExceeded(
            f"A cart may hold at most {MAX_CART_ITEMS} items.",
            errors=[field_error(f"{body_path}/items", f"{count} items > {MAX_CART_ITEMS}")],
        )
    for item in walk_items(cart.get("items") or []):
        if item.get("id") is None:
            new = ids.item_id()
            while new in seen:
                new = ids.item_id()
            seen.add(new)
            item["id"] = new
            # keep the id first, as a reader expects it (keys moved at run time: a plain dict)
            plain = cast("dict[str, Any]", item)
            reordered = {"id": new, **{k: v for k, v in plain.items() if k != "id"}}
            plain.clear()
            plain.update(reordered)


# Totals (semantics §3.4) ----------------------------------------------------------------------


def price_component(price: Any, key: PriceKey) -> Decimal:
    if isinstance(price, dict):
        return money.as_decimal(price.get(key))
    return money.ZERO


def compute_totals(order: Order, computed: Iterable[str]) -> None:
    """Fill the computed cart-total components and recompute ``order.total`` in place.

    ``computed`` names the cart-total components kassa owns; the others are client-supplied and
    kept as given.
    """
    cart = order["cart"]
    items = cart.get("items") or []
    total = cart.get("total") or {}
    owned = set(computed)
    cart_total: Price = {}
    for key in PRICE_KEYS:
        if key in owned or key not in total:
            cart_total[key] = money.exact_sum(price_component(i.get("total"), key) for i in items)
        else:
            cart_total[key] = total[key]
    cart["total"] = cart_total
    order_total: Price = {}
    for key in PRICE_KEYS:
        shipping_sum = money.exact_sum(
            price_component(s.get("total"), key)
            for s in order.get("shippings") or []
            if s.get("state") != "removed"
        )
        order_total[key] = money.as_decimal(cart_total[key]) + shipping_sum
    order["total"] = order_total


def computed_components(cart_body: Cart) -> list[PriceKey]:
    """The cart-total components a request left to kassa (absent in its body)."""
    total = cart_body.get("total") or {}
    return [key for key in PRICE_KEYS if key not in total]


# Built-in validation (semantics §6.1) ---------------------------------------------------------


def builtin_validation(order: Order) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    if not order["cart"].get("items"):
        errors.append({"code": "cart-empty", "adapterId": "kassa", "message": "The cart is empty."})
    total = price_component(order.get("total"), "includingVat")
    if total > 0:
        live = [p for p in order.get("payments") or [] if p.get("state") != "removed"]
        if not live:
            errors.append(
                {
                    "code": "payment-missing",
                    "adapterId": "kassa",
                    "message": f"The order total {total} is not covered by any payment.",
                }
            )
        else:
            paid = money.exact_sum(money.as_decimal(p.get("amount")) for p in live)
            if paid != total:
                errors.append(
                    {
                        "code": "payment-amount-mismatch",
                        "adapterId": "kassa",
                        "message": f"Payments sum to {paid}, the order total is {total}.",
                    }
                )
    for consent in order.get("consents") or []:
        if consent.get("required") and consent.get("checked") is not True:
            errors.append(
                {
                    "code": "consent-required",
                    "adapterId": "kassa",
                    "message": f"Consent {consent['id']!r} is required.",
                }
            )
    return errors


# Order creation -------------------------------------------------------------------------------


def new_order(
    body: dict[str, Any],
    *,
    order_id: str,
    merchant: str,
    channel: str,
    created: str,
    channel_notifications: Iterable[dict[str, Any]] = (),
) -> tuple[Order, list[PriceKey]]:
    """Build a new order document from a validated create body (``OrderCreate.wire()``).

    Returns the document and the cart-total components kassa computes.
    """
    cart = cast(Cart, body.get("cart") or {})  # validated by OrderCreate
    cart = {**cart, "items": cart.get("items") or []}
    assign_item_ids(cart)
    consents = body.get("consents") or []
    seen: set[str] = set()
    for index, consent in enumerate(consents):
        if consent["id"] in seen:
            raise InvalidRequest(
                f"Duplicate consent id {consent['id']!r}.",
                errors=[field_error(f"/consents/{index}/id", "duplicate consent id")],
            )
        seen.add(consent["id"])
    if len(consents) > MAX_CONSENTS:
        raise LimitExceeded(
            f"An order may hold at most {MAX_CONSENTS} consents.",
            errors=[field_error("/consents", f"more than {MAX_CONSENTS} consents")],
        )
    callbacks: dict[str, list[dict[str, Any]]] = {}
    for name in ("validations", "hooks", "notifications"):
        entries = [{"id": ids.callback_id(), **entry} for entry in body.get(name) or []]
        if name == "notifications":
            entries += [{**entry, "id": ids.callback_id()} for entry in channel_notifications]
        if len(entries) > MAX_CALLBACKS:
            raise LimitExceeded(
                f"An order may hold at most {MAX_CALLBACKS} {name}.",
                errors=[field_error(f"/{name}", f"more than {MAX_CALLBACKS} {name}")],
            )
        callbacks[name] = entries
    order: dict[str, Any] = {"id": order_id, "merchant": merchant, "channel": channel}
    if "reference" in body:
        order["reference"] = body["reference"]
    order["created"] = created
    order["lastModified"] = created
    order["state"] = {
        "currentStatus": OrderStatus.checkout.value,
        "transitions": [{"status": OrderStatus.checkout.value, "timeStamp": created}],
    }
    for key in ("culture", "currency", "country"):
        if key in body:
            order[key] = body[key]
    order["cart"] = cart
    order["shippings"] = []
    order["payments"] = []
    if "customer" in body:
        order["customer"] = body["customer"]
    order["consents"] = consents
    order["validations"] = callbacks["validations"]
    order["hooks"] = callbacks["hooks"]
    order["notifications"] = callbacks["notifications"]
    order["total"] = {}
    if "attributes" in body:
        order["attributes"] = body["attributes"]
    # every field of an Order is set above, in the field order of api §3.1
    document = cast(Order, order)
    computed = computed_components(cart)
    compute_totals(document, computed)
    return document, computed
