"""Helpers shared by the order list tests in tests/api/orders."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import httpx

from tests.conftest import ORDERS, create_order

Params = dict[str, str] | list[tuple[str, str | int | float | bool | None]]


async def listing(client: httpx.AsyncClient, params: Params | None = None) -> dict[str, Any]:
    response = await client.get(ORDERS, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = json.loads(response.text, parse_float=Decimal)
    assert set(body) == {"data", "pagination"}
    assert body["pagination"]["size"] == len(body["data"])
    return body


async def ids(client: httpx.AsyncClient, params: Params | None = None) -> list[str]:
    return [order["id"] for order in (await listing(client, params))["data"]]


async def bad_query(client: httpx.AsyncClient, params: Params, name: str) -> None:
    response = await client.get(ORDERS, params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid-request"
    assert body["requestId"] == response.headers["x-request-id"]
    assert f"?{name}" in [e["path"] for e in body["errors"]], body


async def create_apart(client: httpx.AsyncClient, bodies: list[dict[str, Any]]) -> list[str]:
    """Create orders with strictly increasing ``created`` (millisecond precision)."""
    order_ids: list[str] = []
    for body in bodies:
        if order_ids:
            await asyncio.sleep(0.003)
        order_ids.append(await create_order(client, body))
    return order_ids


def billing(**address: str) -> dict[str, Any]:
    return {"customer": {"billing": address}}


def shipping(**address: str) -> dict[str, Any]:
    return {"customer": {"shipping": address}}


async def create_priced(client: httpx.AsyncClient, amount: str) -> str:
    """Create an order whose one item costs ``amount``, sent as exact JSON number text."""
    text = '{"cart": {"items": [{"total": {"includingVat": ' + amount + "}}]}}"
    response = await client.post(
        ORDERS, content=text.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    order_id: str = response.json()["id"]
    return order_id
