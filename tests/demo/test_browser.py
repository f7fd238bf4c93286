"""The demo storefront in headless Chromium: what a newcomer does by clicking (docs/demo.md),
then capture and refund of the order over the API. Screenshots of each step are kept in the
run's temp dir (``demo-shots/<test>/``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from kassa.demo.setup import CHANNEL, MERCHANT
from tests.demo.conftest import WAIT_S, Browser

APPROVE = "4242 4242 4242 4242"
DECLINE = "4000 0000 0000 0002"
CHALLENGE = "4000 0000 0000 3220"
PENDING = "4000 0000 0000 0077"
ADDRESS = {
    "address-given-name": "Ada",
    "address-family-name": "Lovelace",
    "address-street": "Storgatan 1",
    "address-postal-code": "111 22",
    "address-city": "Stockholm",
}


def to_payment(browser: Browser, *skus: str) -> None:
    """Products into the cart, address and delivery entered: the payment form on screen."""
    browser.get("/demo")
    browser.shot("catalog")
    for sku in skus:
        browser.get("/demo")
        browser.click(f"add-to-cart-{sku}")
        browser.find("cart-lines")
    browser.shot("cart")
    browser.click("checkout-button")
    for testid, value in ADDRESS.items():
        browser.fill(testid, value)
    browser.select("address-country", "SE")
    browser.click("address-submit")
    browser.find("delivery-options")
    browser.click("delivery-radio-express")
    browser.click("delivery-submit")
    browser.find("payment-form")
    browser.shot("checkout")


def pay_by_card(browser: Browser, card: str) -> None:
    browser.click("payment-method-card")
    browser.fill("card-number", card)
    browser.click("pay-button")


def order_id_on_page(browser: Browser) -> str:
    return browser.text("order-id")


async def test_buy_with_an_approving_card(browser: Browser) -> None:
    to_payment(browser, "linen-shirt", "enamel-mug")
    pay_by_card(browser, APPROVE)
    browser.wait_text("order-state", "accepted")
    assert browser.text("confirmation-title") == "Thank you for your order"
    assert browser.text("order-id").startswith("o_")
    assert browser.text("payment-state") == "reserved"
    assert browser.text("shipping-state") == "confirmed"
    assert browser.text("tms-reference").startswith("SBX-s_")
    browser.shot("approved")


async def test_declined_card_then_retry(browser: Browser) -> None:
    to_payment(browser, "wool-socks")
    pay_by_card(browser, DECLINE)
    browser.wait_text("error-message", "Your card was declined")
    browser.shot("declined")
    pay_by_card(browser, APPROVE)
    browser.wait_text("order-state", "accepted")
    assert browser.text("payment-state") == "reserved"
    browser.shot("retried")


async def test_challenge_page_approves(browser: Browser) -> None:
    to_payment(browser, "canvas-tote")
    pay_by_card(browser, CHALLENGE)
    browser.find("sandbox-challenge")
    browser.shot("challenge")
    browser.click("challenge-approve")
    browser.wait_text("order-state", "accepted")
    browser.shot("challenge-approved")


async def test_pending_payment_then_capture_and_refund_over_the_api(
    browser: Browser, demo_server: str, demo_key: str
) -> None:
    to_payment(browser, "notebook", "enamel-mug")
    pay_by_card(browser, PENDING)
    browser.find("payment-pending")
    browser.shot("pending")
    browser.wait_text("order-state", "accepted")  # the page refreshes itself until the push
    browser.shot("pending-accepted")
    order_id = order_id_on_page(browser)

    headers = {"Authorization": f"Bearer {demo_key}", "x-merchant": MERCHANT, "x-channel": CHANNEL}
    async with httpx.AsyncClient(base_url=demo_server, headers=headers) as api:
        order = (await api.get(f"/api/v0/checkout/orders/{order_id}")).json()
        [payment] = [p for p in order["payments"] if p["state"] != "removed"]
        actions = {a["type"]: a["id"] for a in payment["actions"]}
        url = f"/api/v0/checkout/orders/{order_id}/payments/{payment['id']}"
        response = await api.post(f"{url}/actions/{actions['capture']}/execute")
        assert response.status_code == 200, response.text
        order = await settled(api, order_id, "captured")
        [payment] = [p for p in order["payments"] if p["state"] != "removed"]
        actions = {a["type"]: a["id"] for a in payment["actions"]}
        response = await api.post(f"{url}/actions/{actions['refund']}/execute")
        assert response.status_code == 200, response.text
        await settled(api, order_id, "refunded")
        ledger = (await api.get(f"{url}/transactions")).json()
    money = {"process", "open", "capture", "refund"}
    events = [(t["event"], t["isSuccess"]) for t in ledger if t["event"] in money]
    assert events == [
        ("process", True),
        ("open", True),
        ("capture", True),
        ("refund", True),
    ], events
    captured, refunded = (t for t in ledger if t["event"] in {"capture", "refund"})
    assert captured["amount"] == refunded["amount"] == payment["amount"]
    browser.get(f"/demo/orders/{order_id}")
    browser.wait_text("payment-state", "refunded")
    browser.shot("refunded")


async def settled(api: httpx.AsyncClient, order_id: str, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while True:
        order: dict[str, Any] = (await api.get(f"/api/v0/checkout/orders/{order_id}")).json()
        states = [p["state"] for p in order["payments"]]
        if state in states or time.monotonic() > deadline:
            assert state in states, order
            return order
        await asyncio.sleep(0.1)


async def test_buy_by_invoice(browser: Browser) -> None:
    to_payment(browser, "notebook")
    browser.click("payment-method-invoice")
    browser.click("pay-button")
    browser.wait_text("order-state", "completed")
    assert browser.text("payment-state") == "confirmed"
    assert browser.text("tms-reference").startswith("SBX-s_")
