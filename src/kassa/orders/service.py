"""Reads of orders: one order by primary key, its history, and the filtered list.

Writes are declared operations run by ``kassa.unit_of_work``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from kassa.errors import OrderNotFound
from kassa.http import Call
from kassa.orders import repository as repo


async def read(call: Call, order_id: str) -> repo.StoredOrder:
    principal = call.principal
    stored = await call.app.db.read(
        lambda conn: repo.get(conn, principal.merchant, principal.channel, order_id)
    )
    if stored is None:
        raise OrderNotFound(order_id)
    return stored


async def history(call: Call, order_id: str) -> list[str]:
    principal = call.principal

    def job(conn: Connection) -> list[str] | None:
        if repo.get(conn, principal.merchant, principal.channel, order_id) is None:
            return None
        return repo.list_history(conn, order_id)

    entries = await call.app.db.scan(job)
    if entries is None:
        raise OrderNotFound(order_id)
    return entries


async def list_orders(call: Call, f: repo.OrderFilter) -> tuple[list[str], int, Any]:
    return await call.app.db.scan(lambda conn: repo.list_orders(conn, f))
