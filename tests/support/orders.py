"""Helpers shared by the order resource tests in tests/api/orders."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import ORDERS

JSON = {"Content-Type": "application/json"}


async def post_raw(client: httpx.AsyncClient, text: str) -> httpx.Response:
    return await client.post(ORDERS, content=text.encode(), headers=JSON)


async def history_len(client: httpx.AsyncClient, order_id: str) -> int:
    response = await client.get(f"{ORDERS}/{order_id}/history")
    assert response.status_code == 200, response.text
    return len(response.json())


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert body["requestId"] == response.headers["x-request-id"]
    return body
