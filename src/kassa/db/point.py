"""Point reads on PostgreSQL straight through an asyncpg pool.

The two reads almost every request makes — its API key, and an order by primary key — are single
statements with no transaction around them. Driving them through SQLAlchemy's async engine costs
a pool checkout with its events, a greenlet switch and a result object per call; on a 2-core
machine that was most of a GET's time. These reads go to a small asyncpg pool of their own
instead, with asyncpg's per-connection prepared statements (off behind PgBouncer).

Statements are written with ``:name`` parameters, like the SQLite hot path; they are rewritten
once to asyncpg's ``$n`` form.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
# query parameters of a SQLAlchemy URL that are the dialect's, not the server's
_DIALECT_ONLY = {"prepared_statement_cache_size", "prepared_statement_name_func"}


@functools.lru_cache(maxsize=256)
def positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """``... WHERE id = :id AND m = :m`` → (``... WHERE id = $1 AND m = $2``, (id, m))."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PARAM.sub(number, sql), tuple(names)


def dsn_of(url: str) -> str:
    """The libpq-style DSN asyncpg takes, from kassa's ``postgresql+asyncpg://`` URL."""
    parsed = make_url(url)
    query = {k: v for k, v in parsed.query.items() if k not in _DIALECT_ONLY}
    return parsed.set(drivername="postgresql", query=query).render_as_string(hide_password=False)


async def _keep(_conn: asyncpg.Connection) -> None:
    """Connections go back to the pool as they are: a single SELECT leaves no session state
    behind, and asyncpg's default reset would cost a round trip (``RESET ALL`` …) per read."""


def _broken(exc: BaseException) -> bool:
    """Whether a connection that raised ``exc`` may be unusable: anything but an ordinary
    server error (a server shutting down answers with an error and then no ReadyForQuery)."""
    if not isinstance(exc, asyncpg.PostgresError):
        return True
    state = str(getattr(exc, "sqlstate", "") or "")
    return state.startswith(("08", "57P"))


def _server_gone(exc: BaseException) -> bool:
    """Whether ``exc`` says the connection to the server was lost (not a cancelled call)."""
    if isinstance(
        exc, asyncpg.ConnectionDoesNotExistError | asyncpg.InternalClientError | OSError
    ):  # InternalClientError: the server's farewell arrived while the connection sat idle
        return True
    state = str(getattr(exc, "sqlstate", "") or "")
    return state.startswith(("08", "57P"))


class PointReads:
    """A lazily opened asyncpg pool for single statements: reads, and writes made of one
    statement (``Database.write_one``), each in autocommit."""

    def __init__(
        self,
        url: str,
        *,
        size: int,
        statement_cache: bool = True,
        server_settings: Mapping[str, str] | None = None,
        connect_timeout: float = 5.0,
        acquire_timeout: float | None = None,
    ) -> None:
        self._dsn = dsn_of(url)
        self._size = size
        self._statement_cache = statement_cache
        self._server_settings = dict(server_settings or {})
        self._connect_timeout = connect_timeout
        self._acquire_timeout = acquire_timeout
        self._pool: asyncpg.Pool | None = None
        self._opening: asyncio.Lock | None = None

    async def _open(self) -> asyncpg.Pool:
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=0,
                    max_size=self._size,
                    statement_cache_size=100 if self._statement_cache else 0,
                    server_settings=self._server_settings or None,
                    timeout=self._connect_timeout,
                    reset=_keep,
                )
            return self._pool

    async def fetch_one(self, sql: str, params: Mapping[str, Any]) -> Sequence[Any] | None:
        row = await self._fetch("fetchrow", sql, params)
        return None if row is None else tuple(row)

    async def fetch_all(self, sql: str, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        rows = await self._fetch("fetch", sql, params)
        return [tuple(row) for row in rows]

    async def execute(self, sql: str, params: Mapping[str, Any]) -> str:
        """Run one statement on its own (autocommit); its status, e.g. ``UPDATE 1``."""
        status: str = await self._fetch("execute", sql, params)
        return status

    async def _fetch(self, method: str, sql: str, params: Mapping[str, Any]) -> Any:
        pool = self._pool or await self._open()
        statement, names = positional(sql)
        args = [params[name] for name in names]
        async with pool.acquire(timeout=self._acquire_timeout) as conn:
            try:
                return await getattr(conn, method)(statement, *args)
            except BaseException as exc:
                if _broken(exc):  # back in the pool it would fail the next read as well
                    with contextlib.suppress(asyncpg.InterfaceError):  # already let go of
                        conn.terminate()
                    if _server_gone(exc):  # its other connections predate the loss as well
                        await pool.expire_connections()
                raise

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
