"""What a hook adds to a write (``make bench-hooks``; docs/performance.md).

Starts a local hook receiver (HTTP/1.1 keep-alive, answers ``200 []`` at once) and
``kassa serve`` (one worker, a fresh SQLite file, ``outbound_allow=127.0.0.1/32``), creates
orders with and without a hook on ``/attributes``, then sends PATCH attributes one at a time
from one client, alternating between an order without and an order with the hook, and reports
the latency percentiles of both and the difference of the medians. Sequential requests measure
the cost per write, not throughput.

Environment: BENCH_HOOK_REQUESTS (default 2000 per kind), BENCH_HOOK_ORDERS (default 50 per
kind), BENCH_PORT (default 18931), VENV (default .venv).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = int(os.environ.get("BENCH_HOOK_REQUESTS", "2000"))
ORDERS = int(os.environ.get("BENCH_HOOK_ORDERS", "50"))
PORT = int(os.environ.get("BENCH_PORT", "18931"))
VENV = Path(os.environ.get("VENV", ROOT / ".venv"))
BASE = "/api/v0/checkout/orders"


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A minimal keep-alive HTTP/1.1 responder: ``200 []`` to every request."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]"
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        pass  # the client went away, or the benchmark is over
    finally:
        writer.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


@contextlib.contextmanager
def kassa_server(port: int, settings: dict[str, str]) -> Iterator[str]:
    """``kassa serve`` (one worker) on a fresh SQLite file with these ``KASSA_*`` settings,
    migrated and with an API key of merchant and channel ``bench``, which it yields."""
    with tempfile.TemporaryDirectory(prefix="kassa-bench-") as tmp:
        env = {
            **os.environ,
            "KASSA_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "KASSA_ACCESS_LOG": "false",
            **settings,
        }
        kassa = str(VENV / "bin" / "kassa")
        subprocess.run([kassa, "migrate"], env=env, check=True, capture_output=True)
        created = subprocess.run(
            [kassa, "apikey", "create", "--merchant", "bench", "--channel", "bench"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        key = created.stdout.strip().splitlines()[-1]
        server = subprocess.Popen(
            [kassa, "serve", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield key
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


def main() -> None:
    with kassa_server(PORT, {"KASSA_OUTBOUND_ALLOW": "127.0.0.1/32"}) as key:
        asyncio.run(with_receiver(key))


async def with_receiver(key: str) -> None:
    receiver = await asyncio.start_server(_answer, "127.0.0.1", 0)
    try:
        await measure(key, receiver.sockets[0].getsockname()[1])
    finally:
        receiver.close()


async def measure(key: str, hook_port: int) -> None:
    headers = {"Authorization": f"Bearer {key}", "x-merchant": "bench", "x-channel": "bench"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORT}", headers=headers) as client:
        for _ in range(100):
            try:
                if (await client.get("/health/ready")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        plain, hooked = [], []
        hook = {"subscribeTo": "/attributes", "invoke": f"http://127.0.0.1:{hook_port}/hook"}
        for _ in range(ORDERS):
            response = await client.post(BASE, json={})
            plain.append(response.json()["id"])
            response = await client.post(BASE, json={"hooks": [hook]})
            hooked.append(response.json()["id"])
        timings: dict[str, list[float]] = {"without hook": [], "with hook": []}
        warnings = 0
        for n in range(REQUESTS + 200):
            for name, ids in (("without hook", plain), ("with hook", hooked)):
                started = time.perf_counter()
                response = await client.patch(
                    f"{BASE}/{ids[n % len(ids)]}/attributes", json={"n": n}
                )
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    sys.exit(f"PATCH failed: {response.status_code} {response.text}")
                warnings += "kassa-warnings" in response.headers
                if n >= 200:  # warm-up
                    timings[name].append(elapsed)
        if warnings:
            sys.exit(f"{warnings} hooked writes reported a failed hook")
    print(f"PATCH attributes, one client, {REQUESTS} requests per kind (after 200 warm-up)")
    for name, values in timings.items():
        print(
            f"  {name:13} p50 {statistics.median(values):6.2f} ms"
            f"  p90 {percentile(values, 0.9):6.2f} ms  p99 {percentile(values, 0.99):6.2f} ms"
        )
    added = statistics.median(timings["with hook"]) - statistics.median(timings["without hook"])
    print(f"  a hook adds {added:.2f} ms at p50 (goal: at most 3 ms)")


if __name__ == "__main__":
    main()
