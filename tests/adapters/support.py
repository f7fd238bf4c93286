"""Paths, bodies and helpers of the adapter tests."""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import Any

import httpx

from kassa import ids, jsonutil

ORDERS = "/checkout/order/api/v0/checkout/orders"
NONPSP = "/checkout/nonpsp-adapter"
NONPSP_ORDERS = NONPSP + "/api/checkout/v1/orders"
NONPSP_CALLBACKS = NONPSP + "/api/checkout/v1/callback/orders"
CONFIGURATIONS = "/checkout/configuration/api/v1/configuration/merchants"
SECRET = "whsec_" + base64.b64encode(b"adapter tests signing secret 32b").decode()

TWO_METHODS = [{"identifier": "invoice", "preSelected": True}, {"identifier": "store"}]


def nonpsp_configuration(
    methods: list[dict[str, Any]] | None = None, *, active: bool = True, **extra: Any
) -> dict[str, Any]:
    return {
        "$schema": "https://example.norce.tech/schemas/nonpsp_adapter.json",
        "id": "nonpsp_adapter",
        "active": active,
        "methods": TWO_METHODS if methods is None else methods,
        **extra,
    }


async def put_configuration(
    client: httpx.AsyncClient, merchant: str, channel: str, body: Mapping[str, Any]
) -> None:
    url = f"{CONFIGURATIONS}/{merchant}/channels/{channel}/configurations/{body['id']}"
    response = await client.put(url, json=body)
    assert response.status_code == 200, response.text


async def delete_configuration(
    client: httpx.AsyncClient, merchant: str, channel: str, name: str
) -> None:
    url = f"{CONFIGURATIONS}/{merchant}/channels/{channel}/configurations/{name}"
    response = await client.delete(url)
    assert response.status_code in (204, 404), response.text


def item(incl: float, excl: float, quantity: int = 1, **extra: Any) -> dict[str, Any]:
    """A cart item whose line total is ``incl``/``excl``."""
    return {
        "sku": "sku-1",
        "name": "T-Shirt",
        "quantity": quantity,
        "vatRate": 0.25,
        "total": {"includingVat": incl, "excludingVat": excl},
        **extra,
    }


def order_body(*items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "currency": "SEK",
        "country": "SE",
        "culture": "sv-SE",
        "cart": {"items": list(items)},
        **extra,
    }


async def create_order(client: httpx.AsyncClient, body: dict[str, Any] | None = None) -> str:
    response = await client.post(ORDERS, json=body or order_body())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def order_with_shipping(
    client: httpx.AsyncClient, shop_configuration: tuple[str, str, Mapping[str, Any]]
) -> str:
    """The channel's adapter configuration put (merchant, channel, body), then an order of one
    item 12.5/10 and one shipping 7.5/6 (total 20)."""
    await put_configuration(client, *shop_configuration)
    order_id = await create_order(client, order_body(item(12.5, 10)))
    response = await client.post(
        f"{ORDERS}/{order_id}/shippings",
        json={
            "name": "PostNord",
            "vatRate": 0.25,
            "total": {"includingVat": 7.5, "excludingVat": 6},
        },
    )
    assert response.status_code == 201, response.text
    return order_id


async def get_order(client: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    response = await client.get(f"{ORDERS}/{order_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = jsonutil.loads(response.content)
    return body


def own_hooks(order: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [h for h in order.get("hooks", []) if h.get("adapterId") == "nonpsp_adapter"]


def signed_headers(
    merchant: str, channel: str, body: bytes, *, secret: str = SECRET, age_s: int = 0
) -> dict[str, str]:
    """What kassa sends with a callback (semantics §7.5)."""
    import hashlib
    import hmac

    message_id = ids.new_id("msg_")
    timestamp = int(time.time()) - age_s
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{message_id}.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    return {
        "content-type": "application/json",
        "x-merchant": merchant,
        "x-channel": channel,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{signature}",
    }


SANDBOX = "/checkout/sandbox-psp-adapter"
SANDBOX_ORDERS = SANDBOX + "/api/checkout/v1/orders"
SANDBOX_CALLBACKS = SANDBOX + "/api/checkout/v1/callback/orders"
SANDBOX_ACTIONS = SANDBOX + "/api/order/v1/orders"


def sandbox_configuration(*, active: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "$schema": "https://kassa.example/schemas/kassa_sandbox_psp_adapter.json",
        "id": "kassa_sandbox_psp_adapter",
        "active": active,
        "redirectUrls": {
            "confirmationUrl": "https://shop.example/thanks/{orderId}?m={merchant}",
            "checkoutUrl": "https://shop.example/checkout/{orderId}",
        },
        **extra,
    }
