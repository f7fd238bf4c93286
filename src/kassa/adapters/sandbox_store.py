"""The simulated PSP's pushes (adapters.md §5.5): its only state outside the order.

A ``pending`` authorisation schedules two push events (``PENDING``, then ``AUTHORISED`` or
``REFUSED``), each sent ``push.duplicates + 1`` times, the second first when ``push.outOfOrder``.
Rows of ``sandbox_psp_pushes`` (migration 0009) are the sends. Scheduling is idempotent (unique
on payment, authorisation attempt, sequence and copy), so a retried P3 schedules nothing twice.

Sending: a small loop per process, started by the adapter's first request (it needs the
application to dispatch to), polls for due sends and claims each with a compare-and-set UPDATE
of its lease — exclusive across processes on PostgreSQL and SQLite alike — then POSTs it,
signed with the merchant's webhook secret (``webhook-id`` = ``eventId``), to the adapter's
``push`` callback, outside any transaction, and records the outcome. A non-2xx answer is retried
after 5 s x attempt, up to ``sandbox_push_max_attempts`` attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    and_,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from kassa import ids, jsonutil, loopback
from kassa.adapters import signatures
from kassa.adapters.sandbox import ADAPTER_ID, CALLBACKS

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from kassa.adapters.calls import AdapterContext
    from kassa.adapters.client import Caller

log = logging.getLogger("kassa.sandbox")

POLL_S = 0.2
LEASE_MS = 30_000
RETRY_STEP_MS = 5_000
COPY_GAP_MS = 20  # between the copies of a duplicated push
BATCH = 20
PUSH_TIMEOUT_S = 5.0  # one push sent in-process to the push callback

_metadata = MetaData()
pushes = Table(
    "sandbox_psp_pushes",
    _metadata,
    Column("event_id", String(32), primary_key=True),
    Column("copy", Integer, primary_key=True),
    Column("merchant", String(128), nullable=False),
    Column("channel", String(128), nullable=False),
    Column("order_id", String(32), nullable=False),
    Column("payment_id", String(32), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("psp_reference", String(64), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("due_ms", BigInteger, nullable=False),
    Column("tries", Integer, nullable=False),
    Column("last_status", Integer, nullable=True),
    Column("done", Boolean, nullable=False),
    Column("lease_ms", BigInteger, nullable=True),
    UniqueConstraint("payment_id", "attempt", "sequence", "copy", name="uq_sandbox_push"),
    Index("ix_sandbox_push_due", "done", "due_ms"),
    Index("ix_sandbox_push_payment", "payment_id"),
)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def plan_pushes(config: dict[str, Any], now_ms: int) -> list[tuple[int, str, int, int]]:
    """(sequence, status, copy, due) of each send, from the configuration (pure)."""
    found = config.get("push")
    push: dict[str, Any] = found if isinstance(found, dict) else {}
    delay = int(push.get("delayMs", 1000))
    duplicates = int(push.get("duplicates", 0))
    out_of_order = push.get("outOfOrder") is True
    final = "REFUSED" if config.get("pendingOutcome") == "decline" else "AUTHORISED"
    first, second = now_ms + delay, now_ms + 2 * delay
    if out_of_order:
        first, second = second, first
    sends: list[tuple[int, str, int, int]] = []
    for sequence, status, due in ((1, "PENDING", first), (2, final, second)):
        for copy in range(duplicates + 1):
            sends.append((sequence, status, copy, due + copy * COPY_GAP_MS))
    return sends


class PushStore:
    def __init__(self, ctx: AdapterContext) -> None:
        self.ctx = ctx
        self.max_attempts = ctx.push_max_attempts
        self._task: asyncio.Task[None] | None = None
        self._app: ASGIApp | None = None
        self._wake = asyncio.Event()

    # scheduling and listing ----------------------------------------------------------------------

    async def schedule(
        self,
        caller: Caller,
        order_id: str,
        payment: dict[str, Any],
        attempt: int,
        config: dict[str, Any],
    ) -> None:
        db = self.ctx.db
        if db is None:
            raise RuntimeError("the sandbox PSP needs a database for its pushes")
        now = _now_ms()
        payment_id = str(payment["id"])
        event_ids = {1: ids.new_id("pe_"), 2: ids.new_id("pe_")}
        rows = [
            {
                "event_id": event_ids[sequence],
                "copy": copy,
                "merchant": caller.merchant,
                "channel": caller.channel,
                "order_id": order_id,
                "payment_id": payment_id,
                "attempt": attempt,
                "psp_reference": str(payment.get("reference") or ""),
                "sequence": sequence,
                "status": status,
                "due_ms": due,
                "tries": 0,
                "last_status": None,
                "done": False,
                "lease_ms": None,
            }
            for sequence, status, copy, due in plan_pushes(config, now)
        ]

        def insert(conn: Connection) -> None:
            exists = conn.execute(
                select(pushes.c.event_id)
                .where(pushes.c.payment_id == payment_id, pushes.c.attempt == attempt)
                .limit(1)
            ).first()
            if exists is None:
                conn.execute(pushes.insert(), rows)

        with contextlib.suppress(IntegrityError):  # a concurrent retry scheduled them
            await db.write(insert)
        self._wake.set()

    async def list(self, payment_id: str) -> list[dict[str, Any]]:
        db = self.ctx.db
        if db is None:
            return []
        statement = (
            select(pushes)
            .where(pushes.c.payment_id == payment_id)
            .order_by(pushes.c.attempt, pushes.c.due_ms, pushes.c.sequence, pushes.c.copy)
        )
        rows = await db.read(lambda conn: conn.execute(statement).all())
        return [
            {
                "eventId": row.event_id,
                "sequence": row.sequence,
                "status": row.status,
                "copy": row.copy,
                "dueAt": _iso(row.due_ms),
                "attempts": row.tries,
                "lastStatusCode": row.last_status,
                "delivered": row.done,
            }
            for row in rows
        ]

    # sending -------------------------------------------------------------------------------------

    def ensure_running(self, app: ASGIApp) -> None:
        """Start this process's send loop (once); ``app`` is where the push callback lives."""
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done() and self._task.get_loop() is loop:
            return
        if self.ctx.db is None:
            return
        self._app = app
        self._wake = asyncio.Event()
        self._task = loop.create_task(self._run())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.send_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("sandbox push loop failed; retrying", exc_info=True)
                sent = 0
            if sent == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_S)

    async def send_due(self) -> int:
        """Claim and send the due pushes; how many were sent."""
        db = self.ctx.db
        assert db is not None
        now = _now_ms()
        free = or_(pushes.c.lease_ms.is_(None), pushes.c.lease_ms < now)
        due = and_(
            pushes.c.done.is_(False),
            pushes.c.due_ms <= now,
            pushes.c.tries < self.max_attempts,
            free,
        )
        statement = select(pushes).where(due).order_by(pushes.c.due_ms).limit(BATCH)
        candidates = await db.read(lambda conn: conn.execute(statement).all())
        claimed = []
        for row in candidates:
            claim = (
                update(pushes)
                .where(pushes.c.event_id == row.event_id, pushes.c.copy == row.copy, due)
                .values(lease_ms=now + LEASE_MS)
            )

            def run(conn: Connection, claim: Any = claim) -> int:
                return int(conn.execute(claim).rowcount)

            if await db.write(run) == 1:
                claimed.append(row)
        for row in claimed:
            await self._send(row)
        return len(claimed)

    async def _send(self, row: Any) -> None:
        db = self.ctx.db
        assert db is not None and self._app is not None
        body = jsonutil.dumps(
            {
                "eventId": row.event_id,
                "sequence": row.sequence,
                "pspReference": row.psp_reference,
                "status": row.status,
            }
        )
        url = self.ctx.callback_base + CALLBACKS.format(
            order_id=row.order_id, payment_id=row.payment_id
        )
        secrets = await self.ctx.secrets(row.merchant)
        headers = {
            "content-type": "application/json",
            "x-merchant": row.merchant,
            "x-channel": row.channel,
            "user-agent": f"{ADAPTER_ID}/push",
            **signatures.sign(secrets[0] if secrets else "", row.event_id, body, time.time()),
        }
        status: int | None
        try:
            async with asyncio.timeout(PUSH_TIMEOUT_S):
                response = await loopback.call(
                    self._app, "POST", url + "/push", content=body, headers=headers
                )
            status = response.status_code
        except TimeoutError:
            status = None
        ok = status is not None and 200 <= status < 300
        tries = row.tries + 1
        values: dict[str, Any] = {"tries": tries, "last_status": status, "lease_ms": None}
        if ok:
            values["done"] = True
        else:
            values["due_ms"] = _now_ms() + RETRY_STEP_MS * tries
        record = (
            update(pushes)
            .where(pushes.c.event_id == row.event_id, pushes.c.copy == row.copy)
            .values(**values)
        )
        await db.write(lambda conn: conn.execute(record))
