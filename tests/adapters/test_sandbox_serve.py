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
from tests.adapters.test_separate_process import adapter_serve, wait_listening
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


def test_sandbox_psp_in_a_process_of_its_own(tmp_path: Path) -> None:
    """``kassa adapter serve kassa_sandbox_psp_adapter``: pushes from its own store and loop,
    a capture executed by kassa over the network."""
    env = _env(KASSA_BUILTIN_ADAPTERS="", KASSA_OUTBOUND_ALLOW="127.0.0.1/32")
    with kassa_serve(tmp_path, env=env) as kassa_server:
        wait_ready(kassa_server)
        made = kassa(
            "apikey", "create", "--all-merchants", "--adapter-id", "kassa_sandbox_psp_adapter",
            "--name", "sandbox-process", "--database", kassa_server.db.url, cwd=tmp_path,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        adapter_env = clean_env(
            KASSA_ADAPTER_ORDER_API_URL=kassa_server.base + "/checkout/order",
            KASSA_ADAPTER_CONFIGURATION_API_URL=kassa_server.base + "/checkout/configuration",
            KASSA_ADAPTER_API_KEY=last_line(made.stdout),
            KASSA_WEBHOOK_SECRET=SECRET,
        )
        with (
            adapter_serve(tmp_path, adapter_env, "kassa_sandbox_psp_adapter") as adapter,
            _client(kassa_server.base, tmp_path, kassa_server.db.url) as client,
        ):
            wait_listening(adapter)
            url = f"{CONFIGURATIONS}/shop/channels/web/configurations/kassa_sandbox_psp_adapter"
            config = sandbox_configuration(push={"delayMs": 100, "duplicates": 1})
            assert client.put(url, json=config).status_code == 200
            order_id = client.post(ORDERS, json=order_body(item(12.5, 10))).json()["id"]
            sandbox = adapter.base + SANDBOX
            response = client.post(f"{sandbox}/{order_id}/payments")
            assert response.status_code == 200, response.text + adapter.output()
            payment_id = response.json()["paymentId"]
            response = client.post(
                f"{sandbox}/{order_id}/payments/{payment_id}/authorize",
                json={"scenario": "pending"},
            )
            assert response.status_code == 200, response.text + adapter.output()
            deadline = time.monotonic() + 20
            order: dict[str, Any] = {}
            while time.monotonic() < deadline:
                order = client.get(f"{ORDERS}/{order_id}").json()
                if order["state"]["currentStatus"] == "accepted":
                    break
                time.sleep(0.2)
            assert order["state"]["currentStatus"] == "accepted", adapter.output()
            pushes = client.get(f"{sandbox}/{order_id}/payments/{payment_id}/pushes").json()
            assert len(pushes) == 4 and all(p["delivered"] for p in pushes)
            [payment] = order["payments"]
            capture = next(a for a in payment["actions"] if a["type"] == "capture")
            assert capture["url"].startswith(adapter.base + "/checkout/sandbox-psp-adapter/")
            response = client.post(
                f"{ORDERS}/{order_id}/payments/{payment_id}/actions/{capture['id']}/execute"
            )
            assert response.status_code == 200, response.text + adapter.output()
            ledger = client.get(f"{ORDERS}/{order_id}/payments/{payment_id}/transactions").json()
            assert [t["event"] for t in ledger if t["isSuccess"]] == [
                "process",
                "open",
                "capture",
                "paymentAction",
            ]
