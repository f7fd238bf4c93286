"""``Database.write``: each write is all or nothing, also when SQLite commits many together."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

from kassa.db.engine import Database, Row, update_then_insert, update_then_insert_statement
from kassa.orders.repository import StoredOrder, found_instead


class Refused(Exception):
    pass


async def test_a_failing_write_rolls_back_alone_among_concurrent_writes(db: Database) -> None:
    table = f"scratch_{secrets.token_hex(4)}"
    await db.write(lambda conn: conn.execute(text(f"CREATE TABLE {table} (n INTEGER)")))

    def write(n: int) -> Callable[[Connection], int]:
        def job(conn: Connection) -> int:
            conn.execute(text(f"INSERT INTO {table} (n) VALUES (:n)"), {"n": n})
            conn.execute(text(f"INSERT INTO {table} (n) VALUES (:n)"), {"n": -n})
            if n % 3 == 0:
                raise Refused(str(n))
            return n

        return job

    try:
        results: list[Any] = await asyncio.gather(
            *(db.write(write(n)) for n in range(1, 61)), return_exceptions=True
        )
        rows = await db.read(lambda conn: conn.execute(text(f"SELECT n FROM {table}")).all())
    finally:
        await db.write(lambda conn: conn.execute(text(f"DROP TABLE {table}")))
    for n, result in zip(range(1, 61), results, strict=True):
        if n % 3 == 0:
            assert isinstance(result, Refused) and str(result) == str(n)
        else:
            assert result == n
    kept = {n for n in range(1, 61) if n % 3}
    assert sorted(r[0] for r in rows) == sorted([*kept, *(-n for n in kept)])


@pytest.mark.parametrize("matches", [True, False])
async def test_update_then_insert_inserts_only_when_the_update_matched(
    db: Database, matches: bool
) -> None:
    base = f"scratch_{secrets.token_hex(4)}"

    def setup(conn: Connection) -> None:
        conn.execute(text(f"CREATE TABLE {base}_v (id TEXT, version INTEGER)"))
        conn.execute(text(f"CREATE TABLE {base}_a (id TEXT, n INTEGER)"))
        conn.execute(text(f"CREATE TABLE {base}_b (id TEXT, note TEXT)"))
        conn.execute(text(f"INSERT INTO {base}_v (id, version) VALUES ('x', 1)"))

    def change(conn: Connection) -> bool:
        update = f"UPDATE {base}_v SET version = :new WHERE id = :id AND version = :version"
        params = {"new": 2, "id": "x", "version": 1 if matches else 7}
        rows = [Row(f"{base}_a", {"id": "x", "n": 5}), Row(f"{base}_b", {"id": "x", "note": "t"})]
        return update_then_insert(conn, update, params, rows)

    def state(conn: Connection) -> tuple[int, list[tuple[str, int]], list[tuple[str, str]]]:
        version = conn.execute(text(f"SELECT version FROM {base}_v")).scalar_one()
        a = [(r[0], r[1]) for r in conn.execute(text(f"SELECT id, n FROM {base}_a")).all()]
        b = [(r[0], r[1]) for r in conn.execute(text(f"SELECT id, note FROM {base}_b")).all()]
        return version, a, b

    await db.write(setup)
    try:
        changed = await db.write(change)
        version, a, b = await db.read(state)
    finally:
        await db.write(lambda conn: [conn.execute(text(f"DROP TABLE {base}_{s}")) for s in "vab"])
    assert changed is matches
    if matches:
        assert (version, a, b) == (2, [("x", 5)], [("x", "t")])
    else:
        assert (version, a, b) == (1, [], [])


@pytest.mark.parametrize("matches", [True, False])
async def test_update_statement_answers_the_row_it_found_instead(
    db: Database, matches: bool
) -> None:
    """PostgreSQL: a compare-and-set statement with ``current`` answers whether it matched and,
    when it did not, the row as it is now, inserting nothing."""
    if db.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite runs the statements in turn")
    base = f"scratch_{secrets.token_hex(4)}"

    def setup(conn: Connection) -> None:
        conn.execute(text(f"CREATE TABLE {base}_v (id TEXT, version INTEGER, doc TEXT)"))
        conn.execute(text(f"CREATE TABLE {base}_a (id TEXT, n INTEGER)"))
        conn.execute(text(f"INSERT INTO {base}_v (id, version, doc) VALUES ('x', 3, 'three')"))

    update = (
        f"UPDATE {base}_v SET version = :new, doc = 'four' WHERE id = :id AND version = :version"
    )
    params = {"new": 4, "id": "x", "version": 3 if matches else 2}
    current = f"SELECT doc, version FROM {base}_v WHERE id = :id"
    await db.write(setup)
    try:
        statement, merged = update_then_insert_statement(
            update, params, [Row(f"{base}_a", {"id": "x", "n": 5})], current=current
        )
        answer = await db.write_row(statement, merged)
        rows = await db.fetch_all(f"SELECT id, n FROM {base}_a", {})
        version = (await db.fetch_all(f"SELECT version FROM {base}_v", {}))[0][0]
    finally:
        await db.write(lambda conn: [conn.execute(text(f"DROP TABLE {base}_{s}")) for s in "va"])
    if matches:
        assert (tuple(answer or ()), rows, version) == ((True, None, None), [("x", 5)], 4)
    else:
        assert (tuple(answer or ()), rows, version) == ((False, "three", 3), [], 3)


def test_found_instead_takes_only_a_newer_version() -> None:
    newer = found_instead((False, "{}", 5, "{}"), 4)
    assert newer == StoredOrder("{}", 5, "{}")
    # the statement's snapshot predates the write that came first: a new read must tell
    assert found_instead((False, "{}", 4, "{}"), 4) is None
    assert found_instead((False, None, None, None), 4) is None  # the order is gone
