"""Helpers shared by the idempotency tests in tests/api."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from sqlalchemy import select

from kassa.db.engine import Database
from kassa.db.tables import idempotency as idempotency_table
from tests.conftest import ORDERS, Tenant


def _key() -> str:
    return "key-" + secrets.token_hex(8)


def _replayed(response: httpx.Response) -> bool:
    return bool(response.headers.get("idempotent-replayed") == "true")


async def _total(client: httpx.AsyncClient) -> int:
    response = await client.get(ORDERS)
    assert response.status_code == 200, response.text
    total: int = response.json()["pagination"]["totalSize"]
    return total


async def _history(client: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"{ORDERS}/{order_id}/history")
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


async def _etag(client: httpx.AsyncClient, order_id: str) -> str:
    response = await client.get(f"{ORDERS}/{order_id}")
    assert response.status_code == 200, response.text
    return response.headers["etag"]


async def _marker_state(db: Database, tenant: Tenant, key: str) -> str | None:
    query = select(idempotency_table.c.state).where(
        idempotency_table.c.merchant == tenant.merchant,
        idempotency_table.c.key == key,
    )
    row = await db.read(lambda conn: conn.execute(query).first())
    return None if row is None else str(row.state)
