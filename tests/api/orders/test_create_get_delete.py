"""Creating, reading and deleting an order over HTTP (api §2.1 operations 1, 3, 4) and the wire
rules they rely on (ids §1.5, JSON §1.6, timestamps §1.8)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kassa.db.engine import Database
from tests.conftest import ORDERS, Tenant, client_for, create_order, get_order, make_tenant
from tests.support.http_asserts import assert_error
from tests.support.orders import post_raw

ORDER_ID = re.compile(r"^o_[A-Za-z]{26}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


# Create and get (operations 1 and 3) ---------------------------------------------------------


async def test_create_empty_order_has_every_always_field(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(ORDERS, json={})
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    order_id = response.json()["id"]
    assert response.json() == {"id": order_id}
    assert ORDER_ID.match(order_id)
    assert response.headers["location"] == f"{ORDERS}/{order_id}"
    assert response.headers["etag"] == '"1"'

    got = await client.get(f"{ORDERS}/{order_id}")
    assert got.status_code == 200
    assert got.headers["etag"] == '"1"'
    order = got.json()
    assert order["id"] == order_id
    assert order["merchant"] == tenant.merchant
    assert order["channel"] == tenant.channel
    assert TIMESTAMP.match(order["created"])
    assert order["lastModified"] == order["created"]
    assert order["state"] == {
        "currentStatus": "checkout",
        "transitions": [{"status": "checkout", "timeStamp": order["created"]}],
    }
    assert order["cart"] == {"items": [], "total": {"includingVat": 0, "excludingVat": 0}}
    assert order["total"] == {"includingVat": 0, "excludingVat": 0}
    for key in ("shippings", "payments", "consents", "hooks", "notifications", "validations"):
        assert order[key] == [], key
    for key in ("reference", "culture", "currency", "country", "customer", "attributes"):
        assert key not in order, key


async def test_create_without_body_creates_empty_order(client: httpx.AsyncClient) -> None:
    response = await client.post(ORDERS)
    assert response.status_code == 201, response.text
    order = await get_order(client, response.json()["id"])
    assert order["cart"]["items"] == []
    assert order["state"]["currentStatus"] == "checkout"


async def test_create_ignores_read_only_and_unknown_fields(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    order_id = await create_order(
        client,
        {
            "id": "o_AAAAAAAAAAAAAAAAAAAAAAAAAA",
            "merchant": "someone-else",
            "channel": "other-channel",
            "created": "2000-01-01T00:00:00.000Z",
            "lastModified": "2000-01-01T00:00:00.000Z",
            "state": {"currentStatus": "completed", "transitions": []},
            "total": {"includingVat": 999, "excludingVat": 999},
            "shippings": [{"total": {"includingVat": 5}, "vatRate": 0.25}],
            "payments": [{"amount": 5}],
            "unknownField": {"x": 1},
            "reference": "ref-1",
            "culture": "sv-SE",
            "currency": "SEK",
            "country": "se",
        },
    )
    assert order_id != "o_AAAAAAAAAAAAAAAAAAAAAAAAAA"
    order = await get_order(client, order_id)
    assert order["merchant"] == tenant.merchant
    assert order["channel"] == tenant.channel
    assert order["created"] != "2000-01-01T00:00:00.000Z"
    assert order["state"]["currentStatus"] == "checkout"
    assert len(order["state"]["transitions"]) == 1
    assert order["total"] == {"includingVat": 0, "excludingVat": 0}
    assert order["shippings"] == []
    assert order["payments"] == []
    assert "unknownField" not in order
    assert order["reference"] == "ref-1"
    assert order["culture"] == "sv-SE"
    assert order["currency"] == "SEK"
    assert order["country"] == "se"


async def test_create_keeps_full_customer_consents_and_callbacks(
    client: httpx.AsyncClient,
) -> None:
    billing = {
        "type": "Person",
        "givenName": "Rosalinainho",
        "familyName": "Undulatsson",
        "careOf": "c/o Värd",
        "streetAddress": "Adaptivevägen 18",
        "streetAddress2": "Lgh 1203",
        "postalCode": "955 60",
        "city": "Boden",
        "country": "se",
        "phone": "+46 70 123 45 67",
        "email": "rosa@example.com",
        "nationalIdentificationNumber": "19800101-1234",
        "attributes": {"dateOfBirth": None},
    }
    order_id = await create_order(
        client,
        {
            "customer": {"billing": billing, "shipping": {"givenName": "Ann"}},
            "consents": [{"id": "ci_newsletter", "text": "Nyhetsbrev"}],
            "hooks": [{"subscribeTo": "/cart", "invoke": "https://example.com/hook"}],
            "validations": [{"adapterId": "a1", "url": "https://example.com/v"}],
            "notifications": [{"scope": "/state", "invoke": "https://example.com/n"}],
        },
    )
    order = await get_order(client, order_id)
    # customer.type is optional and not invented; enums are written canonically
    assert order["customer"] == {
        "billing": {**billing, "type": "person"},
        "shipping": {"givenName": "Ann"},
    }
    assert order["consents"] == [
        {"id": "ci_newsletter", "checked": False, "text": "Nyhetsbrev", "required": False}
    ]
    callback_id = re.compile(r"^oc_[A-Za-z]{26}$")
    assert [callback_id.match(x["id"]) is not None for x in order["hooks"]] == [True]
    assert order["hooks"][0]["subscribeTo"] == order["hooks"][0]["scope"] == "/cart"
    assert order["hooks"][0]["version"] == "v0"
    assert callback_id.match(order["validations"][0]["id"])
    assert order["validations"][0]["url"] == order["validations"][0]["invoke"]
    assert callback_id.match(order["notifications"][0]["id"])
    assert order["notifications"][0]["scope"] == "/state"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"currency": "SEKK"}, "/currency"),
        ({"country": "SWE"}, "/country"),
        ({"culture": "sv_SE"}, "/culture"),
        ({"reference": 12}, "/reference"),
        ({"cart": {"items": [{"quantity": 1.5}]}}, "/cart/items/0/quantity"),
        ({"cart": {"items": [{"quantity": -1}]}}, "/cart/items/0/quantity"),
        ({"cart": {"items": [{"vatRate": 1.5}]}}, "/cart/items/0/vatRate"),
        ({"cart": {"items": [{"productType": "fruit"}]}}, "/cart/items/0/productType"),
        ({"consents": [{"text": "no id"}]}, "/consents/0/id"),
        ({"customer": {"billing": {"country": "S"}}}, "/customer/billing/country"),
        ({"attributes": [1, 2]}, "/attributes"),
    ],
)
async def test_create_invalid_body_is_invalid_request(
    client: httpx.AsyncClient, body: dict[str, Any], path: str
) -> None:
    error = assert_error(await client.post(ORDERS, json=body), 400, "invalid-request")
    assert path in [e["path"] for e in error["errors"]], error


async def test_create_non_object_body_is_invalid_request(client: httpx.AsyncClient) -> None:
    assert_error(await client.post(ORDERS, json=[1]), 400, "invalid-request")
    assert_error(await post_raw(client, '{"cart": '), 400, "invalid-request")
    listed = await client.get(ORDERS)
    assert listed.json()["pagination"]["totalSize"] == 0


@pytest.mark.parametrize(
    "price",
    ["-1", "0.0000001", "1000000000000000"],
)
async def test_create_invalid_price_is_invalid_amount(
    client: httpx.AsyncClient, price: str
) -> None:
    text = '{"cart": {"items": [{"total": {"includingVat": ' + price + "}}]}}"
    error = assert_error(await post_raw(client, text), 400, "invalid-amount")
    assert error["errors"][0]["path"] == "/cart/items/0/total/includingVat"


async def test_create_duplicate_consent_ids_is_invalid_request(
    client: httpx.AsyncClient,
) -> None:
    body = {"consents": [{"id": "a"}, {"id": "a"}]}
    assert_error(await client.post(ORDERS, json=body), 400, "invalid-request")
    assert (await client.get(ORDERS)).json()["pagination"]["totalSize"] == 0


async def test_get_unknown_order_is_not_found(client: httpx.AsyncClient) -> None:
    for order_id in ("o_AAAAAAAAAAAAAAAAAAAAAAAAAA", "not-an-id"):
        body = assert_error(await client.get(f"{ORDERS}/{order_id}"), 404, "order-not-found")
        assert order_id in body["message"]


async def test_order_is_invisible_to_other_merchant_and_channel(app: FastAPI, db: Database) -> None:
    owner = await make_tenant(db, channels=["c1", "c2"])
    async with client_for(app, owner.headers) as c1:
        order_id = await create_order(c1)
    other_channel = {**owner.headers, "x-channel": "c2"}
    async with client_for(app, other_channel) as c2:
        assert_error(await c2.get(f"{ORDERS}/{order_id}"), 404, "order-not-found")
        response = await c2.put(f"{ORDERS}/{order_id}/reference", json="x")
        assert_error(response, 404, "order-not-found")
        assert_error(await c2.delete(f"{ORDERS}/{order_id}"), 404, "order-not-found")
    stranger = await make_tenant(db)
    async with client_for(app, stranger.headers) as c3:
        assert_error(await c3.get(f"{ORDERS}/{order_id}"), 404, "order-not-found")
        assert_error(await c3.get(f"{ORDERS}/{order_id}/history"), 404, "order-not-found")
    async with client_for(app, owner.headers) as c1:
        order = await get_order(c1, order_id)
        assert "reference" not in order
        assert order["channel"] == "c1"


# Delete (operation 4) ------------------------------------------------------------------------


async def test_delete_order_then_everything_below_is_gone(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"reference": "to-delete"})
    keep_id = await create_order(client, {"reference": "keep"})
    response = await client.delete(f"{ORDERS}/{order_id}")
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert "etag" not in response.headers
    assert_error(await client.get(f"{ORDERS}/{order_id}"), 404, "order-not-found")
    assert_error(await client.get(f"{ORDERS}/{order_id}/history"), 404, "order-not-found")
    response = await client.patch(f"{ORDERS}/{order_id}/attributes", json={"a": 1})
    assert_error(response, 404, "order-not-found")
    assert_error(await client.delete(f"{ORDERS}/{order_id}"), 404, "order-not-found")
    listed = (await client.get(ORDERS)).json()
    assert [o["id"] for o in listed["data"]] == [keep_id]
    assert (await get_order(client, keep_id))["reference"] == "keep"


async def test_delete_allowed_in_final_states(client: httpx.AsyncClient) -> None:
    for final in ("removed", "declined"):
        order_id = await create_order(client)
        response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": final})
        assert response.status_code == 200, response.text
        response = await client.delete(f"{ORDERS}/{order_id}")
        assert response.status_code == 204, response.text
        assert_error(await client.get(f"{ORDERS}/{order_id}"), 404, "order-not-found")


# Nulls and limits when creating --------------------------------------------------------------


async def test_null_fields_are_absent_but_attribute_nulls_kept(client: httpx.AsyncClient) -> None:
    order_id = await create_order(
        client,
        {
            "reference": None,
            "currency": None,
            "customer": {
                "type": None,
                "billing": {"givenName": "A", "email": None, "attributes": {"x": None}},
            },
            "cart": {"reference": None, "items": [{"name": "n", "sku": None, "foo": 1}]},
        },
    )
    order = await get_order(client, order_id)
    assert "reference" not in order
    assert "currency" not in order
    assert order["customer"] == {"billing": {"givenName": "A", "attributes": {"x": None}}}
    item = order["cart"]["items"][0]
    assert {k: v for k, v in item.items() if k != "id"} == {"name": "n"}
    assert "reference" not in order["cart"]


async def test_null_callback_version_means_default(client: httpx.AsyncClient) -> None:
    """api §1.6: ``version: null`` is absent, so the default ``v0`` applies."""
    order_id = await create_order(
        client,
        {
            "hooks": [{"scope": "/cart", "invoke": "https://example.com/h", "version": None}],
            "notifications": [
                {"scope": "/state", "invoke": "https://example.com/n", "version": None}
            ],
        },
    )
    order = await get_order(client, order_id)
    assert order["hooks"][0]["version"] == "v0"
    assert order["notifications"][0]["version"] == "v0"


async def test_callback_limits_on_create(client: httpx.AsyncClient) -> None:
    hooks = [{"subscribeTo": "/cart", "invoke": "https://example.com/h"}] * 51
    assert_error(await client.post(ORDERS, json={"hooks": hooks}), 400, "limit-exceeded")
    order_id = await create_order(client, {"hooks": hooks[:50]})
    assert len((await get_order(client, order_id))["hooks"]) == 50
