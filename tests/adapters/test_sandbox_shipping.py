"""The sandbox shipping adapter over HTTP (adapters.md §6, §9 case 22, bad input)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kassa import jsonutil
from kassa.adapters import sandbox_shipping
from kassa.app import create_app
from kassa.config import Settings
from kassa.db.engine import Database
from tests.adapters.conftest import adapter_settings
from tests.adapters.support import (
    NONPSP_ORDERS,
    ORDERS,
    create_order,
    get_order,
    item,
    nonpsp_configuration,
    order_body,
    put_configuration,
    signed_headers,
)
from tests.conftest import Tenant, client_for

SHIPPING = "/checkout/sandbox-shipping-adapter"
SHIPPING_ORDERS = SHIPPING + "/api/checkout/v1/orders"
SHIPPING_CALLBACKS = SHIPPING + "/api/checkout/v1/callback/orders"
ADAPTER_ID = "kassa_sandbox_shipping_adapter"

OPTIONS = [
    {"id": "standard", "name": "Standard", "carrier": "Sandbox Post", "price": 49, "vatRate": 0.25,
     "perItem": 10, "countries": ["SE", "no"]},
    {"id": "express", "name": "Express", "price": 99, "vatRate": 0.25, "countries": ["SE"]},
    {"id": "free", "name": "Free over 500", "price": 29, "vatRate": 0.25, "freeFrom": 500},
]  # fmt: skip


def shipping_configuration(**extra: Any) -> dict[str, Any]:
    return {
        "$schema": "urn:kassa:configuration:kassa_sandbox_shipping_adapter:v1",
        "id": ADAPTER_ID,
        "active": True,
        "defaultOption": "standard",
        "options": OPTIONS,
        **extra,
    }


@pytest.fixture(scope="session")
def shipping_app(settings: Settings, db: Database) -> FastAPI:
    mounted = ("nonpsp_adapter", ADAPTER_ID)
    return create_app(adapter_settings(settings, builtin_adapters=mounted), db=db)


@pytest.fixture
async def shop_client(shipping_app: FastAPI, shop: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(shipping_app, shop.headers) as c:
        yield c


def own(order: dict[str, Any], kind: str = "shippings") -> list[dict[str, Any]]:
    return [s for s in order.get(kind, []) if s.get("adapterId") == ADAPTER_ID]


async def configured_order(client: httpx.AsyncClient, shop: Tenant, **extra: Any) -> str:
    await put_configuration(client, shop.merchant, shop.channel, shipping_configuration(**extra))
    await put_configuration(client, shop.merchant, shop.channel, nonpsp_configuration())
    return await create_order(client, order_body(item(100, 80, quantity=2)))


async def history_length(client: httpx.AsyncClient, order_id: str) -> int:
    """Committed versions of the order (one history entry each)."""
    response = await client.get(f"{ORDERS}/{order_id}/history")
    assert response.status_code == 200, response.text
    return len(response.json())


# pure rules ------------------------------------------------------------------------------------


def test_price_per_item_free_from_and_rounding() -> None:
    order = jsonutil.loads(
        b'{"currency": "SEK", "cart": {"items": [{"quantity": 2}, {"quantity": 1}],'
        b' "total": {"includingVat": 499.99}}}'
    )
    standard, _, free = jsonutil.loads(jsonutil.dumps(OPTIONS))  # numbers as the API parses them
    assert sandbox_shipping.price(standard, order) == {
        "includingVat": Decimal(79),
        "excludingVat": Decimal("63.2"),
    }
    assert sandbox_shipping.price(free, order)["includingVat"] == 29
    order["cart"]["total"]["includingVat"] = Decimal(500)
    assert sandbox_shipping.price(free, order) == {"includingVat": 0, "excludingVat": 0}
    odd = {"id": "x", "name": "x", "price": Decimal("10"), "vatRate": Decimal("0.12")}
    assert sandbox_shipping.price(odd, order)["excludingVat"] == Decimal("8.93")  # 8.928… half-up


def test_destination_and_availability() -> None:
    standard, express, free = jsonutil.loads(jsonutil.dumps(OPTIONS))
    order: dict[str, Any] = {"country": "SE"}
    assert sandbox_shipping.destination(order) == "SE"
    order["customer"] = {"billing": {"country": "NO"}}
    assert sandbox_shipping.available(standard, order)  # "no" listed in lower case
    assert not sandbox_shipping.available(express, order)
    order["customer"]["shipping"] = {"country": "dk"}
    assert sandbox_shipping.destination(order) == "dk"
    assert not sandbox_shipping.available(standard, order)
    assert sandbox_shipping.available(free, order)  # no countries: everywhere
    assert sandbox_shipping.available(express, {})  # no destination: available


def test_state_changed_is_deterministic() -> None:
    order = {
        "state": {"currentStatus": "accepted"},
        "shippings": [{"id": "s_a", "state": "removed"}, {"id": "s_b", "state": "intent"}],
    }
    patch = sandbox_shipping.state_changed(order, "s_b")
    assert patch == [
        {"op": "replace", "path": "/shippings/1/state", "value": "confirmed"},
        {"op": "add", "path": "/shippings/1/tmsReference", "value": "SBX-s_b"},
    ]
    assert sandbox_shipping.state_changed(order, "s_a") == []
    order["state"] = {"currentStatus": "processing"}
    assert sandbox_shipping.state_changed(order, "s_b") == []


# over HTTP -------------------------------------------------------------------------------------


async def test_case_22_sandbox_shipping(shop_client: httpx.AsyncClient, shop: Tenant) -> None:
    client = shop_client
    order_id = await configured_order(client, shop)

    response = await client.post(f"{NONPSP_ORDERS}/{order_id}/payments")
    assert response.status_code == 200, response.text
    payment_id = response.json()["paymentId"]
    assert response.json()["amount"] == 100

    # S1 prices the default option: 49 + 10 * 2 = 69; the payment follows in that write
    response = await client.post(f"{SHIPPING_ORDERS}/{order_id}/shippings")
    assert response.status_code == 200, response.text
    session = response.json()
    shipping_id = session["shippingId"]
    assert shipping_id.startswith("s_")
    assert session["selectedOption"] == "standard"
    assert session["options"] == [
        {"id": "standard", "name": "Standard", "carrier": "Sandbox Post",
         "total": {"includingVat": 69, "excludingVat": 55.2}, "vatRate": 0.25, "available": True},
        {"id": "express", "name": "Express", "carrier": None,
         "total": {"includingVat": 99, "excludingVat": 79.2}, "vatRate": 0.25, "available": True},
        {"id": "free", "name": "Free over 500", "carrier": None,
         "total": {"includingVat": 29, "excludingVat": 23.2}, "vatRate": 0.25, "available": True},
    ]  # fmt: skip
    order = await get_order(client, order_id)
    [shipping] = own(order)
    assert shipping["total"] == {"includingVat": 69, "excludingVat": Decimal("55.2")}
    assert shipping["reference"] == "standard" and shipping["state"] == "intent"
    assert shipping["deliveryDetails"] == {
        "carrier": "Sandbox Post",
        "product": {"reference": "standard", "name": "Standard"},
    }
    assert order["total"]["includingVat"] == 169
    assert order["payments"][0]["amount"] == 169
    hooks = own(order, "hooks")
    assert sorted((h["scope"], h["target"]) for h in hooks) == [
        ("/cart", "/shippings"),
        ("/customer/shipping", "/shippings"),
        ("/state", "/shippings"),
    ]

    # S1 again: the same shipping, no new hooks
    again = await client.post(f"{SHIPPING_ORDERS}/{order_id}/shippings")
    assert again.json()["shippingId"] == shipping_id
    assert len(own(await get_order(client, order_id), "hooks")) == 3

    # more units: shipping total and payment amount follow, in one version
    version = await history_length(client, order_id)
    item_id = order["cart"]["items"][0]["id"]
    response = await client.put(
        f"{ORDERS}/{order_id}/cart", json={"items": [item(150, 120, quantity=3, id=item_id)]}
    )
    assert response.status_code == 200, response.text
    order = await get_order(client, order_id)
    assert await history_length(client, order_id) == version + 1
    assert own(order)[0]["total"] == {"includingVat": 79, "excludingVat": Decimal("63.2")}
    assert order["total"]["includingVat"] == 229
    assert order["payments"][0]["amount"] == 229

    # an unlisted country is vetoed by the hook
    response = await client.put(f"{ORDERS}/{order_id}/customer/shipping", json={"country": "DK"})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "hook-rejected"
    assert response.json()["adapterId"] == ADAPTER_ID
    assert await history_length(client, order_id) == version + 1
    # a listed one passes (price unchanged: no patch)
    response = await client.put(f"{ORDERS}/{order_id}/customer/shipping", json={"country": "NO"})
    assert response.status_code == 200, response.text

    # S3: express is not available in NO; free is
    url = f"{SHIPPING_ORDERS}/{order_id}/shippings/{shipping_id}"
    response = await client.put(url, json={"selectedOption": "express"})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid-request"
    response = await client.put(url, json={"selectedOption": "free"})
    assert response.status_code == 200, response.text
    assert response.json()["selectedOption"] == "free"
    assert [o["available"] for o in response.json()["options"]] == [True, False, True]
    order = await get_order(client, order_id)
    assert own(order)[0]["total"] == {"includingVat": 29, "excludingVat": Decimal("23.2")}
    assert own(order)[0]["name"] == "Free over 500"
    assert order["payments"][0]["amount"] == 179
    # from 500 it is free: the cart reaches it
    response = await client.put(
        f"{ORDERS}/{order_id}/cart", json={"items": [item(500, 400, quantity=10, id=item_id)]}
    )
    assert response.status_code == 200, response.text
    order = await get_order(client, order_id)
    assert own(order)[0]["total"] == {"includingVat": 0, "excludingVat": 0}
    assert order["payments"][0]["amount"] == 500

    # N4: the order is accepted and completed; the shipping is confirmed with its TMS reference
    response = await client.post(f"{NONPSP_ORDERS}/{order_id}/payments/{payment_id}/complete")
    assert response.status_code == 200, response.text
    order = await get_order(client, order_id)
    assert order["state"]["currentStatus"] == "completed"
    [shipping] = own(order)
    assert shipping["state"] == "confirmed"
    assert shipping["tmsReference"] == f"SBX-{shipping_id}"
    response = await client.get(url)
    assert response.status_code == 200
    assert response.json()["state"] == "confirmed"


async def test_gates_and_bad_input(shop_client: httpx.AsyncClient, shop: Tenant) -> None:
    client = shop_client
    order_id = await create_order(client, order_body(item(100, 80)))
    create = f"{SHIPPING_ORDERS}/{order_id}/shippings"

    response = await client.post(create)  # no configuration
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "configuration-not-found"
    await put_configuration(
        client, shop.merchant, shop.channel, shipping_configuration(active=False)
    )
    response = await client.post(create)
    assert response.status_code == 409 and response.json()["code"] == "adapter-inactive"
    # nothing serves Denmark but "free"; without it, nothing at all
    only_se = [o for o in OPTIONS if o["id"] != "free"]
    await put_configuration(
        client, shop.merchant, shop.channel, shipping_configuration(options=only_se)
    )
    response = await client.put(f"{ORDERS}/{order_id}/customer/shipping", json={"country": "DK"})
    assert response.status_code == 200, response.text
    response = await client.post(create)
    assert response.status_code == 409 and response.json()["adapterId"] == ADAPTER_ID
    assert own(await get_order(client, order_id)) == []

    # the default option does not serve DK: the first that does is taken
    await put_configuration(client, shop.merchant, shop.channel, shipping_configuration())
    response = await client.post(create)
    assert response.status_code == 200, response.text
    shipping_id = response.json()["shippingId"]
    assert response.json()["selectedOption"] == "free"

    url = f"{create}/{shipping_id}"
    bad: dict[str, str]
    for bad in ({}, {"selectedOption": "teleport"}):
        response = await client.put(url, json=bad)
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["path"] == "/selectedOption"
    response = await client.get(f"{create}/s_unknownunknownunknownunkno")
    assert response.status_code == 404 and response.json()["code"] == "shipping-not-found"
    response = await client.get(f"{SHIPPING_ORDERS}/o_nosuchorder/shippings/{shipping_id}")
    assert response.status_code == 404 and response.json()["code"] == "order-not-found"
    response = await client.get(url, headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401

    # callbacks: unsigned → 401; signed but not an order → 400
    callback = f"{SHIPPING_CALLBACKS}/{order_id}/shippings/{shipping_id}/update-shipping"
    response = await client.post(callback, content=b"{}", headers={"Authorization": ""})
    assert response.status_code == 401, response.text
    body = b'{"shippings": 3}'
    headers = signed_headers(shop.merchant, shop.channel, body)
    response = await client.post(callback, content=body, headers=headers)
    assert response.status_code == 400 and response.json()["code"] == "invalid-request"
    # signed, a moved shipping address: the veto, as kassa would receive it
    order = await get_order(client, order_id)
    order["customer"] = {"shipping": {"country": "SE"}}
    order["shippings"][0]["reference"] = "teleport"
    body = jsonutil.dumps(order)
    response = await client.post(
        callback, content=body, headers=signed_headers(shop.merchant, shop.channel, body)
    )
    assert response.status_code == 400
    assert response.json()["code"] == "shipping-option-not-available"

    # S4: removed, hooks gone; S1 then makes a new one
    response = await client.post(f"{url}/remove")
    assert response.status_code == 200, response.text
    order = await get_order(client, order_id)
    assert own(order)[0]["state"] == "removed" and own(order, "hooks") == []
    assert order["total"]["includingVat"] == 100
    response = await client.post(f"{url}/remove")
    assert response.status_code == 200
    response = await client.post(create)
    assert response.status_code == 200 and response.json()["shippingId"] != shipping_id

    # not in checkout: 409
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "removed"})
    assert response.status_code == 200, response.text
    response = await client.post(create)
    assert response.status_code == 409 and response.json()["code"] == "order-not-editable"


async def test_idempotent_create(shop_client: httpx.AsyncClient, shop: Tenant) -> None:
    order_id = await configured_order(shop_client, shop)
    create = f"{SHIPPING_ORDERS}/{order_id}/shippings"
    first = await shop_client.post(create, headers={"Idempotency-Key": "ship-1"})
    second = await shop_client.post(create, headers={"Idempotency-Key": "ship-1"})
    assert first.status_code == second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert first.json() == second.json()


async def test_schema_served(shop_client: httpx.AsyncClient) -> None:
    response = await shop_client.get(
        f"{SHIPPING}/openapi/v1/schemas/{ADAPTER_ID}.json", headers={"Authorization": ""}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/schema+json"
    assert response.json()["$id"] == f"urn:kassa:configuration:{ADAPTER_ID}:v1"
