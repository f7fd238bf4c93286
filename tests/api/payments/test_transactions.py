"""Payment transactions (api §2.2 operations 29-30, §3.19): the documented example, defaults,
refused bodies, listing and provider payloads."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.conftest import ORDERS, create_order
from tests.support.http_asserts import assert_error
from tests.support.transactions import (
    add_payment,
    add_tx,
    list_tx,
    new_payment,
    post_tx,
    tx_url,
)

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
