"""Validation callbacks (semantics §6.2-§6.4, api op 19) against real local HTTP receivers:
result mapping, placeholders, signing, failure policy and ``Kassa-Warnings``."""

from __future__ import annotations

import json
import logging
import socket

import httpx
import pytest

from kassa.metrics import REGISTRY
from tests.conftest import ORDERS
from tests.support.receiver import Receiver, verify_signature
from tests.support.validations import SECRET, TIMEOUT, covered_order, register, validate


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
        receiver.delay = TIMEOUT + 1.0
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
    receiver.delay = TIMEOUT + 1.0
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
