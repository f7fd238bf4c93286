"""Notification events written with each committed change (semantics §7.1-7.3, §4.2)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any, cast

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from kassa.callbacks.changes import ABSENT, changed, value_at
from kassa.db.engine import Database
from kassa.db.tables import events
from kassa.events.outbox import firing
from kassa.orders.document import Order
from tests.conftest import ORDERS, create_order, get_order
from tests.receiver import app_client

INVOKE = "http://receiver.test/n/{order_id}?again={order.id}"


async def stored_events(db: Database, order_id: str) -> list[dict[str, Any]]:
    def query(conn: Any) -> list[dict[str, Any]]:
        rows = conn.execute(
            select(events).where(events.c.order_id == order_id).order_by(events.c.sequence)
        )
        return [dict(row._mapping) for row in rows]

    return await db.read(query)


def notification(scope: str, **extra: Any) -> dict[str, Any]:
    return {"scope": scope, "invoke": INVOKE, **extra}


async def test_creation_fires_for_resolving_scopes(client: httpx.AsyncClient, db: Database) -> None:
    order_id = await create_order(
        client,
        {
            "reference": "r0",
            "notifications": [
                notification("/cart", reference="cart-watch", adapterId="erp"),
                notification("/reference"),
                notification("/attributes/missing"),
            ],
        },
    )
    rows = await stored_events(db, order_id)
    order = await get_order(client, order_id)
    assert [r["sequence"] for r in rows] == [1, 2]
    assert [r["scope"] for r in rows] == ["/cart", "/reference"]
    first = rows[0]
    assert first["id"].startswith("ev_") and len(first["id"]) == 29
    assert first["status"] == "pending"
    assert first["order_version"] == 1
    assert first["created"] == order["lastModified"]
    assert first["invoke"] == f"http://receiver.test/n/{order_id}?again={order_id}"
    assert first["adapter_id"] == "erp" and first["reference"] == "cart-watch"
    assert first["notification_id"] == order["notifications"][0]["id"]
    payload = orjson.loads(first["payload"])
    assert payload == {"notification": order["notifications"][0], "order": order}


async def test_fires_once_per_matching_change_with_schema(
    client: httpx.AsyncClient, db: Database
) -> None:
    watch = notification("/state/currentStatus", schema={"const": "declined"})
    order_id = await create_order(client, {"notifications": [watch]})
    assert await stored_events(db, order_id) == []
    response = await client.patch(f"{ORDERS}/{order_id}/attributes", json={"a": 1})
    assert response.status_code == 200, response.text
    assert await stored_events(db, order_id) == []
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "declined"})
    assert response.status_code == 200, response.text
    rows = await stored_events(db, order_id)
    assert len(rows) == 1
    assert rows[0]["order_version"] == 3 and rows[0]["sequence"] == 1
    # a same-state write is a no-op: no event
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "declined"})
    assert response.status_code == 200, response.text
    assert len(await stored_events(db, order_id)) == 1


async def test_enum_schema_and_registration_then_sequence(
    client: httpx.AsyncClient, db: Database
) -> None:
    order_id = await create_order(client)
    response = await client.post(
        f"{ORDERS}/{order_id}/notifications",
        json=notification("/reference", schema={"enum": ["b", "c"]}),
    )
    assert response.status_code == 200, response.text
    for value in ("a", "b", "c", "c"):
        response = await client.put(f"{ORDERS}/{order_id}/reference", json=value)
        assert response.status_code == 200, response.text
    rows = await stored_events(db, order_id)
    assert [(r["sequence"], r["order_version"]) for r in rows] == [(1, 4), (2, 5)]


async def test_scope_without_schema_fires_when_value_disappears(
    client: httpx.AsyncClient, db: Database
) -> None:
    order_id = await create_order(
        client, {"consents": [{"id": "c1"}], "notifications": [notification("/consents")]}
    )
    assert len(await stored_events(db, order_id)) == 1
    response = await client.delete(f"{ORDERS}/{order_id}/consents/c1")
    assert response.status_code == 200, response.text
    assert len(await stored_events(db, order_id)) == 2


async def test_refused_writes_and_transactions_fire_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    order_id = await create_order(
        client, {"currency": "SEK", "notifications": [notification("/payments")]}
    )
    response = await client.post(f"{ORDERS}/{order_id}/payments", json={"amount": 10})
    assert response.status_code == 201, response.text
    payment_id = response.json()["id"]
    assert len(await stored_events(db, order_id)) == 2  # creation, then the new payment
    # refused: amount not fitting the currency
    response = await client.put(
        f"{ORDERS}/{order_id}/payments/{payment_id}", json={"amount": "10.001"}
    )
    assert response.status_code == 400, response.text
    response = await client.post(
        f"{ORDERS}/{order_id}/payments/{payment_id}/transactions",
        json={"event": "open", "isSuccess": True},
    )
    assert response.status_code == 200, response.text
    assert len(await stored_events(db, order_id)) == 2
    # deleting the order keeps its events
    response = await client.delete(f"{ORDERS}/{order_id}")
    assert response.status_code == 204, response.text
    assert len(await stored_events(db, order_id)) == 2


async def test_idempotent_replay_fires_nothing(client: httpx.AsyncClient, db: Database) -> None:
    order_id = await create_order(client, {"notifications": [notification("/reference")]})
    headers = {"Idempotency-Key": "ref-1"}
    for _ in range(2):
        response = await client.put(f"{ORDERS}/{order_id}/reference", json="x", headers=headers)
        assert response.status_code == 200, response.text
    assert len(await stored_events(db, order_id)) == 1


@pytest.fixture
async def channel_client(db: Database, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(db, database_url) as probe:
        merchant, channel = probe.headers["x-merchant"], probe.headers["x-channel"]
        configured = {(merchant, channel): [{"scope": "/reference", "invoke": INVOKE}]}
        async with app_client(db, database_url, channel_notifications=configured) as client:
            client.headers.update(probe.headers)
            yield client


async def test_channel_notifications_are_added_to_new_orders(
    channel_client: httpx.AsyncClient, db: Database
) -> None:
    body = {"notifications": [notification("/cart")]}
    order_id = await create_order(channel_client, body)
    order = await get_order(channel_client, order_id)
    assert [n["scope"] for n in order["notifications"]] == ["/cart", "/reference"]
    assert all(n["id"].startswith("oc_") for n in order["notifications"])
    response = await channel_client.put(f"{ORDERS}/{order_id}/reference", json="r")
    assert response.status_code == 200, response.text
    assert [r["scope"] for r in await stored_events(db, order_id)] == ["/cart", "/reference"]


# Change detection (pure) ---------------------------------------------------------------------


def test_value_at_and_changed() -> None:
    doc = {"a": {"b~/c": 1, "list": [1, 2]}, "lastModified": "x"}
    assert value_at(doc, "/a/b~0~1c") == 1
    assert value_at(doc, "/a/list/0") is ABSENT  # a segment meeting an array
    assert value_at(doc, "/lastModified") is ABSENT
    assert value_at(None, "/a") is ABSENT
    assert changed({"n": 1}, {"n": Decimal("1.00")}, "/n") is False
    assert changed({"o": {"x": 1, "y": 2}}, {"o": {"y": 2, "x": 1}}, "/o") is False
    assert changed({}, {"n": None}, "/n") is True
    assert changed({"l": [1, 2]}, {"l": [2, 1]}, "/l") is True
    assert changed({"lastModified": "a"}, {"lastModified": "b"}, "/lastModified") is False


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=8,
)


@given(st.dictionaries(st.sampled_from(["a", "b"]), _json), _json)
def test_changed_is_symmetric_and_reflexive(doc: dict[str, Any], value: Any) -> None:
    other = {**doc, "a": value}
    assert changed(doc, doc, "/a") is False
    assert changed(doc, other, "/a") == changed(other, doc, "/a")


def test_firing_respects_scope_and_schema() -> None:
    before = {"state": {"currentStatus": "checkout"}, "notifications": []}
    after = {
        "state": {"currentStatus": "completed"},
        "notifications": [
            {"id": "1", "scope": "/state/currentStatus", "schema": {"const": "completed"}},
            {"id": "2", "scope": "/state/currentStatus", "schema": {"const": "declined"}},
            {"id": "3", "scope": "/state"},
            {"id": "4", "scope": "/reference"},
            {"id": "5", "scope": "/state", "schema": {"type": "object", "format": "email"}},
        ],
    }
    assert [n["id"] for n in firing(cast(Order, before), cast(Order, after))] == ["1", "3", "5"]
