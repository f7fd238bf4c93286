"""What a request through the built-in Non-PSP adapter costs on top of the direct Order API call
it makes (``make bench-adapter``; docs/performance.md).

Starts ``kassa serve`` (one worker, a fresh SQLite file, the Non-PSP adapter mounted in-process),
configures the adapter, creates orders each with a shipping and a Non-PSP payment, then sends
requests one at a time from one client, alternating each adapter request with the direct
Order API request it stands for:

- read: N2 ``GET …/payments/{id}`` through the adapter (which reads the order and the channel's
  configuration through the API) against ``GET /api/v0/…/payments/{id}``;
- write: N3 ``PUT …/payments/{id}`` selecting a method (the adapter reads the order and the
  configuration, then PUTs the payment with ``If-Match``) against the same PUT payment sent
  directly.

Sequential requests measure the cost per request, not throughput. Environment:
BENCH_ADAPTER_REQUESTS (default 1000 per kind), BENCH_ADAPTER_ORDERS (default 20), BENCH_PORT
(default 18932), VENV (default .venv).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from hook_cost import kassa_server, percentile

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = int(os.environ.get("BENCH_ADAPTER_REQUESTS", "1000"))
ORDERS = int(os.environ.get("BENCH_ADAPTER_ORDERS", "20"))
PORT = int(os.environ.get("BENCH_PORT", "18932"))
VENV = Path(os.environ.get("VENV", ROOT / ".venv"))
BASE = "/api/v0/checkout/orders"
ADAPTER = "/checkout/nonpsp-adapter/api/checkout/v1/orders"
CONFIGURATION = "/api/v1/configuration/merchants/bench/channels/bench/configurations"
METHODS = ("invoice", "card")
WARMUP = 100


def main() -> None:
    with kassa_server(PORT, {"KASSA_BUILTIN_ADAPTERS": "nonpsp_adapter"}) as key:
        asyncio.run(measure(key))


def _ok(response: httpx.Response, status: int = 200) -> Any:
    if response.status_code != status:
        sys.exit(
            f"{response.request.method} {response.request.url.path}: {response.status_code}"
            f" {response.text}"
        )
    return response.json() if response.content else None


async def _setup(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    methods = [{"identifier": m} for m in METHODS]
    config = {"$schema": "x", "id": "nonpsp_adapter", "active": True, "methods": methods}
    _ok(await client.put(f"{CONFIGURATION}/nonpsp_adapter", json=config))
    targets = []
    for _ in range(ORDERS):
        cart = {"items": [{"name": "T-Shirt", "quantity": 1, "total": {"includingVat": 12.5}}]}
        order_id = _ok(await client.post(BASE, json={"cart": cart}), 201)["id"]
        shipping = {"name": "PostNord", "total": {"includingVat": 7.5}, "vatRate": 0.25}
        _ok(await client.post(f"{BASE}/{order_id}/shippings", json=shipping), 201)
        payment_id = _ok(await client.post(f"{ADAPTER}/{order_id}/payments"))["paymentId"]
        targets.append((order_id, payment_id))
    return targets


async def measure(key: str) -> None:
    headers = {"Authorization": f"Bearer {key}", "x-merchant": "bench", "x-channel": "bench"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORT}", headers=headers) as client:
        for _ in range(100):
            try:
                if (await client.get("/health/ready")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        targets = await _setup(client)

        async def direct_read(order_id: str, payment_id: str, n: int) -> None:
            _ok(await client.get(f"{BASE}/{order_id}/payments/{payment_id}"))

        async def adapter_read(order_id: str, payment_id: str, n: int) -> None:
            _ok(await client.get(f"{ADAPTER}/{order_id}/payments/{payment_id}"))

        async def direct_write(order_id: str, payment_id: str, n: int) -> None:
            payment = _ok(await client.get(f"{BASE}/{order_id}/payments/{payment_id}"))
            payment["name"] = METHODS[n % 2]
            started = time.perf_counter()
            _ok(await client.put(f"{BASE}/{order_id}/payments/{payment_id}", json=payment))
            timings["direct PUT payment"].append((time.perf_counter() - started) * 1000)

        async def adapter_write(order_id: str, payment_id: str, n: int) -> None:
            body = {"selectedPaymentMethod": METHODS[n % 2]}
            _ok(await client.put(f"{ADAPTER}/{order_id}/payments/{payment_id}", json=body))

        timings: dict[str, list[float]] = {
            "direct GET payment": [],
            "N2 GET (adapter)": [],
            "direct PUT payment": [],
            "N3 PUT (adapter)": [],
        }
        kinds: list[tuple[str, Callable[[str, str, int], Awaitable[None]]]] = [
            ("direct GET payment", direct_read),
            ("N2 GET (adapter)", adapter_read),
            ("direct PUT payment", direct_write),  # times only its PUT
            ("N3 PUT (adapter)", adapter_write),
        ]
        for n in range(REQUESTS + WARMUP):
            order_id, payment_id = targets[n % len(targets)]
            for name, send in kinds:
                started = time.perf_counter()
                await send(order_id, payment_id, n)
                if name != "direct PUT payment":
                    timings[name].append((time.perf_counter() - started) * 1000)
        for values in timings.values():
            del values[:WARMUP]
    print(f"one client, sequential, {REQUESTS} requests per kind (after {WARMUP} warm-up)")
    for name, values in timings.items():
        print(
            f"  {name:19} p50 {statistics.median(values):6.2f} ms"
            f"  p90 {percentile(values, 0.9):6.2f} ms  p99 {percentile(values, 0.99):6.2f} ms"
        )
    for adapter, direct in (
        ("N2 GET (adapter)", "direct GET payment"),
        ("N3 PUT (adapter)", "direct PUT payment"),
    ):
        added = statistics.median(timings[adapter]) - statistics.median(timings[direct])
        print(f"  {adapter} adds {added:.2f} ms at p50 to {direct}")


if __name__ == "__main__":
    main()
