"""adapters.md §9 case 6: Norce's tutorial "Using our first adapter" (the Non-PSP adapter),
its requests and headers pointed at kassa with ``norce_layout`` on, so that the tutorial's
``orderUrl``, ``configurationUrl`` and ``nonpspAdapterUrl`` are ``<kassa>/checkout/<service>``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from fastapi import FastAPI

from kassa.app import create_app
from kassa.config import Settings
from kassa.db.engine import Database
from tests.adapters.support import SECRET
from tests.conftest import Tenant, client_for, make_tenant

ORDER_URL = "/checkout/order"
CONFIGURATION_URL = "/checkout/configuration"
NONPSP_URL = "/checkout/nonpsp-adapter"


@pytest.fixture
async def norce_kassa(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, db: Database
) -> AsyncIterator[FastAPI]:
    for name in ("PATH_PREFIX", "CONFIGURATION_PATH_PREFIX", "EVENTS_PATH_PREFIX"):
        monkeypatch.delenv("KASSA_" + name, raising=False)
    monkeypatch.setenv("KASSA_NORCE_LAYOUT", "true")
    norce = Settings.from_env(
        database_url=settings.database_url,
        database_pgbouncer=settings.database_pgbouncer,
        access_log=False,
        webhook_secret=SECRET,
    )
    assert (norce.path_prefix, norce.configuration_path_prefix) == (ORDER_URL, CONFIGURATION_URL)
    yield create_app(norce, db=db)


@pytest.fixture
async def things(db: Database) -> Tenant:
    return await make_tenant(db, channel="se", channels=[])


async def test_norce_nonpsp_tutorial(norce_kassa: FastAPI, things: Tenant) -> None:
    merchant, channel = things.merchant, things.channel
    headers = {
        "X-Merchant": merchant,
        "X-Channel": channel,
        "Authorization": f"Bearer {things.key}",
    }
    async with client_for(norce_kassa, headers) as http:
        # (1) configure the Non-PSP adapter: two methods, the first pre-selected
        configuration = {
            "$schema": "https://thingsandstuff.api-se.playground.norce.tech/checkout/"
            "nonpsp-adapter/openapi/v1/schemas/nonpsp_adapter.json",
            "id": "nonpsp_adapter",
            "active": True,
            "adapter": {
                "internalUrl": "https://nonpsp-adapter.checkout.playground.internal.norce.tech",
                "publicUrl": "https://thingsandstuff.api-se.playground.norce.tech/checkout/"
                "nonpsp-adapter",
            },
            "methods": [
                {"identifier": "thing-payment", "preSelected": True},
                {"identifier": "pay-stuff"},
            ],
        }
        response = await http.put(
            f"{CONFIGURATION_URL}/api/v1/configuration/merchants/{merchant}/channels/{channel}"
            "/configurations/nonpsp_adapter",
            json=configuration,
        )
        assert response.status_code == 200, response.text
        assert response.json() == configuration

        # (2) an order whose body names another channel: it belongs to the header's
        response = await http.post(
            f"{ORDER_URL}/api/v0/checkout/orders",
            json={
                "merchant": merchant,
                "channel": "some-other-channel",
                "culture": "sv-SE",
                "currency": "SEK",
                "cart": {
                    "items": [
                        {
                            "sku": "thing-1",
                            "name": "Thing",
                            "quantity": 1,
                            "vatRate": 0.25,
                            "price": {"includingVat": 12.5, "excludingVat": 10},
                            "total": {"includingVat": 12.5, "excludingVat": 10},
                        }
                    ]
                },
            },
        )
        assert response.status_code == 201, response.text
        order_id = response.json()["id"]
        orders = f"{ORDER_URL}/api/v0/checkout/orders/{order_id}"
        order = (await http.get(orders)).json()
        assert order["channel"] == channel

        # (3) a shipping 7.5/6: total 20
        response = await http.post(
            f"{orders}/shippings",
            json={
                "name": "Stuff Delivery",
                "vatRate": 0.25,
                "total": {"includingVat": 7.5, "excludingVat": 6},
            },
        )
        assert response.status_code == 201, response.text
        assert (await http.get(orders)).json()["total"]["includingVat"] == 20

        # (4) the Non-PSP payment, no body
        payments = f"{NONPSP_URL}/api/checkout/v1/orders/{order_id}/payments"
        response = await http.post(payments)
        assert response.status_code == 200, response.text
        created = response.json()
        payment_id = created["paymentId"]
        assert created["paymentMethods"] == [
            {"identifier": "thing-payment"},
            {"identifier": "pay-stuff"},
        ]
        assert created["selectedPaymentMethod"] == "thing-payment"

        # (5) the order: payment of 20 and the adapter's three hooks
        order = (await http.get(orders)).json()
        [payment] = order["payments"]
        assert (payment["id"], payment["amount"]) == (payment_id, 20)
        hooks = [h for h in order["hooks"] if h["adapterId"] == "nonpsp_adapter"]
        assert len(hooks) == 3

        # (6) two of the item: total and payment amount 32.5 in one version
        item = order["cart"]["items"][0]
        response = await http.put(
            f"{orders}/cart",
            json={
                "items": [
                    {
                        **{k: item[k] for k in ("id", "sku", "name", "vatRate", "price")},
                        "quantity": 2,
                        "total": {"includingVat": 25, "excludingVat": 20},
                    }
                ]
            },
        )
        assert response.status_code == 200, response.text
        version = response.headers["etag"]
        response = await http.get(orders)
        assert response.headers["etag"] == version
        order = response.json()
        assert order["total"]["includingVat"] == 32.5
        assert order["payments"][0]["amount"] == 32.5

        # (7) select the second method
        response = await http.put(
            f"{payments}/{payment_id}", json={"selectedPaymentMethod": "pay-stuff"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["selectedPaymentMethod"] == "pay-stuff"
        assert response.json()["paymentId"] == payment_id

        # (8) complete
        response = await http.post(f"{payments}/{payment_id}/complete")
        assert response.status_code == 200, response.text
        order = (await http.get(orders)).json()
        assert order["state"]["currentStatus"] == "completed"
        [payment] = order["payments"]
        assert payment["state"] == "confirmed"
        assert Decimal(str(payment["amount"])) == Decimal("32.5")
        response = await http.get(f"{orders}/payments/{payment_id}/transactions")
        assert [(t["event"], t["isSuccess"]) for t in response.json()] == [("confirm", True)]
