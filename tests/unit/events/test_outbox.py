"""Which notifications of an order fire for a change (``kassa.events.outbox``, semantics
§7.1-7.3)."""

from __future__ import annotations

from typing import cast

from kassa.events.outbox import firing
from kassa.orders.document import Order


def test_firing_respects_scope_and_schema() -> None:
    before = {"state": {"currentStatus": "checkout"}, "notifications": []}
    after = {
        "state": {"currentStatus": "completed"},
        "notifications": [
            {"id": "1", "scope": "/state/currentStatus", "schema": {"const": "completed"}},
            {"id": "2", "scope": "/state/currentStatus", "schema": {"const": "declined"}},
            {"id": "3", "scope": "/state"},
            {"id": "4", "scope": "/reference"},
            {"id": "5", "scope": "/state", "schema": {"type": "object", "format": "email"}},
        ],
    }
    assert [n["id"] for n in firing(cast(Order, before), cast(Order, after))] == ["1", "3", "5"]
