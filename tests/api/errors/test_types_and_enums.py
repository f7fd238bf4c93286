"""Wrong JSON types and enum values in bodies and queries (api §1.6): invalid-request naming
the field; enums accepted in any case and written canonically."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ORDERS, create_order, get_order
from tests.support.http_asserts import assert_error, field_paths


@pytest.mark.parametrize(
    ("body", "path"),
    [
        # string where a number is expected
        ({"cart": {"items": [{"quantity": "2"}]}}, "/cart/items/0/quantity"),
        (
            {"cart": {"items": [{"price": {"includingVat": "10"}}]}},
            "/cart/items/0/price/includingVat",
        ),
        # number where a string is expected
        ({"reference": 5}, "/reference"),
        ({"customer": {"billing": {"givenName": 1}}}, "/customer/billing/givenName"),
        # boolean where a number is expected
        ({"cart": {"items": [{"quantity": True}]}}, "/cart/items/0/quantity"),
        ({"cart": {"total": {"excludingVat": False}}}, "/cart/total/excludingVat"),
        # object / array where a string / object is expected
        ({"currency": {"code": "SEK"}}, "/currency"),
        ({"cart": []}, "/cart"),
    ],
)
async def test_wrong_json_type_names_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], path: str
) -> None:
    response = await client.post(ORDERS, json=body)
    error = assert_error(response, 400, "invalid-request")
    assert path in field_paths(error)


async def test_wrong_json_type_creates_nothing(client: httpx.AsyncClient) -> None:
    response = await client.post(ORDERS, json={"cart": {"items": [{"quantity": "2"}]}})
    assert_error(response, 400, "invalid-request")
    listing = await client.get(ORDERS)
    assert listing.status_code == 200, listing.text
    assert listing.json()["pagination"]["totalSize"] == 0


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"customer": {"type": "alien"}}, "/customer/type"),
        ({"customer": {"billing": {"type": "robot"}}}, "/customer/billing/type"),
        ({"cart": {"items": [{"productType": "service"}]}}, "/cart/items/0/productType"),
        ({"cart": {"discounts": [{"type": "everything"}]}}, "/cart/discounts/0/type"),
    ],
)
async def test_unknown_enum_value_is_invalid_request(
    client: httpx.AsyncClient, body: dict[str, Any], path: str
) -> None:
    response = await client.post(ORDERS, json=body)
    error = assert_error(response, 400, "invalid-request")
    assert path in field_paths(error)


async def test_unknown_enum_value_in_state_change(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "shipped"})
    error = assert_error(response, 400, "invalid-request")
    assert "/currentStatus" in field_paths(error)
    assert (await get_order(client, order_id))["state"]["currentStatus"] == "checkout"


@pytest.mark.parametrize(
    "query",
    ["status=shipped", "status=checkout&status=nope", "order_by=price", "order_by_direction=up"],
)
async def test_unknown_enum_in_query_is_invalid_request(
    client: httpx.AsyncClient, query: str
) -> None:
    response = await client.get(f"{ORDERS}?{query}")
    error = assert_error(response, 400, "invalid-request")
    name = query.split("&")[-1].split("=")[0]
    assert field_paths(error) == [f"?{name}"]


async def test_enum_query_values_accepted_in_any_case(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    for query in ("status=CHECKOUT", "status=Checkout&order_by=CREATED&order_by_direction=ASC"):
        response = await client.get(f"{ORDERS}?{query}")
        assert response.status_code == 200, response.text
        assert [o["id"] for o in response.json()["data"]] == [order_id]
    response = await client.get(f"{ORDERS}?status=DECLINED")
    assert response.status_code == 200, response.text
    assert response.json()["data"] == []


async def test_enums_accepted_in_any_case_and_written_canonically(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(
        client,
        {
            "customer": {
                "type": "ORGANIZATION",
                "billing": {"type": "PERSON", "givenName": "Åsa"},
                "shipping": {"type": "Organization"},
            },
            "cart": {
                "items": [{"name": "card", "productType": "GIFTCARD"}],
                "discounts": [{"type": "Item"}],
            },
        },
    )
    order = await get_order(client, order_id)
    assert order["customer"]["type"] == "organization"
    assert order["customer"]["billing"] == {"type": "person", "givenName": "Åsa"}
    assert order["customer"]["shipping"] == {"type": "organization"}
    assert order["cart"]["items"][0]["productType"] == "giftCard"
    assert order["cart"]["discounts"][0]["type"] == "item"

    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "DECLINED"})
    assert response.status_code == 200, response.text
    state = (await get_order(client, order_id))["state"]
    assert state["currentStatus"] == "declined"
    assert [t["status"] for t in state["transitions"]] == ["checkout", "declined"]
