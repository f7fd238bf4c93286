"""Mount points (adapters §1.1, §1.4): the Order, events and Configuration APIs each below
their own prefix; norce_layout sets Norce's three at once; every prefix keeps the fast
dispatch, 404 / 405, ``/docs`` and ``/openapi.json``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from kassa.app import create_app
from kassa.config import Settings
from kassa.db.engine import Database
from tests.conftest import ORDERS, Tenant, client_for, make_tenant
from tests.support.http_asserts import assert_error

EVENTS = "/api/v1/events"
CONFIGURATION = "/api/v1/configuration/merchants"


@pytest.fixture
async def norce(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FastAPI]:
    monkeypatch.setenv("KASSA_NORCE_LAYOUT", "true")
    yield create_app(
        Settings.from_env(
            database_url=settings.database_url,
            database_pgbouncer=settings.database_pgbouncer,
            access_log=False,
        ),
        db=db,
    )


@pytest.fixture
async def tenant_client(norce: FastAPI, tenant: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(norce, tenant.headers) as client:
        yield client


async def test_norce_layout_serves_the_three_apis(
    tenant_client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await tenant_client.post("/checkout/order" + ORDERS, json={})
    assert created.status_code == 201, created.text
    assert created.headers["location"].startswith("/checkout/order" + ORDERS + "/")
    events = await tenant_client.get("/checkout/notification" + EVENTS)
    assert events.status_code == 200, events.text
    assert events.json()["pagination"]["offset"] == 0
    channels = await tenant_client.get(
        f"/checkout/configuration{CONFIGURATION}/{tenant.merchant}/channels"
    )
    assert channels.status_code == 200, channels.text
    assert channels.json() == []


@pytest.mark.parametrize(
    "path",
    [
        EVENTS,
        "/checkout/order" + EVENTS,
        "/checkout/configuration" + EVENTS,
        ORDERS,
        "/checkout/notification" + ORDERS,
        CONFIGURATION + "/m/channels",
        "/checkout/order" + CONFIGURATION + "/m/channels",
    ],
)
async def test_norce_layout_old_paths_are_gone(tenant_client: httpx.AsyncClient, path: str) -> None:
    assert_error(await tenant_client.get(path), 404, "route-not-found")


async def test_norce_layout_405_docs_and_document(tenant_client: httpx.AsyncClient) -> None:
    wrong = await tenant_client.delete("/checkout/notification" + EVENTS)
    assert_error(wrong, 405, "method-not-allowed")
    assert wrong.headers["allow"] == "GET"
    docs = await tenant_client.get("/checkout/order/docs")
    assert docs.status_code == 200, docs.text
    document = (await tenant_client.get("/checkout/order/openapi.json")).json()
    paths = set(document["paths"])
    assert "/checkout/order" + ORDERS in paths
    assert "/checkout/notification" + EVENTS in paths
    assert f"/checkout/configuration{CONFIGURATION}/{{merchant}}/channels" in paths
    assert "/checkout/configuration/openapi/v1/schemas/configuration.json" in paths
    assert not any(p.startswith("/api/") for p in paths)
    schema = await tenant_client.get(
        "/checkout/configuration/openapi/v1/schemas/configuration.json"
    )
    assert schema.status_code == 200, schema.text


async def test_events_prefix_moves_only_the_events_api(settings: Settings, db: Database) -> None:
    moved = create_app(
        Settings(
            database_url=settings.database_url,
            database_pgbouncer=settings.database_pgbouncer,
            events_path_prefix="/notify",
            access_log=False,
        ),
        db=db,
    )
    tenant = await make_tenant(db)
    async with client_for(moved, tenant.headers) as client:
        assert (await client.get("/notify" + EVENTS)).status_code == 200
        assert_error(await client.get(EVENTS), 404, "route-not-found")
        assert (await client.get(ORDERS)).status_code == 200
        channels = await client.get(f"{CONFIGURATION}/{tenant.merchant}/channels")
        assert channels.status_code == 200, channels.text
