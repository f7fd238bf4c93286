"""Helpers shared by the tests of the HTTP conventions of api §1 (tests/api/errors and
test_ops)."""

from __future__ import annotations

import httpx

from tests.conftest import ORDERS

MIB = 1024 * 1024
UNKNOWN_ID = "o_" + "Q" * 26


def _without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() != name.lower()}


async def _history_len(client: httpx.AsyncClient, order_id: str) -> int:
    response = await client.get(f"{ORDERS}/{order_id}/history")
    assert response.status_code == 200, response.text
    return len(response.json())
