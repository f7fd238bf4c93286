"""Leaving ``checkout`` runs built-ins and validation callbacks on the proposal after hooks
(semantics §4.1 step 2.7, §6.4), against real local receivers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from kassa.db.engine import Database
from tests.conftest import ORDERS, create_order, get_order
from tests.support.receiver import Receiver, app_client

FREE = {"cart": {"items": [{"name": "free sample", "quantity": 1}]}}
TIMEOUT = 0.5


@pytest.fixture
async def local(db: Database, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(
        db,
        database_url,
        outbound_allow="127.0.0.1/32",
        validation_timeout=TIMEOUT,
        hook_timeout=TIMEOUT,
    ) as client:
        yield client


@pytest.fixture
async def closed(db: Database, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(
        db,
        database_url,
        outbound_allow="127.0.0.1/32",
        validation_timeout=TIMEOUT,
        validation_failure_policy="closed",
    ) as client:
        yield client


async def complete(client: httpx.AsyncClient, order_id: str) -> httpx.Response:
    return await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "completed"})


def with_validation(url: str, **extra: Any) -> dict[str, Any]:
    return {**FREE, "validations": [{"adapterId": "stock", "url": url, **extra}]}


async def test_passing_callback_lets_the_transition_commit(
    local: httpx.AsyncClient, receiver: Receiver
) -> None:
    order_id = await create_order(local, with_validation(receiver.base + "/v/{order_id}"))
    response = await complete(local, order_id)
    assert response.status_code == 200, response.text
    assert "kassa-warnings" not in response.headers
    assert len(receiver.requests) == 1
    sent = orjson.loads(receiver.requests[0].body)
    assert receiver.requests[0].target == f"/v/{order_id}"
    assert sent["state"]["currentStatus"] == "completed"  # the proposal is validated
    assert (await get_order(local, order_id))["state"]["currentStatus"] == "completed"


async def test_failing_callback_refuses_the_transition(
    local: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.status, receiver.body = 400, b'{"code": "out-of-stock", "message": "sku 1"}'
    order_id = await create_order(local, with_validation(receiver.base))
    before = await local.get(f"{ORDERS}/{order_id}")
    response = await complete(local, order_id)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "validation-failed"
    assert body["errors"] == [{"code": "out-of-stock", "adapterId": "stock", "message": "sku 1"}]
    after = await local.get(f"{ORDERS}/{order_id}")
    assert after.headers["etag"] == before.headers["etag"]
    assert after.json()["state"]["currentStatus"] == "checkout"


async def test_builtin_errors_come_before_callback_errors(
    local: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.status, receiver.body = 409, b"{}"
    body = {"validations": [{"adapterId": "stock", "invoke": receiver.base}]}
    order_id = await create_order(local, body)  # empty cart
    response = await complete(local, order_id)
    assert response.status_code == 400, response.text
    codes = [(e["code"], e["adapterId"]) for e in response.json()["errors"]]
    assert codes == [("cart-empty", "kassa"), ("validation-failed", "stock")]


async def test_unavailable_callback_passes_with_warning(
    local: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.status = 503
    order_id = await create_order(local, with_validation(receiver.base))
    validation_id = (await get_order(local, order_id))["validations"][0]["id"]
    response = await complete(local, order_id)
    assert response.status_code == 200, response.text
    assert response.headers["kassa-warnings"] == f"validation-unavailable:{validation_id}"


async def test_unavailable_callback_fails_closed(
    closed: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.delay = TIMEOUT + 1.0
    order_id = await create_order(closed, with_validation(receiver.base))
    response = await complete(closed, order_id)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "validation-failed"
    assert body["errors"] == [{"code": "validation-unavailable", "adapterId": "stock"}]


async def test_validation_sees_the_hook_patch(local: httpx.AsyncClient) -> None:
    hook, check = Receiver(), Receiver()
    hook.body = orjson.dumps([{"op": "add", "path": "/attributes", "value": {"ok": True}}])
    await hook.start()
    await check.start()
    try:
        body = with_validation(check.base)
        body["hooks"] = [{"subscribeTo": "/state", "invoke": hook.base}]
        order_id = await create_order(local, body)
        response = await complete(local, order_id)
        assert response.status_code == 200, response.text
        assert len(hook.requests) == 1 and len(check.requests) == 1
        assert orjson.loads(check.requests[0].body)["attributes"] == {"ok": True}
    finally:
        await hook.stop()
        await check.stop()


async def test_moves_not_leaving_checkout_call_no_validation(
    local: httpx.AsyncClient, receiver: Receiver
) -> None:
    order_id = await create_order(local, with_validation(receiver.base))
    response = await local.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "declined"})
    assert response.status_code == 200, response.text
    assert receiver.requests == []
