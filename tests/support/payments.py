"""The documented example payment and helpers shared by the payment tests in
tests/api/payments."""

from __future__ import annotations

import copy
import re
from typing import Any

import httpx

from tests.conftest import ORDERS, Tenant

PAYMENT_ID = re.compile(r"^p_[A-Za-z]{26}$")
ACTION_ID = re.compile(r"^pa_[A-Za-z]{26}$")

# api §2.2 operation 24, the documented example request, verbatim
EXAMPLE_PAYMENT: dict[str, Any] = {
    "adapterId": "klarna-checkout",
    "name": "string",
    "merchant": "norce",
    "channel": "string",
    "currency": "SEK",
    "type": "default",
    "orderId": "o_DhZSbDfVzNzuxOzHyCFskzGzaJ",
    "amount": 10,
    "upperLimitAmount": 100,
    "state": "Intent",
    "reference": "7d31e2cf-2d46-4db0-b87d-d65dfaae298f",
    "attributes": {"property1": None, "property2": None},
    "actions": [{"adapterId": "string", "type": "string", "url": "string"}],
    "recurring": {
        "token": "string",
        "description": "string",
        "attributes": {"property1": None, "property2": None},
    },
    "upsell": {
        "eligible": True,
        "expiration": "2019-08-24T14:15:22Z",
        "transactions": [
            {
                "id": "string",
                "state": "created",
                "attributes": {"property1": None, "property2": None},
            }
        ],
        "attributes": {"property1": None, "property2": None},
    },
}


async def add_payment(client: httpx.AsyncClient, order_id: str, body: Any = None) -> str:
    response = await client.post(
        f"{ORDERS}/{order_id}/payments", json=body if body is not None else {}
    )
    assert response.status_code == 201, response.text
    payment_id: str = response.json()["id"]
    assert PAYMENT_ID.match(payment_id)
    return payment_id


async def get_payment(client: httpx.AsyncClient, order_id: str, payment_id: str) -> dict[str, Any]:
    response = await client.get(f"{ORDERS}/{order_id}/payments/{payment_id}")
    assert response.status_code == 200, response.text
    payment: dict[str, Any] = response.json()
    return payment


def expected_example(tenant: Tenant, order_id: str, payment_id: str, action_id: str) -> Any:
    expected = copy.deepcopy(EXAMPLE_PAYMENT)
    expected.update(
        id=payment_id,
        merchant=tenant.merchant,
        channel=tenant.channel,
        orderId=order_id,
        state="intent",
        actions=[{"id": action_id, "adapterId": "string", "type": "string", "url": "string"}],
    )
    return expected
