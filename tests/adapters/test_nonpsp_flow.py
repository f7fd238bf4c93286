"""The Non-PSP adapter through a whole checkout (adapters.md §9 cases 6-8)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx

from tests.adapters.support import (
    NONPSP_ORDERS,
    ORDERS,
    create_order,
    get_order,
    item,
    nonpsp_configuration,
    order_body,
    order_with_shipping,
    own_hooks,
)
from tests.conftest import Tenant


async def checkout_order(storefront: httpx.AsyncClient, shop: Tenant) -> str:
    """An order of one item 12.5/10 and one shipping 7.5/6 (total 20), channel configured."""
    configuration = (shop.merchant, shop.channel, nonpsp_configuration())
    return await order_with_shipping(storefront, configuration)


async def test_checkout_with_the_nonpsp_adapter(
    storefront: httpx.AsyncClient, shop: Tenant
) -> None:
    order_id = await checkout_order(storefront, shop)

    response = await storefront.post(f"{NONPSP_ORDERS}/{order_id}/payments")
    assert response.status_code == 200, response.text
    created = response.json()
    payment_id = created["paymentId"]
    assert payment_id.startswith("p_")
    assert created == {
        "paymentId": payment_id,
        "paymentMethods": [{"identifier": "invoice"}, {"identifier": "store"}],
        "selectedPaymentMethod": "invoice",
        "state": "intent",
        "amount": 20,
        "currency": "SEK",
    }

    order = await get_order(storefront, order_id)
    [payment] = order["payments"]
    assert payment["amount"] == 20 and payment["adapterId"] == "nonpsp_adapter"
    assert payment["type"] == "default" and payment["state"] == "intent"
    hooks = own_hooks(order)
    assert sorted((h["scope"], h["reference"]) for h in hooks) == [
        ("/payments", f"nonpsp_adapter/{payment_id}/update-payment-payments"),
        ("/state", f"nonpsp_adapter/{payment_id}/state-changed"),
        ("/total", f"nonpsp_adapter/{payment_id}/update-payment-total"),
    ]
    assert all(
        h["invoke"].startswith("http://kassa.internal/checkout/nonpsp-adapter/") for h in hooks
    )
    assert all(h["target"] == "/payments" and h["version"] == "v1" for h in hooks)

    # the cart grows: the /total hook keeps the payment covering it, in the same write
    item_id = order["cart"]["items"][0]["id"]
    response = await storefront.put(
        f"{ORDERS}/{order_id}/cart",
        json={"items": [item(25, 20, quantity=2, id=item_id)]},
    )
    assert response.status_code == 200, response.text
    version = int(response.headers["etag"].strip('"'))
    order = await get_order(storefront, order_id)
    assert order["total"]["includingVat"] == 32.5
    assert order["payments"][0]["amount"] == 32.5
    history = (await storefront.get(f"{ORDERS}/{order_id}/history")).json()
    assert len(history) == version  # the cart and the payment amount: one version

    response = await storefront.put(
        f"{NONPSP_ORDERS}/{order_id}/payments/{payment_id}",
        json={"paymentId": payment_id, "selectedPaymentMethod": "store"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["selectedPaymentMethod"] == "store"
    assert response.json()["paymentMethods"] == [
        {"identifier": "invoice"},
        {"identifier": "store"},
    ]

    notification = {
        "scope": "/state/currentStatus",
        "schema": {"const": "completed"},
        "invoke": "https://erp.example/orders/{order_id}/completed",
    }
    response = await storefront.post(f"{ORDERS}/{order_id}/notifications", json=notification)
    assert response.status_code == 200, response.text

    response = await storefront.post(f"{NONPSP_ORDERS}/{order_id}/payments/{payment_id}/complete")
    assert response.status_code == 200, response.text
    assert response.content == b""

    # the completion notification fired once, its payload showing the payment confirmed
    events = await storefront.get("/api/v1/events", params={"order_id": order_id})
    assert events.status_code == 200, events.text
    [event] = events.json()["data"]
    detail = (await storefront.get(f"/api/v1/events/{event['id']}")).json()
    assert detail["payload"]["order"]["state"]["currentStatus"] == "completed"
    assert detail["payload"]["order"]["payments"][0]["state"] == "confirmed"

    order = await get_order(storefront, order_id)
    assert order["state"]["currentStatus"] == "completed"
    assert [t["status"] for t in order["state"]["transitions"]][-2:] == [
        "processing",
        "completed",
    ]
    [payment] = order["payments"]
    assert payment["state"] == "confirmed" and payment["amount"] == 32.5
    assert payment["name"] == "store"
    transactions = (
        await storefront.get(f"{ORDERS}/{order_id}/payments/{payment_id}/transactions")
    ).json()
    assert [(t["event"], t["isSuccess"], t["amount"], t["pspStatus"]) for t in transactions] == [
        ("confirm", True, 32.5, "store")
    ]

    # completing again changes nothing
    response = await storefront.post(f"{NONPSP_ORDERS}/{order_id}/payments/{payment_id}/complete")
    assert response.status_code == 200, response.text
    assert (await get_order(storefront, order_id))["lastModified"] == order["lastModified"]


async def test_create_converges(storefront: httpx.AsyncClient, shop: Tenant) -> None:
    order_id = await checkout_order(storefront, shop)
    url = f"{NONPSP_ORDERS}/{order_id}/payments"
    first = await storefront.post(url)
    second = await storefront.post(url)
    assert first.status_code == second.status_code == 200, second.text
    assert first.json() == second.json()
    concurrent = await asyncio.gather(storefront.post(url), storefront.post(url))
    assert [r.status_code for r in concurrent] == [200, 200], [r.text for r in concurrent]
    assert {r.json()["paymentId"] for r in concurrent} == {first.json()["paymentId"]}
    order = await get_order(storefront, order_id)
    assert len(order["payments"]) == 1
    assert len(own_hooks(order)) == 3

    # and two concurrent first calls on a fresh order
    other = await create_order(storefront, order_body(item(10, 8)))
    url = f"{NONPSP_ORDERS}/{other}/payments"
    concurrent = await asyncio.gather(storefront.post(url), storefront.post(url))
    assert [r.status_code for r in concurrent] == [200, 200], [r.text for r in concurrent]
    assert concurrent[0].json() == concurrent[1].json()
    order = await get_order(storefront, other)
    assert len(order["payments"]) == 1
    assert len(own_hooks(order)) == 3


async def test_part_payments_reduce_the_amount(storefront: httpx.AsyncClient, shop: Tenant) -> None:
    order_id = await checkout_order(storefront, shop)
    response = await storefront.post(f"{NONPSP_ORDERS}/{order_id}/payments")
    assert response.status_code == 200, response.text
    payment_id = response.json()["paymentId"]
    order = await get_order(storefront, order_id)
    item_id = order["cart"]["items"][0]["id"]
    response = await storefront.put(
        f"{ORDERS}/{order_id}/cart", json={"items": [item(25, 20, quantity=2, id=item_id)]}
    )
    assert response.status_code == 200, response.text

    response = await storefront.post(
        f"{ORDERS}/{order_id}/payments",
        json={"type": "voucher", "name": "gift", "amount": 5, "state": "intent"},
    )
    assert response.status_code == 201, response.text
    version = int(response.headers["etag"].strip('"'))
    order = await get_order(storefront, order_id)
    amounts = {p["type"]: p["amount"] for p in order["payments"]}
    assert amounts == {"default": Decimal("27.5"), "voucher": Decimal(5)}
    # in that write: the voucher and the new amount are one history entry
    history = (await storefront.get(f"{ORDERS}/{order_id}/history")).json()
    last = history[-1]
    assert last["sequence"] == version and last["operation"] == "CreateOrderPayment"
    [change] = last["patch"]
    assert [p["amount"] for p in change["value"]] == [27.5, 5]
    calls = [c for c in last["hookCalls"] if c["adapterId"] == "nonpsp_adapter"]
    assert [c["outcome"] for c in calls] == ["patched"], calls
    assert order["payments"][0]["id"] == payment_id
