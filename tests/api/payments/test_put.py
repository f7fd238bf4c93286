"""Replacing a payment with PUT (api §2.2; semantics §3.7): full replacement, nulls,
read-only fields, actions and when a payment may be changed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ORDERS, Tenant, create_order
from tests.support.http_asserts import assert_error
from tests.support.payments import (
    ACTION_ID,
    EXAMPLE_PAYMENT,
    add_payment,
    expected_example,
    get_payment,
)


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
