"""Built-in adapters inside kassa, or alone (adapters.md §1.2-§1.3, §2.2).

In-process, every adapter named in ``builtin_adapters`` is mounted below its prefix and talks to
the application object itself by loopback dispatch (an ASGI transport), with its built-in
service key ``builtin:<adapterId>``: base64url(HMAC-SHA256(``adapter_key_secret``, that name)),
registered (only its hash) at start or first use. Callback URLs on ``adapter_callback_base_url``
below a mounted prefix are dispatched in-process (``kassa.delivery.outbound.Loopback``).

``kassa.adapter_serve`` runs one adapter alone.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence

import httpx
from fastapi import APIRouter, FastAPI
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.types import ASGIApp

from kassa.adapters.calls import AdapterContext
from kassa.adapters.client import Upstream
from kassa.adapters.registry import BUILTIN, prefix_of, problems
from kassa.auth import keys
from kassa.config import Settings
from kassa.db.engine import Database
from kassa.db.tables import kv
from kassa.delivery.outbound import Loopback
from kassa.delivery.signing import secrets_for
from kassa.loopback import LoopbackClient
from kassa.state import AppState

log = logging.getLogger("kassa")

# the origin of loopback requests to kassa's own routes (never resolved, never on a network)
LOOPBACK_ORIGIN = "http://loopback.kassa"
_SECRET_KEY = "adapter_key_secret"


def key_name(adapter_id: str) -> str:
    return f"builtin:{adapter_id}"


def builtin_key(secret: str, adapter_id: str) -> str:
    digest = hmac.new(secret.encode(), key_name(adapter_id).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def key_secret(settings: Settings, db: Database) -> str:
    """``adapter_key_secret``, else the one generated at first start and kept in the database."""
    if settings.adapter_key_secret:
        return settings.adapter_key_secret
    statement = select(kv.c.value).where(kv.c.key == _SECRET_KEY)
    row = await db.read(lambda conn: conn.execute(statement).first())
    if row is None:
        fresh = secrets.token_urlsafe(32)
        with contextlib.suppress(IntegrityError):  # another process created it first
            await db.write(
                lambda conn: conn.execute(kv.insert().values(key=_SECRET_KEY, value=fresh))
            )
        row = await db.read(lambda conn: conn.execute(statement).first())
    assert row is not None
    return str(row.value)


class BuiltinKey:
    """The key of one built-in adapter: derived, and registered once per process."""

    def __init__(self, settings: Settings, db: Database, adapter_id: str) -> None:
        self.settings, self.db, self.adapter_id = settings, db, adapter_id
        self.value: str | None = None
        self.lock = asyncio.Lock()

    async def __call__(self) -> str:
        if self.value is None:
            async with self.lock:
                if self.value is None:
                    key = builtin_key(await key_secret(self.settings, self.db), self.adapter_id)
                    await keys.register_key(
                        self.db, name=key_name(self.adapter_id), key=key, adapter_id=self.adapter_id
                    )
                    self.value = key
        return self.value


def loopback_client(settings: Settings, app: ASGIApp | None) -> LoopbackClient:
    """Requests to ``LOOPBACK_ORIGIN`` reach ``app`` in-process; others go over the network."""
    network = httpx.AsyncClient(trust_env=False, follow_redirects=False)
    return LoopbackClient(app, LOOPBACK_ORIGIN, network)


def mount_builtin(
    app: FastAPI, state: AppState, routers: list[APIRouter] | None = None
) -> list[AdapterContext]:
    """Mount every adapter of ``builtin_adapters`` on ``app`` (kassa itself); their routers
    are also appended to ``routers`` (for ``kassa.dispatch``)."""
    settings = state.settings
    found = problems(settings)
    if found:
        raise ValueError("; ".join(found))
    contexts: list[AdapterContext] = []
    if not settings.builtin_adapters:
        return contexts

    async def merchant_secrets(merchant: str) -> Sequence[str]:
        return await secrets_for(state, merchant)

    for name in settings.builtin_adapters:
        adapter = BUILTIN[name]
        assert adapter.mount is not None
        prefix = prefix_of(settings, name)
        upstream = Upstream(
            adapter_id=adapter.adapter_id,
            key=BuiltinKey(settings, state.db, adapter.adapter_id),
            client=loopback_client(settings, app),
            order_base=settings.adapter_order_api_url or LOOPBACK_ORIGIN + settings.path_prefix,
            configuration_base=settings.adapter_configuration_api_url
            or LOOPBACK_ORIGIN + settings.configuration_path_prefix,
            timeout=settings.adapter_request_timeout,
        )
        ctx = AdapterContext(
            adapter_id=adapter.adapter_id,
            prefix=prefix,
            callback_base=settings.adapter_callback_base_url + prefix,
            upstream=upstream,
            secrets=merchant_secrets,
            db=state.db,
            idempotency_retention=settings.idempotency_retention,
            public_base_url=settings.public_base_url,
            push_max_attempts=settings.sandbox_push_max_attempts,
        )
        router = adapter.mount(ctx)
        app.include_router(router)
        if routers is not None:
            routers.append(router)
        contexts.append(ctx)
    state.loopback = Loopback(
        settings.adapter_callback_base_url,
        tuple(ctx.prefix for ctx in contexts),
        app,
    )
    return contexts


async def register_keys(contexts: Sequence[AdapterContext]) -> None:
    """Register the built-in keys at start. They are also registered at first use, so a
    database that is not reachable (or not migrated) yet does not stop the server."""
    for ctx in contexts:
        key = ctx.upstream.key
        if isinstance(key, BuiltinKey):
            try:
                await key()
            except Exception:
                log.warning(
                    "could not register the key of adapter %s at start; retried at first use",
                    ctx.adapter_id,
                    exc_info=True,
                )
