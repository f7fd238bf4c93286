"""What the storefront does with the buyer's clicks, each step a few calls over HTTP.

The buyer's state is the order itself (the cart cookie names it): its cart, its addresses, the
sandbox shipping adapter's shipping and one payment of the sandbox PSP or the Non-PSP adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kassa.demo import catalog
from kassa.demo.setup import NONPSP, PSP, SHIPPING
from kassa.demo.shop import Reply, Shop

# the sandbox PSP's test cards (docs/adapters.md), shown to the buyer; the PSP decides
CARDS: dict[str, str] = {
    "4242424242424242": "approve",
    "4000000000000002": "decline",
    "4000000000003220": "redirect",
    "4000000000000077": "pending",
    "4000000000000259": "review",
}
ADDRESS_FIELDS = ("givenName", "familyName", "streetAddress", "postalCode", "city", "country")
COUNTRIES = {"SE": "Sweden", "NO": "Norway", "DK": "Denmark", "FI": "Finland", "DE": "Germany"}


class StepFailed(Exception):
    """A step the buyer must see: ``message`` says what happened."""

    def __init__(self, message: str, reply: Reply | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reply = reply


@dataclass
class Paid:
    """Where the buyer goes after paying: a page of the storefront or the PSP's challenge."""

    location: str


def status_of(order: dict[str, Any]) -> str:
    return str((order.get("state") or {}).get("currentStatus", ""))


def own(order: dict[str, Any], kind: str, adapter_id: str) -> dict[str, Any] | None:
    """The non-removed payment or shipping of an adapter."""
    for element in order.get(kind) or []:
        if element.get("adapterId") == adapter_id and element.get("state") != "removed":
            return dict(element)
    return None


def _failed(what: str, reply: Reply) -> StepFailed:
    return StepFailed(f"{what}: {reply.message}", reply)


async def add_to_cart(shop: Shop, order: dict[str, Any] | None, sku: str, quantity: int) -> str:
    """Add units of a product; a new order when there is none in checkout. The order id."""
    product = catalog.BY_SKU.get(sku)
    if product is None:
        raise StepFailed("That product is not in the shop.")
    if order is None or status_of(order) != "checkout":
        reply = await shop.create_order(catalog.order_body(product, quantity))
        if not reply.ok:
            raise _failed("The cart could not be created", reply)
        return str(reply.body["id"])
    items = [dict(i) for i in (order.get("cart") or {}).get("items") or []]
    for i, item in enumerate(items):
        if item.get("sku") == sku:
            count = min(int(item.get("quantity") or 0) + quantity, catalog.MAX_QUANTITY)
            items[i] = catalog.line(product, count, item.get("id"))
            break
    else:
        items.append(catalog.line(product, quantity))
    await put_cart(shop, order, items)
    return str(order["id"])


async def set_quantity(shop: Shop, order: dict[str, Any], sku: str, quantity: int) -> None:
    product = catalog.BY_SKU.get(sku)
    if product is None:
        raise StepFailed("That product is not in the shop.")
    items: list[dict[str, Any]] = []
    for item in (order.get("cart") or {}).get("items") or []:
        if item.get("sku") != sku:
            items.append(dict(item))
        elif quantity > 0:
            items.append(catalog.line(product, min(quantity, catalog.MAX_QUANTITY), item.get("id")))
    await put_cart(shop, order, items)


async def put_cart(shop: Shop, order: dict[str, Any], items: list[dict[str, Any]]) -> None:
    reply = await shop.put_cart(str(order["id"]), items)
    if not reply.ok:
        raise _failed("The cart could not be changed", reply)


async def set_address(shop: Shop, order: dict[str, Any], address: dict[str, str]) -> str | None:
    """Billing and delivery address, then a shipping of the sandbox shipping adapter.

    When the chosen delivery option does not serve the new country, its hook vetoes the address
    (400 ``hook-rejected``): the storefront then drops that shipping, sets the address and lets
    the adapter pick an option that does. Answers a notice for the buyer, or ``None``.
    """
    order_id = str(order["id"])
    notice = None
    reply = await shop.put_address(order_id, "billing", address)
    if not reply.ok:
        raise _failed("The address could not be saved", reply)
    reply = await shop.put_address(order_id, "shipping", address)
    if reply.status == 400 and reply.code == "hook-rejected":
        shipping = own(order, "shippings", SHIPPING)
        if shipping is not None:
            removed = await shop.shipping("POST", order_id, f"/{shipping['id']}/remove")
            if not removed.ok:
                raise _failed("The delivery option could not be changed", removed)
            notice = f"{shipping.get('name')} does not deliver there; another option was chosen."
        reply = await shop.put_address(order_id, "shipping", address)
    if not reply.ok:
        raise _failed("The address could not be saved", reply)
    created = await shop.shipping("POST", order_id)
    if created.status == 409 and created.code == "adapter-inactive":
        country = COUNTRIES.get(address.get("country", ""), address.get("country"))
        raise StepFailed(f"Sorry, we do not deliver to {country}.", created)
    if not created.ok:
        raise _failed("No delivery option could be offered", created)
    return notice


async def choose_delivery(shop: Shop, order: dict[str, Any], option: str) -> None:
    shipping = own(order, "shippings", SHIPPING)
    if shipping is None:
        raise StepFailed("Enter a delivery address first.")
    reply = await shop.shipping(
        "PUT", str(order["id"]), f"/{shipping['id']}", {"selectedOption": option}
    )
    if not reply.ok:
        raise _failed("That delivery option cannot be chosen", reply)


async def delivery_session(shop: Shop, order: dict[str, Any]) -> dict[str, Any] | None:
    """The sandbox shipping adapter's ShippingSession of the order, if it has a shipping."""
    shipping = own(order, "shippings", SHIPPING)
    if shipping is None:
        return None
    reply = await shop.shipping("GET", str(order["id"]), f"/{shipping['id']}")
    return reply.body if reply.ok and isinstance(reply.body, dict) else None


async def _drop(shop: Shop, order: dict[str, Any], adapter_id: str) -> None:
    """Remove the other adapter's payment before creating one (as the Norce checkout does)."""
    payment = own(order, "payments", adapter_id)
    if payment is None:
        return
    call = shop.psp if adapter_id == PSP else shop.nonpsp
    reply = await call("POST", str(order["id"]), f"/{payment['id']}/remove")
    if not reply.ok:
        raise _failed("The earlier payment could not be removed", reply)


async def pay(shop: Shop, order: dict[str, Any], method: str, card: str) -> Paid:
    """Pay by sandbox card or by invoice (Non-PSP adapter)."""
    order_id = str(order["id"])
    if status_of(order) != "checkout":
        return Paid(f"orders/{order_id}")
    if own(order, "shippings", SHIPPING) is None:
        raise StepFailed("Enter a delivery address first.")
    if method == "invoice":
        await _drop(shop, order, PSP)
        created = await shop.nonpsp("POST", order_id)
        if not created.ok:
            raise _failed("Invoice is not available", created)
        payment_id = created.body["paymentId"]
        done = await shop.nonpsp("POST", order_id, f"/{payment_id}/complete")
        if not done.ok:
            raise _failed("The order could not be placed", done)
        return Paid(f"orders/{order_id}")
    if method != "card":
        raise StepFailed("Choose how to pay.")
    number = "".join(card.split())
    if not number:
        raise StepFailed("Enter a card number: one of the test cards listed below the form.")
    await _drop(shop, order, NONPSP)
    created = await shop.psp("POST", order_id)
    if not created.ok:
        raise _failed("Card payments are not available", created)
    payment_id = created.body["paymentId"]
    result = await shop.psp("POST", order_id, f"/{payment_id}/authorize", {"cardNumber": number})
    if result.status == 400 and result.code == "invalid-request":
        raise StepFailed("Unknown test card: use one of the cards listed below the form.", result)
    if not result.ok:
        raise _failed("The payment could not be made", result)
    outcome = result.body.get("result")
    if outcome == "declined":
        raise StepFailed("Your card was declined. Try another card.", result)
    if outcome == "redirect" and isinstance(result.body.get("redirectUrl"), str):
        return Paid(result.body["redirectUrl"])
    return Paid(f"orders/{order_id}")
