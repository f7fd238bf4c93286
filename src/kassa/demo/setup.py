"""The demo tenant's adapter configurations, written through the Configuration API.

``kassa demo`` writes them before it serves; the storefront writes whichever are missing on its
first request (so a kassa started otherwise, e.g. by ``make run``, sells too). Configurations a
person changed are left alone.
"""

from __future__ import annotations

from typing import Any

from kassa.demo.shop import Shop

MERCHANT = "demo"
CHANNEL = "demo"

NONPSP = "nonpsp_adapter"
PSP = "kassa_sandbox_psp_adapter"
SHIPPING = "kassa_sandbox_shipping_adapter"


def _schema(adapter_id: str) -> str:
    return f"urn:kassa:configuration:{adapter_id}:v1"


def configurations(storefront_path: str = "/demo") -> list[dict[str, Any]]:
    """The three configurations of the demo channel (adapters.md §7.2-§7.4)."""
    redirects = {
        "confirmationUrl": storefront_path + "/orders/{orderId}",
        "checkoutUrl": storefront_path + "/checkout?declined={orderId}",
    }
    return [
        {
            "$schema": _schema(NONPSP),
            "id": NONPSP,
            "active": True,
            "redirectUrls": redirects,
            "methods": [{"identifier": "invoice", "preSelected": True}],
        },
        {
            "$schema": _schema(PSP),
            "id": PSP,
            "active": True,
            "redirectUrls": redirects,
            "defaultScenario": "approve",
            "pendingOutcome": "approve",
            "push": {"delayMs": 1000, "duplicates": 1, "outOfOrder": False},
        },
        {
            "$schema": _schema(SHIPPING),
            "id": SHIPPING,
            "active": True,
            "defaultOption": "standard",
            "options": [
                {
                    "id": "standard",
                    "name": "Standard parcel (2-4 days)",
                    "carrier": "Sandbox Post",
                    "price": 49,
                    "vatRate": 0.25,
                    "freeFrom": 1000,
                    "countries": ["SE", "NO", "DK", "FI"],
                },
                {
                    "id": "express",
                    "name": "Express (next day)",
                    "carrier": "Sandbox Express",
                    "price": 99,
                    "perItem": 10,
                    "vatRate": 0.25,
                    "countries": ["SE"],
                },
                {
                    "id": "pickup",
                    "name": "Parcel point",
                    "carrier": "Sandbox Post",
                    "price": 29,
                    "vatRate": 0.25,
                    "countries": ["SE", "NO"],
                },
            ],
        },
    ]


async def provision(shop: Shop, storefront_path: str = "/demo") -> list[str]:
    """Write the configurations the channel lacks; the names written (empty: none needed)."""
    reply = await shop.configurations()
    if not reply.ok or not isinstance(reply.body, list):
        raise RuntimeError(f"cannot read the demo configurations: {reply.message}")
    present = {c.get("id") for c in reply.body if isinstance(c, dict)}
    missing = [c for c in configurations(storefront_path) if c["id"] not in present]
    if missing:
        written = await shop.put_configurations(missing)
        if not written.ok:
            raise RuntimeError(f"cannot write the demo configurations: {written.message}")
    return [c["id"] for c in missing]
