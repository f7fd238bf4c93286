"""``kassa serve`` as a real subprocess on its own SQLite file: graceful shutdown on SIGTERM
(requests in flight finish, new connections are refused, exit status 0), with one process and
with workers; and ``/metrics`` summed over every worker process."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from kassa.auth import keys
from kassa.db.engine import Database
from tests.conftest import ORDERS
from tests.support.cli import (
    TIMEOUT,
    Server,
    clean_env,
    exit_code,
    kassa_serve,
    wait_ready_async,
)
from tests.support.receiver import Received, Receiver

BOUND_S = 30  # generous no-hang bound for waiting on a condition; not a timing assertion


async def until(condition: Any, what: str, server: Server) -> None:
    deadline = time.monotonic() + BOUND_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen:\n{server.output()}")
        await asyncio.sleep(0.05)


async def tenant_headers(server: Server) -> dict[str, str]:
    database = Database(server.db.url, pool_size=1)
    try:
        key, _ = await keys.create_key(database, merchant="shop", channels=["web"], name="t")
    finally:
        await database.dispose()
    return {"Authorization": f"Bearer {key}", "x-merchant": "shop", "x-channel": "web"}


# --- graceful shutdown --------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_finishes_requests_in_flight_then_exits_0(
    tmp_path: Path, receiver: Receiver, workers: int
) -> None:
    # the hook holds the write in flight until the test has seen the server stop accepting
    release = asyncio.Event()

    async def hold(_: Received) -> None:
        await asyncio.wait_for(release.wait(), BOUND_S)

    receiver.on_request = hold
    env = clean_env(KASSA_OUTBOUND_ALLOW="127.0.0.1/32", KASSA_HOOK_TIMEOUT="60")
    with kassa_serve(tmp_path, "--workers", str(workers), env=env) as server:
        await wait_ready_async(server)
        headers = await tenant_headers(server)
        async with httpx.AsyncClient(base_url=server.base, headers=headers, timeout=TIMEOUT) as c:
            hook = {"subscribeTo": "/reference", "invoke": receiver.base + "/h/{order_id}"}
            created = await c.post(ORDERS, json={"reference": "before", "hooks": [hook]})
            assert created.status_code == 201, created.text
            order_id = created.json()["id"]
            assert created.json() == {"id": order_id}

            in_flight = asyncio.create_task(c.put(f"{ORDERS}/{order_id}/reference", json="after"))
            await until(lambda: len(receiver.requests) == 1, "the hook call", server)
            server.proc.send_signal(signal.SIGTERM)

            # new connections are refused while the write is still held in its hook
            await until(server.refuses_connections, "refusing new connections", server)
            assert server.proc.poll() is None, server.output()
            assert not in_flight.done()

            release.set()
            response = await asyncio.wait_for(in_flight, BOUND_S)
        assert response.status_code == 200, response.text
        assert response.content == b""
        assert response.headers["etag"] == '"2"'
        assert "kassa-warnings" not in response.headers
        assert await exit_code(server) == 0, server.output()
        assert server.refuses_connections()
        [(stored,)] = server.db.rows("SELECT doc FROM orders WHERE id = ?", order_id)
        assert json.loads(str(stored))["reference"] == "after"
        assert [r.target for r in receiver.requests] == [f"/h/{order_id}"]


# --- metrics of several processes ---------------------------------------------------------------

LIVE = "/health/live"


def served_live(counter_file: Path) -> float:
    """The ``/health/live`` requests one process counted, from its own metrics file."""
    families = MultiProcessCollector.merge([str(counter_file)])  # type: ignore[no-untyped-call]
    return sum(
        float(sample.value)
        for family in families
        for sample in family.samples
        if sample.name == "kassa_http_requests_total" and sample.labels.get("route") == LIVE
    )


def live_total(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "kassa_http_requests_total" and sample.labels["route"] == LIVE
    )


async def send_live(server: Server, count: int) -> None:
    no_reuse = httpx.Limits(max_keepalive_connections=0)  # a new connection for each request
    async with httpx.AsyncClient(timeout=TIMEOUT, limits=no_reuse) as client:

        async def one() -> None:
            response = await client.get(server.base + LIVE)
            assert response.status_code == 200, response.text
            assert response.json() == {"status": "ok"}

        await asyncio.gather(*(one() for _ in range(count)))


async def scrape(server: Server) -> str:
    async with httpx.AsyncClient(timeout=TIMEOUT) as fresh:
        response = await fresh.get(server.base + "/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return response.text


async def test_metrics_sum_every_worker_process(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    with kassa_serve(tmp_path, "--workers", "2", env=clean_env(TMPDIR=str(temp))) as server:
        await wait_ready_async(server)
        [directory] = temp.glob("kassa-metrics-*")

        def counter_files() -> list[Path]:
            return sorted(directory.glob("counter_*.db"))

        def serving() -> list[Path]:
            return [f for f in counter_files() if served_live(f) > 0]

        # at least 200 requests, and on until both workers have served some
        sent = 0
        while sent < 200 or len(serving()) < 2:
            assert sent < 5000, f"one worker served every request:\n{server.output()}"
            await send_live(server, 20)
            sent += 20
        assert len(counter_files()) == 2
        assert all(served_live(f) < sent for f in counter_files())

        for _ in range(5):
            assert live_total(await scrape(server)) == sent
        text = await scrape(server)
        assert "# TYPE kassa_http_requests_total counter" in text
        assert "# TYPE kassa_events_pending gauge" in text

        # a worker that dies is replaced; its counts stay, its live gauge is dropped
        victim = counter_files()[0]
        pid = int(re.fullmatch(r"counter_(\d+)\.db", victim.name)[1])  # type: ignore[index]
        gauge = directory / f"gauge_livemostrecent_{pid}.db"
        assert gauge.exists()
        os.kill(pid, signal.SIGKILL)
        await until(lambda: not gauge.exists(), "marking the dead worker", server)
        await until(lambda: len(counter_files()) == 3, "a replacement worker", server)
        await wait_ready_async(server)
        assert live_total(await scrape(server)) == sent

        server.proc.send_signal(signal.SIGTERM)
        assert await exit_code(server) == 0, server.output()
        assert not directory.exists()  # the temporary metrics directory is removed
