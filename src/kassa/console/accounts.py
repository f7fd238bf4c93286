"""Operator accounts, console sessions and login throttling: the only module that knows the
``operators``, ``console_sessions`` and ``login_failures`` tables.

Passwords are argon2id hashes (argon2-cffi); hashing runs in a thread, off the event loop.
A session is a random token in a cookie; the table keeps its SHA-256, the operator, the CSRF
token of its forms and when it was last used (inactivity expiry).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from kassa.auth.keys import Grant
from kassa.db.engine import Database
from kassa.db.tables import console_sessions, login_failures, operators
from kassa.errors import InvalidRequest
from kassa.timeutil import fmt, now

_hasher = PasswordHasher()
# verifying against this keeps an unknown name as slow as a wrong password
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))

THROTTLE_WINDOW_MS = 60_000
THROTTLE_LIMIT = 5  # failures per window, per account and per address
MIN_PASSWORD = 12
TOUCH_MS = 60_000


class Role(StrEnum):
    viewer = "viewer"
    operator = "operator"
    admin = "admin"

    def at_least(self, other: Role) -> bool:
        order = [Role.viewer, Role.operator, Role.admin]
        return order.index(self) >= order.index(other)


@dataclass(frozen=True)
class Operator:
    name: str
    merchant: str
    channels: tuple[str, ...] | None  # None: every channel of the merchant
    role: Role
    created: str
    disabled: str | None

    @property
    def grant(self) -> Grant:
        return Grant(self.merchant, self.channels)


@dataclass(frozen=True)
class Session:
    operator: Operator
    csrf: str
    token_hash: str


def _now_ms() -> int:
    return int(time.time() * 1000)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_password() -> str:
    return secrets.token_urlsafe(15)


def _operator(row: object) -> Operator:
    channels = getattr(row, "channels", None)
    return Operator(
        name=row.name,  # type: ignore[attr-defined]
        merchant=row.merchant,  # type: ignore[attr-defined]
        channels=tuple(orjson.loads(channels)) if channels else None,
        role=Role(row.role),  # type: ignore[attr-defined]
        created=row.created,  # type: ignore[attr-defined]
        disabled=row.disabled,  # type: ignore[attr-defined]
    )


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidRequest(f"A password needs at least {MIN_PASSWORD} characters.")


async def create_operator(
    db: Database,
    name: str,
    *,
    merchant: str,
    role: Role = Role.viewer,
    channels: list[str] | None = None,
    password: str | None = None,
) -> tuple[Operator, str]:
    """Create an operator; returns it and its password (generated unless given)."""
    if not 1 <= len(name) <= 128 or not 1 <= len(merchant) <= 128:
        raise InvalidRequest("name and merchant must be 1-128 characters.")
    password = password or new_password()
    _check_password(password)
    hashed = await asyncio.to_thread(_hasher.hash, password)
    created = fmt(now())
    statement = insert(operators).values(
        name=name,
        merchant=merchant,
        channels=orjson.dumps(channels).decode() if channels else None,
        role=role.value,
        password_hash=hashed,
        created=created,
    )
    try:
        await db.write(lambda conn: conn.execute(statement))
    except IntegrityError as exc:
        raise InvalidRequest(f"An operator named {name!r} already exists.") from exc
    chans = tuple(channels) if channels else None
    return Operator(name, merchant, chans, role, created, None), password


async def get_operator(db: Database, name: str) -> Operator | None:
    statement = select(operators).where(operators.c.name == name)
    row = await db.read(lambda conn: conn.execute(statement).first())
    return _operator(row) if row is not None else None


async def list_operators(db: Database, merchant: str | None = None) -> list[Operator]:
    statement = select(operators).order_by(operators.c.merchant, operators.c.name)
    if merchant is not None:
        statement = statement.where(operators.c.merchant == merchant)
    rows = await db.read(lambda conn: conn.execute(statement).all())
    return [_operator(row) for row in rows]


async def disable_operator(db: Database, name: str, merchant: str | None = None) -> bool:
    """Disable an operator and end its sessions at once."""
    where = [operators.c.name == name, operators.c.disabled.is_(None)]
    if merchant is not None:
        where.append(operators.c.merchant == merchant)
    disable = update(operators).where(*where).values(disabled=fmt(now()))
    end = delete(console_sessions).where(console_sessions.c.operator == name)

    def job(conn: object) -> bool:
        done = bool(conn.execute(disable).rowcount)  # type: ignore[attr-defined]
        if done:
            conn.execute(end)  # type: ignore[attr-defined]
        return done

    return await db.write(job)


async def reset_password(db: Database, name: str, password: str | None = None) -> str | None:
    """A new password for an operator (its sessions end); ``None`` when there is no such one."""
    password = password or new_password()
    _check_password(password)
    hashed = await asyncio.to_thread(_hasher.hash, password)
    change = update(operators).where(operators.c.name == name).values(password_hash=hashed)
    end = delete(console_sessions).where(console_sessions.c.operator == name)

    def job(conn: object) -> bool:
        done = bool(conn.execute(change).rowcount)  # type: ignore[attr-defined]
        conn.execute(end)  # type: ignore[attr-defined]
        return done

    return password if await db.write(job) else None


# Login throttling -------------------------------------------------------------------------------


def throttle_keys(name: str, address: str) -> list[str]:
    return [f"account:{name[:200]}", f"address:{address[:200]}"]


async def throttled(db: Database, name: str, address: str) -> bool:
    """True when the account or the address failed ``THROTTLE_LIMIT`` times in the window."""
    since = _now_ms() - THROTTLE_WINDOW_MS
    statement = (
        select(login_failures.c.key, func.count())
        .where(login_failures.c.key.in_(throttle_keys(name, address)))
        .where(login_failures.c.at_ms > since)
        .group_by(login_failures.c.key)
    )
    rows = await db.read(lambda conn: conn.execute(statement).all())
    return any(count >= THROTTLE_LIMIT for _, count in rows)


async def record_failure(db: Database, name: str, address: str) -> None:
    at = _now_ms()
    rows = [{"key": key, "at_ms": at} for key in throttle_keys(name, address)]
    purge = delete(login_failures).where(login_failures.c.at_ms < at - 10 * THROTTLE_WINDOW_MS)

    def job(conn: object) -> None:
        conn.execute(insert(login_failures), rows)  # type: ignore[attr-defined]
        conn.execute(purge)  # type: ignore[attr-defined]

    await db.write(job)


# Authentication and sessions --------------------------------------------------------------------


async def verify(db: Database, name: str, password: str) -> Operator | None:
    """The operator when the name and password match an enabled account."""
    statement = select(operators).where(operators.c.name == name)
    row = await db.read(lambda conn: conn.execute(statement).first())
    hashed = row.password_hash if row is not None else _DUMMY_HASH
    try:
        await asyncio.to_thread(_hasher.verify, hashed, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled is not None:
        return None
    return _operator(row)


async def open_session(db: Database, operator: Operator) -> str:
    """A new session for ``operator``; returns the cookie's token."""
    token = secrets.token_urlsafe(32)
    at = _now_ms()
    statement = insert(console_sessions).values(
        token_hash=_hash_token(token),
        operator=operator.name,
        csrf=secrets.token_urlsafe(32),
        created_ms=at,
        seen_ms=at,
    )
    await db.write(lambda conn: conn.execute(statement))
    return token


async def resume_session(db: Database, token: str, idle_s: float) -> Session | None:
    """The live session of a cookie token, its last use moved to now; ``None`` when unknown,
    idle for longer than ``idle_s``, or its operator was disabled."""
    token_hash = _hash_token(token)
    at = _now_ms()
    statement = (
        select(console_sessions.c.csrf, console_sessions.c.seen_ms, operators)
        .join(operators, operators.c.name == console_sessions.c.operator)
        .where(console_sessions.c.token_hash == token_hash)
    )
    row = await db.read(lambda conn: conn.execute(statement).first())
    if row is None:
        return None
    if row.disabled is not None or at - row.seen_ms > idle_s * 1000:
        await end_session(db, token)
        return None
    # at most one write a minute per session: the idle limit is counted in minutes, and every
    # write ends the list totals remembered for the current snapshot (orders.repository)
    if at - row.seen_ms > min(TOUCH_MS, idle_s * 500):
        touch = (
            update(console_sessions)
            .where(console_sessions.c.token_hash == token_hash)
            .values(seen_ms=at)
        )
        await db.write(lambda conn: conn.execute(touch))
    return Session(_operator(row), row.csrf, token_hash)


async def end_session(db: Database, token: str) -> None:
    statement = delete(console_sessions).where(console_sessions.c.token_hash == _hash_token(token))
    await db.write(lambda conn: conn.execute(statement))


def same_token(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())
