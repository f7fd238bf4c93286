"""Helpers shared by the order resource tests in tests/api/orders."""

from __future__ import annotations

import httpx

from tests.conftest import ORDERS

JSON = {"Content-Type": "application/json"}


async def post_raw(client: httpx.AsyncClient, text: str) -> httpx.Response:
    return await client.post(ORDERS, content=text.encode(), headers=JSON)


async def history_len(client: httpx.AsyncClient, order_id: str) -> int:
    response = await client.get(f"{ORDERS}/{order_id}/history")
    assert response.status_code == 200, response.text
    return len(response.json())
