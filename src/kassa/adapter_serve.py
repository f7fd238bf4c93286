"""One built-in adapter alone: ``kassa adapter serve NAME`` (adapters.md §1.3).

It runs in an application of its own and talks to kassa over the network with
``adapter_api_key``; kassa reaches it at ``adapter_callback_base_url``. Its database
(``database_url``) holds only its idempotency records.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from kassa import app as kassa_app
from kassa.adapter_host import loopback_client
from kassa.adapters.calls import AdapterContext
from kassa.adapters.client import Upstream
from kassa.adapters.registry import BUILTIN, prefix_of, problems
from kassa.config import Settings
from kassa.db.engine import Database
from kassa.errors import KassaError
from kassa.middleware import KassaMiddleware


def standalone_problems(settings: Settings, name: str) -> list[str]:
    """What ``kassa adapter serve NAME`` lacks (adapters.md §1.3)."""
    found = problems(settings, (name,))
    if found:
        return found
    required = {
        "KASSA_ADAPTER_ORDER_API_URL": settings.adapter_order_api_url,
        "KASSA_ADAPTER_CONFIGURATION_API_URL": settings.adapter_configuration_api_url,
        "KASSA_ADAPTER_API_KEY": settings.adapter_api_key,
        "KASSA_WEBHOOK_SECRET or KASSA_WEBHOOK_SECRETS": settings.webhook_secret
        or settings.webhook_secrets,
    }
    found = [f"{setting} is required" for setting, value in required.items() if not value]
    if settings.adapter_callback_base_url.rstrip("/") == "http://kassa.internal":
        found.append("KASSA_ADAPTER_CALLBACK_BASE_URL must be where kassa reaches this adapter")
    return found


def standalone_app(settings: Settings, name: str, db: Database) -> FastAPI:
    """The application of ``kassa adapter serve NAME``."""
    adapter = BUILTIN[name]
    assert adapter.mount is not None and settings.adapter_api_key
    api_key = settings.adapter_api_key

    async def own_key() -> str:
        return api_key

    async def merchant_secrets(merchant: str) -> Sequence[str]:
        if merchant in settings.webhook_secrets:
            return settings.webhook_secrets[merchant]
        return [settings.webhook_secret] if settings.webhook_secret else []

    prefix = prefix_of(settings, name)
    ctx = AdapterContext(
        adapter_id=adapter.adapter_id,
        prefix=prefix,
        callback_base=settings.adapter_callback_base_url + prefix,
        upstream=Upstream(
            adapter_id=adapter.adapter_id,
            key=own_key,
            client=loopback_client(settings, None),
            order_base=settings.adapter_order_api_url,
            configuration_base=settings.adapter_configuration_api_url,
            timeout=settings.adapter_request_timeout,
        ),
        secrets=merchant_secrets,
        db=db,
        idempotency_retention=settings.idempotency_retention,
        public_base_url=settings.public_base_url,
        push_max_attempts=settings.sandbox_push_max_attempts,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.is_sqlite:
            from kassa.db import migrate

            await migrate.upgrade(db)
        try:
            yield
        finally:
            await ctx.upstream.aclose()
            await db.dispose()

    app = FastAPI(
        title=f"kassa adapter {name}",
        lifespan=lifespan,
        docs_url=None,
        openapi_url=None,
        redoc_url=None,
        redirect_slashes=False,
    )
    app.include_router(adapter.mount(ctx))

    async def live() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    app.add_api_route("/health/live", live, methods=["GET"], include_in_schema=False)
    handlers: dict[Any, Any] = {
        KassaError: kassa_app._kassa_error,
        HTTPException: kassa_app._http_error,
        RequestValidationError: kassa_app._validation_error,
    }
    for exc, handler in handlers.items():
        app.add_exception_handler(exc, handler)
    app.add_middleware(KassaMiddleware, access_log=settings.access_log)
    return app
