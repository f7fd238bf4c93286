"""``KASSA_DATABASE_PGBOUNCER``: behind a PgBouncer in transaction pooling mode a statement must
not depend on the server connection that prepared it.

PostgreSQL only. ``make test`` runs this file directly against PostgreSQL and again through a
PgBouncer (``scripts/pgbouncer.sh``) with ``KASSA_DATABASE_PGBOUNCER=1``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError

from kassa.app import create_app
from kassa.config import Settings
from kassa.db.engine import Database

NAMES = "SELECT name FROM pg_prepared_statements ORDER BY name"
LOOKUP = "SELECT count(*), pg_backend_pid() FROM orders WHERE merchant = :merchant"


@pytest.fixture
def postgresql_url(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL only")
    return database_url


@contextlib.asynccontextmanager
async def database_of(url: str, pgbouncer: bool) -> AsyncIterator[Database]:
    """The database the app builds from its settings (not the test suite's shared one)."""
    settings = Settings(
        database_url=url,
        database_pgbouncer=pgbouncer,
        database_pool_size=1,
        # PgBouncer refuses the statement_timeout startup parameter (the setting leaves it out)
        database_statement_timeout=0,
        access_log=False,
    )
    database = create_app(settings).state.kassa.db
    assert isinstance(database, Database)
    try:
        yield database
    finally:
        await database.dispose()


def _statements_named_by_a_lookup(conn: Connection) -> list[str]:
    # one transaction, so one server connection even through PgBouncer
    before = set(conn.execute(text(NAMES)).scalars())
    conn.execute(text(LOOKUP), {"merchant": "nobody"})
    after = set(conn.execute(text(NAMES)).scalars())
    return sorted(after - before)


@pytest.mark.parametrize("pgbouncer", [False, True], ids=["default", "pgbouncer"])
async def test_the_setting_leaves_no_named_prepared_statement_on_the_server(
    postgresql_url: str, database_pgbouncer: bool, pgbouncer: bool
) -> None:
    if database_pgbouncer and not pgbouncer:
        pytest.skip("named statements would be left on PgBouncer's shared server connections")
    async with database_of(postgresql_url, pgbouncer) as database:
        assert database.pgbouncer is pgbouncer
        named = await database.write(_statements_named_by_a_lookup)
    if pgbouncer:
        assert named == []
    else:
        # asyncpg's default: every statement prepared once under a name and cached
        assert len(named) == 1
        assert named[0].startswith("__asyncpg_stmt_")


def _lookup(conn: Connection) -> tuple[int, int]:
    count, pid = conn.execute(text(LOOKUP), {"merchant": "nobody"}).one()
    return int(count), int(pid)


async def _hold_server_connection(dsn: str, pid: int, held: list[Any]) -> None:
    """Open transactions from other clients until one of them holds server process ``pid``."""
    for _ in range(64):
        conn = await asyncpg.connect(dsn, statement_cache_size=0)
        transaction = conn.transaction()
        await transaction.start()
        held.append((conn, transaction))
        if await conn.fetchval("SELECT pg_backend_pid()") == pid:
            return
    raise AssertionError(f"no client got server connection {pid}")


async def _lookup_twice_on_two_server_connections(
    database: Database, dsn: str
) -> tuple[tuple[int, int], tuple[int, int]]:
    held: list[Any] = []
    try:
        first = await database.read(_lookup)
        await _hold_server_connection(dsn, first[1], held)
        # the same statement again on the same client connection, now necessarily on another
        # server connection
        second = await database.read(_lookup)
        return first, second
    finally:
        for conn, transaction in held:
            await transaction.rollback()
            await conn.close()


@pytest.mark.parametrize("pgbouncer", [False, True], ids=["default", "pgbouncer"])
async def test_a_statement_runs_again_on_another_server_connection(
    postgresql_url: str, database_pgbouncer: bool, pgbouncer: bool
) -> None:
    if not database_pgbouncer:
        pytest.skip("needs the test database URL to point at a PgBouncer in transaction mode")
    dsn = make_url(postgresql_url).set(drivername="postgresql").render_as_string(False)
    async with database_of(postgresql_url, pgbouncer) as database:
        if pgbouncer:
            first, second = await _lookup_twice_on_two_server_connections(database, dsn)
            assert first[0] == second[0] == 0
            assert first[1] != second[1]
        else:
            # a named statement is missing on the other server connection (or, left there by
            # another client, a different statement already has its name)
            with pytest.raises(DBAPIError, match=r"prepared statement .* (does not|already) exist"):
                await _lookup_twice_on_two_server_connections(database, dsn)
