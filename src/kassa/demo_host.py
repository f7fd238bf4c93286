"""The demo storefront inside kassa (``/demo``), served only while the sandbox adapters are
mounted (they take no real money; neither does the shop). Otherwise ``/demo`` answers 404.

The storefront acts with its own key ``builtin:demo-storefront`` for merchant ``demo``, channel
``demo``: base64url(HMAC-SHA256(``adapter_key_secret``, that name)), like the built-in adapters'
keys, registered (only its hash) at first use. Its requests reach kassa by loopback dispatch.
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from kassa.adapter_host import LOOPBACK_ORIGIN, builtin_key, key_secret, loopback_client
from kassa.auth import keys
from kassa.config import Settings
from kassa.db.engine import Database
from kassa.demo import setup, storefront
from kassa.demo.shop import Endpoints, Shop
from kassa.state import AppState

KEY_NAME = "builtin:demo-storefront"
SANDBOX_ADAPTERS = ("kassa_sandbox_psp_adapter", "kassa_sandbox_shipping_adapter")


def wanted(settings: Settings) -> bool:
    """The storefront is served exactly when both sandbox adapters are mounted."""
    return all(name in settings.builtin_adapters for name in SANDBOX_ADAPTERS)


class StorefrontKey:
    """The storefront's key: derived, and registered once per process."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings, self.db = settings, db
        self.value: str | None = None
        self.lock = asyncio.Lock()

    async def secret(self) -> str:
        return await key_secret(self.settings, self.db)

    async def __call__(self) -> str:
        if self.value is None:
            async with self.lock:
                if self.value is None:
                    key = builtin_key(await self.secret(), KEY_NAME.removeprefix("builtin:"))
                    await keys.register_key(
                        self.db,
                        name=KEY_NAME,
                        key=key,
                        adapter_id=None,
                        merchant=setup.MERCHANT,
                        channels=[setup.CHANNEL],
                    )
                    self.value = key
        return self.value


def endpoints(settings: Settings, origin: str = LOOPBACK_ORIGIN) -> Endpoints:
    return Endpoints(
        orders=origin + settings.path_prefix,
        configuration=origin + settings.configuration_path_prefix,
        nonpsp=origin + settings.nonpsp_adapter_path_prefix,
        psp=origin + settings.sandbox_psp_path_prefix,
        shipping=origin + settings.sandbox_shipping_path_prefix,
    )


def shop_for(app: FastAPI, settings: Settings, db: Database) -> tuple[Shop, StorefrontKey]:
    key = StorefrontKey(settings, db)
    client = loopback_client(settings, app)
    return Shop(client, key, endpoints(settings), setup.MERCHANT, setup.CHANNEL), key


def mount_demo(app: FastAPI, state: AppState, *, force: bool = False) -> Shop | None:
    """Mount the storefront on ``app`` when the sandbox adapters are (or when ``force``)."""
    if not (force or wanted(state.settings)):
        return None
    shop, key = shop_for(app, state.settings, state.db)
    app.include_router(storefront.router(shop, key.secret))
    return shop
