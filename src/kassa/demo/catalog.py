"""The demo shop's products and the cart lines made of them (prices in SEK, VAT 25 %)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CURRENCY = "SEK"
COUNTRY = "SE"
CULTURE = "sv-SE"
VAT_RATE = Decimal("0.25")
MAX_QUANTITY = 99


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: Decimal  # one unit, VAT included
    blurb: str


PRODUCTS: tuple[Product, ...] = (
    Product("linen-shirt", "Linen shirt", Decimal(499), "Washed linen, relaxed fit."),
    Product("wool-socks", "Wool socks", Decimal(129), "Merino blend, two pairs."),
    Product("canvas-tote", "Canvas tote", Decimal(249), "Heavy cotton canvas."),
    Product("enamel-mug", "Enamel mug", Decimal(159), "For coffee by the fire."),
    Product("notebook", "Dot-grid notebook", Decimal("89.50"), "A5, 120 pages."),
)
BY_SKU = {p.sku: p for p in PRODUCTS}


def _excluding(incl: Decimal) -> Decimal:
    return (incl / (1 + VAT_RATE)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def line(product: Product, quantity: int, line_id: str | None = None) -> dict[str, Any]:
    """A cart item of ``quantity`` units of ``product``."""
    total = product.price * quantity
    body: dict[str, Any] = {
        "sku": product.sku,
        "name": product.name,
        "quantity": quantity,
        "vatRate": VAT_RATE,
        "price": {"includingVat": product.price, "excludingVat": _excluding(product.price)},
        "total": {"includingVat": total, "excludingVat": _excluding(total)},
    }
    if line_id is not None:
        body["id"] = line_id
    return body


def order_body(product: Product, quantity: int) -> dict[str, Any]:
    """A new order holding one line."""
    return {
        "currency": CURRENCY,
        "country": COUNTRY,
        "culture": CULTURE,
        "cart": {"items": [line(product, quantity)]},
    }
