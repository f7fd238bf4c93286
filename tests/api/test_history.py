"""Order history (api §2.4 operation 35, §3.31; semantics §11)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import httpx
import jsonpatch
from fastapi import FastAPI

from kassa.db.engine import Database
from tests.conftest import ORDERS, Tenant, client_for, create_order, make_tenant

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
ENTRY_KEYS = {"sequence", "at", "actor", "operation", "requestId", "patch", "hookCalls"}


def exact(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)


async def history(client: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = exact(await client.get(f"{ORDERS}/{order_id}/history"))
    return entries


async def order_doc(client: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = exact(await client.get(f"{ORDERS}/{order_id}"))
    return doc


def without_last_modified(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "lastModified"}


async def ok(response: httpx.Response) -> httpx.Response:
    assert response.status_code in (200, 201, 204), response.text
    return response


async def test_creation_entry(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        ORDERS,
        json={
            "reference": "r-1",
            "cart": {"items": [{"name": "a", "total": {"includingVat": 2, "excludingVat": 1}}]},
            "attributes": {"k": None},
        },
    )
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]
    order = await order_doc(client, order_id)
    entries = await history(client, order_id)
    assert len(entries) == 1
    entry = entries[0]
    assert set(entry) == ENTRY_KEYS
    assert entry["sequence"] == 1
    assert entry["at"] == order["created"] == order["lastModified"]
    assert TIMESTAMP.match(entry["at"])
    assert entry["actor"] == {"keyName": tenant.key_name, "adapterId": None}
    assert entry["operation"] == "CreateCheckoutOrder"
    assert entry["requestId"] == response.headers["x-request-id"]
    assert entry["patch"] == [{"op": "add", "path": "", "value": without_last_modified(order)}]
    assert entry["hookCalls"] == []


async def test_history_replays_to_every_version(client: httpx.AsyncClient) -> None:
    order_id = await create_order(
        client,
        {
            "cart": {
                "items": [
                    {"id": "a", "total": {"includingVat": 1.5, "excludingVat": 1.2}},
                    {"id": "b", "total": {"includingVat": 2, "excludingVat": 1.6}},
                    {"id": "c", "items": [{"id": "c1"}]},
                ]
            },
            "consents": [{"id": "x"}, {"id": "y", "required": True}, {"id": "z"}],
            "attributes": {"n": 1, "list": [1, 2, 3]},
        },
    )
    url = f"{ORDERS}/{order_id}"
    versions = [await order_doc(client, order_id)]
    writes: list[tuple[str, str, Any, str]] = [
        ("PUT", "/reference", "ref-A", "UpdateCheckoutOrderReference"),
        (
            "PATCH",
            "/attributes",
            {"n": True, "list": [3, 1], "new": {"d": 0.1}},
            "PatchCheckoutOrderAttributes",
        ),
        (
            "PUT",
            "/cart",
            {
                "items": [
                    {"id": "b", "total": {"includingVat": 2, "excludingVat": 1.6}},
                    {"id": "a", "quantity": 2, "total": {"includingVat": 3, "excludingVat": 2.4}},
                    {"name": "new", "total": {"includingVat": 0.2, "excludingVat": 0.1}},
                ],
                "reference": "basket",
            },
            "UpdateCheckoutOrderCart",
        ),
        (
            "PUT",
            "/customer/billing",
            {"givenName": "Åsa", "type": "Person"},
            "UpdateCheckoutOrderCustomerBilling",
        ),
        ("PUT", "/customer/shipping", {"city": "Boden"}, "UpdateCheckoutOrderCustomerShipping"),
        ("POST", "/consents", {"id": "w", "text": "ny"}, "CreateCheckoutOrderConsent"),
        ("DELETE", "/consents/y", None, "RemoveCheckoutOrderConsent"),
        (
            "PATCH",
            "/consents",
            [{"id": "x", "checked": True}, {"id": "w", "checked": True}],
            "PatchCheckoutOrderConsents",
        ),
        ("PATCH", "/consents/z", {"checked": True}, "PatchCheckoutOrderConsent"),
        ("PUT", "/cart", {"items": [{"id": "only"}]}, "UpdateCheckoutOrderCart"),
        ("PUT", "/state", {"currentStatus": "processing"}, "UpdateCheckoutOrderState"),
        ("PUT", "/state", {"currentStatus": "checkout"}, "UpdateCheckoutOrderState"),
        ("PUT", "/state", {"currentStatus": "declined"}, "UpdateCheckoutOrderState"),
        ("PATCH", "/attributes", {"after": "declined"}, "PatchCheckoutOrderAttributes"),
        ("PUT", "/reference", "", "UpdateCheckoutOrderReference"),
    ]
    request_ids = []
    for method, path, body, _ in writes:
        response = await ok(await client.request(method, url + path, json=body))
        request_ids.append(response.headers["x-request-id"])
        versions.append(await order_doc(client, order_id))

    entries = await history(client, order_id)
    assert [e["sequence"] for e in entries] == list(range(1, len(writes) + 2))
    assert [e["operation"] for e in entries[1:]] == [w[3] for w in writes]
    assert [e["requestId"] for e in entries[1:]] == request_ids
    assert [e["at"] for e in entries] == [v["lastModified"] for v in versions]
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)

    base = entries[0]["patch"]
    assert base == [{"op": "add", "path": "", "value": without_last_modified(versions[0])}]
    doc: Any = base[0]["value"]
    for entry, expected in zip(entries[1:], versions[1:], strict=True):
        assert entry["patch"], entry
        assert not any(op["path"].startswith("/lastModified") for op in entry["patch"])
        assert entry["hookCalls"] == []
        assert set(entry) == ENTRY_KEYS
        doc = jsonpatch.apply_patch(doc, entry["patch"])
        assert doc == without_last_modified(expected), entry["operation"]
        assert json.dumps(doc, sort_keys=True, default=str) == json.dumps(
            without_last_modified(expected), sort_keys=True, default=str
        )


async def test_patch_distinguishes_true_from_one(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"attributes": {"flag": 1, "zero": 0}})
    response = await client.patch(
        f"{ORDERS}/{order_id}/attributes", json={"flag": True, "zero": False}
    )
    assert response.status_code == 200, response.text
    entries = await history(client, order_id)
    assert len(entries) == 2
    doc = jsonpatch.apply_patch(entries[0]["patch"][0]["value"], entries[1]["patch"])
    assert doc["attributes"]["flag"] is True
    assert doc["attributes"]["zero"] is False
    assert doc == without_last_modified(await order_doc(client, order_id))


async def test_actor_from_adapter_header_and_key(app: FastAPI, db: Database) -> None:
    plain = await make_tenant(db)
    async with client_for(app, plain.headers) as c:
        order_id = await create_order(c)
        response = await c.put(
            f"{ORDERS}/{order_id}/reference", json="r", headers={"x-adapterid": "klarna-checkout"}
        )
        assert response.status_code == 200, response.text
        entries = await history(c, order_id)
    assert [e["actor"] for e in entries] == [
        {"keyName": plain.key_name, "adapterId": None},
        {"keyName": plain.key_name, "adapterId": "klarna-checkout"},
    ]

    keyed = await make_tenant(db, adapter_id="key-adapter")
    async with client_for(app, keyed.headers) as c:
        order_id = await create_order(c)
        response = await c.put(
            f"{ORDERS}/{order_id}/reference", json="r", headers={"x-adapterid": "header-adapter"}
        )
        assert response.status_code == 200, response.text
        response = await c.put(f"{ORDERS}/{order_id}/reference", json="s")
        assert response.status_code == 200, response.text
        entries = await history(c, order_id)
    assert keyed.key_name != plain.key_name
    assert [e["actor"] for e in entries] == [
        {"keyName": keyed.key_name, "adapterId": "key-adapter"},
        {"keyName": keyed.key_name, "adapterId": "header-adapter"},
        {"keyName": keyed.key_name, "adapterId": "key-adapter"},
    ]


async def test_request_id_recorded(client: httpx.AsyncClient) -> None:
    response = await client.post(ORDERS, json={}, headers={"x-request-id": "client.req-1_A"})
    assert response.status_code == 201, response.text
    assert response.headers["x-request-id"] == "client.req-1_A"
    order_id = response.json()["id"]
    # an invalid request id is replaced by a generated one
    response = await client.put(
        f"{ORDERS}/{order_id}/reference", json="r", headers={"x-request-id": "bad id!"}
    )
    assert response.status_code == 200, response.text
    generated = response.headers["x-request-id"]
    assert generated != "bad id!"
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,128}", generated)
    response = await client.put(
        f"{ORDERS}/{order_id}/reference", json="s", headers={"x-request-id": "x" * 129}
    )
    assert response.status_code == 200, response.text
    too_long = response.headers["x-request-id"]
    assert too_long != "x" * 129
    entries = await history(client, order_id)
    assert [e["requestId"] for e in entries] == ["client.req-1_A", generated, too_long]


async def test_no_entry_for_noops_failures_and_reads(client: httpx.AsyncClient) -> None:
    order_id = await create_order(
        client,
        {"reference": "r", "attributes": {"a": 1}, "consents": [{"id": "c", "checked": True}]},
    )
    url = f"{ORDERS}/{order_id}"
    noops: list[tuple[str, str, Any]] = [
        ("PUT", "/reference", "r"),
        ("PATCH", "/attributes", {"a": 1}),
        ("PATCH", "/attributes", {}),
        ("PATCH", "/consents", []),
        ("PATCH", "/consents/c", {"checked": True}),
        ("PUT", "/state", {"currentStatus": "checkout"}),
        ("GET", "", None),
        ("GET", "/history", None),
    ]
    for method, path, body in noops:
        response = await client.request(method, url + path, json=body)
        assert response.status_code == 200, (path, response.text)
        assert response.headers.get("etag", '"1"') == '"1"', path
    response = await client.post(f"{url}/validate")
    assert response.status_code == 400, response.text
    assert [e["code"] for e in response.json()] == ["cart-empty"]
    failing: list[tuple[str, str, Any, int]] = [
        ("PUT", "/reference", 1, 400),
        ("PUT", "/state", {"currentStatus": "processing"}, 400),
        ("POST", "/consents", {"id": "c"}, 409),
        ("DELETE", "/consents/missing", None, 404),
        ("PATCH", "/consents", [{"id": "missing", "checked": True}], 404),
    ]
    for method, path, body, status in failing:
        response = await client.request(method, url + path, json=body)
        assert response.status_code == status, (path, response.text)
    entries = await history(client, order_id)
    assert [e["sequence"] for e in entries] == [1]
    assert (await client.get(url)).headers["etag"] == '"1"'


async def test_refused_transition_writes_no_entry(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "removed"})
    assert response.status_code == 200, response.text
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "checkout"})
    assert response.status_code == 409, response.text
    entries = await history(client, order_id)
    assert [(e["sequence"], e["operation"]) for e in entries] == [
        (1, "CreateCheckoutOrder"),
        (2, "UpdateCheckoutOrderState"),
    ]
    assert entries[1]["patch"]
    doc = jsonpatch.apply_patch(entries[0]["patch"][0]["value"], entries[1]["patch"])
    assert doc["state"]["currentStatus"] == "removed"


async def test_history_allowed_in_removed_state_and_gone_after_delete(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(client)
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "removed"})
    assert response.status_code == 200, response.text
    assert len(await history(client, order_id)) == 2
    response = await client.delete(f"{ORDERS}/{order_id}")
    assert response.status_code == 204, response.text
    response = await client.get(f"{ORDERS}/{order_id}/history")
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "order-not-found"


async def test_history_of_other_tenant_is_not_found(app: FastAPI, db: Database) -> None:
    owner = await make_tenant(db)
    async with client_for(app, owner.headers) as c:
        order_id = await create_order(c)
    stranger = await make_tenant(db)
    async with client_for(app, stranger.headers) as c:
        response = await c.get(f"{ORDERS}/{order_id}/history")
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "order-not-found"
