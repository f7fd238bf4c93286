"""The notification delivery loop (semantics §7.4-7.8, §14), run inside ``kassa serve`` or by
``kassa worker``.

One ``DeliveryLoop`` claims due events in batches (a short transaction that leases them to a
claim token), POSTs them outside any transaction, concurrently across orders (through its own
small connection pool per destination, ``kassa.delivery.transport``), and records the finished
attempts in batched writes, each only while its lease is still held. Per-order FIFO and
"at most one in flight per order" are properties of the claim query (``kassa.delivery.store``), so
any number of loops on PostgreSQL cooperate through the database alone. On SQLite exactly one
loop per database works: it holds the named lease ``delivery``; any other loop stays idle while
that lease is alive.

The loop wakes on ``AppState.delivery_wake`` (set after a commit that wrote events, and when one
of its own attempts finishes) and polls at least every ``poll_interval_s`` (1 s), so an event
committed in this process is attempted at once and one committed elsewhere within a second.
``stop()`` is graceful: no new claims, current attempts finish and are recorded, the loop lease
is released. A loop that dies without stopping leaves leases that expire after
``delivery_timeout`` + 30 s; the next claim then attempts those events again (same
``webhook-id``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

from kassa import ids
from kassa.callbacks.kinds import NOTIFICATION, substitute
from kassa.delivery import store
from kassa.delivery.outbound import AllowList, Outbound
from kassa.delivery.results import CallResult
from kassa.delivery.schedule import Classified, classify
from kassa.delivery.signing import secrets_for
from kassa.delivery.store import Claimed, Finished
from kassa.delivery.transport import PerDestinationTransport
from kassa.jsonutil import loads
from kassa.metrics import EVENT_DELIVERIES, EVENTS_PENDING
from kassa.state import AppState
from kassa.timeutil import fmt, now

log = logging.getLogger("kassa.delivery")

LOOP_LEASE = "delivery"
LINGER_S = 0.01  # how long finished attempts may wait to share one recording transaction
GAUGE_INTERVAL_S = 5.0
PURGE_INTERVAL_S = 600.0
PURGE_CHUNK = 500


def _now_ms() -> int:
    return int(time.time() * 1000)


class DeliveryLoop:
    def __init__(
        self,
        state: AppState,
        *,
        batch_size: int = 100,
        max_in_flight: int = 200,
        poll_interval_s: float = 1.0,
        lease_margin_s: float = 30.0,
        loop_lease_ttl_s: float = 15.0,
        per_destination: int = 8,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.state = state
        self.batch_size = batch_size
        self.max_in_flight = max_in_flight
        self.poll_interval_s = poll_interval_s
        self.lease_ms = int((state.settings.delivery_timeout + lease_margin_s) * 1000)
        self.loop_lease_ttl_ms = int(loop_lease_ttl_s * 1000)
        self.rand = rand
        self.per_destination = per_destination
        self._outbound: Outbound | None = None
        self.holder = ids.new_id("dl_")
        self.attempts = 0  # attempts this loop made (recorded or not)
        self._claims = 0
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._finished: list[Finished] = []
        self._first_finished = 0.0
        self._lease_renew_at = 0.0
        self._has_lease = False
        self._next_gauge = 0.0
        self._next_purge = 0.0
        self._next_error_log = 0.0

    # public --------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether this loop may deliver (always on PostgreSQL; on SQLite: holds the lease)."""
        return self._has_lease or not self.state.db.is_sqlite

    def stop(self) -> None:
        """Ask ``run`` to finish: no new claims, current attempts are completed and recorded."""
        self._stopping = True
        self.state.delivery_wake.set()

    async def run(self) -> None:
        """Deliver until ``stop()``; then finish current attempts and release the loop lease."""
        try:
            while not self._stopping:
                try:
                    await self._step()
                except asyncio.CancelledError:
                    raise
                except Exception:  # a database hiccup must not end delivery
                    clock = time.monotonic()
                    if clock >= self._next_error_log:  # at most one traceback a minute
                        self._next_error_log = clock + 60
                        log.exception("delivery loop step failed; retrying every poll")
                    await self._wait(self.poll_interval_s)
        finally:
            await self._drain()

    async def run_once(self) -> int:
        """One pass: claim a batch, attempt every claimed event, record the results.

        Returns the number of attempts made. For tests and tools; ``run`` is the service loop.
        """
        if not await self._hold_loop_lease():
            return 0
        claimed = await self._claim(self.batch_size)
        finished = await asyncio.gather(*(self._attempt(event) for event in claimed))
        await self._record(list(finished))
        return len(finished)

    async def close(self) -> None:
        """Give up the SQLite loop lease and close the connections (``run`` does this itself
        when it stops; the loop can still be used afterwards)."""
        await self.release()
        if self._outbound is not None:
            outbound, self._outbound = self._outbound, None
            await outbound.aclose()

    async def release(self) -> None:
        """Give up the SQLite loop lease."""
        if self.state.db.is_sqlite and self._has_lease:
            self._has_lease = False
            self._lease_renew_at = 0.0
            with contextlib.suppress(Exception):
                await self.state.db.write(
                    lambda conn: store.release_lease(conn, LOOP_LEASE, self.holder)
                )

    async def claim(self, limit: int) -> list[Claimed]:
        """Claim up to ``limit`` due events (leased to a fresh claim token)."""
        return await self._claim(limit)

    async def attempt(self, event: Claimed) -> Finished:
        """Make one delivery attempt of a claimed event (no database access but secrets)."""
        return await self._attempt(event)

    async def record(self, finished: list[Finished]) -> dict[str, str]:
        return await self._record(finished)

    async def purge(self) -> int:
        """Delete terminal events (and attempts) older than ``event_retention``."""
        total, more = 0, True
        while more:
            purged, more = await self._purge_some()
            total += purged
        return total

    async def _purge_some(self, chunks: int = 20) -> tuple[int, bool]:
        """Purge up to ``chunks`` chunks; returns the count and whether more may remain."""
        cutoff = _now_ms() - int(self.state.settings.event_retention * 1000)
        total = 0
        for _ in range(chunks):
            count = await self.state.db.write(lambda conn: store.purge(conn, cutoff, PURGE_CHUNK))
            total += count
            if count < PURGE_CHUNK:
                return total, False
        return total, True

    # the loop ------------------------------------------------------------------------------

    async def _step(self) -> None:
        # anything that sets the wake from here on (a commit, a finished attempt) makes the
        # wait at the end return at once
        self.state.delivery_wake.clear()
        clock = time.monotonic()
        if self._finished and (
            len(self._finished) >= self.batch_size
            or not self._tasks
            or clock - self._first_finished >= LINGER_S
        ):
            batch, self._finished = self._finished, []
            try:
                await self._record(batch)
            except Exception:
                self._finished[:0] = batch  # try again next pass (leases are still ours)
                raise
        # renewed on every pass (a write only every few seconds), also while saturated
        active = await self._hold_loop_lease()
        claimed: list[Claimed] = []
        want = min(self.max_in_flight - len(self._tasks), self.batch_size)
        # claim in batches: wait for room for a quarter batch unless nothing is in flight
        if active and want > 0 and (want >= self.batch_size // 4 or not self._tasks):
            await self._maintain(clock)
            claimed = await self._claim(want)
            for event in claimed:
                task = asyncio.create_task(self._attempt_and_park(event))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        if claimed and len(claimed) == want == self.batch_size:
            return  # there may be more due right now
        timeout = self.poll_interval_s
        if self._finished:
            timeout = max(0.0, LINGER_S - (time.monotonic() - self._first_finished))
        await self._wait(timeout)

    async def _wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``, or until the wake event is set."""
        wake = self.state.delivery_wake
        if wake.is_set() or seconds <= 0:
            await asyncio.sleep(0)
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await wake.wait()

    async def _drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        batch, self._finished = self._finished, []
        try:
            await self._record(batch)
        except Exception:
            log.exception("could not record the last delivery attempts")
        await self.close()

    async def _attempt_and_park(self, event: Claimed) -> None:
        try:
            finished = await self._attempt(event)
        except Exception:  # not expected (_attempt turns failures into results); lease expires
            log.exception("delivery attempt of %s crashed", event.id)
            return
        if not self._finished:
            self._first_finished = time.monotonic()
        self._finished.append(finished)
        self.state.delivery_wake.set()

    async def _maintain(self, clock: float) -> None:
        if clock >= self._next_gauge:
            self._next_gauge = clock + GAUGE_INTERVAL_S
            EVENTS_PENDING.set(await self.state.db.scan(store.pending_count))
        if clock >= self._next_purge:
            purged, more = await self._purge_some()
            # a large backlog is purged a slice per pass, so deliveries keep going
            self._next_purge = clock + (1.0 if more else PURGE_INTERVAL_S)
            if purged:
                log.info("purged %d events past retention", purged)

    # database ------------------------------------------------------------------------------

    async def _hold_loop_lease(self) -> bool:
        db = self.state.db
        if not db.is_sqlite:
            return True
        clock = time.monotonic()
        if clock < self._lease_renew_at:
            return self._has_lease
        now_ms, ttl = _now_ms(), self.loop_lease_ttl_ms
        held = await db.write(
            lambda conn: store.take_lease(conn, LOOP_LEASE, self.holder, now_ms, ttl)
        )
        if held and not self._has_lease:
            log.info("delivery loop %s holds the SQLite delivery lease", self.holder)
        self._has_lease = held
        # renew at a third of the lease's life; look at a lease held elsewhere once per poll
        self._lease_renew_at = clock + (ttl / 3000 if held else self.poll_interval_s)
        return held

    async def _claim(self, limit: int) -> list[Claimed]:
        db = self.state.db
        now_ms = _now_ms()
        if db.is_sqlite and not await store.due_exists(db, now_ms):
            return []  # nothing due: do not take the write lock for an empty claim
        self._claims += 1
        token = f"{self.holder}.{self._claims}"
        lease_ms = self.lease_ms
        return await db.write(lambda conn: store.claim(conn, token, now_ms, lease_ms, limit))

    async def _record(self, finished: list[Finished]) -> dict[str, str]:
        if not finished:
            return {}
        max_age_ms = int(self.state.settings.delivery_max_age * 1000)
        outcome = await self.state.db.write(lambda conn: store.record(conn, finished, max_age_ms))
        lost = len(finished) - len(outcome)
        if lost:
            log.warning("%d delivery results dropped: their leases had been taken over", lost)
        return outcome

    # the attempt ---------------------------------------------------------------------------

    async def _attempt(self, event: Claimed) -> Finished:
        started_ms = _now_ms()
        started_at = fmt(now())
        clock = time.perf_counter()
        try:
            result = await self._post(event)
        except Exception as exc:  # anything unexpected (bad secret, header encoding...)
            log.warning("delivery of %s failed unexpectedly", event.id, exc_info=True)
            result = CallResult(None, b"", f"{type(exc).__name__}: {exc}", "network-error", 0)
            result.duration_ms = int((time.perf_counter() - clock) * 1000)
        classified: Classified = classify(result)
        self.attempts += 1
        EVENT_DELIVERIES.labels(classified.outcome).inc()
        return Finished(
            event,
            started_ms,
            started_at,
            _now_ms(),
            max(0, result.duration_ms),
            classified,
            self.rand(),
        )

    def _client(self) -> Outbound:
        if self._outbound is None:
            transport = PerDestinationTransport(self.per_destination)
            allow = AllowList.parse(self.state.settings.outbound_allow)
            self._outbound = Outbound(allow, transport=transport, loopback=self.state.loopback)
        return self._outbound

    async def _post(self, event: Claimed) -> CallResult:
        settings = self.state.settings
        url = event.invoke
        if "\\u0000" in url:  # stored escaped (see outbox): recover the URL as registered
            url = substitute(loads(event.payload)["notification"]["invoke"], event.order_id)
        if "\x00" in url:
            return CallResult(None, b"", "url-not-allowed: invalid URL", "url-not-allowed", 0)
        return await self._client().post(
            url,
            event.payload.encode(),
            kind=NOTIFICATION.name,
            headers={"x-merchant": event.merchant, "x-channel": event.channel},
            secrets=await secrets_for(self.state, event.merchant),
            timeout_s=settings.delivery_timeout,
            max_bytes=NOTIFICATION.max_response,
            message_id=event.id,
        )
