"""The payment ledger over HTTP (semantics §3.5, §4.4): capture and refund limits, failed
events, versions and history, DELETE with captures, concurrent transactions and replays."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.conftest import ORDERS, create_order, get_order
from tests.support.http_asserts import assert_error
from tests.support.transactions import (
    add_payment,
    add_tx,
    list_tx,
    new_payment,
    post_tx,
    tx_url,
)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


async def snapshot(client: httpx.AsyncClient, order_id: str) -> tuple[str, Any, Any]:
    """ETag, order and history: what a refused write must leave alone."""
    response = await client.get(f"{ORDERS}/{order_id}")
    assert response.status_code == 200, response.text
    history = await client.get(f"{ORDERS}/{order_id}/history")
    assert history.status_code == 200, history.text
    return response.headers["etag"], response.json(), history.json()


def capture(amount: Any, success: bool = True) -> dict[str, Any]:
    return {"event": "capture", "amount": amount, "isSuccess": success}


def refund(amount: Any, success: bool = True) -> dict[str, Any]:
    return {"event": "refund", "amount": amount, "isSuccess": success}


# The ledger (semantics §3.5) ----------------------------------------------------------------


async def test_capture_within_amount(client: httpx.AsyncClient) -> None:
    order_id, payment_id = await new_payment(client, 100)
    first = await add_tx(client, order_id, payment_id, capture(60))
    assert (first["event"], first["amount"], first["isSuccess"]) == ("capture", 60, True)
    second = await add_tx(client, order_id, payment_id, capture(40))
    assert second["amount"] == 40
    assert [t["id"] for t in await list_tx(client, order_id, payment_id)] == [
        first["id"],
        second["id"],
    ]


async def test_capture_beyond_amount(client: httpx.AsyncClient) -> None:
    order_id, payment_id = await new_payment(client, 100)
    await add_tx(client, order_id, payment_id, capture(60.5))
    before = await snapshot(client, order_id)
    response = await post_tx(client, order_id, payment_id, capture(40))
    body = assert_error(response, 409, "amount-exceeds-reserved")
    assert is_number(body["available"]) and body["available"] == 39.5
    assert '"available":39.5' in response.text.replace(" ", "")
    assert await snapshot(client, order_id) == before
    assert len(await list_tx(client, order_id, payment_id)) == 1
    await add_tx(client, order_id, payment_id, capture(39.5))
    response = await post_tx(client, order_id, payment_id, capture(0.01))
    body = assert_error(response, 409, "amount-exceeds-reserved")
    assert is_number(body["available"]) and body["available"] == 0


async def test_refund_beyond_captured(client: httpx.AsyncClient) -> None:
    order_id, payment_id = await new_payment(client, 100)
    response = await post_tx(client, order_id, payment_id, refund(1))
    body = assert_error(response, 409, "amount-exceeds-captured")
    assert is_number(body["available"]) and body["available"] == 0
    await add_tx(client, order_id, payment_id, capture(70))
    await add_tx(client, order_id, payment_id, refund(30))
    before = await snapshot(client, order_id)
    response = await post_tx(client, order_id, payment_id, refund(40.01))
    body = assert_error(response, 409, "amount-exceeds-captured")
    assert is_number(body["available"]) and body["available"] == 40
    assert await snapshot(client, order_id) == before
    await add_tx(client, order_id, payment_id, refund(40))
    assert [t["event"] for t in await list_tx(client, order_id, payment_id)] == [
        "capture",
        "refund",
        "refund",
    ]


async def test_failed_events_stored_and_not_counted(client: httpx.AsyncClient) -> None:
    order_id, payment_id = await new_payment(client, 100)
    failed_capture = await add_tx(client, order_id, payment_id, capture(1000, success=False))
    assert (failed_capture["isSuccess"], failed_capture["amount"]) == (False, 1000)
    failed_refund = await add_tx(client, order_id, payment_id, refund(5, success=False))
    assert failed_refund["isSuccess"] is False
    # failed events need no amount
    no_amount = await add_tx(client, order_id, payment_id, {"event": "capture"})
    assert "amount" not in no_amount and no_amount["isSuccess"] is False
    # other events are not counted even with an amount
    await add_tx(client, order_id, payment_id, {"event": "open", "amount": 500, "isSuccess": True})
    # the whole amount is still available
    await add_tx(client, order_id, payment_id, capture(100))
    assert len(await list_tx(client, order_id, payment_id)) == 5
    response = await post_tx(client, order_id, payment_id, refund(100.01))
    body = assert_error(response, 409, "amount-exceeds-captured")
    assert body["available"] == 100


@pytest.mark.parametrize("event", ["capture", "refund", "Capture"])
async def test_successful_money_event_needs_amount(client: httpx.AsyncClient, event: str) -> None:
    order_id, payment_id = await new_payment(client)
    before = await snapshot(client, order_id)
    response = await post_tx(client, order_id, payment_id, {"event": event, "isSuccess": True})
    body = assert_error(response, 400, "invalid-request")
    assert [e["path"] for e in body["errors"]] == ["/amount"]
    response = await post_tx(
        client, order_id, payment_id, {"event": event, "isSuccess": True, "amount": None}
    )
    assert_error(response, 400, "invalid-request")
    assert await snapshot(client, order_id) == before
    assert await list_tx(client, order_id, payment_id) == []


async def test_transaction_amount_rules(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"currency": "JPY"})
    payment_id = await add_payment(client, order_id, {"amount": 1000})
    for body in (capture(1.5), capture(-1), {"event": "open", "amount": 0.5}):
        response = await post_tx(client, order_id, payment_id, body)
        assert_error(response, 400, "invalid-amount")
    assert await list_tx(client, order_id, payment_id) == []
    assert (await add_tx(client, order_id, payment_id, capture(999)))["amount"] == 999


async def test_put_payment_amount_below_captured(client: httpx.AsyncClient) -> None:
    order_id, payment_id = await new_payment(client, 100)
    await add_tx(client, order_id, payment_id, capture(60))
    url = f"{ORDERS}/{order_id}/payments/{payment_id}"
    before = await snapshot(client, order_id)
    body = assert_error(await client.put(url, json={"amount": 59.99}), 409, "amount-below-captured")
    assert is_number(body["captured"]) and body["captured"] == 60
    # an absent amount means 0, which is also below the captured sum
    body = assert_error(await client.put(url, json={}), 409, "amount-below-captured")
    assert body["captured"] == 60
    assert await snapshot(client, order_id) == before
    response = await client.put(url, json={"amount": 60})
    assert response.status_code == 200, response.text
    assert response.json()["amount"] == 60
    # now nothing more can be captured
    body = assert_error(
        await post_tx(client, order_id, payment_id, capture(0.01)), 409, "amount-exceeds-reserved"
    )
    assert body["available"] == 0


async def test_transaction_bumps_version_and_writes_history(client: httpx.AsyncClient) -> None:
    order_id, payment_id = await new_payment(client, 100)
    before = await get_order(client, order_id)
    response = await post_tx(client, order_id, payment_id, capture(25.5))
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"3"'
    transaction = response.json()
    response = await client.get(f"{ORDERS}/{order_id}")
    assert response.headers["etag"] == '"3"'
    after = response.json()
    assert after["lastModified"] >= before["lastModified"]
    assert {k: v for k, v in after.items() if k != "lastModified"} == {
        k: v for k, v in before.items() if k != "lastModified"
    }
    response = await client.get(f"{ORDERS}/{order_id}/payments/{payment_id}")
    assert response.headers["etag"] == '"3"'

    response = await client.get(f"{ORDERS}/{order_id}/history")
    assert response.status_code == 200, response.text
    entry = response.json()[-1]
    assert entry["sequence"] == 3
    assert entry["operation"] == "AddTransactionForOrderPayment"
    assert entry["patch"] == []
    assert entry["at"] == after["lastModified"]
    assert entry["details"] == {
        "paymentId": payment_id,
        "transactionId": transaction["id"],
        "event": "capture",
        "amount": 25.5,
        "isSuccess": True,
    }


async def test_if_match_on_transactions(client: httpx.AsyncClient) -> None:
    order_id, payment_id = await new_payment(client)
    response = await post_tx(client, order_id, payment_id, capture(1), headers={"If-Match": '"1"'})
    body = assert_error(response, 412, "precondition-failed")
    assert body["currentETag"] == '"2"'
    response = await post_tx(client, order_id, payment_id, capture(1), headers={"If-Match": '"2"'})
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"3"'
    assert len(await list_tx(client, order_id, payment_id)) == 1


async def test_transactions_never_change_payment_state(client: httpx.AsyncClient) -> None:
    order_id, payment_id = await new_payment(client, 100)
    for body in (
        {"event": "confirm", "isSuccess": True},
        capture(100),
        refund(100),
        {"event": "cancel", "isSuccess": True},
    ):
        await add_tx(client, order_id, payment_id, body)
    response = await client.get(f"{ORDERS}/{order_id}/payments/{payment_id}")
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "intent"
    assert response.json()["amount"] == 100


async def test_transactions_allowed_after_checkout_not_when_removed(
    client: httpx.AsyncClient,
) -> None:
    order_id, payment_id = await new_payment(client, 10)
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "declined"})
    assert response.status_code == 200, response.text
    assert (await add_tx(client, order_id, payment_id, capture(10)))["amount"] == 10

    order_id, payment_id = await new_payment(client, 10)
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "removed"})
    assert response.status_code == 200, response.text
    body = assert_error(
        await post_tx(client, order_id, payment_id, {"event": "open"}), 409, "order-not-editable"
    )
    assert body["state"] == "removed"
    assert await list_tx(client, order_id, payment_id) == []


# DELETE order (semantics §3.5 rule 6) -------------------------------------------------------


async def test_delete_refused_with_successful_capture(client: httpx.AsyncClient) -> None:
    order_id, payment_id = await new_payment(client, 10)
    await add_tx(client, order_id, payment_id, capture(0))
    response = await client.delete(f"{ORDERS}/{order_id}")
    assert_error(response, 409, "order-has-transactions")
    assert len(await list_tx(client, order_id, payment_id)) == 1
    assert (await get_order(client, order_id))["id"] == order_id


async def test_delete_refused_for_removed_payment_with_capture(client: httpx.AsyncClient) -> None:
    order_id, payment_id = await new_payment(client, 10)
    await add_tx(client, order_id, payment_id, capture(10))
    response = await client.put(
        f"{ORDERS}/{order_id}/payments/{payment_id}", json={"amount": 10, "state": "removed"}
    )
    assert response.status_code == 200, response.text
    response = await client.delete(f"{ORDERS}/{order_id}")
    assert_error(response, 409, "order-has-transactions")


async def test_delete_allowed_without_successful_capture(client: httpx.AsyncClient) -> None:
    order_id, payment_id = await new_payment(client, 10)
    await add_tx(client, order_id, payment_id, capture(10, success=False))
    await add_tx(client, order_id, payment_id, {"event": "open", "isSuccess": True, "amount": 3})
    response = await client.delete(f"{ORDERS}/{order_id}")
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_error(await client.get(f"{ORDERS}/{order_id}"), 404, "order-not-found")
    assert_error(await client.get(tx_url(order_id, payment_id)), 404, "order-not-found")


# Concurrency (semantics §3.5 rule 7, §4.4) --------------------------------------------------


async def test_concurrent_captures_never_exceed_amount(client: httpx.AsyncClient) -> None:
    order_id, payment_id = await new_payment(client, 100)
    responses = await asyncio.gather(
        *(post_tx(client, order_id, payment_id, capture(10)) for _ in range(50))
    )
    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert len(ok) == 10, [r.text for r in responses]
    assert len(refused) == 40
    for response in refused:
        body = assert_error(response, 409, "amount-exceeds-reserved")
        assert body["available"] == 0
    stored = await list_tx(client, order_id, payment_id)
    assert len(stored) == 10
    assert sum(Decimal(str(t["amount"])) for t in stored) == 100
    assert {t["id"] for t in stored} == {r.json()["id"] for r in ok}
    # every accepted capture got its own version
    assert sorted(int(r.headers["etag"].strip('"')) for r in ok) == list(range(3, 13))
    response = await client.get(f"{ORDERS}/{order_id}/history")
    assert [e["sequence"] for e in response.json()] == list(range(1, 13))


async def test_concurrent_refunds_never_exceed_captured(client: httpx.AsyncClient) -> None:
    order_id, payment_id = await new_payment(client, 100)
    await add_tx(client, order_id, payment_id, capture(100))
    responses = await asyncio.gather(
        *(post_tx(client, order_id, payment_id, refund(10)) for _ in range(50))
    )
    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert len(ok) == 10, [r.text for r in responses]
    assert len(refused) == 40
    for response in refused:
        body = assert_error(response, 409, "amount-exceeds-captured")
        assert body["available"] == 0
    stored = await list_tx(client, order_id, payment_id)
    refunds = [t for t in stored if t["event"] == "refund"]
    assert len(refunds) == 10
    assert sum(Decimal(str(t["amount"])) for t in refunds) == 100


async def test_two_concurrent_captures_of_sixty(client: httpx.AsyncClient) -> None:
    order_id, payment_id = await new_payment(client, 100)
    first, second = await asyncio.gather(
        post_tx(client, order_id, payment_id, capture(60)),
        post_tx(client, order_id, payment_id, capture(60)),
    )
    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [200, 409], (first.text, second.text)
    loser = first if first.status_code == 409 else second
    assert assert_error(loser, 409, "amount-exceeds-reserved")["available"] == 40
    assert len(await list_tx(client, order_id, payment_id)) == 1


async def test_idempotent_transaction_replay(client: httpx.AsyncClient) -> None:
    order_id, payment_id = await new_payment(client, 100)
    headers = {"Idempotency-Key": "tx-capture-1"}
    first = await post_tx(client, order_id, payment_id, capture(30), headers=headers)
    assert first.status_code == 200, first.text
    assert "idempotent-replayed" not in first.headers
    second = await post_tx(client, order_id, payment_id, capture(30), headers=headers)
    assert second.status_code == 200, second.text
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()
    assert second.headers["etag"] == first.headers["etag"]
    stored = await list_tx(client, order_id, payment_id)
    assert [t["id"] for t in stored] == [first.json()["id"]]
    # same key, different body
    response = await post_tx(client, order_id, payment_id, capture(31), headers=headers)
    assert_error(response, 422, "idempotency-key-reuse")
    assert len(await list_tx(client, order_id, payment_id)) == 1


async def test_refused_transaction_releases_idempotency_key(client: httpx.AsyncClient) -> None:
    order_id, payment_id = await new_payment(client, 10)
    headers = {"Idempotency-Key": "tx-refund-1"}
    response = await post_tx(client, order_id, payment_id, refund(5), headers=headers)
    assert_error(response, 409, "amount-exceeds-captured")
    await add_tx(client, order_id, payment_id, capture(10))
    response = await post_tx(client, order_id, payment_id, refund(5), headers=headers)
    assert response.status_code == 200, response.text
    assert "idempotent-replayed" not in response.headers
    assert [t["event"] for t in await list_tx(client, order_id, payment_id)] == [
        "capture",
        "refund",
    ]
