"""The ASGI application: routers, the error handler, health, metrics and the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from types import FrameType
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, iter_route_contexts
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from sqlalchemy import text
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from kassa import adapter_host, demo_host, idempotency
from kassa import metrics as prometheus
from kassa.callbacks.routes import router as callbacks_router
from kassa.config import Settings
from kassa.configuration.routes import router as configuration_router
from kassa.configuration.routes import schemas_router as configuration_schemas_router
from kassa.console.routes import router as console_router
from kassa.console.web import PREFIX as CONSOLE_PREFIX
from kassa.console.web import static_files as console_static
from kassa.db import migrate
from kassa.db.engine import Database
from kassa.delivery.loop import DeliveryLoop
from kassa.dispatch import Dispatch, Mount
from kassa.error_responses import error_response, kassa_error_response
from kassa.errors import KassaError, MethodNotAllowed, RouteNotFound, field_error
from kassa.events.routes import router as events_router
from kassa.middleware import KassaMiddleware, request_id_of
from kassa.openapi import build_openapi
from kassa.operations import route
from kassa.orders.routes import router as orders_router
from kassa.payments.routes import router as payments_router
from kassa.shippings.routes import router as shippings_router
from kassa.state import AppState
from kassa.v1 import ENDPOINT_NAMES
from kassa.v1 import router as v1_router

log = logging.getLogger("kassa")

# the Order API's routers, in the order the application (and ``Dispatch``) matches them
ORDER_ROUTERS = (
    orders_router,
    callbacks_router,
    payments_router,
    shippings_router,
    v1_router,  # the same order endpoints again under /api/v1/checkout/orders (kassa.v1)
)

PURGE_INTERVAL_S = 600


async def _kassa_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, KassaError)
    return kassa_error_response(exc, request_id_of(request.scope))


def _allowed(request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    path = request.url.path
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        pattern = re.sub(r"\\{[^/]+\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            methods.update(m.upper() for m in operations)
    # routes left out of the document (the adapters')
    for context in iter_route_contexts(request.app.routes):
        original = context.original_route
        if isinstance(original, APIRoute) and not original.include_in_schema and context.methods:
            pattern = re.sub(r"\\{[^/]+\\}", "[^/]+", re.escape(str(context.path_format)))
            if re.fullmatch(pattern, path):
                methods.update(context.methods)
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    rid = request_id_of(request.scope)
    if exc.status_code == 405:
        return error_response(MethodNotAllowed(headers={"Allow": _allowed(request)}), rid)
    if exc.status_code == 404:
        return error_response(RouteNotFound(), rid)
    err = KassaError(str(exc.detail))
    err.status, err.code = exc.status_code, "invalid-request" if exc.status_code < 500 else err.code
    return error_response(err, rid)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        field_error("/" + "/".join(str(p) for p in e["loc"][1:]), str(e["msg"]))
        for e in exc.errors()
    ]
    from kassa.errors import InvalidRequest

    return error_response(
        InvalidRequest("Invalid request.", errors=errors), request_id_of(request.scope)
    )


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def _ready_checks(state: AppState) -> dict[str, str]:
    checks = {"database": "failed", "migrations": "failed"}
    try:
        async with asyncio.timeout(2):
            await state.db.read(lambda conn: conn.execute(text("SELECT 1")).scalar())
            checks["database"] = "ok"
            if state.migrated or await migrate.is_current(state.db):
                state.migrated = True
                checks["migrations"] = "ok"
    except Exception:  # readiness reports failure, it never raises
        log.warning("readiness check failed", exc_info=True)
    return checks


def _ops_routes(app: FastAPI, prefix: str) -> None:
    async def live() -> Response:
        return _json({"status": "ok"})

    async def ready(request: Request) -> Response:
        state: AppState = request.app.state.kassa
        checks = await _ready_checks(state)
        if state.shutting_down or any(v != "ok" for v in checks.values()):
            return _json(
                {
                    "status": "unavailable",
                    "checks": checks,
                    "code": "service-unavailable",
                    "message": "shutting down"
                    if state.shutting_down
                    else "database or migrations not ready",
                },
                503,
            )
        return _json({"status": "ok", "checks": checks})

    async def metrics() -> Response:
        return Response(prometheus.exposition(), media_type=CONTENT_TYPE_PLAIN_0_0_4)

    bases = [""] if not prefix else ["", prefix]
    for base in bases:
        include = base == (prefix or "")
        for path, endpoint, operation in (
            ("/health/live", live, "HealthLive"),
            ("/health/ready", ready, "HealthReady"),
            ("/metrics", metrics, "Metrics"),
        ):
            kwargs = route(operation, include_in_schema=include)
            if not include:  # the unprefixed copy: served, not documented, no duplicate id
                kwargs["operation_id"] = None
            app.add_api_route(base + path, endpoint, methods=["GET"], **kwargs)


async def _purge_loop(state: AppState) -> None:
    while True:
        await asyncio.sleep(PURGE_INTERVAL_S)
        try:
            await idempotency.purge_expired(state.db)
        except Exception:
            log.warning("idempotency purge failed", exc_info=True)


@contextlib.contextmanager
def _draining_on_signals(state: AppState) -> Iterator[None]:
    """Mark the app as shutting down the moment its server is told to stop (SIGTERM, SIGINT),
    so that ``/health/ready`` answers 503 while the requests in flight finish, not only after.

    The server's own handlers (uvicorn's) stay in charge: they are called after the mark and
    put back when the lifespan ends.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    chained: dict[signal.Signals, tuple[Any, Any]] = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        handler = signal.getsignal(signum)
        if not callable(handler):
            continue

        def mark(sig: int, frame: FrameType | None, handler: Any = handler) -> None:
            state.shutting_down = True
            handler(sig, frame)

        chained[signum] = (handler, mark)
        signal.signal(signum, mark)
    try:
        yield
    finally:
        for signum, (handler, mark) in chained.items():
            if signal.getsignal(signum) is mark:
                signal.signal(signum, handler)


def api_mounts(settings: Settings) -> list[Mount]:
    """Every API router and the prefix it is served below (adapters §1.1), in matching order."""
    return [
        Mount(settings.path_prefix, ORDER_ROUTERS),
        Mount(settings.events_path_prefix, (events_router,)),
        Mount(
            settings.configuration_path_prefix,
            (configuration_router, configuration_schemas_router),
        ),
    ]


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    """Build the application. ``db`` lets tests share one database handle across apps."""
    settings = settings or Settings.from_env()
    prefix = settings.path_prefix

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state: AppState = app.state.kassa
        if state.settings.is_sqlite:
            await migrate.upgrade(state.db)
            state.migrated = True
        await adapter_host.register_keys(adapters)
        for ctx in adapters:
            if ctx.adapter_id.startswith("kassa_sandbox_"):
                log.warning("sandbox adapter %s is mounted: it takes no real money", ctx.adapter_id)
        purge = asyncio.create_task(_purge_loop(state))
        delivery: DeliveryLoop | None = None
        delivery_task: asyncio.Task[None] | None = None
        if state.settings.delivery_in_api:
            delivery = DeliveryLoop(state)
            delivery_task = asyncio.create_task(delivery.run())
        # Everything loaded so far lives as long as the process: keep it out of the cyclic
        # collector's full passes, which otherwise stall requests for tens of milliseconds.
        gc.collect()
        gc.freeze()
        try:
            with _draining_on_signals(state):
                yield
        finally:
            state.shutting_down = True
            purge.cancel()
            if delivery is not None and delivery_task is not None:
                # finish the attempts in flight (bounded by delivery_timeout), release leases
                delivery.stop()
                await delivery_task
            if state.outbound is not None:
                await state.outbound.aclose()
            for ctx in adapters:
                await ctx.upstream.aclose()
            if demo is not None:
                await demo.client.aclose()
            if db is None:
                await state.db.dispose()

    app = FastAPI(
        title="kassa",
        lifespan=lifespan,
        docs_url=f"{prefix}/docs",
        openapi_url=f"{prefix}/openapi.json",
        redoc_url=None,
        redirect_slashes=False,
        # kassa exports its own Prometheus metrics; the framework's OpenTelemetry bridge would
        # look up the global providers on every request
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    database = db or Database(
        settings.database_url,
        pool_size=settings.database_pool_size,
        transaction_pool_size=settings.database_transaction_pool_size,
        pgbouncer=settings.database_pgbouncer,
        pool_timeout=settings.database_pool_timeout,
        connect_timeout=settings.database_connect_timeout,
        statement_timeout=settings.database_statement_timeout,
    )
    app.state.kassa = AppState(settings=settings, db=database)
    mounts = api_mounts(settings)
    for mount in mounts:
        for router in mount.routers:
            app.include_router(router, prefix=mount.prefix)
    _ops_routes(app, prefix)
    # the operator console: HTML pages (not part of the API document) and their assets
    app.include_router(console_router)
    app.mount(CONSOLE_PREFIX + "/static", console_static(), name="console-static")
    adapter_routers: list[APIRouter] = []
    adapters = adapter_host.mount_builtin(app, app.state.kassa, adapter_routers)
    demo = demo_host.mount_demo(app, app.state.kassa)  # /demo, with the sandbox adapters
    app.add_exception_handler(KassaError, _kassa_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    # the adapters' routes carry their prefixes: dispatched as fast as the API's own
    dispatched = [*mounts, Mount("", tuple(adapter_routers))]
    app.add_middleware(Dispatch, mounts=dispatched, renames=ENDPOINT_NAMES)
    app.add_middleware(KassaMiddleware, access_log=settings.access_log)  # outermost
    return app


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (``kassa serve`` with several workers)."""
    from kassa import logs

    settings = Settings.from_env()
    logs.setup(settings.log_level)
    return create_app(settings)
