"""Single statements on PostgreSQL straight through asyncpg connections of kassa's own pool.

The two reads almost every request makes — its API key, and an order by primary key — are single
statements with no transaction around them, and so is the compare-and-set write of a change
(``Database.write_one``). Driving them through SQLAlchemy's async engine costs
a pool checkout with its events, a greenlet switch and a result object per call; on a 2-core
machine that was most of a GET's time. These reads go to a small asyncpg pool of their own
instead, with asyncpg's per-connection prepared statements (off behind PgBouncer); ``Pool``
says why it is not asyncpg's own pool.

Statements are written with ``:name`` parameters, like the SQLite hot path; they are rewritten
once to asyncpg's ``$n`` form.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
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


def _broken(exc: BaseException) -> bool:
    """Whether a connection that raised ``exc`` may be unusable: anything but an ordinary
    server error (a server shutting down answers with an error and then no ReadyForQuery)."""
    if not isinstance(exc, asyncpg.PostgresError):
        return True
    return _lost_state(exc)


def _server_gone(exc: BaseException) -> bool:
    """Whether ``exc`` says the connection to the server was lost (not a cancelled call)."""
    if isinstance(
        exc, asyncpg.ConnectionDoesNotExistError | asyncpg.InternalClientError | OSError
    ):  # InternalClientError: the server's farewell arrived while the connection sat idle
        return True
    return _lost_state(exc)


def _lost_state(exc: BaseException) -> bool:
    """A connection exception (08…) or the server shutting down (57P…)."""
    state = str(getattr(exc, "sqlstate", "") or "")
    return state.startswith(("08", "57P"))


class Pool:
    """asyncpg connections for single statements: idle ones reused last-in first-out, waiters
    served first-in first-out.

    asyncpg's own pool costs about 50 µs of CPU per checkout and return on this kind of machine
    (a timeout context per acquire, a shielded task per release, an inactivity timer re-armed each
    time; ``bench/`` measures it), more than a primary-key read itself. Here a free connection is
    taken and given back without a timer, a task or a suspension; a timeout exists only while a
    call waits. A returned connection goes straight to the longest waiter, so a waiting call is
    never overtaken by one that came later.
    """

    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        size: int,
        wait_s: float | None,
    ) -> None:
        """At most ``size`` connections; a call waits at most ``wait_s`` seconds for one."""
        self._connect = connect
        self._size = size
        self._wait_s = wait_s
        self._idle: list[asyncpg.Connection] = []
        self._waiters: collections.deque[asyncio.Future[asyncpg.Connection | None]] = (
            collections.deque()
        )
        self._open = 0  # connections open or being opened, idle or not
        self._generation = 0
        self._born: dict[asyncpg.Connection, int] = {}
        self._closed = False

    async def acquire(self) -> asyncpg.Connection:
        if self._closed:
            raise asyncpg.InterfaceError("the pool is closed")
        while self._idle:
            conn = self._idle.pop()
            if not conn.is_closed():
                return conn
            self._forget(conn)  # closed while idle (the server ended it)
            self._open -= 1
        if self._open < self._size:
            self._open += 1
        else:
            handed = await self._wait()
            if handed is not None:
                return handed
            # None: a connection was dropped and its place handed over; open one in it
        try:
            conn = await self._connect()
        except BaseException:
            self._pass_on(None)
            raise
        self._born[conn] = self._generation
        return conn

    async def _wait(self) -> asyncpg.Connection | None:
        waiter: asyncio.Future[asyncpg.Connection | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self._wait_s):
                return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._pass_on(waiter.result())  # handed over as the wait ended: pass it on
            else:
                waiter.cancel()  # ``_pass_on`` skips it
            raise

    def release(self, conn: asyncpg.Connection) -> None:
        if self._closed or conn.is_closed() or self._born.get(conn) != self._generation:
            if not conn.is_closed():
                conn.terminate()
            self._forget(conn)
            self._pass_on(None)
        else:
            self._pass_on(conn)

    def _forget(self, conn: asyncpg.Connection) -> None:
        self._born.pop(conn, None)

    def _pass_on(self, conn: asyncpg.Connection | None) -> None:
        """Give a connection, or (``None``) the place of one that was dropped, to the longest
        waiter; with no one waiting, keep the connection, or free the place."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        if conn is None:
            self._open -= 1
        else:
            self._idle.append(conn)

    def expire(self) -> None:
        """Replace every connection open now: idle ones at once, the others when returned."""
        self._generation += 1
        while self._idle:
            conn = self._idle.pop()
            conn.terminate()
            self._forget(conn)
            self._open -= 1

    async def close(self) -> None:
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(asyncpg.InterfaceError("the pool is closed"))
        idle, self._idle = self._idle, []
        for conn in idle:
            self._forget(conn)
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)
        self._open -= len(idle)


class PointReads:
    """A pool of asyncpg connections (opened as needed, at most ``size``) for single
    statements: reads, and writes made of one statement (``Database.write_one``), each in
    autocommit."""

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
        self._statement_cache = statement_cache
        self._server_settings = dict(server_settings or {})
        self._connect_timeout = connect_timeout
        self._pool = Pool(self._open_connection, size, acquire_timeout)

    async def _open_connection(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            self._dsn,
            statement_cache_size=100 if self._statement_cache else 0,
            server_settings=self._server_settings or None,
            timeout=self._connect_timeout,
        )

    async def fetch_one(self, sql: str, params: Mapping[str, Any]) -> Sequence[Any] | None:
        row = await self._run("fetchrow", sql, params)
        return None if row is None else tuple(row)

    async def fetch_all(self, sql: str, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        rows = await self._run("fetch", sql, params)
        return [tuple(row) for row in rows]

    async def execute(self, sql: str, params: Mapping[str, Any]) -> str:
        """Run one statement on its own (autocommit); its status, e.g. ``UPDATE 1``."""
        status: str = await self._run("execute", sql, params)
        return status

    async def _run(self, method: str, sql: str, params: Mapping[str, Any]) -> Any:
        statement, names = positional(sql)
        args = [params[name] for name in names]
        pool = self._pool
        conn = await pool.acquire()
        try:
            return await getattr(conn, method)(statement, *args)
        except BaseException as exc:
            if _broken(exc):  # back in the pool it would fail the next call as well
                with contextlib.suppress(asyncpg.InterfaceError):  # already let go of
                    conn.terminate()
                if _server_gone(exc):  # its other connections predate the loss as well
                    pool.expire()
            raise
        finally:
            pool.release(conn)

    async def close(self) -> None:
        await self._pool.close()
