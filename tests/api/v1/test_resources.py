"""Resources on v1 routes (v1.md §2, §3): fields missing from Norce's v1 model, list parity,
validate, payments across paths, consent ids (§5 cases 10-13, 15)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx

from tests.conftest import create_order
from tests.support.http_asserts import assert_error, field_paths
from tests.support.receiver import Receiver
from tests.support.v1 import FREE, V0, V1, create_v1, read, read_both

PAYMENT_LOCATION = re.compile(r"^/api/v1/checkout/orders/o_[A-Za-z]{26}/payments/p_[A-Za-z]{26}$")


# 10. Fields missing from Norce's v1 model survive on v1 ---------------------------------------


async def test_v0_only_fields_accepted_and_returned_on_v1(client: httpx.AsyncClient) -> None:
    item = {
        "id": "line-1",
        "name": "Chair",
        "quantity": 1,
        "total": {"includingVat": 100, "excludingVat": 80},
        "logistics": {"weight": 7, "tags": ["bulky"], "shippingDate": "2026-12-24T10:00:00Z"},
        "upsell": True,
    }
    discount = {"type": "item", "name": "Xmas", "reference": "d-1", "description": "Seasonal"}
    order_id = await create_v1(
        client, {"currency": "SEK", "cart": {"items": [item], "discounts": [discount]}}
    )
    upsell = {"eligible": True, "expiration": "2026-12-31T00:00:00Z"}
    response = await client.post(
        f"{V1}/{order_id}/payments", json={"amount": 100, "upsell": upsell}
    )
    assert response.status_code == 201, response.text
    payment_id = response.json()["id"]
    shipping = {
        "total": {"includingVat": 49, "excludingVat": 39.2},
        "vatRate": 0.25,
        "deliveryDetails": {"carrier": "PostNord", "carrierProductId": "pn-19"},
    }
    response = await client.post(f"{V1}/{order_id}/shippings", json=shipping)
    assert response.status_code == 201, response.text
    shipping_id = response.json()["id"]

    order = await read_both(client, f"/{order_id}")
    [stored_item] = order["cart"]["items"]
    assert stored_item["logistics"] == item["logistics"]
    assert stored_item["upsell"] is True
    [stored_discount] = order["cart"]["discounts"]
    assert (stored_discount["reference"], stored_discount["description"]) == ("d-1", "Seasonal")
    payment = await read_both(client, f"/{order_id}/payments/{payment_id}")
    assert payment["upsell"]["eligible"] is True
    assert payment["upsell"]["expiration"] == "2026-12-31T00:00:00Z"
    assert payment["merchant"] == order["merchant"]
    assert payment["channel"] == order["channel"]
    assert payment["orderId"] == order_id
    assert payment == order["payments"][0]
    found = await read_both(client, f"/{order_id}/shippings/{shipping_id}")
    assert found["deliveryDetails"] == {"carrier": "PostNord", "carrierProductId": "pn-19"}
    listing = (await read(client, V1)).json()
    assert listing["pagination"]["valueSum"] == 149  # the cart and the shipping
    assert listing["data"] == [order]


async def test_put_cart_on_v1_replaces_what_it_covers(client: httpx.AsyncClient) -> None:
    item = {"id": "line-1", "name": "Chair", "quantity": 1, "logistics": {"weight": 7}}
    order_id = await create_order(client, {"cart": {"items": [item]}})
    # a v1 client that drops the fields it does not know removes them (v1.md §3)
    response = await client.put(
        f"{V1}/{order_id}/cart", json={"items": [{"id": "line-1", "name": "Chair", "quantity": 2}]}
    )
    assert response.status_code == 200, response.text
    [stored] = (await read_both(client, f"/{order_id}"))["cart"]["items"]
    assert stored["id"] == "line-1"
    assert stored["quantity"] == 2
    assert "logistics" not in stored


# 11. List parity ------------------------------------------------------------------------------


async def test_same_query_same_page_on_both_paths(client: httpx.AsyncClient) -> None:
    orders: list[str] = []
    for n, (email, price, status) in enumerate(
        [
            ("a@x.se", 30, "checkout"),
            ("b@x.se", 10, "declined"),
            ("a@x.se", 20, "declined"),
            ("c@x.se", 5, "declined"),
            ("a@x.se", 40, "removed"),
        ]
    ):
        if orders:
            await asyncio.sleep(0.003)  # distinct ``created``
        body = {
            "reference": f"ref-{n}",
            "customer": {"billing": {"email": email, "givenName": f"Name{n}"}},
            "cart": {"items": [{"name": "x", "quantity": 1, "total": {"includingVat": price}}]},
        }
        order_id = await create_order(client, body)
        if status != "checkout":
            response = await client.put(f"{V1}/{order_id}/state", json={"currentStatus": status})
            assert response.status_code == 200, response.text
        orders.append(order_id)
    first = (await read(client, f"{V0}/{orders[0]}")).json()
    query = [
        ("status", "declined"),
        ("status", "Removed"),
        ("billing_emails", "a@x.se"),
        ("billing_emails[]", "b@x.se"),
        ("date_from", first["created"]),
        ("order_by", "cartTotal"),
        ("order_by_direction", "asc"),
        ("limit", "2"),
    ]
    v0 = await read(client, V0 + "?" + str(httpx.QueryParams(query)))
    v1 = await read(client, V1 + "?" + str(httpx.QueryParams(query)))
    assert v1.json() == v0.json()
    body = v1.json()
    assert [o["id"] for o in body["data"]] == [orders[1], orders[2]]
    assert body["pagination"] == {
        "offset": 0,
        "limit": 2,
        "size": 2,
        "totalSize": 3,
        "valueSum": 70,
    }
    response = await read(client, V1 + "?" + str(httpx.QueryParams({"search": "NAME3"})))
    assert [o["id"] for o in response.json()["data"]] == [orders[3]]
    response = await read(client, V1 + "?" + str(httpx.QueryParams({"unknown": "x"})))
    assert response.json()["pagination"]["totalSize"] == 5


async def test_bad_list_parameters_on_v1(client: httpx.AsyncClient) -> None:
    for name, value in (("limit", "abc"), ("limit", "1.5"), ("offset", "-1"), ("limit", "0")):
        response = await client.get(V1, params={name: value})
        assert f"?{name}" in field_paths(assert_error(response, 400, "invalid-request"))
    response = await client.get(V1, params={"order_by": "price"})
    assert "?order_by" in field_paths(assert_error(response, 400, "invalid-request"))
    response = await read(client, V1 + "?limit=500")
    assert response.json()["pagination"]["limit"] == 100


# 12. Validate via v1 --------------------------------------------------------------------------


async def test_validate_via_v1(client: httpx.AsyncClient) -> None:
    empty = await create_v1(client)
    for base in (V1, V0):
        response = await client.post(f"{base}/{empty}/validate", json={})
        assert response.status_code == 400, response.text
        body = response.json()
        assert isinstance(body, list), body
        assert (body[0]["code"], body[0]["adapterId"]) == ("cart-empty", "kassa")
        assert isinstance(body[0]["message"], str)
    valid = await create_v1(client, FREE)
    response = await client.post(f"{V1}/{valid}/validate", json={})
    assert response.status_code == 200, response.text
    assert response.json() == []
    # the body is ignored, whatever it is (v1.md §2 notes)
    response = await client.post(
        f"{V1}/{valid}/validate", content=b"not JSON {", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == []
    assert len((await read(client, f"{V1}/{valid}/history")).json()) == 1


# 13. Payments across paths --------------------------------------------------------------------


async def test_payments_across_paths(local: httpx.AsyncClient, receiver: Receiver) -> None:
    receiver.body = b'{"status": "captured"}'
    order_id = await create_order(local, {"currency": "SEK"})
    response = await local.post(f"{V1}/{order_id}/payments", json={"state": "Intent", "amount": 10})
    assert response.status_code == 201, response.text
    payment_id = response.json()["id"]
    assert PAYMENT_LOCATION.match(response.headers["location"])
    assert response.headers["location"] == f"{V1}/{order_id}/payments/{payment_id}"
    assert (await read_both(local, f"/{order_id}/payments/{payment_id}"))["state"] == "intent"

    action = {"adapterId": "psp", "type": "capture", "url": receiver.base + "/act/{payment_id}"}
    response = await local.post(f"{V0}/{order_id}/payments/{payment_id}/actions", json=[action])
    assert response.status_code == 200, response.text
    action_id = response.json()[0]["id"]
    response = await local.post(
        f"{V1}/{order_id}/payments/{payment_id}/actions/{action_id}/execute"
    )
    assert response.status_code == 200, response.text
    executed = response.json()
    assert (executed["event"], executed["isSuccess"]) == ("paymentAction", True)
    assert executed["paymentAction"]["id"] == action_id
    assert [r.target for r in receiver.requests] == [f"/act/{payment_id}"]
    listed = (await read(local, f"{V0}/{order_id}/payments/{payment_id}/transactions")).json()
    assert listed == [executed]

    capture: dict[str, Any] = {"event": "capture", "isSuccess": True, "amount": 6}
    response = await local.post(f"{V0}/{order_id}/payments/{payment_id}/transactions", json=capture)
    assert response.status_code == 200, response.text
    response = await local.post(
        f"{V1}/{order_id}/payments/{payment_id}/transactions", json={**capture, "amount": 5}
    )
    assert assert_error(response, 409, "amount-exceeds-reserved")["available"] == 4
    response = await local.post(
        f"{V1}/{order_id}/payments/{payment_id}/transactions", json={**capture, "amount": 4}
    )
    assert response.status_code == 200, response.text
    transactions = await read_both(local, f"/{order_id}/payments/{payment_id}/transactions")
    assert [(t["event"], t.get("amount")) for t in transactions] == [
        ("paymentAction", None),
        ("capture", 6),
        ("capture", 4),
    ]
    # a transaction without its event is refused on v1 as on v0
    response = await local.post(
        f"{V1}/{order_id}/payments/{payment_id}/transactions", json={"amount": 1}
    )
    assert field_paths(assert_error(response, 400, "invalid-request")) == ["/event"]


async def test_create_payment_without_body_on_v1(client: httpx.AsyncClient) -> None:
    order_id = await create_v1(client)
    response = await client.post(f"{V1}/{order_id}/payments")
    assert response.status_code == 201, response.text
    payment = await read_both(client, f"/{order_id}/payments/{response.json()['id']}")
    assert payment["orderId"] == order_id


# 15. Consent id on v1 -------------------------------------------------------------------------


async def test_consent_id_required_on_v1(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.post(f"{V1}/{order_id}/consents", json={"text": "News?"})
    assert field_paths(assert_error(response, 400, "invalid-request")) == ["/id"]
    response = await client.post(
        f"{V1}/{order_id}/consents", json={"id": "ci_newsleter", "text": "News?"}
    )
    assert response.status_code == 200, response.text
    assert response.content == b""
    response = await client.patch(f"{V1}/{order_id}/consents/ci_newsleter", json={"checked": True})
    assert response.status_code == 200, response.text
    order = (await read(client, f"{V0}/{order_id}")).json()
    assert [(c["id"], c["checked"]) for c in order["consents"]] == [("ci_newsleter", True)]
    response = await client.post(f"{V1}/{order_id}/consents", json={"id": "ci_newsleter"})
    assert_error(response, 409, "consent-already-exists")
