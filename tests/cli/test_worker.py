"""``kassa worker`` (semantics §15a, §14) as a real subprocess on the suite's database: it delivers
a pending event, and SIGTERM stops it cleanly (exit 0, leases released). Also the app lifespan:
``run_delivery_in_api`` delivers in-process, woken by the commit."""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import sys
from pathlib import Path

from prometheus_client.multiprocess import MultiProcessCollector

from kassa.db.engine import Database
from tests.support.cli import source_path
from tests.support.delivery_env import SECRET, delivery_env, until
from tests.support.receiver import Receiver, verify_signature

TIMEOUT_S = 60  # generous bound for the subprocess to exit; not a timing assertion


def _kassa() -> str:
    return str(Path(sys.executable).parent / "kassa")


def deliveries(counter_file: Path) -> dict[str, float]:
    families = MultiProcessCollector.merge([str(counter_file)])  # type: ignore[no-untyped-call]
    return {
        sample.labels["outcome"]: float(sample.value)
        for family in families
        for sample in family.samples
        if sample.name == "kassa_event_deliveries_total"
    }


async def _received(receiver: Receiver, count: int) -> bool:
    return len(receiver.requests) >= count


async def test_worker_delivers_and_stops_on_sigterm(
    db: Database, database_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    async with delivery_env(db, database_url) as env:
        order_id = await env.order_with_notification(base=receiver.base)
        await env.set_reference(order_id, "r1")
        [event] = await env.events_of(order_id)
        environment = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": source_path(),
            "KASSA_OUTBOUND_ALLOW": "127.0.0.1/32",
            "KASSA_WEBHOOK_SECRETS": json.dumps({env.tenant.merchant: [SECRET]}),
            "KASSA_DELIVERY_TIMEOUT": "2",
            "KASSA_METRICS_DIR": str(tmp_path / "metrics"),
        }
        log = (tmp_path / "worker.log").open("wb")
        worker = await asyncio.create_subprocess_exec(
            _kassa(),
            "worker",
            "--database",
            database_url,
            env=environment,
            stdout=log,
            stderr=log,
        )
        try:

            async def delivered() -> bool:
                return bool((await env.event(event["id"]))["status"] == "succeeded")

            await until(delivered)
        finally:
            worker.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(worker.wait(), TIMEOUT_S)
            log.close()
        output = (tmp_path / "worker.log").read_text()
        assert code == 0, output
        assert "delivering notifications" in output
        [received] = [r for r in receiver.requests if r.headers["webhook-id"] == event["id"]]
        assert received.target == f"/n/{order_id}"
        verify_signature(received, SECRET)
        done = await env.event(event["id"])
        assert done["attemptCount"] == 1
        assert done["attempts"][0]["outcome"] == "success"
        # its metrics are in the directory it shares with `kassa serve` on the host; its live
        # gauge was dropped when it stopped
        metrics = tmp_path / "metrics"
        assert (metrics / f"counter_{worker.pid}.db").exists()
        assert not (metrics / f"gauge_livemostrecent_{worker.pid}.db").exists()
        # (on the suite's shared database it may also have tried other tests' pending events)
        assert deliveries(metrics / f"counter_{worker.pid}.db").get("success", 0) >= 1
        # the worker gave back the SQLite delivery lease: a loop here can take it at once
        loop = env.loop()
        await loop.run_once()
        assert loop.active


async def test_lifespan_runs_delivery_in_the_api(
    db: Database, database_url: str, receiver: Receiver
) -> None:
    async with delivery_env(db, database_url, run_delivery_in_api=True) as env:
        app = env.client._transport.app  # type: ignore[attr-defined]
        try:
            async with app.router.lifespan_context(app):
                order_id = await env.order_with_notification(base=receiver.base)
                await env.set_reference(order_id, "r1")
                await until(lambda: _received(receiver, 1))
        finally:
            gc.unfreeze()  # the lifespan froze everything alive for a server's lifetime
        # shutting down finished and recorded the attempt
        [event] = await env.events_of(order_id)
        assert event["status"] == "succeeded"
        assert receiver.requests[0].headers["webhook-id"] == event["id"]
