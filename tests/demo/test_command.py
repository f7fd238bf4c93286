"""``kassa demo`` as a real subprocess: a fresh database, the key and URL printed, the three
configurations written, the storefront and the adapters served; ``--keep`` keeps the data."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli import KASSA, READY_S, clean_env, free_port

KEY = re.compile(r"^\s+(kassa_\S+)$", re.M)


@contextlib.contextmanager
def kassa_demo(cwd: Path, *args: str) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = cwd / "demo.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [KASSA, "demo", "--port", str(port), *args],
            cwd=cwd,
            env=clean_env(KASSA_DATABASE_URL="postgresql+asyncpg://never@127.0.0.1:9/none"),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/health/ready", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            pytest.fail(f"kassa demo did not become ready:\n{log.read_text()}")
        yield base, log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_kassa_demo(tmp_path: Path) -> None:
    with kassa_demo(tmp_path) as (base, log):
        out = log.read_text()
        assert f"storefront:   {base}/demo" in out
        assert f"console:      {base}/console  (operator 'admin', password " in out
        found = KEY.search(out)
        assert found is not None, out
        headers = {"Authorization": f"Bearer {found.group(1)}", "x-merchant": "demo"}
        configurations = httpx.get(
            base + "/api/v1/configuration/merchants/demo/channels/demo/configurations",
            headers=headers,
        )
        assert configurations.status_code == 200, configurations.text
        assert [c["id"] for c in configurations.json()] == [
            "kassa_sandbox_psp_adapter",
            "kassa_sandbox_shipping_adapter",
            "nonpsp_adapter",
        ]
        assert httpx.get(base + "/demo").status_code == 200
        schema = "/checkout/sandbox-shipping-adapter/openapi/v1/schemas/"
        assert httpx.get(base + schema + "kassa_sandbox_shipping_adapter.json").status_code == 200
        # an order, so that --keep has something to keep
        order = httpx.post(
            base + "/api/v0/checkout/orders",
            json={"currency": "SEK"},
            headers={**headers, "x-channel": "demo"},
        )
        assert order.status_code == 201, order.text
    assert (tmp_path / "kassa-demo.db").exists()  # not KASSA_DATABASE_URL

    def orders(base: str, key: str) -> int:
        response = httpx.get(
            base + "/api/v0/checkout/orders",
            headers={"Authorization": f"Bearer {key}", "x-merchant": "demo", "x-channel": "demo"},
        )
        assert response.status_code == 200, response.text
        return int(response.json()["pagination"]["totalSize"])

    with kassa_demo(tmp_path, "--keep") as (base, log):
        found = KEY.search(log.read_text())
        assert found is not None
        assert orders(base, found.group(1)) == 1
    with kassa_demo(tmp_path) as (base, log):  # fresh again
        found = KEY.search(log.read_text())
        assert found is not None
        assert orders(base, found.group(1)) == 0
