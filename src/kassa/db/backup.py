"""``kassa backup``: an online copy of an SQLite database, and the pg_dump command for
PostgreSQL.

SQLite is copied with SQLite's online backup API in a single step: the copy is the database as
of one moment (a read transaction), while the service goes on reading and writing (WAL mode:
writers do not wait for a reader). It is written beside the target under a temporary name,
flushed to disk, and only then given the target's name, so a target never holds half a copy.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

BUSY_TIMEOUT_MS = 10_000


class BackupError(Exception):
    """The backup was not made; the message says why."""


@dataclass(frozen=True)
class Backup:
    source: Path
    target: Path
    size: int
    orders: int
    revision: str | None


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(f"{url!r} names no SQLite file")
    return Path(database)


def backup_sqlite(url: str, target: Path, *, force: bool = False) -> Backup:
    source = sqlite_path(url)
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}")
    if target.is_dir():
        raise BackupError(f"{target} is a directory; name the backup file")
    if target.exists() and not force:
        raise BackupError(f"{target} already exists; pass --force to overwrite it")
    if target.exists() and target.resolve() == source.resolve():
        raise BackupError(f"{target} is the database itself")
    if not target.parent.is_dir():
        raise BackupError(f"directory {target.parent} does not exist")
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        _copy(source, partial)
        summary = _summary(partial)
        _publish(partial, target, force=force)
    finally:
        partial.unlink(missing_ok=True)
    return Backup(source, target, target.stat().st_size, *summary)


def _copy(source: Path, partial: Path) -> None:
    reader = sqlite3.connect(source)
    try:
        reader.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        copy = sqlite3.connect(partial)
        try:
            reader.backup(copy)  # pages=-1: every page in one step, one consistent snapshot
            # a self-contained file: no -wal/-shm beside it (kassa turns WAL on when it opens it)
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
    finally:
        reader.close()
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())


def _summary(path: Path) -> tuple[int, str | None]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        orders = (
            conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] if "orders" in tables else 0
        )
        revision = None
        if "alembic_version" in tables:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = row[0] if row else None
        return int(orders), revision
    finally:
        conn.close()


def _publish(partial: Path, target: Path, *, force: bool) -> None:
    if not force:
        try:  # claim the name first: a file that appeared meanwhile is never clobbered
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise BackupError(f"{target} already exists; pass --force to overwrite it") from None
    os.replace(partial, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def pg_dump_command(url: str, target: Path) -> str:
    """The pg_dump command line that backs up the PostgreSQL database of ``url`` to ``target``
    (custom format, for pg_restore); the password is left out."""
    parsed = make_url(url)
    args = ["pg_dump", "--format=custom", f"--file={target}"]
    if parsed.host:
        args.append(f"--host={parsed.host}")
    if parsed.port:
        args.append(f"--port={parsed.port}")
    if parsed.username:
        args.append(f"--username={parsed.username}")
    args.append(parsed.database or "")
    return shlex.join(args)
