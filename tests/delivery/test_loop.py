"""Notification delivery against real local receivers (semantics §7.4-7.8, §12, §14): the request,
retries and their schedule, per-order FIFO, manual retry and replay, leases after a crash, the
single SQLite loop and concurrent PostgreSQL loops."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select, update

from kassa import __version__
from kassa.db.engine import Database
from kassa.db.tables import events
from kassa.delivery.loop import DeliveryLoop
from kassa.delivery.transport import PerDestinationTransport
from kassa.state import AppState
from kassa.timeutil import parse_stamp
from tests.conftest import ORDERS, create_order, get_order
from tests.support.delivery_env import EVENTS, SECRET, Env, delivery_env, settings_for, until
from tests.support.receiver import Receiver, verify_signature

STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@pytest.fixture
async def env(db: Database, database_url: str) -> AsyncIterator[Env]:
    async with delivery_env(db, database_url) as environment:
        yield environment


async def stored_payload(db: Database, event_id: str) -> str:
    statement = select(events.c.payload).where(events.c.id == event_id)
    payload: str = await db.read(lambda conn: conn.execute(statement).scalar_one())
    return payload


async def make_due(db: Database, event_id: str) -> None:
    """Fast-forward: the event's next attempt is due now (instead of waiting minutes)."""
    now_ms = int(time.time() * 1000)
    statement = update(events).where(events.c.id == event_id).values(next_attempt_ms=now_ms)
    await db.write(lambda conn: conn.execute(statement))


def seconds_between(earlier: str, later: str) -> float:
    return (parse_stamp(later) - parse_stamp(earlier)).total_seconds()


async def deliver(env: Env, loop: DeliveryLoop, event_id: str, status: str) -> dict[str, Any]:
    """Run loop passes until the event has ``status``; returns the event."""

    async def reached() -> bool:
        return bool((await env.event(event_id))["status"] == status)

    await until(reached, loop.run_once)
    return await env.event(event_id)


async def one_event(env: Env, receiver: Receiver, **notification: Any) -> tuple[str, str]:
    order_id = await env.order_with_notification(base=receiver.base, **notification)
    await env.set_reference(order_id, "r1")
    [event] = await env.events_of(order_id)
    return order_id, event["id"]


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


async def _attempted(env: Env, event_id: str, count: int) -> bool:
    return bool((await env.event(event_id))["attemptCount"] >= count)


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


async def test_per_order_fifo(env: Env, receiver: Receiver, db: Database) -> None:
    receiver.status = 500
    order_id = await env.order_with_notification(base=receiver.base)
    await env.set_reference(order_id, "r1")
    await env.set_reference(order_id, "r2")
    first, second = await env.events_of(order_id)
    assert (first["sequence"], second["sequence"]) == (1, 2)
    loop = env.loop()
    await until(lambda: _attempted(env, first["id"], 1), loop.run_once)
    # the second is due, but the first is still pending: it must wait
    for _ in range(3):
        await loop.run_once()
    assert [r.headers["webhook-id"] for r in receiver.requests] == [first["id"]]
    assert (await env.event(second["id"]))["attemptCount"] == 0

    receiver.status = 200
    await make_due(db, first["id"])
    await deliver(env, loop, first["id"], "succeeded")
    await deliver(env, loop, second["id"], "succeeded")
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert ids == [first["id"], first["id"], second["id"]]
    payloads = [orjson.loads(r.body)["order"]["reference"] for r in receiver.requests]
    assert payloads == ["r1", "r1", "r2"]


async def test_manual_retry_of_a_pending_event(env: Env, receiver: Receiver) -> None:
    receiver.status = 500
    _, event_id = await one_event(env, receiver)
    loop = env.loop()
    await until(lambda: _attempted(env, event_id, 1), loop.run_once)
    scheduled = await env.event(event_id)
    response = await env.client.post(f"{EVENTS}/{event_id}/retry")
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "pending"
    assert body["id"] == event_id
    assert "payload" not in body and "attempts" not in body
    assert parse_stamp(body["nextAttemptAt"]) < parse_stamp(scheduled["nextAttemptAt"])
    await until(lambda: _attempted(env, event_id, 2), loop.run_once)
    event = await env.event(event_id)
    assert [a["trigger"] for a in event["attempts"]] == ["automatic", "manual"]
    # the automatic schedule goes on after the manual attempt (2nd failure: 2 minutes)
    assert event["status"] == "pending"
    assert 120 <= seconds_between(event["lastAttemptAt"], event["nextAttemptAt"]) <= 134


async def test_replay_of_succeeded_and_failed_events(env: Env, receiver: Receiver) -> None:
    _, event_id = await one_event(env, receiver)
    loop = env.loop()
    await deliver(env, loop, event_id, "succeeded")
    response = await env.client.post(f"{EVENTS}/{event_id}/retry")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    assert response.json()["attemptCount"] == 1
    receiver.status = 500  # a failing replay is final: no automatic retries
    await until(lambda: _attempted(env, event_id, 2), loop.run_once)
    replayed = await env.event(event_id)
    assert replayed["status"] == "failed"
    assert replayed["nextAttemptAt"] is None
    assert [a["trigger"] for a in replayed["attempts"]] == ["automatic", "manual"]
    assert [a["statusCode"] for a in replayed["attempts"]] == [200, 500]

    receiver.status = 200
    response = await env.client.post(f"{EVENTS}/{event_id}/retry")
    assert response.status_code == 202, response.text
    again = await deliver(env, loop, event_id, "succeeded")
    assert again["attemptCount"] == 3
    assert again["attempts"][2]["trigger"] == "manual"
    assert len(receiver.requests) == 3
    assert len({r.body for r in receiver.requests}) == 1
    assert {r.headers["webhook-id"] for r in receiver.requests} == {event_id}


async def test_retry_while_an_attempt_is_in_flight(env: Env, receiver: Receiver) -> None:
    receiver.status, receiver.delay = 500, 0.3
    _, event_id = await one_event(env, receiver)
    loop = env.loop()
    claimed = [e for e in await loop.claim(100) if e.id == event_id]
    assert len(claimed) == 1
    attempt = asyncio.create_task(loop.attempt(claimed[0]))
    await until(lambda: _received(receiver, 1))
    response = await env.client.post(f"{EVENTS}/{event_id}/retry")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    assert await loop.record([await attempt]) == {event_id: "pending"}
    receiver.delay = 0
    # the manual attempt asked for during the first one comes next, at once
    await until(lambda: _attempted(env, event_id, 2), loop.run_once)
    event = await env.event(event_id)
    assert [a["trigger"] for a in event["attempts"]] == ["automatic", "manual"]


async def _received(receiver: Receiver, count: int) -> bool:
    return len(receiver.requests) >= count


async def test_crash_during_delivery_loses_nothing(
    db: Database, database_url: str, receiver: Receiver
) -> None:
    async with delivery_env(db, database_url, delivery_timeout=1.0) as env:
        _, event_id = await one_event(env, receiver)
        receiver.delay = 5.0
        crashed = env.loop(lease_margin_s=0)  # leases last delivery_timeout only
        [claimed] = [e for e in await crashed.claim(100) if e.id == event_id]
        attempt = asyncio.create_task(crashed.attempt(claimed))
        await until(lambda: _received(receiver, 1))
        attempt.cancel()  # the process dies mid-request: nothing is recorded
        with pytest.raises(asyncio.CancelledError):
            await attempt
        receiver.delay = 0
        survivor = env.loop()
        await survivor.run_once()  # the lease is still alive: not attempted again yet
        assert len(receiver.requests) == 1
        event = await deliver(env, survivor, event_id, "succeeded")
        assert event["attemptCount"] == 1
        assert len(receiver.requests) == 2
        assert [r.headers["webhook-id"] for r in receiver.requests] == [event_id, event_id]
        assert receiver.requests[0].body == receiver.requests[1].body


async def test_a_late_result_after_losing_the_lease_is_dropped(
    db: Database, database_url: str, receiver: Receiver
) -> None:
    async with delivery_env(db, database_url, delivery_timeout=0.2) as env:
        _, event_id = await one_event(env, receiver)
        slow = env.loop(lease_margin_s=0)
        [claimed] = [e for e in await slow.claim(100) if e.id == event_id]
        await asyncio.sleep(0.3)  # the lease expires before the result is recorded
        other = env.loop()
        await deliver(env, other, event_id, "succeeded")
        late = await slow.attempt(claimed)
        assert await slow.record([late]) == {}
        event = await env.event(event_id)
        assert event["attemptCount"] == 1


async def test_running_loop_is_woken_by_a_commit(env: Env, receiver: Receiver) -> None:
    loop = env.loop(poll_interval_s=30)  # only the wake-up can make it deliver in time
    task = asyncio.create_task(loop.run())
    try:
        await until(lambda: _active(loop))
        _, event_id = await one_event(env, receiver)
        await until(lambda: _status_is(env, event_id, "succeeded"))
    finally:
        loop.stop()
        await task
    assert len(receiver.requests) == 1


async def _active(loop: DeliveryLoop) -> bool:
    await asyncio.sleep(0.01)
    return loop.active


async def _status_is(env: Env, event_id: str, status: str) -> bool:
    return bool((await env.event(event_id))["status"] == status)


async def test_graceful_stop_finishes_the_attempt_in_flight(env: Env, receiver: Receiver) -> None:
    receiver.delay = 0.3
    loop = env.loop()
    task = asyncio.create_task(loop.run())
    _, event_id = await one_event(env, receiver)
    await until(lambda: _received(receiver, 1))
    loop.stop()
    await task
    event = await env.event(event_id)
    assert event["status"] == "succeeded"
    assert event["attemptCount"] == 1


async def test_retention_purges_terminal_events_only(
    db: Database, database_url: str, receiver: Receiver
) -> None:
    async with delivery_env(db, database_url, event_retention=0) as env:
        _, done = await one_event(env, receiver)
        loop = env.loop()
        await deliver(env, loop, done, "succeeded")
        receiver.status = 500
        _, pending = await one_event(env, receiver)
        await until(lambda: _attempted(env, pending, 1), loop.run_once)
        await asyncio.sleep(0.01)
        assert await loop.purge() >= 1
        response = await env.client.get(f"{EVENTS}/{done}")
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "event-not-found"
        assert (await env.event(pending))["status"] == "pending"


async def test_sqlite_second_loop_stays_idle_while_the_lease_is_held(
    env: Env, receiver: Receiver, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the single-loop lease is SQLite's")
    first = env.loop(loop_lease_ttl_s=5)
    second = env.loop(loop_lease_ttl_s=5)
    first_task = asyncio.create_task(first.run())
    await until(lambda: _active(first))
    second_task = asyncio.create_task(second.run())
    try:
        _, event_id = await one_event(env, receiver)
        await until(lambda: _status_is(env, event_id, "succeeded"))
        assert second.attempts == 0
        assert not second.active
        assert await second.run_once() == 0
        first.stop()
        await first_task  # releases the lease: the second loop takes over
        await until(lambda: _active(second))
        _, later = await one_event(env, receiver)
        await until(lambda: _status_is(env, later, "succeeded"))
        assert second.attempts >= 1
    finally:
        first.stop()
        second.stop()
        await asyncio.gather(first_task, second_task)
    assert [r.headers["webhook-id"] for r in receiver.requests] == [event_id, later]


async def test_postgresql_concurrent_loops_deliver_each_event_once(
    env: Env, receiver: Receiver, database_url: str
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("several delivery loops per database need PostgreSQL")
    orders = []
    for _ in range(30):
        order_id = await env.order_with_notification(base=receiver.base)
        await env.set_reference(order_id, "r1")
        await env.set_reference(order_id, "r2")
        orders.append(order_id)
    expected = {e["id"]: (o, e["sequence"]) for o in orders for e in await env.events_of(o)}
    assert len(expected) == 60
    # a second "process": its own connection pool and state
    other_db = Database(database_url)
    other_state = AppState(settings=settings_for(database_url, env.tenant.merchant), db=other_db)
    loops = [env.loop(batch_size=7), env.loop(other_state, batch_size=7)]
    tasks = [asyncio.create_task(loop.run()) for loop in loops]

    async def all_done() -> bool:
        statuses = [(await env.event(e))["status"] for e in expected]
        return all(s == "succeeded" for s in statuses)

    try:
        await until(all_done)
    finally:
        for loop in loops:
            loop.stop()
        await asyncio.gather(*tasks)
        if other_state.outbound is not None:
            await other_state.outbound.aclose()
        await other_db.dispose()
    ours = [r for r in receiver.requests if r.headers["webhook-id"] in expected]
    assert Counter(r.headers["webhook-id"] for r in ours) == Counter(dict.fromkeys(expected, 1))
    for order_id in orders:
        seen = [expected[r.headers["webhook-id"]][1] for r in ours if order_id in r.target]
        assert seen == [1, 2]


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


async def test_per_destination_pools_limit_connections_and_are_evicted() -> None:
    slow, other = Receiver(delay=0.1), Receiver()
    await slow.start()
    await other.start()
    transport = PerDestinationTransport(per_destination=2, max_destinations=1)
    busiest = 0
    try:
        async with httpx.AsyncClient(transport=transport) as client:
            posts = [
                asyncio.create_task(client.post(slow.base + "/x", content=b"{}")) for _ in range(6)
            ]
            while not all(p.done() for p in posts):
                busiest = max(busiest, len(slow._tasks))
                await asyncio.sleep(0.005)
            assert [p.result().status_code for p in posts] == [200] * 6
            response = await client.post(other.base + "/y", content=b"{}")
            assert response.status_code == 200
            assert len(transport._pools) == 1  # the idle pool of the first receiver was closed
    finally:
        await slow.stop()
        await other.stop()
    assert 1 <= busiest <= 2
    assert len(slow.requests) == 6 and len(other.requests) == 1
