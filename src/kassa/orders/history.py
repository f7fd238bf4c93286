"""Pure: the history entry of one committed change (api §3, the order history)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kassa import jsonutil
from kassa.orders.model import Actor


def without_last_modified(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document as history diffs see it: ``lastModified`` is never part of a change."""
    return {k: v for k, v in doc.items() if k != "lastModified"}


def entry(
    *,
    sequence: int,
    at: str,
    actor: Actor,
    operation: str,
    request_id: str,
    patch: list[dict[str, Any]],
    **extra: Any,
) -> bytes:
    """One entry: the new version, the write time, who, which operation, the JSON Patch."""
    body: dict[str, Any] = {
        "sequence": sequence,
        "at": at,
        "actor": {"keyName": actor.key_name, "adapterId": actor.adapter_id},
        "operation": operation,
        "requestId": request_id,
        "patch": patch,
        "hookCalls": [],
    }
    body.update(extra)
    return jsonutil.dumps(body)
