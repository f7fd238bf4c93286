"""Notification delivery against real local receivers (semantics §7.4-7.8, §12): the event
and its request, the outcome of each kind of answer, retries and their schedule, max age."""

from __future__ import annotations

import re
import time
from datetime import datetime

import orjson
import pytest
from sqlalchemy import select

from kassa import __version__
from kassa.db.engine import Database
from kassa.db.tables import events
from tests.conftest import ORDERS, create_order, get_order
from tests.support.delivery_env import (
    EVENTS,
    SECRET,
    Env,
    _attempted,
    deliver,
    delivery_env,
    make_due,
    one_event,
    seconds_between,
    until,
)
from tests.support.receiver import Receiver, verify_signature

STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


async def stored_payload(db: Database, event_id: str) -> str:
    statement = select(events.c.payload).where(events.c.id == event_id)
    payload: str = await db.read(lambda conn: conn.execute(statement).scalar_one())
    return payload


async def test_delivery_request_body_headers_and_signature(
    env: Env, receiver: Receiver, db: Database
) -> None:
    receiver.body = b'{"received": true}'
    order_id = await env.order_with_notification(
        base=receiver.base, adapterId="erp", reference="order-watch", description="ERP sync"
    )
    await env.set_reference(order_id, "r1")
    [listed] = await env.events_of(order_id)
    order = await get_order(env.client, order_id)
    before = await env.event(listed["id"])
    assert before["status"] == "pending"
    assert before["attemptCount"] == 0 and before["attempts"] == []
    assert before["lastAttemptAt"] is None and before["lastStatusCode"] is None
    assert STAMP.match(before["nextAttemptAt"])
    assert before["payload"] == {"notification": order["notifications"][0], "order": order}

    after = await deliver(env, env.loop(), listed["id"], "succeeded")
    [received] = receiver.requests
    assert received.method == "POST"
    assert received.target == f"/n/{order_id}"
    assert received.body == (await stored_payload(db, listed["id"])).encode()
    assert orjson.loads(received.body) == before["payload"]
    assert received.headers["content-type"] == "application/json"
    assert received.headers["webhook-id"] == listed["id"]
    assert received.headers["x-merchant"] == env.tenant.merchant
    assert received.headers["x-channel"] == env.tenant.channel
    assert received.headers["user-agent"] == f"kassa/{__version__}"
    assert "authorization" not in received.headers
    assert abs(int(received.headers["webhook-timestamp"]) - time.time()) < 300
    verify_signature(received, SECRET)

    assert after["status"] == "succeeded"
    assert after["attemptCount"] == 1
    assert after["lastStatusCode"] == 200
    assert after["nextAttemptAt"] is None
    [attempt] = after["attempts"]
    assert attempt == {
        "number": 1,
        "trigger": "automatic",
        "startedAt": after["lastAttemptAt"],
        "durationMs": attempt["durationMs"],
        "outcome": "success",
        "statusCode": 200,
        "error": None,
        "responseExcerpt": '{"received": true}',
    }
    assert STAMP.match(attempt["startedAt"]) and attempt["durationMs"] >= 0


async def test_retries_after_500_until_success_with_the_same_body(
    env: Env, receiver: Receiver, db: Database
) -> None:
    receiver.status, receiver.body = 500, b"boom"
    _, event_id = await one_event(env, receiver)
    loop = env.loop()
    first = await deliver(env, loop, event_id, "pending")
    await until(lambda: _attempted(env, event_id, 1), loop.run_once)
    first = await env.event(event_id)
    assert first["status"] == "pending"
    assert first["attemptCount"] == 1
    assert first["lastStatusCode"] == 500
    # the first retry is due 60 s after the attempt, plus at most 10 % jitter
    delay = seconds_between(first["lastAttemptAt"], first["nextAttemptAt"])
    assert 60 <= delay <= 66 + 2
    assert first["attempts"][0]["outcome"] == "http-error"
    assert first["attempts"][0]["statusCode"] == 500
    assert first["attempts"][0]["error"] == "HTTP 500"
    assert first["attempts"][0]["responseExcerpt"] == "boom"

    await make_due(db, event_id)
    await until(lambda: _attempted(env, event_id, 2), loop.run_once)
    second = await env.event(event_id)
    assert second["status"] == "pending"
    delay = seconds_between(second["lastAttemptAt"], second["nextAttemptAt"])
    assert 120 <= delay <= 132 + 2  # after the 2nd failed attempt: 2 minutes

    receiver.status, receiver.body = 200, b""
    await make_due(db, event_id)
    done = await deliver(env, loop, event_id, "succeeded")
    assert [a["outcome"] for a in done["attempts"]] == ["http-error", "http-error", "success"]
    assert [a["statusCode"] for a in done["attempts"]] == [500, 500, 200]
    assert [a["number"] for a in done["attempts"]] == [1, 2, 3]
    assert done["attempts"][2]["responseExcerpt"] == ""
    assert done["attemptCount"] == 3 and done["lastStatusCode"] == 200
    assert len(receiver.requests) == 3
    assert {r.body for r in receiver.requests} == {(await stored_payload(db, event_id)).encode()}
    assert {r.headers["webhook-id"] for r in receiver.requests} == {event_id}
    for received in receiver.requests:
        verify_signature(received, SECRET)


# (a 1xx never reaches kassa as a final answer; the classification of 1xx is unit-tested)
@pytest.mark.parametrize("status", [400, 401, 404, 410, 422, 301, 302])
async def test_other_4xx_and_3xx_fail_at_once(env: Env, receiver: Receiver, status: int) -> None:
    receiver.status, receiver.body = status, b'{"error": "no"}'
    _, event_id = await one_event(env, receiver)
    event = await deliver(env, env.loop(), event_id, "failed")
    assert event["attemptCount"] == 1
    assert event["nextAttemptAt"] is None
    assert event["lastStatusCode"] == status
    [attempt] = event["attempts"]
    assert attempt["outcome"] == "http-error"
    assert attempt["statusCode"] == status
    assert attempt["error"] == f"HTTP {status}"
    assert attempt["responseExcerpt"] == '{"error": "no"}'
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
async def test_retryable_statuses_keep_the_event_pending(
    env: Env, receiver: Receiver, status: int
) -> None:
    receiver.status = status
    _, event_id = await one_event(env, receiver)
    loop = env.loop()
    await until(lambda: _attempted(env, event_id, 1), loop.run_once)
    event = await env.event(event_id)
    assert event["status"] == "pending"
    assert event["lastStatusCode"] == status
    assert event["attempts"][0]["outcome"] == "http-error"
    assert 60 <= seconds_between(event["lastAttemptAt"], event["nextAttemptAt"]) <= 68


async def test_retry_after_on_429_raises_the_delay(env: Env, receiver: Receiver) -> None:
    receiver.status, receiver.extra_headers = 429, {"Retry-After": "3600"}
    _, event_id = await one_event(env, receiver)
    await until(lambda: _attempted(env, event_id, 1), env.loop().run_once)
    event = await env.event(event_id)
    assert event["status"] == "pending"
    assert event["lastStatusCode"] == 429
    assert 3600 <= seconds_between(event["lastAttemptAt"], event["nextAttemptAt"]) <= 3602


async def test_retry_after_is_capped_at_six_hours(env: Env, receiver: Receiver) -> None:
    receiver.status, receiver.extra_headers = 503, {"Retry-After": "999999"}
    _, event_id = await one_event(env, receiver)
    await until(lambda: _attempted(env, event_id, 1), env.loop().run_once)
    event = await env.event(event_id)
    assert event["status"] == "pending"
    assert 21600 <= seconds_between(event["lastAttemptAt"], event["nextAttemptAt"]) <= 21602


async def test_timeout_network_error_and_refused_url(
    db: Database, database_url: str, receiver: Receiver
) -> None:
    async with delivery_env(db, database_url, delivery_timeout=0.3) as env:
        receiver.delay = 1.0
        _, slow = await one_event(env, receiver)
        # a port nobody listens on
        closed = Receiver()
        await closed.start()
        await closed.stop()
        _, unreachable = await one_event(env, closed)
        refused_order = await env.order_with_notification("http://10.1.2.3/n")
        await env.set_reference(refused_order, "r1")
        [refused] = await env.events_of(refused_order)
        loop = env.loop()
        for event_id in (slow, unreachable):
            await until(lambda e=event_id: _attempted(env, e, 1), loop.run_once)  # type: ignore[misc]
        timed_out = await env.event(slow)
        assert timed_out["status"] == "pending"
        assert timed_out["lastStatusCode"] is None
        [attempt] = timed_out["attempts"]
        assert attempt["outcome"] == "timeout"
        assert attempt["statusCode"] is None
        assert attempt["error"] == "timeout after 0.3 s"
        assert attempt["responseExcerpt"] == ""
        network = await env.event(unreachable)
        assert network["status"] == "pending"
        assert network["attempts"][0]["outcome"] == "network-error"
        assert network["attempts"][0]["error"]  # e.g. "All connection attempts failed"
        assert network["attempts"][0]["statusCode"] is None
        failed = await deliver(env, loop, refused["id"], "failed")
        assert failed["attempts"][0]["outcome"] == "url-not-allowed"
        assert failed["attempts"][0]["statusCode"] is None
        assert failed["attempts"][0]["error"].startswith("url-not-allowed")
        assert failed["nextAttemptAt"] is None
        await until(lambda: _idle(receiver))  # let the slow answer finish before teardown


async def _idle(receiver: Receiver) -> bool:
    return not receiver._tasks


async def test_max_age_fails_a_retryable_event(
    db: Database, database_url: str, receiver: Receiver
) -> None:
    async with delivery_env(db, database_url, delivery_max_age=0) as env:
        receiver.status = 503
        _, event_id = await one_event(env, receiver)
        event = await deliver(env, env.loop(), event_id, "failed")
        assert event["attemptCount"] == 1
        assert event["lastStatusCode"] == 503
        assert event["nextAttemptAt"] is None


async def test_created_event_and_payload_from_creation(env: Env, receiver: Receiver) -> None:
    # scopes that resolve at creation fire with the creation itself (version 1)
    order_id = await create_order(
        env.client,
        {
            "reference": "at-creation",
            "cart": {"items": [{"name": "x", "quantity": 1, "total": {"includingVat": 0.1}}]},
            "notifications": [{"scope": "/reference", "invoke": receiver.base + "/c"}],
        },
    )
    [event] = await env.events_of(order_id)
    assert event["orderVersion"] == 1 and event["sequence"] == 1
    response = await env.client.get(f"{EVENTS}/{event['id']}")
    assert response.status_code == 200, response.text
    # the stored payload is embedded as is: numbers keep their text
    assert b'"includingVat":0.1' in response.content
    order = (await env.client.get(f"{ORDERS}/{order_id}")).content
    assert response.content.count(order) == 1
    created = datetime.fromisoformat(event["created"].replace("Z", "+00:00"))
    assert created.tzinfo is not None
