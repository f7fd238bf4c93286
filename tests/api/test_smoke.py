from __future__ import annotations

import httpx

from tests.conftest import ORDERS, create_order, get_order


async def test_create_and_get(client: httpx.AsyncClient) -> None:
    order_id = await create_order(
        client,
        {
            "currency": "SEK",
            "cart": {"items": [{"name": "a", "total": {"includingVat": 10, "excludingVat": 8}}]},
        },
    )
    order = await get_order(client, order_id)
    assert order["total"] == {"includingVat": 10, "excludingVat": 8}
    response = await client.patch(f"{ORDERS}/{order_id}/attributes", json={"a": 0.1})
    assert response.status_code == 200, response.text
    response = await client.get(f"{ORDERS}/{order_id}/history")
    assert response.status_code == 200
    assert [e["sequence"] for e in response.json()] == [1, 2]
