"""kassa's pool of asyncpg connections for single statements (``kassa.db.point.Pool``), on real
PostgreSQL connections: first come first served, a bounded wait, no connection lost to a
cancelled or timed-out wait, a dropped connection's place reopened (PostgreSQL only)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import asyncpg
import pytest

from kassa.db.point import Pool, dsn_of

pytestmark = pytest.mark.skipif(
    not os.environ.get("KASSA_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="PostgreSQL only",
)


class Pools:
    """Pools over real connections to the test database; ``opened``: every connection made."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.opened: list[asyncpg.Connection] = []
        self.pools: list[Pool] = []

    async def connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(dsn_of(self.url), statement_cache_size=0)
        self.opened.append(conn)
        return conn

    def make(self, size: int = 1, wait_s: float | None = 5.0) -> Pool:
        pool = Pool(self.connect, size, wait_s)
        self.pools.append(pool)
        return pool


@pytest.fixture
async def pools(database_url: str) -> AsyncIterator[Pools]:
    made = Pools(database_url)
    yield made
    for pool in made.pools:
        await pool.close()
    for conn in made.opened:
        conn.terminate()


async def settle() -> None:
    """Let the tasks started so far run until each waits."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_waiters_are_served_in_the_order_they_came(pools: Pools) -> None:
    pool = pools.make(size=1)
    held = await pool.acquire()
    served: list[int] = []

    async def waiter(number: int) -> None:
        conn = await pool.acquire()
        served.append(number)
        assert await conn.fetchval("SELECT 1") == 1
        pool.release(conn)

    tasks = [asyncio.create_task(waiter(n)) for n in range(4)]
    await settle()
    assert served == []  # all four wait for the one connection
    pool.release(held)
    # a caller that comes now, with the connection just handed on, waits behind them
    late = asyncio.create_task(waiter(99))
    await asyncio.gather(*tasks, late)
    assert served == [0, 1, 2, 3, 99]
    assert len(pools.opened) == 1


async def test_a_wait_past_its_limit_raises_timeout_and_loses_nothing(
    pools: Pools,
) -> None:
    pool = pools.make(size=1, wait_s=0.05)
    held = await pool.acquire()
    with pytest.raises(TimeoutError):
        await pool.acquire()
    pool.release(held)
    again = await pool.acquire()
    assert again is held  # the one connection, given back and taken again
    assert await again.fetchval("SELECT 2") == 2
    pool.release(again)


async def test_a_connection_handed_to_a_cancelled_waiter_is_passed_on(
    pools: Pools,
) -> None:
    pool = pools.make(size=1)
    held = await pool.acquire()
    first = asyncio.create_task(pool.acquire())
    await settle()
    pool.release(held)  # handed to ``first``, which has not run since
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    taken = await asyncio.wait_for(pool.acquire(), 1)  # not lost with the cancelled wait
    assert taken is held
    pool.release(taken)


async def test_a_dropped_connection_is_reopened_for_the_next_waiter(
    pools: Pools,
) -> None:
    pool = pools.make(size=1)
    held = await pool.acquire()
    waiting = asyncio.create_task(pool.acquire())
    await settle()
    held.terminate()  # e.g. lost to a server restart
    pool.release(held)
    conn = await asyncio.wait_for(waiting, 5)
    assert conn is not held and not conn.is_closed()
    assert await conn.fetchval("SELECT 3") == 3
    pool.release(conn)
    assert len(pools.opened) == 2


async def test_expire_replaces_idle_and_returned_connections(pools: Pools) -> None:
    pool = pools.make(size=2)
    a, b = await pool.acquire(), await pool.acquire()
    pool.release(a)
    pool.expire()  # ``a`` is idle: closed now; ``b`` is in use: closed when given back
    assert a.is_closed() and not b.is_closed()
    pool.release(b)
    assert b.is_closed()
    fresh = [await pool.acquire(), await pool.acquire()]
    assert [conn in (a, b) for conn in fresh] == [False, False]
    assert [await conn.fetchval("SELECT 4") for conn in fresh] == [4, 4]
    for conn in fresh:
        pool.release(conn)


async def test_close_fails_waiters_and_refuses_new_calls(pools: Pools) -> None:
    pool = pools.make(size=1)
    held = await pool.acquire()
    waiting = asyncio.create_task(pool.acquire())
    await settle()
    await pool.close()
    with pytest.raises(asyncpg.InterfaceError, match="closed"):
        await waiting
    with pytest.raises(asyncpg.InterfaceError, match="closed"):
        await pool.acquire()
    pool.release(held)  # a connection in use when the pool closed is closed when given back
    assert held.is_closed()
