"""Helpers shared by the Order API v1 tests in tests/api/v1: the two bases of the one order
resource and reads that go through both (v1.md §4.1 rule 2)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import ORDERS

V0 = ORDERS
V1 = "/api/v1/checkout/orders"
ORDER_ID = re.compile(r"^o_[A-Za-z]{26}$")
# a valid order with total 0: it passes validation and may leave checkout without a payment
FREE = {"cart": {"items": [{"name": "free sample", "quantity": 1}]}}


async def read(client: httpx.AsyncClient, path: str) -> httpx.Response:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response


async def read_both(client: httpx.AsyncClient, below: str = "") -> Any:
    """GET ``below`` (e.g. ``/o_…/payments``) on v0 and on v1: equal bodies and ETags."""
    v0 = await read(client, V0 + below)
    v1 = await read(client, V1 + below)
    assert v1.json() == v0.json()
    assert v1.headers.get("etag") == v0.headers.get("etag")
    return v0.json()


async def create_v1(client: httpx.AsyncClient, body: Any = None, **kw: Any) -> str:
    response = await client.post(V1, json=body if body is not None else {}, **kw)
    assert response.status_code == 201, response.text
    order_id: str = response.json()["id"]
    assert ORDER_ID.match(order_id)
    return order_id


async def history(client: httpx.AsyncClient, base: str, order_id: str) -> list[dict[str, Any]]:
    response = await read(client, f"{base}/{order_id}/history")
    entries: list[dict[str, Any]] = response.json()
    return entries
