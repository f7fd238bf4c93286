"""The events API's side of the ``events`` and ``event_attempts`` tables: filtered lists, one
event with its attempts, and scheduling a manual attempt (api ops 36-38, semantics §7.8).

Every function takes a synchronous ``Connection`` and is run by ``kassa.db.engine.Database``.
Rows are turned into the wire shape of api §3.32/3.33 here, so routes only frame the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Select, func, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.elements import ColumnElement

from kassa import jsonutil
from kassa.callbacks.kinds import substitute
from kassa.db.tables import KEY, event_attempts, events
from kassa.orders.repository import index_key
from kassa.timeutil import fmt

# manual column: 0 = next attempt automatic, 1 = next attempt manual, 2 = a manual attempt was
# asked for while an attempt was in flight (the recorder turns it into an immediate attempt)
MANUAL_IN_FLIGHT = 2

_LIST_COLUMNS = [c for c in events.c if c.name != "payload"]


@dataclass(frozen=True)
class EventFilter:
    merchant: str
    key_channels: tuple[str, ...] | None  # None: every channel
    offset: int = 0
    limit: int = 10
    order_id: str | None = None
    adapter_id: str | None = None
    reference: str | None = None
    channel: str | None = None
    statuses: tuple[str, ...] | None = None


def ms_to_wire(ms: int) -> str:
    return fmt(datetime.fromtimestamp(ms / 1000, UTC))


def _scope(merchant: str, key_channels: Sequence[str] | None) -> list[ColumnElement[bool]]:
    where = [events.c.merchant == merchant]
    if key_channels is not None:
        where.append(events.c.channel.in_(list(key_channels)))
    return where


def _where(f: EventFilter) -> list[ColumnElement[bool]]:
    where = _scope(f.merchant, f.key_channels)
    if f.order_id is not None:
        where.append(events.c.order_id == f.order_id)
    if f.adapter_id is not None:
        where.append(events.c.adapter_id == index_key(f.adapter_id, lower=False))
    if f.reference is not None:
        where.append(events.c.reference == index_key(f.reference, lower=False))
    if f.channel is not None:
        where.append(events.c.channel == f.channel)
    if f.statuses is not None:
        where.append(events.c.status.in_(list(f.statuses)))
    return where


# Wire shape -------------------------------------------------------------------------------------


def _altered(row: Row[Any]) -> bool:
    """Whether a column copy of the notification may differ from the notification itself
    (NUL escaped, or a long ``reference``/``adapterId`` cut to an index key; see outbox)."""
    for name in ("adapter_id", "reference"):
        value = getattr(row, name)
        if value is not None and (len(value) >= KEY or "\\u0000" in value):
            return True
    return any(
        value is not None and "\\u0000" in value
        for value in (row.description, row.scope, row.invoke)
    )


def _exact(row: Row[Any], payload: str | None) -> dict[str, Any]:
    """The notification's text fields exactly as sent (from the payload when altered)."""
    fields: dict[str, Any] = {
        "adapterId": row.adapter_id,
        "reference": row.reference,
        "description": row.description,
        "scope": row.scope,
        "invoke": row.invoke,
    }
    if payload is not None and _altered(row):
        notification = orjson.loads(payload)["notification"]
        for name in ("adapterId", "reference", "description", "scope"):
            fields[name] = notification.get(name)
        fields["invoke"] = substitute(notification["invoke"], row.order_id)
    return fields


def to_wire(row: Row[Any], payload: str | None = None) -> dict[str, Any]:
    exact = _exact(row, payload)
    body: dict[str, Any] = {
        "id": row.id,
        "merchant": row.merchant,
        "channel": row.channel,
        "orderId": row.order_id,
        "orderVersion": row.order_version,
        "sequence": row.sequence,
        "notificationId": row.notification_id,
    }
    for name in ("adapterId", "reference", "description"):
        if exact[name] is not None:
            body[name] = exact[name]
    pending = row.status == "pending"
    body.update(
        {
            "scope": exact["scope"],
            "invoke": exact["invoke"],
            "status": row.status,
            "created": row.created,
            "attemptCount": row.attempt_count,
            "lastAttemptAt": row.last_attempt_at,
            "lastStatusCode": row.last_status_code,
            "nextAttemptAt": ms_to_wire(row.next_attempt_ms)
            if pending and row.next_attempt_ms is not None
            else None,
        }
    )
    return body


def _attempt_wire(row: Row[Any]) -> dict[str, Any]:
    return {
        "number": row.number,
        "trigger": row.trigger,
        "startedAt": row.started_at,
        "durationMs": row.duration_ms,
        "outcome": row.outcome,
        "statusCode": row.status_code,
        "error": row.error,
        "responseExcerpt": row.response_excerpt,
    }


# Reads ------------------------------------------------------------------------------------------


def _payloads(conn: Connection, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = conn.execute(select(events.c.id, events.c.payload).where(events.c.id.in_(ids)))
    return {row.id: row.payload for row in rows}


def list_events(conn: Connection, f: EventFilter) -> tuple[list[dict[str, Any]], int]:
    """One page, newest first (``created`` descending, then ``id`` descending), and the total."""
    where = _where(f)
    page: Select[Any] = (
        select(*_LIST_COLUMNS)
        .where(*where)
        .order_by(events.c.created.desc(), events.c.id.desc())
        .offset(f.offset)
        .limit(f.limit)
    )
    rows = conn.execute(page).all()
    payloads = _payloads(conn, [row.id for row in rows if _altered(row)])
    data = [to_wire(row, payloads.get(row.id)) for row in rows]
    if len(rows) < f.limit and (rows or f.offset == 0):  # the last page: no count needed
        total = f.offset + len(rows)
    else:
        total = int(
            conn.execute(select(func.count()).select_from(events).where(*where)).scalar_one()
        )
    return data, total


def _one(
    conn: Connection,
    event_id: str,
    merchant: str,
    key_channels: Sequence[str] | None,
    *,
    lock: bool = False,
) -> Row[Any] | None:
    statement = select(events).where(events.c.id == event_id, *_scope(merchant, key_channels))
    if lock and conn.dialect.name == "postgresql":
        statement = statement.with_for_update()
    return conn.execute(statement).first()


def get_event(
    conn: Connection, event_id: str, merchant: str, key_channels: Sequence[str] | None
) -> bytes | None:
    """The event with ``payload`` (the stored text, embedded as is) and ``attempts``."""
    row = _one(conn, event_id, merchant, key_channels)
    if row is None:
        return None
    attempts = conn.execute(
        select(event_attempts)
        .where(event_attempts.c.event_id == event_id)
        .order_by(event_attempts.c.number)
    ).all()
    body = to_wire(row, row.payload)
    body["payload"] = orjson.Fragment(row.payload.encode())
    body["attempts"] = [_attempt_wire(a) for a in attempts]
    return jsonutil.dumps(body)


# Operation 38 -----------------------------------------------------------------------------------


def schedule_manual(
    conn: Connection,
    event_id: str,
    merchant: str,
    key_channels: Sequence[str] | None,
    now_ms: int,
) -> dict[str, Any] | None:
    """Make the next attempt of the event a manual one, due now (semantics §7.8).

    A pending event keeps its automatic schedule after that attempt; a terminal one is replayed:
    pending again for exactly one attempt. If an attempt is in flight (its lease is live), the
    recorder of that attempt schedules the manual one once it is recorded.
    """
    row = _one(conn, event_id, merchant, key_channels, lock=True)
    if row is None:
        return None
    values: dict[str, Any] = {"next_attempt_ms": now_ms}
    if row.status == "pending":
        in_flight = row.lease_owner is not None and (row.lease_until_ms or 0) >= now_ms
        values["manual"] = MANUAL_IN_FLIGHT if in_flight else 1
    else:
        values.update(
            status="pending",
            manual=1,
            replay=1,
            terminal_ms=None,
            lease_owner=None,
            lease_until_ms=None,
        )
    conn.execute(update(events).where(events.c.id == event_id).values(**values))
    updated = _one(conn, event_id, merchant, key_channels)
    assert updated is not None
    return to_wire(updated, updated.payload)
