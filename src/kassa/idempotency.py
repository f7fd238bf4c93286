"""Idempotency keys (api §1.10, semantics §9).

A request with ``Idempotency-Key`` first claims the key with an in-flight marker in its own short
transaction. The final record is written by the write itself, in the same transaction as the
change it reports (``complete``); a non-2xx outcome deletes the marker (``release``).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from kassa import jsonutil
from kassa.db.engine import Database
from kassa.db.tables import idempotency
from kassa.errors import IdempotencyKeyInFlight, IdempotencyKeyReuse, InvalidRequest

IN_FLIGHT_TTL_MS = 5 * 60 * 1000
RECORDED_HEADERS = ("content-type", "location", "etag")


@dataclass
class Outcome:
    """A successful response, as sent and as recorded for replays."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Claim:
    merchant: str
    key: str
    fingerprint: str


def check_key(value: str) -> str:
    if not 1 <= len(value) <= 255 or any(not 0x21 <= ord(ch) <= 0x7E for ch in value):
        raise InvalidRequest(
            "Idempotency-Key must be 1-255 printable ASCII characters.",
            errors=[{"path": "header:Idempotency-Key", "message": "invalid value"}],
        )
    return value


def fingerprint(method: str, path: str, channel: str, adapter: str | None, body: Any) -> str:
    digest = hashlib.sha256()
    for part in (method, path, channel, adapter or ""):
        digest.update(part.encode())
        digest.update(b"\x00")
    if body is not ABSENT:
        digest.update(jsonutil.canonical(body))
    return digest.hexdigest()


class _Absent:
    pass


ABSENT: Any = _Absent()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _claim(conn: Connection, marker: dict[str, Any]) -> Claim | Outcome:
    merchant, key, fp = marker["merchant"], marker["key"], marker["fingerprint"]
    where = (idempotency.c.merchant == merchant, idempotency.c.key == key)
    for _ in range(3):
        row = conn.execute(select(idempotency).where(*where)).first()
        if row is None:
            try:
                with conn.begin_nested():
                    conn.execute(insert(idempotency).values(**marker))
            except IntegrityError:
                continue  # claimed concurrently: look again
            return Claim(merchant, key, fp)
        if row.expires_at <= marker["started_at"]:
            conn.execute(update(idempotency).where(*where).values(**marker))
            return Claim(merchant, key, fp)
        if row.fingerprint != fp:
            raise IdempotencyKeyReuse()
        if row.state != "done":
            raise IdempotencyKeyInFlight()
        return Outcome(row.status, row.body or b"", orjson.loads(row.headers or "{}"))
    raise IdempotencyKeyInFlight()


async def claim(db: Database, merchant: str, key: str, fp: str) -> Claim | Outcome:
    """Claim ``key`` for a new execution, or return the recorded outcome to replay."""
    now_ms = _now_ms()
    marker = {
        "merchant": merchant,
        "key": key,
        "fingerprint": fp,
        "state": "in-flight",
        "started_at": now_ms,
        "expires_at": now_ms + IN_FLIGHT_TTL_MS,
        "status": None,
        "headers": None,
        "body": None,
    }
    return await db.write(lambda conn: _claim(conn, marker))


def complete(conn: Connection, claim_: Claim | None, outcome: Outcome, retention_s: float) -> None:
    """Turn the marker into the final record, inside the caller's write transaction."""
    if claim_ is None:
        return
    headers = {k: v for k, v in outcome.headers.items() if k.lower() in RECORDED_HEADERS}
    conn.execute(
        update(idempotency)
        .where(idempotency.c.merchant == claim_.merchant, idempotency.c.key == claim_.key)
        .values(
            state="done",
            status=outcome.status,
            headers=orjson.dumps(headers).decode(),
            body=outcome.body,
            expires_at=_now_ms() + int(retention_s * 1000),
        )
    )


async def release(db: Database, claim_: Claim | None) -> None:
    if claim_ is None:
        return
    statement = delete(idempotency).where(
        idempotency.c.merchant == claim_.merchant,
        idempotency.c.key == claim_.key,
        idempotency.c.state == "in-flight",
    )
    await db.write(lambda conn: conn.execute(statement))


async def purge_expired(db: Database) -> int:
    statement = delete(idempotency).where(idempotency.c.expires_at < _now_ms())
    return await db.write(lambda conn: int(conn.execute(statement).rowcount or 0))
