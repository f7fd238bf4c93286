"""API key storage and lookup. Keys are never stored, only their SHA-256 hex digest.

Lookups are not cached, so a revocation takes effect on the next request (api §1.4).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from kassa.db.engine import Database
from kassa.db.tables import api_keys
from kassa.errors import Forbidden, InvalidRequest, MissingHeader, Unauthorized
from kassa.timeutil import fmt, now

KEY_PREFIX = "kassa_"
# the stored merchant of a service key (adapters.md §2.2): valid for every merchant. No real
# merchant can be empty (x-merchant is 1-128 characters).
ALL_MERCHANTS = ""


@dataclass(frozen=True)
class ApiKey:
    name: str
    merchant: str  # ALL_MERCHANTS: a service key
    channels: tuple[str, ...] | None  # None: every channel
    adapter_id: str | None
    created: str
    revoked: str | None


@dataclass(frozen=True)
class Grant:
    """The tenants a key may act for: one merchant, and its channels (``None``: every one)."""

    merchant: str
    channels: tuple[str, ...] | None

    def admits(self, merchant: str, channel: str | None = None) -> bool:
        """The tenancy rule of every route (api §1.4, adapters §2.1): ``channel`` ``None``
        checks the merchant only."""
        if self.merchant != ALL_MERCHANTS and merchant != self.merchant:
            return False
        return channel is None or self.channels is None or channel in self.channels


@dataclass(frozen=True)
class Principal:
    """Who is calling, for which tenant."""

    key_name: str
    merchant: str
    channel: str
    key_channels: tuple[str, ...] | None
    adapter_header: str | None  # x-adapterid as sent
    actor_adapter: str | None  # x-adapterid, else the key's adapterId


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _row_to_key(row: object) -> ApiKey:
    channels = getattr(row, "channels", None)
    return ApiKey(
        name=row.name,  # type: ignore[attr-defined]
        merchant=row.merchant,  # type: ignore[attr-defined]
        channels=tuple(orjson.loads(channels)) if channels else None,
        adapter_id=row.adapter_id,  # type: ignore[attr-defined]
        created=row.created,  # type: ignore[attr-defined]
        revoked=row.revoked,  # type: ignore[attr-defined]
    )


async def create_key(
    db: Database,
    *,
    merchant: str,
    channels: list[str] | None = None,
    name: str | None = None,
    adapter_id: str | None = None,
    all_merchants: bool = False,
) -> tuple[str, ApiKey]:
    if all_merchants:
        if merchant:
            raise InvalidRequest("a key for all merchants names no merchant")
        if not adapter_id:
            raise InvalidRequest("a key for all merchants needs an adapter id")
        merchant = ALL_MERCHANTS
    elif not merchant:
        raise InvalidRequest("merchant must not be empty")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    name = name or f"{merchant or adapter_id}-{secrets.token_hex(4)}"
    created = fmt(now())
    statement = insert(api_keys).values(
        name=name,
        key_hash=hash_key(key),
        merchant=merchant,
        channels=orjson.dumps(channels).decode() if channels else None,
        adapter_id=adapter_id,
        created=created,
    )
    try:
        await db.write(lambda conn: conn.execute(statement))
    except IntegrityError as exc:
        raise InvalidRequest(f"An API key named {name!r} already exists.") from exc
    return key, ApiKey(
        name, merchant, tuple(channels) if channels else None, adapter_id, created, None
    )


async def list_keys(db: Database) -> list[ApiKey]:
    rows = await db.read(lambda conn: conn.execute(select(api_keys).order_by(api_keys.c.id)).all())
    return [_row_to_key(row) for row in rows]


async def revoke_key(db: Database, name: str) -> bool:
    statement = (
        update(api_keys)
        .where(api_keys.c.name == name, api_keys.c.revoked.is_(None))
        .values(revoked=fmt(now()))
    )
    return await db.write(lambda conn: bool(conn.execute(statement).rowcount))


async def register_key(db: Database, *, name: str, key: str, adapter_id: str) -> bool:
    """Make ``key`` the service key called ``name`` (adapters.md §2.2), if it is not already.

    A key of that name with the same hash is left as it is, revoked or not (a revoked built-in
    key stays revoked); one with another hash (a new ``adapter_key_secret``) is replaced by the
    new key. Returns whether anything was written.
    """
    key_hash = hash_key(key)
    found = select(api_keys.c.key_hash).where(api_keys.c.name == name)
    row = await db.read(lambda conn: conn.execute(found).first())
    if row is not None and row.key_hash == key_hash:
        return False
    values = {
        "key_hash": key_hash,
        "merchant": ALL_MERCHANTS,
        "channels": None,
        "adapter_id": adapter_id,
        "created": fmt(now()),
        "revoked": None,
    }
    if row is None:
        statement: Any = insert(api_keys).values(name=name, **values)
    else:
        statement = update(api_keys).where(api_keys.c.name == name).values(**values)
    try:
        await db.write(lambda conn: conn.execute(statement))
    except IntegrityError:  # another process registered it first
        return False
    return True


async def key_is_valid(db: Database, key: str) -> bool:
    statement = select(api_keys.c.revoked).where(api_keys.c.key_hash == hash_key(key))
    row = await db.read(lambda conn: conn.execute(statement).first())
    return row is not None and row.revoked is None


# A key by its hash. Callers may join one more row to it (see ``orders.repository``): the
# first six columns stay these.
LOOKUP = (
    "SELECT name, merchant, channels, adapter_id, created, revoked FROM api_keys"
    " WHERE key_hash = :key_hash"
)


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    value = authorization.strip()
    scheme, _, rest = value.partition(" ")
    if rest and scheme.lower() == "bearer":
        value = rest.strip()
    return value or None


def lookup_params(authorization: str | None) -> dict[str, str]:
    """The parameters of ``LOOKUP`` for an Authorization header; 401 when there is no key."""
    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized("Missing API key (Authorization header).")
    return {"key_hash": hash_key(token)}


async def authenticate_path(
    db: Database,
    *,
    authorization: str | None,
    merchant: str,
    channel: str | None,
    adapter: str | None,
) -> Principal:
    """``path_principal_of`` for an Authorization header."""
    row = await db.fetch_one(LOOKUP, lookup_params(authorization))
    return path_principal_of(row, merchant=merchant, channel=channel, adapter=adapter)


async def authenticate(
    db: Database,
    *,
    authorization: str | None,
    merchant: str | None,
    channel: str | None,
    adapter: str | None,
    channel_required: bool = True,
) -> Principal:
    """Resolve the caller, in the error precedence of api §1.9: 401, then 400, then 403."""
    row = await db.fetch_one(LOOKUP, lookup_params(authorization))
    return principal_of(
        row,
        merchant=merchant,
        channel=channel,
        adapter=adapter,
        channel_required=channel_required,
    )


def principal_of(
    row: Sequence[Any] | None,
    *,
    merchant: str | None,
    channel: str | None,
    adapter: str | None,
    channel_required: bool = True,
) -> Principal:
    """Check the headers against a key row (the first six columns of ``LOOKUP``)."""
    if row is None or row[5] is not None:
        raise Unauthorized()
    if not merchant or len(merchant) > 128:
        raise MissingHeader("The x-merchant header is required (1-128 characters).")
    if channel_required and (not channel or len(channel) > 128):
        raise MissingHeader("The x-channel header is required (1-128 characters).")
    return _principal(row, merchant, channel if channel_required else None, channel, adapter)


def path_principal_of(
    row: Sequence[Any] | None, *, merchant: str, channel: str | None, adapter: str | None
) -> Principal:
    """The caller of a route that names its tenant in the path (the Configuration API,
    adapters §2.1): ``x-merchant`` and ``x-channel`` play no part; 401, then 403."""
    if row is None or row[5] is not None:
        raise Unauthorized()
    if len(merchant) > 128 or (channel is not None and len(channel) > 128):
        raise Forbidden()  # no key is valid for a tenant that cannot exist
    return _principal(row, merchant, channel, channel, adapter)


def _principal(
    row: Sequence[Any],
    merchant: str,
    checked: str | None,  # the channel the key must admit; None: the merchant only
    channel: str | None,  # the request's channel, as the principal shows it
    adapter: str | None,
) -> Principal:
    name, key_merchant, channels, adapter_id = row[0], row[1], row[2], row[3]
    key_channels = tuple(orjson.loads(channels)) if channels else None
    if not Grant(key_merchant, key_channels).admits(merchant, checked):
        raise Forbidden()
    if adapter is not None and len(adapter) > 128:
        raise InvalidRequest("x-adapterid must be at most 128 characters.")
    return Principal(
        key_name=name,
        merchant=merchant,
        channel=channel or "",
        key_channels=key_channels,
        adapter_header=adapter or None,
        actor_adapter=adapter or adapter_id,
    )
