"""Customer addresses over HTTP (api §2.1 operations 11 and 12)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ORDERS, create_order, get_order
from tests.support.http_asserts import assert_error


@pytest.mark.parametrize("kind", ["billing", "shipping"])
async def test_put_address_replaces_only_that_address(client: httpx.AsyncClient, kind: str) -> None:
    other = "shipping" if kind == "billing" else "billing"
    order_id = await create_order(
        client,
        {
            "customer": {
                "type": "organization",
                "attributes": {"crm": "c-1"},
                "billing": {"givenName": "Old", "email": "old@example.com"},
                "shipping": {"givenName": "Old", "city": "Luleå"},
            }
        },
    )
    response = await client.put(
        f"{ORDERS}/{order_id}/customer/{kind}",
        json={
            "type": "Organization",
            "organizationName": "Firma AB",
            "country": "se",
            "phone": "070-123",
            "unknown": "dropped",
        },
    )
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert response.headers["etag"] == '"2"'
    customer = (await get_order(client, order_id))["customer"]
    assert customer[kind] == {
        "type": "organization",
        "organizationName": "Firma AB",
        "country": "se",
        "phone": "070-123",
    }
    assert customer["type"] == "organization"
    assert customer["attributes"] == {"crm": "c-1"}
    assert customer[other]["givenName"] == "Old"


@pytest.mark.parametrize("kind", ["billing", "shipping"])
async def test_put_address_creates_customer(client: httpx.AsyncClient, kind: str) -> None:
    order_id = await create_order(client)
    response = await client.put(
        f"{ORDERS}/{order_id}/customer/{kind}", json={"type": "person", "givenName": "Åsa"}
    )
    assert response.status_code == 200, response.text
    order = await get_order(client, order_id)
    assert order["customer"] == {kind: {"type": "person", "givenName": "Åsa"}}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"country": "SWE"}, "invalid-request"),
        ({"type": "alien"}, "invalid-request"),
        ({"email": 5}, "invalid-request"),
        ({"attributes": "x"}, "invalid-request"),
        ("text", "invalid-request"),
    ],
)
async def test_put_address_invalid(client: httpx.AsyncClient, body: Any, code: str) -> None:
    order_id = await create_order(client)
    response = await client.put(f"{ORDERS}/{order_id}/customer/billing", json=body)
    assert_error(response, 400, code)
    assert "customer" not in await get_order(client, order_id)
