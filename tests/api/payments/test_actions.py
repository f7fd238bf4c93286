"""Payment actions: registration (api §2.2 operation 27, §3.18) and execution against a real
local HTTP receiver (operation 28; semantics §7.5 signing, §8 execution, §12 outbound rules)."""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kassa.db.engine import Database
from tests.conftest import ORDERS, create_order
from tests.support.http_asserts import assert_error
from tests.support.receiver import Receiver, app_client, verify_signature

ACTION_ID = re.compile(r"^pa_[A-Za-z]{26}$")
TRANSACTION_ID = re.compile(r"^pt_[A-Za-z]{26}$")
MESSAGE_ID = re.compile(r"^msg_[A-Za-z]{26}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
ACTION_TIMEOUT = 1.0


@pytest.fixture
async def local(db: Database, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that may call 127.0.0.1 and signs with ``SECRET``."""
    async with app_client(
        db,
        database_url,
        outbound_allow="127.0.0.1/32",
        action_timeout=ACTION_TIMEOUT,
        webhook_secret=SECRET,
    ) as client:
        yield client


async def setup_action(client: httpx.AsyncClient, url: str) -> tuple[str, str, str]:
    order_id = await create_order(client, {"currency": "SEK"})
    response = await client.post(f"{ORDERS}/{order_id}/payments", json={"amount": 10})
    assert response.status_code == 201, response.text
    payment_id = response.json()["id"]
    response = await client.post(
        f"{ORDERS}/{order_id}/payments/{payment_id}/actions",
        json=[{"adapterId": "psp", "type": "capture", "url": url}],
    )
    assert response.status_code == 200, response.text
    action_id = response.json()[0]["id"]
    return order_id, payment_id, action_id


def execute_url(order_id: str, payment_id: str, action_id: str) -> str:
    return f"{ORDERS}/{order_id}/payments/{payment_id}/actions/{action_id}/execute"


async def transactions(client: httpx.AsyncClient, order_id: str, payment_id: str) -> list[Any]:
    response = await client.get(f"{ORDERS}/{order_id}/payments/{payment_id}/transactions")
    assert response.status_code == 200, response.text
    listed: list[Any] = response.json()
    return listed


# POST actions (operation 27) ----------------------------------------------------------------


async def test_add_actions_returns_created_actions(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.post(
        f"{ORDERS}/{order_id}/payments",
        json={"actions": [{"adapterId": "a", "type": "refresh", "url": "https://x.example/r"}]},
    )
    assert response.status_code == 201, response.text
    payment_id = response.json()["id"]
    sent = [
        {"adapterId": "string", "type": "string", "url": "string"},  # the documented example
        {
            "id": "pa_AAAAAAAAAAAAAAAAAAAAAAAAAA",
            "adapterId": "psp",
            "type": "Capture",
            "url": "https://psp.example/{order_id}/{payment_id}",
        },
    ]
    response = await client.post(f"{ORDERS}/{order_id}/payments/{payment_id}/actions", json=sent)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"3"'
    created = response.json()
    assert [{k: a[k] for k in ("adapterId", "type", "url")} for a in created] == [
        {k: a[k] for k in ("adapterId", "type", "url")} for a in sent
    ]
    assert all(
        ACTION_ID.match(a["id"]) and set(a) == {"id", "adapterId", "type", "url"} for a in created
    )
    assert created[1]["id"] != "pa_AAAAAAAAAAAAAAAAAAAAAAAAAA"  # client ids are ignored
    assert created[0]["id"] != created[1]["id"]

    response = await client.get(f"{ORDERS}/{order_id}/payments/{payment_id}")
    assert response.status_code == 200, response.text
    actions = response.json()["actions"]
    assert len(actions) == 3
    assert actions[0]["type"] == "refresh"
    assert actions[1:] == created  # appended in request order


@pytest.mark.parametrize(
    "body",
    [
        [],
        {},
        {"adapterId": "a", "type": "t", "url": "https://x.example"},
        [{"type": "t", "url": "https://x.example"}],
        [{"adapterId": "a", "url": "https://x.example"}],
        [{"adapterId": "a", "type": "t"}],
        [{"adapterId": "", "type": "t", "url": "https://x.example"}],
        [{"adapterId": "a", "type": "", "url": "https://x.example"}],
        [{"adapterId": "a", "type": "t", "url": ""}],
        [{"adapterId": "a", "type": "t", "url": "https://x.example/" + "x" * 2048}],
        [{"adapterId": "a", "type": "t", "url": "https://x.example"}, {"adapterId": "a"}],
    ],
)
async def test_add_actions_invalid(client: httpx.AsyncClient, body: Any) -> None:
    order_id = await create_order(client)
    response = await client.post(f"{ORDERS}/{order_id}/payments", json={})
    payment_id = response.json()["id"]
    response = await client.post(f"{ORDERS}/{order_id}/payments/{payment_id}/actions", json=body)
    assert_error(response, 400, "invalid-request")
    response = await client.get(f"{ORDERS}/{order_id}/payments/{payment_id}")
    assert response.json()["actions"] == []
    assert response.headers["etag"] == '"2"'


async def test_add_actions_not_found_and_limits(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    action = {"adapterId": "a", "type": "t", "url": "https://x.example"}
    response = await client.post(
        f"{ORDERS}/{order_id}/payments/p_AAAAAAAAAAAAAAAAAAAAAAAAAA/actions", json=[action]
    )
    assert_error(response, 404, "payment-not-found")
    response = await client.post(f"{ORDERS}/{order_id}/payments", json={"actions": [action] * 49})
    payment_id = response.json()["id"]
    url = f"{ORDERS}/{order_id}/payments/{payment_id}/actions"
    assert_error(await client.post(url, json=[action, action]), 400, "limit-exceeded")
    response = await client.post(url, json=[action])
    assert response.status_code == 200, response.text
    assert len(response.json()) == 1
    assert_error(await client.post(url, json=[action]), 400, "limit-exceeded")


async def test_add_actions_refused_in_removed_order(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.post(f"{ORDERS}/{order_id}/payments", json={})
    payment_id = response.json()["id"]
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "removed"})
    assert response.status_code == 200, response.text
    action = {"adapterId": "a", "type": "t", "url": "https://x.example"}
    response = await client.post(
        f"{ORDERS}/{order_id}/payments/{payment_id}/actions", json=[action]
    )
    assert assert_error(response, 409, "order-not-editable")["state"] == "removed"


# Execute (operation 28) ---------------------------------------------------------------------


async def test_execute_success(local: httpx.AsyncClient, receiver: Receiver) -> None:
    receiver.body = b'{"status": "captured",  "psp": "ok"}'
    url = receiver.base + "/act/{order_id}/{payment_id}?o={order.id}&p={payment.id}"
    order_id, payment_id, action_id = await setup_action(local, url)
    response = await local.get(f"{ORDERS}/{order_id}")
    order = response.json()
    version = int(response.headers["etag"].strip('"'))

    response = await local.post(execute_url(order_id, payment_id, action_id))
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == f'"{version + 1}"'
    transaction = response.json()
    assert TRANSACTION_ID.match(transaction["id"])
    assert TIMESTAMP.match(transaction["created"])
    assert transaction == {
        "id": transaction["id"],
        "event": "paymentAction",
        "isSuccess": True,
        "pspStatus": "200",
        "responseJson": '{"status": "captured",  "psp": "ok"}',
        "created": transaction["created"],
        "paymentAction": {"id": action_id, "adapterId": "psp", "type": "capture", "url": url},
    }
    assert await transactions(local, order_id, payment_id) == [transaction]

    [received] = receiver.requests
    assert received.method == "POST"
    assert received.target == f"/act/{order_id}/{payment_id}?o={order_id}&p={payment_id}"
    assert received.body == b""
    assert received.headers["x-merchant"] == order["merchant"]
    assert received.headers["x-channel"] == order["channel"]
    assert received.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert MESSAGE_ID.match(received.headers["webhook-id"])
    assert abs(int(received.headers["webhook-timestamp"]) - time.time()) < 300
    assert received.headers["user-agent"].startswith("kassa/")
    assert "authorization" not in received.headers
    verify_signature(received, SECRET)

    # the execution changes neither payment state nor ledger sums
    response = await local.get(f"{ORDERS}/{order_id}/payments/{payment_id}")
    assert response.json()["state"] == "intent"
    capture = {"event": "capture", "isSuccess": True, "amount": 10}
    response = await local.post(
        f"{ORDERS}/{order_id}/payments/{payment_id}/transactions", json=capture
    )
    assert response.status_code == 200, response.text

    # history: an entry with an empty patch and details
    response = await local.get(f"{ORDERS}/{order_id}/history")
    entry = response.json()[version]  # sequence version + 1
    assert entry["sequence"] == version + 1
    assert entry["operation"] == "ExecutePaymentAction"
    assert entry["patch"] == []
    assert entry["details"]["paymentId"] == payment_id
    assert entry["details"]["transactionId"] == transaction["id"]
    assert entry["details"]["event"] == "paymentAction"
    assert entry["details"]["isSuccess"] is True


async def test_execute_each_call_has_fresh_message_id(
    local: httpx.AsyncClient, receiver: Receiver
) -> None:
    order_id, payment_id, action_id = await setup_action(local, receiver.base + "/x")
    for _ in range(2):
        response = await local.post(execute_url(order_id, payment_id, action_id))
        assert response.status_code == 200, response.text
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(ids) == 2 and ids[0] != ids[1]
    for received in receiver.requests:
        verify_signature(received, SECRET)
    assert len(await transactions(local, order_id, payment_id)) == 2


async def test_execute_non_json_success_body(local: httpx.AsyncClient, receiver: Receiver) -> None:
    receiver.status, receiver.body, receiver.content_type = 204, b"", "text/plain"
    order_id, payment_id, action_id = await setup_action(local, receiver.base + "/x")
    response = await local.post(execute_url(order_id, payment_id, action_id))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["isSuccess"], body["pspStatus"]) == (True, "204")
    assert "responseJson" not in body and "errorDetail" not in body and "amount" not in body

    receiver.status, receiver.body = 200, b"<ok/>"
    response = await local.post(execute_url(order_id, payment_id, action_id))
    assert response.status_code == 200, response.text
    assert "responseJson" not in response.json()


async def test_execute_upstream_500(local: httpx.AsyncClient, receiver: Receiver) -> None:
    receiver.status, receiver.body = 500, b'{"error": "boom"}'
    order_id, payment_id, action_id = await setup_action(local, receiver.base + "/fail")
    etag = (await local.get(f"{ORDERS}/{order_id}")).headers["etag"]
    response = await local.post(execute_url(order_id, payment_id, action_id))
    body = assert_error(response, 502, "action-failed")
    assert body["upstreamStatus"] == 500
    assert body["reason"] == "http-error"
    assert len(receiver.requests) == 1
    [transaction] = await transactions(local, order_id, payment_id)
    assert transaction["event"] == "paymentAction"
    assert transaction["isSuccess"] is False
    assert transaction["pspStatus"] == "500"
    assert transaction["responseJson"] == '{"error": "boom"}'
    assert isinstance(transaction["errorDetail"], str) and transaction["errorDetail"]
    assert transaction["paymentAction"]["id"] == action_id
    # the failed execution is a committed change
    new_etag = (await local.get(f"{ORDERS}/{order_id}")).headers["etag"]
    assert int(new_etag.strip('"')) == int(etag.strip('"')) + 1


async def test_execute_upstream_404(local: httpx.AsyncClient, receiver: Receiver) -> None:
    receiver.status, receiver.body = 404, b"not here"
    order_id, payment_id, action_id = await setup_action(local, receiver.base + "/x")
    body = assert_error(
        await local.post(execute_url(order_id, payment_id, action_id)), 502, "action-failed"
    )
    assert (body["upstreamStatus"], body["reason"]) == (404, "http-error")
    [transaction] = await transactions(local, order_id, payment_id)
    assert (transaction["isSuccess"], transaction["pspStatus"]) == (False, "404")
    assert "responseJson" not in transaction


async def test_execute_timeout(local: httpx.AsyncClient, receiver: Receiver) -> None:
    receiver.delay = ACTION_TIMEOUT + 1.5
    order_id, payment_id, action_id = await setup_action(local, receiver.base + "/slow")
    response = await local.post(execute_url(order_id, payment_id, action_id))
    body = assert_error(response, 502, "action-failed")
    assert body["reason"] == "timeout"
    assert body["upstreamStatus"] is None
    assert len(receiver.requests) == 1
    [transaction] = await transactions(local, order_id, payment_id)
    assert transaction["isSuccess"] is False
    assert "pspStatus" not in transaction
    assert isinstance(transaction["errorDetail"], str) and transaction["errorDetail"]


async def test_execute_redirect_is_not_followed(
    local: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.status = 302
    receiver.extra_headers = {"Location": receiver.base + "/elsewhere"}
    order_id, payment_id, action_id = await setup_action(local, receiver.base + "/moved")
    response = await local.post(execute_url(order_id, payment_id, action_id))
    body = assert_error(response, 502, "action-failed")
    assert (body["upstreamStatus"], body["reason"]) == (302, "http-error")
    assert [r.target for r in receiver.requests] == ["/moved"]
    [transaction] = await transactions(local, order_id, payment_id)
    assert (transaction["isSuccess"], transaction["pspStatus"]) == (False, "302")


async def test_execute_network_error(local: httpx.AsyncClient, receiver: Receiver) -> None:
    # a port nobody listens on: bind one, then release it
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    order_id, payment_id, action_id = await setup_action(local, f"http://127.0.0.1:{port}/x")
    body = assert_error(
        await local.post(execute_url(order_id, payment_id, action_id)), 502, "action-failed"
    )
    assert (body["upstreamStatus"], body["reason"]) == (None, "network-error")
    [transaction] = await transactions(local, order_id, payment_id)
    assert transaction["isSuccess"] is False
    assert transaction["errorDetail"]


async def assert_refused(client: httpx.AsyncClient, url: str) -> None:
    order_id, payment_id, action_id = await setup_action(client, url)
    response = await client.post(execute_url(order_id, payment_id, action_id))
    body = assert_error(response, 502, "action-failed")
    assert body["reason"] == "url-not-allowed"
    assert body["upstreamStatus"] is None
    [transaction] = await transactions(client, order_id, payment_id)
    assert transaction["event"] == "paymentAction"
    assert transaction["isSuccess"] is False
    assert transaction["errorDetail"].startswith("url-not-allowed")
    assert "pspStatus" not in transaction
    assert transaction["paymentAction"] == {
        "id": action_id,
        "adapterId": "psp",
        "type": "capture",
        "url": url,
    }


async def test_loopback_refused_by_default(client: httpx.AsyncClient, receiver: Receiver) -> None:
    # the shared app runs with the default (empty) outbound_allow
    await assert_refused(client, receiver.base + "/x")
    await assert_refused(client, f"http://localhost:{receiver.port}/x")
    assert receiver.requests == []


@pytest.fixture
async def open_client(db: Database, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(db, database_url, outbound_allow="*", webhook_secret=SECRET) as client:
        yield client


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://0.0.0.0:{port}/",
        "http://metadata.google.internal/",
        "ftp://127.0.0.1:{port}/",
        "http://user:pw@127.0.0.1:{port}/",
        "/relative/{order_id}",
        "string",
    ],
)
async def test_refused_even_when_everything_is_allowed(
    open_client: httpx.AsyncClient, receiver: Receiver, url: str
) -> None:
    await assert_refused(open_client, url.replace("{port}", str(receiver.port)))
    assert receiver.requests == []


async def test_allowlist_without_loopback_refuses(
    db: Database, database_url: str, receiver: Receiver
) -> None:
    async with app_client(db, database_url, outbound_allow="10.0.0.0/8") as client:
        await assert_refused(client, receiver.base + "/x")
    assert receiver.requests == []


async def test_execute_unknown_ids(local: httpx.AsyncClient) -> None:
    order_id, payment_id, action_id = await setup_action(local, "https://psp.example/x")
    response = await local.post(execute_url(order_id, payment_id, "pa_AAAAAAAAAAAAAAAAAAAAAAAAAA"))
    assert_error(response, 404, "action-not-found")
    response = await local.post(execute_url(order_id, "p_AAAAAAAAAAAAAAAAAAAAAAAAAA", action_id))
    assert_error(response, 404, "payment-not-found")
    response = await local.post(execute_url("o_AAAAAAAAAAAAAAAAAAAAAAAAAA", payment_id, action_id))
    assert_error(response, 404, "order-not-found")
    # an action of another payment of the same order is unknown on this one
    response = await local.post(f"{ORDERS}/{order_id}/payments", json={})
    other = response.json()["id"]
    assert_error(await local.post(execute_url(order_id, other, action_id)), 404, "action-not-found")
    assert await transactions(local, order_id, payment_id) == []


async def test_execute_in_removed_order(local: httpx.AsyncClient, receiver: Receiver) -> None:
    order_id, payment_id, action_id = await setup_action(local, receiver.base + "/x")
    response = await local.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "removed"})
    assert response.status_code == 200, response.text
    response = await local.post(execute_url(order_id, payment_id, action_id))
    assert assert_error(response, 409, "order-not-editable")["state"] == "removed"
    assert receiver.requests == []
    assert await transactions(local, order_id, payment_id) == []


async def test_execute_if_match(local: httpx.AsyncClient, receiver: Receiver) -> None:
    order_id, payment_id, action_id = await setup_action(local, receiver.base + "/x")
    etag = (await local.get(f"{ORDERS}/{order_id}")).headers["etag"]
    response = await local.post(
        execute_url(order_id, payment_id, action_id), headers={"If-Match": '"1"'}
    )
    assert assert_error(response, 412, "precondition-failed")["currentETag"] == etag
    assert receiver.requests == []
    response = await local.post(
        execute_url(order_id, payment_id, action_id), headers={"If-Match": etag}
    )
    assert response.status_code == 200, response.text
    assert len(receiver.requests) == 1


async def test_execute_idempotency_replay(local: httpx.AsyncClient, receiver: Receiver) -> None:
    order_id, payment_id, action_id = await setup_action(local, receiver.base + "/x")
    headers = {"Idempotency-Key": "exec-1"}
    first = await local.post(execute_url(order_id, payment_id, action_id), headers=headers)
    assert first.status_code == 200, first.text
    second = await local.post(
        execute_url(order_id, payment_id, action_id), headers=headers, json={"ignored": True}
    )
    assert second.status_code == 200, second.text
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()
    assert len(receiver.requests) == 1
    assert len(await transactions(local, order_id, payment_id)) == 1


async def test_failed_execution_may_be_retried_with_same_key(
    local: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.status = 503
    order_id, payment_id, action_id = await setup_action(local, receiver.base + "/x")
    headers = {"Idempotency-Key": "exec-2"}
    response = await local.post(execute_url(order_id, payment_id, action_id), headers=headers)
    assert_error(response, 502, "action-failed")
    receiver.status = 200
    response = await local.post(execute_url(order_id, payment_id, action_id), headers=headers)
    assert response.status_code == 200, response.text
    assert "idempotent-replayed" not in response.headers
    assert len(receiver.requests) == 2
    assert [t["isSuccess"] for t in await transactions(local, order_id, payment_id)] == [
        False,
        True,
    ]
