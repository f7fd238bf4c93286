"""Idempotency keys (api §1.10, semantics §9).

A request with ``Idempotency-Key`` first claims the key with an in-flight marker in its own short
transaction. The final record is written by the write itself, in the same transaction as the
change it reports (``complete``); a non-2xx outcome deletes the marker (``release``).

When the database is unavailable the marker may outlive its request: a release that cannot
reach the database, or a claim whose connection was lost around its COMMIT (it may have been
written). Such markers are deleted in the background as soon as the database answers again, so
that the client's retry with the same key runs afresh instead of meeting 409 for 5 minutes.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from kassa import jsonutil
from kassa.db.engine import Database, DatabaseUnavailable, execute
from kassa.db.tables import idempotency
from kassa.errors import (
    IdempotencyKeyInFlight,
    IdempotencyKeyReuse,
    InvalidRequest,
    ServiceUnavailable,
)

log = logging.getLogger("kassa")

IN_FLIGHT_TTL_MS = 5 * 60 * 1000
RELEASE_RETRY_S = 1.0
MAX_PENDING_RELEASES = 10_000  # beyond it, markers are left to expire
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
    started_at: int  # names this marker: a release never deletes a later claim's


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
            return Claim(merchant, key, fp, marker["started_at"])
        if row.expires_at <= marker["started_at"]:
            conn.execute(update(idempotency).where(*where).values(**marker))
            return Claim(merchant, key, fp, marker["started_at"])
        if row.fingerprint != fp:
            raise IdempotencyKeyReuse()
        if row.state != "done":
            raise IdempotencyKeyInFlight()
        return Outcome(row.status, row.body or b"", orjson.loads(row.headers or "{}"))
    raise IdempotencyKeyInFlight()


_COLUMNS = ("merchant", "key", "fingerprint", "state", "started_at", "expires_at")
# PostgreSQL: insert the marker, or take over a record that has expired, in one statement; a
# live record is left as it is (no row: look at it)
_CLAIM = (
    f"INSERT INTO idempotency ({', '.join(_COLUMNS)})"
    f" VALUES ({', '.join(':' + c for c in _COLUMNS)})"
    " ON CONFLICT (merchant, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,"
    " state = EXCLUDED.state, started_at = EXCLUDED.started_at,"
    " expires_at = EXCLUDED.expires_at, status = NULL, headers = NULL, body = NULL"
    " WHERE idempotency.expires_at <= EXCLUDED.started_at"
)
_RECORD = (
    "SELECT fingerprint, state, status, headers, body FROM idempotency"
    " WHERE merchant = :merchant AND key = :key"
)


async def _claim_postgres(db: Database, marker: dict[str, Any]) -> Claim | Outcome:
    """``_claim`` in single statements: one for a new key, two when the key is taken."""
    merchant, key, fp = marker["merchant"], marker["key"], marker["fingerprint"]
    values = {column: marker[column] for column in _COLUMNS}
    for _ in range(3):
        if await db.write_one(_CLAIM, values) == 1:
            return Claim(merchant, key, fp, marker["started_at"])
        row = await db.fetch_one(_RECORD, {"merchant": merchant, "key": key})
        if row is None:
            continue  # released meanwhile: claim again
        taken_fp, state, status, headers, body = row
        if taken_fp != fp:
            raise IdempotencyKeyReuse()
        if state != "done":
            raise IdempotencyKeyInFlight()
        return Outcome(status, body or b"", orjson.loads(headers or "{}"))
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
    try:
        if db.is_sqlite:
            return await db.write(lambda conn: _claim(conn, marker))
        return await _claim_postgres(db, marker)
    except DatabaseUnavailable as exc:
        if exc.reached:  # the marker may have been committed: take it back once we can
            _release_later(db, Claim(merchant, key, fp, now_ms))
        raise


_COMPLETE = (
    "UPDATE idempotency SET state = 'done', status = :idem_status, headers = :idem_headers,"
    " body = :idem_body, expires_at = :idem_expires_at"
    " WHERE merchant = :idem_merchant AND key = :idem_key"
)


def completion(claim_: Claim, outcome: Outcome, retention_s: float) -> tuple[str, dict[str, Any]]:
    """The statement that turns the marker into the final record, and its parameters (names
    that no order statement uses, so that it can join one: ``kassa.unit_of_work``). Its text
    ends with its ``WHERE`` clause."""
    headers = {k: v for k, v in outcome.headers.items() if k.lower() in RECORDED_HEADERS}
    return _COMPLETE, {
        "idem_status": outcome.status,
        "idem_headers": orjson.dumps(headers).decode(),
        "idem_body": outcome.body,
        "idem_expires_at": _now_ms() + int(retention_s * 1000),
        "idem_merchant": claim_.merchant,
        "idem_key": claim_.key,
    }


def complete(conn: Connection, claim_: Claim | None, outcome: Outcome, retention_s: float) -> None:
    """Turn the marker into the final record, inside the caller's write transaction."""
    if claim_ is not None:
        execute(conn, *completion(claim_, outcome, retention_s))


def _delete_markers(conn: Connection, claims: list[Claim]) -> None:
    for claim_ in claims:
        conn.execute(
            delete(idempotency).where(
                idempotency.c.merchant == claim_.merchant,
                idempotency.c.key == claim_.key,
                idempotency.c.state == "in-flight",
                idempotency.c.started_at == claim_.started_at,
            )
        )


async def release(db: Database, claim_: Claim | None, failed: BaseException | None = None) -> None:
    """Delete the in-flight marker of a request that did not succeed (later, if need be).

    ``failed``: what the request failed with; after a 503 the database is in trouble, so the
    answer does not wait for the release.
    """
    if claim_ is None:
        return
    if isinstance(failed, ServiceUnavailable):
        _release_later(db, claim_)
        return
    try:
        await db.write(lambda conn: _delete_markers(conn, [claim_]))
    except DatabaseUnavailable:
        _release_later(db, claim_)


# per database: the markers still to delete, and the one task that retries them
_pending: dict[Database, dict[tuple[str, str], Claim]] = {}
_tasks: set[asyncio.Task[None]] = set()


def _release_later(db: Database, claim_: Claim) -> None:
    pending = _pending.setdefault(db, {})
    if len(pending) >= MAX_PENDING_RELEASES:
        return
    start = not pending
    pending[(claim_.merchant, claim_.key)] = claim_
    if start:
        task = asyncio.get_running_loop().create_task(_release_pending(db, pending))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)


async def _release_pending(db: Database, pending: dict[tuple[str, str], Claim]) -> None:
    try:
        while pending:
            expired = _now_ms() - IN_FLIGHT_TTL_MS
            for name, claim_ in list(pending.items()):
                if claim_.started_at <= expired:  # a new claim may take it over already
                    del pending[name]
            batch = list(pending.values())
            try:
                if batch:
                    await db.write(functools.partial(_delete_markers, claims=batch))
            except DatabaseUnavailable:
                pass
            except Exception:
                log.warning("releasing idempotency keys failed", exc_info=True)
            else:
                for claim_ in batch:
                    name = (claim_.merchant, claim_.key)
                    if pending.get(name) is claim_:
                        del pending[name]
            if pending:
                await asyncio.sleep(RELEASE_RETRY_S)
    finally:
        if _pending.get(db) is pending:
            del _pending[db]


async def purge_expired(db: Database) -> int:
    statement = delete(idempotency).where(idempotency.c.expires_at < _now_ms())
    return await db.write(lambda conn: int(conn.execute(statement).rowcount or 0))
