"""The demo storefront over plain HTTP (no browser): pages, forms, the cart cookie, 404 when the
sandbox adapters are not mounted."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from kassa.app import create_app
from kassa.config import Settings
from kassa.db.engine import Database
from kassa.demo_command import ADAPTERS
from tests.conftest import client_for


@pytest.fixture(scope="session")
def shop_app(settings: Settings, db: Database) -> FastAPI:
    from dataclasses import replace

    return create_app(replace(settings, builtin_adapters=ADAPTERS), db=db)


@pytest.fixture
async def browser(shop_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(shop_app) as c:
        yield c


def text_of(html: str, name: str) -> str:
    found = re.search(rf'data-testid="{re.escape(name)}"[^>]*>([^<]*)<', html)
    assert found is not None, f"no {name} in page"
    return found.group(1).strip()


async def test_not_served_without_the_sandbox_adapters(client: httpx.AsyncClient) -> None:
    response = await client.get("/demo")
    assert response.status_code == 404
    assert response.json()["code"] == "route-not-found"


async def test_buy_by_invoice(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/demo")
    assert page.status_code == 200, page.text
    assert "text/html" in page.headers["content-type"]
    assert text_of(page.text, "product-price-linen-shirt") == "499.00 SEK"

    response = await browser.post("/demo/cart/add", data={"sku": "linen-shirt", "quantity": "1"})
    assert response.status_code == 303 and response.headers["location"] == "/demo/cart"
    response = await browser.post("/demo/cart/add", data={"sku": "wool-socks"})
    response = await browser.post("/demo/cart/add", data={"sku": "wool-socks"})
    cart = await browser.get("/demo/cart")
    assert text_of(cart.text, "cart-total") == "757.00 SEK"
    assert text_of(cart.text, "cart-count") == "3"
    await browser.post("/demo/cart/update", data={"sku": "wool-socks", "quantity": "1"})
    cart = await browser.get("/demo/cart")
    assert text_of(cart.text, "cart-total") == "628.00 SEK"

    page = await browser.get("/demo/checkout")
    assert 'data-testid="address-form"' in page.text
    assert 'data-testid="delivery-options"' not in page.text
    address = {
        "givenName": "Ada", "familyName": "Lovelace", "streetAddress": "Gatan 1",
        "postalCode": "111 22", "city": "Stockholm", "country": "SE",
    }  # fmt: skip
    response = await browser.post("/demo/checkout/address", data=address)
    assert response.status_code == 303 and response.headers["location"] == "/demo/checkout"
    page = await browser.get("/demo/checkout")
    assert text_of(page.text, "delivery-price-standard") == "49.00 SEK"
    assert text_of(page.text, "order-total") == "677.00 SEK"

    # express (99 + 10 per item) then Norway, where express does not go: the shop falls back
    await browser.post("/demo/checkout/delivery", data={"option": "express"})
    page = await browser.get("/demo/checkout")
    assert text_of(page.text, "shipping-total") == "119.00 SEK"
    response = await browser.post("/demo/checkout/address", data={**address, "country": "NO"})
    assert "notice=" in response.headers["location"]
    page = await browser.get(response.headers["location"])
    assert "does not deliver there" in text_of(page.text, "notice-message")
    assert text_of(page.text, "shipping-total") == "49.00 SEK"
    response = await browser.post("/demo/checkout/address", data={**address, "country": "DE"})
    page = await browser.get(response.headers["location"])
    assert text_of(page.text, "error-message") == "Sorry, we do not deliver to Germany."
    response = await browser.post("/demo/checkout/pay", data={"method": "invoice"})
    assert "error=Enter" in response.headers["location"]  # no delivery: no payment
    await browser.post("/demo/checkout/address", data=address)

    response = await browser.post("/demo/checkout/pay", data={"method": "invoice"})
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/demo/orders/o_")
    page = await browser.get(location)
    order_id = location.rsplit("/", 1)[1]
    assert text_of(page.text, "order-id") == order_id
    assert text_of(page.text, "order-state") == "completed"
    assert text_of(page.text, "payment-state") == "confirmed"
    assert text_of(page.text, "shipping-state") == "confirmed"
    assert text_of(page.text, "tms-reference").startswith("SBX-s_")
    # the cart is new
    assert text_of((await browser.get("/demo/cart")).text, "cart-count") == "0"


async def test_bad_input(browser: httpx.AsyncClient) -> None:
    response = await browser.post("/demo/cart/add", data={"sku": "nope"})
    assert response.status_code == 303 and "error=" in response.headers["location"]
    browser.cookies.set("kassa_demo_cart", "o_forged.bad", domain="kassa.test", path="/demo")
    assert text_of((await browser.get("/demo/cart")).text, "cart-count") == "0"
    response = await browser.get("/demo/checkout")
    assert response.status_code == 303 and response.headers["location"] == "/demo/cart"
    assert (await browser.get("/demo/orders/o_nosuchorder")).status_code == 404
    await browser.post("/demo/cart/add", data={"sku": "notebook"})
    await browser.post(
        "/demo/checkout/address", data={"country": "SE", "givenName": "<script>x</script>"}
    )
    page = await browser.get("/demo/checkout")
    assert "<script>x" not in page.text and "&lt;script&gt;x" in page.text
    response = await browser.post("/demo/checkout/pay", data={"method": "card", "card": "1234"})
    page = await browser.get(response.headers["location"])
    assert "Unknown test card" in text_of(page.text, "error-message")
