"""Idempotency keys (api §1.10, semantics §9): replays, reuse, in-flight markers, release on
failure, parallel duplicates, key syntax."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select, update

from kassa import idempotency
from kassa.auth import keys
from kassa.db.engine import Database
from kassa.db.tables import idempotency as idempotency_table
from kassa.idempotency import ABSENT
from kassa.orders import service
from tests.conftest import ORDERS, Tenant, client_for, create_order, get_order, make_tenant
from tests.support.http_asserts import assert_error


def _key() -> str:
    return "key-" + secrets.token_hex(8)


def _replayed(response: httpx.Response) -> bool:
    return bool(response.headers.get("idempotent-replayed") == "true")


async def _total(client: httpx.AsyncClient) -> int:
    response = await client.get(ORDERS)
    assert response.status_code == 200, response.text
    total: int = response.json()["pagination"]["totalSize"]
    return total


async def _history(client: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"{ORDERS}/{order_id}/history")
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


async def _etag(client: httpx.AsyncClient, order_id: str) -> str:
    response = await client.get(f"{ORDERS}/{order_id}")
    assert response.status_code == 200, response.text
    return response.headers["etag"]


# --- replay ---------------------------------------------------------------------------------


async def test_create_replay_returns_the_recorded_response(client: httpx.AsyncClient) -> None:
    key = _key()
    body = {"reference": "idem", "cart": {"items": [{"name": "a", "quantity": 1}]}}
    first = await client.post(ORDERS, json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    assert not _replayed(first)
    order_id = first.json()["id"]

    second = await client.post(ORDERS, json=body, headers={"Idempotency-Key": key})
    assert second.status_code == 201, second.text
    assert _replayed(second)
    assert second.json() == first.json() == {"id": order_id}
    assert second.content == first.content
    for header in ("location", "etag", "content-type"):
        assert second.headers[header] == first.headers[header], header
    assert second.headers["location"] == f"{ORDERS}/{order_id}"
    assert second.headers["etag"] == '"1"'
    assert second.headers["x-request-id"] != first.headers["x-request-id"]

    assert await _total(client) == 1
    assert len(await _history(client, order_id)) == 1


async def test_replay_ignores_json_formatting(client: httpx.AsyncClient) -> None:
    # The fingerprint is the canonical body: key order, whitespace and number spelling do not
    # matter (§1.10).
    key = _key()
    first = await client.post(
        ORDERS,
        content=b'{"reference": "r", "attributes": {"n": 1.50, "m": 100}}',
        headers={"Idempotency-Key": key},
    )
    assert first.status_code == 201, first.text
    second = await client.post(
        ORDERS,
        content=b'{ "attributes":{"m":1E+2,"n":1.5},\n "reference":"r" }',
        headers={"Idempotency-Key": key},
    )
    assert second.status_code == 201, second.text
    assert _replayed(second)
    assert second.json() == first.json()
    assert await _total(client) == 1


async def test_write_replay_changes_nothing(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    key = _key()
    url = f"{ORDERS}/{order_id}/attributes"
    first = await client.patch(url, json={"n": 1}, headers={"Idempotency-Key": key})
    assert first.status_code == 200, first.text
    assert first.content == b""
    assert first.headers["etag"] == '"2"'
    assert not _replayed(first)
    history_before = await _history(client, order_id)

    second = await client.patch(url, json={"n": 1}, headers={"Idempotency-Key": key})
    assert second.status_code == 200, second.text
    assert second.content == b""
    assert second.headers["etag"] == '"2"'
    assert _replayed(second)
    assert await _history(client, order_id) == history_before
    assert await _etag(client, order_id) == '"2"'


async def test_replay_after_the_order_changed_returns_the_old_response(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(client)
    key = _key()
    url = f"{ORDERS}/{order_id}/reference"
    first = await client.put(url, json="one", headers={"Idempotency-Key": key})
    assert first.status_code == 200, first.text
    changed = await client.put(url, json="two")
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"3"'

    replay = await client.put(url, json="one", headers={"Idempotency-Key": key})
    assert replay.status_code == 200, replay.text
    assert _replayed(replay)
    assert replay.headers["etag"] == '"2"'
    assert (await get_order(client, order_id))["reference"] == "two"
    assert len(await _history(client, order_id)) == 3


async def test_replay_after_delete(client: httpx.AsyncClient) -> None:
    create_key, delete_key = _key(), _key()
    first = await client.post(ORDERS, json={}, headers={"Idempotency-Key": create_key})
    assert first.status_code == 201, first.text
    order_id = first.json()["id"]
    url = f"{ORDERS}/{order_id}"

    deleted = await client.delete(url, headers={"Idempotency-Key": delete_key})
    assert deleted.status_code == 204, deleted.text
    again = await client.delete(url, headers={"Idempotency-Key": delete_key})
    assert again.status_code == 204, again.text
    assert again.content == b""
    assert _replayed(again)
    assert_error(await client.delete(url), 404, "order-not-found")

    replay = await client.post(ORDERS, json={}, headers={"Idempotency-Key": create_key})
    assert replay.status_code == 201, replay.text
    assert _replayed(replay)
    assert replay.json() == {"id": order_id}
    assert await _total(client) == 0


async def test_no_op_write_is_recorded(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    key = _key()
    url = f"{ORDERS}/{order_id}/state"
    first = await client.put(
        url, json={"currentStatus": "checkout"}, headers={"Idempotency-Key": key}
    )
    assert first.status_code == 200, first.text
    assert first.headers["etag"] == '"1"'
    second = await client.put(
        url, json={"currentStatus": "checkout"}, headers={"Idempotency-Key": key}
    )
    assert second.status_code == 200, second.text
    assert _replayed(second)
    assert second.headers["etag"] == '"1"'
    reuse = await client.put(
        url, json={"currentStatus": "removed"}, headers={"Idempotency-Key": key}
    )
    assert_error(reuse, 422, "idempotency-key-reuse")
    assert len(await _history(client, order_id)) == 1


async def test_requests_without_key_are_not_deduplicated(client: httpx.AsyncClient) -> None:
    first = await client.post(ORDERS, json={"reference": "same"})
    second = await client.post(ORDERS, json={"reference": "same"})
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert not _replayed(first) and not _replayed(second)
    assert await _total(client) == 2


async def test_trailing_slash_is_the_same_request(client: httpx.AsyncClient) -> None:
    key = _key()
    first = await client.post(ORDERS + "/", json={}, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    second = await client.post(ORDERS, json={}, headers={"Idempotency-Key": key})
    assert second.status_code == 201, second.text
    assert _replayed(second) and second.json() == first.json()
    assert await _total(client) == 1


async def test_expired_record_frees_the_key(
    client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    key = _key()
    first = await client.post(ORDERS, json={}, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    assert await _marker_state(db, tenant, key) == "done"
    expire = (  # retention over (24 h by default)
        update(idempotency_table)
        .where(
            idempotency_table.c.merchant == tenant.merchant,
            idempotency_table.c.key == key,
        )
        .values(expires_at=int(time.time() * 1000) - 1)
    )
    await db.write(lambda conn: conn.execute(expire))
    again = await client.post(ORDERS, json={}, headers={"Idempotency-Key": key})
    assert again.status_code == 201, again.text
    assert not _replayed(again)
    assert again.json() != first.json()
    assert await _total(client) == 2


async def test_validate_fingerprints_without_its_body(client: httpx.AsyncClient) -> None:
    # op 19 ignores its body, so the body is not part of the fingerprint (§1.10)
    order_id = await create_order(client, {"cart": {"items": [{"name": "free", "quantity": 1}]}})
    key = _key()
    url = f"{ORDERS}/{order_id}/validate"
    first = await client.post(url, json={}, headers={"Idempotency-Key": key})
    assert first.status_code == 200, first.text
    assert first.json() == []
    second = await client.post(url, json={"other": "body"}, headers={"Idempotency-Key": key})
    assert second.status_code == 200, second.text
    assert _replayed(second) and second.json() == []
    assert len(await _history(client, order_id)) == 1


async def test_failed_validate_is_not_recorded(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)  # empty cart: validation fails
    key = _key()
    url = f"{ORDERS}/{order_id}/validate"
    failed = await client.post(url, headers={"Idempotency-Key": key})
    assert failed.status_code == 400, failed.text
    assert [e["code"] for e in failed.json()] == ["cart-empty"]
    response = await client.put(f"{ORDERS}/{order_id}/cart", json={"items": [{"name": "a"}]})
    assert response.status_code == 200, response.text
    passed = await client.post(url, headers={"Idempotency-Key": key})
    assert passed.status_code == 200, passed.text
    assert not _replayed(passed) and passed.json() == []


# --- reuse ----------------------------------------------------------------------------------


async def test_same_key_different_body_is_reuse(client: httpx.AsyncClient) -> None:
    key = _key()
    first = await client.post(ORDERS, json={"reference": "a"}, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    response = await client.post(ORDERS, json={"reference": "b"}, headers={"Idempotency-Key": key})
    assert_error(response, 422, "idempotency-key-reuse")
    response = await client.post(ORDERS, headers={"Idempotency-Key": key})
    assert_error(response, 422, "idempotency-key-reuse")
    assert await _total(client) == 1
    # the record is intact: the original request still replays
    replay = await client.post(ORDERS, json={"reference": "a"}, headers={"Idempotency-Key": key})
    assert replay.status_code == 201, replay.text
    assert _replayed(replay) and replay.json() == first.json()


async def test_same_key_different_path_is_reuse(client: httpx.AsyncClient) -> None:
    one, two = await create_order(client), await create_order(client)
    key = _key()
    first = await client.patch(
        f"{ORDERS}/{one}/attributes", json={"a": 1}, headers={"Idempotency-Key": key}
    )
    assert first.status_code == 200, first.text
    response = await client.patch(
        f"{ORDERS}/{two}/attributes", json={"a": 1}, headers={"Idempotency-Key": key}
    )
    assert_error(response, 422, "idempotency-key-reuse")
    assert "attributes" not in await get_order(client, two)
    assert len(await _history(client, two)) == 1


async def test_same_key_different_method_is_reuse(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    key = _key()
    first = await client.put(
        f"{ORDERS}/{order_id}/reference", json="r", headers={"Idempotency-Key": key}
    )
    assert first.status_code == 200, first.text
    response = await client.delete(f"{ORDERS}/{order_id}", headers={"Idempotency-Key": key})
    assert_error(response, 422, "idempotency-key-reuse")
    await get_order(client, order_id)


async def test_same_key_different_channel_is_reuse(
    app: FastAPI, db: Database, tenant: Tenant
) -> None:
    key, _ = await keys.create_key(db, merchant=tenant.merchant, channels=None)
    base = {"Authorization": key, "x-merchant": tenant.merchant}
    idem = _key()
    async with client_for(app, {**base, "x-channel": "c1"}) as c1:
        first = await c1.post(ORDERS, json={}, headers={"Idempotency-Key": idem})
        assert first.status_code == 201, first.text
    async with client_for(app, {**base, "x-channel": "c2"}) as c2:
        response = await c2.post(ORDERS, json={}, headers={"Idempotency-Key": idem})
        assert_error(response, 422, "idempotency-key-reuse")
        assert await _total(c2) == 0


async def test_same_key_different_adapter_is_reuse(client: httpx.AsyncClient) -> None:
    key = _key()
    first = await client.post(
        ORDERS, json={}, headers={"Idempotency-Key": key, "x-adapterid": "adapter-a"}
    )
    assert first.status_code == 201, first.text
    response = await client.post(
        ORDERS, json={}, headers={"Idempotency-Key": key, "x-adapterid": "adapter-b"}
    )
    assert_error(response, 422, "idempotency-key-reuse")
    response = await client.post(ORDERS, json={}, headers={"Idempotency-Key": key})
    assert_error(response, 422, "idempotency-key-reuse")
    assert await _total(client) == 1


async def test_reuse_beats_body_validation(client: httpx.AsyncClient) -> None:
    # §1.9: idempotency (7) comes before body schema errors (8)
    key = _key()
    first = await client.post(ORDERS, json={}, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    response = await client.post(ORDERS, json={"reference": 5}, headers={"Idempotency-Key": key})
    assert_error(response, 422, "idempotency-key-reuse")


async def test_same_key_under_two_merchants_is_independent(
    app: FastAPI, db: Database, client: httpx.AsyncClient
) -> None:
    key = _key()
    mine = await client.post(ORDERS, json={"reference": "x"}, headers={"Idempotency-Key": key})
    assert mine.status_code == 201, mine.text
    other = await make_tenant(db)
    async with client_for(app, other.headers) as c:
        theirs = await c.post(ORDERS, json={"reference": "x"}, headers={"Idempotency-Key": key})
        assert theirs.status_code == 201, theirs.text
        assert not _replayed(theirs)
        assert theirs.json()["id"] != mine.json()["id"]
        # a different body under the other merchant is not a reuse of my record either
        more = await c.post(ORDERS, json={"reference": "y"}, headers={"Idempotency-Key": _key()})
        assert more.status_code == 201, more.text
        assert await _total(c) == 2
    assert await _total(client) == 1


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


async def _marker_state(db: Database, tenant: Tenant, key: str) -> str | None:
    query = select(idempotency_table.c.state).where(
        idempotency_table.c.merchant == tenant.merchant,
        idempotency_table.c.key == key,
    )
    row = await db.read(lambda conn: conn.execute(query).first())
    return None if row is None else str(row.state)


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
    real_modify = service.modify

    async def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("crash")

    monkeypatch.setattr(service, "modify", boom)
    response = await client.put(url, json="r", headers={"Idempotency-Key": key})
    assert_error(response, 500, "internal-error")
    monkeypatch.setattr(service, "modify", real_modify)
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
