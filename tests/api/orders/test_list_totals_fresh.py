"""totalSize and valueSum follow every committed write, also when asked for repeatedly."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import ORDERS, create_order


async def _pagination(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(ORDERS, params=params)
    assert response.status_code == 200, response.text
    pagination: dict[str, Any] = response.json()["pagination"]
    return pagination


def _cart(total: str) -> dict[str, Any]:
    return {"items": [{"name": "x", "total": {"includingVat": float(total)}}]}


async def test_repeated_lists_see_each_write(client: httpx.AsyncClient) -> None:
    for _ in range(3):  # asked again and again with nothing changed: same answer
        first = await _pagination(client, status="checkout")
        assert (first["totalSize"], first["valueSum"]) == (0, 0)
    order_id = await create_order(client, {"cart": _cart("10.5")})
    after_create = await _pagination(client, status="checkout")
    assert (after_create["totalSize"], after_create["valueSum"]) == (1, 10.5)

    response = await client.put(f"{ORDERS}/{order_id}/cart", json=_cart("20.25"))
    assert response.status_code == 200, response.text
    after_cart = await _pagination(client, status="checkout")
    assert (after_cart["totalSize"], after_cart["valueSum"]) == (1, 20.25)

    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "removed"})
    assert response.status_code == 200, response.text
    assert (await _pagination(client, status="checkout"))["totalSize"] == 0
    removed = await _pagination(client, status="removed")
    assert (removed["totalSize"], removed["valueSum"]) == (1, 20.25)

    response = await client.delete(f"{ORDERS}/{order_id}")
    assert response.status_code == 204, response.text
    assert (await _pagination(client, status="removed"))["totalSize"] == 0


async def test_a_write_by_another_process_is_counted(
    client: httpx.AsyncClient, database_url: str, database_pgbouncer: bool
) -> None:
    """Totals remembered between writes must notice a commit made through another database
    handle (another kassa process), not only this process's own writes."""
    from sqlalchemy import update

    from kassa.db.engine import Database
    from kassa.db.tables import orders

    order_id = await create_order(client, {"cart": _cart("7")})
    for _ in range(2):
        assert (await _pagination(client, status="checkout"))["totalSize"] == 1
    other = Database(database_url, pgbouncer=database_pgbouncer)
    try:
        await other.write(
            lambda conn: conn.execute(
                update(orders).where(orders.c.id == order_id).values(status="removed")
            )
        )
    finally:
        await other.dispose()
    assert (await _pagination(client, status="checkout"))["totalSize"] == 0
    assert (await _pagination(client, status="removed"))["totalSize"] == 1
