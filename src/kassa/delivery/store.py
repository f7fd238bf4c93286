"""The delivery loop's side of the events tables (semantics §7.6-7.8, §14).

- ``claim``: due events, leased to one claim token in one short transaction. An event is due
  when it is pending, ``next_attempt_ms`` has come, its lease is free or expired, and no other
  pending event of its order has a lower sequence or is in flight (per-order FIFO, at most one in
  flight per order). PostgreSQL locks the candidates ``FOR UPDATE SKIP LOCKED``, so concurrent
  workers claim disjoint sets; SQLite runs the claim inside the writer's ``BEGIN IMMEDIATE``,
  which already excludes every other writer, and the lease UPDATE is a compare-and-set as well.
- ``record``: finished attempts of one batch in one transaction, each only while the event is
  still leased to the token that claimed it (else another worker owns it now; the result is
  dropped).
- ``purge``: terminal events past retention, with their attempts.
- ``take_lease``/``release_lease``: a named lease row; on SQLite the single delivery loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from kassa.db.engine import Database
from kassa.db.tables import event_attempts, events, leases
from kassa.delivery.schedule import Classified, decide
from kassa.events.repository import MANUAL_IN_FLIGHT


@dataclass(frozen=True)
class Claimed:
    id: str
    merchant: str
    channel: str
    order_id: str
    invoke: str
    payload: str
    manual: bool
    token: str


@dataclass(frozen=True)
class Finished:
    """One attempt, done, waiting to be recorded."""

    event: Claimed
    started_ms: int
    started_at: str
    finished_ms: int
    duration_ms: int
    result: Classified
    rand: float  # jitter draw for the retry delay


def _due(now_ms: int) -> list[Any]:
    other = events.alias("other")
    blocked = (
        select(other.c.id)
        .where(
            other.c.order_id == events.c.order_id,
            # status wrapped so that no planner looks through every pending event (the status
            # index) for each candidate instead of through the candidate's order
            func.coalesce(other.c.status, "") == "pending",
            other.c.id != events.c.id,
            or_(other.c.sequence < events.c.sequence, other.c.lease_until_ms >= now_ms),
        )
        .exists()
    )
    return [
        events.c.status == "pending",
        events.c.next_attempt_ms <= now_ms,
        or_(events.c.lease_until_ms.is_(None), events.c.lease_until_ms < now_ms),
        ~blocked,
    ]


# ``_due`` in plain SQL, for the check the SQLite loop makes before every claim (building and
# compiling the statement costs about a hundred times the lookup)
_DUE_EXISTS = (
    "SELECT e.id FROM events AS e"
    " WHERE e.status = 'pending' AND e.next_attempt_ms <= :now"
    " AND (e.lease_until_ms IS NULL OR e.lease_until_ms < :now)"
    " AND NOT EXISTS (SELECT 1 FROM events AS other"
    " WHERE other.order_id = e.order_id AND coalesce(other.status, '') = 'pending'"
    " AND other.id != e.id AND (other.sequence < e.sequence OR other.lease_until_ms >= :now))"
    " LIMIT 1"
)


async def due_exists(db: Database, now_ms: int) -> bool:
    """Whether ``claim`` would find anything (a cheap point read before taking the write lock,
    for the SQLite loop)."""
    return await db.fetch_one(_DUE_EXISTS, {"now": now_ms}) is not None


def claim(conn: Connection, token: str, now_ms: int, lease_ms: int, limit: int) -> list[Claimed]:
    candidates = (
        select(
            events.c.id,
            events.c.merchant,
            events.c.channel,
            events.c.order_id,
            events.c.invoke,
            events.c.payload,
            events.c.manual,
        )
        .where(*_due(now_ms))
        .order_by(events.c.next_attempt_ms)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True, of=events)
    rows = conn.execute(candidates).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    conn.execute(
        update(events)
        .where(
            events.c.id.in_(ids),
            events.c.status == "pending",
            or_(events.c.lease_until_ms.is_(None), events.c.lease_until_ms < now_ms),
        )
        .values(
            lease_owner=token,
            lease_until_ms=now_ms + lease_ms,
            # a request made during an earlier, abandoned attempt is simply a manual attempt
            manual=case((events.c.manual == MANUAL_IN_FLIGHT, 1), else_=events.c.manual),
        )
    )
    owned = {
        row.id
        for row in conn.execute(
            select(events.c.id).where(events.c.id.in_(ids), events.c.lease_owner == token)
        )
    }
    return [
        Claimed(
            row.id,
            row.merchant,
            row.channel,
            row.order_id,
            row.invoke,
            row.payload,
            bool(row.manual),
            token,
        )
        for row in rows
        if row.id in owned
    ]


_UPDATE = (
    update(events)
    .where(events.c.id == bindparam("k_id"), events.c.lease_owner == bindparam("k_token"))
    .values(
        status=bindparam("k_status"),
        attempt_count=bindparam("k_number"),
        last_attempt_at=bindparam("k_started_at"),
        last_status_code=bindparam("k_status_code"),
        next_attempt_ms=bindparam("k_next"),
        first_attempt_ms=bindparam("k_first"),
        terminal_ms=bindparam("k_terminal"),
        manual=bindparam("k_manual"),
        replay=bindparam("k_replay"),
        lease_owner=None,
        lease_until_ms=None,
    )
)


def record(conn: Connection, finished: list[Finished], max_age_ms: int) -> dict[str, str]:
    """Store the attempts and the events' new state; returns event id → new status for every
    attempt recorded (attempts whose lease was lost are left out)."""
    if not finished:
        return {}
    ids = sorted({f.event.id for f in finished})
    current = (
        select(
            events.c.id,
            events.c.lease_owner,
            events.c.manual,
            events.c.replay,
            events.c.attempt_count,
            events.c.first_attempt_ms,
        )
        .where(events.c.id.in_(ids))
        .order_by(events.c.id)
    )
    if conn.dialect.name == "postgresql":
        current = current.with_for_update()
    rows = {row.id: row for row in conn.execute(current)}
    attempts: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    outcome: dict[str, str] = {}
    for item in finished:
        row = rows.get(item.event.id)
        if row is None or row.lease_owner != item.event.token:
            continue
        number = row.attempt_count + 1
        first = row.first_attempt_ms if row.first_attempt_ms is not None else item.started_ms
        decision = decide(
            item.result.verdict,
            attempt_number=number,
            replay=bool(row.replay),
            first_attempt_ms=first,
            now_ms=item.finished_ms,
            max_age_ms=max_age_ms,
            retry_after=item.result.retry_after_s,
            rand=item.rand,
        )
        status, next_ms, manual = decision.status, decision.next_attempt_ms, 0
        if row.manual == MANUAL_IN_FLIGHT and status != "succeeded":
            # operation 38 arrived while this attempt was in flight: its attempt is next, now
            status, next_ms, manual = "pending", item.finished_ms, 1
        pending = status == "pending"
        attempts.append(
            {
                "event_id": item.event.id,
                "number": number,
                "trigger": "manual" if item.event.manual else "automatic",
                "started_at": item.started_at,
                "duration_ms": item.duration_ms,
                "outcome": item.result.outcome,
                "status_code": item.result.status_code,
                "error": item.result.error,
                "response_excerpt": item.result.excerpt,
            }
        )
        changes.append(
            {
                "k_id": item.event.id,
                "k_token": item.event.token,
                "k_status": status,
                "k_number": number,
                "k_started_at": item.started_at,
                "k_status_code": item.result.status_code,
                "k_next": next_ms if pending else None,
                "k_first": first,
                "k_terminal": None if pending else item.finished_ms,
                "k_manual": manual,
                "k_replay": row.replay if pending else 0,
            }
        )
        outcome[item.event.id] = status
    if attempts:
        conn.execute(insert(event_attempts), attempts)
        conn.execute(_UPDATE, changes)
    return outcome


def purge(conn: Connection, cutoff_ms: int, limit: int) -> int:
    """Delete up to ``limit`` terminal events that became terminal before ``cutoff_ms``."""
    ids = [
        row.id
        for row in conn.execute(
            select(events.c.id)
            .where(events.c.terminal_ms < cutoff_ms, events.c.status != "pending")
            .limit(limit)
        )
    ]
    if ids:
        conn.execute(delete(event_attempts).where(event_attempts.c.event_id.in_(ids)))
        conn.execute(delete(events).where(events.c.id.in_(ids)))
    return len(ids)


def pending_count(conn: Connection) -> int:
    statement = select(func.count()).select_from(events).where(events.c.status == "pending")
    return int(conn.execute(statement).scalar_one())


def take_lease(conn: Connection, name: str, holder: str, now_ms: int, ttl_ms: int) -> bool:
    """Take or renew the lease ``name`` for ``holder`` unless someone else holds it alive."""
    renewed = conn.execute(
        update(leases)
        .where(
            leases.c.name == name,
            or_(leases.c.holder == holder, leases.c.expires_ms < now_ms),
        )
        .values(holder=holder, expires_ms=now_ms + ttl_ms)
    )
    if renewed.rowcount:
        return True
    try:
        with conn.begin_nested():
            conn.execute(
                insert(leases).values(name=name, holder=holder, expires_ms=now_ms + ttl_ms)
            )
    except IntegrityError:
        return False
    return True


def release_lease(conn: Connection, name: str, holder: str) -> None:
    conn.execute(
        update(leases).where(leases.c.name == name, leases.c.holder == holder).values(expires_ms=0)
    )
