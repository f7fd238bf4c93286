"""Idempotency keys (api §1.10, semantics §9): replays of a recorded response, and reuse of
a key for another request."""

from __future__ import annotations

import time

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from kassa.auth import keys
from kassa.db.engine import Database
from kassa.db.tables import idempotency as idempotency_table
from tests.conftest import ORDERS, Tenant, client_for, create_order, get_order, make_tenant
from tests.support.http_asserts import assert_error
from tests.support.idempotency import _etag, _history, _key, _marker_state, _replayed, _total

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
