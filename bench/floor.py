"""The floor of ``make bench``: the least work a server can do for the same requests.

    python bench/floor.py --database URL_OR_FILE --port PORT [--workers N]

A bare Starlette app on uvicorn (same worker count, access log off, no ``Server`` header, the
same uvicorn defaults as ``kassa serve``: uvloop and httptools when installed) answering the URL
shapes of two kassa scenarios against the same database, so that the same wrk scripts
(bench/get_order.lua, bench/post_transaction.lua) drive both. Headers are ignored: no API key
check, no tenant scoping, no validation, no history entry.

``GET /api/v0/checkout/orders/{id}``
    One primary-key read of the stored document, returned as is (200, JSON).

``POST /api/v0/checkout/orders/{id}/payments/{pid}/transactions``
    One durable transaction: read the order row locked, insert a ledger row
    (``payment_transactions``, the request body as its document), write the order back with the
    next version and a new ``lastModified``, commit; answer 201 ``{"id": ...}``. The ledger
    ``seq`` is the order's new version: versions only grow and every ledger row of an order was
    written with a version bump, so it never collides with an existing ``seq``.

PostgreSQL (``postgresql://`` or ``postgresql+asyncpg://`` URL): an asyncpg pool of
``KASSA_DATABASE_POOL_SIZE`` (20) connections per process, like kassa's, opened at start-up and
not reset on release; ``SELECT … FOR UPDATE``; the server's own durable commit
(``synchronous_commit`` on).

SQLite (a file path or ``sqlite…:///`` URL): one blocking stdlib ``sqlite3`` connection per
process used right on the event loop (WAL, ``synchronous=FULL``, ``busy_timeout``).
``BEGIN IMMEDIATE`` takes the write lock; several processes first queue on an exclusive
``flock`` of a sidecar file, as kassa's writer does, because SQLite's ``busy_timeout`` retries
with sleeps of up to 100 ms and the floor would otherwise measure those sleeps.

Only the standard library, Starlette, uvicorn and asyncpg (no kassa import): the floor must not
share any of the code it is the floor of.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ENV_DATABASE = "BENCH_FLOOR_DATABASE"
ORDER = "/api/v0/checkout/orders/{order_id}"
TRANSACTION = ORDER + "/payments/{payment_id}/transactions"
LAST_MODIFIED = '"lastModified":"'
JSON = "application/json"


def _now() -> str:
    """kassa's wire format for times: UTC, milliseconds, ``Z`` (24 characters)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "Z"


def _touch(doc: str) -> str:
    """The document with a new ``lastModified`` (same length), or unchanged if it has none."""
    at = doc.find(LAST_MODIFIED)
    if at < 0:
        return doc
    start = at + len(LAST_MODIFIED)
    return doc[:start] + _now() + doc[start + 24 :]


def _created(ledger_id: str) -> Response:
    return Response(b'{"id":"' + ledger_id.encode() + b'"}', status_code=201, media_type=JSON)


def _not_found() -> Response:
    return Response(b'{"code":"not-found"}', status_code=404, media_type=JSON)


def _is_postgres(database: str) -> bool:
    return database.startswith(("postgresql", "postgres://"))


def _asyncpg_dsn(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def _sqlite_path(database: str) -> str:
    if database.startswith("sqlite"):
        return database.split(":///", 1)[1]
    return database


async def _keep_session(_conn: Any) -> None:
    """Released connections keep their session: asyncpg's default reset (``RESET ALL``,
    ``UNLISTEN *``, ...) is one more round trip per request, and the floor changes no session
    state. A transaction left open is still rolled back by the pool itself."""


def _postgres_app(url: str) -> Starlette:
    import asyncpg

    size = int(os.environ.get("KASSA_DATABASE_POOL_SIZE", "20"))
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(
            _asyncpg_dsn(url), min_size=size, max_size=size, ssl=False, reset=_keep_session
        )
        try:
            yield
        finally:
            await state["pool"].close()

    async def get_order(request: Request) -> Response:
        doc = await state["pool"].fetchval(
            "SELECT doc FROM orders WHERE id = $1", request.path_params["order_id"]
        )
        if doc is None:
            return _not_found()
        return Response(doc, media_type=JSON)

    async def post_transaction(request: Request) -> Response:
        body = (await request.body()).decode()
        order_id = request.path_params["order_id"]
        ledger_id = uuid.uuid4().hex
        async with state["pool"].acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT version, doc FROM orders WHERE id = $1 FOR UPDATE", order_id
            )
            if row is None:
                return _not_found()
            version = row["version"] + 1
            await conn.execute(
                "INSERT INTO payment_transactions (id, order_id, payment_id, seq, doc) "
                "VALUES ($1, $2, $3, $4, $5)",
                ledger_id,
                order_id,
                request.path_params["payment_id"],
                version,
                body,
            )
            await conn.execute(
                "UPDATE orders SET doc = $1, version = $2 WHERE id = $3",
                _touch(row["doc"]),
                version,
                order_id,
            )
        return _created(ledger_id)

    return _app(get_order, post_transaction, lifespan)


def _sqlite_app(path: str) -> Starlette:
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        state["conn"] = conn
        state["lock"] = os.open(path + "-floor-lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            yield
        finally:
            conn.close()
            os.close(state["lock"])

    async def get_order(request: Request) -> Response:
        row = (
            state["conn"]
            .execute("SELECT doc FROM orders WHERE id = ?", (request.path_params["order_id"],))
            .fetchone()
        )
        if row is None:
            return _not_found()
        return Response(row[0], media_type=JSON)

    async def post_transaction(request: Request) -> Response:
        body = (await request.body()).decode()
        order_id = request.path_params["order_id"]
        ledger_id = uuid.uuid4().hex
        conn: sqlite3.Connection = state["conn"]
        fcntl.flock(state["lock"], fcntl.LOCK_EX)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT version, doc FROM orders WHERE id = ?", (order_id,)
                ).fetchone()
                if row is None:
                    conn.execute("ROLLBACK")
                    return _not_found()
                version = row[0] + 1
                conn.execute(
                    "INSERT INTO payment_transactions (id, order_id, payment_id, seq, doc) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (ledger_id, order_id, request.path_params["payment_id"], version, body),
                )
                conn.execute(
                    "UPDATE orders SET doc = ?, version = ? WHERE id = ?",
                    (_touch(row[1]), version, order_id),
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            fcntl.flock(state["lock"], fcntl.LOCK_UN)
        return _created(ledger_id)

    return _app(get_order, post_transaction, lifespan)


def _app(get_order: Any, post_transaction: Any, lifespan: Any) -> Starlette:
    """The floor's two routes, at the URL shapes of kassa's scenarios."""
    return Starlette(
        routes=[
            Route(ORDER, get_order, methods=["GET"]),
            Route(TRANSACTION, post_transaction, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


def create_app() -> Starlette:
    """uvicorn's factory (each worker process builds its app from the environment)."""
    database = os.environ[ENV_DATABASE]
    if _is_postgres(database):
        return _postgres_app(database)
    return _sqlite_app(_sqlite_path(database))


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database", required=True, help="PostgreSQL URL or SQLite file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    os.environ[ENV_DATABASE] = args.database
    uvicorn.run(
        "floor:create_app",
        factory=True,
        app_dir=str(Path(__file__).resolve().parent),
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="on",
        server_header=False,
    )


if __name__ == "__main__":
    sys.exit(main())
