"""Which secrets sign a merchant's outbound calls (semantics §7.5).

``webhook_secrets`` (merchant → list) wins, then ``webhook_secret``; with neither, a random
deployment secret is generated once and kept in the database (development use).
"""

from __future__ import annotations

import base64
import contextlib
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kassa.db.engine import Database
from kassa.db.tables import kv
from kassa.state import AppState

_KEY = "webhook_secret"


_SELECT = select(kv.c.value).where(kv.c.key == _KEY)


async def deployment_secret(db: Database) -> str:
    row = await db.read(lambda conn: conn.execute(_SELECT).first())
    if row is not None:
        return str(row.value)
    fresh = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with contextlib.suppress(IntegrityError):  # another process created it first
        await db.write(lambda conn: conn.execute(kv.insert().values(key=_KEY, value=fresh)))
    row = await db.read(lambda conn: conn.execute(_SELECT).first())
    assert row is not None
    return str(row.value)


async def secrets_for(state: AppState, merchant: str) -> list[str]:
    settings = state.settings
    if merchant in settings.webhook_secrets:
        return list(settings.webhook_secrets[merchant])
    if settings.webhook_secret:
        return [settings.webhook_secret]
    if state.generated_secret is None:
        state.generated_secret = await deployment_secret(state.db)
    return [state.generated_secret]
