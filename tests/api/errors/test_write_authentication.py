"""Writes that authenticate with their locked order read (PostgreSQL, no Idempotency-Key): the
same answers, in the same precedence, as writes that look the key up first (api §1.9)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from kassa.auth import keys
from kassa.db.engine import Database
from tests.conftest import ORDERS, client_for, create_order, make_tenant
from tests.support.http_asserts import assert_error

PATCH = "patch"
TRANSACTION = "transaction"
SHIPPING = "shipping"
KINDS = [PATCH, TRANSACTION, SHIPPING]


async def _target(client: httpx.AsyncClient, kind: str) -> tuple[str, str, str]:
    """(method, path, order id) of a write of ``kind`` on a fresh order of ``client``'s tenant."""
    order_id = await create_order(client)
    if kind == PATCH:
        return "PATCH", f"{ORDERS}/{order_id}/attributes", order_id
    if kind == SHIPPING:
        return "POST", f"{ORDERS}/{order_id}/shippings", order_id
    payment = await client.post(
        f"{ORDERS}/{order_id}/payments",
        json={"reference": "r", "name": "card", "type": "default", "amount": 10},
    )
    assert payment.status_code == 201, payment.text
    return "POST", f"{ORDERS}/{order_id}/payments/{payment.json()['id']}/transactions", order_id


def _body(kind: str) -> dict[str, object]:
    if kind == SHIPPING:
        return {"name": "Post", "total": {"includingVat": 5}, "vatRate": 0.25}
    return {"gift": "yes"} if kind == PATCH else {"event": "open", "isSuccess": True}


def _ok(kind: str) -> int:
    return 201 if kind == SHIPPING else 200


async def _version(client: httpx.AsyncClient, order_id: str) -> str:
    response = await client.get(f"{ORDERS}/{order_id}")
    assert response.status_code == 200, response.text
    return response.headers["etag"]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_write_is_recorded_with_its_key_as_actor(
    app: FastAPI, db: Database, kind: str
) -> None:
    tenant = await make_tenant(db)
    async with client_for(app, tenant.headers) as client:
        method, path, order_id = await _target(client, kind)
        response = await client.request(method, path, json=_body(kind))
        assert response.status_code == _ok(kind), response.text
        history = (await client.get(f"{ORDERS}/{order_id}/history")).json()
    assert history[-1]["actor"]["keyName"] == tenant.key_name
    assert history[-1]["operation"] in {
        "PatchCheckoutOrderAttributes",
        "AddTransactionForOrderPayment",
        "CreateOrderShipping",
    }


@pytest.mark.parametrize("kind", KINDS)
async def test_key_errors_come_before_body_errors_and_change_nothing(
    app: FastAPI, db: Database, kind: str
) -> None:
    tenant, other = await make_tenant(db), await make_tenant(db)
    async with client_for(app, tenant.headers) as client:
        method, path, order_id = await _target(client, kind)
        before = await _version(client, order_id)
        for headers, status, code in (
            ({"Authorization": "Bearer unknown"}, 401, "unauthorized"),
            ({"x-channel": ""}, 400, "missing-header"),
            ({"x-merchant": other.merchant}, 403, "forbidden"),
        ):
            for content in (b"{oops", b'{"event": 7}', b"[]"):
                response = await client.request(method, path, content=content, headers={**headers})
                assert_error(response, status, code)
        after = await _version(client, order_id)
    assert after == before


@pytest.mark.parametrize("kind", KINDS)
async def test_a_revoked_key_cannot_write(app: FastAPI, db: Database, kind: str) -> None:
    tenant = await make_tenant(db)
    async with client_for(app, tenant.headers) as client:
        method, path, order_id = await _target(client, kind)
        assert await keys.revoke_key(db, tenant.key_name)
        response = await client.request(method, path, json=_body(kind))
        assert_error(response, 401, "unauthorized")
    owner = await make_tenant(db)
    async with client_for(app, {**owner.headers, "x-merchant": tenant.merchant}) as c:
        assert_error(await c.get(f"{ORDERS}/{order_id}"), 403, "forbidden")


@pytest.mark.parametrize("kind", KINDS)
async def test_another_merchants_order_is_not_found_and_unchanged(
    app: FastAPI, db: Database, kind: str
) -> None:
    owner, stranger = await make_tenant(db), await make_tenant(db)
    async with client_for(app, owner.headers) as client:
        method, path, order_id = await _target(client, kind)
        before = await _version(client, order_id)
        async with client_for(app, stranger.headers) as other:
            response = await other.request(method, path, json=_body(kind))
        assert_error(response, 404, "order-not-found")
        assert await _version(client, order_id) == before
        # the owner's next write is not held up by the refused one
        response = await client.request(method, path, json=_body(kind))
        assert response.status_code == _ok(kind), response.text
