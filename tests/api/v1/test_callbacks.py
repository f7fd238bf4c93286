"""Validations, hooks and notifications across the two paths (v1.md §3 Validation and Hook,
§4.1 rule 6, §4.2 the ``version`` field; §5 cases 4-6)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import orjson

from kassa.app import create_app
from kassa.config import Settings, channel_notifications
from kassa.db.engine import Database
from tests.conftest import client_for, create_order, make_tenant
from tests.support.receiver import Receiver
from tests.support.v1 import FREE, V0, V1, create_v1, read, read_both

CALLBACK_ID = re.compile(r"^oc_[A-Za-z]{26}$")
EVENTS = "/api/v1/events"


async def register(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> str:
    response = await client.post(url, json=body)
    assert response.status_code == 200, response.text
    created = response.json()
    assert set(created) == {"id"} and CALLBACK_ID.match(created["id"]), created
    callback_id: str = created["id"]
    return callback_id


# 4. Validation stored in v1 shape, returned in both -------------------------------------------


async def test_validation_in_v1_shape_shows_both_names(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    sent = {"adapterId": "a", "invoke": "http://x/{order.id}", "description": "d", "reference": "r"}
    v1_id = await register(client, f"{V1}/{order_id}/validations", sent)
    v0_id = await register(
        client, f"{V0}/{order_id}/validations", {"adapterId": "b", "url": "http://y/"}
    )
    validations = (await read_both(client, f"/{order_id}"))["validations"]
    assert validations == [
        {
            "id": v1_id,
            "adapterId": "a",
            "url": "http://x/{order.id}",
            "invoke": "http://x/{order.id}",
            "description": "d",
            "reference": "r",
        },
        {"id": v0_id, "adapterId": "b", "url": "http://y/", "invoke": "http://y/"},
    ]


async def test_validation_without_a_url_is_refused_on_v1(client: httpx.AsyncClient) -> None:
    order_id = await create_v1(client)
    response = await client.post(f"{V1}/{order_id}/validations", json={"adapterId": "a"})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid-request"
    assert (await read(client, f"{V1}/{order_id}")).json()["validations"] == []


# 5. Hook dialects, the version default, and hooks called from either path ---------------------


async def test_hook_dialects_and_version_on_both_paths(
    local: httpx.AsyncClient, receiver: Receiver
) -> None:
    order_id = await create_order(local)
    v1_hook = await register(
        local, f"{V1}/{order_id}/hooks", {"scope": "/cart", "invoke": receiver.base + "/h1"}
    )
    v0_hook = await register(
        local,
        f"{V0}/{order_id}/hooks",
        {"subscribeTo": "/cart", "invoke": receiver.base + "/h0", "version": "V1"},
    )
    hooks = {h["id"]: h for h in (await read_both(local, f"/{order_id}"))["hooks"]}
    assert hooks[v1_hook]["version"] == "v0"  # the path it came through does not set it
    assert hooks[v1_hook]["subscribeTo"] == hooks[v1_hook]["scope"] == "/cart"
    assert hooks[v0_hook]["version"] == "v1"
    assert hooks[v0_hook]["subscribeTo"] == hooks[v0_hook]["scope"] == "/cart"

    bodies: dict[str, list[dict[str, Any]]] = {}
    for base, name in ((V0, "A"), (V1, "B")):
        before = len(receiver.requests)
        cart = {"items": [{"name": name, "quantity": 1}]}
        response = await local.put(f"{base}/{order_id}/cart", json=cart)
        assert response.status_code == 200, response.text
        assert "kassa-warnings" not in response.headers
        called = receiver.requests[before:]
        assert sorted(r.target for r in called) == ["/h0", "/h1"], base
        bodies[base] = [orjson.loads(r.body) for r in sorted(called, key=lambda r: r.target)]
        for body in bodies[base]:
            assert body["cart"]["items"][0]["name"] == name
    fields = {base: [_fields(body) for body in sent] for base, sent in bodies.items()}
    assert fields[V0] == fields[V1]
    for sent in (*bodies[V0], *bodies[V1]):
        for hook in sent["hooks"]:
            assert {"subscribeTo", "scope", "invoke", "version"} <= set(hook), hook
    entries = (await read(local, f"{V1}/{order_id}/history")).json()
    assert [sorted(c["hookId"] for c in e["hookCalls"]) for e in entries[-2:]] == [
        sorted([v0_hook, v1_hook])
    ] * 2


async def test_version_defaults_in_a_v1_create_body_and_channel_notifications(
    db: Database, database_url: str
) -> None:
    tenant = await make_tenant(db)
    configured = {"scope": "/state/currentStatus", "invoke": "http://c/", "reference": "cfg"}
    settings = Settings(
        database_url=database_url,
        access_log=False,
        channel_notifications=channel_notifications(
            json.dumps({f"{tenant.merchant}/{tenant.channel}": [configured]})
        ),
    )
    async with client_for(create_app(settings, db=db), tenant.headers) as client:
        order_id = await create_v1(
            client,
            {
                "hooks": [{"scope": "/cart", "invoke": "http://h/"}],
                "notifications": [{"scope": "/reference", "invoke": "http://n/"}],
            },
        )
        order = await read_both(client, f"/{order_id}")
    [hook] = order["hooks"]
    assert (hook["version"], hook["subscribeTo"], hook["scope"]) == ("v0", "/cart", "/cart")
    assert [(n.get("reference"), n["version"]) for n in order["notifications"]] == [
        (None, "v0"),  # the body's
        ("cfg", "v0"),  # the channel's
    ]


def _fields(value: Any) -> Any:
    """The field names of a JSON value at every depth (the shape without the values)."""
    if isinstance(value, dict):
        return {k: _fields(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_fields(v) for v in value]
    return None


async def test_hook_version_outside_order_version_is_refused(client: httpx.AsyncClient) -> None:
    order_id = await create_v1(client)
    for base in (V0, V1):
        response = await client.post(
            f"{base}/{order_id}/hooks",
            json={"scope": "/cart", "invoke": "http://h/", "version": "v2"},
        )
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "invalid-request"
    response = await client.post(
        V1, json={"notifications": [{"scope": "/cart", "invoke": "http://n/", "version": "V1"}]}
    )
    assert response.status_code == 201, response.text
    order = (await read(client, response.headers["location"])).json()
    assert order["notifications"][0]["version"] == "v1"
    assert order["hooks"] == []


async def test_adapter_header_suppresses_its_hook_on_v1(
    local: httpx.AsyncClient, receiver: Receiver
) -> None:
    order_id = await create_v1(local)
    await register(
        local,
        f"{V0}/{order_id}/hooks",
        {"adapterId": "erp", "subscribeTo": "/reference", "invoke": receiver.base + "/h"},
    )
    response = await local.put(
        f"{V1}/{order_id}/reference", json="r", headers={"x-adapterid": "erp"}
    )
    assert response.status_code == 200, response.text
    assert receiver.requests == []
    response = await local.put(f"{V1}/{order_id}/reference", json="s")
    assert response.status_code == 200, response.text
    assert [r.target for r in receiver.requests] == ["/h"]
    entries = (await read(local, f"{V0}/{order_id}/history")).json()
    assert entries[-2]["actor"]["adapterId"] == "erp"


# 6. A notification registered on v1, triggered on v0 ------------------------------------------


async def test_notification_via_v1_triggered_via_v0(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, FREE)
    notification = {
        "scope": "/state/currentStatus",
        "schema": {"const": "completed"},
        "version": "v1",
        "invoke": "http://127.0.0.1:9/n/{order_id}",
    }
    notification_id = await register(client, f"{V1}/{order_id}/notifications", notification)
    response = await client.put(f"{V0}/{order_id}/reference", json="not covered")
    assert response.status_code == 200, response.text
    response = await client.put(f"{V0}/{order_id}/state", json={"currentStatus": "completed"})
    assert response.status_code == 200, response.text
    version = int(response.headers["etag"].strip('"'))

    response = await read(client, f"{EVENTS}?order_id={order_id}")
    events = response.json()["data"]
    assert len(events) == 1, events
    assert events[0]["notificationId"] == notification_id
    assert events[0]["orderVersion"] == version
    detail = (await read(client, f"{EVENTS}/{events[0]['id']}")).json()
    v1_order = await read(client, f"{V1}/{order_id}")
    assert v1_order.headers["etag"] == f'"{version}"'
    assert detail["payload"]["order"] == v1_order.json()
    assert detail["payload"]["notification"]["version"] == "v1"
    assert detail["payload"]["notification"] == v1_order.json()["notifications"][0]
