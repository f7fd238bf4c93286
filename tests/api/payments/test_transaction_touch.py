"""A transaction changes only the order's version and lastModified, exactly."""

from __future__ import annotations

import httpx

from tests.conftest import ORDERS, create_order, get_order


async def test_transaction_moves_last_modified_and_nothing_else(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(
        client, {"reference": "lastModified", "attributes": {"lastModified": "keep me"}}
    )
    response = await client.post(f"{ORDERS}/{order_id}/payments", json={"amount": 0})
    assert response.status_code == 201, response.text
    payment_id = response.json()["id"]
    before = await get_order(client, order_id)
    response = await client.post(
        f"{ORDERS}/{order_id}/payments/{payment_id}/transactions",
        json={"event": "open", "isSuccess": True},
    )
    assert response.status_code == 200, response.text
    after = await get_order(client, order_id)
    assert after["lastModified"] == response.json()["created"]
    assert after["lastModified"] >= before["lastModified"]
    assert after["attributes"] == {"lastModified": "keep me"}
    assert {k: v for k, v in after.items() if k != "lastModified"} == {
        k: v for k, v in before.items() if k != "lastModified"
    }
    history = (await client.get(f"{ORDERS}/{order_id}/history")).json()
    assert history[-1]["at"] == after["lastModified"]
    assert history[-1]["patch"] == []
