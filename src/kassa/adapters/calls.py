"""The request side of an adapter's routes: who calls, idempotency, callback authentication.

Client routes (the storefront calls them with its key): the caller is authenticated by kassa
itself — the adapter's first read of the order is made with the caller's credentials and
without ``x-adapterid``, so 401/400/403 and 404 ``order-not-found`` are kassa's answers to the
caller; every later read and write uses the adapter's own key. ``Idempotency-Key`` is honoured
on POST/PUT (api §1.10), the fingerprint's path including the adapter's prefix.

Callback and action routes (kassa calls them): a valid Standard Webhooks signature of the
merchant named in ``x-merchant`` (±300 s), or a valid key (checked the same way as above).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from kassa import idempotency, jsonutil
from kassa.adapters import signatures
from kassa.adapters.client import Caller, Upstream
from kassa.adapters.converge import OrderSession
from kassa.db.engine import Database
from kassa.errors import (
    InvalidRequest,
    KassaError,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from kassa.idempotency import ABSENT, Claim, Outcome

MAX_BODY = 1024 * 1024
# kassa's answers to the caller's own read, passed on as they are
CALLER_ERRORS = frozenset({"unauthorized", "missing-header", "forbidden", "order-not-found"})

SecretSource = Callable[[str], Awaitable[Sequence[str]]]


@dataclass
class AdapterContext:
    """What one mounted adapter works with."""

    adapter_id: str
    prefix: str  # its path prefix
    callback_base: str  # adapter_callback_base_url + prefix: where kassa reaches it
    upstream: Upstream
    secrets: SecretSource  # a merchant's webhook secrets
    db: Database | None  # idempotency records (None: Idempotency-Key not honoured)
    idempotency_retention: float = 24 * 3600
    public_base_url: str | None = None  # base of buyer-facing URLs (None: relative)
    push_max_attempts: int = 5  # the sandbox PSP's pushes


@dataclass
class ClientCall:
    """A client route's request after the checks: its caller, body and first read."""

    request: Request
    caller: Caller
    body: Any  # parsed JSON or ABSENT
    session: OrderSession
    claim: Claim | None


def request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


async def read_body(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise PayloadTooLarge()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise PayloadTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(request: Request, raw: bytes) -> Any:
    if not raw.strip():
        return ABSENT
    content_type = request.headers.get("content-type")
    if content_type is not None:
        media = content_type.split(";", 1)[0].strip().lower()
        if media != "application/json" and not (
            media.startswith("application/") and media.endswith("+json")
        ):
            raise UnsupportedMediaType()
    try:
        return jsonutil.parse_body(raw)
    except jsonutil.JSONError as exc:
        raise InvalidRequest(f"The body is not valid JSON: {exc}") from exc


def caller_of(request: Request) -> Caller:
    headers = request.headers
    return Caller(
        merchant=headers.get("x-merchant", ""),
        channel=headers.get("x-channel", ""),
        request_id=request_id(request),
        authorization=headers.get("authorization"),
    )


async def read_as_caller(ctx: AdapterContext, caller: Caller, order_id: str) -> OrderSession:
    """The order read with the caller's own credentials: kassa authenticates the caller."""
    reply = await ctx.upstream.send(caller, "GET", ctx.upstream.order_url(order_id), as_caller=True)
    if not reply.ok or not isinstance(reply.body, dict):
        raise reply.error(CALLER_ERRORS)
    return OrderSession(ctx.upstream, caller, order_id, reply.body, reply.etag)


async def start(
    ctx: AdapterContext,
    request: Request,
    order_id: str,
    *,
    body: bool = False,
    write: bool = False,
    listed: Collection[str] = (),
) -> ClientCall | Response:
    """Checks of a client route; a ``Response`` is the replay of a known Idempotency-Key."""
    raw = await read_body(request) if (body or write) else b""
    caller = caller_of(request)
    session = await read_as_caller(ctx, caller, order_id)
    session.listed = listed
    parsed = parse_json(request, raw) if body else ABSENT
    claim: Claim | None = None
    key = request.headers.get("idempotency-key") if write else None
    if key is not None and ctx.db is not None:
        idempotency.check_key(key)
        fp = idempotency.fingerprint(
            request.method,
            request.url.path,
            caller.channel,
            request.headers.get("x-adapterid"),
            parsed,
        )
        found = await idempotency.claim(ctx.db, caller.merchant, key, fp)
        if isinstance(found, Outcome):
            headers = {**found.headers, "Idempotent-Replayed": "true"}
            return Response(found.body, status_code=found.status, headers=headers)
        claim = found
    return ClientCall(request, caller, parsed, session, claim)


async def run(
    ctx: AdapterContext,
    call: ClientCall | Response,
    handler: Callable[[ClientCall], Awaitable[Outcome]],
) -> Response:
    """Run a client route's work; record its success for its Idempotency-Key, or release it."""
    if isinstance(call, Response):
        return call
    try:
        outcome = await handler(call)
    except BaseException as exc:
        if ctx.db is not None:
            await idempotency.release(ctx.db, call.claim, exc)
        raise
    if call.claim is not None and ctx.db is not None:
        claim = call.claim
        await ctx.db.write(
            lambda conn: idempotency.complete(conn, claim, outcome, ctx.idempotency_retention)
        )
    return Response(outcome.body, status_code=outcome.status, headers=outcome.headers)


def json_outcome(body: Any, status: int = 200) -> Outcome:
    return Outcome(status, jsonutil.dumps(body), {"Content-Type": "application/json"})


def empty_outcome() -> Outcome:
    return Outcome(200, b"", {})


async def authenticate_callback(
    ctx: AdapterContext, request: Request, raw: bytes, order_id: str
) -> Caller:
    """A call from kassa (signed) or from a key holder (adapters.md §2.3); else 401."""
    caller, _ = await authenticate_caller(ctx, request, raw, order_id)
    return caller


async def authenticate_caller(
    ctx: AdapterContext, request: Request, raw: bytes, order_id: str
) -> tuple[Caller, OrderSession | None]:
    """``authenticate_callback``, with the order when a key holder's was read to check the key
    (the route can start from that read instead of making another)."""
    caller = caller_of(request)
    headers = request.headers
    if caller.merchant and headers.get("webhook-signature"):
        secrets = await ctx.secrets(caller.merchant)
        if signatures.verify(
            secrets,
            headers.get("webhook-id"),
            headers.get("webhook-timestamp"),
            headers.get("webhook-signature"),
            raw,
            time.time(),
        ):
            return caller, None
    if caller.authorization:
        return caller, await read_as_caller(ctx, caller, order_id)
    raise Unauthorized("No valid signature and no valid API key.")


def router_for(ctx: AdapterContext) -> APIRouter:
    """An empty router below the adapter's prefix, left out of kassa's OpenAPI document."""
    return APIRouter(prefix=ctx.prefix, include_in_schema=False)


def error_body(exc: KassaError, rid: str) -> bytes:
    body = exc.body()
    body["requestId"] = rid
    return jsonutil.dumps(body)
