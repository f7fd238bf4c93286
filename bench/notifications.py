"""Notification delivery throughput (`make bench-notifications`; see docs/performance.md).

Creates N pending events in a fresh database (default: a temporary SQLite file; or
``--database postgresql+asyncpg://...``), starts a fast local receiver in its own process
(HTTP/1.1 keep-alive, answers 200 with an empty body) and then one ``kassa worker``, and waits
until every event is ``succeeded``. Throughput = events / (last recorded attempt's end - first
attempt's start), read from the events table, so process start-up is not counted.

The events are built with kassa's own code: a realistic order (3 cart items, a customer)
through ``OrderCreate`` and ``rules.new_order``, and the outbox rows of its creation for one
notification on ``/reference`` (the body is ``{"notification", "order"}``, about 2 KB). Each
event belongs to its own order (``--per-order`` puts several on one order: per-order FIFO then
serialises them). Only the events are stored; delivery never reads the orders table.

    .venv/bin/python bench/notifications.py [--events 20000] [--database URL] [--per-order 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from kassa import ids, timeutil
from kassa.db import migrate
from kassa.db.engine import Database
from kassa.db.tables import events
from kassa.events import outbox
from kassa.orders import rules
from kassa.orders.schemas import OrderCreate

ROOT = Path(__file__).resolve().parent.parent
MERCHANT = "bench"
CHANNEL = "bench"


# the receiver (its own process) ---------------------------------------------------------------


class _Answer(asyncio.Protocol):
    count = 0

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].lower()
            length = 0
            marker = head.find(b"content-length:")
            if marker >= 0:
                line_end = head.find(b"\r\n", marker)
                length = int(head[marker + 15 : line_end if line_end > 0 else None])
            total = head_end + 4 + length
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            _Answer.count += 1
            assert self.transport is not None
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")


async def _receive(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Answer, "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    async with server:
        await stop.wait()
    print(f"received {_Answer.count}", flush=True)


# seeding ---------------------------------------------------------------------------------------


def _order_body(n: int, port: int) -> dict[str, Any]:
    item = {
        "name": "T-Shirt",
        "quantity": 1,
        "total": {"includingVat": Decimal("12.5")},
        "vatRate": Decimal("0.25"),
    }
    return {
        "reference": f"bench-{n}",
        "currency": "SEK",
        "cart": {"items": [{**item, "reference": f"sku-{i}"} for i in range(3)]},
        "customer": {
            "billing": {"givenName": "Ada", "familyName": "Lovelace", "email": "ada@example.com"},
        },
        "notifications": [
            {"scope": "/reference", "invoke": f"http://127.0.0.1:{port}/n/{{order_id}}"}
        ],
    }


def _event_rows(count: int, per_order: int, port: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    now_ms = int(time.time() * 1000)
    n = 0
    while len(rows) < count:
        body = OrderCreate.model_validate(_order_body(n, port)).wire()
        order, computed = rules.new_order(
            body,
            order_id=ids.order_id(),
            merchant=MERCHANT,
            channel=CHANNEL,
            created=timeutil.fmt(timeutil.now()),
            channel_notifications=(),
        )
        meta: dict[str, Any] = {"computed": computed}
        for version in range(1, per_order + 1):
            if version > 1:
                order["reference"] = f"bench-{n}-{version}"
            rows += outbox.rows(None if version == 1 else {}, order, meta, version, now_ms)
        n += 1
    return rows[:count]


async def _seed(db: Database, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 1000):
        chunk = rows[start : start + 1000]
        await db.write(lambda conn, chunk=chunk: conn.execute(insert(events), chunk))  # type: ignore[misc]


async def _progress(db: Database) -> tuple[int, int]:
    def query(conn: Any) -> tuple[int, int]:
        statement = select(events.c.status, func.count()).group_by(events.c.status)
        counts = dict(conn.execute(statement).all())
        return int(counts.get("pending", 0)), int(counts.get("succeeded", 0))

    return await db.scan(query)


async def _span(db: Database) -> tuple[int, int, int]:
    def query(conn: Any) -> tuple[int, int, int]:
        row = conn.execute(
            select(
                func.min(events.c.first_attempt_ms),
                func.max(events.c.terminal_ms),
                func.sum(events.c.attempt_count),
            )
        ).one()
        return int(row[0]), int(row[1]), int(row[2])

    return await db.scan(query)


# the run ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _run(args: argparse.Namespace) -> int:
    tmp = tempfile.mkdtemp(prefix="kassa-bench-notify-")
    url = args.database or f"sqlite+aiosqlite:///{tmp}/bench.db"
    db = Database(url)
    await migrate.upgrade(db)
    port = _free_port()
    started = time.perf_counter()
    rows = _event_rows(args.events, args.per_order, port)
    await _seed(db, rows)
    print(f"seeded {len(rows)} pending events in {time.perf_counter() - started:.1f} s ({url})")
    print(f"payload: {len(rows[0]['payload'])} bytes per event")

    receiver = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "receive", "--port", str(port), stdout=asyncio.subprocess.PIPE
    )
    assert receiver.stdout is not None
    assert (await receiver.stdout.readline()).strip() == b"ready"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KASSA_")},
        "KASSA_OUTBOUND_ALLOW": "127.0.0.1/32",
        "KASSA_WEBHOOK_SECRET": "whsec_" + "A" * 43 + "=",
        "KASSA_LOG_LEVEL": "warning",
    }
    kassa = str(Path(sys.executable).parent / "kassa")
    worker = await asyncio.create_subprocess_exec(kassa, "worker", "--database", url, env=env)
    try:
        deadline = time.monotonic() + args.max_wait
        while True:
            pending, succeeded = await _progress(db)
            if pending == 0:
                break
            if time.monotonic() > deadline:
                print(f"gave up: {pending} still pending, {succeeded} succeeded", file=sys.stderr)
                return 1
            await asyncio.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        await asyncio.wait_for(worker.wait(), 60)
        receiver.send_signal(signal.SIGTERM)
        received_line = (await receiver.stdout.read()).decode()
        await receiver.wait()
    first_ms, last_ms, attempts = await _span(db)
    pending, succeeded = await _progress(db)
    await db.dispose()
    seconds = (last_ms - first_ms) / 1000
    rate = len(rows) / seconds if seconds > 0 else float("inf")
    cpu = os.cpu_count()
    print(f"receiver: {received_line.strip()}")
    print(
        f"succeeded {succeeded}/{len(rows)}, attempts {attempts}, worker exit {worker.returncode}"
    )
    print(
        f"RESULT scenario=notifications events={len(rows)} per_order={args.per_order} "
        f"seconds={seconds:.2f} events_per_s={rate:.0f} cores={cpu} "
        f"database={'sqlite' if url.startswith('sqlite') else 'postgresql'}"
    )
    ok = succeeded == len(rows) and attempts == len(rows) and worker.returncode == 0
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    receive = sub.add_parser("receive")
    receive.add_argument("--port", type=int, required=True)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--per-order", type=int, default=1)
    parser.add_argument("--database", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--max-wait", type=float, default=600, help="seconds")
    args = parser.parse_args()
    if args.command == "receive":
        asyncio.run(_receive(args.port))
        return
    sys.exit(asyncio.run(_run(args)))


if __name__ == "__main__":
    main()
