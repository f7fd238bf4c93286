"""Checking kassa's signature on a call to an adapter (Standard Webhooks, semantics §7.5)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

TOLERANCE_S = 300


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def verify(
    secrets: Sequence[str],
    message_id: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
) -> bool:
    """Whether ``signature`` signs ``<id>.<timestamp>.<body>`` under one of ``secrets`` and the
    timestamp lies within ±300 s of ``now``."""
    if not message_id or not timestamp or not signature or not timestamp.isdigit():
        return False
    if abs(now - int(timestamp)) > TOLERANCE_S:
        return False
    content = f"{message_id}.{timestamp}.".encode() + body
    offered = [part.partition(",")[2] for part in signature.split() if part.startswith("v1,")]
    for secret in secrets:
        try:
            digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
        except (binascii.Error, ValueError):
            continue
        expected = base64.b64encode(digest).decode()
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return True
    return False


def sign(secret: str, message_id: str, body: bytes, now: float) -> dict[str, str]:
    """The Standard Webhooks headers of a call signed with ``secret`` (semantics §7.5)."""
    timestamp = str(int(now))
    content = f"{message_id}.{timestamp}.".encode() + body
    try:
        digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    except (binascii.Error, ValueError):
        digest = b""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }
