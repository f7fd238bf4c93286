"""Reads of orders: one order by primary key, its history, and the filtered list.

Writes are declared operations run by ``kassa.unit_of_work``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection
from starlette.requests import Request

from kassa import http
from kassa.auth import keys
from kassa.errors import OrderNotFound
from kassa.http import Call
from kassa.orders import repository as repo


async def read(call: Call, order_id: str) -> repo.StoredOrder:
    principal = call.principal
    stored = await repo.fetch(call.app.db, principal.merchant, principal.channel, order_id)
    if stored is None:
        raise OrderNotFound(order_id)
    return stored


async def read_as_caller(
    request: Request, order_id: str, operation: str = "GetCheckoutOrder"
) -> tuple[Call, repo.StoredOrder]:
    """A read of the order (``GetCheckoutOrder``, or a read of a part of it): authenticate and
    read the order in one point read, with the error precedence of ``http.start`` (401, 400,
    403), then 404."""
    headers = request.headers
    db = http.app_state(request).db
    key_params = keys.lookup_params(headers.get("authorization"))
    merchant, channel = headers.get("x-merchant"), headers.get("x-channel")
    key_row, stored = await repo.fetch_with_key(db, key_params, merchant, channel, order_id)
    principal = keys.principal_of(
        key_row, merchant=merchant, channel=channel, adapter=headers.get("x-adapterid")
    )
    if stored is None:
        raise OrderNotFound(order_id)
    return http.read_call(request, operation, principal), stored


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
    db = call.app.db
    if db.is_sqlite:
        return await db.scan(lambda conn: repo.list_orders(conn, f))
    return await repo.list_orders_postgres(db, f)
