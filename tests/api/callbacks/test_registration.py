"""Registering hooks, notifications and validations on an order (api ops 13-16, 20-22)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.conftest import ORDERS, create_order, get_order

CALLBACK_ID = re.compile(r"^oc_[A-Za-z]{26}$")


async def _post(client: httpx.AsyncClient, path: str, body: Any) -> httpx.Response:
    return await client.post(path, json=body)


async def test_hook_in_both_dialects_is_stored_once_with_both_names(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(client)
    v0 = await _post(
        client,
        f"{ORDERS}/{order_id}/hooks",
        {"subscribeTo": "/reference", "invoke": "https://adapter.example/{order_id}"},
    )
    assert v0.status_code == 200, v0.text
    assert CALLBACK_ID.match(v0.json()["id"])
    v1 = await _post(
        client,
        f"{ORDERS}/{order_id}/hooks",
        {
            "version": "V1",
            "scope": "/state",
            "invoke": "https://adapter.example/state",
            "adapterId": "erp",
            "target": "/attributes",
            "description": "d",
            "reference": "r",
        },
    )
    assert v1.status_code == 200, v1.text
    hooks = (await get_order(client, order_id))["hooks"]
    assert hooks == [
        {
            "id": v0.json()["id"],
            "subscribeTo": "/reference",
            "scope": "/reference",
            "invoke": "https://adapter.example/{order_id}",
            "version": "v0",
        },
        {
            "id": v1.json()["id"],
            "adapterId": "erp",
            "subscribeTo": "/state",
            "scope": "/state",
            "target": "/attributes",
            "invoke": "https://adapter.example/state",
            "version": "v1",
            "description": "d",
            "reference": "r",
        },
    ]
    response = await client.delete(f"{ORDERS}/{order_id}/hooks/{v0.json()['id']}")
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert [h["id"] for h in (await get_order(client, order_id))["hooks"]] == [v1.json()["id"]]


@pytest.mark.parametrize(
    "body",
    [
        {"invoke": "https://a.example/"},
        {"subscribeTo": "/a", "scope": "/b", "invoke": "https://a.example/"},
        {"scope": "reference", "invoke": "https://a.example/"},
        {"scope": "/payments/0/amount", "invoke": "https://a.example/"},
        {"scope": "/a//b", "invoke": "https://a.example/"},
        {"scope": "/a"},
        {"scope": "/a", "invoke": ""},
        {"scope": "/a", "invoke": "https://a.example/", "version": "v9"},
    ],
)
async def test_invalid_hooks_are_refused(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    order_id = await create_order(client)
    response = await _post(client, f"{ORDERS}/{order_id}/hooks", body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid-request"
    assert (await get_order(client, order_id))["hooks"] == []


async def test_notification_with_schema(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    body = {
        "description": "Export when completed",
        "scope": "/state/currentStatus",
        "schema": {"const": "completed"},
        "invoke": "https://erp.example/{order_id}",
        "adapterId": "erp",
        "reference": "export",
    }
    response = await _post(client, f"{ORDERS}/{order_id}/notifications", body)
    assert response.status_code == 200, response.text
    notification_id = response.json()["id"]
    stored = (await get_order(client, order_id))["notifications"]
    assert stored == [{"id": notification_id, **body, "version": "v0"}]
    bad = await _post(
        client,
        f"{ORDERS}/{order_id}/notifications",
        {"scope": "/state", "invoke": "https://a.example/", "schema": {"type": 5}},
    )
    assert bad.status_code == 400, bad.text
    assert bad.json()["code"] == "invalid-request"
    remote = await _post(
        client,
        f"{ORDERS}/{order_id}/notifications",
        {"scope": "/state", "invoke": "https://a.example/", "schema": {"$ref": "https://x/s"}},
    )
    assert remote.status_code == 400, remote.text
    gone = await client.delete(f"{ORDERS}/{order_id}/notifications/{notification_id}")
    assert gone.status_code == 200, gone.text
    missing = await client.delete(f"{ORDERS}/{order_id}/notifications/{notification_id}")
    assert missing.status_code == 404, missing.text
    assert missing.json()["code"] == "notification-not-found"


async def test_validation_shapes_update_and_delete(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    v0 = await _post(
        client, f"{ORDERS}/{order_id}/validations", {"adapterId": "stock", "url": "https://s/"}
    )
    assert v0.status_code == 200, v0.text
    validation_id = v0.json()["id"]
    assert (await get_order(client, order_id))["validations"] == [
        {"id": validation_id, "adapterId": "stock", "url": "https://s/", "invoke": "https://s/"}
    ]
    put = await client.put(
        f"{ORDERS}/{order_id}/validations/{validation_id}",
        json={"invoke": "https://t/", "description": "stock check"},
    )
    assert put.status_code == 200, put.text
    assert (await get_order(client, order_id))["validations"] == [
        {
            "id": validation_id,
            "url": "https://t/",
            "invoke": "https://t/",
            "description": "stock check",
        }
    ]
    mismatch = await client.put(
        f"{ORDERS}/{order_id}/validations/{validation_id}",
        json={"url": "https://a/", "invoke": "https://b/"},
    )
    assert mismatch.status_code == 400, mismatch.text
    unknown = await client.put(
        f"{ORDERS}/{order_id}/validations/oc_unknown", json={"url": "https://a/"}
    )
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["code"] == "validation-not-found"
    deleted = await client.delete(f"{ORDERS}/{order_id}/validations/{validation_id}")
    assert deleted.status_code == 200, deleted.text
    assert (await get_order(client, order_id))["validations"] == []


async def test_unknown_hook_and_removed_order(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    missing = await client.delete(f"{ORDERS}/{order_id}/hooks/oc_nothere")
    assert missing.status_code == 404, missing.text
    assert missing.json()["code"] == "hook-not-found"
    removed = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "removed"})
    assert removed.status_code == 200, removed.text
    refused = await _post(
        client, f"{ORDERS}/{order_id}/hooks", {"scope": "/a", "invoke": "https://a/"}
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "order-not-editable"
    assert refused.json()["state"] == "removed"


async def test_at_most_fifty_hooks(client: httpx.AsyncClient) -> None:
    hooks = [{"scope": "/a", "invoke": f"https://a/{i}"} for i in range(50)]
    order_id = await create_order(client, {"hooks": hooks})
    response = await _post(
        client, f"{ORDERS}/{order_id}/hooks", {"scope": "/a", "invoke": "https://a/51"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "limit-exceeded"
    assert len((await get_order(client, order_id))["hooks"]) == 50


async def test_registration_is_recorded_in_history(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await _post(
        client, f"{ORDERS}/{order_id}/hooks", {"scope": "/cart", "invoke": "https://a/"}
    )
    assert response.status_code == 200, response.text
    history = (await client.get(f"{ORDERS}/{order_id}/history")).json()
    assert [e["operation"] for e in history] == [
        "CreateCheckoutOrder",
        "CreateCheckoutOrderHook",
    ]
    assert history[1]["patch"][0]["path"] == "/hooks"
