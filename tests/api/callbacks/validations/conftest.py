"""Fixtures of the validation callback tests: apps that may call 127.0.0.1 with the ``open``
and ``closed`` failure policy, and a second receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from kassa.db.engine import Database
from tests.support.receiver import Receiver, app_client
from tests.support.validations import SECRET, TIMEOUT


@pytest.fixture
async def local(db: Database, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An app that may call 127.0.0.1, signs with ``SECRET``; policy ``open`` (the default)."""
    async with app_client(
        db,
        database_url,
        outbound_allow="127.0.0.1/32",
        validation_timeout=TIMEOUT,
        webhook_secret=SECRET,
    ) as client:
        yield client


@pytest.fixture
async def closed(db: Database, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(
        db,
        database_url,
        outbound_allow="127.0.0.1/32",
        validation_timeout=TIMEOUT,
        webhook_secret=SECRET,
        validation_failure_policy="closed",
    ) as client:
        yield client


@pytest.fixture
async def second() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()
