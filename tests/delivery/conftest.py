"""Fixtures of the delivery tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kassa.db.engine import Database
from tests.support.delivery_env import Env, delivery_env


@pytest.fixture
async def env(db: Database, database_url: str) -> AsyncIterator[Env]:
    async with delivery_env(db, database_url) as environment:
        yield environment
