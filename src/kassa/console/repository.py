"""The console's own reads across tables: the aggregates of the dashboard and the lists of the
needs-attention page. Single orders, lists, history, ledger and events are read through the
repositories of their packages."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from kassa.db.tables import event_attempts, events, orders, payment_transactions

_CURRENCY = re.compile(r'"currency":"([A-Z]{3})"')
MAX_ROWS = 5000  # a page shows at most this many candidates; it says so when it hits it


def _scope(merchant: str, channels: Sequence[str] | None) -> list[Any]:
    where = [orders.c.merchant == merchant]
    if channels is not None:
        where.append(orders.c.channel.in_(list(channels)))
    return where


def orders_per_day(
    conn: Connection, merchant: str, channels: Sequence[str] | None, since: str
) -> list[tuple[str, str, int]]:
    """(day, status, count) of the orders created since ``since``."""
    day = func.substr(orders.c.created, 1, 10)
    statement = (
        select(day, orders.c.status, func.count())
        .where(*_scope(merchant, channels), orders.c.created >= since)
        .group_by(day, orders.c.status)
    )
    return [(str(d), str(s), int(n)) for d, s, n in conn.execute(statement)]


def transactions_since(
    conn: Connection, merchant: str, channels: Sequence[str] | None, since: str
) -> list[tuple[str, str | None]]:
    """(transaction document, order currency) of the orders created since ``since``."""
    statement = (
        select(payment_transactions.c.doc, orders.c.doc)
        .join(orders, orders.c.id == payment_transactions.c.order_id)
        .where(*_scope(merchant, channels), orders.c.created >= since)
        .limit(MAX_ROWS * 4)
    )
    result = []
    for transaction, order in conn.execute(statement):
        match = _CURRENCY.search(order)
        result.append((transaction, match.group(1) if match else None))
    return result


def attempts_per_day(
    conn: Connection, merchant: str, channels: Sequence[str] | None, since: str
) -> list[tuple[str, str, int]]:
    """(day, outcome, count) of the delivery attempts started since ``since``."""
    day = func.substr(event_attempts.c.started_at, 1, 10)
    where = [events.c.merchant == merchant, event_attempts.c.started_at >= since]
    if channels is not None:
        where.append(events.c.channel.in_(list(channels)))
    statement = (
        select(day, event_attempts.c.outcome, func.count())
        .join(events, events.c.id == event_attempts.c.event_id)
        .where(*where)
        .group_by(day, event_attempts.c.outcome)
    )
    return [(str(d), str(o), int(n)) for d, o, n in conn.execute(statement)]


def orders_with_status(
    conn: Connection,
    merchant: str,
    channels: Sequence[str] | None,
    statuses: Sequence[str],
    created_before: str,
) -> list[tuple[str, str, str]]:
    """(doc, meta, channel) of orders in ``statuses`` created before a time, newest first."""
    statement = (
        select(orders.c.doc, orders.c.meta, orders.c.channel)
        .where(
            *_scope(merchant, channels),
            orders.c.status.in_(list(statuses)),
            orders.c.created < created_before,
        )
        .order_by(orders.c.created.desc())
        .limit(MAX_ROWS)
    )
    return [(str(d), str(m), str(c)) for d, m, c in conn.execute(statement)]


def failed_events_since(
    conn: Connection, merchant: str, channels: Sequence[str] | None, since_ms: int
) -> list[dict[str, Any]]:
    where = [
        events.c.merchant == merchant,
        events.c.status == "failed",
        events.c.terminal_ms >= since_ms,
    ]
    if channels is not None:
        where.append(events.c.channel.in_(list(channels)))
    statement = (
        select(
            events.c.id,
            events.c.order_id,
            events.c.channel,
            events.c.invoke,
            events.c.attempt_count,
            events.c.last_status_code,
            events.c.last_attempt_at,
        )
        .where(*where)
        .order_by(events.c.terminal_ms.desc())
        .limit(MAX_ROWS)
    )
    return [dict(row._mapping) for row in conn.execute(statement)]
