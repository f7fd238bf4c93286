"""``kassa adapter serve`` (adapters.md §1.3): the Non-PSP adapter as a process of its own,
talking over the network to a real ``kassa serve`` that does not mount it; and the settings
both commands refuse to start with."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.adapters.support import SECRET, item, nonpsp_configuration, order_body
from tests.support.cli import (
    KASSA,
    READY_S,
    Server,
    Sqlite,
    clean_env,
    free_port,
    kassa,
    kassa_serve,
    last_line,
    wait_ready,
)

ORDERS = "/checkout/order/api/v0/checkout/orders"
CONFIGURATIONS = "/checkout/configuration/api/v1/configuration/merchants"
ADAPTER = "/checkout/nonpsp-adapter/api/checkout/v1/orders"


@contextlib.contextmanager
def adapter_serve(
    tmp_path: Path, env: dict[str, str], name: str = "nonpsp_adapter"
) -> Iterator[Server]:
    db = Sqlite(tmp_path / "adapter.db")
    port = free_port()
    log = tmp_path / "adapter.log"
    env = {**env, "KASSA_DATABASE_URL": db.url}
    env.setdefault("KASSA_ADAPTER_CALLBACK_BASE_URL", f"http://127.0.0.1:{port}")
    with log.open("w") as out:
        proc = subprocess.Popen(
            [KASSA, "adapter", "serve", name, "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Server(f"http://127.0.0.1:{port}", port, db, proc, log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_listening(server: Server) -> None:
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline and server.proc.poll() is None:
        try:
            if httpx.get(server.base + "/health/live", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("kassa adapter serve did not start:\n" + server.output())


def test_adapter_serve_refuses_without_its_settings(tmp_path: Path) -> None:
    result = kassa("adapter", "serve", "nonpsp_adapter", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    for setting in (
        "KASSA_ADAPTER_ORDER_API_URL",
        "KASSA_ADAPTER_CONFIGURATION_API_URL",
        "KASSA_ADAPTER_API_KEY",
        "KASSA_WEBHOOK_SECRET",
        "KASSA_ADAPTER_CALLBACK_BASE_URL",
    ):
        assert setting in result.stderr, result.stderr
    unknown = kassa("adapter", "serve", "paypal_adapter", cwd=tmp_path)
    assert unknown.returncode == 1 and "unknown adapter 'paypal_adapter'" in unknown.stderr


def test_service_keys_need_an_adapter_id(tmp_path: Path) -> None:
    db = Sqlite(tmp_path / "keys.db")
    assert kassa("migrate", "--database", db.url, cwd=tmp_path).returncode == 0
    for args in (
        ("--all-merchants",),
        ("--all-merchants", "--adapter-id", "a", "--merchant", "shop"),
        ("--adapter-id", "a"),
    ):
        result = kassa("apikey", "create", *args, "--database", db.url, cwd=tmp_path)
        assert result.returncode == 2, result.stdout + result.stderr
    made = kassa(
        "apikey", "create", "--all-merchants", "--adapter-id", "a", "--database", db.url,
        cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    listed = kassa("apikey", "list", "--database", db.url, cwd=tmp_path)
    [row] = listed.stdout.splitlines()[1:]
    assert row.split("\t")[1:4] == ["*", "*", "a"]


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        (
            "KASSA_SANDBOX_PSP_PATH_PREFIX",
            "/checkout/nonpsp-adapter/",
            "KASSA_SANDBOX_PSP_PATH_PREFIX must differ from KASSA_NONPSP_ADAPTER_PATH_PREFIX",
        ),
        ("KASSA_NONPSP_ADAPTER_PATH_PREFIX", "/", "must not be empty"),
        ("KASSA_BUILTIN_ADAPTERS", "nonpsp_adapter,paypal", "unknown adapter 'paypal'"),
    ],
)
def test_serve_refuses_bad_adapter_settings(
    tmp_path: Path, setting: str, value: str, message: str
) -> None:
    db = Sqlite(tmp_path / "refused.db")
    result = kassa("serve", "--database", db.url, cwd=tmp_path, env=clean_env(**{setting: value}))
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr


def test_nonpsp_adapter_in_a_process_of_its_own(tmp_path: Path) -> None:
    env = clean_env(
        KASSA_PATH_PREFIX="/checkout/order",
        KASSA_CONFIGURATION_PATH_PREFIX="/checkout/configuration",
        KASSA_BUILTIN_ADAPTERS="",
        KASSA_WEBHOOK_SECRET=SECRET,
        KASSA_OUTBOUND_ALLOW="127.0.0.1/32",
    )
    with kassa_serve(tmp_path, env=env) as kassa_server:
        wait_ready(kassa_server)
        db = kassa_server.db.url
        made = kassa(
            "apikey", "create", "--all-merchants", "--adapter-id", "nonpsp_adapter",
            "--name", "nonpsp-process", "--database", db, cwd=tmp_path,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        assert "all merchants" in made.stdout
        service_key = last_line(made.stdout)
        made = kassa("apikey", "create", "--merchant", "shop", "--database", db, cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        shop = {
            "Authorization": f"Bearer {last_line(made.stdout)}",
            "x-merchant": "shop",
            "x-channel": "web",
        }
        adapter_env = clean_env(
            KASSA_ADAPTER_ORDER_API_URL=kassa_server.base + "/checkout/order",
            KASSA_ADAPTER_CONFIGURATION_API_URL=kassa_server.base + "/checkout/configuration",
            KASSA_ADAPTER_API_KEY=service_key,
            KASSA_WEBHOOK_SECRET=SECRET,
        )
        with adapter_serve(tmp_path, adapter_env) as adapter:
            wait_listening(adapter)
            base = kassa_server.base
            with httpx.Client(headers=shop, timeout=30) as client:
                configuration = nonpsp_configuration()
                response = client.put(
                    f"{base}{CONFIGURATIONS}/shop/channels/web/configurations/nonpsp_adapter",
                    json=configuration,
                )
                assert response.status_code == 200, response.text
                response = client.post(base + ORDERS, json=order_body(item(12.5, 10)))
                assert response.status_code == 201, response.text
                order_id = response.json()["id"]

                response = client.post(f"{adapter.base}{ADAPTER}/{order_id}/payments")
                assert response.status_code == 200, response.text + adapter.output()
                payment_id = response.json()["paymentId"]
                assert response.json()["amount"] == 12.5

                order = client.get(f"{base}{ORDERS}/{order_id}").json()
                hooks = [h for h in order["hooks"] if h["adapterId"] == "nonpsp_adapter"]
                assert len(hooks) == 3
                assert all(h["invoke"].startswith(adapter.base + "/checkout/") for h in hooks)

                # kassa calls the adapter's hook over the network, signed
                item_id = order["cart"]["items"][0]["id"]
                response = client.put(
                    f"{base}{ORDERS}/{order_id}/cart",
                    json={"items": [item(25, 20, quantity=2, id=item_id)]},
                )
                assert response.status_code == 200, response.text
                assert "kassa-warnings" not in response.headers, adapter.output()
                order = client.get(f"{base}{ORDERS}/{order_id}").json()
                assert order["payments"][0]["amount"] == 25

                url = f"{adapter.base}{ADAPTER}/{order_id}/payments/{payment_id}/complete"
                response = client.post(url, headers={"Idempotency-Key": "complete-1"})
                assert response.status_code == 200, response.text
                again = client.post(url, headers={"Idempotency-Key": "complete-1"})
                assert again.headers["idempotent-replayed"] == "true"
                order = client.get(f"{base}{ORDERS}/{order_id}").json()
                assert order["state"]["currentStatus"] == "completed"
                assert order["payments"][0]["state"] == "confirmed"
                history = client.get(f"{base}{ORDERS}/{order_id}/history").json()
                assert history[-1]["actor"] == {
                    "keyName": "nonpsp-process",
                    "adapterId": "nonpsp_adapter",
                }

                # without a valid signature or key, a callback is refused
                callback = (
                    f"{adapter.base}/checkout/nonpsp-adapter/api/checkout/v1/callback/orders/"
                    f"{order_id}/payments/{payment_id}/update-payment"
                )
                response = httpx.post(
                    callback, json=order, headers={"x-merchant": "shop", "x-channel": "web"}
                )
                assert response.status_code == 401, response.text


def test_kassa_serve_mounts_the_nonpsp_adapter(tmp_path: Path) -> None:
    """``make run``'s setup: the adapter in-process, its key registered at start."""
    env = clean_env(
        KASSA_PATH_PREFIX="/checkout/order",
        KASSA_CONFIGURATION_PATH_PREFIX="/checkout/configuration",
    )
    with kassa_serve(tmp_path, env=env) as server:
        wait_ready(server)
        rows = server.db.rows(
            "SELECT merchant, adapter_id FROM api_keys WHERE name = ?", "builtin:nonpsp_adapter"
        )
        assert rows == [("", "nonpsp_adapter")]
        made = kassa(
            "apikey", "create", "--merchant", "shop", "--database", server.db.url, cwd=tmp_path
        )
        headers = {
            "Authorization": f"Bearer {last_line(made.stdout)}",
            "x-merchant": "shop",
            "x-channel": "web",
        }
        with httpx.Client(base_url=server.base, headers=headers, timeout=30) as client:
            url = f"{CONFIGURATIONS}/shop/channels/web/configurations/nonpsp_adapter"
            assert client.put(url, json=nonpsp_configuration()).status_code == 200
            response = client.post(ORDERS, json=order_body(item(12.5, 10)))
            order_id = response.json()["id"]
            response = client.post(f"{ADAPTER}/{order_id}/payments")
            assert response.status_code == 200, response.text + server.output()
            payment_id = response.json()["paymentId"]
            response = client.post(f"{ADAPTER}/{order_id}/payments/{payment_id}/complete")
            assert response.status_code == 200, response.text
            order = client.get(f"{ORDERS}/{order_id}").json()
            assert order["state"]["currentStatus"] == "completed"
