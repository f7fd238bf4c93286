"""The payment state machine (semantics §2) as enforced on PUT."""

from __future__ import annotations

import httpx
import pytest

from kassa.app import create_app
from kassa.config import Settings
from kassa.db.engine import Database
from tests.conftest import ORDERS, client_for, create_order, get_order, make_tenant
from tests.support.http_asserts import assert_error
from tests.support.payments import add_payment, get_payment

# semantics §2.1, written out independently of src
ALLOWED: dict[str, list[str]] = {
    "intent": [
        "processing",
        "pending",
        "confirmed",
        "reserved",
        "captured",
        "declined",
        "failed",
        "cancelled",
        "removed",
    ],
    "processing": [
        "intent",
        "pending",
        "confirmed",
        "reserved",
        "captured",
        "declined",
        "failed",
        "cancelled",
        "removed",
    ],
    "pending": [
        "processing",
        "confirmed",
        "reserved",
        "captured",
        "declined",
        "failed",
        "cancelled",
        "removed",
    ],
    "confirmed": ["reserved", "captured", "declined", "failed", "cancelled", "removed"],
    "reserved": ["captured", "cancelled", "failed"],
    "captured": ["credited", "refunded"],
    "credited": ["refunded"],
    "declined": ["intent", "removed"],
    "failed": ["intent", "removed"],
    "cancelled": ["removed"],
    "refunded": [],
    "removed": [],
}
STATES = list(ALLOWED)

REFUSED_SAMPLE = [
    ("intent", "credited"),
    ("intent", "refunded"),
    ("processing", "credited"),
    ("pending", "intent"),
    ("confirmed", "intent"),
    ("confirmed", "processing"),
    ("reserved", "intent"),
    ("reserved", "removed"),
    ("captured", "intent"),
    ("captured", "removed"),
    ("credited", "captured"),
    ("declined", "processing"),
    ("failed", "captured"),
    ("cancelled", "intent"),
    ("refunded", "captured"),
    ("refunded", "removed"),
    ("removed", "intent"),
    ("removed", "captured"),
]


@pytest.mark.parametrize("source", [s for s in STATES if ALLOWED[s]])
async def test_every_allowed_transition(client: httpx.AsyncClient, source: str) -> None:
    order_id = await create_order(client)
    for target in ALLOWED[source]:
        payment_id = await add_payment(client, order_id, {"state": source, "amount": 4})
        assert (await get_payment(client, order_id, payment_id))["state"] == source
        response = await client.put(
            f"{ORDERS}/{order_id}/payments/{payment_id}", json={"state": target, "amount": 4}
        )
        assert response.status_code == 200, (source, target, response.text)
        assert response.json()["state"] == target
        assert (await get_payment(client, order_id, payment_id))["state"] == target


async def test_same_state_is_not_a_transition(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    for state in STATES:
        payment_id = await add_payment(client, order_id, {"state": state})
        response = await client.put(
            f"{ORDERS}/{order_id}/payments/{payment_id}", json={"state": state, "amount": 7}
        )
        assert response.status_code == 200, (state, response.text)
        assert (response.json()["state"], response.json()["amount"]) == (state, 7)


async def test_refused_transitions(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    for source, target in REFUSED_SAMPLE:
        assert target not in ALLOWED[source]
        payment_id = await add_payment(client, order_id, {"state": source, "amount": 2})
        before = await get_order(client, order_id)
        response = await client.put(
            f"{ORDERS}/{order_id}/payments/{payment_id}", json={"state": target, "amount": 3}
        )
        body = assert_error(response, 409, "invalid-state-transition")
        assert (body["from"], body["to"]) == (source, target)
        after = await get_order(client, order_id)
        assert after == before  # nothing changed, not even the amount


async def test_removed_never_changes_again(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    payment_id = await add_payment(client, order_id)
    response = await client.put(
        f"{ORDERS}/{order_id}/payments/{payment_id}", json={"state": "removed"}
    )
    assert response.status_code == 200, response.text
    for target in STATES:
        if target == "removed":
            continue
        response = await client.put(
            f"{ORDERS}/{order_id}/payments/{payment_id}", json={"state": target}
        )
        body = assert_error(response, 409, "invalid-state-transition")
        assert (body["from"], body["to"]) == ("removed", target)


async def test_enforcement_off_allows_every_change(db: Database, database_url: str) -> None:
    relaxed = Settings(database_url=database_url, access_log=False, payment_state_enforcement=False)
    app = create_app(relaxed, db=db)
    tenant = await make_tenant(db)
    async with client_for(app, tenant.headers) as client:
        order_id = await create_order(client)
        payment_id = await add_payment(client, order_id, {"state": "refunded"})
        # a walk through refused pairs of the table
        for target in ["intent", "removed", "captured", "intent", "credited", "pending"]:
            response = await client.put(
                f"{ORDERS}/{order_id}/payments/{payment_id}", json={"state": target}
            )
            assert response.status_code == 200, (target, response.text)
            assert response.json()["state"] == target
        # values must still be valid PaymentStates
        response = await client.put(
            f"{ORDERS}/{order_id}/payments/{payment_id}", json={"state": "paid"}
        )
        assert_error(response, 400, "invalid-request")
        assert (await get_payment(client, order_id, payment_id))["state"] == "pending"
