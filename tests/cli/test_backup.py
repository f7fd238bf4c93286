"""``kassa backup`` as a real subprocess: an online copy of an SQLite database while orders are
being written, refusing to overwrite a file, and the pg_dump command for PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from kassa.app import create_app
from kassa.config import Settings
from kassa.db import migrate
from kassa.db.engine import Database
from tests.conftest import client_for, create_order, make_tenant
from tests.support.cli import KASSA, TIMEOUT, Sqlite, clean_env, kassa

WROTE = re.compile(
    r"^wrote (?P<target>\S+): a copy of (?P<source>\S+) \((?P<size>\d+) bytes, "
    r"(?P<orders>\d+) orders, schema revision (?P<revision>\w+)\)$"
)


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(conn.execute(sql))
    finally:
        conn.close()


def partial_files(directory: Path) -> list[Path]:
    return list(directory.glob(".*.partial"))


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[Sqlite, httpx.AsyncClient]]:
    """A migrated SQLite database and a client of an app writing to it."""
    db = Sqlite(tmp_path / "live.db")
    database = Database(db.url)
    try:
        await migrate.upgrade(database)
        app = create_app(Settings(database_url=db.url, access_log=False), db=database)
        tenant = await make_tenant(database)
        async with client_for(app, tenant.headers) as client:
            yield db, client
    finally:
        await database.dispose()


async def test_backup_while_orders_are_written(
    live: tuple[Sqlite, httpx.AsyncClient], tmp_path: Path
) -> None:
    db, client = live
    before = [await create_order(client, {"reference": f"before-{i}"}) for i in range(20)]
    target = tmp_path / "copy.db"

    during: list[str] = []
    writing, stop = asyncio.Event(), asyncio.Event()

    async def keep_writing() -> None:
        while not stop.is_set():
            during.append(await create_order(client, {"reference": f"during-{len(during)}"}))
            writing.set()

    writer = asyncio.create_task(keep_writing())
    try:
        await asyncio.wait_for(writing.wait(), TIMEOUT)  # under way before the backup starts
        proc = await asyncio.create_subprocess_exec(
            KASSA,
            "backup",
            str(target),
            "--database",
            db.url,
            cwd=tmp_path,
            env=clean_env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    finally:
        stop.set()
        await writer
    assert proc.returncode == 0, err.decode()
    written = WROTE.match(out.decode().strip())
    assert written, out.decode()
    assert written["target"] == str(target)
    assert written["source"] == str(db.path)
    assert int(written["size"]) == target.stat().st_size
    assert written["revision"] == migrate.head_revision()

    assert rows(target, "PRAGMA integrity_check") == [("ok",)]
    assert rows(target, "PRAGMA journal_mode") == [("delete",)]  # one self-contained file
    assert not target.with_name("copy.db-wal").exists()
    copied = {str(row[0]) for row in rows(target, "SELECT id FROM orders")}
    assert set(before) <= copied  # everything committed before the backup started
    assert copied <= set(before) | set(during)
    assert int(written["orders"]) == len(copied)
    # one moment's state: every copied order has exactly its committed history
    assert rows(
        target,
        "SELECT COUNT(*) FROM orders o WHERE o.version != "
        "(SELECT COUNT(*) FROM history h WHERE h.order_id = o.id)",
    ) == [(0,)]
    assert partial_files(tmp_path) == []

    # the copy is a working kassa database
    restored = Database(f"sqlite+aiosqlite:///{target}")
    try:
        assert await migrate.is_current(restored)
    finally:
        await restored.dispose()


async def test_backup_refuses_an_existing_file_without_force(
    live: tuple[Sqlite, httpx.AsyncClient], tmp_path: Path
) -> None:
    db, client = live
    order_id = await create_order(client)
    target = tmp_path / "exists.db"
    target.write_bytes(b"keep me")

    refused = kassa("backup", str(target), "--database", db.url, cwd=tmp_path)
    assert refused.returncode == 1, refused.stderr
    assert refused.stdout == ""
    assert refused.stderr.strip() == (
        f"error: {target} already exists; pass --force to overwrite it"
    )
    assert target.read_bytes() == b"keep me"

    forced = kassa("backup", str(target), "--force", "--database", db.url, cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    written = WROTE.match(forced.stdout.strip())
    assert written, forced.stdout
    assert written["orders"] == "1"
    assert rows(target, "PRAGMA integrity_check") == [("ok",)]
    assert rows(target, "SELECT id FROM orders") == [(order_id,)]


def test_backup_of_a_missing_database_fails(tmp_path: Path) -> None:
    missing = Sqlite(tmp_path / "missing.db")
    result = kassa("backup", str(tmp_path / "b.db"), "--database", missing.url, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: no SQLite database at {missing.path}"
    assert not (tmp_path / "b.db").exists()
    assert not missing.path.exists()  # not created by the attempt


def test_backup_on_postgresql_prints_the_pg_dump_command(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://shop_user:s3cret@db.example:5433/shop"
    result = kassa("backup", "shop.dump", "--database", url, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == (
        "pg_dump --format=custom --file=shop.dump --host=db.example --port=5433 "
        "--username=shop_user shop\n"
    )
    assert "pg_dump" in result.stderr
    assert "pg_restore" in result.stderr
    assert "PGPASSWORD" in result.stderr
    assert "s3cret" not in result.stdout + result.stderr
    assert not (tmp_path / "shop.dump").exists()
