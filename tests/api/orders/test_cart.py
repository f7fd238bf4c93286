"""Order resource over HTTP: create, get, delete, reference, attributes, cart, addresses, totals.

Covers api §2.1 operations 1, 3, 4, 5, 6, 11, 12, 17 and the wire rules they rely on (ids §1.5,
JSON §1.6, numbers §1.7, timestamps §1.8) plus semantics §3.4 (totals) and §3.6 (cart item ids).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kassa.db.engine import Database
from tests.conftest import ORDERS, Tenant, client_for, create_order, get_order, make_tenant

ORDER_ID = re.compile(r"^o_[A-Za-z]{26}$")
ITEM_ID = re.compile(r"^ci_[A-Za-z]{26}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
JSON = {"Content-Type": "application/json"}


def exact(response: httpx.Response) -> Any:
    """The response body with every fraction as an exact ``Decimal``."""
    return json.loads(response.text, parse_float=Decimal)


async def post_raw(client: httpx.AsyncClient, text: str) -> httpx.Response:
    return await client.post(ORDERS, content=text.encode(), headers=JSON)


async def history_len(client: httpx.AsyncClient, order_id: str) -> int:
    response = await client.get(f"{ORDERS}/{order_id}/history")
    assert response.status_code == 200, response.text
    return len(response.json())


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert body["requestId"] == response.headers["x-request-id"]
    return body


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


# Reference (operation 17) --------------------------------------------------------------------


async def test_put_reference_bare_string(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.put(f"{ORDERS}/{order_id}/reference", json="something-reference")
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert response.headers["etag"] == '"2"'
    order = await get_order(client, order_id)
    assert order["reference"] == "something-reference"
    assert order["lastModified"] >= order["created"]

    response = await client.put(f"{ORDERS}/{order_id}/reference", json="")
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["reference"] == ""

    # free text is stored exactly: no trimming, no case change
    response = await client.put(f"{ORDERS}/{order_id}/reference", json="  Mixed Case\t")
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["reference"] == "  Mixed Case\t"


@pytest.mark.parametrize("body", ['{"reference": "x"}', "12", "null", '["x"]', "true"])
async def test_put_reference_non_string_is_invalid_request(
    client: httpx.AsyncClient, body: str
) -> None:
    order_id = await create_order(client, {"reference": "old"})
    response = await client.put(
        f"{ORDERS}/{order_id}/reference", content=body.encode(), headers=JSON
    )
    assert_error(response, 400, "invalid-request")
    order = await get_order(client, order_id)
    assert order["reference"] == "old"
    assert (await client.get(f"{ORDERS}/{order_id}")).headers["etag"] == '"1"'


async def test_put_reference_same_value_is_noop(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"reference": "same"})
    before = await get_order(client, order_id)
    response = await client.put(f"{ORDERS}/{order_id}/reference", json="same")
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"1"'
    assert await get_order(client, order_id) == before
    assert await history_len(client, order_id) == 1


async def test_reference_and_attributes_editable_until_removed(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(client, {"cart": {"items": [{"name": "free"}]}})
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "completed"})
    assert response.status_code == 200, response.text
    response = await client.put(f"{ORDERS}/{order_id}/reference", json="late")
    assert response.status_code == 200, response.text
    response = await client.patch(f"{ORDERS}/{order_id}/attributes", json={"late": True})
    assert response.status_code == 200, response.text
    order = await get_order(client, order_id)
    assert order["reference"] == "late"
    assert order["attributes"] == {"late": True}

    removed_id = await create_order(client, {"reference": "r"})
    response = await client.put(f"{ORDERS}/{removed_id}/state", json={"currentStatus": "removed"})
    assert response.status_code == 200, response.text
    body = assert_error(
        await client.put(f"{ORDERS}/{removed_id}/reference", json="x"), 409, "order-not-editable"
    )
    assert body["state"] == "removed"
    body = assert_error(
        await client.patch(f"{ORDERS}/{removed_id}/attributes", json={"a": 1}),
        409,
        "order-not-editable",
    )
    assert body["state"] == "removed"
    order = await get_order(client, removed_id)
    assert order["reference"] == "r"
    assert "attributes" not in order


# Attributes (operation 5) and JSON round-trips ----------------------------------------------


async def test_patch_attributes_shallow_merge(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"attributes": {"keep": 1, "replace": {"deep": 1}}})
    response = await client.patch(
        f"{ORDERS}/{order_id}/attributes",
        json={"replace": {"other": 2}, "new": None, "list": [1, "två", None]},
    )
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert response.headers["etag"] == '"2"'
    order = await get_order(client, order_id)
    assert order["attributes"] == {
        "keep": 1,
        "replace": {"other": 2},
        "new": None,
        "list": [1, "två", None],
    }
    # null is a value, not a deletion; absent keys stay
    response = await client.patch(f"{ORDERS}/{order_id}/attributes", json={"keep": None})
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["attributes"]["keep"] is None


async def test_patch_attributes_creates_attributes(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.patch(f"{ORDERS}/{order_id}/attributes", json={"erpId": "E-1"})
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["attributes"] == {"erpId": "E-1"}


@pytest.mark.parametrize("body", ["[1]", '"text"', "3", "null"])
async def test_patch_attributes_non_object_is_invalid_request(
    client: httpx.AsyncClient, body: str
) -> None:
    order_id = await create_order(client, {"attributes": {"a": 1}})
    response = await client.patch(
        f"{ORDERS}/{order_id}/attributes", content=body.encode(), headers=JSON
    )
    assert_error(response, 400, "invalid-request")
    assert (await get_order(client, order_id))["attributes"] == {"a": 1}


async def test_patch_attributes_same_values_is_noop(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"attributes": {"price": 1.5, "flag": True}})
    response = await client.patch(
        f"{ORDERS}/{order_id}/attributes",
        content=b'{"price": 1.50, "flag": true}',
        headers=JSON,
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"1"'
    assert await history_len(client, order_id) == 1


async def test_attribute_true_and_one_are_different_values(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"attributes": {"x": 1}})
    response = await client.patch(f"{ORDERS}/{order_id}/attributes", json={"x": True})
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    assert (await get_order(client, order_id))["attributes"]["x"] is True


async def test_unicode_and_attributes_round_trip(client: httpx.AsyncClient) -> None:
    attributes = {
        "nationalIdentificationNumber": None,
        "värde": "värde ✓ 日本語 🎉",
        "nested": {"a": [1, {"b": None}, [], {}], "empty": ""},
        "bool": False,
        "big": 12345678901234567890,
        "property1": None,
        "escapes": 'quote " back \\ tab \t nl \n',
    }
    order_id = await create_order(
        client,
        {
            "reference": "réf-ÅÄÖ",
            "cart": {"reference": "korg-ü", "items": [{"name": "Tröja XL 👕"}]},
            "attributes": attributes,
        },
    )
    order = await get_order(client, order_id)
    assert order["attributes"] == attributes
    assert order["reference"] == "réf-ÅÄÖ"
    assert order["cart"]["reference"] == "korg-ü"
    assert order["cart"]["items"][0]["name"] == "Tröja XL 👕"
    response = await client.patch(f"{ORDERS}/{order_id}/attributes", json={"ny": "ÿ"})
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["attributes"] == {**attributes, "ny": "ÿ"}


async def test_nul_character_round_trips(client: httpx.AsyncClient) -> None:
    """U+0000 is a valid JSON string character; it is stored like any other (api §1.6)."""
    text = (
        '{"reference": "a\\u0000b", "cart": {"reference": "\\u0000",'
        ' "items": [{"name": "n\\u0000"}]},'
        ' "customer": {"billing": {"email": "x\\u0000@y", "givenName": "\\u0000"}},'
        ' "attributes": {"k\\u0000": "v\\u0000"}}'
    )
    response = await post_raw(client, text)
    assert response.status_code == 201, response.text
    order = await get_order(client, response.json()["id"])
    assert order["reference"] == "a\x00b"
    assert order["cart"]["reference"] == "\x00"
    assert order["cart"]["items"][0]["name"] == "n\x00"
    assert order["customer"]["billing"] == {"email": "x\x00@y", "givenName": "\x00"}
    assert order["attributes"] == {"k\x00": "v\x00"}
    response = await client.put(f"{ORDERS}/{order['id']}/reference", json="\x00")
    assert response.status_code == 200, response.text
    assert (await get_order(client, order["id"]))["reference"] == "\x00"


# Numbers (api §1.7) --------------------------------------------------------------------------


async def test_numbers_written_in_canonical_form(client: httpx.AsyncClient) -> None:
    text = (
        '{"cart": {"items": [{"name": "a", "quantity": 2.0, "vatRate": 0.250,'
        ' "price": {"includingVat": 1E+2, "excludingVat": -0},'
        ' "total": {"includingVat": 987.20, "excludingVat": 789.760}}]},'
        ' "attributes": {"n": 1.10, "e": 1e-7, "z": 0.000}}'
    )
    response = await post_raw(client, text)
    assert response.status_code == 201, response.text
    raw = await client.get(f"{ORDERS}/{response.json()['id']}")
    item = exact(raw)["cart"]["items"][0]
    assert item["quantity"] == 2
    assert item["vatRate"] == Decimal("0.25")
    assert item["price"] == {"includingVat": 100, "excludingVat": 0}
    assert item["total"] == {"includingVat": Decimal("987.2"), "excludingVat": Decimal("789.76")}
    for fragment in (
        '"quantity":2',
        '"vatRate":0.25',
        '"includingVat":100',
        '"excludingVat":0',
        '"includingVat":987.2',
        '"excludingVat":789.76',
        '"n":1.1',
        '"e":0.0000001',
        '"z":0',
    ):
        assert re.search(re.escape(fragment) + r"[,}\]]", raw.text), fragment
    for bad in (r"987\.20", r":2\.0", r"0\.250", r"[:\[,]-?\d+(\.\d+)?[eE]", r":-0"):
        assert not re.search(bad, raw.text), bad


async def test_decimal_sum_is_exact(client: httpx.AsyncClient) -> None:
    text = (
        '{"cart": {"items": ['
        '{"total": {"includingVat": 0.1, "excludingVat": 0.08}},'
        '{"total": {"includingVat": 0.2, "excludingVat": 0.16}}]}}'
    )
    response = await post_raw(client, text)
    assert response.status_code == 201, response.text
    got = await client.get(f"{ORDERS}/{response.json()['id']}")
    order = exact(got)
    assert order["cart"]["total"] == {
        "includingVat": Decimal("0.3"),
        "excludingVat": Decimal("0.24"),
    }
    assert order["total"] == {"includingVat": Decimal("0.3"), "excludingVat": Decimal("0.24")}
    assert '"total":{"includingVat":0.3,"excludingVat":0.24}' in got.text
    assert "0.30000000000000004" not in got.text


# Totals (semantics §3.4) ---------------------------------------------------------------------


async def test_totals_sum_top_level_items_only_and_never_price(
    client: httpx.AsyncClient,
) -> None:
    cart = {
        "items": [
            {"name": "a", "total": {"includingVat": 10, "excludingVat": 8}},
            {
                "name": "bundle",
                "productType": "Bundle",
                "total": {"includingVat": 2.5, "excludingVat": 2},
                "items": [{"name": "child", "total": {"includingVat": 100, "excludingVat": 80}}],
            },
            # no total: price x quantity is never computed
            {"name": "c", "quantity": 3, "price": {"includingVat": 7, "excludingVat": 5}},
            # only one component
            {"name": "d", "total": {"includingVat": 1}},
        ]
    }
    order_id = await create_order(client, {"cart": cart})
    order = await get_order(client, order_id)
    assert order["cart"]["total"] == {"includingVat": 13.5, "excludingVat": 10}
    assert order["total"] == {"includingVat": 13.5, "excludingVat": 10}
    assert order["cart"]["items"][1]["productType"] == "bundle"


async def test_client_cart_total_is_kept_and_partial_total_filled(
    client: httpx.AsyncClient,
) -> None:
    items = [{"total": {"includingVat": 10, "excludingVat": 8}}]
    order_id = await create_order(
        client, {"cart": {"items": items, "total": {"includingVat": 99, "excludingVat": 1}}}
    )
    order = await get_order(client, order_id)
    assert order["cart"]["total"] == {"includingVat": 99, "excludingVat": 1}
    assert order["total"] == {"includingVat": 99, "excludingVat": 1}

    response = await client.put(
        f"{ORDERS}/{order_id}/cart", json={"items": items, "total": {"includingVat": 50}}
    )
    assert response.status_code == 200, response.text
    order = await get_order(client, order_id)
    assert order["cart"]["total"] == {"includingVat": 50, "excludingVat": 8}
    assert order["total"] == {"includingVat": 50, "excludingVat": 8}

    # a cart without total is computed again from the items
    response = await client.put(f"{ORDERS}/{order_id}/cart", json={"items": items})
    assert response.status_code == 200, response.text
    order = await get_order(client, order_id)
    assert order["cart"]["total"] == {"includingVat": 10, "excludingVat": 8}
    assert order["total"] == {"includingVat": 10, "excludingVat": 8}


async def test_client_order_total_ignored(client: httpx.AsyncClient) -> None:
    order_id = await create_order(
        client,
        {
            "cart": {"items": [{"total": {"includingVat": 4, "excludingVat": 3}}]},
            "total": {"includingVat": 1000, "excludingVat": 1000},
        },
    )
    assert (await get_order(client, order_id))["total"] == {"includingVat": 4, "excludingVat": 3}


# Cart (operation 6) and item ids (semantics §3.6) --------------------------------------------


async def test_item_ids_assigned_kept_and_stable(client: httpx.AsyncClient) -> None:
    cart = {
        "items": [
            {"name": "server-id"},
            {"id": "client-line-1", "name": "client-id"},
            {"name": "bundle", "items": [{"name": "child"}, {"id": "child-2", "name": "c2"}]},
        ]
    }
    order_id = await create_order(client, {"cart": cart})
    order = await get_order(client, order_id)
    items = order["cart"]["items"]
    assert ITEM_ID.match(items[0]["id"])
    assert items[1]["id"] == "client-line-1"
    assert ITEM_ID.match(items[2]["id"])
    assert ITEM_ID.match(items[2]["items"][0]["id"])
    assert items[2]["items"][1]["id"] == "child-2"
    generated = {items[0]["id"], items[2]["id"], items[2]["items"][0]["id"]}
    assert len(generated) == 3

    # the documented client flow: GET, change a quantity, PUT the cart back
    items[0]["quantity"] = 5
    response = await client.put(f"{ORDERS}/{order_id}/cart", json=order["cart"])
    assert response.status_code == 200, response.text
    assert response.content == b""
    after = await get_order(client, order_id)
    assert after["cart"]["items"] == items
    assert after["cart"]["items"][0]["quantity"] == 5

    # items sent without ids get fresh ids, never the old ones
    response = await client.put(f"{ORDERS}/{order_id}/cart", json={"items": [{"name": "n"}]})
    assert response.status_code == 200, response.text
    new_items = (await get_order(client, order_id))["cart"]["items"]
    assert ITEM_ID.match(new_items[0]["id"])
    assert new_items[0]["id"] not in generated


@pytest.mark.parametrize(
    "items",
    [
        [{"id": "x"}, {"id": "x"}],
        [{"id": "x", "items": [{"id": "x"}]}],
        [{"id": "a", "items": [{"id": "b"}]}, {"id": "b"}],
    ],
)
async def test_duplicate_item_ids_refused(
    client: httpx.AsyncClient, items: list[dict[str, Any]]
) -> None:
    assert_error(await client.post(ORDERS, json={"cart": {"items": items}}), 400, "invalid-request")
    order_id = await create_order(client, {"cart": {"items": [{"id": "keep"}]}})
    response = await client.put(f"{ORDERS}/{order_id}/cart", json={"items": items})
    assert_error(response, 400, "invalid-request")
    assert [i["id"] for i in (await get_order(client, order_id))["cart"]["items"]] == ["keep"]


@pytest.mark.parametrize("item_id", ["", "x" * 129, 7])
async def test_bad_item_id_refused(client: httpx.AsyncClient, item_id: Any) -> None:
    body = {"cart": {"items": [{"id": item_id}]}}
    error = assert_error(await client.post(ORDERS, json=body), 400, "invalid-request")
    assert error["errors"][0]["path"] == "/cart/items/0/id"


async def test_item_id_of_128_characters_kept(client: httpx.AsyncClient) -> None:
    item_id = "ö" * 128
    order_id = await create_order(client, {"cart": {"items": [{"id": item_id}]}})
    assert (await get_order(client, order_id))["cart"]["items"][0]["id"] == item_id


async def test_put_cart_replaces_whole_cart(client: httpx.AsyncClient) -> None:
    order_id = await create_order(
        client,
        {
            "cart": {
                "reference": "basket-1",
                "attributes": {"a": 1},
                "discounts": [{"type": "item", "value": {"includingVat": 1}}],
                "items": [{"name": "old", "total": {"includingVat": 5, "excludingVat": 4}}],
            }
        },
    )
    response = await client.put(
        f"{ORDERS}/{order_id}/cart",
        json={
            "items": [
                {
                    "name": "new",
                    "sku": "A000123",
                    "unit": "st",
                    "logistics": {"weight": 100, "tags": ["bulky"]},
                    "discounts": [{"type": "Shipping", "code": "FREE"}],
                    "total": {"includingVat": 7, "excludingVat": 6},
                }
            ]
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    cart = (await get_order(client, order_id))["cart"]
    assert "reference" not in cart
    assert "attributes" not in cart
    assert "discounts" not in cart
    assert [i["name"] for i in cart["items"]] == ["new"]
    item = cart["items"][0]
    assert item["logistics"] == {"weight": 100, "tags": ["bulky"]}
    assert item["discounts"] == [{"type": "shipping", "code": "FREE"}]
    assert cart["total"] == {"includingVat": 7, "excludingVat": 6}
    assert (await get_order(client, order_id))["total"] == {"includingVat": 7, "excludingVat": 6}


async def test_put_empty_cart(client: httpx.AsyncClient) -> None:
    order_id = await create_order(
        client, {"cart": {"items": [{"total": {"includingVat": 5, "excludingVat": 4}}]}}
    )
    response = await client.put(f"{ORDERS}/{order_id}/cart", json={})
    assert response.status_code == 200, response.text
    order = await get_order(client, order_id)
    assert order["cart"] == {"items": [], "total": {"includingVat": 0, "excludingVat": 0}}
    assert order["total"] == {"includingVat": 0, "excludingVat": 0}


async def test_put_cart_with_same_ids_is_noop(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"cart": {"items": [{"id": "l1", "quantity": 1}]}})
    before = await get_order(client, order_id)
    response = await client.put(f"{ORDERS}/{order_id}/cart", json=before["cart"])
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"1"'
    assert await get_order(client, order_id) == before
    assert await history_len(client, order_id) == 1


async def test_put_cart_invalid_bodies(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    url = f"{ORDERS}/{order_id}/cart"
    assert_error(await client.put(url), 400, "invalid-request")
    assert_error(await client.put(url, json=[]), 400, "invalid-request")
    error = assert_error(
        await client.put(url, json={"items": [{"quantity": "2"}]}), 400, "invalid-request"
    )
    assert error["errors"][0]["path"] == "/items/0/quantity"
    response = await client.put(
        url, content=b'{"items": [{"price": {"includingVat": -0.01}}]}', headers=JSON
    )
    error = assert_error(response, 400, "invalid-amount")
    assert error["errors"][0]["path"] == "/items/0/price/includingVat"
    assert (await client.get(f"{ORDERS}/{order_id}")).headers["etag"] == '"1"'


async def test_cart_and_addresses_locked_outside_checkout(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"cart": {"items": [{"name": "free"}]}})
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "processing"})
    assert response.status_code == 200, response.text
    for path, body in (
        ("cart", {"items": []}),
        ("customer/billing", {"givenName": "X"}),
        ("customer/shipping", {"givenName": "Y"}),
    ):
        error = assert_error(
            await client.put(f"{ORDERS}/{order_id}/{path}", json=body), 409, "order-not-editable"
        )
        assert error["state"] == "processing"
    order = await get_order(client, order_id)
    assert [i["name"] for i in order["cart"]["items"]] == ["free"]
    assert "customer" not in order
    # back to checkout, the cart may change again
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "checkout"})
    assert response.status_code == 200, response.text
    response = await client.put(f"{ORDERS}/{order_id}/cart", json={"items": []})
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["cart"]["items"] == []


# Customer addresses (operations 11 and 12) ---------------------------------------------------


@pytest.mark.parametrize("kind", ["billing", "shipping"])
async def test_put_address_replaces_only_that_address(client: httpx.AsyncClient, kind: str) -> None:
    other = "shipping" if kind == "billing" else "billing"
    order_id = await create_order(
        client,
        {
            "customer": {
                "type": "organization",
                "attributes": {"crm": "c-1"},
                "billing": {"givenName": "Old", "email": "old@example.com"},
                "shipping": {"givenName": "Old", "city": "Luleå"},
            }
        },
    )
    response = await client.put(
        f"{ORDERS}/{order_id}/customer/{kind}",
        json={
            "type": "Organization",
            "organizationName": "Firma AB",
            "country": "se",
            "phone": "070-123",
            "unknown": "dropped",
        },
    )
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert response.headers["etag"] == '"2"'
    customer = (await get_order(client, order_id))["customer"]
    assert customer[kind] == {
        "type": "organization",
        "organizationName": "Firma AB",
        "country": "se",
        "phone": "070-123",
    }
    assert customer["type"] == "organization"
    assert customer["attributes"] == {"crm": "c-1"}
    assert customer[other]["givenName"] == "Old"


@pytest.mark.parametrize("kind", ["billing", "shipping"])
async def test_put_address_creates_customer(client: httpx.AsyncClient, kind: str) -> None:
    order_id = await create_order(client)
    response = await client.put(
        f"{ORDERS}/{order_id}/customer/{kind}", json={"type": "person", "givenName": "Åsa"}
    )
    assert response.status_code == 200, response.text
    order = await get_order(client, order_id)
    assert order["customer"] == {kind: {"type": "person", "givenName": "Åsa"}}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"country": "SWE"}, "invalid-request"),
        ({"type": "alien"}, "invalid-request"),
        ({"email": 5}, "invalid-request"),
        ({"attributes": "x"}, "invalid-request"),
        ("text", "invalid-request"),
    ],
)
async def test_put_address_invalid(client: httpx.AsyncClient, body: Any, code: str) -> None:
    order_id = await create_order(client)
    response = await client.put(f"{ORDERS}/{order_id}/customer/billing", json=body)
    assert_error(response, 400, code)
    assert "customer" not in await get_order(client, order_id)


async def test_string_longer_than_4096_refused(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.put(f"{ORDERS}/{order_id}/reference", json="x" * 4097)
    assert_error(response, 400, "invalid-request")
    response = await client.put(f"{ORDERS}/{order_id}/reference", json="x" * 4096)
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["reference"] == "x" * 4096


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


async def test_item_enums_written_canonically(client: httpx.AsyncClient) -> None:
    order_id = await create_order(
        client,
        {
            "cart": {
                "items": [
                    {"productType": "GIFTCARD"},
                    {"productType": "Digital"},
                    {"productType": "physical", "discounts": [{"type": "ITEM"}]},
                ],
                "discounts": [{"type": "Shipping"}],
            }
        },
    )
    cart = (await get_order(client, order_id))["cart"]
    assert [i["productType"] for i in cart["items"]] == ["giftCard", "digital", "physical"]
    assert cart["items"][2]["discounts"] == [{"type": "item"}]
    assert cart["discounts"] == [{"type": "shipping"}]


async def test_price_precision_after_canonical_form(client: httpx.AsyncClient) -> None:
    text = (
        '{"cart": {"items": [{"total": {"includingVat": 1.0000000,'
        ' "excludingVat": 999999999999999.999999}}]}}'
    )
    response = await post_raw(client, text)
    assert response.status_code == 201, response.text
    got = await client.get(f"{ORDERS}/{response.json()['id']}")
    assert exact(got)["cart"]["items"][0]["total"] == {
        "includingVat": 1,
        "excludingVat": Decimal("999999999999999.999999"),
    }
    assert '"excludingVat":999999999999999.999999' in got.text


async def test_attribute_size_limits(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    url = f"{ORDERS}/{order_id}/attributes"
    long_value = "v" * 65536
    response = await client.patch(url, json={"k" * 256: long_value})
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["attributes"] == {"k" * 256: long_value}
    assert_error(await client.patch(url, json={"k" * 257: 1}), 400, "invalid-request")
    assert_error(await client.patch(url, json={"a": "v" * 65537}), 400, "invalid-request")
    assert_error(
        await client.patch(url, json={"a": {"deep": ["v" * 65537]}}), 400, "invalid-request"
    )
    assert (await client.get(f"{ORDERS}/{order_id}")).headers["etag"] == '"2"'


async def test_cart_item_limit_counts_bundle_children(client: httpx.AsyncClient) -> None:
    # 500 bundles with one child each = 1,000 items: allowed
    items: list[dict[str, Any]] = [{"items": [{}]} for _ in range(500)]
    order_id = await create_order(client, {"cart": {"items": items}})
    assert len((await get_order(client, order_id))["cart"]["items"]) == 500
    too_many = [*items, {}]
    error = assert_error(
        await client.post(ORDERS, json={"cart": {"items": too_many}}), 400, "limit-exceeded"
    )
    assert isinstance(error["errors"], list)
    response = await client.put(f"{ORDERS}/{order_id}/cart", json={"items": too_many})
    assert_error(response, 400, "limit-exceeded")
    assert (await client.get(f"{ORDERS}/{order_id}")).headers["etag"] == '"1"'


async def test_callback_limits_on_create(client: httpx.AsyncClient) -> None:
    hooks = [{"subscribeTo": "/cart", "invoke": "https://example.com/h"}] * 51
    assert_error(await client.post(ORDERS, json={"hooks": hooks}), 400, "limit-exceeded")
    order_id = await create_order(client, {"hooks": hooks[:50]})
    assert len((await get_order(client, order_id))["hooks"]) == 50
