"""Pure mutations of an order document, one per write operation.

Each builder takes the validated request and returns ``apply(order, meta, ctx)`` (see
``kassa.orders.model``) for the unit of work: it checks editability against the stored state and
changes ``order`` in place. No I/O happens here.
"""

from __future__ import annotations

from typing import Any, cast

from kassa.errors import (
    ConsentAlreadyExists,
    ConsentNotFound,
    InvalidRequest,
    LimitExceeded,
    field_error,
)
from kassa.orders import rules
from kassa.orders.document import Address, AddressKind, Cart, Consent, Meta, Order
from kassa.orders.model import Apply, Context
from kassa.orders.rules import Area, Move
from kassa.schemas_common import OrderStatus


def patch_attributes(body: dict[str, Any]) -> Apply[None]:
    def apply(order: Order, meta: Meta, ctx: Context) -> None:
        rules.check_editable(Area.POST_PAYMENT, rules.status_of(order))
        order["attributes"] = {**(order.get("attributes") or {}), **body}

    return apply


def put_reference(reference: str) -> Apply[None]:
    def apply(order: Order, meta: Meta, ctx: Context) -> None:
        rules.check_editable(Area.POST_PAYMENT, rules.status_of(order))
        order["reference"] = reference

    return apply


def put_cart(body: dict[str, Any]) -> Apply[None]:
    cart = cast(Cart, body)  # validated by the Cart schema

    def apply(order: Order, meta: Meta, ctx: Context) -> None:
        rules.check_editable(Area.CART, rules.status_of(order))
        new_cart: Cart = {**cart, "items": cart.get("items") or []}
        rules.assign_item_ids(new_cart, body_path="")
        order["cart"] = new_cart
        meta["computed"] = rules.computed_components(cart)

    return apply


def put_address(kind: AddressKind, body: dict[str, Any]) -> Apply[None]:
    address = cast(Address, body)  # validated by the Address schema

    def apply(order: Order, meta: Meta, ctx: Context) -> None:
        rules.check_editable(Area.CUSTOMER, rules.status_of(order))
        customer = order.get("customer") or {}
        customer[kind] = address
        order["customer"] = customer

    return apply


def _consent_index(order: Order, consent_id: str) -> int:
    for index, consent in enumerate(order["consents"]):
        if consent["id"] == consent_id:
            return index
    raise ConsentNotFound(consent_id)


def add_consent(body: dict[str, Any]) -> Apply[None]:
    consent = cast(Consent, body)  # validated by the Consent schema

    def apply(order: Order, meta: Meta, ctx: Context) -> None:
        rules.check_editable(Area.CONSENTS, rules.status_of(order))
        if any(c["id"] == consent["id"] for c in order["consents"]):
            raise ConsentAlreadyExists(consent["id"])
        if len(order["consents"]) >= rules.MAX_CONSENTS:
            raise LimitExceeded(
                f"An order may hold at most {rules.MAX_CONSENTS} consents.",
                errors=[field_error("/consents", f"more than {rules.MAX_CONSENTS} consents")],
            )
        order["consents"].append(consent)

    return apply


def patch_consents(checks: list[dict[str, Any]]) -> Apply[None]:
    seen: set[str] = set()
    for index, check in enumerate(checks):
        if check["id"] in seen:
            raise InvalidRequest(
                f"Duplicate consent id {check['id']!r}.",
                errors=[field_error(f"/{index}/id", "duplicate consent id")],
            )
        seen.add(check["id"])

    def apply(order: Order, meta: Meta, ctx: Context) -> None:
        positions = [_consent_index(order, check["id"]) for check in checks]
        rules.check_editable(Area.CONSENTS, rules.status_of(order))
        for position, check in zip(positions, checks, strict=True):
            order["consents"][position]["checked"] = check["checked"]

    return apply


def patch_consent(consent_id: str, checked: bool) -> Apply[None]:
    def apply(order: Order, meta: Meta, ctx: Context) -> None:
        position = _consent_index(order, consent_id)
        rules.check_editable(Area.CONSENTS, rules.status_of(order))
        order["consents"][position]["checked"] = checked

    return apply


def delete_consent(consent_id: str) -> Apply[None]:
    def apply(order: Order, meta: Meta, ctx: Context) -> None:
        position = _consent_index(order, consent_id)
        rules.check_editable(Area.CONSENTS, rules.status_of(order))
        del order["consents"][position]

    return apply


def put_state(requested: OrderStatus) -> Apply[None]:
    def apply(order: Order, meta: Meta, ctx: Context) -> None:
        current = rules.status_of(order)
        move = rules.check_order_move(current, requested)
        if move is Move.SAME:
            return
        order["state"]["currentStatus"] = requested.value
        order["state"]["transitions"].append({"status": requested.value, "timeStamp": ctx.now})
        # leaving checkout is validated by the write pipeline, after hooks (semantics §4.1)

    return apply
