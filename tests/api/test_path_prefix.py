"""The path prefix (api §1.1): the API served only under it, the ops endpoints with and
without it, and idempotency fingerprints that ignore it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from kassa.app import create_app
from kassa.config import Settings
from kassa.db.engine import Database
from tests.conftest import ORDERS, Tenant, client_for
from tests.support.http_asserts import assert_error

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
