"""Payments (api §2.2, §3.17): create, read and list, the limits (api §1.12)
and other tenants' payments."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from kassa.db.engine import Database
from tests.conftest import ORDERS, Tenant, client_for, create_order, get_order, make_tenant
from tests.support.http_asserts import assert_error
from tests.support.payments import (
    ACTION_ID,
    EXAMPLE_PAYMENT,
    PAYMENT_ID,
    add_payment,
    expected_example,
    get_payment,
)

# Create, read, list -------------------------------------------------------------------------


async def test_create_payment_with_documented_example(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    order_id = await create_order(client, {"currency": "SEK"})
    response = await client.post(f"{ORDERS}/{order_id}/payments", json=EXAMPLE_PAYMENT)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id"}
    payment_id = body["id"]
    assert PAYMENT_ID.match(payment_id)
    assert response.headers["location"] == f"{ORDERS}/{order_id}/payments/{payment_id}"
    assert response.headers["etag"] == '"2"'

    response = await client.get(f"{ORDERS}/{order_id}/payments/{payment_id}")
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    payment = response.json()
    action_id = payment["actions"][0]["id"]
    assert ACTION_ID.match(action_id)
    assert payment == expected_example(tenant, order_id, payment_id, action_id)


async def test_example_payment_on_order_without_currency(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    order_id = await create_order(client)
    payment_id = await add_payment(client, order_id, EXAMPLE_PAYMENT)
    payment = await get_payment(client, order_id, payment_id)
    action_id = payment["actions"][0]["id"]
    assert payment == expected_example(tenant, order_id, payment_id, action_id)


async def test_create_payment_defaults(client: httpx.AsyncClient, tenant: Tenant) -> None:
    order_id = await create_order(client, {"currency": "EUR"})
    response = await client.post(f"{ORDERS}/{order_id}/payments")
    assert response.status_code == 201, response.text
    payment_id = response.json()["id"]
    assert await get_payment(client, order_id, payment_id) == {
        "id": payment_id,
        "merchant": tenant.merchant,
        "channel": tenant.channel,
        "currency": "EUR",
        "type": "default",
        "orderId": order_id,
        "amount": 0,
        "state": "intent",
        "actions": [],
    }


async def test_create_payment_compat_body(client: httpx.AsyncClient) -> None:
    # semantics §16 row 9: a payment without adapterId
    order_id = await create_order(client)
    payment_id = await add_payment(
        client, order_id, {"reference": "ref", "name": "card", "type": "Default", "amount": 20}
    )
    payment = await get_payment(client, order_id, payment_id)
    assert payment["state"] == "intent"
    assert payment["type"] == "default"
    assert payment["amount"] == 20
    assert "currency" not in payment


async def test_list_payments_in_creation_order(client: httpx.AsyncClient, tenant: Tenant) -> None:
    order_id = await create_order(client, {"currency": "SEK"})
    first = await add_payment(client, order_id, EXAMPLE_PAYMENT)
    second = await add_payment(client, order_id, {"name": "voucher", "type": "VOUCHER"})
    third = await add_payment(client, order_id, {"state": "removed", "amount": 1})
    response = await client.get(f"{ORDERS}/{order_id}/payments")
    assert response.status_code == 200, response.text
    payments = response.json()
    assert [p["id"] for p in payments] == [first, second, third]
    action_id = payments[0]["actions"][0]["id"]
    assert payments[0] == expected_example(tenant, order_id, first, action_id)
    assert payments[1]["type"] == "voucher"
    assert payments[2]["state"] == "removed"
    order = await get_order(client, order_id)
    assert order["payments"] == payments


async def test_list_payments_empty_and_unknown_order(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.get(f"{ORDERS}/{order_id}/payments")
    assert response.status_code == 200, response.text
    assert response.json() == []
    response = await client.get(f"{ORDERS}/o_AAAAAAAAAAAAAAAAAAAAAAAAAA/payments")
    assert_error(response, 404, "order-not-found")


async def test_payment_id_list_filter(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    await create_order(client)
    payment_id = await add_payment(client, order_id)
    response = await client.get(ORDERS, params={"payment_id": payment_id})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [o["id"] for o in body["data"]] == [order_id]
    assert body["pagination"]["totalSize"] == 1
    response = await client.get(ORDERS, params={"payment_id": "p_AAAAAAAAAAAAAAAAAAAAAAAAAA"})
    assert response.status_code == 200, response.text
    assert response.json()["data"] == []


async def test_payment_not_found(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    other_order = await create_order(client)
    foreign = await add_payment(client, other_order)
    for payment_id in ("p_AAAAAAAAAAAAAAAAAAAAAAAAAA", "nonsense", foreign):
        response = await client.get(f"{ORDERS}/{order_id}/payments/{payment_id}")
        body = assert_error(response, 404, "payment-not-found")
        assert payment_id in body["message"]
        response = await client.put(f"{ORDERS}/{order_id}/payments/{payment_id}", json={})
        assert_error(response, 404, "payment-not-found")


async def test_payment_of_unknown_order(client: httpx.AsyncClient) -> None:
    unknown = "o_AAAAAAAAAAAAAAAAAAAAAAAAAA"
    response = await client.post(f"{ORDERS}/{unknown}/payments", json={})
    assert_error(response, 404, "order-not-found")
    response = await client.get(f"{ORDERS}/{unknown}/payments/p_AAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert_error(response, 404, "order-not-found")


async def test_field_names_are_camel_case_only(client: httpx.AsyncClient) -> None:
    # api §1.6: names are camelCase exactly; anything else is an unknown field and ignored
    order_id = await create_order(client)
    payment_id = await add_payment(
        client,
        order_id,
        {"adapter_id": "x", "upper_limit_amount": 5, "amount": 6, "reference": "r"},
    )
    payment = await get_payment(client, order_id, payment_id)
    assert "adapterId" not in payment and "adapter_id" not in payment
    assert "upperLimitAmount" not in payment and "upper_limit_amount" not in payment
    assert (payment["amount"], payment["reference"]) == (6, "r")


# Limits (api §1.12) ---------------------------------------------------------------------------


async def test_fifty_payments_per_order(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    for n in range(50):
        await add_payment(client, order_id, {"state": "removed" if n % 2 else "intent"})
    response = await client.post(f"{ORDERS}/{order_id}/payments", json={})
    body = assert_error(response, 400, "limit-exceeded")
    assert body["errors"], body
    assert len((await get_order(client, order_id))["payments"]) == 50


async def test_fifty_actions_per_payment(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    action = {"adapterId": "a", "type": "t", "url": "https://x.example"}
    response = await client.post(f"{ORDERS}/{order_id}/payments", json={"actions": [action] * 51})
    assert_error(response, 400, "limit-exceeded")
    payment_id = await add_payment(client, order_id, {"actions": [action] * 50})
    assert len((await get_payment(client, order_id, payment_id))["actions"]) == 50
    response = await client.put(
        f"{ORDERS}/{order_id}/payments/{payment_id}", json={"actions": [action] * 51}
    )
    assert_error(response, 400, "limit-exceeded")


# Other-tenant isolation (api §1.4) ---------------------------------------------------------


async def test_payment_of_other_channel_is_not_found(
    app: FastAPI, db: Database, client: httpx.AsyncClient
) -> None:
    order_id = await create_order(client)
    payment_id = await add_payment(client, order_id)
    stranger = await make_tenant(db)
    async with client_for(app, stranger.headers) as other:
        response = await other.get(f"{ORDERS}/{order_id}/payments/{payment_id}")
        assert_error(response, 404, "order-not-found")
