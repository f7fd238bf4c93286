"""Routing: unknown routes, wrong methods and trailing slashes; the request id
(api §1.2-1.3) echoed, recorded, replaced or generated."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ORDERS
from tests.support.http_asserts import REQUEST_ID, assert_error
from tests.support.http_errors import UNKNOWN_ID

# --- routing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/api/v0/checkout",
        "/api/v0/checkout/order",
        "/api/v2/checkout/orders",
        "/api/v1/checkout",
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
