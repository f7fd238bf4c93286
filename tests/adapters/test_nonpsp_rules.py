"""The Non-PSP adapter's rules (adapters.md §9 cases 9-13, 23, 24) and bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from kassa import jsonutil
from kassa.app import create_app
from kassa.auth import keys
from kassa.config import Settings
from kassa.db.engine import Database
from kassa.db.tables import api_keys
from tests.adapters.conftest import adapter_settings
from tests.adapters.support import (
    NONPSP,
    NONPSP_CALLBACKS,
    NONPSP_ORDERS,
    ORDERS,
    create_order,
    delete_configuration,
    get_order,
    item,
    nonpsp_configuration,
    order_body,
    own_hooks,
    put_configuration,
    signed_headers,
)
from tests.adapters.test_nonpsp_flow import checkout_order
from tests.conftest import Tenant, client_for, make_tenant


async def nonpsp_payment(storefront: httpx.AsyncClient, order_id: str) -> str:
    response = await storefront.post(f"{NONPSP_ORDERS}/{order_id}/payments")
    assert response.status_code == 200, response.text
    return str(response.json()["paymentId"])


async def history(storefront: httpx.AsyncClient, order_id: str) -> list[dict[str, object]]:
    response = await storefront.get(f"{ORDERS}/{order_id}/history")
    assert response.status_code == 200, response.text
    entries: list[dict[str, object]] = response.json()
    return entries


# 9. identity ------------------------------------------------------------------------------------


@pytest.fixture
async def revoked_builtin_key(db: Database) -> AsyncIterator[None]:
    """The built-in key revoked for one test, then put back (every test shares it)."""
    assert await keys.revoke_key(db, "builtin:nonpsp_adapter")
    try:
        yield
    finally:
        restore = (
            update(api_keys).where(api_keys.c.name == "builtin:nonpsp_adapter").values(revoked=None)
        )
        await db.write(lambda conn: conn.execute(restore))


async def test_adapter_writes_as_itself(storefront: httpx.AsyncClient, shop: Tenant) -> None:
    order_id = await checkout_order(storefront, shop)
    await nonpsp_payment(storefront, order_id)
    entries = await history(storefront, order_id)
    by_adapter = [
        e for e in entries if e["operation"] in {"CreateOrderPayment", "CreateCheckoutOrderHook"}
    ]
    assert len(by_adapter) == 4
    for entry in by_adapter:
        assert entry["actor"] == {
            "keyName": "builtin:nonpsp_adapter",
            "adapterId": "nonpsp_adapter",
        }
        assert entry["hookCalls"] == []
    # another client's write calls the adapter's hooks
    order = await get_order(storefront, order_id)
    item_id = order["cart"]["items"][0]["id"]
    response = await storefront.put(
        f"{ORDERS}/{order_id}/cart", json={"items": [item(25, 20, quantity=2, id=item_id)]}
    )
    assert response.status_code == 200, response.text
    last = (await history(storefront, order_id))[-1]
    assert last["actor"] == {"keyName": shop.key_name, "adapterId": None}
    # /total, then /payments (the first patch changed the payments): each once
    calls = last["hookCalls"]
    assert isinstance(calls, list)
    assert [(c["adapterId"], c["outcome"]) for c in calls] == [
        ("nonpsp_adapter", "patched"),
        ("nonpsp_adapter", "approved"),
    ]


@pytest.mark.usefixtures("revoked_builtin_key")
async def test_revoked_key_disables_the_adapter(
    storefront: httpx.AsyncClient, shop: Tenant
) -> None:
    order_id = await checkout_order(storefront, shop)
    before = await get_order(storefront, order_id)
    response = await storefront.post(f"{NONPSP_ORDERS}/{order_id}/payments")
    assert response.status_code == 502, response.text
    body = response.json()
    assert body == {
        "code": "order-api-error",
        "message": body["message"],
        "requestId": response.headers["x-request-id"],
        "upstreamStatus": 401,
        "upstreamCode": "unauthorized",
    }
    assert await get_order(storefront, order_id) == before


# 10. completion refused ------------------------------------------------------------------------


async def test_completion_refused_by_validation(
    storefront: httpx.AsyncClient, shop: Tenant
) -> None:
    await put_configuration(storefront, shop.merchant, shop.channel, nonpsp_configuration())
    body = order_body(item(12.5, 10), consents=[{"id": "terms", "required": True}])
    order_id = await create_order(storefront, body)
    payment_id = await nonpsp_payment(storefront, order_id)
    before = await get_order(storefront, order_id)

    response = await storefront.post(f"{NONPSP_ORDERS}/{order_id}/payments/{payment_id}/complete")
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "validation-failed"
    assert [e["code"] for e in body["errors"]] == ["consent-required"]
    assert body["requestId"] == response.headers["x-request-id"]
    order = await get_order(storefront, order_id)
    assert order == before
    assert order["state"]["currentStatus"] == "checkout"
    assert order["payments"][0]["state"] == "intent"
    transactions = await storefront.get(f"{ORDERS}/{order_id}/payments/{payment_id}/transactions")
    assert transactions.json() == []


async def test_completion_needs_a_method(storefront: httpx.AsyncClient, shop: Tenant) -> None:
    await put_configuration(
        storefront, shop.merchant, shop.channel, nonpsp_configuration(methods=[])
    )
    order_id = await create_order(storefront, order_body(item(12.5, 10)))
    payment_id = await nonpsp_payment(storefront, order_id)
    response = await storefront.post(f"{NONPSP_ORDERS}/{order_id}/payments/{payment_id}/complete")
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "payment-method-required"
    assert (await get_order(storefront, order_id))["state"]["currentStatus"] == "checkout"


# 11. remove -------------------------------------------------------------------------------------


async def test_remove(storefront: httpx.AsyncClient, shop: Tenant) -> None:
    order_id = await checkout_order(storefront, shop)
    payment_id = await nonpsp_payment(storefront, order_id)
    url = f"{NONPSP_ORDERS}/{order_id}/payments/{payment_id}/remove"
    response = await storefront.post(url)
    assert response.status_code == 200, response.text
    assert response.content == b""
    order = await get_order(storefront, order_id)
    assert order["payments"][0]["state"] == "removed"
    assert own_hooks(order) == []
    again = await storefront.post(url)
    assert again.status_code == 200, again.text

    item_id = order["cart"]["items"][0]["id"]
    response = await storefront.put(
        f"{ORDERS}/{order_id}/cart", json={"items": [item(25, 20, quantity=2, id=item_id)]}
    )
    assert response.status_code == 200, response.text
    assert (await history(storefront, order_id))[-1]["hookCalls"] == []

    second = await nonpsp_payment(storefront, order_id)
    assert second != payment_id
    order = await get_order(storefront, order_id)
    assert [(p["id"], p["state"], p["amount"]) for p in order["payments"]] == [
        (payment_id, "removed", 20),
        (second, "intent", Decimal("32.5")),
    ]
    assert len(own_hooks(order)) == 3


# 12. configuration gate ------------------------------------------------------------------------


async def test_configuration_gate(storefront: httpx.AsyncClient, shop: Tenant) -> None:
    await delete_configuration(storefront, shop.merchant, shop.channel, "nonpsp_adapter")
    order_id = await create_order(storefront, order_body(item(12.5, 10)))
    before = await get_order(storefront, order_id)
    response = await storefront.post(f"{NONPSP_ORDERS}/{order_id}/payments")
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "configuration-not-found"

    await put_configuration(
        storefront, shop.merchant, shop.channel, nonpsp_configuration(active=False)
    )
    response = await storefront.post(f"{NONPSP_ORDERS}/{order_id}/payments")
    assert response.status_code == 409, response.text
    body = response.json()
    assert (body["code"], body["adapterId"]) == ("adapter-inactive", "nonpsp_adapter")
    assert await get_order(storefront, order_id) == before

    # GET of a payment without configuration: no methods
    await put_configuration(storefront, shop.merchant, shop.channel, nonpsp_configuration())
    payment_id = await nonpsp_payment(storefront, order_id)
    await delete_configuration(storefront, shop.merchant, shop.channel, "nonpsp_adapter")
    response = await storefront.get(f"{NONPSP_ORDERS}/{order_id}/payments/{payment_id}")
    assert response.status_code == 200, response.text
    assert response.json()["paymentMethods"] == []


# 13. callback authentication -------------------------------------------------------------------


async def test_callback_authentication(
    adapter_app: FastAPI, storefront: httpx.AsyncClient, shop: Tenant
) -> None:
    order_id = await checkout_order(storefront, shop)
    payment_id = await nonpsp_payment(storefront, order_id)
    order = await get_order(storefront, order_id)
    order["total"]["includingVat"] = Decimal("32.5")
    raw = jsonutil.dumps(order)
    url = f"{NONPSP_CALLBACKS}/{order_id}/payments/{payment_id}/update-payment"
    async with client_for(adapter_app) as kassa:
        unsigned = await kassa.post(
            url,
            content=raw,
            headers={"x-merchant": shop.merchant, "x-channel": shop.channel},
        )
        assert unsigned.status_code == 401, unsigned.text
        assert unsigned.json()["code"] == "unauthorized"

        signed = await kassa.post(
            url, content=raw, headers=signed_headers(shop.merchant, shop.channel, raw)
        )
        assert signed.status_code == 200, signed.text
        assert signed.json() == [{"op": "replace", "path": "/payments/0/amount", "value": 32.5}]

        old = signed_headers(shop.merchant, shop.channel, raw, age_s=600)
        stale = await kassa.post(url, content=raw, headers=old)
        assert stale.status_code == 401, stale.text

        tampered = signed_headers(shop.merchant, shop.channel, raw)
        other = await kassa.post(url, content=raw + b" ", headers=tampered)
        assert other.status_code == 401, other.text

        bad_body = b"[1, 2]"
        response = await kassa.post(
            url, content=bad_body, headers=signed_headers(shop.merchant, shop.channel, bad_body)
        )
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "invalid-request"

        state_url = f"{NONPSP_CALLBACKS}/{order_id}/payments/{payment_id}/state-changed"
        order["state"]["currentStatus"] = "accepted"
        raw = jsonutil.dumps(order)
        signed = await kassa.post(
            state_url, content=raw, headers=signed_headers(shop.merchant, shop.channel, raw)
        )
        assert signed.status_code == 200, signed.text
        assert signed.json() == [
            {"op": "replace", "path": "/payments/0/state", "value": "confirmed"}
        ]

    # a key of the merchant is accepted too (a manual call)
    response = await storefront.post(url, content=jsonutil.dumps(order))
    assert response.status_code == 200, response.text
    assert response.json() == [{"op": "replace", "path": "/payments/0/amount", "value": 32.5}]


# 23. mounting -----------------------------------------------------------------------------------


async def test_unmounted_adapter_routes_are_not_found(
    settings: Settings, db: Database, shop: Tenant
) -> None:
    app = create_app(adapter_settings(settings, builtin_adapters=()), db=db)
    async with client_for(app, shop.headers) as client:
        order_id = await create_order(client, order_body(item(12.5, 10)))
        for response in (
            await client.post(f"{NONPSP_ORDERS}/{order_id}/payments"),
            await client.get(f"{NONPSP}/openapi/v1/schemas/nonpsp_adapter.json"),
        ):
            assert response.status_code == 404, response.text
            assert response.json()["code"] == "route-not-found"


async def test_another_prefix_moves_the_adapter(
    settings: Settings, db: Database, shop: Tenant
) -> None:
    prefix = "/pay/invoice"
    app = create_app(adapter_settings(settings, nonpsp_adapter_path_prefix=prefix), db=db)
    async with client_for(app, shop.headers) as client:
        await put_configuration(client, shop.merchant, shop.channel, nonpsp_configuration())
        order_id = await create_order(client, order_body(item(12.5, 10)))
        moved = await client.post(f"{prefix}/api/checkout/v1/orders/{order_id}/payments")
        assert moved.status_code == 200, moved.text
        order = await get_order(client, order_id)
        assert {h["invoke"].split("/api/")[0] for h in own_hooks(order)} == {
            "http://kassa.internal" + prefix
        }
        gone = await client.post(f"{NONPSP_ORDERS}/{order_id}/payments")
        assert gone.status_code == 404 and gone.json()["code"] == "route-not-found"
        schema = await client.get(f"{prefix}/openapi/v1/schemas/nonpsp_adapter.json")
        assert schema.status_code == 200
        # the hooks reach the adapter where it is now
        item_id = order["cart"]["items"][0]["id"]
        response = await client.put(
            f"{ORDERS}/{order_id}/cart", json={"items": [item(25, 20, quantity=2, id=item_id)]}
        )
        assert response.status_code == 200, response.text
        assert "kassa-warnings" not in response.headers
        assert (await get_order(client, order_id))["payments"][0]["amount"] == 25


async def test_schema_needs_no_key(adapter_app: FastAPI) -> None:
    async with client_for(adapter_app) as anonymous:
        response = await anonymous.get(f"{NONPSP}/openapi/v1/schemas/nonpsp_adapter.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/schema+json"
    schema = response.json()
    assert schema["$id"] == "urn:kassa:configuration:nonpsp_adapter:v1"
    assert schema["properties"]["id"] == {"const": "nonpsp_adapter"}


# 24. idempotency --------------------------------------------------------------------------------


async def test_idempotency_key_on_adapter_routes(
    storefront: httpx.AsyncClient, shop: Tenant
) -> None:
    order_id = await checkout_order(storefront, shop)
    url = f"{NONPSP_ORDERS}/{order_id}/payments"
    key = {"Idempotency-Key": "create-1"}
    first = await storefront.post(url, headers=key)
    assert first.status_code == 200, first.text
    assert "idempotent-replayed" not in first.headers
    second = await storefront.post(url, headers=key)
    assert second.status_code == 200, second.text
    assert second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content
    payment_id = first.json()["paymentId"]
    reuse = await storefront.put(
        f"{url}/{payment_id}", json={"selectedPaymentMethod": "store"}, headers=key
    )
    assert reuse.status_code == 422, reuse.text
    assert reuse.json()["code"] == "idempotency-key-reuse"


# bad input --------------------------------------------------------------------------------------


async def test_unknown_payment_method(storefront: httpx.AsyncClient, shop: Tenant) -> None:
    order_id = await checkout_order(storefront, shop)
    payment_id = await nonpsp_payment(storefront, order_id)
    url = f"{NONPSP_ORDERS}/{order_id}/payments/{payment_id}"
    for body in ({"selectedPaymentMethod": "cash"}, {}, {"selectedPaymentMethod": 3}):
        response = await storefront.put(url, json=body)
        assert response.status_code == 400, response.text
        answer = response.json()
        assert answer["code"] == "invalid-request"
        assert [e["path"] for e in answer["errors"]] == ["/selectedPaymentMethod"]
    response = await storefront.get(url)
    assert response.json()["selectedPaymentMethod"] == "invoice"


async def test_not_found_and_tenancy(
    adapter_app: FastAPI, db: Database, storefront: httpx.AsyncClient, shop: Tenant
) -> None:
    order_id = await checkout_order(storefront, shop)
    payment_id = await nonpsp_payment(storefront, order_id)
    response = await storefront.post(
        f"{ORDERS}/{order_id}/payments", json={"name": "card", "amount": 0}
    )
    foreign_payment = response.json()["id"]
    for path in ("p_UnknownUnknownUnknownUnknow", foreign_payment):
        response = await storefront.get(f"{NONPSP_ORDERS}/{order_id}/payments/{path}")
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "payment-not-found"

    url = f"{NONPSP_ORDERS}/{order_id}/payments/{payment_id}"
    response = await storefront.delete(url)
    assert response.status_code == 405, response.text
    assert (response.json()["code"], response.headers["allow"]) == (
        "method-not-allowed",
        "GET, PUT",
    )
    other_channel = {**shop.headers, "x-channel": "no"}
    response = await storefront.get(url, headers=other_channel)
    assert response.status_code == 404 and response.json()["code"] == "order-not-found"

    stranger = await make_tenant(db)
    async with client_for(adapter_app) as client:
        response = await client.get(url, headers={**stranger.headers, "x-merchant": shop.merchant})
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "forbidden"
        response = await client.get(url, headers={"x-merchant": shop.merchant, "x-channel": "se"})
        assert response.status_code == 401 and response.json()["code"] == "unauthorized"
        response = await client.post(
            f"{NONPSP_ORDERS}/{order_id}/payments",
            headers={"Authorization": f"Bearer {shop.key}", "x-channel": "se"},
        )
        assert response.status_code == 400 and response.json()["code"] == "missing-header"


async def test_not_editable(storefront: httpx.AsyncClient, shop: Tenant) -> None:
    order_id = await checkout_order(storefront, shop)
    payment_id = await nonpsp_payment(storefront, order_id)
    url = f"{NONPSP_ORDERS}/{order_id}/payments/{payment_id}"
    assert (await storefront.post(url + "/complete")).status_code == 200
    for response in (
        await storefront.put(url, json={"selectedPaymentMethod": "store"}),
        await storefront.post(url + "/remove"),
        await storefront.post(f"{NONPSP_ORDERS}/{order_id}/payments"),
    ):
        assert response.status_code == 409, response.text
        body = response.json()
        assert (body["code"], body["state"]) == ("order-not-editable", "completed")
