"""The sandbox PSP in a real ``kassa serve``: mounted only when named, a warning at start, the
hosted challenge page over real HTTP, and pushes that survive a restart."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.adapters.support import (
    SECRET,
    item,
    order_body,
    sandbox_configuration,
)
from tests.support.cli import clean_env, kassa, kassa_serve, last_line, wait_ready

ORDERS = "/checkout/order/api/v0/checkout/orders"
CONFIGURATIONS = "/checkout/configuration/api/v1/configuration/merchants"
SANDBOX = "/checkout/sandbox-psp-adapter/api/checkout/v1/orders"
WARNING = "sandbox adapter kassa_sandbox_psp_adapter is mounted"


def _env(**extra: str) -> dict[str, str]:
    return clean_env(
        KASSA_PATH_PREFIX="/checkout/order",
        KASSA_CONFIGURATION_PATH_PREFIX="/checkout/configuration",
        KASSA_WEBHOOK_SECRET=SECRET,
        **extra,
    )


def _client(base: str, tmp_path: Path, db_url: str) -> httpx.Client:
    made = kassa("apikey", "create", "--merchant", "shop", "--database", db_url, cwd=tmp_path)
    headers = {
        "Authorization": f"Bearer {last_line(made.stdout)}",
        "x-merchant": "shop",
        "x-channel": "web",
    }
    return httpx.Client(base_url=base, headers=headers, timeout=30)


def _checkout(client: httpx.Client, **config: Any) -> tuple[str, str]:
    url = f"{CONFIGURATIONS}/shop/channels/web/configurations/kassa_sandbox_psp_adapter"
    response = client.put(url, json=sandbox_configuration(**config))
    assert response.status_code == 200, response.text
    response = client.post(ORDERS, json=order_body(item(12.5, 10)))
    assert response.status_code == 201, response.text
    order_id = str(response.json()["id"])
    response = client.post(f"{SANDBOX}/{order_id}/payments")
    assert response.status_code == 200, response.text
    return order_id, str(response.json()["paymentId"])


def test_not_mounted_by_default(tmp_path: Path) -> None:
    with kassa_serve(tmp_path, env=_env()) as server:
        wait_ready(server)
        response = httpx.post(f"{server.base}{SANDBOX}/o_x/payments", timeout=10)
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "route-not-found"
        assert WARNING not in server.output()


def test_challenge_and_pushes_in_a_real_server(tmp_path: Path) -> None:
    env = _env(KASSA_BUILTIN_ADAPTERS="nonpsp_adapter,kassa_sandbox_psp_adapter")
    with kassa_serve(tmp_path, env=env) as server:
        wait_ready(server)
        assert WARNING in server.output()
        with _client(server.base, tmp_path, server.db.url) as client:
            order_id, payment_id = _checkout(client)
            response = client.post(
                f"{SANDBOX}/{order_id}/payments/{payment_id}/authorize",
                json={"scenario": "redirect"},
            )
            assert response.status_code == 200, response.text
            page = httpx.get(server.base + response.json()["redirectUrl"], timeout=10)
            assert page.status_code == 200 and "challenge-approve" in page.text
            response = httpx.post(
                server.base + response.json()["redirectUrl"],
                data={"outcome": "approve"},
                timeout=10,
            )
            assert response.status_code == 303, response.text
            order = client.get(f"{ORDERS}/{order_id}").json()
            assert order["state"]["currentStatus"] == "accepted"

            # pending, then the server stops before the pushes are due
            pending_order, pending_payment = _checkout(client, push={"delayMs": 2500})
            response = client.post(
                f"{SANDBOX}/{pending_order}/payments/{pending_payment}/authorize",
                json={"scenario": "pending"},
            )
            assert response.status_code == 200, response.text
            assert response.json()["result"] == "pending"
    # the same database: the restarted server sends them without any sandbox request
    with kassa_serve(tmp_path, env=env) as server:
        wait_ready(server)
        with _client(server.base, tmp_path, server.db.url) as client:
            deadline = time.monotonic() + 20
            status = ""
            while time.monotonic() < deadline:
                order = client.get(f"{ORDERS}/{pending_order}").json()
                status = order["state"]["currentStatus"]
                if status == "accepted":
                    break
                time.sleep(0.2)
            assert status == "accepted", server.output()
            [payment] = order["payments"]
            assert payment["state"] == "reserved"
