"""Helpers shared by the validation callback tests in tests/api/callbacks/validations."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import httpx

from tests.conftest import ORDERS, create_order

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
TIMEOUT = 1.5  # generous: a loaded CI machine must not turn a prompt answer into a timeout

COVERED = {"cart": {"items": [{"name": "T-Shirt", "quantity": 1, "total": {"includingVat": 20}}]}}


async def covered_order(client: httpx.AsyncClient, body: Any = None) -> str:
    """An order that passes the built-in checks: one item, one payment of the full total."""
    order_id = await create_order(client, COVERED if body is None else body)
    response = await client.post(f"{ORDERS}/{order_id}/payments", json={"amount": 20})
    assert response.status_code == 201, response.text
    return order_id


async def register(client: httpx.AsyncClient, order_id: str, validation: dict[str, Any]) -> str:
    response = await client.post(f"{ORDERS}/{order_id}/validations", json=validation)
    assert response.status_code == 200, response.text
    validation_id: str = response.json()["id"]
    return validation_id


async def validate(client: httpx.AsyncClient, order_id: str, **kw: Any) -> httpx.Response:
    return await client.post(f"{ORDERS}/{order_id}/validate", json={}, **kw)
