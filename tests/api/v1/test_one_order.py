"""One order, two paths (v1.md §4.1): created, read, written, listed in history and deleted
through either base; camelCase path parameters (§1.1); the path prefix (§5 case 16)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from kassa.app import create_app
from kassa.config import Settings
from kassa.db.engine import Database
from tests.conftest import Tenant, client_for, create_order
from tests.support.http_asserts import assert_error
from tests.support.v1 import FREE, ORDER_ID, V0, V1, create_v1, history, read, read_both

UNKNOWN = "o_" + "Q" * 26
CART = {
    "reference": "cart-1",
    "items": [
        {"id": "line-1", "name": "Mug", "quantity": 2, "total": {"includingVat": 25.5}},
    ],
}
PREFIX = "/checkout/order"


# 1. Create via v1, read via v0 ----------------------------------------------------------------


async def test_create_via_v1_read_via_both(client: httpx.AsyncClient) -> None:
    response = await client.post(V1, json={"currency": "SEK", "cart": CART})
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id"} and ORDER_ID.match(body["id"]), body
    order_id = body["id"]
    assert response.headers["location"] == f"{V1}/{order_id}"
    assert response.headers["etag"] == '"1"'
    v0 = await read(client, f"{V0}/{order_id}")
    v1 = await read(client, f"{V1}/{order_id}")
    assert v0.json() == v1.json()
    assert v0.headers["etag"] == v1.headers["etag"] == '"1"'
    order = v1.json()
    assert order["id"] == order_id
    assert order["cart"]["reference"] == "cart-1"
    assert order["cart"]["items"][0]["id"] == "line-1"
    assert order["cart"]["items"][0]["total"]["includingVat"] == 25.5


async def test_create_without_body_and_locations_per_path(client: httpx.AsyncClient) -> None:
    response = await client.post(V1)  # an absent create-order body is allowed (v1.md §2 notes)
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]
    assert response.headers["location"] == f"{V1}/{order_id}"
    assert (await read_both(client, f"/{order_id}"))["state"]["currentStatus"] == "checkout"
    response = await client.post(V0, json={})
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"{V0}/{response.json()['id']}"


# 2. ETags across paths ------------------------------------------------------------------------


async def test_etag_from_v0_valid_on_v1(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    assert (await read(client, f"{V0}/{order_id}")).headers["etag"] == '"1"'
    url = f"{V1}/{order_id}/cart"
    response = await client.put(url, json=CART, headers={"If-Match": '"1"'})
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert response.headers["etag"] == '"2"'
    stale = await client.put(url, json={"items": []}, headers={"If-Match": '"1"'})
    assert assert_error(stale, 412, "precondition-failed")["currentETag"] == '"2"'
    order = (await read(client, f"{V0}/{order_id}")).json()
    assert order["cart"]["reference"] == "cart-1"
    assert [item["id"] for item in order["cart"]["items"]] == ["line-1"]
    # and the other way round: the v1 ETag on a v0 write
    v1_tag = (await read(client, f"{V1}/{order_id}")).headers["etag"]
    response = await client.put(
        f"{V0}/{order_id}/reference", json="r", headers={"If-Match": v1_tag}
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"3"'
    stale = await client.put(f"{V1}/{order_id}/reference", json="s", headers={"If-Match": v1_tag})
    assert assert_error(stale, 412, "precondition-failed")["currentETag"] == '"3"'


# 3. camelCase path parameters -----------------------------------------------------------------


async def test_camel_case_parameters_address_real_ids(client: httpx.AsyncClient) -> None:
    order_id = await create_v1(client, {"consents": [{"id": "terms"}, {"id": "news"}]})
    base = f"{V1}/{order_id}"

    response = await client.patch(f"{base}/consents/terms", json={"checked": True})
    assert response.status_code == 200, response.text
    response = await client.delete(f"{base}/consents/news")
    assert response.status_code == 200, response.text
    consents = (await read_both(client, f"/{order_id}"))["consents"]
    assert [(c["id"], c["checked"]) for c in consents] == [("terms", True)]

    hook = await client.post(f"{base}/hooks", json={"scope": "/reference", "invoke": "http://h/"})
    assert hook.status_code == 200, hook.text
    note = await client.post(
        f"{base}/notifications", json={"scope": "/reference", "invoke": "http://n/"}
    )
    assert note.status_code == 200, note.text
    check = await client.post(f"{base}/validations", json={"invoke": "http://v/"})
    assert check.status_code == 200, check.text
    validation_id = check.json()["id"]
    response = await client.put(
        f"{base}/validations/{validation_id}", json={"invoke": "http://v2/"}
    )
    assert response.status_code == 200, response.text
    order = await read_both(client, f"/{order_id}")
    assert [v["url"] for v in order["validations"]] == ["http://v2/"]
    for kind, created in (("hooks", hook), ("notifications", note), ("validations", check)):
        response = await client.delete(f"{base}/{kind}/{created.json()['id']}")
        assert response.status_code == 200, (kind, response.text)
    order = await read_both(client, f"/{order_id}")
    assert (order["hooks"], order["notifications"], order["validations"]) == ([], [], [])

    response = await client.post(f"{base}/payments", json={"amount": 10})
    assert response.status_code == 201, response.text
    payment_id = response.json()["id"]
    response = await client.put(f"{base}/payments/{payment_id}", json={"amount": 12})
    assert response.status_code == 200, response.text
    assert response.json()["amount"] == 12
    payment = await read_both(client, f"/{order_id}/payments/{payment_id}")
    assert (payment["id"], payment["amount"]) == (payment_id, 12)
    transactions = await read_both(client, f"/{order_id}/payments/{payment_id}/transactions")
    assert transactions == []

    shipping = {"total": {"includingVat": 49, "excludingVat": 39.2}, "vatRate": 0.25}
    response = await client.post(f"{base}/shippings", json=shipping)
    assert response.status_code == 201, response.text
    shipping_id = response.json()["id"]
    assert response.headers["location"] == f"{base}/shippings/{shipping_id}"
    response = await client.put(f"{base}/shippings/{shipping_id}", json={**shipping, "name": "x"})
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "x"
    found = await read_both(client, f"/{order_id}/shippings/{shipping_id}")
    assert (found["id"], found["name"]) == (shipping_id, "x")


async def test_unknown_ids_on_v1(client: httpx.AsyncClient) -> None:
    assert_error(await client.get(f"{V1}/{UNKNOWN}"), 404, "order-not-found")
    assert_error(await client.get(f"{V1}/not-an-id/history"), 404, "order-not-found")
    assert_error(await client.put(f"{V1}/{UNKNOWN}/reference", json="r"), 404, "order-not-found")
    order_id = await create_v1(client)
    unknown_payment = f"{V1}/{order_id}/payments/p_{'A' * 26}"
    assert_error(await client.get(unknown_payment), 404, "payment-not-found")
    assert_error(await client.get(f"{unknown_payment}/transactions"), 404, "payment-not-found")
    unknown_shipping = f"{V1}/{order_id}/shippings/s_{'A' * 26}"
    assert_error(await client.get(unknown_shipping), 404, "shipping-not-found")
    unknown_consent = f"{V1}/{order_id}/consents/nope"
    assert_error(
        await client.patch(unknown_consent, json={"checked": True}), 404, "consent-not-found"
    )


_SAMPLE = re.compile(r"^kassa_http_requests_total\{(?P<labels>.*)\} \S+$", re.M)


async def test_metrics_route_label_is_the_v1_template(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    order_id = await create_v1(client)
    await read(client, f"{V1}/{order_id}")
    assert_error(await client.get(f"{V1}/{UNKNOWN}/payments"), 404, "order-not-found")
    async with client_for(app) as anonymous:
        metrics = await anonymous.get("/metrics")
    assert metrics.status_code == 200, metrics.text
    labels = [
        dict(re.findall(r'(\w+)="([^"]*)"', m.group("labels")))
        for m in _SAMPLE.finditer(metrics.text)
    ]
    assert {"method": "GET", "route": f"{V1}/{{orderId}}", "status": "200"} in labels
    assert {"method": "POST", "route": V1, "status": "201"} in labels
    assert {"method": "GET", "route": f"{V1}/{{orderId}}/payments", "status": "404"} in labels
    assert order_id not in metrics.text
    assert UNKNOWN not in metrics.text


# 9. One history -------------------------------------------------------------------------------


async def test_one_history_over_both_paths(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.patch(f"{V1}/{order_id}/attributes", json={"a": 1})
    assert response.status_code == 200, response.text
    response = await client.put(f"{V1}/{order_id}/reference", json="r-1")
    assert response.status_code == 200, response.text
    entries = await read_both(client, f"/{order_id}/history")
    assert [(e["sequence"], e["operation"]) for e in entries] == [
        (1, "CreateCheckoutOrder"),
        (2, "PatchCheckoutOrderAttributes"),
        (3, "UpdateCheckoutOrderReference"),
    ]
    assert entries == await history(client, V1, order_id)


async def test_v1_create_is_recorded_as_create_checkout_order(client: httpx.AsyncClient) -> None:
    order_id = await create_v1(client, FREE)
    response = await client.put(f"{V1}/{order_id}/state", json={"currentStatus": "completed"})
    assert response.status_code == 200, response.text
    entries = await history(client, V0, order_id)
    assert [e["operation"] for e in entries] == ["CreateCheckoutOrder", "UpdateCheckoutOrderState"]


# 14. Delete via v1 ----------------------------------------------------------------------------


async def test_delete_via_v1_removes_the_order_from_both_paths(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.post(f"{V0}/{order_id}/payments", json={})
    assert response.status_code == 201, response.text
    payment_id = response.json()["id"]
    response = await client.delete(f"{V1}/{order_id}")
    assert response.status_code == 204, response.text
    assert response.content == b""
    for response in (
        await client.get(f"{V0}/{order_id}"),
        await client.get(f"{V0}/{order_id}/history"),
        await client.get(f"{V1}/{order_id}/payments"),
        await client.get(f"{V1}/{order_id}"),
        await client.get(f"{V1}/{order_id}/payments/{payment_id}"),
        await client.put(f"{V1}/{order_id}/reference", json="r"),
        await client.delete(f"{V0}/{order_id}"),
    ):
        assert_error(response, 404, "order-not-found")


# 16. Path prefix and the storefront's calls ---------------------------------------------------


@pytest.fixture
async def prefixed(
    settings: Settings, db: Database, tenant: Tenant
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        Settings(database_url=settings.database_url, path_prefix=PREFIX, access_log=False), db=db
    )
    async with client_for(app, tenant.headers) as c:
        yield c


async def test_prefix_serves_v1_as_the_storefront_calls_it(
    prefixed: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await prefixed.post(PREFIX + V1, json={"reference": "pre"})
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]
    assert response.headers["location"] == f"{PREFIX}{V1}/{order_id}"
    storefront = {
        "Authorization": f"Bearer {tenant.key}",
        "x-merchant": tenant.merchant,
        "x-channel": tenant.channel,
    }
    response = await prefixed.get(f"{PREFIX}{V1}/{order_id}", headers=storefront)
    assert response.status_code == 200, response.text
    assert response.json()["reference"] == "pre"
    assert response.headers["etag"] == '"1"'
    response = await prefixed.post(f"{PREFIX}{V1}/{order_id}/validate", json={}, headers=storefront)
    assert response.status_code == 400, response.text
    body = response.json()
    assert isinstance(body, list) and body[0]["code"] == "cart-empty", body
    assert body[0]["adapterId"] == "kassa"
    response = await prefixed.post(f"{PREFIX}{V1}/{order_id}/payments", json={})
    assert response.status_code == 201, response.text
    location = f"{PREFIX}{V1}/{order_id}/payments/{response.json()['id']}"
    assert response.headers["location"] == location
    assert (await prefixed.get(location)).status_code == 200
    assert_error(await prefixed.get(f"{V1}/{order_id}"), 404, "route-not-found")
    response = await prefixed.get(PREFIX + "/openapi.json")
    assert f"{PREFIX}{V1}/{{orderId}}" in response.json()["paths"]
