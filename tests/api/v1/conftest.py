"""Fixtures of the Order API v1 tests: a client of an app that may call local receivers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from kassa.db.engine import Database
from tests.support.receiver import app_client


@pytest.fixture
async def local(db: Database, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client (fresh tenant) of an app whose hooks and actions may call 127.0.0.1."""
    async with app_client(
        db, database_url, outbound_allow="127.0.0.1/32", hook_timeout=1.5, action_timeout=1.5
    ) as client:
        yield client
