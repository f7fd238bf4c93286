"""Replacing a shipping with PUT (api §2.3; semantics §1.3, §3.7): what a PUT changes and in
which order states."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import ORDERS, Tenant, create_order, get_order
from tests.support.http_asserts import assert_error
from tests.support.shippings import (
    CART,
    EXAMPLE,
    EXAMPLE_TEXT,
    JSON_HEADERS,
    add_shipping,
    expected_example,
    get_shipping,
    put_shipping,
    set_state,
    total_of,
)


async def test_put_replaces_the_shipping(client: httpx.AsyncClient, tenant: Tenant) -> None:
    order_id = await create_order(client)
    response = await client.post(
        f"{ORDERS}/{order_id}/shippings", content=EXAMPLE_TEXT.encode(), headers=JSON_HEADERS
    )
    assert response.status_code == 201, response.text
    shipping_id = response.json()["id"]
    # the example itself is a no-op PUT
    response = await put_shipping(client, order_id, shipping_id, EXAMPLE)
    assert response.status_code == 200, response.text
    assert response.json() == expected_example(tenant, order_id, shipping_id)
    assert response.headers["etag"] == '"2"'

    response = await put_shipping(
        client,
        order_id,
        shipping_id,
        {
            "id": "s_BBBBBBBBBBBBBBBBBBBBBBBBBB",
            "orderId": "o_BBBBBBBBBBBBBBBBBBBBBBBBBB",
            "merchant": "other",
            "name": "Budbee",
            "total": {"includingVat": 49},
            "vatRate": 0.12,
            "reference": None,
        },
    )
    assert response.status_code == 200, response.text
    expected = {
        "id": shipping_id,
        "merchant": tenant.merchant,
        "channel": tenant.channel,
        "state": "intent",  # kept when absent
        "orderId": order_id,
        "name": "Budbee",
        "total": {"includingVat": 49},
        "vatRate": 0.12,
    }
    assert response.json() == expected
    assert response.headers["etag"] == '"3"'
    assert await get_shipping(client, order_id, shipping_id) == expected
    assert total_of(await get_order(client, order_id)) == (49, 0)


async def test_put_total_and_vat_rate_required(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    shipping_id = await add_shipping(client, order_id, {"total": {}, "vatRate": 0})
    bodies: list[dict[str, Any]] = [{"vatRate": 0}, {"total": {}}, {"state": "removed"}]
    for body in bodies:
        response = await put_shipping(client, order_id, shipping_id, body)
        assert_error(response, 400, "invalid-request")
    assert (await get_shipping(client, order_id, shipping_id))["state"] == "intent"


SHIPPING_STATES = ["intent", "removed", "processing", "failed", "confirmed"]


async def test_put_changes_state_freely(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    body = {"total": {"includingVat": 3}, "vatRate": 0.25}
    shipping_id = await add_shipping(client, order_id, body)
    for source in SHIPPING_STATES:
        for target in SHIPPING_STATES:
            if source == target:
                continue
            for state in (source, target):
                response = await put_shipping(
                    client, order_id, shipping_id, {**body, "state": state.upper()}
                )
                assert response.status_code == 200, (source, target, response.text)
                assert response.json()["state"] == state
            expected_total = 0 if target == "removed" else 3
            assert total_of(await get_order(client, order_id))[0] == expected_total


async def test_put_money_needs_checkout(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, CART)
    body = {"total": {"includingVat": 10, "excludingVat": 8}, "vatRate": 0.25}
    shipping_id = await add_shipping(client, order_id, body)
    response = await client.post(f"{ORDERS}/{order_id}/payments", json={"amount": 110})
    assert response.status_code == 201, response.text
    await set_state(client, order_id, "processing")

    for changed in (
        {**body, "total": {"includingVat": 11, "excludingVat": 8}},
        {**body, "total": {"includingVat": 10}},
        {**body, "vatRate": 0.12},
    ):
        response = await put_shipping(client, order_id, shipping_id, changed)
        assert assert_error(response, 409, "order-not-editable")["state"] == "processing"
    shipping = await get_shipping(client, order_id, shipping_id)
    assert (shipping["total"], shipping["vatRate"], shipping["state"]) == (
        body["total"],
        body["vatRate"],
        "intent",
    )

    # numerically equal money with other fields and the state changing is fine
    response = await client.put(
        f"{ORDERS}/{order_id}/shippings/{shipping_id}",
        content=(
            b'{"total": {"includingVat": 10.00, "excludingVat": 8.0}, "vatRate": 0.250,'
            b' "state": "confirmed", "name": "Late name"}'
        ),
        headers=JSON_HEADERS,
    )
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "confirmed"
    assert response.json()["name"] == "Late name"
    assert response.json()["vatRate"] == 0.25

    await set_state(client, order_id, "accepted")
    response = await put_shipping(client, order_id, shipping_id, {**body, "state": "processing"})
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "processing"
    response = await put_shipping(client, order_id, shipping_id, {**body, "vatRate": 0})
    assert assert_error(response, 409, "order-not-editable")["state"] == "accepted"


async def test_put_refused_in_removed_order(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    body = {"total": {"includingVat": 1}, "vatRate": 0}
    shipping_id = await add_shipping(client, order_id, body)
    await set_state(client, order_id, "removed")
    response = await put_shipping(client, order_id, shipping_id, {**body, "state": "removed"})
    assert assert_error(response, 409, "order-not-editable")["state"] == "removed"
    assert (await get_shipping(client, order_id, shipping_id))["state"] == "intent"


async def test_put_money_allowed_in_checkout_after_reopen(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, CART)
    body = {"total": {"includingVat": 10}, "vatRate": 0.25}
    shipping_id = await add_shipping(client, order_id, body)
    response = await client.post(f"{ORDERS}/{order_id}/payments", json={"amount": 110})
    assert response.status_code == 201, response.text
    await set_state(client, order_id, "processing")
    await set_state(client, order_id, "checkout")
    response = await put_shipping(client, order_id, shipping_id, {**body, "vatRate": 0.12})
    assert response.status_code == 200, response.text
    assert response.json()["vatRate"] == 0.12
