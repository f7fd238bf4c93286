"""HTTP conventions of api §1: error bodies and codes, precedence (§1.9), auth and scoping
(§1.4), headers (§1.2-1.3), JSON and money input rules (§1.6-1.7), limits (§1.12), the path
prefix (§1.1) and the ops endpoints (op 39-43)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kassa.app import create_app
from kassa.auth import keys
from kassa.config import Settings
from kassa.db.engine import Database
from kassa.orders import service
from tests.conftest import ORDERS, Tenant, client_for, create_order, get_order, make_tenant
from tests.support.http_asserts import REQUEST_ID, assert_error, field_paths

MIB = 1024 * 1024
UNKNOWN_ID = "o_" + "Q" * 26


def _without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() != name.lower()}


async def _history_len(client: httpx.AsyncClient, order_id: str) -> int:
    response = await client.get(f"{ORDERS}/{order_id}/history")
    assert response.status_code == 200, response.text
    return len(response.json())


# --- malformed and mistyped bodies ------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b'{"reference": ', b"{'a': 1}", b'{"a": 1,}', b"nope", b'{"a": 1} {"b": 2}', b"\xff\xfe"],
)
async def test_malformed_json_is_invalid_request(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.post(ORDERS, content=raw, headers={"content-type": "application/json"})
    assert_error(response, 400, "invalid-request")


async def test_malformed_json_on_write_to_existing_order(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.patch(f"{ORDERS}/{order_id}/attributes", content=b'{"a": [1, 2}')
    assert_error(response, 400, "invalid-request")
    assert await _history_len(client, order_id) == 1


@pytest.mark.parametrize(
    ("body", "path"),
    [
        # string where a number is expected
        ({"cart": {"items": [{"quantity": "2"}]}}, "/cart/items/0/quantity"),
        (
            {"cart": {"items": [{"price": {"includingVat": "10"}}]}},
            "/cart/items/0/price/includingVat",
        ),
        # number where a string is expected
        ({"reference": 5}, "/reference"),
        ({"customer": {"billing": {"givenName": 1}}}, "/customer/billing/givenName"),
        # boolean where a number is expected
        ({"cart": {"items": [{"quantity": True}]}}, "/cart/items/0/quantity"),
        ({"cart": {"total": {"excludingVat": False}}}, "/cart/total/excludingVat"),
        # object / array where a string / object is expected
        ({"currency": {"code": "SEK"}}, "/currency"),
        ({"cart": []}, "/cart"),
    ],
)
async def test_wrong_json_type_names_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], path: str
) -> None:
    response = await client.post(ORDERS, json=body)
    error = assert_error(response, 400, "invalid-request")
    assert path in field_paths(error)


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"reference": "x" * 4097}, "/reference"),
        ({"cart": {"items": [{"name": "n" * 4097}]}}, "/cart/items/0/name"),
        ({"attributes": {"k" * 257: 1}}, "/attributes"),
        ({"attributes": {"k": "v" * 65537}}, "/attributes"),
        ({"consents": [{"checked": True}]}, "/consents/0/id"),
        ({"currency": "SEKK"}, "/currency"),
        ({"country": "S"}, "/country"),
    ],
)
async def test_field_rule_violations_are_invalid_request(
    client: httpx.AsyncClient, body: dict[str, Any], path: str
) -> None:
    response = await client.post(ORDERS, json=body)
    error = assert_error(response, 400, "invalid-request")
    assert any(p == path or p.startswith(path + "/") for p in field_paths(error)), error


async def test_string_limits_are_inclusive(client: httpx.AsyncClient) -> None:
    order_id = await create_order(
        client, {"reference": "x" * 4096, "attributes": {"k" * 256: "v" * 65536}}
    )
    order = await get_order(client, order_id)
    assert order["reference"] == "x" * 4096
    assert order["attributes"] == {"k" * 256: "v" * 65536}


async def test_missing_required_field_is_invalid_request(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"transitions": []})
    error = assert_error(response, 400, "invalid-request")
    assert "/currentStatus" in field_paths(error)


async def test_absent_body(client: httpx.AsyncClient) -> None:
    # create: an absent body creates an empty order (op 1); PUT reference needs one (op 17)
    response = await client.post(ORDERS)
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]
    order = await get_order(client, order_id)
    assert order["state"]["currentStatus"] == "checkout"
    response = await client.put(f"{ORDERS}/{order_id}/reference")
    assert_error(response, 400, "invalid-request")


async def test_wrong_json_type_creates_nothing(client: httpx.AsyncClient) -> None:
    response = await client.post(ORDERS, json={"cart": {"items": [{"quantity": "2"}]}})
    assert_error(response, 400, "invalid-request")
    listing = await client.get(ORDERS)
    assert listing.status_code == 200, listing.text
    assert listing.json()["pagination"]["totalSize"] == 0


@pytest.mark.parametrize("body", [{"reference": "x"}, ["x"], 5, True, None])
async def test_put_reference_needs_a_bare_json_string(client: httpx.AsyncClient, body: Any) -> None:
    order_id = await create_order(client, {"reference": "before"})
    response = await client.put(f"{ORDERS}/{order_id}/reference", json=body)
    error = assert_error(response, 400, "invalid-request")
    assert field_paths(error) == [""]
    assert (await get_order(client, order_id))["reference"] == "before"


async def test_put_reference_accepts_empty_string(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"reference": "before"})
    response = await client.put(f"{ORDERS}/{order_id}/reference", json="")
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert (await get_order(client, order_id))["reference"] == ""


@pytest.mark.parametrize("body", [["a"], "a", 1, None])
async def test_patch_attributes_needs_an_object(client: httpx.AsyncClient, body: Any) -> None:
    order_id = await create_order(client)
    response = await client.patch(f"{ORDERS}/{order_id}/attributes", json=body)
    error = assert_error(response, 400, "invalid-request")
    assert field_paths(error) == [""]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"customer": {"type": "alien"}}, "/customer/type"),
        ({"customer": {"billing": {"type": "robot"}}}, "/customer/billing/type"),
        ({"cart": {"items": [{"productType": "service"}]}}, "/cart/items/0/productType"),
        ({"cart": {"discounts": [{"type": "everything"}]}}, "/cart/discounts/0/type"),
    ],
)
async def test_unknown_enum_value_is_invalid_request(
    client: httpx.AsyncClient, body: dict[str, Any], path: str
) -> None:
    response = await client.post(ORDERS, json=body)
    error = assert_error(response, 400, "invalid-request")
    assert path in field_paths(error)


async def test_unknown_enum_value_in_state_change(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "shipped"})
    error = assert_error(response, 400, "invalid-request")
    assert "/currentStatus" in field_paths(error)
    assert (await get_order(client, order_id))["state"]["currentStatus"] == "checkout"


@pytest.mark.parametrize(
    "query",
    ["status=shipped", "status=checkout&status=nope", "order_by=price", "order_by_direction=up"],
)
async def test_unknown_enum_in_query_is_invalid_request(
    client: httpx.AsyncClient, query: str
) -> None:
    response = await client.get(f"{ORDERS}?{query}")
    error = assert_error(response, 400, "invalid-request")
    name = query.split("&")[-1].split("=")[0]
    assert field_paths(error) == [f"?{name}"]


async def test_enum_query_values_accepted_in_any_case(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    for query in ("status=CHECKOUT", "status=Checkout&order_by=CREATED&order_by_direction=ASC"):
        response = await client.get(f"{ORDERS}?{query}")
        assert response.status_code == 200, response.text
        assert [o["id"] for o in response.json()["data"]] == [order_id]
    response = await client.get(f"{ORDERS}?status=DECLINED")
    assert response.status_code == 200, response.text
    assert response.json()["data"] == []


async def test_enums_accepted_in_any_case_and_written_canonically(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(
        client,
        {
            "customer": {
                "type": "ORGANIZATION",
                "billing": {"type": "PERSON", "givenName": "Åsa"},
                "shipping": {"type": "Organization"},
            },
            "cart": {
                "items": [{"name": "card", "productType": "GIFTCARD"}],
                "discounts": [{"type": "Item"}],
            },
        },
    )
    order = await get_order(client, order_id)
    assert order["customer"]["type"] == "organization"
    assert order["customer"]["billing"] == {"type": "person", "givenName": "Åsa"}
    assert order["customer"]["shipping"] == {"type": "organization"}
    assert order["cart"]["items"][0]["productType"] == "giftCard"
    assert order["cart"]["discounts"][0]["type"] == "item"

    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "DECLINED"})
    assert response.status_code == 200, response.text
    state = (await get_order(client, order_id))["state"]
    assert state["currentStatus"] == "declined"
    assert [t["status"] for t in state["transitions"]] == ["checkout", "declined"]


# --- money ----------------------------------------------------------------------------------


ITEM_PRICE = "/cart/items/0/price"


def _item_money(field: str, number: str) -> bytes:
    """A create body with the number written verbatim at ``/cart/items/0/<field>``."""
    outer, inner = field.split("/")
    return f'{{"cart": {{"items": [{{"{outer}": {{"{inner}": {number}}}}}]}}}}'.encode()


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (_item_money("price/includingVat", "-1"), ITEM_PRICE + "/includingVat"),
        (_item_money("total/excludingVat", "-0.01"), "/cart/items/0/total/excludingVat"),
        (b'{"cart": {"total": {"includingVat": -5}}}', "/cart/total/includingVat"),
        (_item_money("price/includingVat", "1.0000001"), ITEM_PRICE + "/includingVat"),
        (_item_money("price/excludingVat", "0.1234567"), ITEM_PRICE + "/excludingVat"),
        (_item_money("price/includingVat", "1000000000000000"), ITEM_PRICE + "/includingVat"),
        (_item_money("price/includingVat", "1E15"), ITEM_PRICE + "/includingVat"),
    ],
)
async def test_bad_price_is_invalid_amount(
    client: httpx.AsyncClient, raw: bytes, path: str
) -> None:
    response = await client.post(ORDERS, content=raw)
    error = assert_error(response, 400, "invalid-amount")
    assert path in field_paths(error)


async def test_bad_price_on_put_cart_is_invalid_amount(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.put(
        f"{ORDERS}/{order_id}/cart",
        content=b'{"items": [{"name": "a", "price": {"includingVat": 2.0000005}}]}',
    )
    error = assert_error(response, 400, "invalid-amount")
    assert "/items/0/price/includingVat" in field_paths(error)
    assert await _history_len(client, order_id) == 1


async def test_price_digits_counted_after_canonicalisation(client: httpx.AsyncClient) -> None:
    # 1.1234560 has seven written digits but six after canonicalisation (§1.7)
    order_id = await create_order(
        client,
        None,
        content=b'{"cart": {"items": [{"name": "a", "price": {"includingVat": 1.1234560}}]}}',
    )
    order = await get_order(client, order_id)
    assert order["cart"]["items"][0]["price"] == {"includingVat": 1.123456}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"attributes": {"x": NaN}}',
        b'{"cart": {"items": [{"price": {"includingVat": NaN}}]}}',
        b'{"cart": {"items": [{"quantity": Infinity}]}}',
        b'{"attributes": {"x": -Infinity}}',
    ],
)
async def test_nan_and_infinity_are_invalid_request(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.post(ORDERS, content=raw)
    assert_error(response, 400, "invalid-request")


# --- limits ---------------------------------------------------------------------------------


def _nested(levels: int) -> bytes:
    """A create body whose deepest value sits ``levels`` containers deep (the body counts 1)."""
    inner = levels - 2  # the body object and the attributes object
    return b'{"attributes": {"deep": ' + b"[" * inner + b"]" * inner + b"}}"


async def test_nesting_of_64_is_accepted(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, None, content=_nested(64))
    value: Any = (await get_order(client, order_id))["attributes"]["deep"]
    depth = 2
    while isinstance(value, list):
        depth += 1
        value = value[0] if value else None
    assert depth == 64


async def test_nesting_deeper_than_64_is_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.post(ORDERS, content=_nested(65))
    assert_error(response, 400, "invalid-request")
    response = await client.post(ORDERS, content=b"[" * 5000 + b"]" * 5000)
    assert_error(response, 400, "invalid-request")


async def test_body_of_exactly_one_mib_is_accepted(client: httpx.AsyncClient) -> None:
    raw = b"{}" + b" " * (MIB - 2)
    assert len(raw) == MIB
    response = await client.post(ORDERS, content=raw)
    assert response.status_code == 201, response.text
    assert re.fullmatch(r"o_[A-Za-z]{26}", response.json()["id"])


async def test_body_over_one_mib_is_payload_too_large(client: httpx.AsyncClient) -> None:
    response = await client.post(ORDERS, content=b"{}" + b" " * (MIB - 1))
    assert_error(response, 413, "payload-too-large")
    listing = await client.get(ORDERS)
    assert listing.json()["pagination"]["totalSize"] == 0


async def test_chunked_body_over_one_mib_is_payload_too_large(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(client)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"big": "'
        for _ in range(17):
            yield b"x" * 65536
        yield b'"}'

    response = await client.patch(f"{ORDERS}/{order_id}/attributes", content=chunks())
    assert_error(response, 413, "payload-too-large")
    assert "attributes" not in await get_order(client, order_id)


# --- media types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
async def test_non_json_content_type_is_unsupported(
    client: httpx.AsyncClient, content_type: str
) -> None:
    response = await client.post(ORDERS, content=b"{}", headers={"content-type": content_type})
    assert_error(response, 415, "unsupported-media-type")


async def test_non_json_content_type_on_existing_order(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.put(
        f"{ORDERS}/{order_id}/reference", content=b'"r"', headers={"content-type": "text/plain"}
    )
    assert_error(response, 415, "unsupported-media-type")
    assert "reference" not in await get_order(client, order_id)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
        "application/vnd.kassa+json; charset=utf-8",
        None,
    ],
)
async def test_json_media_types_are_accepted(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post(ORDERS, content=b'{"reference": "r"}', headers=headers)
    assert response.status_code == 201, response.text
    order = await get_order(client, response.json()["id"])
    assert order["reference"] == "r"


# --- authentication and scoping ---------------------------------------------------------------


async def test_missing_authorization_is_unauthorized(app: FastAPI, tenant: Tenant) -> None:
    async with client_for(app, _without(tenant.headers, "Authorization")) as anonymous:
        for response in (
            await anonymous.get(ORDERS),
            await anonymous.post(ORDERS, json={}),
            await anonymous.get(f"{ORDERS}/{UNKNOWN_ID}"),
        ):
            assert_error(response, 401, "unauthorized")


@pytest.mark.parametrize("authorization", ["", "Bearer", "Bearer   ", "   "])
async def test_empty_authorization_is_unauthorized(
    app: FastAPI, tenant: Tenant, authorization: str
) -> None:
    headers = {**tenant.headers, "Authorization": authorization}
    async with client_for(app, headers) as c:
        assert_error(await c.get(ORDERS), 401, "unauthorized")


@pytest.mark.parametrize(
    "authorization", ["Bearer kassa_unknown", "kassa_unknown", "Basic {key}", "Bearer {key}x"]
)
async def test_unknown_key_is_unauthorized(
    app: FastAPI, tenant: Tenant, authorization: str
) -> None:
    headers = {**tenant.headers, "Authorization": authorization.format(key=tenant.key)}
    async with client_for(app, headers) as c:
        assert_error(await c.get(ORDERS), 401, "unauthorized")


async def test_revoked_key_is_unauthorized_on_the_next_request(
    client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    order_id = await create_order(client)
    assert await keys.revoke_key(db, tenant.key_name)
    assert_error(await client.get(f"{ORDERS}/{order_id}"), 401, "unauthorized")
    assert_error(await client.post(ORDERS, json={}), 401, "unauthorized")


@pytest.mark.parametrize(
    "authorization", ["Bearer {key}", "bearer {key}", "BEARER {key}", "{key}", "  Bearer   {key} "]
)
async def test_bearer_and_bare_key_both_work(
    app: FastAPI, tenant: Tenant, authorization: str
) -> None:
    headers = {**tenant.headers, "Authorization": authorization.format(key=tenant.key)}
    async with client_for(app, headers) as c:
        order_id = await create_order(c)
        assert (await get_order(c, order_id))["id"] == order_id


@pytest.mark.parametrize(
    ("header", "value"),
    [("x-merchant", None), ("x-merchant", ""), ("x-channel", None), ("x-channel", "")],
)
async def test_missing_or_empty_tenant_header(
    app: FastAPI, tenant: Tenant, header: str, value: str | None
) -> None:
    headers = _without(tenant.headers, header)
    if value is not None:
        headers[header] = value
    async with client_for(app, headers) as c:
        assert_error(await c.get(ORDERS), 400, "missing-header")
        assert_error(await c.post(ORDERS, json={}), 400, "missing-header")
        assert_error(await c.get(f"{ORDERS}/{UNKNOWN_ID}"), 400, "missing-header")


async def test_key_of_another_merchant_is_forbidden(app: FastAPI, db: Database) -> None:
    mine, other = await make_tenant(db), await make_tenant(db)
    headers = {**mine.headers, "x-merchant": other.merchant}
    async with client_for(app, headers) as c:
        assert_error(await c.get(ORDERS), 403, "forbidden")
        assert_error(await c.post(ORDERS, json={}), 403, "forbidden")


async def test_merchant_is_compared_case_sensitively(app: FastAPI, tenant: Tenant) -> None:
    headers = {**tenant.headers, "x-merchant": tenant.merchant.upper()}
    async with client_for(app, headers) as c:
        assert_error(await c.get(ORDERS), 403, "forbidden")


async def test_key_restricted_to_a_channel(app: FastAPI, db: Database) -> None:
    tenant = await make_tenant(db, channel="c1")
    async with client_for(app, {**tenant.headers, "x-channel": "c2"}) as c:
        assert_error(await c.get(ORDERS), 403, "forbidden")
        assert_error(await c.post(ORDERS, json={}), 403, "forbidden")
    async with client_for(app, {**tenant.headers, "x-channel": "C1"}) as c:
        assert_error(await c.get(ORDERS), 403, "forbidden")
    async with client_for(app, tenant.headers) as c:
        response = await c.get(ORDERS)
        assert response.status_code == 200, response.text


async def test_key_with_several_channels(app: FastAPI, db: Database) -> None:
    tenant = await make_tenant(db, channels=["c1", "c2"])
    for channel in ("c1", "c2"):
        async with client_for(app, {**tenant.headers, "x-channel": channel}) as c:
            await create_order(c)
    async with client_for(app, {**tenant.headers, "x-channel": "c3"}) as c:
        assert_error(await c.get(ORDERS), 403, "forbidden")


async def test_key_with_all_channels_works_on_any_channel(app: FastAPI, db: Database) -> None:
    tenant = await make_tenant(db, channels=[])
    created: dict[str, str] = {}
    for channel in ("c1", "c2", "any-other-channel"):
        async with client_for(app, {**tenant.headers, "x-channel": channel}) as c:
            created[channel] = await create_order(c)
            order = await get_order(c, created[channel])
            assert order["channel"] == channel
            listing = await c.get(ORDERS)
            assert listing.status_code == 200, listing.text
            assert [o["id"] for o in listing.json()["data"]] == [created[channel]]


async def _other_tenant_attempts(c: httpx.AsyncClient, order_id: str) -> list[httpx.Response]:
    base = f"{ORDERS}/{order_id}"
    return [
        await c.get(base),
        await c.get(f"{base}/history"),
        await c.patch(f"{base}/attributes", json={"stolen": True}),
        await c.put(f"{base}/reference", json="stolen"),
        await c.put(f"{base}/cart", json={"items": []}),
        await c.put(f"{base}/state", json={"currentStatus": "removed"}),
        await c.put(f"{base}/customer/billing", json={"givenName": "Eve"}),
        await c.post(f"{base}/consents", json={"id": "c", "checked": True}),
        await c.post(f"{base}/validate"),
        await c.delete(base),
        await c.delete(base, headers={"If-Match": '"1"'}),
    ]


async def _assert_untouched(owner: httpx.AsyncClient, order_id: str) -> None:
    response = await owner.get(f"{ORDERS}/{order_id}")
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"1"'
    order = response.json()
    assert "attributes" not in order and "reference" not in order
    assert order["state"]["currentStatus"] == "checkout"
    assert await _history_len(owner, order_id) == 1


async def test_order_of_another_merchant_is_not_found(
    app: FastAPI, db: Database, client: httpx.AsyncClient
) -> None:
    order_id = await create_order(client)
    stranger = await make_tenant(db)  # same channel name "c1", another merchant
    async with client_for(app, stranger.headers) as c:
        for response in await _other_tenant_attempts(c, order_id):
            body = assert_error(response, 404, "order-not-found")
            assert order_id in body["message"]
        listing = await c.get(ORDERS)
        assert listing.json()["pagination"]["totalSize"] == 0
    await _assert_untouched(client, order_id)


async def test_order_of_another_channel_is_not_found(
    app: FastAPI, db: Database, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    order_id = await create_order(client)
    key, _ = await keys.create_key(db, merchant=tenant.merchant, channels=None)
    headers = {"Authorization": key, "x-merchant": tenant.merchant, "x-channel": "c2"}
    async with client_for(app, headers) as c:
        for response in await _other_tenant_attempts(c, order_id):
            assert_error(response, 404, "order-not-found")
        listing = await c.get(ORDERS)
        assert listing.json()["pagination"]["totalSize"] == 0
    await _assert_untouched(client, order_id)


@pytest.mark.parametrize(
    "order_id", [UNKNOWN_ID, "o_short", "not-an-id", "p_" + "A" * 26, "o_" + "1" * 26, "%20"]
)
async def test_unknown_or_malformed_order_id_is_not_found(
    client: httpx.AsyncClient, order_id: str
) -> None:
    base = f"{ORDERS}/{order_id}"
    for response in (
        await client.get(base),
        await client.get(f"{base}/history"),
        await client.patch(f"{base}/attributes", json={"a": 1}),
        await client.put(f"{base}/reference", json="r"),
        await client.delete(base),
    ):
        assert_error(response, 404, "order-not-found")


async def test_deleted_order_is_not_found(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.delete(f"{ORDERS}/{order_id}")
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_error(await client.get(f"{ORDERS}/{order_id}"), 404, "order-not-found")
    assert_error(await client.get(f"{ORDERS}/{order_id}/history"), 404, "order-not-found")
    assert_error(await client.delete(f"{ORDERS}/{order_id}"), 404, "order-not-found")


# --- routing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/api/v0/checkout",
        "/api/v0/checkout/order",
        "/api/v1/checkout/orders",
        f"{ORDERS}/{UNKNOWN_ID}/nothing",
        f"{ORDERS}/{UNKNOWN_ID}/customer",
    ],
)
async def test_unknown_route(client: httpx.AsyncClient, path: str) -> None:
    assert_error(await client.get(path), 404, "route-not-found")
    assert_error(await client.post(path, json={}), 404, "route-not-found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", ORDERS, {"GET", "POST"}),
        ("DELETE", ORDERS, {"GET", "POST"}),
        ("PATCH", ORDERS, {"GET", "POST"}),
        ("POST", f"{ORDERS}/{UNKNOWN_ID}", {"GET", "DELETE"}),
        ("GET", f"{ORDERS}/{UNKNOWN_ID}/attributes", {"PATCH"}),
        ("POST", f"{ORDERS}/{UNKNOWN_ID}/state", {"PUT"}),
        ("DELETE", f"{ORDERS}/{UNKNOWN_ID}/history", {"GET"}),
        ("POST", "/health/live", {"GET"}),
    ],
)
async def test_wrong_method(
    client: httpx.AsyncClient, method: str, path: str, allowed: set[str]
) -> None:
    response = await client.request(method, path)
    assert_error(response, 405, "method-not-allowed")
    methods = {m.strip() for m in response.headers["allow"].split(",")}
    assert allowed <= methods <= allowed | {"HEAD", "OPTIONS"}, methods


async def test_trailing_slash_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(ORDERS + "/", json={"reference": "slash"})
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]
    assert response.headers["location"] == f"{ORDERS}/{order_id}"
    response = await client.get(f"{ORDERS}/{order_id}/")
    assert response.status_code == 200, response.text
    assert response.json()["reference"] == "slash"
    response = await client.patch(f"{ORDERS}/{order_id}/attributes/", json={"a": 1})
    assert response.status_code == 200, response.text
    response = await client.get(ORDERS + "/")
    assert response.status_code == 200, response.text
    assert response.json()["pagination"]["totalSize"] == 1
    response = await client.get("/health/live/")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}


# --- request id -----------------------------------------------------------------------------


@pytest.mark.parametrize("request_id", ["abc", "A.b_c-9", "x" * 128])
async def test_valid_request_id_is_echoed(client: httpx.AsyncClient, request_id: str) -> None:
    response = await client.get(ORDERS, headers={"x-request-id": request_id})
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == request_id
    error = await client.get(f"{ORDERS}/{UNKNOWN_ID}", headers={"x-request-id": request_id})
    assert assert_error(error, 404, "order-not-found")["requestId"] == request_id


async def test_valid_request_id_recorded_in_history(client: httpx.AsyncClient) -> None:
    response = await client.post(ORDERS, json={}, headers={"x-request-id": "req-create-1"})
    assert response.status_code == 201, response.text
    assert response.headers["x-request-id"] == "req-create-1"
    history = await client.get(f"{ORDERS}/{response.json()['id']}/history")
    assert history.json()[0]["requestId"] == "req-create-1"


@pytest.mark.parametrize("request_id", ["has space", "x" * 129, "semi;colon", "slash/id"])
async def test_invalid_request_id_is_replaced(client: httpx.AsyncClient, request_id: str) -> None:
    response = await client.get(f"{ORDERS}/{UNKNOWN_ID}", headers={"x-request-id": request_id})
    body = assert_error(response, 404, "order-not-found")
    assert body["requestId"] != request_id
    assert REQUEST_ID.match(response.headers["x-request-id"])


async def test_request_id_generated_when_absent(client: httpx.AsyncClient) -> None:
    first = await client.get(ORDERS)
    second = await client.get(ORDERS)
    assert first.status_code == second.status_code == 200
    ids = {first.headers["x-request-id"], second.headers["x-request-id"]}
    assert len(ids) == 2
    assert all(REQUEST_ID.match(i) for i in ids)
    unauthenticated = await client.get("/health/live")
    assert REQUEST_ID.match(unauthenticated.headers["x-request-id"])


# --- precedence (§1.9) ----------------------------------------------------------------------


async def test_route_not_found_beats_unauthorized(app: FastAPI) -> None:
    async with client_for(app) as anonymous:
        assert_error(await anonymous.get("/api/v0/nothing"), 404, "route-not-found")
        assert_error(await anonymous.get(f"{ORDERS}/x/y/z"), 404, "route-not-found")


async def test_method_not_allowed_beats_unauthorized_and_payload_too_large(app: FastAPI) -> None:
    async with client_for(app) as anonymous:
        response = await anonymous.put(ORDERS, content=b" " * (MIB + 10))
        assert_error(response, 405, "method-not-allowed")


async def test_payload_too_large_beats_unauthorized(app: FastAPI) -> None:
    async with client_for(app) as anonymous:
        response = await anonymous.post(ORDERS, content=b"[" + b" " * MIB + b"]")
        assert_error(response, 413, "payload-too-large")


async def test_unauthorized_beats_missing_header(app: FastAPI) -> None:
    async with client_for(app) as anonymous:
        assert_error(await anonymous.get(ORDERS), 401, "unauthorized")
    async with client_for(app, {"Authorization": "Bearer nope"}) as unknown:
        assert_error(await unknown.get(ORDERS), 401, "unauthorized")


async def test_missing_header_beats_forbidden(app: FastAPI, db: Database) -> None:
    mine, other = await make_tenant(db), await make_tenant(db)
    headers = {"Authorization": f"Bearer {mine.key}", "x-merchant": other.merchant}
    async with client_for(app, headers) as c:
        assert_error(await c.get(ORDERS), 400, "missing-header")


async def test_forbidden_beats_media_type_and_malformed_json(app: FastAPI, db: Database) -> None:
    mine, other = await make_tenant(db), await make_tenant(db)
    async with client_for(app, {**mine.headers, "x-merchant": other.merchant}) as c:
        response = await c.post(ORDERS, content=b"{}", headers={"content-type": "text/plain"})
        assert_error(response, 403, "forbidden")
        assert_error(await c.post(ORDERS, content=b"{oops"), 403, "forbidden")


async def test_unsupported_media_type_beats_body_schema(client: httpx.AsyncClient) -> None:
    response = await client.post(
        ORDERS, content=b'{"reference": 5}', headers={"content-type": "text/plain"}
    )
    assert_error(response, 415, "unsupported-media-type")


async def test_body_schema_beats_order_not_found(client: httpx.AsyncClient) -> None:
    response = await client.patch(f"{ORDERS}/{UNKNOWN_ID}/attributes", json=[1])
    assert_error(response, 400, "invalid-request")
    response = await client.put(
        f"{ORDERS}/{UNKNOWN_ID}/cart", json={"items": [{"price": {"includingVat": -1}}]}
    )
    assert_error(response, 400, "invalid-amount")


async def test_order_not_found_beats_if_match(client: httpx.AsyncClient) -> None:
    response = await client.patch(
        f"{ORDERS}/{UNKNOWN_ID}/attributes", json={"a": 1}, headers={"If-Match": "garbage"}
    )
    assert_error(response, 404, "order-not-found")
    response = await client.patch(
        f"{ORDERS}/{UNKNOWN_ID}/attributes", json={"a": 1}, headers={"If-Match": '"99"'}
    )
    assert_error(response, 404, "order-not-found")


async def test_precondition_failed_beats_invalid_state_transition(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(client)
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "declined"})
    assert response.status_code == 200, response.text
    state_url = f"{ORDERS}/{order_id}/state"
    response = await client.put(
        state_url, json={"currentStatus": "checkout"}, headers={"If-Match": '"1"'}
    )
    assert assert_error(response, 412, "precondition-failed")["currentETag"] == '"2"'
    response = await client.put(
        state_url, json={"currentStatus": "checkout"}, headers={"If-Match": '"2"'}
    )
    body = assert_error(response, 409, "invalid-state-transition")
    assert (body["from"], body["to"]) == ("declined", "checkout")


async def test_order_not_editable_after_removal(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "removed"})
    assert response.status_code == 200, response.text
    response = await client.patch(f"{ORDERS}/{order_id}/attributes", json={"a": 1})
    assert assert_error(response, 409, "order-not-editable")["state"] == "removed"


async def test_route_not_found_beats_payload_too_large(app: FastAPI) -> None:
    async with client_for(app) as anonymous:
        response = await anonymous.post("/api/v0/nothing", content=b" " * (MIB + 10))
        assert_error(response, 404, "route-not-found")


async def test_unauthorized_beats_media_type_and_malformed_json(app: FastAPI) -> None:
    async with client_for(app, {"Authorization": "Bearer nope"}) as unknown:
        response = await unknown.post(ORDERS, content=b"{}", headers={"content-type": "text/xml"})
        assert_error(response, 401, "unauthorized")
        assert_error(await unknown.post(ORDERS, content=b"{oops"), 401, "unauthorized")


async def test_missing_header_beats_media_type(app: FastAPI, tenant: Tenant) -> None:
    async with client_for(app, _without(tenant.headers, "x-channel")) as c:
        response = await c.post(ORDERS, content=b"{}", headers={"content-type": "text/plain"})
        assert_error(response, 400, "missing-header")


async def test_bad_idempotency_key_beats_body_schema_and_order_lookup(
    client: httpx.AsyncClient,
) -> None:
    bad = {"Idempotency-Key": "white space"}
    response = await client.post(ORDERS, json={"reference": 5}, headers=bad)
    error = assert_error(response, 400, "invalid-request")
    assert [p.lower() for p in field_paths(error)] == ["header:idempotency-key"]
    response = await client.put(f"{ORDERS}/{UNKNOWN_ID}/reference", json="r", headers=bad)
    error = assert_error(response, 400, "invalid-request")
    assert [p.lower() for p in field_paths(error)] == ["header:idempotency-key"]


async def test_body_schema_beats_order_not_editable(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "removed"})
    assert response.status_code == 200, response.text
    response = await client.put(f"{ORDERS}/{order_id}/reference", json={"not": "a string"})
    assert_error(response, 400, "invalid-request")
    response = await client.put(
        f"{ORDERS}/{order_id}/cart", json={"items": [{"total": {"includingVat": -1}}]}
    )
    assert_error(response, 400, "invalid-amount")


async def test_precondition_failed_beats_order_not_editable(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "removed"})
    assert response.status_code == 200, response.text
    url = f"{ORDERS}/{order_id}/attributes"
    response = await client.patch(url, json={"a": 1}, headers={"If-Match": '"1"'})
    assert assert_error(response, 412, "precondition-failed")["currentETag"] == '"2"'
    response = await client.patch(url, json={"a": 1}, headers={"If-Match": "nonsense"})
    assert_error(response, 400, "invalid-request")
    response = await client.patch(url, json={"a": 1}, headers={"If-Match": '"2"'})
    assert_error(response, 409, "order-not-editable")


async def test_unexpected_fault_is_internal_error_without_details(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id = await create_order(client)

    async def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret-internal-detail")

    monkeypatch.setattr(service, "read", boom)
    response = await client.get(f"{ORDERS}/{order_id}", headers={"x-request-id": "req-500"})
    body = assert_error(response, 500, "internal-error")
    assert body["requestId"] == "req-500"
    assert "secret-internal-detail" not in response.text
    assert "Traceback" not in response.text


# --- path prefix (§1.1) ----------------------------------------------------------------------

PREFIX = "/checkout/order"


@pytest.fixture
async def prefixed(
    settings: Settings, db: Database, tenant: Tenant
) -> AsyncIterator[httpx.AsyncClient]:
    prefixed_app = create_app(
        Settings(database_url=settings.database_url, path_prefix=PREFIX, access_log=False), db=db
    )
    async with client_for(prefixed_app, tenant.headers) as c:
        yield c


async def test_path_prefix_serves_the_api(prefixed: httpx.AsyncClient) -> None:
    response = await prefixed.post(PREFIX + ORDERS, json={"reference": "pre"})
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]
    assert response.headers["location"] == f"{PREFIX}{ORDERS}/{order_id}"
    assert response.headers["etag"] == '"1"'
    response = await prefixed.get(response.headers["location"])
    assert response.status_code == 200, response.text
    assert response.json()["reference"] == "pre"
    response = await prefixed.get(f"{PREFIX}{ORDERS}/{order_id}/history")
    assert response.status_code == 200, response.text
    assert [e["sequence"] for e in response.json()] == [1]
    response = await prefixed.get(f"{PREFIX}{ORDERS}/")
    assert response.status_code == 200, response.text
    assert [o["id"] for o in response.json()["data"]] == [order_id]


async def test_path_prefix_api_not_served_without_prefix(prefixed: httpx.AsyncClient) -> None:
    assert_error(await prefixed.get(ORDERS), 404, "route-not-found")
    assert_error(await prefixed.get(f"{PREFIX}/nope"), 404, "route-not-found")
    assert_error(await prefixed.put(PREFIX + ORDERS), 405, "method-not-allowed")


@pytest.mark.parametrize("base", ["", PREFIX])
async def test_path_prefix_ops_served_with_and_without_prefix(
    prefixed: httpx.AsyncClient, base: str
) -> None:
    anonymous = {"Authorization": "", "x-merchant": "", "x-channel": ""}
    live = await prefixed.get(base + "/health/live", headers=anonymous)
    assert live.status_code == 200, live.text
    assert live.json() == {"status": "ok"}
    ready = await prefixed.get(base + "/health/ready", headers=anonymous)
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "migrations": "ok"}}
    metrics = await prefixed.get(base + "/metrics", headers=anonymous)
    assert metrics.status_code == 200, metrics.text
    assert "kassa_http_requests_total" in metrics.text


async def test_path_prefix_openapi_and_docs(prefixed: httpx.AsyncClient) -> None:
    response = await prefixed.get(PREFIX + "/openapi.json")
    assert response.status_code == 200, response.text
    paths = response.json()["paths"]
    assert PREFIX + ORDERS in paths
    assert PREFIX + ORDERS + "/{order_id}" in paths
    assert ORDERS not in paths
    docs = await prefixed.get(PREFIX + "/docs")
    assert docs.status_code == 200, docs.text
    assert docs.headers["content-type"].startswith("text/html")
    assert PREFIX + "/openapi.json" in docs.text


async def test_path_prefix_idempotency_fingerprint_ignores_prefix(
    prefixed: httpx.AsyncClient, app: FastAPI, tenant: Tenant
) -> None:
    # The fingerprint uses the route path without the prefix (§1.10), so the same request
    # through a prefixed and an unprefixed deployment of one database is the same request.
    headers = {"Idempotency-Key": "prefix-key"}
    first = await prefixed.post(PREFIX + ORDERS, json={}, headers=headers)
    assert first.status_code == 201, first.text
    async with client_for(app, tenant.headers) as plain:
        again = await plain.post(ORDERS, json={}, headers=headers)
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"


# --- ops endpoints (op 39-43) -----------------------------------------------------------------


async def test_health_live(app: FastAPI) -> None:
    async with client_for(app) as anonymous:
        response = await anonymous.get("/health/live")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"status": "ok"}


async def test_health_ready(app: FastAPI) -> None:
    async with client_for(app) as anonymous:
        response = await anonymous.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "migrations": "ok"}}


# label values may contain braces (route templates), so the label set ends at the last "} "
async def test_health_ready_fails_without_migrations(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    database = Database(url)
    try:
        unmigrated = create_app(Settings(database_url=url, access_log=False), db=database)
        async with client_for(unmigrated) as anonymous:
            response = await anonymous.get("/health/ready")
            live = await anonymous.get("/health/live")
    finally:
        await database.dispose()
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"] == {"database": "ok", "migrations": "failed"}
    assert body["code"] == "service-unavailable"
    assert isinstance(body["message"], str) and body["message"]
    assert live.status_code == 200, live.text
    assert live.json() == {"status": "ok"}


async def test_health_ready_fails_while_shutting_down(settings: Settings, db: Database) -> None:
    stopping = create_app(settings, db=db)
    stopping.state.kassa.shutting_down = True
    async with client_for(stopping) as anonymous:
        response = await anonymous.get("/health/ready")
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["code"] == "service-unavailable"
    assert set(body["checks"]) == {"database", "migrations"}


_SAMPLE = re.compile(r"^kassa_http_requests_total\{(?P<labels>.*)\} (?P<value>\S+)$", re.M)


def _label_sets(text: str) -> list[dict[str, str]]:
    return [
        dict(re.findall(r'(\w+)="([^"]*)"', match.group("labels")))
        for match in _SAMPLE.finditer(text)
    ]


async def test_metrics_use_route_templates(app: FastAPI, client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    await get_order(client, order_id)
    response = await client.patch(f"{ORDERS}/{order_id}/attributes", json={"a": 1})
    assert response.status_code == 200, response.text
    assert_error(await client.get(f"{ORDERS}/{UNKNOWN_ID}"), 404, "order-not-found")
    async with client_for(app) as anonymous:
        metrics = await anonymous.get("/metrics")
    assert metrics.status_code == 200, metrics.text
    text = metrics.text
    labels = _label_sets(text)
    assert {"method": "GET", "route": f"{ORDERS}/{{order_id}}", "status": "200"} in labels
    assert {"method": "GET", "route": f"{ORDERS}/{{order_id}}", "status": "404"} in labels
    assert {"method": "POST", "route": ORDERS, "status": "201"} in labels
    assert {
        "method": "PATCH",
        "route": f"{ORDERS}/{{order_id}}/attributes",
        "status": "200",
    } in labels
    assert order_id not in text
    assert UNKNOWN_ID not in text
    for family in (
        "kassa_http_requests_total",
        "kassa_http_request_duration_seconds",
        "kassa_outbound_calls_total",
        "kassa_outbound_call_duration_seconds",
        "kassa_events_pending",
        "kassa_event_deliveries_total",
        "kassa_idempotent_replays_total",
        "kassa_write_conflicts_total",
    ):
        assert f"# TYPE {family} " in text, family


async def test_metrics_content_type(app: FastAPI) -> None:
    async with client_for(app) as anonymous:
        response = await anonymous.get("/metrics")
    assert response.status_code == 200, response.text
    assert "kassa_http_requests_total" in response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"


IMPLEMENTED_OPERATIONS = {
    "CreateCheckoutOrder",
    "GetCheckoutOrders",
    "GetCheckoutOrder",
    "DeleteCheckoutOrder",
    "PatchCheckoutOrderAttributes",
    "UpdateCheckoutOrderCart",
    "CreateCheckoutOrderConsent",
    "PatchCheckoutOrderConsents",
    "RemoveCheckoutOrderConsent",
    "PatchCheckoutOrderConsent",
    "UpdateCheckoutOrderCustomerBilling",
    "UpdateCheckoutOrderCustomerShipping",
    "UpdateCheckoutOrderReference",
    "UpdateCheckoutOrderState",
    "Validate",
    "GetCheckoutOrderHistory",
    "HealthLive",
    "HealthReady",
    "Metrics",
}


def _operation_ids(document: dict[str, Any]) -> list[str]:
    return [
        operation["operationId"]
        for path_item in document["paths"].values()
        for operation in path_item.values()
        if isinstance(operation, dict) and "operationId" in operation
    ]


async def test_openapi_document(app: FastAPI) -> None:
    async with client_for(app) as anonymous:
        response = await anonymous.get("/openapi.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert document["openapi"].startswith("3.1")
    operation_ids = _operation_ids(document)
    assert len(operation_ids) == len(set(operation_ids)), operation_ids
    assert set(operation_ids) >= IMPLEMENTED_OPERATIONS
    paths = document["paths"]
    assert set(paths[ORDERS]) >= {"get", "post"}
    assert paths[ORDERS]["post"]["operationId"] == "CreateCheckoutOrder"
    assert paths[f"{ORDERS}/{{order_id}}/state"]["put"]["operationId"] == (
        "UpdateCheckoutOrderState"
    )
    assert "BaseError" in document["components"]["schemas"]


async def test_openapi_names_its_own_ops_operations(app: FastAPI) -> None:
    # §2.0 rows 42 and 43: /openapi.json and /docs are operations OpenApi and Docs
    async with client_for(app) as anonymous:
        response = await anonymous.get("/openapi.json")
    assert response.status_code == 200, response.text
    assert {"OpenApi", "Docs"} <= set(_operation_ids(response.json()))


async def test_docs_page(app: FastAPI) -> None:
    async with client_for(app) as anonymous:
        response = await anonymous.get("/docs")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text.lower()
    assert "/openapi.json" in response.text
