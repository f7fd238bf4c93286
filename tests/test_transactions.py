"""Payment transactions and the ledger (api §2.2 operations 29-30, §3.19; semantics §3.5, §4.4),
with property tests of the pure payment rules (semantics §2.1, §3.5)."""

from __future__ import annotations

import asyncio
import copy
import re
from decimal import Decimal
from typing import Any, cast

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kassa.errors import InvalidStateTransition
from kassa.orders.document import LedgerEntry, Payment
from kassa.payments import rules
from kassa.schemas_common import PaymentState
from tests.conftest import ORDERS, create_order, get_order

TRANSACTION_ID = re.compile(r"^pt_[A-Za-z]{26}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# api §2.2 operation 30, the documented example request, verbatim
EXAMPLE_TRANSACTION: dict[str, Any] = {
    "event": "open",
    "pspEvent": "string",
    "amount": 0.1,
    "isSuccess": True,
    "errorDetail": "string",
    "pspStatus": "string",
    "requestJson": "string",
    "responseJson": "string",
    "paymentAction": {"adapterId": "string", "type": "string", "url": "string"},
}

# the documented example payment of operation 24 (its one action matches the example above)
EXAMPLE_PAYMENT: dict[str, Any] = {
    "adapterId": "klarna-checkout",
    "name": "string",
    "currency": "SEK",
    "type": "default",
    "amount": 10,
    "upperLimitAmount": 100,
    "state": "Intent",
    "reference": "7d31e2cf-2d46-4db0-b87d-d65dfaae298f",
    "actions": [{"adapterId": "string", "type": "string", "url": "string"}],
}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    assert body["requestId"] == response.headers["x-request-id"], body
    return body


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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


# The documented example --------------------------------------------------------------------


async def test_documented_example_transaction(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"currency": "SEK"})
    payment_id = await add_payment(client, order_id, {"amount": 10})
    response = await post_tx(client, order_id, payment_id, EXAMPLE_TRANSACTION)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"3"'
    body = response.json()
    assert TRANSACTION_ID.match(body["id"])
    assert TIMESTAMP.match(body["created"])
    expected = {**EXAMPLE_TRANSACTION, "id": body["id"], "created": body["created"]}
    assert body == expected
    assert await list_tx(client, order_id, payment_id) == [body]


async def test_example_transaction_fills_matching_action_id(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"currency": "SEK"})
    payment_id = await add_payment(client, order_id, EXAMPLE_PAYMENT)
    response = await client.get(f"{ORDERS}/{order_id}/payments/{payment_id}")
    assert response.status_code == 200, response.text
    action_id = response.json()["actions"][0]["id"]
    body = await add_tx(client, order_id, payment_id, EXAMPLE_TRANSACTION)
    assert body == {
        **EXAMPLE_TRANSACTION,
        "id": body["id"],
        "created": body["created"],
        "paymentAction": {
            "id": action_id,
            "adapterId": "string",
            "type": "string",
            "url": "string",
        },
    }


async def test_transaction_defaults_and_ignored_fields(client: httpx.AsyncClient) -> None:
    order_id, payment_id = await new_payment(client)
    body = await add_tx(
        client,
        order_id,
        payment_id,
        {
            "event": "PROCESS",
            "id": "pt_AAAAAAAAAAAAAAAAAAAAAAAAAA",
            "created": "2001-01-01T00:00:00Z",
        },
    )
    assert body == {
        "id": body["id"],
        "event": "process",
        "isSuccess": False,
        "created": body["created"],
    }
    assert body["id"] != "pt_AAAAAAAAAAAAAAAAAAAAAAAAAA"
    assert body["created"] != "2001-01-01T00:00:00Z"
    assert TIMESTAMP.match(body["created"])


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"event": "charge"},
        {"event": "open", "isSuccess": "true"},
        {"event": "open", "amount": "1"},
        {"event": "open", "requestJson": "x" * 262_145},
        [],
    ],
)
async def test_invalid_transaction_bodies(client: httpx.AsyncClient, body: Any) -> None:
    order_id, payment_id = await new_payment(client)
    assert_error(await post_tx(client, order_id, payment_id, body), 400, "invalid-request")
    assert await list_tx(client, order_id, payment_id) == []


async def test_transaction_for_unknown_payment_or_order(client: httpx.AsyncClient) -> None:
    order_id, _ = await new_payment(client)
    unknown = "p_AAAAAAAAAAAAAAAAAAAAAAAAAA"
    response = await post_tx(client, order_id, unknown, {"event": "open"})
    assert_error(response, 404, "payment-not-found")
    assert_error(await client.get(tx_url(order_id, unknown)), 404, "payment-not-found")
    response = await post_tx(client, "o_AAAAAAAAAAAAAAAAAAAAAAAAAA", unknown, {"event": "open"})
    assert_error(response, 404, "order-not-found")


async def test_list_oldest_first(client: httpx.AsyncClient) -> None:
    order_id, payment_id = await new_payment(client)
    events = ["open", "process", "confirm", "capture", "refund", "reopen", "cancel"]
    created = []
    for event in events:
        body: dict[str, Any] = {"event": event, "isSuccess": True, "pspEvent": event.upper()}
        if event in {"capture", "refund"}:
            body["amount"] = 5
        created.append(await add_tx(client, order_id, payment_id, body))
    listed = await list_tx(client, order_id, payment_id)
    assert listed == created
    assert [t["event"] for t in listed] == events
    # transactions of another payment of the same order are not listed
    other = await add_payment(client, order_id, {})
    assert await list_tx(client, order_id, other) == []


PAYLOADS = [
    '{ "status" : "AUTHORISED",\n  "amount": 1.10, "nested": {"list": [1e2, null, true]} }',
    '<?xml version="1.0" encoding="UTF-8"?><r a="1">x &amp; y</r>',
    "OK 200\n\tplain text with trailing spaces   ",
    'värde ✓ 日本語 😀 \u0000 \\ "quoted"',
    "",
    "[]",
]


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_provider_payloads_stored_verbatim(client: httpx.AsyncClient, payload: str) -> None:
    order_id, payment_id = await new_payment(client)
    sent = {"event": "open", "requestJson": payload, "responseJson": payload[::-1]}
    body = await add_tx(client, order_id, payment_id, sent)
    assert body["requestJson"] == payload
    assert body["responseJson"] == payload[::-1]
    [listed] = await list_tx(client, order_id, payment_id)
    assert listed["requestJson"] == payload
    assert listed["responseJson"] == payload[::-1]


async def test_provider_payloads_must_be_strings(client: httpx.AsyncClient) -> None:
    # api §3.19: a string; §1.9: a wrong field type is invalid-request
    order_id, payment_id = await new_payment(client)
    for field in ("requestJson", "responseJson"):
        for value in ({"status": "ok"}, ["a"], 5, True):
            response = await post_tx(client, order_id, payment_id, {"event": "open", field: value})
            body = assert_error(response, 400, "invalid-request")
            assert [e["path"] for e in body["errors"]] == [f"/{field}"]
    assert await list_tx(client, order_id, payment_id) == []


async def test_snake_case_names_are_unknown_fields(client: httpx.AsyncClient) -> None:
    order_id, payment_id = await new_payment(client)
    body = await add_tx(
        client, order_id, payment_id, {"event": "open", "is_success": True, "psp_event": "x"}
    )
    assert body == {
        "id": body["id"],
        "event": "open",
        "isSuccess": False,
        "created": body["created"],
    }


async def test_provider_payload_at_the_size_limit(client: httpx.AsyncClient) -> None:
    order_id, payment_id = await new_payment(client)
    payload = "ä" * 262_144
    body = await add_tx(client, order_id, payment_id, {"event": "open", "responseJson": payload})
    assert body["responseJson"] == payload


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


# Property tests of the pure rules -----------------------------------------------------------

# semantics §2.1, written out independently of src
PAYMENT_TABLE: dict[str, set[str]] = {
    "intent": {"processing", "pending", "confirmed", "reserved", "captured"}
    | {"declined", "failed", "cancelled", "removed"},
    "processing": {"intent", "pending", "confirmed", "reserved", "captured"}
    | {"declined", "failed", "cancelled", "removed"},
    "pending": {"processing", "confirmed", "reserved", "captured"}
    | {"declined", "failed", "cancelled", "removed"},
    "confirmed": {"reserved", "captured", "declined", "failed", "cancelled", "removed"},
    "reserved": {"captured", "cancelled", "failed"},
    "captured": {"credited", "refunded"},
    "credited": {"refunded"},
    "declined": {"intent", "removed"},
    "failed": {"intent", "removed"},
    "cancelled": {"removed"},
    "refunded": set(),
    "removed": set(),
}
ALL_STATES = sorted(PAYMENT_TABLE)


def test_state_enum_matches_table() -> None:
    assert sorted(s.value for s in PaymentState) == ALL_STATES


@pytest.mark.parametrize("source", ALL_STATES)
def test_payment_move_allowed_matches_table(source: str) -> None:
    for target in ALL_STATES:
        expected = target == source or target in PAYMENT_TABLE[source]
        assert rules.payment_move_allowed(PaymentState(source), PaymentState(target)) is expected, (
            source,
            target,
        )
        if expected:
            rules.check_payment_move(source, target)
        else:
            with pytest.raises(InvalidStateTransition) as info:
                rules.check_payment_move(source, target)
            assert info.value.status == 409
            assert info.value.body()["from"] == source
            assert info.value.body()["to"] == target
        rules.check_payment_move(source, target, enforce=False)  # never raises


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(ALL_STATES), min_size=1, max_size=12))
def test_payment_walks(path: list[str]) -> None:
    """A walk is accepted step by step exactly when every step is in the table."""
    current = path[0]
    for target in path[1:]:
        allowed = target == current or target in PAYMENT_TABLE[current]
        assert rules.payment_move_allowed(PaymentState(current), PaymentState(target)) is allowed
        if allowed:
            current = target
    # final states stay final
    if current in {"refunded", "removed"}:
        assert not any(
            rules.payment_move_allowed(PaymentState(current), PaymentState(s))
            for s in ALL_STATES
            if s != current
        )


EVENTS = ["open", "process", "confirm", "reopen", "cancel", "paymentAction", "capture", "refund"]
cents = st.integers(min_value=0, max_value=20_000).map(lambda n: Decimal(n) / 100)


@settings(max_examples=200, deadline=None)
@given(
    payment_amount=cents,
    steps=st.lists(
        st.tuples(
            st.sampled_from(["capture", "capture", "refund", "refund", *EVENTS]),
            cents,
            st.booleans(),
        ),
        max_size=30,
    ),
)
def test_ledger_invariants(payment_amount: Decimal, steps: list[tuple[str, Decimal, bool]]) -> None:
    ledger: LedgerEntry = {"captured": "0", "refunded": "0", "captures": 0, "count": 0}
    captured = refunded = Decimal(0)
    stored = captures = 0
    for event, amount, success in steps:
        before = copy.deepcopy(ledger)
        try:
            rules.apply_transaction(ledger, payment_amount, event, amount, success)
        except rules.AmountExceedsReserved as exc:
            assert success and event == "capture"
            assert captured + amount > payment_amount
            assert exc.body()["available"] == payment_amount - captured
            assert ledger == before  # a refused event leaves the ledger unchanged
            continue
        except rules.AmountExceedsCaptured as exc:
            assert success and event == "refund"
            assert refunded + amount > captured
            assert exc.body()["available"] == captured - refunded
            assert ledger == before
            continue
        stored += 1
        if success and event == "capture":
            assert captured + amount <= payment_amount
            captured += amount
            captures += 1
        elif success and event == "refund":
            assert refunded + amount <= captured
            refunded += amount
        # the running sums match an independent model, and the invariants hold
        assert Decimal(ledger["captured"]) == captured
        assert Decimal(ledger["refunded"]) == refunded
        assert ledger["count"] == stored
        assert ledger["captures"] == captures
        assert Decimal(ledger["captured"]) <= payment_amount
        assert Decimal(ledger["refunded"]) <= Decimal(ledger["captured"])


@settings(max_examples=200, deadline=None)
@given(captured=cents, amount=cents)
def test_amount_below_captured_rule(captured: Decimal, amount: Decimal) -> None:
    payment = cast(Payment, {"amount": amount})  # the only field the rule reads
    if amount < captured:
        with pytest.raises(rules.AmountBelowCaptured) as info:
            rules.check_payment_amounts(payment, captured)
        assert info.value.body()["captured"] == captured
    else:
        rules.check_payment_amounts(payment, captured)
