"""Validation callbacks (semantics §6.2-§6.4) against real local HTTP receivers: call order and
concurrency, that validating never changes the order, idempotency, and the same validation
when a transition leaves checkout (operation 18)."""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass, field

import httpx

from kassa.db.engine import Database
from tests.conftest import ORDERS, create_order
from tests.support.receiver import Receiver, app_client
from tests.support.validations import covered_order, register, validate

# Order and concurrency -----------------------------------------------------------------------


async def test_builtin_errors_first_then_callbacks_in_registration_order(
    local: httpx.AsyncClient, receiver: Receiver, second: Receiver
) -> None:
    receiver.status, receiver.body, receiver.delay = 400, b'{"code": "first"}', 0.2
    second.status, second.body = 400, b'[{"code": "second"}, {"code": "third"}]'
    order_id = await create_order(local, {})  # empty cart: built-in failure
    await register(local, order_id, {"adapterId": "slow", "invoke": receiver.base})
    await register(local, order_id, {"adapterId": "fast", "invoke": second.base})

    response = await validate(local, order_id)
    assert response.status_code == 400, response.text
    assert response.json() == [
        {"code": "cart-empty", "adapterId": "kassa", "message": "The cart is empty."},
        {"code": "first", "adapterId": "slow"},
        {"code": "second", "adapterId": "fast"},
        {"code": "third", "adapterId": "fast"},
    ]
    assert len(receiver.requests) == 1 and len(second.requests) == 1


async def test_callbacks_run_concurrently(
    db: Database, database_url: str, receiver: Receiver, second: Receiver
) -> None:
    """Two slow callbacks are both called within one validation."""
    receiver.delay = second.delay = 0.6
    async with app_client(
        db, database_url, outbound_allow="127.0.0.1/32", validation_timeout=2.0
    ) as client:
        order_id = await covered_order(client)
        await register(client, order_id, {"adapterId": "a", "invoke": receiver.base + "/a"})
        await register(client, order_id, {"adapterId": "b", "invoke": second.base + "/b"})
        response = await validate(client, order_id)
    assert response.status_code == 200, response.text
    assert response.json() == []
    assert "kassa-warnings" not in response.headers
    assert [r.target for r in receiver.requests] == ["/a"]
    assert [r.target for r in second.requests] == ["/b"]


@dataclass
class Gated(Receiver):
    """Reads no request until ``needed`` connections have arrived at the receivers sharing
    ``arrived``/``gate``: sequential callers would wait on the first until it times out."""

    arrived: list[int] = field(default_factory=list)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    needed: int = 2

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.arrived.append(self.port)
        if len(self.arrived) >= self.needed:
            self.gate.set()
        await self.gate.wait()
        await super()._serve(reader, writer)


async def test_callbacks_are_all_in_flight_at_once(db: Database, database_url: str) -> None:
    arrived: list[int] = []
    gate = asyncio.Event()
    servers = [Gated(arrived=arrived, gate=gate, needed=3) for _ in range(3)]
    for server in servers:
        await server.start()
    try:
        async with app_client(
            db, database_url, outbound_allow="127.0.0.1/32", validation_timeout=2.0
        ) as client:
            order_id = await covered_order(client)
            for number, server in enumerate(servers):
                await register(client, order_id, {"adapterId": str(number), "invoke": server.base})
            response = await validate(client, order_id)
    finally:
        for server in servers:
            await server.stop()
    assert response.status_code == 200, response.text
    assert response.json() == []
    assert "kassa-warnings" not in response.headers  # no call waited for the gate in vain
    assert sorted(arrived) == sorted(s.port for s in servers)
    assert all(len(s.requests) == 1 for s in servers)


async def test_validation_changes_nothing(
    local: httpx.AsyncClient, receiver: Receiver, second: Receiver
) -> None:
    receiver.status, receiver.body = 400, b'{"code": "out-of-stock"}'
    second.status = 500
    order_id = await covered_order(local)
    await register(local, order_id, {"adapterId": "a", "invoke": receiver.base})
    await register(local, order_id, {"adapterId": "b", "invoke": second.base})
    before = await local.get(f"{ORDERS}/{order_id}")
    history = await local.get(f"{ORDERS}/{order_id}/history")
    assert history.status_code == 200, history.text

    response = await validate(local, order_id)
    assert response.status_code == 400, response.text
    assert response.json() == [{"code": "out-of-stock", "adapterId": "a"}]
    assert "etag" not in response.headers

    after = await local.get(f"{ORDERS}/{order_id}")
    assert after.status_code == 200, after.text
    assert after.headers["etag"] == before.headers["etag"]
    assert after.json() == before.json()
    response = await local.get(f"{ORDERS}/{order_id}/history")
    assert response.status_code == 200, response.text
    assert response.json() == history.json()


async def test_body_is_ignored(local: httpx.AsyncClient, receiver: Receiver) -> None:
    order_id = await covered_order(local)
    await register(local, order_id, {"adapterId": "a", "invoke": receiver.base})
    response = await local.post(
        f"{ORDERS}/{order_id}/validate", content=b"not json", headers={"content-type": "text/x"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == []
    assert len(receiver.requests) == 1


# Idempotency (unchanged behaviour: a 200 is kept for its key, a 400 is not) -------------------


async def test_idempotent_pass_is_replayed_without_calling_again(
    local: httpx.AsyncClient, receiver: Receiver
) -> None:
    order_id = await covered_order(local)
    await register(local, order_id, {"adapterId": "a", "invoke": receiver.base})
    key = {"Idempotency-Key": "validate-" + secrets.token_hex(4)}
    first = await validate(local, order_id, headers=key)
    assert first.status_code == 200, first.text
    assert first.json() == []
    again = await validate(local, order_id, headers=key)
    assert again.status_code == 200, again.text
    assert again.json() == []
    assert again.headers["idempotent-replayed"] == "true"
    assert len(receiver.requests) == 1


async def test_idempotent_failure_runs_again(local: httpx.AsyncClient, receiver: Receiver) -> None:
    receiver.status, receiver.body = 400, b'{"code": "out-of-stock"}'
    order_id = await covered_order(local)
    await register(local, order_id, {"adapterId": "a", "invoke": receiver.base})
    key = {"Idempotency-Key": "validate-" + secrets.token_hex(4)}
    for _ in range(2):
        response = await validate(local, order_id, headers=key)
        assert response.status_code == 400, response.text
        assert response.json() == [{"code": "out-of-stock", "adapterId": "a"}]
        assert "idempotent-replayed" not in response.headers
    assert len(receiver.requests) == 2


async def test_unknown_order_is_404(local: httpx.AsyncClient) -> None:
    response = await validate(local, "o_AAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "order-not-found"


# Transitions leaving checkout (operation 18) use the same validation -------------------------


async def test_transition_refused_by_callback(local: httpx.AsyncClient, receiver: Receiver) -> None:
    receiver.status, receiver.body = 400, b'{"code": "out-of-stock", "message": "sold out"}'
    order_id = await covered_order(local)
    await register(local, order_id, {"adapterId": "stock", "url": receiver.base + "/{order_id}"})
    before = await local.get(f"{ORDERS}/{order_id}")

    response = await local.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "completed"})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "validation-failed"
    assert body["errors"] == [{"code": "out-of-stock", "adapterId": "stock", "message": "sold out"}]
    assert [r.target for r in receiver.requests] == [f"/{order_id}"]
    sent = json.loads(receiver.requests[0].body)
    assert sent["state"]["currentStatus"] == "completed"  # the proposal is validated
    after = await local.get(f"{ORDERS}/{order_id}")
    assert after.headers["etag"] == before.headers["etag"]
    assert after.json() == before.json()


async def test_transition_passes_with_warning_when_unavailable(
    local: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.status = 500
    order_id = await covered_order(local)
    validation_id = await register(local, order_id, {"adapterId": "stock", "invoke": receiver.base})
    response = await local.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "completed"})
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert response.headers["kassa-warnings"] == f"validation-unavailable:{validation_id}"
    response = await local.get(f"{ORDERS}/{order_id}")
    assert response.status_code == 200, response.text
    assert response.json()["state"]["currentStatus"] == "completed"
