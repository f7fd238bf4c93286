"""Shippings (api §2.3, §3.20-3.24; semantics §2.2, §3.4): create, read and
list, refused bodies and limits, and how shippings count in the order total."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ORDERS, Tenant, create_order, get_order
from tests.support.http_asserts import assert_error
from tests.support.shippings import (
    CART,
    EXAMPLE_TEXT,
    JSON_HEADERS,
    SHIPPING_ID,
    add_shipping,
    expected_example,
    get_shipping,
    put_shipping,
    set_state,
    total_of,
)

# Create and read ----------------------------------------------------------------------------


async def test_create_with_documented_example(client: httpx.AsyncClient, tenant: Tenant) -> None:
    order_id = await create_order(client)
    response = await client.post(
        f"{ORDERS}/{order_id}/shippings", content=EXAMPLE_TEXT.encode(), headers=JSON_HEADERS
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id"}
    shipping_id = body["id"]
    assert SHIPPING_ID.match(shipping_id)
    assert response.headers["location"] == f"{ORDERS}/{order_id}/shippings/{shipping_id}"
    assert response.headers["etag"] == '"2"'

    response = await client.get(f"{ORDERS}/{order_id}/shippings/{shipping_id}")
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    assert response.json() == expected_example(tenant, order_id, shipping_id)
    assert "Adaptivevägen 18" in response.content.decode("utf-8")

    response = await client.get(f"{ORDERS}/{order_id}/shippings")
    assert response.status_code == 200, response.text
    assert response.json() == [expected_example(tenant, order_id, shipping_id)]
    order = await get_order(client, order_id)
    assert order["shippings"] == [expected_example(tenant, order_id, shipping_id)]
    assert total_of(order) == (1234, 987.2)


async def test_money_written_canonically(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    text = EXAMPLE_TEXT.replace('"excludingVat":987.2', '"excludingVat":987.20').replace(
        '"price":0.1', '"price":0.10'
    )
    assert "987.20" in text and "0.10" in text
    response = await client.post(
        f"{ORDERS}/{order_id}/shippings", content=text.encode(), headers=JSON_HEADERS
    )
    assert response.status_code == 201, response.text
    shipping_id = response.json()["id"]
    response = await client.get(f"{ORDERS}/{order_id}/shippings/{shipping_id}")
    assert response.status_code == 200, response.text
    raw = response.content.decode()
    assert '"excludingVat":987.2}' in raw.replace(" ", "")
    assert '"price":0.1}' in raw.replace(" ", "")
    assert "987.20" not in raw and "0.10" not in raw
    assert response.json()["total"] == {"includingVat": 1234, "excludingVat": 987.2}


async def test_list_in_creation_order_with_removed(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    first = await add_shipping(client, order_id, {"total": {"includingVat": 1}, "vatRate": 0})
    second = await add_shipping(
        client, order_id, {"total": {"includingVat": 2}, "vatRate": 0, "state": "Removed"}
    )
    third = await add_shipping(client, order_id, {"total": {}, "vatRate": 1, "state": "FAILED"})
    response = await client.get(f"{ORDERS}/{order_id}/shippings")
    assert response.status_code == 200, response.text
    assert [(s["id"], s["state"]) for s in response.json()] == [
        (first, "intent"),
        (second, "removed"),
        (third, "failed"),
    ]


async def test_list_empty_and_unknown_order(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.get(f"{ORDERS}/{order_id}/shippings")
    assert response.status_code == 200, response.text
    assert response.json() == []
    response = await client.get(f"{ORDERS}/o_AAAAAAAAAAAAAAAAAAAAAAAAAA/shippings")
    assert_error(response, 404, "order-not-found")


@pytest.mark.parametrize(
    "body",
    [
        {"vatRate": 0.25},
        {"total": {"includingVat": 10}},
        {"total": None, "vatRate": 0.25},
        {"total": {"includingVat": 10}, "vatRate": None},
        {},
    ],
)
async def test_total_and_vat_rate_required(client: httpx.AsyncClient, body: Any) -> None:
    order_id = await create_order(client)
    response = await client.post(f"{ORDERS}/{order_id}/shippings", json=body)
    assert_error(response, 400, "invalid-request")
    assert (await get_order(client, order_id))["shippings"] == []


@pytest.mark.parametrize("vat_rate", [1.01, 2, -0.1, 0.1234567, "0.25", True])
async def test_vat_rate_range(client: httpx.AsyncClient, vat_rate: Any) -> None:
    order_id = await create_order(client)
    body = {"total": {"includingVat": 10}, "vatRate": vat_rate}
    response = await client.post(f"{ORDERS}/{order_id}/shippings", json=body)
    assert_error(response, 400, "invalid-request")
    shipping_id = await add_shipping(client, order_id, {**body, "vatRate": 1})
    response = await put_shipping(client, order_id, shipping_id, body)
    assert_error(response, 400, "invalid-request")
    assert (await get_shipping(client, order_id, shipping_id))["vatRate"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"total": {"includingVat": -1}, "vatRate": 0.25},
        {"total": {"includingVat": 1.0000001}, "vatRate": 0.25},
        {"total": {"excludingVat": 1e15}, "vatRate": 0.25},
        {"total": {"includingVat": 1}, "vatRate": 0.25, "addons": [{"price": -0.1}]},
    ],
)
async def test_invalid_amounts(client: httpx.AsyncClient, body: Any) -> None:
    order_id = await create_order(client)
    response = await client.post(f"{ORDERS}/{order_id}/shippings", json=body)
    assert_error(response, 400, "invalid-amount")
    assert (await get_order(client, order_id))["shippings"] == []


async def test_field_names_are_camel_case_only(client: httpx.AsyncClient) -> None:
    # api §1.6: names are camelCase exactly; anything else is an unknown field and ignored
    order_id = await create_order(client)
    response = await client.post(
        f"{ORDERS}/{order_id}/shippings", json={"total": {"includingVat": 1}, "vat_rate": 0.25}
    )
    body = assert_error(response, 400, "invalid-request")
    assert [e["path"] for e in body["errors"]] == ["/vatRate"]
    shipping_id = await add_shipping(
        client,
        order_id,
        {
            "total": {"includingVat": 1},
            "vatRate": 0,
            "tms_reference": "t",
            "deliveryDetails": {"class_": "x", "carrier_product_id": "y", "carrier": "c"},
        },
    )
    shipping = await get_shipping(client, order_id, shipping_id)
    assert "tmsReference" not in shipping and "tms_reference" not in shipping
    assert shipping["deliveryDetails"] == {"carrier": "c"}


async def test_invalid_fields(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    base = {"total": {"includingVat": 1}, "vatRate": 0.25}
    for extra in (
        {"state": "shipped"},
        {"deliveryDetails": {"pickupLocation": {"address": {"country": "SWE"}}}},
        {"addons": {"price": 1}},
        {"name": 5},
    ):
        response = await client.post(f"{ORDERS}/{order_id}/shippings", json={**base, **extra})
        assert_error(response, 400, "invalid-request")
    assert (await get_order(client, order_id))["shippings"] == []


async def test_shipping_not_found(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    other_order = await create_order(client)
    foreign = await add_shipping(client, other_order, {"total": {}, "vatRate": 0})
    body = {"total": {}, "vatRate": 0}
    for shipping_id in ("s_AAAAAAAAAAAAAAAAAAAAAAAAAA", "nope", foreign):
        response = await client.get(f"{ORDERS}/{order_id}/shippings/{shipping_id}")
        assert_error(response, 404, "shipping-not-found")
        assert_error(
            await put_shipping(client, order_id, shipping_id, body), 404, "shipping-not-found"
        )


async def test_post_needs_checkout(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    await set_state(client, order_id, "declined")
    response = await client.post(
        f"{ORDERS}/{order_id}/shippings", json={"total": {"includingVat": 1}, "vatRate": 0}
    )
    assert assert_error(response, 409, "order-not-editable")["state"] == "declined"
    assert (await get_order(client, order_id))["shippings"] == []


async def test_fifty_shippings_per_order(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    for n in range(50):
        state = "removed" if n % 2 else "intent"
        await add_shipping(client, order_id, {"total": {}, "vatRate": 0, "state": state})
    response = await client.post(f"{ORDERS}/{order_id}/shippings", json={"total": {}, "vatRate": 0})
    assert_error(response, 400, "limit-exceeded")
    assert len((await get_order(client, order_id))["shippings"]) == 50


# Totals (semantics §3.4) ----------------------------------------------------------------------


async def test_order_total_includes_non_removed_shippings(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, CART)
    assert total_of(await get_order(client, order_id)) == (100, 80)
    shipping_id = await add_shipping(
        client, order_id, {"total": {"includingVat": 7.5, "excludingVat": 6}, "vatRate": 0.25}
    )
    assert total_of(await get_order(client, order_id)) == (107.5, 86)

    # a shipping created removed does not count
    removed = await add_shipping(
        client,
        order_id,
        {"total": {"includingVat": 99, "excludingVat": 79.2}, "vatRate": 0.25, "state": "removed"},
    )
    order = await get_order(client, order_id)
    assert total_of(order) == (107.5, 86)
    assert order["cart"]["total"] == {"includingVat": 100, "excludingVat": 80}

    # removing and restoring by state
    response = await put_shipping(
        client,
        order_id,
        shipping_id,
        {"total": {"includingVat": 7.5, "excludingVat": 6}, "vatRate": 0.25, "state": "removed"},
    )
    assert response.status_code == 200, response.text
    assert total_of(await get_order(client, order_id)) == (100, 80)
    response = await put_shipping(
        client,
        order_id,
        removed,
        {"total": {"includingVat": 99, "excludingVat": 79.2}, "vatRate": 0.25, "state": "intent"},
    )
    assert response.status_code == 200, response.text
    assert total_of(await get_order(client, order_id)) == (199, 159.2)


async def test_shipping_with_one_component(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, CART)
    await add_shipping(client, order_id, {"total": {"includingVat": 10}, "vatRate": 0.25})
    assert total_of(await get_order(client, order_id)) == (110, 80)


async def test_shipping_counts_for_coverage(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, CART)
    await add_shipping(client, order_id, {"total": {"includingVat": 10}, "vatRate": 0.25})
    response = await client.post(f"{ORDERS}/{order_id}/payments", json={"amount": 100})
    assert response.status_code == 201, response.text
    payment_id = response.json()["id"]
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "completed"})
    body = assert_error(response, 400, "validation-failed")
    assert [e["code"] for e in body["errors"]] == ["payment-amount-mismatch"]
    response = await client.put(f"{ORDERS}/{order_id}/payments/{payment_id}", json={"amount": 110})
    assert response.status_code == 200, response.text
    await set_state(client, order_id, "completed")
