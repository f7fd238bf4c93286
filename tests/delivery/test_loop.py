"""The delivery loop against real local receivers (semantics §7.4-7.8, §14): per-order FIFO,
manual retry and replay, leases after a crash, waking and stopping, retention, the single
SQLite loop and concurrent PostgreSQL loops."""

from __future__ import annotations

import asyncio
from collections import Counter

import orjson
import pytest

from kassa.db.engine import Database
from kassa.delivery.loop import DeliveryLoop
from kassa.state import AppState
from kassa.timeutil import parse_stamp
from tests.support.delivery_env import (
    EVENTS,
    Env,
    _attempted,
    deliver,
    delivery_env,
    make_due,
    one_event,
    seconds_between,
    settings_for,
    until,
)
from tests.support.receiver import Receiver


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
    other_db = Database(database_url, pgbouncer=env.state.db.pgbouncer)
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
