"""Calls from kassa to ``adapter_callback_base_url`` (adapters.md §1.2): below a mounted
adapter's prefix they are dispatched in-process (no DNS: ``kassa.internal`` resolves nowhere);
any other URL on that origin is refused like an address the SSRF rules refuse."""

from __future__ import annotations

import httpx

from kassa.db.engine import Database
from tests.adapters.support import ORDERS, create_order, item, order_body
from tests.conftest import Tenant
from tests.support.delivery_env import deliver, delivery_env


async def test_other_urls_on_the_callback_origin_are_refused(
    storefront: httpx.AsyncClient, shop: Tenant
) -> None:
    order_id = await create_order(storefront, order_body(item(12.5, 10)))
    for invoke in (
        "http://kassa.internal/checkout/order/api/v0/checkout/orders/{order_id}",
        "http://kassa.internal/checkout/sandbox-psp-adapter/api/checkout/v1/callback/x",
        "http://kassa.internal/checkout/nonpsp-adapterX/anything",
    ):
        response = await storefront.post(
            f"{ORDERS}/{order_id}/hooks", json={"subscribeTo": "/reference", "invoke": invoke}
        )
        assert response.status_code == 200, response.text
    response = await storefront.put(f"{ORDERS}/{order_id}/reference", json="r-1")
    assert response.status_code == 200, response.text
    warnings = response.headers["kassa-warnings"].split(",")
    assert len(warnings) == 3 and all(w.startswith("hook-failed:") for w in warnings)
    history = (await storefront.get(f"{ORDERS}/{order_id}/history")).json()
    assert [c["outcome"] for c in history[-1]["hookCalls"]] == ["failed"] * 3


async def test_mounted_adapter_urls_are_dispatched_in_process(
    storefront: httpx.AsyncClient, shop: Tenant
) -> None:
    order_id = await create_order(storefront, order_body(item(12.5, 10)))
    # a validation callback on the adapter's prefix: the adapter application answers it
    # (404: the Non-PSP adapter registers no validation), so the call reached it
    url = "http://kassa.internal/checkout/nonpsp-adapter/api/checkout/v1/validate/{order_id}"
    response = await storefront.post(
        f"{ORDERS}/{order_id}/validations", json={"adapterId": "x", "url": url}
    )
    assert response.status_code == 200, response.text
    response = await storefront.post(f"{ORDERS}/{order_id}/validate")
    assert response.status_code == 400, response.text
    [error] = [e for e in response.json() if e["adapterId"] == "x"]
    assert error["code"] == "route-not-found"
    assert "kassa-warnings" not in response.headers


async def test_notifications_reach_mounted_adapters_in_process(
    db: Database, database_url: str
) -> None:
    """The delivery loop (in ``kassa serve`` or ``kassa worker``) signs and sends a notification
    on the callback origin in-process; the adapter verifies the signature and answers 200."""
    base = "http://kassa.internal/checkout/nonpsp-adapter/api/checkout/v1/callback/orders"
    async with delivery_env(db, database_url) as env:
        ok = await env.order_with_notification(
            path="/{order_id}/payments/p_x/state-changed", base=base
        )
        refused = await env.order_with_notification(path="/elsewhere", base="http://kassa.internal")
        loop = env.loop()
        for order_id, status in ((ok, "succeeded"), (refused, "failed")):
            await env.set_reference(order_id, "r1")
            [event] = await env.events_of(order_id)
            delivered = await deliver(env, loop, event["id"], status)
            [attempt] = delivered["attempts"]
            if status == "succeeded":
                assert attempt["statusCode"] == 200, attempt
            else:
                assert attempt["outcome"] == "url-not-allowed", attempt
