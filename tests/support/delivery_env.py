"""Shared set-up of the delivery and events-API tests: an app with its own settings on the shared
test database (loopback receivers allowed, a known signing secret), a fresh tenant, and delivery
loops bound to that app that the tests drive pass by pass; and the steps the delivery tests share
(an event per receiver, delivering until a status, making a retry due)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import update

from kassa.app import create_app
from kassa.config import Settings
from kassa.db.engine import Database
from kassa.db.tables import events
from kassa.delivery.loop import DeliveryLoop
from kassa.state import AppState
from kassa.timeutil import parse_stamp
from tests.conftest import ORDERS, Tenant, client_for, create_order, make_tenant
from tests.support.receiver import Receiver

EVENTS = "/api/v1/events"
SECRET = "whsec_" + base64.b64encode(b"kassa-delivery-test-secret-32by").decode()
WAIT_S = 20.0  # upper bound for a condition to come true; not a timing assertion


@dataclass
class Env:
    client: httpx.AsyncClient
    state: AppState
    tenant: Tenant
    loops: list[DeliveryLoop] = field(default_factory=list)

    def loop(self, state: AppState | None = None, **kw: Any) -> DeliveryLoop:
        kw.setdefault("poll_interval_s", 0.05)
        loop = DeliveryLoop(state or self.state, **kw)
        self.loops.append(loop)
        return loop

    async def order_with_notification(
        self, path: str = "/n/{order_id}", base: str = "", **notification: Any
    ) -> str:
        """An order notifying ``base + path`` on every reference change (no event yet)."""
        entry = {"scope": "/reference", "invoke": base + path, **notification}
        return await create_order(self.client, {"notifications": [entry]})

    async def set_reference(self, order_id: str, reference: str) -> None:
        response = await self.client.put(f"{ORDERS}/{order_id}/reference", json=reference)
        assert response.status_code == 200, response.text

    async def events_of(self, order_id: str) -> list[dict[str, Any]]:
        """The order's events, lowest sequence first."""
        response = await self.client.get(EVENTS, params={"order_id": order_id, "limit": 100})
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return sorted(data, key=lambda e: e["sequence"])

    async def event(self, event_id: str) -> dict[str, Any]:
        response = await self.client.get(f"{EVENTS}/{event_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def settings_for(database_url: str, merchant: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "access_log": False,
        "outbound_allow": "127.0.0.1/32",
        "webhook_secrets": {merchant: [SECRET]},
        "delivery_timeout": 2.0,
    }
    values.update(overrides)
    return Settings(**values)


@contextlib.asynccontextmanager
async def delivery_env(
    db: Database, database_url: str, channels: list[str] | None = None, **overrides: Any
) -> AsyncIterator[Env]:
    tenant = await make_tenant(db, channels=channels)
    app = create_app(settings_for(database_url, tenant.merchant, **overrides), db=db)
    state: AppState = app.state.kassa
    env: Env | None = None
    try:
        async with client_for(app, tenant.headers) as client:
            env = Env(client, state, tenant)
            yield env
    finally:
        if env is not None:
            for loop in env.loops:
                loop.stop()
                await loop.close()
        if state.outbound is not None:
            await state.outbound.aclose()


async def until(
    condition: Callable[[], Awaitable[bool]], step: Callable[[], Awaitable[Any]] | None = None
) -> None:
    """Run ``step`` (or sleep briefly) until ``condition`` holds; fail after ``WAIT_S``."""
    deadline = time.monotonic() + WAIT_S
    while not await condition():
        assert time.monotonic() < deadline, "condition not reached"
        if step is not None:
            await step()
        await asyncio.sleep(0.01)


# Steps of the delivery tests ------------------------------------------------------------------


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


async def _attempted(env: Env, event_id: str, count: int) -> bool:
    return bool((await env.event(event_id))["attemptCount"] >= count)
