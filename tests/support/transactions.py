"""Helpers shared by the transaction and ledger tests in tests/api/payments."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import ORDERS, create_order


async def add_payment(client: httpx.AsyncClient, order_id: str, body: Any) -> str:
    response = await client.post(f"{ORDERS}/{order_id}/payments", json=body)
    assert response.status_code == 201, response.text
    payment_id: str = response.json()["id"]
    return payment_id


async def new_payment(client: httpx.AsyncClient, amount: Any = 100) -> tuple[str, str]:
    order_id = await create_order(client, {"currency": "SEK"})
    return order_id, await add_payment(client, order_id, {"amount": amount})


def tx_url(order_id: str, payment_id: str) -> str:
    return f"{ORDERS}/{order_id}/payments/{payment_id}/transactions"


async def post_tx(
    client: httpx.AsyncClient, order_id: str, payment_id: str, body: Any, **kw: Any
) -> httpx.Response:
    return await client.post(tx_url(order_id, payment_id), json=body, **kw)


async def add_tx(
    client: httpx.AsyncClient, order_id: str, payment_id: str, body: Any
) -> dict[str, Any]:
    response = await post_tx(client, order_id, payment_id, body)
    assert response.status_code == 200, response.text
    transaction: dict[str, Any] = response.json()
    return transaction


async def list_tx(client: httpx.AsyncClient, order_id: str, payment_id: str) -> list[Any]:
    response = await client.get(tx_url(order_id, payment_id))
    assert response.status_code == 200, response.text
    transactions: list[Any] = response.json()
    return transactions
