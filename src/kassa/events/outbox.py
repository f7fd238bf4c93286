"""Which notifications fire for a committed change, and the event rows they produce (§7.2-7.3).

Events are inserted by the write's own transaction (``insert``), so a change and its events
commit together or not at all. Each order keeps its next event sequence in its ``meta``
(``eventSeq``), which the order row lock / compare-and-set already protects.

The notification's text fields are copied into columns for filtering and listing. PostgreSQL
text cannot hold NUL and the indexed ``reference``/``adapter_id`` columns are 512 characters, so
those copies go through ``column_text``/``index_key``; the exact values stay in the payload, from
which readers recover them (``kassa.events.repository``).
"""

from __future__ import annotations

import functools
from typing import Any

from jsonschema import Draft202012Validator
from sqlalchemy.engine import Connection

from kassa import ids, jsonutil
from kassa.callbacks.changes import ABSENT, changed, value_at
from kassa.callbacks.kinds import substitute
from kassa.db.engine import insert_row
from kassa.orders.document import JsonObject, Meta, Notification, Order
from kassa.orders.repository import index_key


@functools.lru_cache(maxsize=1024)
def _validator(schema_text: bytes) -> Draft202012Validator:
    # format is not asserted (no format_checker); $ref is local only (checked at registration)
    return Draft202012Validator(jsonutil.loads(schema_text))


def _matches(schema: JsonObject | None, value: Any) -> bool:
    if schema is None:
        return True
    if value is ABSENT:
        return False
    validator = _validator(jsonutil.dumps(schema, sort_keys=True))
    return bool(validator.is_valid(value))


def firing(before: Order | None, after: Order) -> list[Notification]:
    """The notifications of the committed order ``after`` that fire, in array order."""
    fired = []
    for notification in after.get("notifications") or ():
        scope = notification["scope"]
        if not changed(before, after, scope):
            continue
        if _matches(notification.get("schema"), value_at(after, scope)):
            fired.append(notification)
    return fired


def column_text(value: str) -> str:
    """A text column's copy of ``value``: NUL escaped (PostgreSQL text refuses it)."""
    return value.replace("\x00", "\\u0000")


def _key(value: Any) -> str | None:
    return index_key(value, lower=False) if isinstance(value, str) else None


def _text(value: Any) -> str | None:
    return column_text(value) if isinstance(value, str) else None


def rows(
    before: Order | None,
    after: Order,
    meta: Meta,
    version: int,
    now_ms: int,
) -> list[dict[str, Any]]:
    """Event rows for the change ``before`` → ``after`` (committed as ``version``).

    Advances ``meta["eventSeq"]``; the caller stores ``meta`` in the same transaction.
    """
    fired = firing(before, after)
    if not fired:
        return []
    sequence = int(meta.get("eventSeq", 0))
    order_text = jsonutil.dumps(after)
    out = []
    for notification in fired:
        sequence += 1
        payload = b'{"notification":' + jsonutil.dumps(notification)
        payload += b',"order":' + order_text + b"}"
        out.append(
            {
                "id": ids.new_id("ev_"),
                "merchant": after["merchant"],
                "channel": after["channel"],
                "order_id": after["id"],
                "order_version": version,
                "sequence": sequence,
                "notification_id": notification["id"],
                "adapter_id": _key(notification.get("adapterId")),
                "reference": _key(notification.get("reference")),
                "description": _text(notification.get("description")),
                "scope": column_text(notification["scope"]),
                "invoke": column_text(substitute(notification["invoke"], after["id"])),
                "status": "pending",
                "created": after["lastModified"],
                "attempt_count": 0,
                "last_attempt_at": None,
                "last_status_code": None,
                "next_attempt_ms": now_ms,
                "first_attempt_ms": None,
                "terminal_ms": None,
                "manual": 0,
                "replay": 0,
                "lease_owner": None,
                "lease_until_ms": None,
                "payload": payload.decode(),
            }
        )
    meta["eventSeq"] = sequence
    return out


def insert(conn: Connection, event_rows: list[dict[str, Any]]) -> None:
    for row in event_rows:
        insert_row(conn, "events", row)
