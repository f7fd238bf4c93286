"""The ops endpoints (op 39-43): health, metrics, the OpenAPI document and the docs page."""

from __future__ import annotations

import gc
import re
import signal
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from fastapi import FastAPI

from kassa.app import create_app
from kassa.config import Settings
from kassa.db.engine import Database
from tests.conftest import ORDERS, client_for, create_order, get_order
from tests.support.http_asserts import assert_error
from tests.support.http_errors import UNKNOWN_ID


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


async def test_health_ready_fails_once_the_server_is_told_to_stop(
    settings: Settings, db: Database
) -> None:
    # the server's own SIGTERM handler (uvicorn's, here a recorder) is still called
    app = create_app(settings, db=db)
    received: list[int] = []

    def server_handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = signal.signal(signal.SIGTERM, server_handler)
    try:
        async with app.router.lifespan_context(app), client_for(app) as anonymous:
            before = await anonymous.get("/health/ready")
            signal.raise_signal(signal.SIGTERM)
            draining = await anonymous.get("/health/ready")
            live = await anonymous.get("/health/live")
        assert signal.getsignal(signal.SIGTERM) is server_handler
    finally:
        signal.signal(signal.SIGTERM, previous)
        gc.unfreeze()  # the lifespan froze everything alive for a server's lifetime
    assert before.status_code == 200, before.text
    assert draining.status_code == 503, draining.text
    body = draining.json()
    assert body["status"] == "unavailable"
    assert body["code"] == "service-unavailable"
    assert body["message"] == "shutting down"
    assert body["checks"] == {"database": "ok", "migrations": "ok"}
    assert live.status_code == 200, live.text
    assert received == [signal.SIGTERM]


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
