"""The Configuration API as adapters §9 sets it up: the Order API below ``/checkout/order``,
the Configuration API below ``/checkout/configuration``, a key with every channel of its
merchant (K1) that sends no ``x-merchant`` / ``x-channel``."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kassa.app import create_app
from kassa.auth import keys
from kassa.config import Settings
from kassa.db.engine import Database
from tests.conftest import client_for

ORDER_PREFIX = "/checkout/order"
PREFIX = "/checkout/configuration"
BASE = PREFIX + "/api/v1/configuration/merchants"
NORCE_SCHEMA = "https://checkout.playground.norce.tech/api/v1/configuration/schemas/nonpsp.json"


@dataclass
class Key:
    merchant: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def channels(self, merchant: str | None = None) -> str:
        return f"{BASE}/{merchant or self.merchant}/channels"

    def url(self, channel: str, name: str | None = None, merchant: str | None = None) -> str:
        base = f"{self.channels(merchant)}/{channel}/configurations"
        return base if name is None else f"{base}/{name}"


async def make_key(db: Database, channels: list[str] | None = None) -> Key:
    merchant = "m-" + secrets.token_hex(6)
    key, _ = await keys.create_key(db, merchant=merchant, channels=channels)
    return Key(merchant, key)


@pytest.fixture(scope="session")
def cfg_app(settings: Settings, db: Database) -> FastAPI:
    return create_app(
        Settings(
            database_url=settings.database_url,
            database_pgbouncer=settings.database_pgbouncer,
            path_prefix=ORDER_PREFIX,
            configuration_path_prefix=PREFIX,
            access_log=False,
        ),
        db=db,
    )


@pytest.fixture
async def k1(db: Database) -> Key:
    return await make_key(db)


@pytest.fixture
async def cfg(cfg_app: FastAPI, k1: Key) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(cfg_app, k1.headers) as c:
        yield c


def config(name: str, **extra: Any) -> dict[str, Any]:
    """A configuration passing the base schema."""
    return {"$schema": "https://example.test/schemas/configuration.json", "id": name, **extra}


def nonpsp(**extra: Any) -> dict[str, Any]:
    return {
        "$schema": NORCE_SCHEMA,
        "id": "nonpsp_adapter",
        "active": True,
        "methods": [{"identifier": "invoice", "preSelected": True}, {"identifier": "card"}],
        **extra,
    }
