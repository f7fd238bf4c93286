"""One database handle for SQLite and PostgreSQL.

``Database.read()`` gives an autocommit connection for single-statement reads. ``Database.write()``
gives a connection inside a transaction that may lock an order row: on SQLite every write
transaction starts with ``BEGIN IMMEDIATE`` (so two writers never both read and then collide), on
PostgreSQL the repository takes ``SELECT ... FOR UPDATE``. SQLite writes within one process are
queued on a single connection, which is faster than letting threads spin on the file lock;
across processes SQLite's own lock and ``busy_timeout`` decide.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

BUSY_TIMEOUT_MS = 10_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take BEGIN into our own hands (the driver's lazy BEGIN DEFERRED lets writers collide).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _begin_immediate(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        if self.is_sqlite:
            self._ensure_sqlite_dir(url)
            self.engine: AsyncEngine = create_async_engine(url, pool_size=pool_size, max_overflow=0)
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            self.reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            self.writer = create_async_engine(url, pool_size=1, max_overflow=0)
            event.listen(self.writer.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.writer.sync_engine, "begin", _begin_immediate)
        else:
            self.engine = create_async_engine(
                url, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=False
            )
            self.reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            self.writer = self.engine

    @staticmethod
    def _ensure_sqlite_dir(url: str) -> None:
        import os

        database = make_url(url).database
        if database and database != ":memory:":
            directory = os.path.dirname(os.path.abspath(database))
            os.makedirs(directory, exist_ok=True)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.reader.connect() as conn:
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        async with self.writer.begin() as conn:
            yield conn

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.writer is not self.engine:
            await self.writer.dispose()
