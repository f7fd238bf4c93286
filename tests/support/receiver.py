"""Helpers for tests of outbound calls: a tiny real HTTP/1.1 receiver, an app with its own
settings on the shared database, and Standard Webhooks signature verification."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from kassa.app import create_app
from kassa.config import Settings
from kassa.db.engine import Database
from tests.conftest import client_for, make_tenant

# A tiny HTTP/1.1 receiver ---------------------------------------------------------------------


@dataclass
class Received:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records every request; answers ``status`` with ``body`` after ``delay`` seconds."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    delay: float = 0.0
    extra_headers: dict[str, str] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    # awaited for each request before answering; may change status/body for this answer
    on_request: Callable[[Received], Awaitable[None]] | None = None
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = (await reader.readline()).decode("latin-1").rstrip("\r\n")
        if not request_line:
            return
        method, target, _ = request_line.split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            line = (await reader.readline()).decode("latin-1").rstrip("\r\n")
            if not line:
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await reader.readexactly(length) if length else b""
        received = Received(method, target, headers, body)
        self.requests.append(received)
        if self.on_request is not None:
            await self.on_request(received)
        if self.delay:
            await asyncio.sleep(self.delay)
        head = [
            f"HTTP/1.1 {self.status} Status",
            f"Content-Type: {self.content_type}",
            f"Content-Length: {len(self.body)}",
            "Connection: close",
            *(f"{k}: {v}" for k, v in self.extra_headers.items()),
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + self.body)
        await writer.drain()


@contextlib.asynccontextmanager
async def app_client(
    db: Database, database_url: str, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh app (own settings, shared database) for a fresh tenant."""
    app: FastAPI = create_app(
        Settings(database_url=database_url, access_log=False, **overrides), db=db
    )
    tenant = await make_tenant(db)
    try:
        async with client_for(app, tenant.headers) as client:
            yield client
    finally:
        outbound = app.state.kassa.outbound
        if outbound is not None:
            await outbound.aclose()


def verify_signature(received: Received, secret: str) -> None:
    message_id = received.headers["webhook-id"]
    timestamp = received.headers["webhook-timestamp"]
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{message_id}.{timestamp}.".encode() + received.body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    signatures = received.headers["webhook-signature"].split(" ")
    assert any(s.startswith("v1,") and hmac.compare_digest(s[3:], expected) for s in signatures), (
        received.headers
    )
