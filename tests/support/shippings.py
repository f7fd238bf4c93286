"""Helpers shared by the shipping tests in tests/api/shippings."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from tests.conftest import ORDERS, Tenant

SHIPPING_ID = re.compile(r"^s_[A-Za-z]{26}$")

# api §2.3 operation 32, the documented example request, byte for byte
EXAMPLE_TEXT = (
    '{"merchant":"norce","channel":"1","state":"intent",'
    '"reference":"e8ed2091-c34c-4837-a3a8-bc827b0dc183",'
    '"tmsReference":"a935a628-f70c-47a4-a9f6-98c6d08c2ba3",'
    '"orderId":"o_DhZSbDfVzNzuxOzHyCFskzGzaJ","adapterId":"ingrid-shipping-adapter",'
    '"name":"PostNord MyPack Home","total":{"includingVat":1234,"excludingVat":987.2},'
    '"vatRate":0.25,"deliveryDetails":{"carrier":"string","carrierProductId":"string",'
    '"class":"string","product":{"reference":"string","name":"string"},'
    '"pickupLocation":{"reference":"string","name":"string","address":'
    '{"streetAddress":"Adaptivevägen 18","city":"Boden","postalCode":"955 60","country":"SE"}}},'
    '"addons":[{"reference":"string","price":0.1}],"attributes":{}}'
)
EXAMPLE: dict[str, Any] = json.loads(EXAMPLE_TEXT)
JSON_HEADERS = {"Content-Type": "application/json"}

CART = {
    "cart": {
        "items": [
            {"name": "Shirt", "quantity": 1, "total": {"includingVat": 100, "excludingVat": 80}}
        ]
    }
}


def expected_example(tenant: Tenant, order_id: str, shipping_id: str) -> dict[str, Any]:
    return {
        "id": shipping_id,
        "merchant": tenant.merchant,
        "channel": tenant.channel,
        "state": "intent",
        "reference": "e8ed2091-c34c-4837-a3a8-bc827b0dc183",
        "tmsReference": "a935a628-f70c-47a4-a9f6-98c6d08c2ba3",
        "orderId": order_id,
        "adapterId": "ingrid-shipping-adapter",
        "name": "PostNord MyPack Home",
        "total": {"includingVat": 1234, "excludingVat": 987.2},
        "vatRate": 0.25,
        "deliveryDetails": {
            "carrier": "string",
            "carrierProductId": "string",
            "class": "string",
            "product": {"reference": "string", "name": "string"},
            "pickupLocation": {
                "reference": "string",
                "name": "string",
                "address": {
                    "streetAddress": "Adaptivevägen 18",
                    "city": "Boden",
                    "postalCode": "955 60",
                    "country": "SE",
                },
            },
        },
        "addons": [{"reference": "string", "price": 0.1}],
        "attributes": {},
    }


async def add_shipping(client: httpx.AsyncClient, order_id: str, body: Any) -> str:
    response = await client.post(f"{ORDERS}/{order_id}/shippings", json=body)
    assert response.status_code == 201, response.text
    shipping_id: str = response.json()["id"]
    assert SHIPPING_ID.match(shipping_id)
    return shipping_id


async def get_shipping(
    client: httpx.AsyncClient, order_id: str, shipping_id: str
) -> dict[str, Any]:
    response = await client.get(f"{ORDERS}/{order_id}/shippings/{shipping_id}")
    assert response.status_code == 200, response.text
    shipping: dict[str, Any] = response.json()
    return shipping


async def put_shipping(
    client: httpx.AsyncClient, order_id: str, shipping_id: str, body: Any
) -> httpx.Response:
    return await client.put(f"{ORDERS}/{order_id}/shippings/{shipping_id}", json=body)


async def set_state(client: httpx.AsyncClient, order_id: str, status: str) -> None:
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": status})
    assert response.status_code == 200, response.text


def total_of(order: dict[str, Any]) -> tuple[Any, Any]:
    return order["total"]["includingVat"], order["total"]["excludingVat"]
