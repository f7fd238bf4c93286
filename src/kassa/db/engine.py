"""One database handle for SQLite and PostgreSQL.

All database work is written as plain functions of a synchronous SQLAlchemy ``Connection``;
``Database`` decides where they run:

- ``read(fn)``: short reads (a primary-key lookup, an API key). PostgreSQL: an asyncpg
  connection driven through ``run_sync``. SQLite: inline on the event loop's own connection —
  a primary-key lookup in WAL mode takes microseconds, less than handing it to a thread.
- ``scan(fn)``: reads that may take long (lists). SQLite: a small thread pool.
- ``write(fn)``: one transaction that may lock an order. PostgreSQL: ``BEGIN`` … ``COMMIT`` on
  one connection (``fn`` takes row locks with ``SELECT … FOR UPDATE``). SQLite: a single writer
  thread runs queued writes in **group commits** — ``BEGIN IMMEDIATE``, each write in its own
  savepoint (a failing write rolls back alone), one ``COMMIT`` (one fsync) for the batch — and
  answers every write of the batch only after that commit. Writes are therefore serialised per
  process; across processes SQLite's file lock and ``busy_timeout`` serialise them.

On PostgreSQL a request that gets no pooled connection in time, cannot connect, loses its
connection or runs into ``statement_timeout`` raises ``DatabaseUnavailable`` (503
``service-unavailable`` with ``Retry-After``) instead of a driver error. A lost connection
invalidates the whole pool (SQLAlchemy's disconnect handling), so connections that predate a
server restart are replaced on their next checkout; a read that met one runs once more.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool, StaticPool
from sqlalchemy.util import await_, greenlet_spawn

from kassa.db.point import PointReads, positional
from kassa.errors import ServiceUnavailable

T = TypeVar("T")

BUSY_TIMEOUT_MS = 10_000
MAX_BATCH = 64
HANDOVER_PAUSE_S = 0.0002
RETRY_AFTER_S = 1
# SQLSTATE classes that mean "not now" rather than "wrong": connection exception (08),
# insufficient resources (53: too many connections, out of memory or disk) and operator
# intervention (57: shutdown, starting up, statement timeout)
_UNAVAILABLE_SQLSTATES = ("08", "53", "57")
_STATEMENT_TIMEOUT = "57014"


class DatabaseUnavailable(ServiceUnavailable):
    """The database could not serve a call now; answered as 503 with ``Retry-After``.

    ``reached``: the call may have reached the server before its connection was lost, so the
    outcome of a write is unknown (a retry with the same Idempotency-Key settles it).
    """

    def __init__(self, message: str, *, reached: bool) -> None:
        super().__init__(message, headers={"Retry-After": str(RETRY_AFTER_S)})
        self.reached = reached


def _lost(exc: BaseException) -> bool:
    """The call's connection died under it (SQLAlchemy's engine or the asyncpg point pool)."""
    if isinstance(exc, sa_exc.DBAPIError):
        return bool(exc.connection_invalidated)
    if isinstance(exc, asyncpg.ConnectionDoesNotExistError | asyncpg.InternalClientError):
        return True
    return isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc)


def unavailable(exc: BaseException) -> DatabaseUnavailable | None:
    """The 503 for a failure of the PostgreSQL pool, connection or server, else ``None``."""
    if isinstance(exc, sa_exc.TimeoutError):  # the engine's pool had no free connection in time
        return DatabaseUnavailable("All database connections are busy.", reached=False)
    if isinstance(exc, TimeoutError):  # a connect, or the point pool's wait for a connection
        return DatabaseUnavailable("The database did not answer in time.", reached=False)
    if isinstance(exc, OSError):  # refused, unreachable
        return DatabaseUnavailable("The database cannot be reached.", reached=False)
    if isinstance(exc, sa_exc.DBAPIError):
        state = getattr(exc.orig, "sqlstate", None)
    elif isinstance(
        exc, asyncpg.PostgresError | asyncpg.InterfaceError | asyncpg.InternalClientError
    ):
        state = getattr(exc, "sqlstate", None)
    else:
        return None
    state = state if isinstance(state, str) else ""
    if state == _STATEMENT_TIMEOUT:
        return DatabaseUnavailable("The database did not answer in time.", reached=True)
    if _lost(exc):
        return DatabaseUnavailable("The connection to the database was lost.", reached=True)
    if state.startswith(_UNAVAILABLE_SQLSTATES):
        return DatabaseUnavailable("The database is unavailable.", reached=True)
    return None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take BEGIN into our own hands (the driver's lazy BEGIN DEFERRED lets writers collide).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def sync_sqlite_url(url: str) -> str:
    """``sqlite+aiosqlite:///x.db`` and ``sqlite:///x.db`` both name the file ``x.db``."""
    parsed = make_url(url)
    return parsed.set(drivername="sqlite+pysqlite").render_as_string(hide_password=False)


def _sqlite_engine(url: str, **kw: Any) -> Engine:
    engine = create_engine(sync_sqlite_url(url), connect_args={"check_same_thread": False}, **kw)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class _Job:
    __slots__ = ("fn", "future", "loop")

    def __init__(self, fn: Callable[[Connection], Any], loop: asyncio.AbstractEventLoop) -> None:
        self.fn = fn
        self.loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class _SqliteWriter:
    """The one thread that writes to an SQLite file for this process (group commit).

    With several processes on one file, each writer first takes an exclusive ``flock`` on a
    sidecar lock file: waiting writers are woken as soon as it is released, instead of polling
    SQLite's lock with ``busy_timeout``'s growing sleeps (which gave multi-second tails).
    """

    def __init__(self, url: str) -> None:
        database = make_url(url).database
        self.lock_fd: int | None = None
        if database and database != ":memory:":
            self.lock_fd = os.open(database + "-lock", os.O_RDWR | os.O_CREAT, 0o600)
        self.engine = _sqlite_engine(url, poolclass=StaticPool)
        event.listen(self.engine, "begin", _begin_immediate)
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="kassa-sqlite-writer", daemon=True)
        self.thread.start()

    async def submit(self, fn: Callable[[Connection], T]) -> T:
        job = _Job(fn, asyncio.get_running_loop())
        self.jobs.put(job)
        result: T = await job.future
        return result

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join(timeout=30)
        self.engine.dispose()
        if self.lock_fd is not None:
            os.close(self.lock_fd)

    def _run(self) -> None:
        with self.engine.connect() as conn:
            while True:
                first = self.jobs.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < MAX_BATCH:
                    try:
                        job = self.jobs.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        stop = True
                        break
                    batch.append(job)
                if self.lock_fd is not None:
                    fcntl.flock(self.lock_fd, fcntl.LOCK_EX)
                try:
                    self._run_batch(conn, batch)
                finally:
                    if self.lock_fd is not None:
                        fcntl.flock(self.lock_fd, fcntl.LOCK_UN)
                        # flock is not fair: without a pause this thread would take the lock
                        # straight back before a writer of another process, woken by the
                        # release, gets to run.
                        time.sleep(HANDOVER_PAUSE_S)
                if stop:
                    return

    @staticmethod
    def _run_batch(conn: Connection, batch: list[_Job]) -> None:
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        try:
            with conn.begin():
                # each write in a savepoint of its own, set on the driver directly (SQLAlchemy's
                # begin_nested costs ~45 µs a write on this thread, which every write waits for)
                raw = conn.connection.driver_connection
                assert raw is not None
                for job in batch:
                    raw.execute("SAVEPOINT kassa_write")
                    try:
                        result = job.fn(conn)
                    except Exception as exc:
                        raw.execute("ROLLBACK TO SAVEPOINT kassa_write")
                        raw.execute("RELEASE SAVEPOINT kassa_write")
                        outcomes.append((job, None, exc))
                    else:
                        raw.execute("RELEASE SAVEPOINT kassa_write")
                        outcomes.append((job, result, None))
        except Exception as exc:  # BEGIN or COMMIT failed: nothing of the batch happened
            outcomes = [(job, None, exc) for job in batch]
        for job, result, error in outcomes:
            job.loop.call_soon_threadsafe(_settle, job.future, result, error)


def _behind_pgbouncer(engine: AsyncEngine) -> None:
    """Make asyncpg safe behind a PgBouncer in transaction pooling mode.

    PgBouncer may hand every transaction — and, in autocommit, every statement — to another
    server connection, so a named prepared statement made on one may be missing on the next:
    ``prepared statement "__asyncpg_stmt_1__" does not exist``. With both statement caches off,
    asyncpg prepares unnamed statements and sends Parse again with every Bind/Execute, in one
    round trip that PgBouncer keeps on one server connection. Unique statement names
    (``prepared_statement_name_func``) are not used: a named statement is still prepared and
    executed in two round trips, which in autocommit may reach different server connections.
    """

    def connect_args(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["statement_cache_size"] = 0  # asyncpg's own cache
        cparams["prepared_statement_cache_size"] = 0  # SQLAlchemy's cache of asyncpg statements

    event.listen(engine.sync_engine, "do_connect", connect_args)


class Database:
    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 32,
        transaction_pool_size: int | None = None,
        pgbouncer: bool = False,
        pool_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        statement_timeout: float = 0.0,
    ) -> None:
        """PostgreSQL: up to ``pool_size`` connections for single statements (``kassa.db.point``:
        API keys, orders by id, lists, and most writes) and ``transaction_pool_size`` (default:
        the same) for transactions, opened as needed and kept; a call waits ``pool_timeout``
        seconds for a free one and ``connect_timeout`` seconds to open one; statements run at
        most ``statement_timeout`` seconds (0, or behind PgBouncer: the server's own setting).

        ``pgbouncer``: the URL points at a PgBouncer in transaction pooling mode (PostgreSQL).
        """
        self.url = url
        self.pgbouncer = pgbouncer
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        if pgbouncer:  # PgBouncer refuses the startup parameter: set it on the role there
            statement_timeout = 0.0
        self._async: AsyncEngine | None = None
        if self.is_sqlite:
            self._ensure_sqlite_dir(url)
            self._ensure_wal(url)
            self._writer = _SqliteWriter(url)
            # one connection for inline reads on the event loop thread
            self._inline_engine = _sqlite_engine(url, poolclass=StaticPool)
            self._inline = self._inline_engine.connect()
            self._scan_engine = _sqlite_engine(url, poolclass=NullPool)
            self._scan_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kassa-scan")
            self._scan_local = threading.local()
            self._scan_conns: list[Connection] = []
        else:
            # a fixed pool: connections are opened once and kept (an overflow connection would
            # be opened and closed per request under load, several round trips each)
            self._async = create_async_engine(
                url,
                pool_size=pool_size if transaction_pool_size is None else transaction_pool_size,
                max_overflow=0,
                pool_timeout=pool_timeout,
                connect_args=_timeouts(connect_timeout, statement_timeout),
            )
            if pgbouncer:
                _behind_pgbouncer(self._async)
            # single-statement reads run in autocommit: no BEGIN / ROLLBACK round trips
            self._reads = self._async.execution_options(isolation_level="AUTOCOMMIT")
            self._points = PointReads(
                url,
                size=pool_size,
                statement_cache=not pgbouncer,
                server_settings=_server_settings(statement_timeout),
                connect_timeout=connect_timeout,
                acquire_timeout=pool_timeout,
            )

    @staticmethod
    def _ensure_sqlite_dir(url: str) -> None:
        database = make_url(url).database
        if database and database != ":memory:":
            directory = os.path.dirname(os.path.abspath(database))
            os.makedirs(directory, exist_ok=True)

    @staticmethod
    def _ensure_wal(url: str) -> None:
        """Switch the file to WAL once, before several connections race to do it."""
        database = make_url(url).database
        if not database or database == ":memory:":
            return
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            conn = sqlite3.connect(database, timeout=BUSY_TIMEOUT_MS / 1000)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            finally:
                conn.close()

    async def read(self, fn: Callable[[Connection], T]) -> T:
        if self.is_sqlite:
            try:
                return fn(self._inline)
            finally:
                self._inline.rollback()
        return await self._postgres(self._reads.sync_engine.connect, fn, again=True)

    async def fetch_one(self, sql: str, params: Mapping[str, Any]) -> Sequence[Any] | None:
        """One row of a single-statement hot read written in plain SQL with ``:name`` parameters
        (an API key, an order by primary key): SQLite inline on the driver, PostgreSQL on the
        asyncpg pool of ``kassa.db.point``."""
        if self.is_sqlite:
            return query_one(self._inline, sql, params)
        return await self._point(self._points.fetch_one, sql, params)

    async def fetch_few(self, sql: str, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        """Every row of a single-statement read in plain SQL whose rows are few by the rules
        (a payment's ledger: at most 1,000): as ``fetch_one``, SQLite inline, PostgreSQL on the
        asyncpg pool. A read that may scan many rows goes to ``fetch_all``."""
        if self.is_sqlite:
            return query_all(self._inline, sql, params)
        return await self._point(self._points.fetch_all, sql, params)

    async def write_one(self, sql: str, params: Mapping[str, Any]) -> int:
        """PostgreSQL: a write that is one statement, committed on its own (autocommit on the
        asyncpg pool of ``kassa.db.point``): no ``BEGIN`` and ``COMMIT`` round trips, and the
        connection is held only while the statement runs. Returns the rows it changed. Not run
        again after a lost connection: whether it committed is unknown (a 503)."""
        status = await self._write(self._points.execute, sql, params)
        return int(status.rsplit(" ", 1)[-1])

    async def write_row(self, sql: str, params: Mapping[str, Any]) -> Sequence[Any] | None:
        """As ``write_one``, for a write statement that answers a row: that row."""
        return await self._write(self._points.fetch_one, sql, params)

    async def _write(
        self,
        run: Callable[[str, Mapping[str, Any]], Awaitable[T]],
        sql: str,
        params: Mapping[str, Any],
    ) -> T:
        assert not self.is_sqlite
        try:
            return await run(sql, params)
        except Exception as exc:
            error = unavailable(exc)
            if error is None:
                raise
            raise error from exc

    async def fetch_all(self, sql: str, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        """Every row of a single-statement read in plain SQL (a page of a list): SQLite on the
        scan threads, PostgreSQL on the asyncpg pool of ``kassa.db.point``."""
        if self.is_sqlite:
            return await self.scan(lambda conn: query_all(conn, sql, params))
        return await self._point(self._points.fetch_all, sql, params)

    @staticmethod
    async def _point(
        fetch: Callable[[str, Mapping[str, Any]], Awaitable[T]], sql: str, params: Mapping[str, Any]
    ) -> T:
        for attempt in (1, 2):
            try:
                return await fetch(sql, params)
            except Exception as exc:
                error = unavailable(exc)
                if error is None:
                    raise
                if not (_lost(exc) and attempt == 1):  # a dead connection: once more
                    raise error from exc
        raise AssertionError("unreachable")

    def _scan_conn(self) -> Connection:
        conn: Connection | None = getattr(self._scan_local, "conn", None)
        if conn is None:
            conn = self._scan_engine.connect()
            self._scan_local.conn = conn
            self._scan_conns.append(conn)
        return conn

    def _scan_sync(self, fn: Callable[[Connection], T]) -> T:
        conn = self._scan_conn()
        try:
            return fn(conn)
        finally:
            conn.rollback()

    async def scan(self, fn: Callable[[Connection], T]) -> T:
        if self.is_sqlite:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._scan_pool, self._scan_sync, fn)
        assert self._async is not None
        # one snapshot for a list and its totals
        return await self._postgres(self._async.sync_engine.connect, fn, again=True)

    async def write(self, fn: Callable[[Connection], T]) -> T:
        if self.is_sqlite:
            return await self._writer.submit(fn)
        assert self._async is not None
        # not run again: a connection lost at COMMIT leaves the outcome unknown
        return await self._postgres(self._async.sync_engine.begin, fn, again=False)

    @staticmethod
    async def _postgres(
        open_: Callable[[], contextlib.AbstractContextManager[Connection]],
        fn: Callable[[Connection], T],
        *,
        again: bool,
    ) -> T:
        """Run ``fn`` on a pooled connection; pool, connection and server failures are 503s.

        The checkout, ``fn``, the commit and the checkin run in one greenlet, with SQLAlchemy's
        synchronous API (``open_`` is the async engine's ``sync_engine.begin`` or ``.connect``):
        the async wrappers would switch greenlets for each of them.

        ``again``: a connection found dead (it predates a server restart) is replaced and
        ``fn`` runs once more; the first failure has invalidated the pool's older connections.
        """

        def job() -> T:
            with open_() as conn:
                return fn(conn)

        for attempt in (1, 2):
            try:
                return await greenlet_spawn(job)
            except Exception as exc:
                error = unavailable(exc)
                if error is None:
                    raise
                if not (again and _lost(exc) and attempt == 1):
                    raise error from exc
        raise AssertionError("unreachable")

    async def dispose(self) -> None:
        if self.is_sqlite:
            await asyncio.get_running_loop().run_in_executor(None, self._writer.close)
            self._scan_pool.shutdown(wait=True)
            for conn in self._scan_conns:
                conn.close()
            self._inline.close()
            self._inline_engine.dispose()
            self._scan_engine.dispose()
        else:
            assert self._async is not None
            await self._points.close()
            await self._async.dispose()


def _server_settings(statement_timeout: float) -> dict[str, str]:
    """``statement_timeout`` sent as a server setting of every new connection (0: none)."""
    if statement_timeout <= 0:
        return {}
    return {"statement_timeout": str(max(1, round(statement_timeout * 1000)))}


def _timeouts(connect_timeout: float, statement_timeout: float) -> dict[str, Any]:
    """asyncpg's connect arguments for the engine: its connect timeout and server settings."""
    args: dict[str, Any] = {"timeout": connect_timeout}
    settings = _server_settings(statement_timeout)
    if settings:
        args["server_settings"] = settings
    return args


def _on_asyncpg(conn: Connection, method: str, sql: str, params: Mapping[str, Any]) -> Any:
    """Run a statement straight on the asyncpg connection under ``conn`` (inside the transaction
    SQLAlchemy began on it), from the ``run_sync`` greenlet ``Database`` runs database work in.

    SQLAlchemy's asyncpg adapter sends ``BEGIN`` lazily, with the first statement through it;
    a statement sent past it starts the transaction first, as the adapter would and recorded
    where the adapter keeps it (SQLAlchemy is pinned), or it would run, and take its row lock,
    outside the transaction.
    A connection that died under the statement is invalidated, as SQLAlchemy's own execution
    path would, so that it is not handed out again.
    """
    statement, names = positional(sql)
    adapted: Any = conn.connection.dbapi_connection
    raw: Any = conn.connection.driver_connection
    try:
        if adapted._transaction is None and adapted.isolation_level != "autocommit":
            transaction = raw.transaction(
                isolation=adapted.isolation_level,
                readonly=adapted.readonly,
                deferrable=adapted.deferrable,
            )
            await_(transaction.start())
            adapted._transaction = transaction
        return await_(getattr(raw, method)(statement, *[params[name] for name in names]))
    except Exception as exc:
        if _lost(exc) or isinstance(exc, OSError):
            conn.invalidate(exc)
        raise


def query_one(conn: Connection, sql: str, params: Mapping[str, Any]) -> Sequence[Any] | None:
    """One row of a hot-path query written in plain SQL with ``:name`` parameters.

    The statement goes straight to the driver, past SQLAlchemy's execution and result
    machinery: ``sqlite3`` on SQLite, the asyncpg connection on PostgreSQL.
    """
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        assert raw is not None
        row: Sequence[Any] | None = raw.execute(sql, params).fetchone()
        return row
    record = _on_asyncpg(conn, "fetchrow", sql, params)
    return None if record is None else tuple(record)


def listed(name: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """An ``IN`` list in plain SQL: ``:name_0, :name_1, …`` and those parameters."""
    params = {f"{name}_{i}": value for i, value in enumerate(values)}
    return ", ".join(":" + key for key in params), params


def query_all(conn: Connection, sql: str, params: Mapping[str, Any]) -> list[Sequence[Any]]:
    """Every row of a query in plain SQL, straight to the driver (as ``query_one``)."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        assert raw is not None
        return list(raw.execute(sql, params).fetchall())
    return [tuple(record) for record in _on_asyncpg(conn, "fetch", sql, params)]


def execute(conn: Connection, sql: str, params: dict[str, Any]) -> int:
    """Run a hot-path write statement (straight to the driver, as ``query_one``); returns the
    number of rows it changed."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        assert raw is not None
        return int(raw.execute(sql, params).rowcount)
    status: str = _on_asyncpg(conn, "execute", sql, params)  # e.g. "UPDATE 1", "INSERT 0 1"
    return int(status.rsplit(" ", 1)[-1])


@dataclass(frozen=True)
class Row:
    """A row to insert: its table and its column values (in column order)."""

    table: str
    values: dict[str, Any]


def insert_row(conn: Connection, table: str, values: dict[str, Any]) -> None:
    """Insert one row in plain SQL (straight to the driver, as ``execute``); the statement
    text is made once per table and set of columns."""
    execute(conn, _insert_sql(table, tuple(values)), values)


@functools.lru_cache(maxsize=64)
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(columns)
    return f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + c for c in columns)})"


_Shape = tuple[tuple[str, tuple[str, ...]], ...]  # each row's table and columns


@functools.lru_cache(maxsize=256)
def _update_then_insert_sql(
    update: str, rows: _Shape, then: str | None, current: str | None = None
) -> str:
    """One PostgreSQL statement: the UPDATE, then each insert (and ``then``) only if the UPDATE
    changed a row.

    ``WITH u AS (UPDATE … RETURNING 1), r0 AS (INSERT … SELECT … FROM u) INSERT … SELECT …
    FROM u``: the statement's row count is 1 exactly when the UPDATE matched. With ``current``
    every insert is a ``WITH`` part and the statement answers one row: whether the UPDATE
    matched, then ``current``'s columns (``NULL`` when it matched; the index lookup is not run
    then).
    """
    parts = [f"WITH u AS ({update} RETURNING 1)"]
    if then is not None:
        parts.append(f", t AS ({then} AND EXISTS (SELECT 1 FROM u))")
    inserts = []
    for i, (table, columns) in enumerate(rows):
        values = ", ".join(f":r{i}_{c}" for c in columns)
        inserts.append(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values} FROM u")
    if current is None:
        parts.extend(f", r{i} AS ({sql})" for i, sql in enumerate(inserts[:-1]))
        return "".join(parts) + " " + inserts[-1]
    parts.extend(f", r{i} AS ({sql})" for i, sql in enumerate(inserts))
    return "".join(parts) + (
        " SELECT EXISTS (SELECT 1 FROM u), c.* FROM (SELECT 1) AS one"
        f" LEFT JOIN LATERAL ({current} AND NOT EXISTS (SELECT 1 FROM u)) AS c ON true"
    )


def insert_statement(
    rows: Sequence[Row], then: tuple[str, dict[str, Any]] | None = None
) -> tuple[str, dict[str, Any]]:
    """``rows`` (of any tables, in order) inserted by one PostgreSQL statement, and its
    parameters: ``WITH r0 AS (INSERT …), r1 AS (INSERT …) INSERT …``; ``then``: one more
    statement run with them."""
    shape, merged = _shape_and_params({}, rows, then)
    return _insert_rows_sql(shape, None if then is None else then[0]), merged


def _shape_and_params(
    params: dict[str, Any], rows: Sequence[Row], then: tuple[str, dict[str, Any]] | None
) -> tuple[_Shape, dict[str, Any]]:
    """What a one-statement write's text depends on, and its parameters: ``params``, each
    row's values as ``r{i}_{column}``, and ``then``'s."""
    merged = dict(params)
    for i, row in enumerate(rows):
        merged.update({f"r{i}_{column}": value for column, value in row.values.items()})
    if then is not None:
        merged.update(then[1])
    return tuple((row.table, tuple(row.values)) for row in rows), merged


@functools.lru_cache(maxsize=64)
def _insert_rows_sql(rows: _Shape, then: str | None) -> str:
    statements = [] if then is None else [then]
    for i, (table, columns) in enumerate(rows):
        values = ", ".join(f":r{i}_{c}" for c in columns)
        statements.append(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})")
    ctes = ", ".join(f"r{i} AS ({sql})" for i, sql in enumerate(statements[:-1]))
    return (f"WITH {ctes} " if ctes else "") + statements[-1]


def update_then_insert(
    conn: Connection, update: str, params: dict[str, Any], rows: Sequence[Row]
) -> bool:
    """Compare-and-set ``update`` (it must match one row); only if it did, insert ``rows``.

    On PostgreSQL this is one statement, one round trip, instead of ``1 + len(rows)``; SQLite
    (in-process, no round trips) runs the statements in turn. Returns whether the update matched.
    """
    if conn.dialect.name != "postgresql" or not rows:
        if execute(conn, update, params) != 1:
            return False
        for row in rows:
            execute(conn, _insert_sql(row.table, tuple(row.values)), row.values)
        return True
    return execute(conn, *update_then_insert_statement(update, params, rows)) == 1


def update_then_insert_statement(
    update: str,
    params: dict[str, Any],
    rows: Sequence[Row],
    then: tuple[str, dict[str, Any]] | None = None,
    current: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """``update_then_insert`` as one PostgreSQL statement and its parameters; its row count is 1
    exactly when the update matched. ``then``: one more statement, an ``UPDATE`` whose text ends
    with its ``WHERE`` clause, that also runs only if the update matched (``rows`` must not be
    empty then, unless ``current`` is given).

    ``current``: a query for the row as it is now, ending with its ``WHERE`` clause (with the
    update's parameters); the statement then answers one row, ``(matched, *current's columns)``,
    those ``NULL`` when it matched. A compare-and-set that finds another version so hands back
    what it found without another round trip. Its snapshot is the statement's: when the other
    write committed while this statement waited for the row, ``current`` shows the older version.
    """
    if not rows and current is None:
        assert then is None, "then needs a row to insert"
        return update, params
    shape, merged = _shape_and_params(params, rows, then)
    text = _update_then_insert_sql(update, shape, None if then is None else then[0], current)
    return text, merged


_AGGREGATES = threading.local()
_AGGREGATES_MAX = 256
# PostgreSQL: (database, key) -> (snapshot, value), see ``snapshot_lookup``
SNAPSHOT_SQL = "pg_current_snapshot()::text"
_SNAPSHOT_AGGREGATES: dict[tuple[str, Hashable], tuple[str, Any]] = {}


def cached_until_commit(conn: Connection, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, remembered per SQLite connection until anything commits to the file.

    SQLite's ``PRAGMA data_version`` changes whenever another connection (of any process)
    commits, so a remembered aggregate is returned only while the data it counted is unchanged.
    Lists then pay for ``totalSize``/``valueSum`` once between writes instead of on every page.
    PostgreSQL: see ``snapshot_lookup``.
    """
    if conn.dialect.name != "sqlite":
        return compute()
    raw = conn.connection.driver_connection
    assert raw is not None
    version = raw.execute("PRAGMA data_version").fetchone()[0]
    cache: dict[Any, tuple[int, Any]] | None = getattr(_AGGREGATES, "cache", None)
    if cache is None:
        cache = _AGGREGATES.cache = {}
    hit = cache.get((id(raw), key))
    if hit is not None and hit[0] == version:
        result: T = hit[1]
        return result
    result = compute()
    if len(cache) >= _AGGREGATES_MAX:
        cache.clear()
    cache[(id(raw), key)] = (version, result)
    return result


def snapshot_lookup(database: str, key: Hashable, snapshot: str) -> Any | None:
    """PostgreSQL's counterpart of ``cached_until_commit``: the value remembered for ``key``
    under exactly this MVCC ``snapshot`` (``SNAPSHOT_SQL`` read by the statement that needs
    it), else None.

    Two statements with equal snapshots (same xmin, xmax and in-progress list) see exactly the
    same committed transactions, hence the same rows, so a value computed under that snapshot
    is exact for the other. Any transaction that writes gets an xid and changes later
    snapshots; read-only traffic (a list paged through, a dashboard polling) keeps them equal.
    """
    hit = _SNAPSHOT_AGGREGATES.get((database, key))
    return hit[1] if hit is not None and hit[0] == snapshot else None


def snapshot_remember(database: str, key: Hashable, snapshot: str, value: Any) -> None:
    """Remember ``value``, computed by a statement whose snapshot was ``snapshot``."""
    if len(_SNAPSHOT_AGGREGATES) >= _AGGREGATES_MAX:
        _SNAPSHOT_AGGREGATES.clear()
    _SNAPSHOT_AGGREGATES[(database, key)] = (snapshot, value)
