"""Idempotency keys (api §1.10, semantics §9): in-flight markers, parallel duplicates, release
of the key on failure, key syntax."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from kassa import idempotency, unit_of_work
from kassa.db.engine import Database
from kassa.db.tables import idempotency as idempotency_table
from kassa.idempotency import ABSENT
from tests.conftest import ORDERS, Tenant, create_order, get_order
from tests.support.http_asserts import assert_error
from tests.support.idempotency import _etag, _history, _key, _marker_state, _replayed, _total

# --- in-flight markers ------------------------------------------------------------------------


async def _insert_marker(
    db: Database, tenant: Tenant, key: str, body: Any, *, started_ago_s: float, ttl_s: float
) -> None:
    now_ms = int(time.time() * 1000)
    fingerprint = idempotency.fingerprint("POST", ORDERS, tenant.channel, None, body)
    marker = insert(idempotency_table).values(
        merchant=tenant.merchant,
        key=key,
        fingerprint=fingerprint,
        state="in-flight",
        started_at=now_ms - int(started_ago_s * 1000),
        expires_at=now_ms - int(started_ago_s * 1000) + int(ttl_s * 1000),
        status=None,
        headers=None,
        body=None,
    )
    await db.write(lambda conn: conn.execute(marker))


async def test_in_flight_key_is_refused(
    client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    key = _key()
    await _insert_marker(db, tenant, key, {}, started_ago_s=1, ttl_s=300)
    for _ in range(2):
        response = await client.post(ORDERS, json={}, headers={"Idempotency-Key": key})
        assert_error(response, 409, "idempotency-key-in-flight")
    assert await _marker_state(db, tenant, key) == "in-flight"
    assert await _total(client) == 0


async def test_stale_in_flight_marker_is_ignored(
    client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    # a marker left by a crashed process expires after 5 minutes
    key = _key()
    await _insert_marker(db, tenant, key, {}, started_ago_s=360, ttl_s=300)
    response = await client.post(ORDERS, json={}, headers={"Idempotency-Key": key})
    assert response.status_code == 201, response.text
    assert not _replayed(response)
    assert await _total(client) == 1
    replay = await client.post(ORDERS, json={}, headers={"Idempotency-Key": key})
    assert replay.status_code == 201, replay.text
    assert _replayed(replay)
    assert replay.json() == response.json()


async def test_stale_marker_with_other_fingerprint_is_ignored(
    client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    key = _key()
    await _insert_marker(db, tenant, key, ABSENT, started_ago_s=360, ttl_s=300)
    response = await client.post(
        ORDERS, json={"reference": "new"}, headers={"Idempotency-Key": key}
    )
    assert response.status_code == 201, response.text
    assert (await get_order(client, response.json()["id"]))["reference"] == "new"


async def test_parallel_duplicates_execute_once(client: httpx.AsyncClient) -> None:
    key = _key()
    body = {"reference": "parallel"}
    responses = await asyncio.gather(
        *(client.post(ORDERS, json=body, headers={"Idempotency-Key": key}) for _ in range(10))
    )
    created = [r for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code != 201]
    for response in refused:
        assert_error(response, 409, "idempotency-key-in-flight")
    fresh = [r for r in created if not _replayed(r)]
    assert len(fresh) == 1, [r.text for r in responses]
    order_id = fresh[0].json()["id"]
    assert all(r.json() == {"id": order_id} for r in created)
    assert await _total(client) == 1
    assert len(await _history(client, order_id)) == 1
    # afterwards every repetition is a replay
    replay = await client.post(ORDERS, json=body, headers={"Idempotency-Key": key})
    assert replay.status_code == 201 and _replayed(replay)
    assert replay.json() == {"id": order_id}


async def test_parallel_duplicate_writes_apply_once(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    key = _key()
    url = f"{ORDERS}/{order_id}/attributes"
    responses = await asyncio.gather(
        *(client.patch(url, json={"a": 1}, headers={"Idempotency-Key": key}) for _ in range(10))
    )
    for response in responses:
        if response.status_code != 200:
            assert_error(response, 409, "idempotency-key-in-flight")
        else:
            assert response.headers["etag"] == '"2"'
    assert sum(1 for r in responses if r.status_code == 200 and not _replayed(r)) == 1
    assert len(await _history(client, order_id)) == 2
    assert await _etag(client, order_id) == '"2"'


# --- failures release the key -------------------------------------------------------------------


async def test_failed_state_transition_releases_the_key(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    url = f"{ORDERS}/{order_id}/state"
    response = await client.put(url, json={"currentStatus": "declined"})
    assert response.status_code == 200, response.text
    key = _key()
    for _ in range(2):  # executed afresh each time: the same 409, never replayed or in-flight
        response = await client.put(
            url, json={"currentStatus": "checkout"}, headers={"Idempotency-Key": key}
        )
        body = assert_error(response, 409, "invalid-state-transition")
        assert (body["from"], body["to"]) == ("declined", "checkout")
        assert not _replayed(response)
    # no record is left: the key now serves another request
    response = await client.put(
        url, json={"currentStatus": "declined"}, headers={"Idempotency-Key": key}
    )
    assert response.status_code == 200, response.text
    assert not _replayed(response)
    assert len(await _history(client, order_id)) == 2


async def test_invalid_body_releases_the_key(client: httpx.AsyncClient) -> None:
    key = _key()
    response = await client.post(
        ORDERS, json={"cart": {"items": [{"quantity": -1}]}}, headers={"Idempotency-Key": key}
    )
    assert_error(response, 400, "invalid-request")
    response = await client.post(
        ORDERS, json={"cart": {"items": [{"quantity": 1}]}}, headers={"Idempotency-Key": key}
    )
    assert response.status_code == 201, response.text
    assert not _replayed(response)
    assert await _total(client) == 1


async def test_precondition_failure_releases_the_key(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    key = _key()
    url = f"{ORDERS}/{order_id}/attributes"
    stale = await client.patch(
        url, json={"a": 1}, headers={"Idempotency-Key": key, "If-Match": '"7"'}
    )
    assert assert_error(stale, 412, "precondition-failed")["currentETag"] == '"1"'
    retry = await client.patch(url, json={"a": 1}, headers={"Idempotency-Key": key})
    assert retry.status_code == 200, retry.text
    assert not _replayed(retry)
    assert retry.headers["etag"] == '"2"'
    assert (await get_order(client, order_id))["attributes"] == {"a": 1}


async def test_order_not_found_releases_the_key(client: httpx.AsyncClient) -> None:
    key = _key()
    url = f"{ORDERS}/o_{'Z' * 26}/reference"
    for _ in range(2):
        response = await client.put(url, json="r", headers={"Idempotency-Key": key})
        assert_error(response, 404, "order-not-found")


async def test_internal_error_releases_the_key(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id = await create_order(client)
    key = _key()
    url = f"{ORDERS}/{order_id}/reference"
    real_execute = unit_of_work.execute

    async def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("crash")

    monkeypatch.setattr(unit_of_work, "execute", boom)
    response = await client.put(url, json="r", headers={"Idempotency-Key": key})
    assert_error(response, 500, "internal-error")
    monkeypatch.setattr(unit_of_work, "execute", real_execute)
    retry = await client.put(url, json="r", headers={"Idempotency-Key": key})
    assert retry.status_code == 200, retry.text
    assert not _replayed(retry)
    assert (await get_order(client, order_id))["reference"] == "r"


# --- key syntax -------------------------------------------------------------------------------


async def test_key_of_255_printable_characters_is_accepted(client: httpx.AsyncClient) -> None:
    printable = "".join(chr(c) for c in range(0x21, 0x7F))
    key = (printable * 3)[:255]
    first = await client.post(ORDERS, json={}, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    second = await client.post(ORDERS, json={}, headers={"Idempotency-Key": key})
    assert second.status_code == 201, second.text
    assert _replayed(second) and second.json() == first.json()


async def test_bad_key_is_invalid_request(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    for bad in ("k" * 256, "has space", "tab\there", ""):
        response = await client.post(ORDERS, json={}, headers={"Idempotency-Key": bad})
        assert_error(response, 400, "invalid-request")
        response = await client.patch(
            f"{ORDERS}/{order_id}/attributes", json={"a": 1}, headers={"Idempotency-Key": bad}
        )
        assert_error(response, 400, "invalid-request")
        response = await client.delete(f"{ORDERS}/{order_id}", headers={"Idempotency-Key": bad})
        assert_error(response, 400, "invalid-request")
    assert await _total(client) == 1
    assert len(await _history(client, order_id)) == 1


async def test_non_ascii_key_is_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.post(
        ORDERS, json={}, headers=[(b"Idempotency-Key", "nyckel-ä".encode("latin-1"))]
    )
    assert_error(response, 400, "invalid-request")


async def test_get_ignores_the_key(client: httpx.AsyncClient) -> None:
    key = _key()
    created = await client.post(ORDERS, json={}, headers={"Idempotency-Key": key})
    assert created.status_code == 201, created.text
    order_id = created.json()["id"]
    for header in (key, "not valid at all", "k" * 300):
        response = await client.get(f"{ORDERS}/{order_id}", headers={"Idempotency-Key": header})
        assert response.status_code == 200, response.text
        assert not _replayed(response)
        assert response.json()["id"] == order_id
        listing = await client.get(ORDERS, headers={"Idempotency-Key": header})
        assert listing.status_code == 200, listing.text
        assert listing.json()["pagination"]["totalSize"] == 1
        history = await client.get(
            f"{ORDERS}/{order_id}/history", headers={"Idempotency-Key": header}
        )
        assert history.status_code == 200, history.text
        assert len(history.json()) == 1
