"""The request conventions on v1 routes (v1.md §1.2, §1.3): headers and keys, idempotency keys
shared with v0 (§4.1 rule 5), bad input, routing (§5 cases 7 and 8)."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert

from kassa import idempotency
from kassa.db.engine import Database
from kassa.db.tables import idempotency as idempotency_table
from tests.conftest import Tenant, client_for, create_order, make_tenant
from tests.support.http_asserts import assert_error, field_paths
from tests.support.idempotency import _key, _replayed
from tests.support.v1 import V0, V1, create_v1, history, read

UNKNOWN = "o_" + "Q" * 26


# 7. Headers and keys --------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["x-channel", "x-merchant"])
async def test_missing_tenant_header_on_v1(app: FastAPI, tenant: Tenant, header: str) -> None:
    headers = {k: v for k, v in tenant.headers.items() if k != header}
    async with client_for(app, headers) as c:
        assert_error(await c.get(V1), 400, "missing-header")
        assert_error(await c.post(V1, json={}), 400, "missing-header")
        assert_error(await c.get(f"{V1}/{UNKNOWN}"), 400, "missing-header")
        assert_error(await c.put(f"{V1}/{UNKNOWN}/reference", json="r"), 400, "missing-header")
    async with client_for(app, {**tenant.headers, header: ""}) as c:
        assert_error(await c.post(f"{V1}/{UNKNOWN}/validate", json={}), 400, "missing-header")


async def test_bad_key_on_v1(app: FastAPI, tenant: Tenant) -> None:
    for authorization in ("Bearer not-a-key", "", None):
        headers = {**tenant.headers, "Authorization": authorization or ""}
        if authorization is None:
            del headers["Authorization"]
        async with client_for(app, headers) as c:
            assert_error(await c.get(V1), 401, "unauthorized")
            assert_error(await c.post(V1, json={}), 401, "unauthorized")
            assert_error(await c.get(f"{V1}/{UNKNOWN}/history"), 401, "unauthorized")


async def test_bare_key_on_v1(app: FastAPI, tenant: Tenant) -> None:
    async with client_for(app, {**tenant.headers, "Authorization": tenant.key}) as c:
        order_id = await create_v1(c)
        assert (await read(c, f"{V1}/{order_id}")).json()["id"] == order_id


async def test_key_of_another_channel_is_forbidden_on_v1(app: FastAPI, db: Database) -> None:
    tenant = await make_tenant(db, channel="1")
    async with client_for(app, {**tenant.headers, "x-channel": "2"}) as c:
        assert_error(await c.get(V1), 403, "forbidden")
        assert_error(await c.post(V1, json={}), 403, "forbidden")
        assert_error(await c.get(f"{V1}/{UNKNOWN}"), 403, "forbidden")


async def test_order_of_another_channel_is_not_found_on_v1(app: FastAPI, db: Database) -> None:
    tenant = await make_tenant(db, channel="1", channels=["1", "2"])
    async with client_for(app, tenant.headers) as one:
        v0_order = await create_order(one)
        v1_order = await create_v1(one)
    async with client_for(app, {**tenant.headers, "x-channel": "2"}) as two:
        for order_id in (v0_order, v1_order):
            for base in (V0, V1):
                assert_error(await two.get(f"{base}/{order_id}"), 404, "order-not-found")
                response = await two.put(f"{base}/{order_id}/reference", json="r")
                assert_error(response, 404, "order-not-found")
        listing = (await read(two, V1)).json()
        assert listing["pagination"]["totalSize"] == 0


# 8. Idempotency keys across paths -------------------------------------------------------------


async def test_idempotency_key_replays_on_v1_and_is_reused_on_v0(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(client)
    key = {"Idempotency-Key": _key()}
    first = await client.put(f"{V1}/{order_id}/reference", json="r-1", headers=key)
    assert first.status_code == 200, first.text
    assert not _replayed(first)
    entries = len(await history(client, V0, order_id))
    replay = await client.put(f"{V1}/{order_id}/reference", json="r-1", headers=key)
    assert replay.status_code == 200, replay.text
    assert _replayed(replay)
    assert replay.content == first.content == b""
    assert replay.headers["etag"] == first.headers["etag"] == '"2"'
    assert len(await history(client, V0, order_id)) == entries
    other_path = await client.put(f"{V0}/{order_id}/reference", json="r-1", headers=key)
    assert_error(other_path, 422, "idempotency-key-reuse")
    assert len(await history(client, V1, order_id)) == entries


async def test_replayed_create_keeps_the_location_of_its_path(client: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": _key()}
    first = await client.post(V1, json={"reference": "k"}, headers=key)
    assert first.status_code == 201, first.text
    replay = await client.post(V1, json={"reference": "k"}, headers=key)
    assert replay.status_code == 201, replay.text
    assert _replayed(replay)
    assert replay.json() == first.json()
    assert replay.headers["location"] == first.headers["location"]
    assert replay.headers["location"] == f"{V1}/{first.json()['id']}"
    v0 = await client.post(V0, json={"reference": "k"}, headers=key)
    assert_error(v0, 422, "idempotency-key-reuse")
    assert (await read(client, V0)).json()["pagination"]["totalSize"] == 1


async def test_v1_request_meets_a_v0_request_in_flight(
    client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    # docs/decisions.md (Idempotency): a different request under a used key is 422, whatever
    # its timing; the v0 and v1 routes are different requests (v1.md §4.1 rule 5)
    key = _key()
    now_ms = int(time.time() * 1000)
    marker = insert(idempotency_table).values(
        merchant=tenant.merchant,
        key=key,
        fingerprint=idempotency.fingerprint("POST", V0, tenant.channel, None, {}),
        state="in-flight",
        started_at=now_ms,
        expires_at=now_ms + 300_000,
    )
    await db.write(lambda conn: conn.execute(marker))
    response = await client.post(V0, json={}, headers={"Idempotency-Key": key})
    assert_error(response, 409, "idempotency-key-in-flight")
    response = await client.post(V1, json={}, headers={"Idempotency-Key": key})
    assert_error(response, 422, "idempotency-key-reuse")


# Bad input on v1 routes ----------------------------------------------------------------------


async def test_malformed_json_on_v1(client: httpx.AsyncClient) -> None:
    order_id = await create_v1(client)
    json_header = {"Content-Type": "application/json"}
    for url in (V1, f"{V1}/{order_id}/cart", f"{V1}/{order_id}/payments"):
        method = "PUT" if url.endswith("/cart") else "POST"
        response = await client.request(method, url, content=b'{"a": ', headers=json_header)
        assert_error(response, 400, "invalid-request")
    response = await client.post(V1, content=b"<order/>", headers={"Content-Type": "text/xml"})
    assert_error(response, 415, "unsupported-media-type")
    assert (await read(client, f"{V1}/{order_id}")).headers["etag"] == '"1"'


async def test_wrong_types_on_v1(client: httpx.AsyncClient) -> None:
    order_id = await create_v1(client)
    response = await client.put(f"{V1}/{order_id}/cart", json={"items": [{"quantity": "two"}]})
    body = assert_error(response, 400, "invalid-request")
    assert field_paths(body) == ["/items/0/quantity"]
    response = await client.put(f"{V1}/{order_id}/reference", json={"reference": "r"})
    assert_error(response, 400, "invalid-request")
    response = await client.patch(f"{V1}/{order_id}/attributes", json=["a"])
    assert_error(response, 400, "invalid-request")
    response = await client.post(f"{V1}/{order_id}/shippings", json={"vatRate": 0.25})
    assert "/total" in field_paths(assert_error(response, 400, "invalid-request"))
    response = await client.post(f"{V1}/{order_id}/payments", json={"amount": 1.001})
    assert_error(response, 400, "invalid-amount")
    assert (await read(client, f"{V1}/{order_id}")).headers["etag"] == '"1"'


async def test_unknown_enum_values_on_v1(client: httpx.AsyncClient) -> None:
    order_id = await create_v1(client)
    response = await client.put(f"{V1}/{order_id}/state", json={"currentStatus": "shipped"})
    assert field_paths(assert_error(response, 400, "invalid-request")) == ["/currentStatus"]
    response = await client.post(f"{V1}/{order_id}/payments", json={"state": "Paid"})
    assert field_paths(assert_error(response, 400, "invalid-request")) == ["/state"]
    response = await client.get(V1, params={"status": "shipped"})
    assert "?status" in field_paths(assert_error(response, 400, "invalid-request"))
    # enums are case-insensitive on v1 too, and stored canonical
    response = await client.put(f"{V1}/{order_id}/state", json={"currentStatus": "REMOVED"})
    assert response.status_code == 200, response.text
    order = (await read(client, f"{V0}/{order_id}")).json()
    assert order["state"]["currentStatus"] == "removed"


async def test_routing_on_v1(client: httpx.AsyncClient) -> None:
    order_id = await create_v1(client)
    assert_error(await client.get(f"{V1}/{order_id}/nothing"), 404, "route-not-found")
    response = await client.post(f"{V1}/{order_id}")
    assert_error(response, 405, "method-not-allowed")
    assert {m.strip() for m in response.headers["allow"].split(",")} == {"GET", "DELETE"}
    response = await client.get(f"{V1}/{order_id}/state")
    assert_error(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "PUT"
    response = await client.patch(f"{V1}/{order_id}/attributes/", json={"a": 1})
    assert response.status_code == 200, response.text
    assert (await read(client, f"{V1}/{order_id}/")).json()["attributes"] == {"a": 1}
