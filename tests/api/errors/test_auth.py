"""Authentication and scoping (api §1.4): keys, the merchant and channel headers, and orders
of another tenant, unknown or deleted orders being not found."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from kassa.auth import keys
from kassa.db.engine import Database
from tests.conftest import ORDERS, Tenant, client_for, create_order, get_order, make_tenant
from tests.support.http_asserts import assert_error
from tests.support.http_errors import UNKNOWN_ID, _history_len, _without


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
