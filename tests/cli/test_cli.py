"""The real ``kassa`` console script (semantics §15a), run as a subprocess against its own SQLite
file, whatever database the rest of the suite uses."""

from __future__ import annotations

import hashlib
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kassa.auth import keys
from kassa.db.engine import Database
from tests.support.cli import (
    TIMEOUT,
    Server,
    Sqlite,
    clean_env,
    kassa,
    kassa_serve,
    last_line,
    wait_ready,
)

ORDER_ID = re.compile(r"^o_[A-Za-z]{26}$")
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kassa-cli")


@pytest.fixture(scope="module")
def migrated(workdir: Path) -> Sqlite:
    db = Sqlite(workdir / "cli.db")
    result = kassa("migrate", "--database", db.url, cwd=workdir)
    assert result.returncode == 0, result.stderr
    return db


def create_key(
    db: Sqlite, cwd: Path, name: str, merchant: str = "M", channels: tuple[str, ...] = ("C",)
) -> str:
    args = ["apikey", "create", "--merchant", merchant, "--name", name, "--database", db.url]
    for channel in channels:
        args += ["--channel", channel]
    result = kassa(*args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    key = last_line(result.stdout)
    assert key and key == key.strip() and " " not in key, result.stdout
    return key


def key_row(db: Sqlite, key: str) -> tuple[object, ...] | None:
    rows = db.rows(
        "SELECT name, merchant, channels, revoked FROM api_keys WHERE key_hash = ?",
        hashlib.sha256(key.encode()).hexdigest(),
    )
    assert len(rows) <= 1
    return rows[0] if rows else None


def list_rows(db: Sqlite, cwd: Path) -> tuple[str, dict[str, list[str]]]:
    result = kassa("apikey", "list", "--database", db.url, cwd=cwd)
    assert result.returncode == 0, result.stderr
    table: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        cells = line.split("\t")
        table[cells[0]] = cells
    return result.stdout, table


async def valid(db: Sqlite, key: str) -> bool:
    database = Database(db.url, pool_size=1)
    try:
        return await keys.key_is_valid(database, key)
    finally:
        await database.dispose()


# --- migrate ------------------------------------------------------------------------------------


def test_migrate_is_idempotent(migrated: Sqlite, workdir: Path) -> None:
    # the fixture ran the first migrate on a fresh file
    assert migrated.path.exists()
    tables = {row[0] for row in migrated.rows("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "api_keys" in tables
    version = migrated.rows("SELECT version_num FROM alembic_version")
    assert len(version) == 1

    again = kassa("migrate", "--database", migrated.url, cwd=workdir)
    assert again.returncode == 0, again.stderr
    assert migrated.rows("SELECT version_num FROM alembic_version") == version
    assert not (workdir / "kassa.db").exists()  # --database was used, not the default


# --- apikey create ------------------------------------------------------------------------------


async def test_apikey_create_prints_working_key_last(migrated: Sqlite, workdir: Path) -> None:
    result = kassa(
        "apikey",
        "create",
        "--merchant",
        "M",
        "--channel",
        "C",
        "--name",
        "N",
        "--database",
        migrated.url,
        cwd=workdir,
    )
    assert result.returncode == 0, result.stderr
    key = last_line(result.stdout)
    assert key.strip() == key and key
    assert result.stdout.count(key) == 1  # printed once
    assert key not in result.stderr
    row = key_row(migrated, key)
    assert row is not None
    name, merchant, channels, revoked = row
    assert (name, merchant, revoked) == ("N", "M", None)
    assert "C" in str(channels)
    assert await valid(migrated, key)
    assert not await valid(migrated, key + "x")


def test_apikey_create_duplicate_name_fails(migrated: Sqlite, workdir: Path) -> None:
    create_key(migrated, workdir, "dup")
    before = migrated.rows("SELECT COUNT(*) FROM api_keys")
    again = kassa(
        "apikey",
        "create",
        "--merchant",
        "Other",
        "--name",
        "dup",
        "--database",
        migrated.url,
        cwd=workdir,
    )
    assert again.returncode != 0
    assert migrated.rows("SELECT COUNT(*) FROM api_keys") == before
    assert migrated.rows("SELECT merchant FROM api_keys WHERE name = 'dup'") == [("M",)]
    assert "kassa_" not in again.stdout  # no (unusable) key was handed out


# --- apikey list / revoke -----------------------------------------------------------------------


def test_apikey_list_shows_keys_but_never_the_key(migrated: Sqlite, workdir: Path) -> None:
    multi = create_key(migrated, workdir, "listed", merchant="shop-7", channels=("web", "app"))
    every = create_key(migrated, workdir, "every", merchant="shop-8", channels=())
    out, table = list_rows(migrated, workdir)
    header = table["name"]
    for column in ("merchant", "channels", "adapterId", "created", "revoked"):
        assert column in header
    row = table["listed"]
    assert row[header.index("merchant")] == "shop-7"
    assert row[header.index("channels")].split(",") == ["web", "app"]
    assert STAMP.match(row[header.index("created")])
    assert not STAMP.match(row[header.index("revoked")])
    assert table["every"][header.index("merchant")] == "shop-8"
    assert table["every"][header.index("channels")] not in {"", "web", "app"}
    assert migrated.rows("SELECT channels FROM api_keys WHERE name = 'every'") == [(None,)]
    for key in (multi, every):
        assert key not in out
        assert key[len("kassa_") :] not in out
        assert hashlib.sha256(key.encode()).hexdigest() not in out


async def test_apikey_revoke(migrated: Sqlite, workdir: Path) -> None:
    key = create_key(migrated, workdir, "to-revoke")
    before = key_row(migrated, key)
    assert before is not None
    assert before[3] is None

    result = kassa("apikey", "revoke", "to-revoke", "--database", migrated.url, cwd=workdir)
    assert result.returncode == 0, result.stderr

    _, table = list_rows(migrated, workdir)
    revoked_col = table["name"].index("revoked")
    assert STAMP.match(table["to-revoke"][revoked_col]), table["to-revoke"]
    row = key_row(migrated, key)
    assert row is not None
    assert row[3] is not None
    assert not await valid(migrated, key)


def test_apikey_revoke_unknown_name_fails(migrated: Sqlite, workdir: Path) -> None:
    result = kassa("apikey", "revoke", "no-such-key", "--database", migrated.url, cwd=workdir)
    assert result.returncode != 0
    assert migrated.rows("SELECT COUNT(*) FROM api_keys WHERE name = 'no-such-key'") == [(0,)]


# --- apikey ensure-dev --------------------------------------------------------------------------


async def test_apikey_ensure_dev_is_stable(migrated: Sqlite, workdir: Path) -> None:
    key_file = workdir / "dev-key"
    first = kassa(
        "apikey", "ensure-dev", "--key-file", str(key_file), "--database", migrated.url, cwd=workdir
    )
    assert first.returncode == 0, first.stderr
    key = last_line(first.stdout)
    assert key and " " not in key
    assert key_file.read_text().strip() == key
    assert await valid(migrated, key)
    row = key_row(migrated, key)
    assert row is not None
    assert row[1] == "demo"
    assert "demo" in str(row[2])

    second = kassa(
        "apikey", "ensure-dev", "--key-file", str(key_file), "--database", migrated.url, cwd=workdir
    )
    assert second.returncode == 0, second.stderr
    assert last_line(second.stdout) == key
    count = migrated.rows("SELECT COUNT(*) FROM api_keys WHERE merchant = 'demo'")
    assert count == [(1,)]


# --- environment --------------------------------------------------------------------------------


def test_database_url_from_environment(tmp_path: Path) -> None:
    db = Sqlite(tmp_path / "from-env.db")
    env = clean_env(KASSA_DATABASE_URL=db.url)
    migrated = kassa("migrate", cwd=tmp_path, env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert db.path.exists()

    created = kassa(
        "apikey", "create", "--merchant", "env-m", "--name", "env-key", cwd=tmp_path, env=env
    )
    assert created.returncode == 0, created.stderr
    row = key_row(db, last_line(created.stdout))
    assert row is not None
    assert row[:2] == ("env-key", "env-m")
    assert not (tmp_path / "kassa.db").exists()


def test_database_option_overrides_environment(tmp_path: Path) -> None:
    used = Sqlite(tmp_path / "option.db")
    ignored = Sqlite(tmp_path / "ignored.db")
    env = clean_env(KASSA_DATABASE_URL=ignored.url)
    result = kassa("migrate", "--database", used.url, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert used.path.exists()
    assert not ignored.path.exists()


# --- serve --------------------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with kassa_serve(tmp_path) as running:
        yield running


def test_serve_creates_database_and_serves_orders(server: Server, tmp_path: Path) -> None:
    wait_ready(server)
    base, db = server.base, server.db
    assert db.path.exists()  # SQLite created and migrated on start
    ready = httpx.get(base + "/health/ready", timeout=5)
    assert ready.json()["status"] == "ok"

    # a key created while the server runs works at once
    key = create_key(db, tmp_path, "live", merchant="shop", channels=("web",))
    headers = {"Authorization": f"Bearer {key}", "x-merchant": "shop", "x-channel": "web"}
    orders = base + "/api/v0/checkout/orders"
    body = {
        "currency": "SEK",
        "cart": {
            "items": [{"name": "a", "total": {"includingVat": 987.20, "excludingVat": 789.76}}]
        },
    }
    created = httpx.post(orders, json=body, headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    order_id = created.json()["id"]
    assert ORDER_ID.match(order_id)

    fetched = httpx.get(f"{orders}/{order_id}", headers=headers, timeout=10)
    assert fetched.status_code == 200, fetched.text
    order = fetched.json()
    assert order["state"]["currentStatus"] == "checkout"
    assert order["merchant"] == "shop"
    assert order["channel"] == "web"
    assert b'"includingVat":987.2' in fetched.content.replace(b" ", b"")

    assert httpx.get(f"{orders}/{order_id}", timeout=10).status_code == 401
    # revocation takes effect on the next request
    revoked = kassa("apikey", "revoke", "live", "--database", db.url, cwd=tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    assert httpx.get(f"{orders}/{order_id}", headers=headers, timeout=10).status_code == 401

    # SIGTERM ends the server: a graceful shutdown, then exit status 0
    server.proc.send_signal(signal.SIGTERM)
    code = server.proc.wait(timeout=TIMEOUT)
    assert code == 0, (code, server.output())
    with pytest.raises(httpx.TransportError):
        httpx.get(base + "/health/live", timeout=2)
