"""In-process HTTP: a request handed to the application object as one ASGI call, no socket.

Built-in adapters reach kassa's public routes this way (loopback dispatch, adapters.md §1.2), and
kassa reaches the callbacks of adapters mounted in the same process (``kassa.delivery.outbound``).
The request goes through the whole application — middleware, authentication, validation — exactly
as one from the network would; only the transport is skipped.

``httpx.ASGITransport`` does the same, but around it sit the client's layers (URL merging,
cookie jars, auth and redirect handling, streaming wrappers) that cost more than many a request
to kassa itself (docs/performance.md); here a request is a scope, a body and the collected answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Protocol
from urllib.parse import unquote, urlsplit

import httpx
from starlette.types import ASGIApp, Message

_CLIENT = ("127.0.0.1", 0)
_DISCONNECT: Message = {"type": "http.disconnect"}


class Answer(Protocol):
    """What an ``HttpClient`` request comes back with (``httpx.Response`` is one)."""

    @property
    def status_code(self) -> int: ...

    @property
    def content(self) -> bytes: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


class HttpClient(Protocol):
    """The HTTP client a built-in adapter or the demo storefront is given: ``httpx.AsyncClient``
    over the network, or ``LoopbackClient``. A failure to reach kassa raises ``httpx.HTTPError``."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (httpx.AsyncClient.request's own argument)
    ) -> Answer: ...

    async def aclose(self) -> None: ...


class Headers(dict[str, str]):
    """Response headers by lower-case name (a repeated header keeps its last value)."""

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(key.lower(), default)


class LoopbackResponse:
    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: Headers, content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content


async def call(
    app: ASGIApp,
    method: str,
    url: str,
    *,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> LoopbackResponse:
    """One request to ``app``. ``url`` is absolute; its host becomes the ``Host`` header unless
    ``headers`` name one."""
    parts = urlsplit(url)
    raw: list[tuple[bytes, bytes]] = []
    has_host = False
    for name, value in (headers or {}).items():
        lower = name.lower()
        has_host = has_host or lower == "host"
        raw.append((lower.encode("latin-1"), value.encode("latin-1")))
    if not has_host:
        raw.append((b"host", parts.netloc.encode("latin-1")))
    body = content or b""
    if body:
        raw.append((b"content-length", str(len(body)).encode()))
    path = parts.path or "/"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method.upper(),
        "scheme": parts.scheme or "http",
        "path": unquote(path),
        "raw_path": path.encode("latin-1"),
        "query_string": parts.query.encode("latin-1"),
        "root_path": "",
        "headers": raw,
        "client": _CLIENT,
        "server": (parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)),
    }
    done = asyncio.Event()
    sent_body = False
    status = 500
    answer: list[bytes] = []
    response_headers = Headers()

    async def receive() -> Message:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return _DISCONNECT

    async def send(message: Message) -> None:
        nonlocal status
        kind = message["type"]
        if kind == "http.response.start":
            status = message["status"]
            for name, value in message.get("headers", ()):
                response_headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        elif kind == "http.response.body":
            chunk = message.get("body", b"")
            if chunk:
                answer.append(chunk)
            if not message.get("more_body", False):
                done.set()

    try:
        await app(scope, receive, send)
    finally:
        done.set()
    return LoopbackResponse(status, response_headers, b"".join(answer))


class LoopbackClient:
    """Requests to ``origin`` go to ``app`` in-process; any other URL goes over the network
    (``network``). The ``request`` method has the shape of ``httpx.AsyncClient.request`` as
    kassa's clients use it."""

    def __init__(self, app: ASGIApp | None, origin: str, network: httpx.AsyncClient) -> None:
        self.app = app
        self.origin = origin.rstrip("/") + "/"
        self.network = network

    async def request(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (httpx.AsyncClient.request's own argument)
    ) -> LoopbackResponse | httpx.Response:
        """A timeout raises ``httpx.ReadTimeout``, as over the network."""
        if self.app is not None and url.startswith(self.origin):
            try:
                async with asyncio.timeout(timeout):
                    return await call(self.app, method, url, content=content, headers=headers)
            except TimeoutError as exc:
                raise httpx.ReadTimeout(f"no answer within {timeout} s") from exc
        return await self.network.request(
            method, url, content=content, headers=headers, timeout=timeout
        )

    async def aclose(self) -> None:
        await self.network.aclose()
