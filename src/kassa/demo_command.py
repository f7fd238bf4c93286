"""``kassa demo``: a whole checkout on this machine in one command (``make demo``).

Migrates a fresh demo database, creates an API key of merchant ``demo`` (channel ``demo``) and
the operator console's admin ``admin``,
writes the three adapter configurations through the Configuration API (in-process, with the
storefront's key), mounts the Non-PSP and both sandbox adapters, prints the storefront's URL and
serves. Nothing outside the machine is needed.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from kassa.config import Settings

ADAPTERS = ("nonpsp_adapter", "kassa_sandbox_psp_adapter", "kassa_sandbox_shipping_adapter")
DEFAULT_DATABASE = "sqlite+aiosqlite:///./kassa-demo.db"
CONSOLE_OPERATOR = "admin"


@dataclass(frozen=True)
class Prepared:
    api_key: str
    written: list[str]  # configurations written
    console_password: str | None  # of the console's operator "admin"; None: it existed


def sqlite_path(url: str) -> Path | None:
    for scheme in ("sqlite+aiosqlite:///", "sqlite:///"):
        if url.startswith(scheme):
            return Path(url.removeprefix(scheme).split("?", 1)[0])
    return None


def remove_sqlite(url: str) -> bool:
    """Delete a SQLite database file (and its WAL files); whether there was one."""
    path = sqlite_path(url)
    if path is None or not path.exists():
        return False
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return True


def demo_environment(database: str, host: str | None, port: int | None) -> None:
    """The settings of the demo server (its worker processes read the environment)."""
    os.environ["KASSA_DATABASE_URL"] = database
    os.environ["KASSA_BUILTIN_ADAPTERS"] = ",".join(ADAPTERS)
    # the sandbox PSP's pushes travel through the delivery loop: run it in the server
    os.environ.setdefault("KASSA_RUN_DELIVERY_IN_API", "true")
    if host is not None:
        os.environ["KASSA_HOST"] = host
    if port is not None:
        os.environ["KASSA_PORT"] = str(port)


async def prepare(settings: Settings) -> Prepared:
    """Migrate, create the demo API key, write the configurations."""
    from kassa.app import create_app
    from kassa.auth import keys
    from kassa.console import accounts
    from kassa.db import migrate
    from kassa.db.engine import Database
    from kassa.demo import setup
    from kassa.demo_host import shop_for

    db = Database(settings.database_url, pool_size=2, pgbouncer=settings.database_pgbouncer)
    try:
        await migrate.upgrade(db)
        api_key, _ = await keys.create_key(
            db,
            merchant=setup.MERCHANT,
            channels=[setup.CHANNEL],
            name=f"demo-{secrets.token_hex(3)}",
        )
        password = None
        if await accounts.get_operator(db, CONSOLE_OPERATOR) is None:
            _, password = await accounts.create_operator(
                db, CONSOLE_OPERATOR, merchant=setup.MERCHANT, role=accounts.Role.admin
            )
        app = create_app(settings, db=db)
        shop, _ = shop_for(app, settings, db)
        try:
            written = await setup.provision(shop)
        finally:
            await shop.client.aclose()
    finally:
        await db.dispose()
    return Prepared(api_key, written, password)


def banner(settings: Settings, prepared: Prepared) -> str:
    from kassa.demo.checkout import CARDS

    base = f"http://{settings.host}:{settings.port}"
    api = base + settings.path_prefix
    cards = "\n".join(
        f"    {' '.join(n[i : i + 4] for i in range(0, 16, 4))}  {s}" for n, s in CARDS.items()
    )
    if prepared.console_password is None:
        login = f"operator '{CONSOLE_OPERATOR}' (kept from an earlier run)"
    else:
        login = f"operator '{CONSOLE_OPERATOR}', password {prepared.console_password}"
    return f"""
kassa demo: a sandbox checkout, no real money and no real parcels.

  storefront:   {base}/demo
  console:      {base}/console  ({login})
  Order API:    {api}/api/v0/checkout/orders  (docs: {api}/docs)
  API key of merchant 'demo', channel 'demo' (shown once):
    {prepared.api_key}
  try:  curl -H 'Authorization: Bearer {prepared.api_key}' -H 'x-merchant: demo' \\
             -H 'x-channel: demo' {api}/api/v0/checkout/orders

  test cards (any expiry, any CVC):
{cards}
  or pay by invoice (the Non-PSP adapter). docs/demo.md walks through it.
"""


def run(
    database: str | None, host: str | None, port: int | None, keep: bool
) -> tuple[Settings, Prepared]:
    """Everything before serving; the settings to serve with and what was prepared."""
    url = database or os.environ.get("KASSA_DEMO_DATABASE_URL") or DEFAULT_DATABASE
    demo_environment(url, host, port)
    settings = Settings.from_env()
    if not keep:
        remove_sqlite(url)
    return settings, asyncio.run(prepare(settings))
