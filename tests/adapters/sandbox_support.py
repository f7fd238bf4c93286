"""Helpers of the sandbox PSP tests: a checkout to pay, authorising, the ledger."""

from __future__ import annotations

from typing import Any

import httpx

from tests.adapters.support import (
    ORDERS,
    SANDBOX_ORDERS,
    order_with_shipping,
    sandbox_configuration,
)
from tests.conftest import Tenant


async def sandbox_checkout(
    client: httpx.AsyncClient, shop: Tenant, **config: Any
) -> tuple[str, str]:
    """An order of 12.5 + shipping 7.5 (total 20) with a sandbox payment: (order, payment)."""
    configuration = (shop.merchant, shop.channel, sandbox_configuration(**config))
    order_id = await order_with_shipping(client, configuration)
    response = await client.post(f"{SANDBOX_ORDERS}/{order_id}/payments")
    assert response.status_code == 200, response.text
    return order_id, str(response.json()["paymentId"])


async def authorize(
    client: httpx.AsyncClient, order_id: str, payment_id: str, body: Any = None
) -> httpx.Response:
    url = f"{SANDBOX_ORDERS}/{order_id}/payments/{payment_id}/authorize"
    if body is None:
        return await client.post(url)
    return await client.post(url, json=body)


async def transactions(client: httpx.AsyncClient, order_id: str, payment_id: str) -> list[Any]:
    response = await client.get(f"{ORDERS}/{order_id}/payments/{payment_id}/transactions")
    assert response.status_code == 200, response.text
    body: list[Any] = response.json()
    return body
