"""List totals on PostgreSQL: requests whose pages saw the same snapshot share one count
(``kassa.orders.repository._count_once``), so that a commit does not make every list request
count at once (PostgreSQL only)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from kassa.db.engine import Database
from kassa.orders import repository

pytestmark = pytest.mark.skipif(
    not os.environ.get("KASSA_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="PostgreSQL only",
)

# each execution takes the next number: equal answers mean one execution
COUNTING = "SELECT nextval('kassa_test_counts') FROM pg_sleep(0.2)"


@pytest.fixture
async def counts(db: Database) -> AsyncIterator[Database]:
    await db.write(
        lambda conn: conn.execute(text("CREATE SEQUENCE IF NOT EXISTS kassa_test_counts"))
    )
    yield db
    await db.write(lambda conn: conn.execute(text("DROP SEQUENCE kassa_test_counts")))


async def test_requests_of_one_snapshot_share_one_count(counts: Database) -> None:
    same = [repository._count_once(counts, ("f", "s1"), COUNTING, {}) for _ in range(5)]
    other = repository._count_once(counts, ("f", "s2"), COUNTING, {})
    answers = await asyncio.gather(*same, other)
    shared = {tuple(rows[0]) for rows in answers[:5]}
    assert len(shared) == 1  # one statement for the five
    assert answers[5] != answers[0]  # another snapshot counts on its own
    later = await repository._count_once(counts, ("f", "s1"), COUNTING, {})
    assert later != answers[0]  # only requests at the same time share
    assert repository._COUNTING == {}


async def test_a_request_that_goes_away_leaves_the_count_to_the_others(
    counts: Database,
) -> None:
    first = asyncio.create_task(repository._count_once(counts, ("f", "s3"), COUNTING, {}))
    second = asyncio.create_task(repository._count_once(counts, ("f", "s3"), COUNTING, {}))
    await asyncio.sleep(0.05)
    first.cancel()
    rows = await second
    with pytest.raises(asyncio.CancelledError):
        await first
    assert len(rows) == 1 and isinstance(rows[0][0], int)
    assert repository._COUNTING == {}
