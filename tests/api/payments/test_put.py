"""Payments (api §2.2 operations 23-26, §3.17; semantics §2, §3.2-3.3, §3.7, §3.8)."""

from __future__ import annotations

import copy
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kassa.app import create_app
from kassa.config import Settings
from kassa.db.engine import Database
from tests.conftest import ORDERS, Tenant, client_for, create_order, get_order, make_tenant

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

CART_20 = {"cart": {"items": [{"name": "Shirt", "quantity": 1, "total": {"includingVat": 20}}]}}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    assert body["requestId"] == response.headers["x-request-id"], body
    return body


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


# Create, read, list -------------------------------------------------------------------------


async def test_create_payment_with_documented_example(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    order_id = await create_order(client, {"currency": "SEK"})
    response = await client.post(f"{ORDERS}/{order_id}/payments", json=EXAMPLE_PAYMENT)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id"}
    payment_id = body["id"]
    assert PAYMENT_ID.match(payment_id)
    assert response.headers["location"] == f"{ORDERS}/{order_id}/payments/{payment_id}"
    assert response.headers["etag"] == '"2"'

    response = await client.get(f"{ORDERS}/{order_id}/payments/{payment_id}")
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    payment = response.json()
    action_id = payment["actions"][0]["id"]
    assert ACTION_ID.match(action_id)
    assert payment == expected_example(tenant, order_id, payment_id, action_id)


async def test_example_payment_on_order_without_currency(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    order_id = await create_order(client)
    payment_id = await add_payment(client, order_id, EXAMPLE_PAYMENT)
    payment = await get_payment(client, order_id, payment_id)
    action_id = payment["actions"][0]["id"]
    assert payment == expected_example(tenant, order_id, payment_id, action_id)


async def test_create_payment_defaults(client: httpx.AsyncClient, tenant: Tenant) -> None:
    order_id = await create_order(client, {"currency": "EUR"})
    response = await client.post(f"{ORDERS}/{order_id}/payments")
    assert response.status_code == 201, response.text
    payment_id = response.json()["id"]
    assert await get_payment(client, order_id, payment_id) == {
        "id": payment_id,
        "merchant": tenant.merchant,
        "channel": tenant.channel,
        "currency": "EUR",
        "type": "default",
        "orderId": order_id,
        "amount": 0,
        "state": "intent",
        "actions": [],
    }


async def test_create_payment_compat_body(client: httpx.AsyncClient) -> None:
    # semantics §16 row 9: a payment without adapterId
    order_id = await create_order(client)
    payment_id = await add_payment(
        client, order_id, {"reference": "ref", "name": "card", "type": "Default", "amount": 20}
    )
    payment = await get_payment(client, order_id, payment_id)
    assert payment["state"] == "intent"
    assert payment["type"] == "default"
    assert payment["amount"] == 20
    assert "currency" not in payment


async def test_list_payments_in_creation_order(client: httpx.AsyncClient, tenant: Tenant) -> None:
    order_id = await create_order(client, {"currency": "SEK"})
    first = await add_payment(client, order_id, EXAMPLE_PAYMENT)
    second = await add_payment(client, order_id, {"name": "voucher", "type": "VOUCHER"})
    third = await add_payment(client, order_id, {"state": "removed", "amount": 1})
    response = await client.get(f"{ORDERS}/{order_id}/payments")
    assert response.status_code == 200, response.text
    payments = response.json()
    assert [p["id"] for p in payments] == [first, second, third]
    action_id = payments[0]["actions"][0]["id"]
    assert payments[0] == expected_example(tenant, order_id, first, action_id)
    assert payments[1]["type"] == "voucher"
    assert payments[2]["state"] == "removed"
    order = await get_order(client, order_id)
    assert order["payments"] == payments


async def test_list_payments_empty_and_unknown_order(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.get(f"{ORDERS}/{order_id}/payments")
    assert response.status_code == 200, response.text
    assert response.json() == []
    response = await client.get(f"{ORDERS}/o_AAAAAAAAAAAAAAAAAAAAAAAAAA/payments")
    assert_error(response, 404, "order-not-found")


async def test_payment_id_list_filter(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    await create_order(client)
    payment_id = await add_payment(client, order_id)
    response = await client.get(ORDERS, params={"payment_id": payment_id})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [o["id"] for o in body["data"]] == [order_id]
    assert body["pagination"]["totalSize"] == 1
    response = await client.get(ORDERS, params={"payment_id": "p_AAAAAAAAAAAAAAAAAAAAAAAAAA"})
    assert response.status_code == 200, response.text
    assert response.json()["data"] == []


async def test_payment_not_found(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    other_order = await create_order(client)
    foreign = await add_payment(client, other_order)
    for payment_id in ("p_AAAAAAAAAAAAAAAAAAAAAAAAAA", "nonsense", foreign):
        response = await client.get(f"{ORDERS}/{order_id}/payments/{payment_id}")
        body = assert_error(response, 404, "payment-not-found")
        assert payment_id in body["message"]
        response = await client.put(f"{ORDERS}/{order_id}/payments/{payment_id}", json={})
        assert_error(response, 404, "payment-not-found")


async def test_payment_of_unknown_order(client: httpx.AsyncClient) -> None:
    unknown = "o_AAAAAAAAAAAAAAAAAAAAAAAAAA"
    response = await client.post(f"{ORDERS}/{unknown}/payments", json={})
    assert_error(response, 404, "order-not-found")
    response = await client.get(f"{ORDERS}/{unknown}/payments/p_AAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert_error(response, 404, "order-not-found")


async def test_field_names_are_camel_case_only(client: httpx.AsyncClient) -> None:
    # api §1.6: names are camelCase exactly; anything else is an unknown field and ignored
    order_id = await create_order(client)
    payment_id = await add_payment(
        client,
        order_id,
        {"adapter_id": "x", "upper_limit_amount": 5, "amount": 6, "reference": "r"},
    )
    payment = await get_payment(client, order_id, payment_id)
    assert "adapterId" not in payment and "adapter_id" not in payment
    assert "upperLimitAmount" not in payment and "upper_limit_amount" not in payment
    assert (payment["amount"], payment["reference"]) == (6, "r")


# PUT ----------------------------------------------------------------------------------------


async def test_put_with_documented_example(client: httpx.AsyncClient, tenant: Tenant) -> None:
    order_id = await create_order(client, {"currency": "SEK"})
    payment_id = await add_payment(client, order_id, EXAMPLE_PAYMENT)
    before = await get_payment(client, order_id, payment_id)
    response = await client.put(f"{ORDERS}/{order_id}/payments/{payment_id}", json=EXAMPLE_PAYMENT)
    assert response.status_code == 200, response.text
    payment = response.json()
    # the example's action carries no id, so the replaced list gets a fresh one (semantics §3.7)
    action_id = payment["actions"][0]["id"]
    assert ACTION_ID.match(action_id)
    assert action_id != before["actions"][0]["id"]
    assert payment == expected_example(tenant, order_id, payment_id, action_id)
    assert response.headers["etag"] == '"3"'
    assert await get_payment(client, order_id, payment_id) == payment


async def test_put_example_read_back_is_a_no_op(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"currency": "SEK"})
    payment_id = await add_payment(client, order_id, EXAMPLE_PAYMENT)
    payment = await get_payment(client, order_id, payment_id)
    response = await client.put(f"{ORDERS}/{order_id}/payments/{payment_id}", json=payment)
    assert response.status_code == 200, response.text
    assert response.json() == payment
    assert response.headers["etag"] == '"2"'


FULL_BODY: dict[str, Any] = {
    "adapterId": "adyen",
    "name": "Card",
    "currency": "SEK",
    "type": "voucher",
    "amount": 10,
    "upperLimitAmount": 100,
    "state": "processing",
    "reference": "psp-1",
    "attributes": {"k": "värde", "n": None},
    "actions": [{"adapterId": "a", "type": "capture", "url": "https://psp.example/c"}],
    "recurring": {"token": "tok"},
    "upsell": {"eligible": False},
}


async def test_put_is_full_replacement(client: httpx.AsyncClient, tenant: Tenant) -> None:
    order_id = await create_order(client, {"currency": "SEK"})
    payment_id = await add_payment(client, order_id, FULL_BODY)
    stored = await get_payment(client, order_id, payment_id)
    actions = stored["actions"]
    assert ACTION_ID.match(actions[0]["id"])

    response = await client.put(
        f"{ORDERS}/{order_id}/payments/{payment_id}", json={"reference": "psp-2"}
    )
    assert response.status_code == 200, response.text
    expected = {
        "id": payment_id,
        "merchant": tenant.merchant,
        "channel": tenant.channel,
        "currency": "SEK",  # reset to the order currency
        "type": "default",  # reset to its default
        "orderId": order_id,
        "amount": 0,  # reset to 0
        "state": "processing",  # kept when absent
        "reference": "psp-2",
        "actions": actions,  # kept when absent
    }
    assert response.json() == expected
    assert await get_payment(client, order_id, payment_id) == expected


async def test_put_nulls_mean_absent(client: httpx.AsyncClient, tenant: Tenant) -> None:
    order_id = await create_order(client)
    payment_id = await add_payment(client, order_id, FULL_BODY)
    stored = await get_payment(client, order_id, payment_id)
    body: dict[str, Any] = {key: None for key in FULL_BODY}
    body["name"] = "kept"
    response = await client.put(f"{ORDERS}/{order_id}/payments/{payment_id}", json=body)
    assert response.status_code == 200, response.text
    # order without currency: the payment's currency is removed
    assert response.json() == {
        "id": payment_id,
        "name": "kept",
        "merchant": tenant.merchant,
        "channel": tenant.channel,
        "type": "default",
        "orderId": order_id,
        "amount": 0,
        "state": "processing",
        "actions": stored["actions"],
    }


async def test_put_ignores_read_only_fields(client: httpx.AsyncClient, tenant: Tenant) -> None:
    order_id = await create_order(client)
    payment_id = await add_payment(client, order_id)
    response = await client.put(
        f"{ORDERS}/{order_id}/payments/{payment_id}",
        json={
            "id": "p_BBBBBBBBBBBBBBBBBBBBBBBBBB",
            "merchant": "other",
            "channel": "other",
            "orderId": "o_BBBBBBBBBBBBBBBBBBBBBBBBBB",
            "amount": 5,
        },
    )
    assert response.status_code == 200, response.text
    payment = response.json()
    assert payment["id"] == payment_id
    assert payment["merchant"] == tenant.merchant
    assert payment["channel"] == tenant.channel
    assert payment["orderId"] == order_id
    assert payment["amount"] == 5


async def test_put_actions_replaces_list_keeping_known_ids(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    payment_id = await add_payment(
        client,
        order_id,
        {
            "actions": [
                {"adapterId": "a", "type": "capture", "url": "https://x.example/1"},
                {"adapterId": "a", "type": "refund", "url": "https://x.example/2"},
            ]
        },
    )
    old = (await get_payment(client, order_id, payment_id))["actions"]
    assert len({a["id"] for a in old}) == 2
    foreign = "pa_CCCCCCCCCCCCCCCCCCCCCCCCCC"
    sent = [
        {"id": old[1]["id"], "adapterId": "b", "type": "refund", "url": "https://x.example/r"},
        {"id": foreign, "adapterId": "b", "type": "cancel", "url": "https://x.example/c"},
        {"adapterId": "b", "type": "refresh", "url": "https://x.example/f"},
    ]
    response = await client.put(
        f"{ORDERS}/{order_id}/payments/{payment_id}", json={"actions": sent}
    )
    assert response.status_code == 200, response.text
    actions = response.json()["actions"]
    assert [(a["adapterId"], a["type"], a["url"]) for a in actions] == [
        (a["adapterId"], a["type"], a["url"]) for a in sent
    ]
    assert actions[0]["id"] == old[1]["id"]
    assert ACTION_ID.match(actions[1]["id"]) and actions[1]["id"] not in {foreign, old[0]["id"]}
    assert ACTION_ID.match(actions[2]["id"])
    assert len({a["id"] for a in actions}) == 3
    assert old[0]["id"] not in {a["id"] for a in actions}

    # an empty list removes every action
    response = await client.put(f"{ORDERS}/{order_id}/payments/{payment_id}", json={"actions": []})
    assert response.status_code == 200, response.text
    assert response.json()["actions"] == []


@pytest.mark.parametrize(
    "action",
    [
        {"type": "capture", "url": "https://x.example"},
        {"adapterId": "", "type": "capture", "url": "https://x.example"},
        {"adapterId": "a", "url": "https://x.example"},
        {"adapterId": "a", "type": "capture", "url": ""},
    ],
)
async def test_put_actions_need_adapter_type_url(
    client: httpx.AsyncClient, action: dict[str, Any]
) -> None:
    order_id = await create_order(client)
    payment_id = await add_payment(client, order_id)
    response = await client.put(
        f"{ORDERS}/{order_id}/payments/{payment_id}", json={"actions": [action]}
    )
    assert_error(response, 400, "invalid-request")
    assert (await get_payment(client, order_id, payment_id))["actions"] == []


async def test_put_unknown_enum_and_bad_types(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    payment_id = await add_payment(client, order_id)
    url = f"{ORDERS}/{order_id}/payments/{payment_id}"
    bodies: list[Any] = [
        {"state": "paid"},
        {"type": "cash"},
        {"amount": "10"},
        {"currency": "SE"},
        [],
    ]
    for body in bodies:
        assert_error(await client.put(url, json=body), 400, "invalid-request")
    payment = await get_payment(client, order_id, payment_id)
    assert payment["state"] == "intent"
    assert payment["type"] == "default"


async def test_state_is_accepted_case_insensitively(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    payment_id = await add_payment(client, order_id, {"state": "PENDING", "type": "PrePaid"})
    payment = await get_payment(client, order_id, payment_id)
    assert (payment["state"], payment["type"]) == ("pending", "prepaid")
    response = await client.put(
        f"{ORDERS}/{order_id}/payments/{payment_id}", json={"state": "Confirmed"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "confirmed"


async def test_put_payment_refused_in_removed_order(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    payment_id = await add_payment(client, order_id)
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "removed"})
    assert response.status_code == 200, response.text
    response = await client.put(
        f"{ORDERS}/{order_id}/payments/{payment_id}", json={"state": "processing"}
    )
    body = assert_error(response, 409, "order-not-editable")
    assert body["state"] == "removed"


async def test_put_payment_allowed_after_checkout(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    payment_id = await add_payment(client, order_id)
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "declined"})
    assert response.status_code == 200, response.text
    response = await client.put(
        f"{ORDERS}/{order_id}/payments/{payment_id}", json={"state": "declined", "amount": 3}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["state"], response.json()["amount"]) == ("declined", 3)


# Payment state machine (semantics §2) ------------------------------------------------------


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


# Money rules (semantics §3.2, §3.3, §3.7) --------------------------------------------------


async def test_amount_above_upper_limit(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.post(
        f"{ORDERS}/{order_id}/payments", json={"amount": 100.01, "upperLimitAmount": 100}
    )
    assert_error(response, 400, "amount-exceeds-upper-limit")
    assert (await get_order(client, order_id))["payments"] == []

    payment_id = await add_payment(client, order_id, {"amount": 100, "upperLimitAmount": 100})
    url = f"{ORDERS}/{order_id}/payments/{payment_id}"
    response = await client.put(url, json={"amount": 101, "upperLimitAmount": 100})
    assert_error(response, 400, "amount-exceeds-upper-limit")
    response = await client.put(url, json={"amount": 50, "upperLimitAmount": 49.99})
    assert_error(response, 400, "amount-exceeds-upper-limit")
    payment = await get_payment(client, order_id, payment_id)
    assert (payment["amount"], payment["upperLimitAmount"]) == (100, 100)
    # without upperLimitAmount there is no limit
    response = await client.put(url, json={"amount": 1000})
    assert response.status_code == 200, response.text
    assert response.json()["amount"] == 1000
    assert "upperLimitAmount" not in response.json()


async def test_currency_defaults_to_order_currency(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"currency": "NOK"})
    payment_id = await add_payment(client, order_id, {"amount": 1})
    assert (await get_payment(client, order_id, payment_id))["currency"] == "NOK"


async def test_currency_mismatch(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"currency": "SEK"})
    response = await client.post(f"{ORDERS}/{order_id}/payments", json={"currency": "EUR"})
    assert_error(response, 400, "currency-mismatch")
    assert (await get_order(client, order_id))["payments"] == []
    payment_id = await add_payment(client, order_id)
    response = await client.put(
        f"{ORDERS}/{order_id}/payments/{payment_id}", json={"currency": "NOK"}
    )
    assert_error(response, 400, "currency-mismatch")
    assert (await get_payment(client, order_id, payment_id))["currency"] == "SEK"


async def test_currency_compared_case_insensitively_keeps_spelling(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(client, {"currency": "SEK"})
    payment_id = await add_payment(client, order_id, {"currency": "sek"})
    assert (await get_payment(client, order_id, payment_id))["currency"] == "sek"
    response = await client.put(
        f"{ORDERS}/{order_id}/payments/{payment_id}", json={"currency": "Sek"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["currency"] == "Sek"


async def test_order_without_currency_does_not_compare(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    payment_id = await add_payment(client, order_id, {"currency": "EUR"})
    assert (await get_payment(client, order_id, payment_id))["currency"] == "EUR"


@pytest.mark.parametrize(
    ("currency", "good", "bad"),
    [
        ("SEK", "10.5", "10.505"),
        ("sek", "10.50", "0.001"),
        ("JPY", "15", "1.5"),
        ("KWD", "1.505", "1.5051"),
        ("CLF", "1.2345", "1.23456"),
        ("XYZ", "0.01", "0.001"),  # unknown codes have two decimals
    ],
)
async def test_minor_units(client: httpx.AsyncClient, currency: str, good: str, bad: str) -> None:
    order_id = await create_order(client, {"currency": currency})
    url = f"{ORDERS}/{order_id}/payments"
    headers = {"Content-Type": "application/json"}
    for field in ("amount", "upperLimitAmount"):
        content = f'{{"{field}": {bad}, "upperLimitAmount": 1000}}'
        if field == "upperLimitAmount":
            content = f'{{"upperLimitAmount": {bad}}}'
        body = assert_error(
            await client.post(url, content=content, headers=headers), 400, "invalid-amount"
        )
        assert any(e["path"] == f"/{field}" for e in body["errors"]), body
    assert (await get_order(client, order_id))["payments"] == []
    response = await client.post(
        url, content=f'{{"amount": {good}, "upperLimitAmount": {good}}}', headers=headers
    )
    assert response.status_code == 201, response.text
    payment_id = response.json()["id"]
    response = await client.get(f"{url}/{payment_id}")
    assert response.status_code == 200, response.text
    canonical = good.rstrip("0").rstrip(".") if "." in good else good
    assert f'"amount":{canonical},' in response.text.replace(" ", "")
    # the PUT obeys the same rule
    response = await client.put(
        f"{url}/{payment_id}", content=f'{{"amount": {bad}}}', headers=headers
    )
    assert_error(response, 400, "invalid-amount")


async def test_minor_unit_from_payment_currency_when_order_has_none(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(client)
    url = f"{ORDERS}/{order_id}/payments"
    response = await client.post(url, json={"currency": "JPY", "amount": 1.5})
    assert_error(response, 400, "invalid-amount")
    response = await client.post(url, json={"amount": 1.005})  # neither: two decimals
    assert_error(response, 400, "invalid-amount")
    response = await client.post(url, json={"currency": "KWD", "amount": 1.005})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("field", ["amount", "upperLimitAmount"])
async def test_negative_amount(client: httpx.AsyncClient, field: str) -> None:
    order_id = await create_order(client)
    response = await client.post(f"{ORDERS}/{order_id}/payments", json={field: -1})
    body = assert_error(response, 400, "invalid-amount")
    assert [e["path"] for e in body["errors"]] == [f"/{field}"]
    payment_id = await add_payment(client, order_id)
    response = await client.put(f"{ORDERS}/{order_id}/payments/{payment_id}", json={field: -0.01})
    assert_error(response, 400, "invalid-amount")


async def test_post_payment_needs_checkout(client: httpx.AsyncClient) -> None:
    for status in ("declined", "removed"):
        order_id = await create_order(client)
        response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": status})
        assert response.status_code == 200, response.text
        response = await client.post(f"{ORDERS}/{order_id}/payments", json={"amount": 1})
        body = assert_error(response, 409, "order-not-editable")
        assert body["state"] == status
        assert (await get_order(client, order_id))["payments"] == []


async def test_post_payment_refused_in_processing(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, CART_20)
    await add_payment(client, order_id, {"amount": 20})
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "processing"})
    assert response.status_code == 200, response.text
    response = await client.post(f"{ORDERS}/{order_id}/payments", json={})
    body = assert_error(response, 409, "order-not-editable")
    assert body["state"] == "processing"


# Coverage and soft removal (semantics §3.8) -------------------------------------------------


async def test_covered_order_completes(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, CART_20)
    payment_id = await add_payment(client, order_id, {"amount": 20})
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "completed"})
    assert response.status_code == 200, response.text
    order = await get_order(client, order_id)
    assert order["state"]["currentStatus"] == "completed"
    assert [p["id"] for p in order["payments"]] == [payment_id]


async def test_amount_mismatch_fails_validation(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, CART_20)
    await add_payment(client, order_id, {"amount": 19.99})
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "completed"})
    body = assert_error(response, 400, "validation-failed")
    assert [(e["code"], e["adapterId"]) for e in body["errors"]] == [
        ("payment-amount-mismatch", "kassa")
    ]
    assert (await get_order(client, order_id))["state"]["currentStatus"] == "checkout"


async def test_removed_payment_stays_listed_and_leaves_coverage(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(client, CART_20)
    main = await add_payment(client, order_id, {"amount": 20})
    extra = await add_payment(client, order_id, {"amount": 5})
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "completed"})
    body = assert_error(response, 400, "validation-failed")
    assert [e["code"] for e in body["errors"]] == ["payment-amount-mismatch"]

    response = await client.put(
        f"{ORDERS}/{order_id}/payments/{extra}", json={"amount": 5, "state": "removed"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "removed"
    response = await client.get(f"{ORDERS}/{order_id}/payments")
    assert response.status_code == 200, response.text
    assert [(p["id"], p["state"]) for p in response.json()] == [
        (main, "intent"),
        (extra, "removed"),
    ]
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "completed"})
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["state"]["currentStatus"] == "completed"


async def test_only_removed_payments_count_as_missing(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, CART_20)
    await add_payment(client, order_id, {"amount": 20, "state": "removed"})
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "accepted"})
    body = assert_error(response, 400, "validation-failed")
    assert [e["code"] for e in body["errors"]] == ["payment-missing"]


async def test_declined_payment_still_counts(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, CART_20)
    await add_payment(client, order_id, {"amount": 12, "state": "declined"})
    await add_payment(client, order_id, {"amount": 8})
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "processing"})
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["state"]["currentStatus"] == "processing"


# Limits (api §1.12) ---------------------------------------------------------------------------


async def test_fifty_payments_per_order(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    for n in range(50):
        await add_payment(client, order_id, {"state": "removed" if n % 2 else "intent"})
    response = await client.post(f"{ORDERS}/{order_id}/payments", json={})
    body = assert_error(response, 400, "limit-exceeded")
    assert body["errors"], body
    assert len((await get_order(client, order_id))["payments"]) == 50


async def test_fifty_actions_per_payment(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    action = {"adapterId": "a", "type": "t", "url": "https://x.example"}
    response = await client.post(f"{ORDERS}/{order_id}/payments", json={"actions": [action] * 51})
    assert_error(response, 400, "limit-exceeded")
    payment_id = await add_payment(client, order_id, {"actions": [action] * 50})
    assert len((await get_payment(client, order_id, payment_id))["actions"]) == 50
    response = await client.put(
        f"{ORDERS}/{order_id}/payments/{payment_id}", json={"actions": [action] * 51}
    )
    assert_error(response, 400, "limit-exceeded")


# Other-tenant isolation (api §1.4) ---------------------------------------------------------


async def test_payment_of_other_channel_is_not_found(
    app: FastAPI, db: Database, client: httpx.AsyncClient
) -> None:
    order_id = await create_order(client)
    payment_id = await add_payment(client, order_id)
    stranger = await make_tenant(db)
    async with client_for(app, stranger.headers) as other:
        response = await other.get(f"{ORDERS}/{order_id}/payments/{payment_id}")
        assert_error(response, 404, "order-not-found")
