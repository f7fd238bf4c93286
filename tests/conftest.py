"""Shared fixtures: one real database per test run (SQLite file, or the PostgreSQL server that
``make test`` starts, via ``KASSA_TEST_DATABASE_URL``), and HTTP clients bound to fresh tenants.

With ``KASSA_DATABASE_PGBOUNCER`` on, the URL points at a PgBouncer in transaction pooling mode
(``make test`` runs the tests marked ``pgbouncer`` that way) and the database is built for it.

Every test gets its own merchant, so tests never see each other's orders.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI

from kassa.app import create_app
from kassa.auth import keys
from kassa.config import Settings
from kassa.db import migrate
from kassa.db.engine import Database

if TYPE_CHECKING:
    from tests.support.receiver import Receiver

ORDERS = "/api/v0/checkout/orders"

# What `make test` runs a third time, through PgBouncer in transaction pooling mode
# (scripts/test.sh: `pytest -m pgbouncer`): the concurrency tests (row locks, SKIP LOCKED claims,
# idempotency claims), migrations, a whole checkout, lists, readiness, the setting itself, and
# the Configuration API's writes (a transaction-scoped advisory lock per channel).
PGBOUNCER_TESTS = (
    "tests/api/test_concurrency.py",
    "tests/api/v1/test_concurrency.py",
    "tests/api/payments/test_ledger.py::test_concurrent_",
    "tests/api/payments/test_ledger.py::test_two_concurrent_",
    "tests/api/callbacks/test_hooks.py::test_concurrent_",
    "tests/api/callbacks/test_hooks.py::test_four_conflicts_",
    "tests/delivery/test_loop.py",
    "tests/api/test_idempotency_keys.py",
    "tests/api/test_checkout_flow.py",
    "tests/api/orders/test_list.py",
    "tests/api/test_ops.py",
    "tests/db/test_migrations.py",
    "tests/db/test_pgbouncer.py",
    "tests/api/errors/test_write_authentication.py",
    "tests/api/configuration/test_crud.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(PGBOUNCER_TESTS):
            item.add_marker(pytest.mark.pgbouncer)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    url = os.environ.get("KASSA_TEST_DATABASE_URL")
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="kassa-test-") as tmp:
        yield f"sqlite+aiosqlite:///{Path(tmp) / 'kassa.db'}"


@pytest.fixture(scope="session")
def database_pgbouncer() -> bool:
    # parsed as Settings.from_env parses KASSA_DATABASE_PGBOUNCER
    value = os.environ.get("KASSA_DATABASE_PGBOUNCER", "")
    return value.strip().lower() in {"1", "true", "yes", "on"}


@pytest.fixture(scope="session")
async def db(database_url: str, database_pgbouncer: bool) -> AsyncIterator[Database]:
    database = Database(database_url, pgbouncer=database_pgbouncer)
    await migrate.upgrade(database)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def settings(database_url: str, database_pgbouncer: bool) -> Settings:
    return Settings(
        database_url=database_url, database_pgbouncer=database_pgbouncer, access_log=False
    )


@pytest.fixture(scope="session")
def app(settings: Settings, db: Database) -> FastAPI:
    return create_app(settings, db=db)


@dataclass
class Tenant:
    merchant: str
    channel: str
    key: str
    key_name: str

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.key}",
            "x-merchant": self.merchant,
            "x-channel": self.channel,
        }


async def make_tenant(
    db: Database, channel: str = "c1", channels: list[str] | None = None, **kw: Any
) -> Tenant:
    merchant = "m-" + secrets.token_hex(6)
    key, info = await keys.create_key(
        db, merchant=merchant, channels=channels if channels is not None else [channel], **kw
    )
    return Tenant(merchant, channel, key, info.name)


@pytest.fixture
async def tenant(db: Database) -> Tenant:
    return await make_tenant(db)


def client_for(app: FastAPI, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://kassa.test", headers=headers
    )


@pytest.fixture
async def client(app: FastAPI, tenant: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app, tenant.headers) as c:
        yield c


async def create_order(client: httpx.AsyncClient, body: Any = None, **kw: Any) -> str:
    response = await client.post(ORDERS, json=body if body is not None else {}, **kw)
    assert response.status_code == 201, response.text
    order_id: str = response.json()["id"]
    return order_id


async def get_order(client: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    response = await client.get(f"{ORDERS}/{order_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    from tests.support.receiver import Receiver as Server

    server = Server()
    await server.start()
    yield server
    await server.stop()
