"""Hooks against real local receivers (semantics §5, §4.1 attempt loop, §10, §11 hookCalls)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from kassa.db.engine import Database
from kassa.db.tables import events
from tests.conftest import ORDERS, create_order, get_order
from tests.support.http_asserts import assert_error
from tests.support.receiver import Received, Receiver, app_client, verify_signature

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
HOOK_TIMEOUT = 1.5  # generous: a loaded CI machine must not turn a prompt answer into a timeout


@pytest.fixture
async def local(db: Database, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(
        db,
        database_url,
        outbound_allow="127.0.0.1/32",
        webhook_secret=SECRET,
        hook_timeout=HOOK_TIMEOUT,
    ) as client:
        yield client


@pytest.fixture
async def closed(db: Database, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(
        db,
        database_url,
        outbound_allow="127.0.0.1/32",
        webhook_secret=SECRET,
        hook_timeout=HOOK_TIMEOUT,
        hook_failure_policy="closed",
    ) as client:
        yield client


async def add_hook(client: httpx.AsyncClient, order_id: str, **hook: Any) -> str:
    response = await client.post(f"{ORDERS}/{order_id}/hooks", json=hook)
    assert response.status_code == 200, response.text
    hook_id: str = response.json()["id"]
    return hook_id


async def history(client: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"{ORDERS}/{order_id}/history")
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


async def put_reference(
    client: httpx.AsyncClient, order_id: str, value: str, **kw: Any
) -> httpx.Response:
    return await client.put(f"{ORDERS}/{order_id}/reference", json=value, **kw)


def body_of(received: Received) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(received.body)
    return parsed


# Which hooks are called, with what -------------------------------------------------------------


async def test_hook_called_with_proposal_on_matching_change(
    local: httpx.AsyncClient, receiver: Receiver
) -> None:
    order_id = await create_order(local, {"reference": "r0"})
    hook_id = await add_hook(
        local, order_id, subscribeTo="/reference", invoke=receiver.base + "/h/{order_id}"
    )
    before = await get_order(local, order_id)

    response = await put_reference(local, order_id, "r1")
    assert response.status_code == 200, response.text
    assert "kassa-warnings" not in response.headers
    assert len(receiver.requests) == 1
    received = receiver.requests[0]
    assert received.method == "POST"
    assert received.target == f"/h/{order_id}"
    sent = body_of(received)
    assert sent["reference"] == "r1"
    assert sent["lastModified"] == before["lastModified"]  # still the stored value
    assert sent["hooks"][0]["id"] == hook_id
    assert received.headers["x-merchant"] == before["merchant"]
    assert received.headers["x-channel"] == before["channel"]
    assert received.headers["webhook-id"].startswith("msg_")
    verify_signature(received, SECRET)

    entries = await history(local, order_id)
    assert entries[-1]["hookCalls"] == [
        {"hookId": hook_id, "adapterId": None, "outcome": "approved"}
    ]
    assert (await get_order(local, order_id))["reference"] == "r1"


async def test_hook_not_called_for_other_changes(
    local: httpx.AsyncClient, receiver: Receiver
) -> None:
    order_id = await create_order(local, {"reference": "r0"})
    await add_hook(local, order_id, scope="/reference", invoke=receiver.base + "/h", version="v1")
    response = await local.patch(f"{ORDERS}/{order_id}/attributes", json={"a": 1})
    assert response.status_code == 200, response.text
    same = await put_reference(local, order_id, "r0")  # no change: no call
    assert same.status_code == 200, same.text
    assert receiver.requests == []
    assert (await history(local, order_id))[-1]["hookCalls"] == []


async def test_hooks_not_called_on_create_transactions_and_validate(
    local: httpx.AsyncClient, receiver: Receiver
) -> None:
    hook = {"subscribeTo": "/reference", "invoke": receiver.base + "/h"}
    order_id = await create_order(local, {"reference": "r0", "currency": "SEK", "hooks": [hook]})
    response = await local.post(f"{ORDERS}/{order_id}/validate", json={})
    assert response.status_code == 400, response.text  # empty cart: built-in failure
    assert receiver.requests == []


async def test_patch_is_applied_and_recorded(local: httpx.AsyncClient, receiver: Receiver) -> None:
    receiver.body = orjson.dumps([{"op": "add", "path": "/attributes", "value": {"erp": "E-1"}}])
    order_id = await create_order(local)
    hook_id = await add_hook(
        local, order_id, subscribeTo="/reference", invoke=receiver.base + "/h", adapterId="erp"
    )
    response = await put_reference(local, order_id, "r1")
    assert response.status_code == 200, response.text
    order = await get_order(local, order_id)
    assert order["attributes"] == {"erp": "E-1"}
    assert order["reference"] == "r1"
    assert response.headers["etag"] == (await local.get(f"{ORDERS}/{order_id}")).headers["etag"]
    entry = (await history(local, order_id))[-1]
    assert entry["hookCalls"] == [{"hookId": hook_id, "adapterId": "erp", "outcome": "patched"}]
    paths = {op["path"] for op in entry["patch"]}
    assert "/attributes" in paths and "/reference" in paths


async def test_patch_adds_cart_item_with_id_and_totals(
    local: httpx.AsyncClient, receiver: Receiver
) -> None:
    item = {
        "sku": "extra",
        "name": "Gift wrap",
        "quantity": 1,
        "price": {"includingVat": 10, "excludingVat": 8},
        "total": {"includingVat": 10, "excludingVat": 8},
        "vatRate": 0.25,
    }
    receiver.body = orjson.dumps([{"op": "add", "path": "/cart/items/-", "value": item}])
    order_id = await create_order(local, {"currency": "SEK"})
    await add_hook(local, order_id, subscribeTo="/reference", invoke=receiver.base + "/h")
    response = await put_reference(local, order_id, "r1")
    assert response.status_code == 200, response.text
    order = await get_order(local, order_id)
    assert len(order["cart"]["items"]) == 1
    assert order["cart"]["items"][0]["id"].startswith("ci_")
    assert order["cart"]["total"]["includingVat"] == 10
    assert order["total"]["includingVat"] == 10


async def test_rejection_refuses_the_write(local: httpx.AsyncClient, receiver: Receiver) -> None:
    receiver.status, receiver.body = 422, b'{"message": "reference is reserved"}'
    order_id = await create_order(local, {"reference": "r0"})
    hook_id = await add_hook(
        local, order_id, subscribeTo="/reference", invoke=receiver.base + "/h", adapterId="erp"
    )
    before = await local.get(f"{ORDERS}/{order_id}")
    response = await put_reference(local, order_id, "r1")
    body = assert_error(response, 400, "hook-rejected")
    assert body["message"] == "reference is reserved"
    assert body["adapterId"] == "erp"
    assert body["hookId"] == hook_id
    assert body["upstreamStatus"] == 422
    after = await local.get(f"{ORDERS}/{order_id}")
    assert after.headers["etag"] == before.headers["etag"]
    assert after.json() == before.json()
    assert len(receiver.requests) == 1  # no re-run


async def test_rejection_without_message(local: httpx.AsyncClient, receiver: Receiver) -> None:
    receiver.status, receiver.body = 400, b"nope"
    order_id = await create_order(local)
    await add_hook(local, order_id, subscribeTo="/reference", invoke=receiver.base + "/h")
    body = assert_error(await put_reference(local, order_id, "r1"), 400, "hook-rejected")
    assert body["upstreamStatus"] == 400
    assert body["adapterId"] is None


async def test_adapter_id_header_suppresses_own_hooks(
    local: httpx.AsyncClient, receiver: Receiver
) -> None:
    order_id = await create_order(local)
    await add_hook(
        local, order_id, subscribeTo="/reference", invoke=receiver.base + "/a", adapterId="erp"
    )
    other = await add_hook(local, order_id, subscribeTo="/reference", invoke=receiver.base + "/b")
    response = await put_reference(local, order_id, "r1", headers={"x-adapterid": "erp"})
    assert response.status_code == 200, response.text
    assert [r.target for r in receiver.requests] == ["/b"]
    entry = (await history(local, order_id))[-1]
    assert entry["hookCalls"] == [{"hookId": other, "adapterId": None, "outcome": "approved"}]
    # case-sensitive: ERP does not suppress erp
    response = await put_reference(local, order_id, "r2", headers={"x-adapterid": "ERP"})
    assert response.status_code == 200, response.text
    assert sorted(r.target for r in receiver.requests[1:]) == ["/a", "/b"]


# Failures and the policy -----------------------------------------------------------------------


async def test_timeout_fails_open(local: httpx.AsyncClient, receiver: Receiver) -> None:
    receiver.delay = HOOK_TIMEOUT + 1.0
    order_id = await create_order(local)
    hook_id = await add_hook(local, order_id, subscribeTo="/reference", invoke=receiver.base)
    response = await put_reference(local, order_id, "r1")
    assert response.status_code == 200, response.text
    assert response.headers["kassa-warnings"] == f"hook-failed:{hook_id}"
    assert (await get_order(local, order_id))["reference"] == "r1"
    entry = (await history(local, order_id))[-1]
    assert entry["hookCalls"] == [{"hookId": hook_id, "adapterId": None, "outcome": "failed"}]


async def test_timeout_fails_closed(closed: httpx.AsyncClient, receiver: Receiver) -> None:
    receiver.delay = HOOK_TIMEOUT + 1.0
    order_id = await create_order(closed, {"reference": "r0"})
    hook_id = await add_hook(
        closed, order_id, subscribeTo="/reference", invoke=receiver.base, adapterId="erp"
    )
    response = await put_reference(closed, order_id, "r1")
    body = assert_error(response, 502, "hook-failed")
    assert body["hookId"] == hook_id
    assert body["adapterId"] == "erp"
    assert body["upstreamStatus"] is None
    assert (await get_order(closed, order_id))["reference"] == "r0"


async def test_server_error_closed_reports_status(
    closed: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.status = 503
    order_id = await create_order(closed, {"reference": "r0"})
    await add_hook(closed, order_id, subscribeTo="/reference", invoke=receiver.base)
    body = assert_error(await put_reference(closed, order_id, "r1"), 502, "hook-failed")
    assert body["upstreamStatus"] == 503


async def test_unreachable_hook_fails_open(local: httpx.AsyncClient) -> None:
    order_id = await create_order(local)
    hook_id = await add_hook(
        local, order_id, subscribeTo="/reference", invoke="http://169.254.169.254/latest"
    )
    response = await put_reference(local, order_id, "r1")
    assert response.status_code == 200, response.text
    assert response.headers["kassa-warnings"] == f"hook-failed:{hook_id}"


@pytest.mark.parametrize(
    "patch",
    [
        [{"op": "replace", "path": "/id", "value": "o_x"}],
        [{"op": "replace", "path": "/state/currentStatus", "value": "completed"}],
        [{"op": "add", "path": "/total/includingVat", "value": 1}],
        [{"op": "copy", "from": "/merchant", "path": "/attributes/m"}],
        [{"op": "replace", "path": "/reference", "value": 12}],
        [{"op": "remove", "path": "/attributes/missing"}],
        [{"op": "test", "path": "/reference", "value": "other"}],
        [{"op": "add", "path": "/unknownField", "value": 1}],
        [{"op": "replace", "path": "/attributes/x", "value": 1}] * 101,
        [{"op": "frobnicate", "path": "/reference"}],
    ],
)
async def test_invalid_patch_is_a_failure(
    local: httpx.AsyncClient, receiver: Receiver, patch: list[Any]
) -> None:
    receiver.body = orjson.dumps(patch)
    order_id = await create_order(local, {"attributes": {"x": 0}})
    hook_id = await add_hook(local, order_id, subscribeTo="/reference", invoke=receiver.base)
    response = await put_reference(local, order_id, "r1")
    assert response.status_code == 200, response.text
    assert response.headers["kassa-warnings"] == f"hook-failed:{hook_id}"
    order = await get_order(local, order_id)
    assert order["reference"] == "r1"  # the request's own change stays
    assert order["attributes"] == {"x": 0}  # none of the patch was applied


@pytest.mark.parametrize("body", [b"", b"null", b"[]", b'{"ok": true}', b"not json at all"])
async def test_approvals_without_changes(
    local: httpx.AsyncClient, receiver: Receiver, body: bytes
) -> None:
    receiver.body = body
    order_id = await create_order(local)
    hook_id = await add_hook(local, order_id, subscribeTo="/reference", invoke=receiver.base)
    response = await put_reference(local, order_id, "r1")
    assert response.status_code == 200, response.text
    assert "kassa-warnings" not in response.headers
    entry = (await history(local, order_id))[-1]
    assert entry["hookCalls"] == [{"hookId": hook_id, "adapterId": None, "outcome": "approved"}]


# Order of calls, loop guard ------------------------------------------------------------------


async def test_call_order_by_rank_then_position(local: httpx.AsyncClient) -> None:
    log: list[str] = []
    receivers = []
    for name in ("total", "cart", "cart-target-state"):
        server = Receiver()

        async def record(received: Received, name: str = name) -> None:
            log.append(name)

        server.on_request = record
        await server.start()
        receivers.append(server)
    try:
        order_id = await create_order(local, {"currency": "SEK"})
        await add_hook(local, order_id, subscribeTo="/total", invoke=receivers[0].base)
        await add_hook(local, order_id, subscribeTo="/cart", invoke=receivers[1].base)
        await add_hook(
            local, order_id, subscribeTo="/cart", target="/state", invoke=receivers[2].base
        )
        cart = {
            "items": [
                {
                    "sku": "a",
                    "name": "A",
                    "quantity": 1,
                    "price": {"includingVat": 5, "excludingVat": 4},
                    "total": {"includingVat": 5, "excludingVat": 4},
                    "vatRate": 0.25,
                }
            ]
        }
        response = await local.put(f"{ORDERS}/{order_id}/cart", json=cart)
        assert response.status_code == 200, response.text
        assert log == ["cart-target-state", "cart", "total"]
    finally:
        for server in receivers:
            await server.stop()


async def test_patches_trigger_further_hooks_each_once(local: httpx.AsyncClient) -> None:
    first, second = Receiver(), Receiver()
    # the /reference hook patches attributes; the /attributes hook patches the reference back
    first.body = orjson.dumps([{"op": "add", "path": "/attributes", "value": {"a": 1}}])
    second.body = orjson.dumps([{"op": "replace", "path": "/reference", "value": "loop"}])
    await first.start()
    await second.start()
    try:
        order_id = await create_order(local)
        ref_hook = await add_hook(local, order_id, subscribeTo="/reference", invoke=first.base)
        attr_hook = await add_hook(local, order_id, subscribeTo="/attributes", invoke=second.base)
        response = await put_reference(local, order_id, "r1")
        assert response.status_code == 200, response.text
        assert len(first.requests) == 1 and len(second.requests) == 1
        order = await get_order(local, order_id)
        assert order["reference"] == "loop" and order["attributes"] == {"a": 1}
        entry = (await history(local, order_id))[-1]
        assert [c["hookId"] for c in entry["hookCalls"]] == [ref_hook, attr_hook]
        assert [c["outcome"] for c in entry["hookCalls"]] == ["patched", "patched"]
    finally:
        await first.stop()
        await second.stop()


# Concurrency: compare-and-set and re-runs ------------------------------------------------------


async def test_concurrent_write_during_hook_reruns_the_attempt(
    local: httpx.AsyncClient, receiver: Receiver
) -> None:
    order_id = await create_order(local)
    await add_hook(local, order_id, subscribeTo="/reference", invoke=receiver.base)
    calls = 0

    async def write_meanwhile(received: Received) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            response = await local.patch(f"{ORDERS}/{order_id}/attributes", json={"side": calls})
            assert response.status_code == 200, response.text

    receiver.on_request = write_meanwhile
    response = await put_reference(local, order_id, "r1")
    assert response.status_code == 200, response.text
    assert len(receiver.requests) == 2  # once per attempt
    order = await get_order(local, order_id)
    assert order["reference"] == "r1" and order["attributes"] == {"side": 1}
    assert response.headers["etag"] == '"4"'  # create, hook, attributes, reference


async def test_four_conflicts_give_concurrent_modification(
    local: httpx.AsyncClient, receiver: Receiver
) -> None:
    order_id = await create_order(local)
    await add_hook(local, order_id, subscribeTo="/reference", invoke=receiver.base)
    count = 0

    async def always_write(received: Received) -> None:
        nonlocal count
        count += 1
        response = await local.patch(f"{ORDERS}/{order_id}/attributes", json={"n": count})
        assert response.status_code == 200, response.text

    receiver.on_request = always_write
    response = await put_reference(local, order_id, "r1")
    assert_error(response, 409, "concurrent-modification")
    assert len(receiver.requests) == 4
    order = await get_order(local, order_id)
    assert "reference" not in order and order["attributes"] == {"n": 4}


async def test_if_match_checked_per_attempt(local: httpx.AsyncClient, receiver: Receiver) -> None:
    order_id = await create_order(local)
    await add_hook(local, order_id, subscribeTo="/reference", invoke=receiver.base)
    etag = (await local.get(f"{ORDERS}/{order_id}")).headers["etag"]

    async def write_meanwhile(received: Received) -> None:
        await local.patch(f"{ORDERS}/{order_id}/attributes", json={"x": 1})

    receiver.on_request = write_meanwhile
    response = await put_reference(local, order_id, "r1", headers={"If-Match": etag})
    body = assert_error(response, 412, "precondition-failed")
    assert body["currentETag"] == '"3"'
    assert len(receiver.requests) == 1  # never a re-run


async def test_hook_rejection_creates_no_event(
    local: httpx.AsyncClient, receiver: Receiver, db: Database
) -> None:
    receiver.status = 409
    notification = {"scope": "/reference", "invoke": receiver.base + "/n"}
    order_id = await create_order(local, {"notifications": [notification]})
    await add_hook(local, order_id, subscribeTo="/reference", invoke=receiver.base + "/h")
    assert_error(await put_reference(local, order_id, "r1"), 400, "hook-rejected")
    count = await db.read(
        lambda conn: conn.execute(
            select(func.count()).select_from(events).where(events.c.order_id == order_id)
        ).scalar_one()
    )
    assert count == 0
