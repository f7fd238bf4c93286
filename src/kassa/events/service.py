"""Reads of the events API: the filtered list and one event with its attempts.

Retrying an event is a write: ``kassa.unit_of_work.RetryEvent``.
"""

from __future__ import annotations

from typing import Any

from kassa.errors import EventNotFound
from kassa.events import repository
from kassa.events.repository import EventFilter as EventFilter
from kassa.http import Call


async def list_events(call: Call, f: EventFilter) -> tuple[list[dict[str, Any]], int]:
    return await call.app.db.scan(lambda conn: repository.list_events(conn, f))


async def get_event(call: Call, event_id: str) -> bytes:
    merchant, channels = call.principal.merchant, call.principal.key_channels
    body = await call.app.db.read(
        lambda conn: repository.get_event(conn, event_id, merchant, channels)
    )
    if body is None:
        raise EventNotFound(event_id)
    return body
