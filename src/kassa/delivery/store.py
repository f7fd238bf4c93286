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
from typing import Any, NamedTuple

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from kassa.db.engine import Database, execute, insert_row, listed, query_all
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


class _Current(NamedTuple):
    """An event's delivery columns as ``record`` reads them."""

    lease_owner: str | None
    manual: int
    replay: int
    attempt_count: int
    first_attempt_ms: int | None


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


# An event is due (module docstring) — in plain SQL, shared by the check and the claim: building
# and compiling these statements with SQLAlchemy cost milliseconds a claim, on the SQLite writer
# thread inside the write lock. ``coalesce(other.status, '')`` keeps any planner from looking
# through every pending event (the status index) for each candidate instead of through the
# candidate's order.
_DUE_WHERE = (
    "e.status = 'pending' AND e.next_attempt_ms <= :now"
    " AND (e.lease_until_ms IS NULL OR e.lease_until_ms < :now)"
    " AND NOT EXISTS (SELECT 1 FROM events AS other"
    " WHERE other.order_id = e.order_id AND coalesce(other.status, '') = 'pending'"
    " AND other.id != e.id AND (other.sequence < e.sequence OR other.lease_until_ms >= :now))"
)
# the check the SQLite loop makes before every claim
_DUE_EXISTS = "SELECT e.id FROM events AS e WHERE " + _DUE_WHERE + " LIMIT 1"
_CANDIDATES = (
    "SELECT e.id, e.merchant, e.channel, e.order_id, e.invoke, e.payload, e.manual"
    " FROM events AS e WHERE " + _DUE_WHERE + " ORDER BY e.next_attempt_ms LIMIT :limit"
)


# lease the candidates to a claim token, each only if still pending and unleased (a
# compare-and-set; ``_OWNED`` then finds the ones it leased)
_LEASE = (
    "UPDATE events SET lease_owner = :token, lease_until_ms = :until,"
    # a request made during an earlier, abandoned attempt is simply a manual attempt
    " manual = CASE WHEN manual = :in_flight THEN 1 ELSE manual END"
    " WHERE id IN ({ids}) AND status = 'pending'"
    " AND (lease_until_ms IS NULL OR lease_until_ms < :now)"
)
_OWNED = "SELECT id FROM events WHERE id IN ({ids}) AND lease_owner = :token"
_CURRENT = (
    "SELECT id, lease_owner, manual, replay, attempt_count, first_attempt_ms FROM events"
    " WHERE id IN ({ids}) ORDER BY id"
)


async def due_exists(db: Database, now_ms: int) -> bool:
    """Whether ``claim`` would find anything (a cheap point read before taking the write lock,
    for the SQLite loop)."""
    return await db.fetch_one(_DUE_EXISTS, {"now": now_ms}) is not None


def claim(conn: Connection, token: str, now_ms: int, lease_ms: int, limit: int) -> list[Claimed]:
    postgres = conn.dialect.name == "postgresql"
    candidates = _CANDIDATES + (" FOR UPDATE OF e SKIP LOCKED" if postgres else "")
    rows = query_all(conn, candidates, {"now": now_ms, "limit": limit})
    if not rows:
        return []
    placeholders, ids = listed("id", [str(row[0]) for row in rows])
    lease = {"until": now_ms + lease_ms, "in_flight": MANUAL_IN_FLIGHT, "now": now_ms}
    execute(conn, _LEASE.format(ids=placeholders), {"token": token, **lease, **ids})
    owned_sql = _OWNED.format(ids=placeholders)
    owned = {row[0] for row in query_all(conn, owned_sql, {"token": token, **ids})}
    return [
        Claimed(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), token)
        for row in rows
        if row[0] in owned
    ]


_UPDATE = (
    "UPDATE events SET status = :k_status, attempt_count = :k_number,"
    " last_attempt_at = :k_started_at, last_status_code = :k_status_code,"
    " next_attempt_ms = :k_next, first_attempt_ms = :k_first, terminal_ms = :k_terminal,"
    " manual = :k_manual, replay = :k_replay, lease_owner = NULL, lease_until_ms = NULL"
    " WHERE id = :k_id AND lease_owner = :k_token"
)


def record(conn: Connection, finished: list[Finished], max_age_ms: int) -> dict[str, str]:
    """Store the attempts and the events' new state; returns event id → new status for every
    attempt recorded (attempts whose lease was lost are left out)."""
    if not finished:
        return {}
    placeholders, ids = listed("id", sorted({f.event.id for f in finished}))
    statement = _CURRENT.format(ids=placeholders)
    if conn.dialect.name == "postgresql":
        statement += " FOR UPDATE"
    rows = {row[0]: _Current(*row[1:]) for row in query_all(conn, statement, ids)}
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
    for attempt in attempts:
        insert_row(conn, "event_attempts", attempt)
    for change in changes:
        execute(conn, _UPDATE, change)
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
