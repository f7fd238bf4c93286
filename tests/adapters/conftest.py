"""Fixtures of the adapter tests: kassa with the Non-PSP adapter mounted in-process, laid out
as adapters.md §9 sets it up (``path_prefix=/checkout/order``, the Configuration API below
``/checkout/configuration``), and a tenant whose key covers every channel of its merchant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kassa.app import create_app
from kassa.config import Settings
from kassa.db.engine import Database
from tests.adapters.support import SECRET
from tests.conftest import Tenant, client_for, make_tenant


def adapter_settings(settings: Settings, **overrides: Any) -> Settings:
    from dataclasses import replace

    base = replace(
        settings,
        path_prefix="/checkout/order",
        configuration_path_prefix="/checkout/configuration",
        webhook_secret=SECRET,
    )
    return replace(base, **overrides)


@pytest.fixture(scope="session")
def adapter_app(settings: Settings, db: Database) -> FastAPI:
    return create_app(adapter_settings(settings), db=db)


@pytest.fixture
async def shop(db: Database) -> Tenant:
    """Merchant ``m-…`` with a key for all its channels, acting on channel ``se``."""
    return await make_tenant(db, channel="se", channels=[])


@pytest.fixture
async def storefront(adapter_app: FastAPI, shop: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(adapter_app, shop.headers) as c:
        yield c


BUILTIN = ("nonpsp_adapter", "kassa_sandbox_psp_adapter")


@pytest.fixture(scope="session")
def sandbox_app(settings: Settings, db: Database) -> FastAPI:
    return create_app(adapter_settings(settings, builtin_adapters=BUILTIN), db=db)


@pytest.fixture
async def buyer(sandbox_app: FastAPI, shop: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(sandbox_app, shop.headers) as c:
        yield c
