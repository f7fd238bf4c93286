"""The events API (api ops 36-38, §3.32-3.34): filters, pagination, the event with its payload
and attempts, scoping to the key's merchant and channels, errors, idempotent retry."""

from __future__ import annotations

import decimal
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kassa.app import create_app
from kassa.auth import keys
from kassa.db.engine import Database
from tests.conftest import ORDERS, client_for, create_order, get_order
from tests.support.delivery_env import EVENTS, Env, delivery_env, settings_for
from tests.support.http_asserts import assert_error

EVENT_ID = re.compile(r"^ev_[A-Za-z]{26}$")
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
LIST_FIELDS = {
    "id",
    "merchant",
    "channel",
    "orderId",
    "orderVersion",
    "sequence",
    "notificationId",
    "scope",
    "invoke",
    "status",
    "created",
    "attemptCount",
    "lastAttemptAt",
    "lastStatusCode",
    "nextAttemptAt",
}
INVOKE = "http://127.0.0.1:9/n/{order_id}"


@pytest.fixture
async def env(db: Database, database_url: str) -> AsyncIterator[Env]:
    async with delivery_env(db, database_url, channels=["c1", "c2"]) as environment:
        yield environment


def note(**extra: Any) -> dict[str, Any]:
    return {"scope": "/reference", "invoke": INVOKE, **extra}


async def order_with_events(
    client: httpx.AsyncClient, notifications: list[dict[str, Any]], changes: int = 1, **kw: Any
) -> str:
    order_id = await create_order(client, {"notifications": notifications}, **kw)
    for n in range(changes):
        response = await client.put(f"{ORDERS}/{order_id}/reference", json=f"r{n}", **kw)
        assert response.status_code == 200, response.text
    return order_id


async def listing(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(EVENTS, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


async def test_list_shape_and_newest_first(env: Env) -> None:
    first = await order_with_events(env.client, [note(adapterId="erp", reference="w1")], 2)
    second = await order_with_events(env.client, [note(description="d")], 1)
    body = await listing(env.client)
    assert body["pagination"] == {"offset": 0, "limit": 10, "size": 3, "totalSize": 3}
    data = body["data"]
    assert [(e["orderId"], e["sequence"]) for e in data] == [(second, 1), (first, 2), (first, 1)]
    keys_in_order = [(e["created"], e["id"]) for e in data]
    assert keys_in_order == sorted(keys_in_order, reverse=True)
    order = await get_order(env.client, first)
    newest_of_first = data[1]
    assert set(newest_of_first) == LIST_FIELDS | {"adapterId", "reference"}
    assert EVENT_ID.match(newest_of_first["id"])
    assert newest_of_first["merchant"] == env.tenant.merchant
    assert newest_of_first["channel"] == "c1"
    assert newest_of_first["orderVersion"] == 3
    assert newest_of_first["notificationId"] == order["notifications"][0]["id"]
    assert newest_of_first["adapterId"] == "erp"
    assert newest_of_first["reference"] == "w1"
    assert newest_of_first["scope"] == "/reference"
    assert newest_of_first["invoke"] == f"http://127.0.0.1:9/n/{first}"
    assert newest_of_first["status"] == "pending"
    assert newest_of_first["created"] == order["lastModified"]
    assert newest_of_first["attemptCount"] == 0
    assert newest_of_first["lastAttemptAt"] is None
    assert newest_of_first["lastStatusCode"] is None
    assert STAMP.match(newest_of_first["nextAttemptAt"])
    assert data[0]["description"] == "d"
    assert "adapterId" not in data[0] and "reference" not in data[0]


async def test_filters(env: Env) -> None:
    a = await order_with_events(env.client, [note(adapterId="erp", reference="x")], 2)
    b = await order_with_events(env.client, [note(adapterId="wms", reference="y")], 1)
    c2 = {**env.tenant.headers, "x-channel": "c2"}
    c = await order_with_events(env.client, [note(adapterId="erp")], 1, headers=c2)

    async def orders_of(**params: Any) -> list[tuple[str, int]]:
        body = await listing(env.client, limit=100, **params)
        assert body["pagination"]["size"] == len(body["data"])
        assert body["pagination"]["totalSize"] == len(body["data"])
        return sorted((e["orderId"], e["sequence"]) for e in body["data"])

    assert await orders_of(order_id=a) == sorted([(a, 1), (a, 2)])
    assert await orders_of(orderId=b) == [(b, 1)]
    assert await orders_of(adapter_id="erp") == sorted([(a, 1), (a, 2), (c, 1)])
    assert await orders_of(adapterId="wms") == [(b, 1)]
    assert await orders_of(reference="y") == [(b, 1)]
    assert await orders_of(reference="Y") == []
    assert await orders_of(channel="c2") == [(c, 1)]
    assert await orders_of(channel="c2", adapter_id="wms") == []
    assert await orders_of(order_id=a, status="pending") == sorted([(a, 1), (a, 2)])
    assert await orders_of(order_id=a, status="Succeeded") == []
    assert await orders_of(order_id=a, status=["failed", "PENDING"]) == sorted([(a, 1), (a, 2)])
    assert await orders_of(order_id="o_unknown") == []


async def test_pagination(env: Env) -> None:
    await order_with_events(env.client, [note(), note()], 6)  # 12 events
    everything = await listing(env.client, limit=100)
    ids = [e["id"] for e in everything["data"]]
    assert len(ids) == 12
    first = await listing(env.client)
    assert first["pagination"] == {"offset": 0, "limit": 10, "size": 10, "totalSize": 12}
    assert [e["id"] for e in first["data"]] == ids[:10]
    rest = await listing(env.client, offset=10)
    assert rest["pagination"] == {"offset": 10, "limit": 10, "size": 2, "totalSize": 12}
    assert [e["id"] for e in rest["data"]] == ids[10:]
    middle = await listing(env.client, offset=3, limit=4)
    assert [e["id"] for e in middle["data"]] == ids[3:7]
    assert middle["pagination"]["totalSize"] == 12
    beyond = await listing(env.client, offset=50)
    assert beyond["pagination"] == {"offset": 50, "limit": 10, "size": 0, "totalSize": 12}
    capped = await listing(env.client, limit=1000)
    assert capped["pagination"]["limit"] == 100
    huge = await listing(env.client, limit=10**20)  # api §1.12: served as 100, not refused
    assert huge["pagination"] == {"offset": 0, "limit": 100, "size": 12, "totalSize": 12}


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "-5"},
        {"limit": "ten"},
        {"offset": "-1"},
        {"offset": "1.5"},
        {"status": "delivered"},
        {"status": ["pending"] * 51},
    ],
)
async def test_invalid_query_is_400(env: Env, params: dict[str, Any]) -> None:
    response = await env.client.get(EVENTS, params=params)
    body = assert_error(response, 400, "invalid-request")
    assert body["errors"][0]["path"].startswith("?")


async def test_get_event_with_payload_and_attempts(env: Env) -> None:
    cart = {"items": [{"name": "x", "quantity": 3, "total": {"includingVat": 12.345678}}]}
    order_id = await create_order(env.client, {"cart": cart, "notifications": [note()]})
    response = await env.client.put(f"{ORDERS}/{order_id}/reference", json="värde")
    assert response.status_code == 200, response.text
    [listed] = (await listing(env.client, order_id=order_id))["data"]
    response = await env.client.get(f"{EVENTS}/{listed['id']}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert {k: v for k, v in body.items() if k not in ("payload", "attempts")} == listed
    assert body["attempts"] == []
    order = await get_order(env.client, order_id)
    assert body["payload"] == {"notification": order["notifications"][0], "order": order}
    # numbers keep their exact text: the stored payload is embedded, not re-encoded
    exact = json.loads(response.content, parse_float=decimal.Decimal)
    assert exact["payload"]["order"]["cart"]["items"][0]["total"]["includingVat"] == (
        decimal.Decimal("12.345678")
    )
    assert b'"includingVat":12.345678' in response.content


async def test_unknown_event_is_404(env: Env) -> None:
    for event_id in ("ev_" + "a" * 26, "nonsense"):
        response = await env.client.get(f"{EVENTS}/{event_id}")
        assert_error(response, 404, "event-not-found")
        response = await env.client.post(f"{EVENTS}/{event_id}/retry")
        assert_error(response, 404, "event-not-found")


async def test_other_merchants_and_channels_outside_the_key(
    env: Env, db: Database, database_url: str
) -> None:
    c2 = {**env.tenant.headers, "x-channel": "c2"}
    in_c1 = await order_with_events(env.client, [note()])
    in_c2 = await order_with_events(env.client, [note()], headers=c2)
    [ev1] = (await listing(env.client, order_id=in_c1))["data"]
    [ev2] = (await listing(env.client, order_id=in_c2))["data"]

    # a key of the same merchant for channel c1 only: sees c1's events, not c2's
    key, _ = await keys.create_key(db, merchant=env.tenant.merchant, channels=["c1"])
    c1_only = {"Authorization": f"Bearer {key}", "x-merchant": env.tenant.merchant}
    async with client_for(_app(database_url, env.tenant.merchant, db), c1_only) as narrow:
        body = (await narrow.get(EVENTS, params={"limit": 100})).json()
        assert [e["id"] for e in body["data"]] == [ev1["id"]]
        assert body["pagination"]["totalSize"] == 1
        assert (await narrow.get(EVENTS, params={"channel": "c2"})).json()["data"] == []
        assert (await narrow.get(f"{EVENTS}/{ev1['id']}")).status_code == 200
        assert_error(await narrow.get(f"{EVENTS}/{ev2['id']}"), 404, "event-not-found")
        assert_error(await narrow.post(f"{EVENTS}/{ev2['id']}/retry"), 404, "event-not-found")
        # x-channel is ignored on these routes, whatever it says
        response = await narrow.get(EVENTS, headers={"x-channel": "c2"})
        assert [e["id"] for e in response.json()["data"]] == [ev1["id"]]

    # another merchant sees nothing of ours
    other_key, _ = await keys.create_key(db, merchant="m-other-" + env.tenant.merchant)
    other = {"Authorization": f"Bearer {other_key}", "x-merchant": "m-other-" + env.tenant.merchant}
    async with client_for(_app(database_url, env.tenant.merchant, db), other) as stranger:
        response = await stranger.get(EVENTS, params={"order_id": in_c1})
        assert response.status_code == 200, response.text
        assert response.json()["data"] == []
        assert_error(await stranger.get(f"{EVENTS}/{ev1['id']}"), 404, "event-not-found")
        assert_error(await stranger.post(f"{EVENTS}/{ev1['id']}/retry"), 404, "event-not-found")
    assert (await env.event(ev1["id"]))["status"] == "pending"


def _app(database_url: str, merchant: str, db: Database) -> FastAPI:
    return create_app(settings_for(database_url, merchant), db=db)


async def test_auth_errors(env: Env) -> None:
    headers = env.tenant.headers
    async with client_for(_app_of(env)) as anonymous:
        assert_error(await anonymous.get(EVENTS), 401, "unauthorized")
        no_merchant = {"Authorization": headers["Authorization"]}
        assert_error(await anonymous.get(EVENTS, headers=no_merchant), 400, "missing-header")
        wrong = {"Authorization": headers["Authorization"], "x-merchant": "someone-else"}
        assert_error(await anonymous.get(EVENTS, headers=wrong), 403, "forbidden")
        # no x-channel needed
        merchant_only = {**no_merchant, "x-merchant": env.tenant.merchant}
        response = await anonymous.get(EVENTS, headers=merchant_only)
        assert response.status_code == 200, response.text
        assert response.json()["pagination"]["offset"] == 0


def _app_of(env: Env) -> Any:
    return env.client._transport.app  # type: ignore[attr-defined]


async def test_retry_honours_idempotency_key(env: Env) -> None:
    order_id = await order_with_events(env.client, [note()])
    [event] = (await listing(env.client, order_id=order_id))["data"]
    url = f"{EVENTS}/{event['id']}/retry"
    first = await env.client.post(url, headers={"Idempotency-Key": "retry-1"})
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "pending"
    assert STAMP.match(first.json()["nextAttemptAt"])
    again = await env.client.post(url, headers={"Idempotency-Key": "retry-1"})
    assert again.status_code == 202, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    other = await env.client.post(
        f"{EVENTS}/{'ev_' + 'b' * 26}/retry", headers={"Idempotency-Key": "retry-1"}
    )
    assert_error(other, 422, "idempotency-key-reuse")


async def test_routes_under_the_path_prefix(db: Database, database_url: str) -> None:
    async with delivery_env(db, database_url, path_prefix="/checkout/order") as env:
        prefixed = "/checkout/order"
        response = await env.client.post(
            f"{prefixed}{ORDERS}", json={"reference": "r", "notifications": [note()]}
        )
        assert response.status_code == 201, response.text
        order_id = response.json()["id"]
        listed = await env.client.get(f"{prefixed}{EVENTS}", params={"orderId": order_id})
        assert listed.status_code == 200, listed.text
        [event] = listed.json()["data"]
        one = await env.client.get(f"{prefixed}{EVENTS}/{event['id']}/")
        assert one.status_code == 200, one.text
        assert one.json()["id"] == event["id"]
        assert_error(await env.client.get(EVENTS), 404, "route-not-found")


async def test_unsupported_method_is_405(env: Env) -> None:
    response = await env.client.delete(EVENTS)
    body = assert_error(response, 405, "method-not-allowed")
    assert body["code"] == "method-not-allowed"
    assert response.headers["allow"] == "GET"


async def test_exact_long_and_nul_text_fields(env: Env) -> None:
    long_reference = "r" * 3000
    odd = "a\x00b"
    order_id = await order_with_events(
        env.client, [note(reference=long_reference, adapterId=odd, description=odd)]
    )
    body = await listing(env.client, reference=long_reference)
    [event] = body["data"]
    assert event["orderId"] == order_id
    assert event["reference"] == long_reference
    assert event["adapterId"] == odd and event["description"] == odd
    assert (await listing(env.client, adapter_id=odd))["data"] == [event]
    assert (await listing(env.client, reference="r" * 2999))["data"] == []
    one = (await env.client.get(f"{EVENTS}/{event['id']}")).json()
    assert one["reference"] == long_reference
    assert one["payload"]["notification"]["adapterId"] == odd


async def test_openapi_documents_the_events_operations(env: Env) -> None:
    response = await env.client.get("/openapi.json")
    assert response.status_code == 200, response.text
    document = response.json()
    paths = document["paths"]
    assert paths[EVENTS]["get"]["operationId"] == "GetEvents"
    assert paths[f"{EVENTS}/{{event_id}}"]["get"]["operationId"] == "GetEvent"
    assert paths[f"{EVENTS}/{{event_id}}/retry"]["post"]["operationId"] == "RetryEvent"
    assert "202" in paths[f"{EVENTS}/{{event_id}}/retry"]["post"]["responses"]
    names = {p["name"] for p in paths[EVENTS]["get"]["parameters"]}
    assert names >= {"order_id", "orderId", "adapter_id", "adapterId", "reference", "channel"}
    assert names >= {"status", "offset", "limit"}
    schemas = document["components"]["schemas"]
    assert {"Event", "EventDetail", "EventAttempt", "EventPaginationSet"} <= set(schemas)
    assert {"nextAttemptAt", "attemptCount"} <= set(schemas["Event"]["properties"])
    # only GetEvent answers with the payload and the attempts (api §3.32)
    assert {"payload", "attempts"}.isdisjoint(schemas["Event"]["properties"])
    assert {"payload", "attempts"} <= set(schemas["EventDetail"]["required"])
