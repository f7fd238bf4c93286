"""Conditional, convergent writes (adapters.md §2.4).

An operation reads the order, plans, and writes with ``If-Match: <ETag read>``; a 412 means the
order moved on, so it re-reads and plans again (at most 3 times, then 409
``concurrent-modification``). Plans look at the order before each write and skip what is
already done, so a retried or re-planned operation finishes the job without doing any step twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any, TypeVar

from kassa import jsonutil
from kassa.adapters.client import Caller, Reply, Upstream
from kassa.errors import ConcurrentModification

MAX_RERUNS = 3
MAX_ATTEMPTS = 12  # a hard bound, whatever progress the attempts make
T = TypeVar("T")


class Stale(Exception):
    """A conditional write found the order changed (412)."""


class OrderSession:
    """One order as the adapter last read it, and the ETag its next write is conditional on."""

    def __init__(
        self,
        upstream: Upstream,
        caller: Caller,
        order_id: str,
        order: dict[str, Any],
        etag: str | None,
        listed: Collection[str] = (),
    ) -> None:
        self.upstream = upstream
        self.caller = caller
        self.order_id = order_id
        self.order = order
        self.etag = etag
        self.listed = listed  # error codes of kassa's answers that the route passes on
        self.writes = 0  # successful writes so far
        self.stale: tuple[str, str, bytes] | None = None  # the last write that met a 412

    async def reread(self) -> dict[str, Any]:
        """Read the order afresh with the adapter's own key."""
        url = self.upstream.order_url(self.order_id)
        reply = await self.upstream.send(self.caller, "GET", url)
        if not reply.ok or not isinstance(reply.body, dict):
            raise reply.error(self.listed)
        self.order, self.etag = reply.body, reply.etag
        return self.order

    async def write(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        has_body: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """A write below the order, conditional on the ETag last seen; raises ``Stale`` on 412."""
        headers = {**(headers or {}), **({"If-Match": self.etag} if self.etag else {})}
        reply = await self.upstream.send(
            self.caller,
            method,
            self.upstream.order_url(self.order_id, path),
            body=body,
            has_body=has_body,
            headers=headers,
        )
        if reply.status == 412:
            self.stale = (method, path, jsonutil.canonical(body) if has_body else b"")
            raise Stale()
        if not reply.ok:
            raise reply.error(self.listed)
        self.etag = reply.etag or self.etag
        self.writes += 1
        return reply


async def converge(session: OrderSession, plan: Callable[[OrderSession], Awaitable[T]]) -> T:
    """Run ``plan`` on the order as read; after a 412, on a fresh read.

    A re-plan counts against the limit of 3 only when it made no progress: its attempt wrote
    nothing and met the 412 on the same write as the attempt before. A different stale write
    means another writer did the earlier step (two concurrent runs of one operation share the
    steps, and the one behind must not give up while the other finishes the job).
    """
    reruns = 0
    previous: tuple[str, str, bytes] | None = None
    for _ in range(MAX_ATTEMPTS):
        writes = session.writes
        try:
            return await plan(session)
        except Stale:
            if session.writes == writes and session.stale == previous:
                reruns += 1
                if reruns >= MAX_RERUNS:
                    break
            previous = session.stale
        await session.reread()
    raise ConcurrentModification()
