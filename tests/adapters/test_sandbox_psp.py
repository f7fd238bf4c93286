"""The sandbox card PSP over HTTP (adapters.md §5; §9 cases 14-21 and 24)."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpx
from fastapi import FastAPI

from kassa import jsonutil
from kassa.delivery.loop import DeliveryLoop
from tests.adapters.sandbox_support import authorize, sandbox_checkout, transactions
from tests.adapters.support import (
    ORDERS,
    SANDBOX,
    SANDBOX_ACTIONS,
    SANDBOX_CALLBACKS,
    SANDBOX_ORDERS,
    create_order,
    get_order,
    item,
    order_body,
    put_configuration,
    sandbox_configuration,
    signed_headers,
)
from tests.conftest import Tenant

ADAPTER = "kassa_sandbox_psp_adapter"


def payment_of(order: dict[str, Any], payment_id: str) -> dict[str, Any]:
    [payment] = [p for p in order["payments"] if p["id"] == payment_id]
    return dict(payment)


def action_ids(payment: dict[str, Any]) -> dict[str, str]:
    return {a["type"]: a["id"] for a in payment["actions"]}


async def execute(
    client: httpx.AsyncClient, order_id: str, payment_id: str, action_id: str
) -> httpx.Response:
    return await client.post(
        f"{ORDERS}/{order_id}/payments/{payment_id}/actions/{action_id}/execute"
    )


def successful(ledger: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [t for t in ledger if t["event"] == event and t["isSuccess"]]


async def test_money_lifecycle(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    """Case 14: approve, capture, refund; the order then keeps its money records."""
    order_id, payment_id = await sandbox_checkout(buyer, shop)
    response = await buyer.get(f"{SANDBOX_ORDERS}/{order_id}/payments/{payment_id}")
    assert response.status_code == 200, response.text
    created = response.json()
    assert created["pspReference"].startswith("sbx_") and len(created["pspReference"]) == 30
    assert created == {
        "paymentId": payment_id,
        "state": "intent",
        "amount": 20,
        "currency": "SEK",
        "pspReference": created["pspReference"],
    }
    order = await get_order(buyer, order_id)
    refs = sorted(
        x["reference"]
        for field in ("hooks", "validations", "notifications")
        for x in order[field]
        if x.get("adapterId") == ADAPTER
    )
    assert refs == [
        f"{ADAPTER}/{payment_id}/{name}"
        for name in (
            "completed",
            "state-changed",
            "update-payment-payments",
            "update-payment-total",
            "validate",
        )
    ]

    response = await authorize(buyer, order_id, payment_id, {"scenario": "approve"})
    assert response.status_code == 200, response.text
    assert response.json() == {"paymentId": payment_id, "result": "approved", "state": "reserved"}
    order = await get_order(buyer, order_id)
    assert order["state"]["currentStatus"] == "accepted"
    payment = payment_of(order, payment_id)
    assert payment["state"] == "reserved"
    assert [a["type"] for a in payment["actions"]] == ["capture", "cancel", "refresh"]
    [opened] = await transactions(buyer, order_id, payment_id)
    assert opened["event"] == "open" and opened["isSuccess"] is True
    assert opened["pspStatus"] == "AUTHORISED" and opened["amount"] == 20
    assert jsonutil.loads(opened["responseJson"])["resultCode"] == "Authorised"

    response = await execute(buyer, order_id, payment_id, action_ids(payment)["capture"])
    assert response.status_code == 200, response.text
    assert response.json()["event"] == "paymentAction" and response.json()["isSuccess"] is True
    ledger = await transactions(buyer, order_id, payment_id)
    [capture] = successful(ledger, "capture")
    assert capture["amount"] == 20 and capture["paymentAction"]["type"] == "capture"
    payment = payment_of(await get_order(buyer, order_id), payment_id)
    assert payment["state"] == "captured"
    assert [a["type"] for a in payment["actions"]] == ["refund", "refresh"]

    response = await execute(buyer, order_id, payment_id, action_ids(payment)["refund"])
    assert response.status_code == 200, response.text
    ledger = await transactions(buyer, order_id, payment_id)
    [refund] = successful(ledger, "refund")
    assert refund["amount"] == 20
    payment = payment_of(await get_order(buyer, order_id), payment_id)
    assert payment["state"] == "refunded"
    assert [a["type"] for a in payment["actions"]] == ["refresh"]

    response = await buyer.delete(f"{ORDERS}/{order_id}")
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "order-has-transactions"


async def test_no_double_capture(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    """Case 15: the old capture action is gone after a full capture; two concurrent
    executions of the listed one capture once."""
    order_id, payment_id = await sandbox_checkout(buyer, shop)
    assert (
        await authorize(buyer, order_id, payment_id, {"scenario": "approve"})
    ).status_code == 200
    payment = payment_of(await get_order(buyer, order_id), payment_id)
    capture_id = action_ids(payment)["capture"]

    first, second = await asyncio.gather(
        execute(buyer, order_id, payment_id, capture_id),
        execute(buyer, order_id, payment_id, capture_id),
    )
    statuses = sorted([first.status_code, second.status_code])
    assert statuses[0] == 200, (first.text, second.text)
    loser = second if first.status_code == 200 else first
    assert loser.status_code in (502, 404), loser.text
    assert loser.json()["code"] in ("action-failed", "action-not-found")
    ledger = await transactions(buyer, order_id, payment_id)
    [capture] = successful(ledger, "capture")
    assert capture["amount"] == 20

    response = await execute(buyer, order_id, payment_id, capture_id)
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "action-not-found"
    assert len(successful(await transactions(buyer, order_id, payment_id), "capture")) == 1


async def test_partial_capture_then_the_rest(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    """Direct calls with a key and an amount: capture 5, then the rest; over-refund refused."""
    order_id, payment_id = await sandbox_checkout(buyer, shop)
    assert (await authorize(buyer, order_id, payment_id)).status_code == 200
    url = f"{SANDBOX_ACTIONS}/{order_id}/payments/{payment_id}"
    response = await buyer.post(f"{url}/capture", json={"amount": 5})
    assert response.status_code == 200, response.text
    assert response.json() == {"action": "capture", "amount": 5, "pspStatus": "CAPTURED"}
    payment = payment_of(await get_order(buyer, order_id), payment_id)
    assert payment["state"] == "captured"
    assert [a["type"] for a in payment["actions"]] == ["capture", "refund", "refresh"]

    response = await buyer.post(f"{url}/capture")
    assert response.status_code == 200, response.text
    assert response.json()["amount"] == 15
    response = await buyer.post(f"{url}/capture")
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "action-not-available"

    # over-refund: the ledger refuses, nothing stored
    before = await transactions(buyer, order_id, payment_id)
    response = await buyer.post(f"{url}/refund", json={"amount": 25})
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "amount-exceeds-captured"
    assert await transactions(buyer, order_id, payment_id) == before

    response = await buyer.post(f"{url}/refund", json={"amount": 8})
    assert response.status_code == 200, response.text
    assert payment_of(await get_order(buyer, order_id), payment_id)["state"] == "credited"
    response = await buyer.post(f"{url}/refund", json={"amount": "x"})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid-amount"


async def test_cancel_before_capture(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    order_id, payment_id = await sandbox_checkout(buyer, shop)
    assert (await authorize(buyer, order_id, payment_id)).status_code == 200
    payment = payment_of(await get_order(buyer, order_id), payment_id)
    response = await execute(buyer, order_id, payment_id, action_ids(payment)["cancel"])
    assert response.status_code == 200, response.text
    payment = payment_of(await get_order(buyer, order_id), payment_id)
    assert payment["state"] == "cancelled"
    assert [a["type"] for a in payment["actions"]] == ["refresh"]
    url = f"{SANDBOX_ACTIONS}/{order_id}/payments/{payment_id}"
    response = await buyer.post(f"{url}/capture")
    assert response.status_code == 409, response.text
    assert response.json() == {
        "code": "action-not-available",
        "message": "Nothing is left to capture.",
        "state": "cancelled",
        "requestId": response.json()["requestId"],
    }


async def test_decline_and_retry(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    """Case 16."""
    order_id, payment_id = await sandbox_checkout(buyer, shop)
    response = await authorize(buyer, order_id, payment_id, {"scenario": "decline"})
    assert response.status_code == 200, response.text
    assert response.json() == {"paymentId": payment_id, "result": "declined", "state": "declined"}
    order = await get_order(buyer, order_id)
    assert order["state"]["currentStatus"] == "checkout"
    assert payment_of(order, payment_id)["state"] == "declined"
    [failed] = await transactions(buyer, order_id, payment_id)
    assert failed["event"] == "open" and failed["isSuccess"] is False
    assert failed["pspStatus"] == "REFUSED" and failed["errorDetail"] == "card_declined"

    response = await authorize(buyer, order_id, payment_id, {"cardNumber": "4242 4242 4242 4242"})
    assert response.status_code == 200, response.text
    assert response.json()["result"] == "approved"
    order = await get_order(buyer, order_id)
    assert order["state"]["currentStatus"] == "accepted"
    assert payment_of(order, payment_id)["state"] == "reserved"
    ledger = await transactions(buyer, order_id, payment_id)
    assert [(t["event"], t["isSuccess"]) for t in ledger] == [("open", False), ("open", True)]


async def test_confirm_page(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    """Case 17."""
    order_id, payment_id = await sandbox_checkout(buyer, shop)
    response = await authorize(buyer, order_id, payment_id, {"scenario": "redirect"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["result"] == "redirect" and result["state"] == "processing"
    url = result["redirectUrl"]
    assert url.startswith(SANDBOX + "/sandbox/challenge/")
    response = await buyer.get(f"{SANDBOX_ORDERS}/{order_id}/payments/{payment_id}")
    assert response.json()["redirectUrl"].startswith(SANDBOX + "/sandbox/challenge/")

    page = httpx.AsyncClient(transport=buyer._transport, base_url="http://kassa.test")
    async with page:
        response = await page.get(url)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/html")
        assert (
            order_id in response.text
            and 'data-testid="challenge-approve"' in response.text.replace("'", '"')
        )

        response = await page.post(url, data={"outcome": "approve"})
        assert response.status_code == 303, response.text
        expected = f"https://shop.example/thanks/{order_id}?m={shop.merchant}"
        assert response.headers["location"] == expected
        order = await get_order(buyer, order_id)
        assert order["state"]["currentStatus"] == "accepted"
        assert payment_of(order, payment_id)["state"] == "reserved"
        ledger = await transactions(buyer, order_id, payment_id)

        response = await page.post(url, data={"outcome": "approve"})
        assert response.status_code == 303 and response.headers["location"] == expected
        assert await transactions(buyer, order_id, payment_id) == ledger

        payload, _, signature = url.rsplit("/", 1)[1].partition(".")
        tampered = url.rsplit("/", 1)[0] + "/" + payload + "x." + signature
        for method in ("GET", "POST"):
            response = await page.request(
                method, tampered, data={"outcome": "approve"} if method == "POST" else None
            )
            assert response.status_code == 404, response.text
            assert response.headers["content-type"].startswith("text/html")
            assert "challenge-not-found" in response.text


async def test_confirm_page_decline(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    order_id, payment_id = await sandbox_checkout(buyer, shop)
    response = await authorize(buyer, order_id, payment_id, {"cardNumber": "4000000000003220"})
    assert response.status_code == 200, response.text
    url = response.json()["redirectUrl"]
    # a running authorisation: a second P3 and a remove are refused
    response = await authorize(buyer, order_id, payment_id, {"scenario": "approve"})
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "payment-in-progress"
    assert response.json()["state"] == "processing"
    response = await buyer.post(f"{SANDBOX_ORDERS}/{order_id}/payments/{payment_id}/remove")
    assert response.status_code == 409 and response.json()["code"] == "payment-in-progress"

    response = await buyer.post(url, data={"outcome": "decline"})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"https://shop.example/checkout/{order_id}"
    order = await get_order(buyer, order_id)
    assert order["state"]["currentStatus"] == "checkout"
    assert payment_of(order, payment_id)["state"] == "declined"


async def push_of(client: httpx.AsyncClient, order_id: str, payment_id: str) -> list[Any]:
    response = await client.get(f"{SANDBOX_ORDERS}/{order_id}/payments/{payment_id}/pushes")
    assert response.status_code == 200, response.text
    body: list[Any] = response.json()
    return body


async def test_hostile_pushes(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    """Case 18: delayed, duplicated, reordered pushes are applied once and in order."""
    push = {"delayMs": 100, "duplicates": 2, "outOfOrder": True}
    order_id, payment_id = await sandbox_checkout(buyer, shop, push=push)
    response = await authorize(buyer, order_id, payment_id, {"scenario": "pending"})
    assert response.status_code == 200, response.text
    assert response.json() == {"paymentId": payment_id, "result": "pending", "state": "pending"}
    [process] = await transactions(buyer, order_id, payment_id)
    assert process["event"] == "process" and process["pspStatus"] == "PENDING"

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        sent = await push_of(buyer, order_id, payment_id)
        if len(sent) == 6 and all(p["delivered"] for p in sent):
            break
        await asyncio.sleep(0.1)
    sent = await push_of(buyer, order_id, payment_id)
    assert len(sent) == 6 and all(p["delivered"] and p["lastStatusCode"] == 200 for p in sent)
    assert [p["sequence"] for p in sent] == [2, 2, 2, 1, 1, 1]  # out of order
    assert len({p["eventId"] for p in sent}) == 2
    assert all(re.fullmatch(r"pe_[A-Za-z]{26}", p["eventId"]) for p in sent)
    order = await get_order(buyer, order_id)
    assert order["state"]["currentStatus"] == "accepted"
    payment = payment_of(order, payment_id)
    assert payment["state"] == "reserved"
    assert payment["attributes"][ADAPTER]["lastPushSequence"] == 2
    assert len(successful(await transactions(buyer, order_id, payment_id), "open")) == 1


async def test_push_signed_by_hand(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    """A push for another payment is 404; a late lower sequence writes nothing."""
    order_id, payment_id = await sandbox_checkout(
        buyer, shop, push={"delayMs": 600000}, pendingOutcome="decline"
    )
    assert (
        await authorize(buyer, order_id, payment_id, {"scenario": "pending"})
    ).status_code == 200
    url = f"{SANDBOX_CALLBACKS}/{order_id}/payments/{payment_id}/push"
    reference = payment_of(await get_order(buyer, order_id), payment_id)["reference"]

    async def send(body: dict[str, Any], target: str = url) -> httpx.Response:
        raw = jsonutil.dumps(body)
        headers = signed_headers(shop.merchant, shop.channel, raw)
        return await buyer.post(target, content=raw, headers={**headers, "Authorization": ""})

    unknown = {"eventId": "pe_x", "sequence": 2, "pspReference": "sbx_other", "status": "REFUSED"}
    response = await send(unknown)
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "payment-not-found"
    response = await send(
        {**unknown, "pspReference": reference}, url.replace(payment_id, "p_" + "x" * 26)
    )
    assert response.status_code == 404 and response.json()["code"] == "payment-not-found"

    response = await send(
        {"eventId": "pe_y", "sequence": 2, "pspReference": reference, "status": "REFUSED"}
    )
    assert response.status_code == 200 and response.json() == {"applied": True}
    order = await get_order(buyer, order_id)
    assert payment_of(order, payment_id)["state"] == "declined"
    assert order["state"]["currentStatus"] == "checkout"
    version = order["version"] if "version" in order else order["lastModified"]
    response = await send(
        {"eventId": "pe_z", "sequence": 1, "pspReference": reference, "status": "PENDING"}
    )
    assert response.status_code == 200 and response.json() == {"applied": False}
    order = await get_order(buyer, order_id)
    assert (order["version"] if "version" in order else order["lastModified"]) == version


async def test_state_veto(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    """Case 19."""
    order_id, payment_id = await sandbox_checkout(buyer, shop, push={"delayMs": 600000})
    assert (
        await authorize(buyer, order_id, payment_id, {"scenario": "pending"})
    ).status_code == 200
    response = await buyer.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "checkout"})
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == "hook-rejected" and error["adapterId"] == ADAPTER
    order = await get_order(buyer, order_id)
    assert order["state"]["currentStatus"] == "processing"


async def test_validation_callback(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    """Case 20."""
    order_id, payment_id = await sandbox_checkout(buyer, shop, failValidation=True)
    response = await authorize(buyer, order_id, payment_id, {"scenario": "approve"})
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == "validation-failed"
    assert {"code": "sandbox-validation-failed", "adapterId": ADAPTER} in [
        {"code": e["code"], "adapterId": e.get("adapterId")} for e in error["errors"]
    ]
    order = await get_order(buyer, order_id)
    assert order["state"]["currentStatus"] == "checkout"
    assert payment_of(order, payment_id)["state"] == "intent"
    assert await transactions(buyer, order_id, payment_id) == []


async def test_review(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    order_id, payment_id = await sandbox_checkout(buyer, shop)
    review = f"{SANDBOX_ORDERS}/{order_id}/payments/{payment_id}/review"
    response = await buyer.post(review, json={"decision": "approve"})
    assert response.status_code == 409 and response.json()["code"] == "action-not-available"
    response = await authorize(buyer, order_id, payment_id, {"cardNumber": "4000000000000259"})
    assert response.status_code == 200, response.text
    assert response.json() == {"paymentId": payment_id, "result": "review", "state": "pending"}
    [process] = await transactions(buyer, order_id, payment_id)
    assert process["pspStatus"] == "REVIEW"
    response = await buyer.post(review, json={"decision": "maybe"})
    assert response.status_code == 400 and response.json()["code"] == "invalid-request"
    response = await buyer.post(review, json={"decision": "approve"})
    assert response.status_code == 200, response.text
    assert response.json() == {"paymentId": payment_id, "result": "approved", "state": "reserved"}
    assert (await get_order(buyer, order_id))["state"]["currentStatus"] == "accepted"


async def test_remove(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    order_id, payment_id = await sandbox_checkout(buyer, shop)
    url = f"{SANDBOX_ORDERS}/{order_id}/payments/{payment_id}/remove"
    for _ in range(2):
        response = await buyer.post(url)
        assert response.status_code == 200, response.text
    order = await get_order(buyer, order_id)
    assert payment_of(order, payment_id)["state"] == "removed"
    for field in ("hooks", "validations", "notifications"):
        assert [x for x in order[field] if x.get("adapterId") == ADAPTER] == []


async def test_bad_input(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    order_id, payment_id = await sandbox_checkout(buyer, shop)
    for body, pointer in (
        ({"scenario": "steal"}, "/scenario"),
        ({"cardNumber": "4111111111111111"}, "/cardNumber"),
        ({"scenario": "approve", "cardNumber": "4000000000000002"}, "/cardNumber"),
    ):
        response = await authorize(buyer, order_id, payment_id, body)
        assert response.status_code == 400, response.text
        error = response.json()
        assert error["code"] == "invalid-request"
        assert [e["path"] for e in error["errors"]] == [pointer]
    order = await get_order(buyer, order_id)
    assert order["state"]["currentStatus"] == "checkout"
    assert payment_of(order, payment_id)["state"] == "intent"

    response = await buyer.get(f"{SANDBOX_ORDERS}/{order_id}/payments/p_{'x' * 26}")
    assert response.status_code == 404 and response.json()["code"] == "payment-not-found"


async def test_unsigned_callbacks(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    order_id, payment_id = await sandbox_checkout(buyer, shop)
    order = await get_order(buyer, order_id)
    raw = jsonutil.dumps(order)
    bare = {
        "content-type": "application/json",
        "x-merchant": shop.merchant,
        "x-channel": shop.channel,
    }
    async with httpx.AsyncClient(transport=buyer._transport, base_url="http://kassa.test") as anon:
        for name in ("update-payment", "state-changed", "validate", "completed", "push"):
            url = f"{SANDBOX_CALLBACKS}/{order_id}/payments/{payment_id}/{name}"
            response = await anon.post(url, content=raw, headers=bare)
            assert response.status_code == 401, (name, response.text)
            assert response.json()["code"] == "unauthorized"
            old = signed_headers(shop.merchant, shop.channel, raw, age_s=600)
            response = await anon.post(url, content=raw, headers=old)
            assert response.status_code == 401, (name, response.text)
        response = await anon.post(
            f"{SANDBOX_ACTIONS}/{order_id}/payments/{payment_id}/capture", headers=bare
        )
        assert response.status_code == 401 and response.json()["code"] == "unauthorized"
        # signed: the hooks answer
        url = f"{SANDBOX_CALLBACKS}/{order_id}/payments/{payment_id}/update-payment"
        changed = {**order, "total": {"includingVat": 30, "excludingVat": 24}}
        raw = jsonutil.dumps(changed)
        response = await anon.post(
            url, content=raw, headers=signed_headers(shop.merchant, shop.channel, raw)
        )
        assert response.status_code == 200, response.text
        assert response.json() == [{"op": "replace", "path": "/payments/0/amount", "value": 30}]


async def test_idempotency_on_sandbox_routes(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    """Case 24 on P1 and P3."""
    order_id, payment_id = await sandbox_checkout(buyer, shop)
    headers = {"Idempotency-Key": "sbx-key-1"}
    first = await buyer.post(f"{SANDBOX_ORDERS}/{order_id}/payments", headers=headers)
    again = await buyer.post(f"{SANDBOX_ORDERS}/{order_id}/payments", headers=headers)
    assert first.status_code == again.status_code == 200, again.text
    assert first.json() == again.json() and first.json()["paymentId"] == payment_id
    assert again.headers["idempotent-replayed"] == "true"

    url = f"{SANDBOX_ORDERS}/{order_id}/payments/{payment_id}/authorize"
    key = {"Idempotency-Key": "sbx-key-2"}
    first = await buyer.post(url, json={"scenario": "decline"}, headers=key)
    again = await buyer.post(url, json={"scenario": "decline"}, headers=key)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() and again.headers["idempotent-replayed"] == "true"
    assert len(await transactions(buyer, order_id, payment_id)) == 1
    response = await buyer.post(url, json={"scenario": "approve"}, headers=key)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "idempotency-key-reuse"


async def test_amount_follows_the_cart(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    order_id, payment_id = await sandbox_checkout(buyer, shop)
    order = await get_order(buyer, order_id)
    item_id = order["cart"]["items"][0]["id"]
    response = await buyer.put(
        f"{ORDERS}/{order_id}/cart", json={"items": [item(25, 20, quantity=2, id=item_id)]}
    )
    assert response.status_code == 200, response.text
    assert payment_of(await get_order(buyer, order_id), payment_id)["amount"] == 32.5


async def test_schema_and_gates(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    async with httpx.AsyncClient(transport=buyer._transport, base_url="http://kassa.test") as anon:
        response = await anon.get(f"{SANDBOX}/openapi/v1/schemas/{ADAPTER}.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/schema+json")
    assert response.json()["$id"] == f"urn:kassa:configuration:{ADAPTER}:v1"

    await put_configuration(buyer, shop.merchant, shop.channel, sandbox_configuration(active=False))
    order_id = await create_order(buyer, order_body(item(12.5, 10)))
    response = await buyer.post(f"{SANDBOX_ORDERS}/{order_id}/payments")
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "adapter-inactive"


async def test_capture_on_complete(
    buyer: httpx.AsyncClient, shop: Tenant, sandbox_app: FastAPI
) -> None:
    """Case 21: the completed notification captures the rest, once."""
    order_id, payment_id = await sandbox_checkout(buyer, shop, captureOnComplete=True)
    assert (await authorize(buyer, order_id, payment_id)).status_code == 200
    response = await buyer.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "completed"})
    assert response.status_code == 200, response.text

    loop = DeliveryLoop(sandbox_app.state.kassa, poll_interval_s=0.05)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            await loop.run_once()
            if successful(await transactions(buyer, order_id, payment_id), "capture"):
                break
            await asyncio.sleep(0.05)
    finally:
        loop.stop()
        await loop.close()
    [capture] = successful(await transactions(buyer, order_id, payment_id), "capture")
    assert capture["amount"] == 20 and capture["event"] == "capture"
    payment = payment_of(await get_order(buyer, order_id), payment_id)
    assert payment["state"] == "captured"
    assert [a["type"] for a in payment["actions"]] == ["refund", "refresh"]
    response = await buyer.get("/api/v1/events", params={"order_id": order_id})
    assert response.status_code == 200, response.text
    [event] = response.json()["data"]
    assert event["status"] == "succeeded"


async def test_concurrent_authorisations(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    """Two P3 at once: one authorisation, one successful open; the other is refused or sees it."""
    order_id, payment_id = await sandbox_checkout(buyer, shop)
    responses = await asyncio.gather(
        authorize(buyer, order_id, payment_id, {"scenario": "approve"}),
        authorize(buyer, order_id, payment_id, {"scenario": "approve"}),
    )
    assert sorted(r.status_code for r in responses)[0] == 200, [r.text for r in responses]
    for response in responses:
        if response.status_code != 200:
            assert response.status_code == 409, response.text
            assert response.json()["code"] in ("payment-in-progress", "invalid-state-transition")
    ledger = await transactions(buyer, order_id, payment_id)
    assert [(t["event"], t["isSuccess"]) for t in ledger] == [("open", True)]
    order = await get_order(buyer, order_id)
    assert order["state"]["currentStatus"] == "accepted"
    assert payment_of(order, payment_id)["state"] == "reserved"


async def test_direct_capture_idempotency_key(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    """A direct call's Idempotency-Key is passed on to its transaction: a retry captures once."""
    order_id, payment_id = await sandbox_checkout(buyer, shop)
    assert (await authorize(buyer, order_id, payment_id)).status_code == 200
    url = f"{SANDBOX_ACTIONS}/{order_id}/payments/{payment_id}/capture"
    headers = {"Idempotency-Key": "capture-5"}
    for _ in range(2):
        response = await buyer.post(url, json={"amount": 5}, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"action": "capture", "amount": 5, "pspStatus": "CAPTURED"}
    [capture] = successful(await transactions(buyer, order_id, payment_id), "capture")
    assert capture["amount"] == 5


async def test_confirm_page_without_redirect_urls(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    order_id, payment_id = await sandbox_checkout(buyer, shop, redirectUrls={})
    response = await authorize(buyer, order_id, payment_id, {"scenario": "redirect"})
    url = response.json()["redirectUrl"]
    async with httpx.AsyncClient(transport=buyer._transport, base_url="http://kassa.test") as page:
        response = await page.post(url, data={"outcome": "decline"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/html")
        assert "Payment declined" in response.text
        response = await page.post(url, data={"outcome": "sideways"})
        assert response.status_code == 400 and "challenge-bad-request" in response.text
    order = await get_order(buyer, order_id)
    assert order["state"]["currentStatus"] == "checkout"
    assert payment_of(order, payment_id)["state"] == "declined"


async def test_pending_declined_by_push(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    order_id, payment_id = await sandbox_checkout(
        buyer, shop, push={"delayMs": 50}, pendingOutcome="decline"
    )
    response = await authorize(buyer, order_id, payment_id, {"cardNumber": "4000000000000077"})
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if payment_of(await get_order(buyer, order_id), payment_id)["state"] == "declined":
            break
        await asyncio.sleep(0.1)
    order = await get_order(buyer, order_id)
    assert payment_of(order, payment_id)["state"] == "declined"
    assert order["state"]["currentStatus"] == "checkout"
    ledger = await transactions(buyer, order_id, payment_id)
    assert [(t["event"], t["isSuccess"], t["pspStatus"]) for t in ledger] == [
        ("process", True, "PENDING"),
        ("open", False, "REFUSED"),
    ]


async def test_retry_after_the_cart_changed(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    """A declined payment keeps its amount while the buyer changes the cart; the retry covers
    the new total."""
    order_id, payment_id = await sandbox_checkout(buyer, shop)
    assert (
        await authorize(buyer, order_id, payment_id, {"scenario": "decline"})
    ).status_code == 200
    order = await get_order(buyer, order_id)
    item_id = order["cart"]["items"][0]["id"]
    response = await buyer.put(
        f"{ORDERS}/{order_id}/cart", json={"items": [item(25, 20, quantity=2, id=item_id)]}
    )
    assert response.status_code == 200, response.text
    assert payment_of(await get_order(buyer, order_id), payment_id)["amount"] == 20
    response = await authorize(buyer, order_id, payment_id, {"scenario": "approve"})
    assert response.status_code == 200, response.text
    order = await get_order(buyer, order_id)
    assert order["state"]["currentStatus"] == "accepted"
    assert payment_of(order, payment_id)["amount"] == 32.5
    [opened] = successful(await transactions(buyer, order_id, payment_id), "open")
    assert opened["amount"] == 32.5


async def test_refused_pushes_are_retried_later(buyer: httpx.AsyncClient, shop: Tenant) -> None:
    """A push the callback refuses (here: the payment's reference changed meanwhile, so the
    push names an unknown payment) is recorded with its status and due again 5 s later."""
    order_id, payment_id = await sandbox_checkout(buyer, shop, push={"delayMs": 50})
    assert (
        await authorize(buyer, order_id, payment_id, {"scenario": "pending"})
    ).status_code == 200
    payment = payment_of(await get_order(buyer, order_id), payment_id)
    response = await buyer.put(
        f"{ORDERS}/{order_id}/payments/{payment_id}", json={**payment, "reference": "psp-moved"}
    )
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        sent = await push_of(buyer, order_id, payment_id)
        if all(p["attempts"] >= 1 for p in sent):
            break
        await asyncio.sleep(0.1)
    sent = await push_of(buyer, order_id, payment_id)
    assert [(p["attempts"], p["lastStatusCode"], p["delivered"]) for p in sent] == [
        (1, 404, False),
        (1, 404, False),
    ]
    order = await get_order(buyer, order_id)
    assert payment_of(order, payment_id)["state"] == "pending"
    assert order["state"]["currentStatus"] == "processing"
