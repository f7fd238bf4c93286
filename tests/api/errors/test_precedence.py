"""Which error wins when several apply (api §1.9), and an unexpected fault answered as
internal-error without details."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kassa.db.engine import Database
from kassa.orders import service
from tests.conftest import ORDERS, Tenant, client_for, create_order, make_tenant
from tests.support.http_asserts import assert_error, field_paths
from tests.support.http_errors import MIB, UNKNOWN_ID, _without


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

    monkeypatch.setattr(service, "read_as_caller", boom)
    response = await client.get(f"{ORDERS}/{order_id}", headers={"x-request-id": "req-500"})
    body = assert_error(response, 500, "internal-error")
    assert body["requestId"] == "req-500"
    assert "secret-internal-detail" not in response.text
    assert "Traceback" not in response.text
