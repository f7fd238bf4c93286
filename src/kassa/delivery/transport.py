"""Outbound connection pools: one small pool per destination (every outbound call kind).

``Outbound`` connects to a checked IP address and keeps the host name for ``Host`` and TLS SNI.
httpcore keys its connections by the URL's origin alone (the address), so one shared pool could
reuse a TLS connection verified for one host name for a request to another name on the same
address; it also scans every pooled connection (with system calls) for each request, which
makes one large pool slow, and lets one slow receiver hold every connection. Here every
(scheme, address, port, SNI name) gets its own pool of at most ``per_destination`` connections,
created on first use; pools idle the longest are closed beyond ``max_destinations``. Requests
beyond a pool's size wait for a free connection (within the attempt's timeout).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

import httpx

Key = tuple[bytes, bytes, int | None, str | None]


class _Pool:
    __slots__ = ("busy", "slots", "transport")

    def __init__(self, transport: httpx.AsyncHTTPTransport, size: int) -> None:
        self.transport = transport
        self.busy = 0  # requests admitted or waiting
        # admit only as many requests as there are connections: httpcore's own queue costs a
        # scan of every connection per waiting request at every change
        self.slots = asyncio.Semaphore(size)

    def done(self) -> None:
        self.busy -= 1
        self.slots.release()


class PerDestinationTransport(httpx.AsyncBaseTransport):
    def __init__(self, per_destination: int = 8, max_destinations: int = 256) -> None:
        self.per_destination = per_destination
        self.max_destinations = max_destinations
        self._pools: OrderedDict[Key, _Pool] = OrderedDict()

    def _pool(self, request: httpx.Request) -> _Pool:
        url = request.url
        sni = request.extensions.get("sni_hostname")
        key: Key = (url.raw_scheme, url.raw_host, url.port, sni if isinstance(sni, str) else None)
        pool = self._pools.get(key)
        if pool is None:
            limits = httpx.Limits(
                max_connections=self.per_destination,
                max_keepalive_connections=self.per_destination,
            )
            transport = httpx.AsyncHTTPTransport(limits=limits)
            pool = self._pools[key] = _Pool(transport, self.per_destination)
        else:
            self._pools.move_to_end(key)
        return pool

    async def _evict(self) -> None:
        for key in list(self._pools):
            if len(self._pools) <= self.max_destinations:
                return
            pool = self._pools[key]
            if pool.busy == 0:
                del self._pools[key]
                await pool.transport.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        pool = self._pool(request)
        if len(self._pools) > self.max_destinations:
            await self._evict()
        pool.busy += 1
        try:
            await pool.slots.acquire()
        except BaseException:
            pool.busy -= 1
            raise
        try:
            response = await pool.transport.handle_async_request(request)
        except BaseException:
            pool.done()
            raise
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_Tracked(response.stream, pool),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            await pool.transport.aclose()


class _Tracked(httpx.AsyncByteStream):
    """The response body; the pool counts as busy until it is closed."""

    def __init__(self, stream: httpx.SyncByteStream | httpx.AsyncByteStream, pool: _Pool) -> None:
        assert isinstance(stream, httpx.AsyncByteStream)
        self._stream = stream
        self._pool: _Pool | None = pool

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._pool is not None:
                self._pool.done()
                self._pool = None
