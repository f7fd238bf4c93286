"""Validation callbacks (semantics §6.2-§6.4, api op 19) against real local HTTP receivers:
result mapping, failure policy and ``Kassa-Warnings``, concurrency, placeholders, signing,
and that validating never changes the order."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from kassa.db.engine import Database
from kassa.metrics import REGISTRY
from tests.conftest import ORDERS, create_order
from tests.support.receiver import Receiver, app_client, verify_signature

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
TIMEOUT = 0.5


@pytest.fixture
async def local(db: Database, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An app that may call 127.0.0.1, signs with ``SECRET``; policy ``open`` (the default)."""
    async with app_client(
        db,
        database_url,
        outbound_allow="127.0.0.1/32",
        validation_timeout=TIMEOUT,
        webhook_secret=SECRET,
    ) as client:
        yield client


@pytest.fixture
async def closed(db: Database, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(
        db,
        database_url,
        outbound_allow="127.0.0.1/32",
        validation_timeout=TIMEOUT,
        webhook_secret=SECRET,
        validation_failure_policy="closed",
    ) as client:
        yield client


@pytest.fixture
async def second() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


COVERED = {"cart": {"items": [{"name": "T-Shirt", "quantity": 1, "total": {"includingVat": 20}}]}}


async def covered_order(client: httpx.AsyncClient, body: Any = None) -> str:
    """An order that passes the built-in checks: one item, one payment of the full total."""
    order_id = await create_order(client, COVERED if body is None else body)
    response = await client.post(f"{ORDERS}/{order_id}/payments", json={"amount": 20})
    assert response.status_code == 201, response.text
    return order_id


async def register(client: httpx.AsyncClient, order_id: str, validation: dict[str, Any]) -> str:
    response = await client.post(f"{ORDERS}/{order_id}/validations", json=validation)
    assert response.status_code == 200, response.text
    validation_id: str = response.json()["id"]
    return validation_id


async def validate(client: httpx.AsyncClient, order_id: str, **kw: Any) -> httpx.Response:
    return await client.post(f"{ORDERS}/{order_id}/validate", json={}, **kw)


def outbound_count(outcome: str) -> float:
    labels = {"kind": "validation", "outcome": outcome}
    return REGISTRY.get_sample_value("kassa_outbound_calls_total", labels) or 0.0


def refused_port() -> int:
    """A local port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# Passing -------------------------------------------------------------------------------------


async def test_passing_callback_receives_signed_order(
    local: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.status = 204
    order_id = await covered_order(local)
    validation_id = await register(
        local, order_id, {"adapterId": "stock", "invoke": receiver.base + "/check"}
    )
    order = await local.get(f"{ORDERS}/{order_id}")

    response = await validate(local, order_id)
    assert response.status_code == 200, response.text
    assert response.json() == []
    assert response.headers["content-type"] == "application/json"
    assert "kassa-warnings" not in response.headers

    assert len(receiver.requests) == 1
    received = receiver.requests[0]
    assert received.method == "POST"
    assert received.target == "/check"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["x-merchant"] == order.json()["merchant"]
    assert received.headers["x-channel"] == order.json()["channel"]
    assert received.headers["user-agent"].startswith("kassa/")
    assert received.headers["webhook-id"].startswith("msg_")
    assert "authorization" not in received.headers
    verify_signature(received, SECRET)
    sent = json.loads(received.body)
    assert sent == order.json()
    assert sent["validations"][0]["id"] == validation_id


async def test_placeholders_are_replaced(local: httpx.AsyncClient, receiver: Receiver) -> None:
    order_id = await covered_order(local)
    await register(
        local, order_id, {"adapterId": "a", "url": receiver.base + "/v/{order_id}?o={order.id}"}
    )
    response = await validate(local, order_id)
    assert response.status_code == 200, response.text
    assert response.json() == []
    assert [r.target for r in receiver.requests] == [f"/v/{order_id}?o={order_id}"]


async def test_no_callbacks_only_builtins(local: httpx.AsyncClient) -> None:
    order_id = await covered_order(local)
    response = await validate(local, order_id)
    assert response.status_code == 200, response.text
    assert response.json() == []
    assert "kassa-warnings" not in response.headers


# Failing with codes --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["v0", "v1"])
async def test_object_code_fails_validation(
    local: httpx.AsyncClient, receiver: Receiver, shape: str
) -> None:
    """Compatibility note 13: ``{"code": "out-of-stock"}`` → ``[{"code", "adapterId"}]``."""
    receiver.status = 400
    receiver.body = b'{"code": "out-of-stock"}'
    order_id = await covered_order(local)
    field = "url" if shape == "v0" else "invoke"
    await register(local, order_id, {"adapterId": "stock", field: receiver.base + "/check"})

    response = await validate(local, order_id)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == [{"code": "out-of-stock", "adapterId": "stock"}]
    assert response.json()[0]["code"] == "out-of-stock"
    assert "kassa-warnings" not in response.headers


async def test_object_code_with_message_and_without_adapter(
    local: httpx.AsyncClient, receiver: Receiver, second: Receiver
) -> None:
    receiver.status = 422
    receiver.body = b'{"code": "too-heavy", "message": "Max 20 kg.", "adapterId": "other"}'
    second.status = 409
    second.body = b'{"code": "blocked", "message": 42}'
    order_id = await covered_order(local)
    await register(local, order_id, {"invoke": receiver.base})
    await register(local, order_id, {"invoke": second.base, "adapterId": "risk"})

    response = await validate(local, order_id)
    assert response.status_code == 400, response.text
    assert response.json() == [
        {"code": "too-heavy", "adapterId": None, "message": "Max 20 kg."},
        {"code": "blocked", "adapterId": "risk"},
    ]


async def test_array_of_codes(local: httpx.AsyncClient, receiver: Receiver) -> None:
    receiver.status = 400
    receiver.body = (
        b'[{"code": "out-of-stock", "message": "item 1"}, {"code": "too-many"},'
        b' "junk", {"code": 5}, {"message": "no code"}]'
    )
    order_id = await covered_order(local)
    await register(local, order_id, {"adapterId": "stock", "invoke": receiver.base})

    response = await validate(local, order_id)
    assert response.status_code == 400, response.text
    assert response.json() == [
        {"code": "out-of-stock", "adapterId": "stock", "message": "item 1"},
        {"code": "too-many", "adapterId": "stock"},
    ]


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (400, b"", "application/json"),
        (400, b"out of stock", "text/plain"),
        (404, b"<html>not found</html>", "text/html"),
        (400, b'{"message": "no code"}', "application/json"),
        (400, b'{"code": 17}', "application/json"),
        (400, b'{"code": ""}', "application/json"),
        (400, b"[]", "application/json"),
        (400, b'[{"message": "x"}, "y"]', "application/json"),
        (400, b'"out-of-stock"', "application/json"),
        (499, b'{"code": ', "application/json"),
    ],
)
async def test_other_4xx_body_is_validation_failed(
    local: httpx.AsyncClient, receiver: Receiver, status: int, body: bytes, content_type: str
) -> None:
    receiver.status, receiver.body, receiver.content_type = status, body, content_type
    order_id = await covered_order(local)
    await register(local, order_id, {"adapterId": "stock", "invoke": receiver.base})

    response = await validate(local, order_id)
    assert response.status_code == 400, response.text
    assert response.json() == [{"code": "validation-failed", "adapterId": "stock"}]


# Unavailable callbacks -----------------------------------------------------------------------

UNAVAILABLE = ["500", "503", "302", "timeout", "refused", "url-refused", "too-large"]


def make_unavailable(case: str, receiver: Receiver) -> str:
    """Set ``receiver`` up for ``case``; return the URL to register."""
    if case == "timeout":
        receiver.delay = TIMEOUT * 3
    elif case == "refused":
        return f"http://127.0.0.1:{refused_port()}/check"
    elif case == "url-refused":
        return "http://10.0.0.1/check"  # not in the allowlist: refused before connecting
    elif case == "too-large":
        receiver.body = b" " * (1024 * 1024 + 1)
    else:
        receiver.status = int(case)
        receiver.body = b'{"code": "ignored"}'
    return receiver.base + "/check"


@pytest.mark.parametrize("case", UNAVAILABLE)
async def test_unavailable_passes_with_warning_when_open(
    local: httpx.AsyncClient, receiver: Receiver, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    order_id = await covered_order(local)
    validation_id = await register(
        local, order_id, {"adapterId": "stock", "invoke": make_unavailable(case, receiver)}
    )
    caplog.set_level(logging.WARNING, logger="kassa.validation")

    response = await validate(local, order_id)
    assert response.status_code == 200, response.text
    assert response.json() == []
    assert response.headers["kassa-warnings"] == f"validation-unavailable:{validation_id}"
    logged = [r for r in caplog.records if r.name == "kassa.validation"]
    assert [getattr(r, "validation_id", None) for r in logged] == [validation_id]
    assert logged[0].levelno == logging.WARNING


@pytest.mark.parametrize("case", UNAVAILABLE)
async def test_unavailable_fails_when_closed(
    closed: httpx.AsyncClient, receiver: Receiver, case: str
) -> None:
    order_id = await covered_order(closed)
    await register(
        closed, order_id, {"adapterId": "stock", "invoke": make_unavailable(case, receiver)}
    )
    response = await validate(closed, order_id)
    assert response.status_code == 400, response.text
    assert response.json() == [{"code": "validation-unavailable", "adapterId": "stock"}]
    assert "kassa-warnings" not in response.headers


async def test_timeout_is_counted(local: httpx.AsyncClient, receiver: Receiver) -> None:
    receiver.delay = TIMEOUT * 3
    order_id = await covered_order(local)
    validation_id = await register(local, order_id, {"invoke": receiver.base})
    before = outbound_count("timeout")
    response = await validate(local, order_id)
    assert response.status_code == 200, response.text
    assert response.json() == []
    assert response.headers["kassa-warnings"] == f"validation-unavailable:{validation_id}"
    assert outbound_count("timeout") == before + 1


async def test_warnings_and_errors_together(
    local: httpx.AsyncClient, receiver: Receiver, second: Receiver
) -> None:
    receiver.status = 503
    second.status = 400
    second.body = b'{"code": "out-of-stock"}'
    refused = f"http://127.0.0.1:{refused_port()}/"
    order_id = await covered_order(local)
    first_id = await register(local, order_id, {"adapterId": "a", "invoke": receiver.base})
    await register(local, order_id, {"adapterId": "b", "invoke": second.base})
    third_id = await register(local, order_id, {"adapterId": "c", "invoke": refused})

    response = await validate(local, order_id)
    assert response.status_code == 400, response.text
    assert response.json() == [{"code": "out-of-stock", "adapterId": "b"}]
    assert response.headers["kassa-warnings"] == (
        f"validation-unavailable:{first_id},validation-unavailable:{third_id}"
    )


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
