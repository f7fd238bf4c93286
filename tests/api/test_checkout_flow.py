"""The public client flow of a Norce-style storefront, end to end over HTTP."""

from __future__ import annotations

import httpx

from tests.conftest import ORDERS, create_order, get_order


async def test_public_client_flow_completes_order(client: httpx.AsyncClient) -> None:
    order_id = await create_order(
        client,
        {
            "cart": {
                "items": [
                    {"name": "T-Shirt", "quantity": 1, "total": {"includingVat": 12.5}},
                ]
            }
        },
    )
    response = await client.put(
        f"{ORDERS}/{order_id}/customer/shipping",
        json={"givenName": "Rosalinainho", "familyName": "Undulatsson", "country": "se"},
    )
    assert response.status_code == 200, response.text
    response = await client.post(
        f"{ORDERS}/{order_id}/shippings",
        json={"name": "PostNord", "total": {"includingVat": 7.5}, "vatRate": 0.25},
    )
    assert response.status_code == 201, response.text
    assert response.json()["id"].startswith("s_")
    response = await client.post(
        f"{ORDERS}/{order_id}/payments",
        json={"reference": "ref", "name": "card", "type": "default", "amount": 20},
    )
    assert response.status_code == 201, response.text
    payment_id = response.json()["id"]
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "completed"})
    assert response.status_code == 200, response.text

    order = await get_order(client, order_id)
    assert order["state"]["currentStatus"] == "completed"
    assert order["total"]["includingVat"] == 20
    assert [p["id"] for p in order["payments"]] == [payment_id]
    assert order["payments"][0]["state"] == "intent"
    assert order["shippings"][0]["total"] == {"includingVat": 7.5}
    assert order["customer"]["shipping"]["country"] == "se"
